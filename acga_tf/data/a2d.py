"""A2D Sentences reader: `videoset.csv`, `a2d_annotation.txt`, missed videos and per-frame `.h5` instance lists.

Implements the A2D reading rules of docs/data.md#datasets exactly: the split comes from `videoset.csv` (no header, 9
columns, usage 0 = train, 1 = test), missed videos are dropped, the official `1 (copy)` row is dropped with a note,
sentences are normalised as `" ".join(q.lower().split())`, and samples are built per docs/data.md#datasets: one
`AnnotatedFrame` per annotated frame holding every sentence whose instance is in that frame's `instance` list. Only the
`instance` field of each `.h5` is read here; masks are read later by `acga_tf.data.video.load_sample`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re

import h5py
import numpy as np

from acga_tf.data.text import compose, has_word
from acga_tf.data.types import MAX_SENTENCE_BYTES, AnnotatedFrame, DataError, Referral, Skipped

logger = logging.getLogger(__name__)

SPLITS = ("all", "train", "test")
USAGE_TO_SPLIT = {0: "train", 1: "test"}  # docs/data.md#datasets, column 8
VIDEOSET_COLUMNS = 9  # docs/data.md#datasets
ANNOTATION_COLUMNS = ("video_id", "instance_id", "query")  # docs/data.md#datasets
COPY_QUIRK = "1 (copy)"  # docs/data.md#datasets: official quirk row, dropped
_INT_RE = re.compile(r"^[0-9]+$")
# What a bad item's error adds, for `acga prepare`
SKIP_BAD_HINT = "use --skip-bad to leave such items out and list them in skipped.csv"
SHOWN_SKIPS = 10  # items left out that are warned of one by one, per reason; the list of skipped items holds every one
# The longest annotation line read (its sentence is shorter: the records' limit, `MAX_SENTENCE_BYTES`).
MAX_LINE_BYTES = MAX_SENTENCE_BYTES
_H5_RE = re.compile(r"^([0-9]+)\.h5$")


@dataclasses.dataclass(frozen=True)
class AnnotationRow:
    """One sentence row of `a2d_annotation.txt`."""

    video_id: str
    instance_id: int
    sentence: str
    line: str


def normalize_sentence(query: str) -> str:
    """MTTR's normalisation: lower case, runs of whitespace collapsed, ends stripped (docs/data.md#datasets); and
    accents in their composed Unicode form (`compose`: "é" typed two ways is one sentence)."""
    return " ".join(compose(query).lower().split())


def check_path_component(value: str, source: str, field: str) -> str:
    """Rejects a name from an annotation file that could escape the dataset root when used in a path.

    Raises:
        DataError: reason "bad_path" if `value` is empty, `.`/`..`, or contains `/`, `\\`, `..` or NUL.
    """
    if not value or value in (".", "..") or any(s in value for s in ("/", "\\", "..", "\x00")):
        raise DataError(source, f"field '{field}' is {value!r}: not a safe file name "
                                f"(must not be empty or contain '/', '\\', '..' or NUL)", reason="bad_path")
    return value


class _Reporter:
    """Raises DataErrors, or records them as `Skipped` when `skip_bad`, with a warning in `log` (the reader's logger:
    your own table's were named `acga_tf.data.a2d`, a tester's)."""

    def __init__(self, skip_bad: bool, skipped: list[Skipped] | None, log: logging.Logger | None = None):
        self.skip_bad = skip_bad
        self.skipped = skipped
        self.warn = SkipWarnings(log or logger)

    def __call__(self, err: DataError) -> None:
        if not self.skip_bad:  # what the converter's own errors say too, each of them; not of a table's frame
            if err.reason not in ("frame_numbering", "windows_path"):  # numbering or paths, whose other rows are
                err.add_note(SKIP_BAD_HINT)  # likely off the same way (--skip-bad left out all 18 of a tester's)
            raise err
        self.warn(err.reason, str(err))
        if self.skipped is not None:
            self.skipped.append(Skipped(source=err.source, reason=err.reason, message=err.message))


class SkipWarnings:
    """Warns "skipped: ..." of each item left out, the first `SHOWN_SKIPS` of a reason one by one and then once that
    more follow: a partial A2D (its videos half copied) left out 3,747 items, one warning each."""

    def __init__(self, log: logging.Logger):
        self.log = log
        self.counts: dict[str, int] = {}

    def __call__(self, reason: str, text: str) -> None:
        count = self.counts[reason] = self.counts.get(reason, 0) + 1
        if count <= SHOWN_SKIPS:
            self.log.warning("skipped: %s", text)
        elif count == SHOWN_SKIPS + 1:
            self.log.warning("skipped: more items for the same reason (%s), not shown one by one: the list of items "
                             "left out holds every one (acga prepare's skipped.csv)", reason)


def read_text_lines(path: str, report=None) -> list[tuple[int, str]]:
    """Reads a UTF-8 text file as (1-based line number, line) pairs, accepting LF or CRLF and a BOM.

    Blank lines are left out.

    Args:
        path: the file.
        report: called with the `DataError` of each non-UTF-8 or overlong line, which is then left out; None raises
            it.

    Raises:
        DataError: "missing_file" if the file cannot be read, "bad_encoding" naming `path:lineno` for bytes
            that are not UTF-8, "bad_row" for a line longer than `MAX_LINE_BYTES` (when `report` is None).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(path, "file not found", reason="missing_file") from None
    except OSError as e:
        raise DataError(path, f"cannot read the file ({e})", reason="missing_file") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out = []
    for i, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if len(raw) > MAX_LINE_BYTES:  # a sentence of 100 MB took `acga prepare` past 4 GB before any check
            err = DataError(f"{path}:{i}", f"line is {len(raw):,} bytes long, more than the {MAX_LINE_BYTES:,} an "
                                           "annotation line may have", reason="bad_row")
            if report is None:
                raise err
            report(err)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            err = DataError(f"{path}:{i}", f"line is not valid UTF-8 ({e.reason} at byte {e.start}: "
                                           f"{raw[max(0, e.start - 8):e.start + 8]!r})", reason="bad_encoding")
            if report is None:
                raise err from None
            report(err)
            continue
        if text.strip():
            out.append((i, text))
    return out


def read_videoset(path: str, *, skip_bad: bool = False, skipped: list[Skipped] | None = None) -> dict[str, str]:
    """Reads `Release/videoset.csv` (no header, 9 columns; docs/data.md#datasets).

    Args:
        path: the csv file.
        skip_bad: record malformed rows in `skipped` and go on instead of raising.
        skipped: receives the `Skipped` records.

    Returns:
        {video_id: "train" | "test"}, in file order.

    Raises:
        DataError: naming `path:lineno` and the field: wrong column count, a usage that is not 0/1, an unsafe
            or duplicated video id, non-UTF-8 bytes.
    """
    report = _Reporter(skip_bad, skipped)
    out: dict[str, str] = {}
    lines = read_text_lines(path, report if skip_bad else None)
    for lineno, text in lines:
        src = f"{path}:{lineno}"
        try:
            cols = text.split(",")
            if len(cols) != VIDEOSET_COLUMNS:
                raise DataError(src, f"expected {VIDEOSET_COLUMNS} comma-separated columns (no header), got "
                                     f"{len(cols)}: {text!r}", reason="bad_row")
            vid = check_path_component(cols[0].strip(), src, "video_id")
            usage = cols[8].strip()
            if (lineno, text) == lines[0] and not any(c.strip().isdigit() for c in cols[1:]):  # (a header was a bad
                # row, with --skip-bad's hint; a first row's typo in its usage is not one: its other columns are
                # numbers)
                raise DataError(src, f"a header line ({text!r}): videoset.csv has none, its first line is a video's; "
                                     "remove the header", reason="bad_header")
            if usage not in ("0", "1"):
                raise DataError(src, f"column 8 'usage' is {usage!r}, expected 0 (train) or 1 (test)",
                                reason="bad_row")
            if vid in out:
                raise DataError(src, f"video_id {vid!r} is listed twice", reason="bad_row")
            out[vid] = USAGE_TO_SPLIT[int(usage)]
        except DataError as e:
            report(e)
    return out


def read_missed_videos(path: str) -> set[str]:
    """Reads `a2d_missed_videos.txt`: one video id per line (docs/data.md#datasets).

    Raises:
        DataError: missing file or non-UTF-8 bytes.
    """
    return {text.strip() for _, text in read_text_lines(path)}


def read_a2d_annotations(path: str, *, skip_bad: bool = False,
                         skipped: list[Skipped] | None = None) -> list[AnnotationRow]:
    """Reads `a2d_annotation.txt` (header `video_id,instance_id,query`; docs/data.md#datasets).

    Extra columns are accepted when the header names them (e.g. BCMKC's `short_query`); every row must have as
    many columns as the header. The `1 (copy)` quirk row is dropped with a logged note.

    Args:
        path: the annotation file.
        skip_bad: record malformed rows in `skipped` and go on instead of raising.
        skipped: receives the `Skipped` records.

    Returns:
        The rows, in file order, sentences normalised.

    Raises:
        DataError: naming `path:lineno` and the field: missing/invalid header, wrong column count, an
            instance id that is not a non-negative int, an empty sentence, an unsafe video id, non-UTF-8 bytes, a
            row repeating an earlier one's video, instance and sentence ("duplicate_row").
    """
    report = _Reporter(skip_bad, skipped)
    lines = read_text_lines(path, report if skip_bad else None)
    if not lines:
        raise DataError(str(path), "empty annotation file, expected a header 'video_id,instance_id,query'",
                        reason="bad_header")
    header_no, header = lines[0]
    names = [c.strip() for c in header.split(",")]
    if names[:3] != list(ANNOTATION_COLUMNS):
        raise DataError(f"{path}:{header_no}", f"header is {header!r}, expected it to start with "
                                               f"'{','.join(ANNOTATION_COLUMNS)}'", reason="bad_header")
    ncols = len(names)
    rows: list[AnnotationRow] = []
    first_line: dict[tuple[str, int, str], str] = {}  # (video, instance, sentence) -> its first row
    for lineno, text in lines[1:]:
        src = f"{path}:{lineno}"
        try:
            cols = text.split(",")
            if len(cols) != ncols:
                quoted = " (fields are not quoted: a comma in a sentence splits it)" if '"' in text else ""
                raise DataError(src, f"expected {ncols} columns ({','.join(names)}), got {len(cols)}{quoted}: "
                                     f"{text!r}", reason="bad_row")
            vid = check_path_component(cols[0].strip(), src, "video_id")
            iid = cols[1].strip()
            if iid == COPY_QUIRK:
                logger.info("%s: dropping the official quirk row with instance_id %r (docs/data.md#datasets)", src, iid)
                continue
            if not _INT_RE.match(iid):
                raise DataError(src, f"column 'instance_id' is {cols[1]!r}, expected a non-negative int",
                                reason="bad_row")
            sentence = normalize_sentence(cols[2])
            if not has_word(sentence):
                raise DataError(src, f"column 'query' has no word (letters or digits): {cols[2]!r}",
                                reason="empty_sentence")
            key = (vid, int(iid), sentence)
            if key in first_line:  # it would be stored, trained on and scored twice
                raise DataError(src, f"the same video, instance and sentence as {first_line[key]}",
                                reason="duplicate_row")
            first_line[key] = src
            rows.append(AnnotationRow(vid, int(iid), sentence, src))
        except DataError as e:
            report(e)
    return rows


def read_instance_list(path: str) -> tuple[list[int], int | None, list[int]]:
    """The `instance` field of an A2D `.h5` (docs/data.md#datasets), the number of masks in `reMask` and the
    actor-action ids of its `id` field, without reading the masks.

    Returns:
        (the instance ids, the number of masks: None where `reMask` is missing, which reading the masks reports,
        the actor-action ids by position: [] where `id` is missing or not one valid id per instance, a diagnostic
        only).

    Raises:
        DataError: "bad_mask" if the file or field is unreadable.
    """
    path = os.fspath(path)
    try:
        with h5py.File(path, "r") as f:
            if "instance" not in f:
                raise DataError(path, f"field 'instance' is missing (keys: {sorted(f.keys())})", reason="bad_mask")
            ids = [int(x) for x in np.asarray(f["instance"]).reshape(-1)]
            shape = f["reMask"].shape if "reMask" in f else None
            masks = None if shape is None else (1 if len(shape) == 2 else shape[0] if shape else 0)  # (W, H): one
            classes = _class_ids(f, len(ids) if masks is None else masks)  # one id a mask, paired as the masks are
    except DataError:
        raise
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise DataError(path, f"cannot read field 'instance' ({e})", reason="bad_mask") from None
    return ids, masks, classes


def _class_ids(h5: h5py.File, count: int) -> list[int]:
    """The `id` field's actor-action ids (stored as floats, shape (1, N): one a mask, paired with the instances by
    position as the masks are); [] where it is missing, holds another count than the masks (`count`: which value is
    whose cannot be told), or holds other than A2D's ids (actor 1 to 7, action 1 to 9): docs/evaluation.md#by-class.
    Such a frame is not refused, its sentences get class 0: the benchmark's scores do not use it."""
    try:
        values = np.asarray(h5["id"], np.float64).reshape(-1) if "id" in h5 else np.zeros(0)
    except (OSError, ValueError, TypeError, AttributeError):
        return []
    actor, action = np.divmod(values, 10)
    if len(values) != count or not np.all((values == np.round(values)) & (actor >= 1) & (actor <= 7)
                                              & (action >= 1) & (action <= 9)):
        return []
    return [int(v) for v in values]


def _frame_files(folder: str, report: _Reporter) -> list[tuple[int, str]]:
    """(frame number, path) of the `<fffff>.h5` files of a video folder, sorted by frame number; hidden files
    (a Mac's `._00012.h5`) passed over, a second file of one frame number a bad item."""
    out, named = [], {}
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):  # a copy from a Mac holds "._00012.h5" beside each file (AppleDouble): not a frame
            continue
        m = _H5_RE.match(name)
        if m is None:
            if name.endswith(".h5"):
                report(DataError(os.path.join(folder, name), "file name is not a frame number '<fffff>.h5'",
                                 reason="bad_frame_file"))
            continue
        number = int(m.group(1))
        if number < 1:
            report(DataError(os.path.join(folder, name), "frame number must be >= 1", reason="bad_frame_file"))
            continue
        if number in named:  # "12.h5" beside "00012.h5": its samples were written twice (a reviewer's)
            report(DataError(os.path.join(folder, name), f"frame {number} again: {named[number]} is that frame too",
                             reason="bad_frame_file"))
            continue
        named[number] = name
        out.append((number, os.path.join(folder, name)))
    return sorted(out)


def read_a2d(root: str, split: str = "all", *, skip_bad: bool = False, skipped: list[Skipped] | None = None,
             videoset_path: str | None = None, annotation_path: str | None = None, missed_path: str | None = None,
             instances_dir: str | None = None, clips_dir: str | None = None) -> list[AnnotatedFrame]:
    """Reads A2D Sentences into annotated frames (docs/data.md#datasets).

    Args:
        root: the `a2d_sentences/` folder.
        split: "all", "train" (usage 0) or "test" (usage 1).
        skip_bad: record bad rows, videos and frames in `skipped` and go on instead of raising.
        skipped: receives the `Skipped` records when `skip_bad`, and always those of sentences whose instance no
            frame lists ("no_frame": they give no sample, which is not an error).
        videoset_path: default `root/Release/videoset.csv`.
        annotation_path: default `root/text_annotations/a2d_annotation.txt`.
        missed_path: default `root/text_annotations/a2d_missed_videos.txt`.
        instances_dir: default `root/text_annotations/a2d_annotation_with_instances`.
        clips_dir: default `root/Release/clips320H`.

    Returns:
        One `AnnotatedFrame` per annotated frame with at least one referral, sorted by (video, frame).

    Raises:
        DataError: a malformed row (`path:lineno` and field), a video id that is unsafe ("bad_path") or not in
            `videoset.csv` ("unknown_video"), a missing `.h5` folder ("missing_annotations") or `.mp4`
            ("missing_video"), an unreadable `.h5` ("bad_mask"), a sentence whose instance a frame lists without a
            mask ("missing_instance": that sentence alone loses the frame), unless `skip_bad`.
        ValueError: unknown `split`.
    """
    if split not in SPLITS:
        raise ValueError(f"split is {split!r}, expected one of {SPLITS}")
    root = os.fspath(root)
    videoset_path = videoset_path or os.path.join(root, "Release", "videoset.csv")
    annotation_path = annotation_path or os.path.join(root, "text_annotations", "a2d_annotation.txt")
    missed_path = missed_path or os.path.join(root, "text_annotations", "a2d_missed_videos.txt")
    instances_dir = instances_dir or os.path.join(root, "text_annotations", "a2d_annotation_with_instances")
    clips_dir = clips_dir or os.path.join(root, "Release", "clips320H")
    report = _Reporter(skip_bad, skipped)
    # the dataset's folders, whatever `skip_bad`: without one, each video would be skipped as bad, and the conversion
    # would end with nothing written and status 0 (a clips folder on a mount that is not up)
    for folder, what in ((clips_dir, "the videos' folder"), (instances_dir, "the masks' folder")):
        if not os.path.isdir(folder):
            raise DataError(folder, f"{what} is missing{' (a link to nowhere)' if os.path.islink(folder) else ''}",
                            reason="missing_annotations" if folder == instances_dir else "missing_video")

    videoset = read_videoset(videoset_path, skip_bad=skip_bad, skipped=skipped)
    missed = read_missed_videos(missed_path)
    rows = read_a2d_annotations(annotation_path, skip_bad=skip_bad, skipped=skipped)

    by_video: dict[str, list[AnnotationRow]] = {}
    for row in rows:
        if row.video_id not in videoset:
            report(DataError(row.line, f"column 'video_id' is {row.video_id!r}, not listed in {videoset_path}",
                             reason="unknown_video"))
            continue
        if row.video_id in missed:
            logger.warning("%s: video %r is listed in %s; its sentence is ignored", row.line, row.video_id,
                           missed_path)
            continue
        by_video.setdefault(row.video_id, []).append(row)

    frames: list[AnnotatedFrame] = []
    for vid in sorted(by_video):
        video_split = videoset[vid]
        if split != "all" and video_split != split:
            continue
        vrows = by_video[vid]
        folder = os.path.join(instances_dir, vid)
        mp4 = os.path.join(clips_dir, f"{vid}.mp4")
        if not os.path.isdir(folder):
            report(DataError(folder, f"no .h5 folder for video {vid!r} (referenced at {vrows[0].line})",
                             reason="missing_annotations"))
            continue
        if not os.path.isfile(mp4):
            report(DataError(mp4, f"video file not found for video {vid!r} (referenced at {vrows[0].line})",
                             reason="missing_video"))
            continue
        listed: set[int] = set()  # the instances some frame of the video lists
        for number, h5 in _frame_files(folder, report):
            try:
                ids, masks, classes = read_instance_list(h5)
            except DataError as e:
                report(e)
                continue
            listed.update(ids)
            referrals = []
            for r in vrows:
                if r.instance_id not in ids:
                    continue
                k = ids.index(r.instance_id)  # a mask is picked by its id's first position (docs/data.md#datasets)
                if masks is not None and k >= masks:  # only this sentence loses the frame
                    report(DataError(h5, f"field 'reMask' has {masks} masks, no mask for instance {r.instance_id} "
                                         f"(position {k} in 'instance' {ids}) of the sentence at {r.line}",
                                     reason="missing_instance"))
                    continue
                referrals.append(Referral(r.sentence, r.instance_id, r.line,
                                          class_id=classes[k] if k < len(classes) else 0))
            if referrals:
                frames.append(AnnotatedFrame(dataset="a2d", split=video_split, video_id=vid, frame_number=number,
                                             frames_path=mp4, mask_path=h5, num_frames=None,
                                             referrals=tuple(referrals)))
        for r in vrows:
            if r.instance_id not in listed:  # not a bad row (the dataset may have such), but it gives no sample
                logger.warning("%s: instance %d of video %r is in no frame's 'instance' list under %s: the sentence "
                               "gives no sample", r.line, r.instance_id, vid, folder)
                if skipped is not None:
                    skipped.append(Skipped(source=r.line, reason="no_frame", message=(
                        f"instance {r.instance_id} is in no frame's 'instance' list under {folder}")))
    logger.info("A2D %s: %d annotated frames, %d referrals, %d videos", split, len(frames),
                sum(len(f.referrals) for f in frames), len({f.video_id for f in frames}))
    return frames
