"""J-HMDB Sentences reader: `jhmdb_annotation.txt`, `Rename_Images` PNG folders, `puppet_mask.mat`
(docs/data.md#datasets).

Folders are found by globbing `Rename_Images/*/*` and `puppet_mask/*/*/puppet_mask.mat` and keyed by video name
(MTTR). Usable frames = min(PNG count, `part_mask` frames). Evaluation frames per video are either
`frames="uniform"`: `round(linspace(1, T, frames_per_video))` over the usable frames (halves round up), or
`frames="metadata"`: MTTR's frozen `jhmdb_sentences_samples_metadata.json`, paths rebased on our root.
J-HMDB is test-only (docs/evaluation.md#protocol); every referral has instance id 0 (one human per video).
"""

from __future__ import annotations

import json
import logging
import os
import re

import numpy as np

from acga_tf.data.a2d import (
    _Reporter,
    check_path_component,
    normalize_sentence,
    read_text_lines,
)
from acga_tf.data.shards import sha256_file
from acga_tf.data.text import has_word
from acga_tf.data.types import AnnotatedFrame, DataError, Referral, Skipped
from acga_tf.data.video import mat_num_frames

logger = logging.getLogger(__name__)

FRAME_MODES = ("uniform", "metadata")
# Where MTTR's metadata JSON is (not in J-HMDB's own download)
METADATA_SOURCE = ("datasets/jhmdb_sentences/jhmdb_sentences_samples_metadata.json in "
                   "https://github.com/mttr2021/MTTR")
ANNOTATION_COLUMNS = ("video_id", "query")  # docs/data.md#datasets
METADATA_PREFIX = "./jhmdb_sentences/"  # docs/evaluation.md#protocol: paths in MTTR's metadata start with it
_PNG_RE = re.compile(r"^([0-9]{5})\.png$")


def read_jhmdb_annotations(path: str, *, skip_bad: bool = False,
                           skipped: list[Skipped] | None = None) -> list[tuple[str, str, str]]:
    """Reads `jhmdb_annotation.txt` (header `video_id,query`, docs/data.md#datasets).

    Returns:
        (video_id, normalised sentence, "path:lineno") per row, in file order.

    Raises:
        DataError: naming `path:lineno` and the field: bad header, wrong column count, empty query, unsafe
            video name, non-UTF-8 bytes, a row repeating an earlier one's video and sentence (unless `skip_bad`).
    """
    report = _Reporter(skip_bad, skipped, logger)
    lines = read_text_lines(path, report if skip_bad else None)
    if not lines:
        raise DataError(str(path), "empty annotation file, expected a header 'video_id,query'", reason="bad_header")
    header_no, header = lines[0]
    names = [c.strip() for c in header.split(",")]
    if names != list(ANNOTATION_COLUMNS):
        raise DataError(f"{path}:{header_no}", f"header is {header!r}, expected 'video_id,query'",
                        reason="bad_header")
    rows, first_line = [], {}
    for lineno, text in lines[1:]:
        src = f"{path}:{lineno}"
        try:
            cols = text.split(",")
            if len(cols) != 2:
                raise DataError(src, f"expected 2 columns (video_id,query), got {len(cols)}: {text!r}",
                                reason="bad_row")
            vid = check_path_component(cols[0].strip(), src, "video_id")
            sentence = normalize_sentence(cols[1])
            if not has_word(sentence):
                raise DataError(src, f"column 'query' has no word (letters or digits): {cols[1]!r}",
                                reason="empty_sentence")
            if (vid, sentence) in first_line:  # it would be stored and scored twice under one sample id
                raise DataError(src, f"the same video and sentence as {first_line[vid, sentence]}",
                                reason="duplicate_row")
            first_line[vid, sentence] = src
            rows.append((vid, sentence, src))
        except DataError as e:
            report(e)
    return rows


def read_jhmdb_metadata(path: str) -> list[list]:
    """Reads MTTR's `jhmdb_sentences_samples_metadata.json`: a list of
    `[video_id, png_path, mat_path, usable_frames, query]` entries (docs/evaluation.md#protocol).

    Raises:
        DataError: unreadable JSON or an entry of the wrong form (naming `path` and the entry index).
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:  # (J-HMDB's download has no such file: where it comes from, a reviewer's wish)
        raise DataError(str(path), f"file not found (MTTR's frozen frames: {METADATA_SOURCE}; or the uniform "
                                   "frames: leave out --frames metadata and --metadata)",
                        reason="missing_file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(str(path), f"not valid UTF-8 JSON ({e})", reason="bad_row") from None
    if not isinstance(data, list):
        raise DataError(str(path), f"expected a JSON list, got {type(data).__name__}", reason="bad_row")
    for i, e in enumerate(data):
        if (not isinstance(e, list) or len(e) != 5 or not all(isinstance(x, str) for x in (e[0], e[1], e[2], e[4]))
                or not isinstance(e[3], (int, float)) or not float(e[3]).is_integer()):  # (20.0 is 20)
            raise DataError(f"{path}[{i}]", f"entry is {str(e)[:200]!r}, expected "
                                            "[video_id, png_path, mat_path, usable_frames, query]", reason="bad_row")
    return data


def _scan(root: str) -> tuple[dict[str, str], dict[str, str]]:
    """{video: png folder} from `Rename_Images/*/*` and {video: mat} from `puppet_mask/*/*/puppet_mask.mat`."""
    found: tuple[dict[str, str], dict[str, str]] = ({}, {})
    for which, top in enumerate(("Rename_Images", "puppet_mask")):
        base = os.path.join(root, top)
        if not os.path.isdir(base):
            raise DataError(base, "folder not found", reason="missing_file")
        for action in sorted(os.listdir(base)):
            adir = os.path.join(base, action)
            if not os.path.isdir(adir):
                continue
            for video in sorted(os.listdir(adir)):
                vdir = os.path.join(adir, video)
                target = vdir if which == 0 else os.path.join(vdir, "puppet_mask.mat")
                if not (os.path.isdir(vdir) and (which == 0 or os.path.isfile(target))):
                    continue
                if video in found[which]:
                    raise DataError(vdir, f"video name {video!r} also in {found[which][video]}", reason="bad_path")
                found[which][video] = target
    return found


def _count_pngs(folder: str) -> int:
    """Number of consecutive `00001.png, 00002.png, ...` frames in a folder (a frame missing in between ends them,
    with a warning: the clip and its uniform frames then change)."""
    numbers = {int(m.group(1)) for m in map(_PNG_RE.match, os.listdir(folder)) if m}
    n = 0
    while n + 1 in numbers:
        n += 1
    if later := sum(k > n for k in numbers):  # (a frame lost in copying moved the benchmark's frames without a
        logger.warning("%s: %05d.png is missing: the %d frames after it are not used (the video ends at frame %d; "
                       "docs/data.md#datasets)", folder, n + 1, later, n)  # word: a reviewer's)
    return n


def jhmdb_frame_choice(frames: str, metadata_path: str | None, frames_per_video: int = 3) -> dict[str, object]:
    """How `read_jhmdb` chose the annotated frames, for the manifest (docs/evaluation.md#protocol asks a paper to say
    which): the uniform frames and their count, or MTTR's metadata file by its name and sha256."""
    if frames == "uniform":
        return {"rule": "uniform", "frames_per_video": frames_per_video, "sentences": "jhmdb_annotation.txt"}
    return {"rule": "metadata", "file": os.path.basename(metadata_path), "sha256": sha256_file(metadata_path)}


def uniform_frames(num_frames: int, count: int) -> list[int]:
    """`round(linspace(1, T, count))` (halves round up), de-duplicated: 1-based frame numbers."""
    return sorted({int(np.floor(x + 0.5)) for x in np.linspace(1, num_frames, count)})


def rebase_metadata_path(root: str, rel: str, top: str, src: str, field: str) -> str:
    """Rebases a metadata path `./jhmdb_sentences/<top>/...` on `root`, refusing paths that leave it."""
    if not rel.startswith(METADATA_PREFIX):
        raise DataError(src, f"field '{field}' is {rel!r}, expected a path starting with {METADATA_PREFIX!r}",
                        reason="bad_path")
    parts = rel[len(METADATA_PREFIX):].split("/")
    if parts[0] != top or len(parts) != 4:
        raise DataError(src, f"field '{field}' is {rel!r}, expected '{METADATA_PREFIX}{top}/<action>/<video>/<file>'",
                        reason="bad_path")
    for p in parts:
        check_path_component(p, src, field)
    return os.path.join(root, *parts)


def _wanted_from_metadata(root: str, metadata_path: str, report
                          ) -> tuple[dict[str, list[tuple[int, str, str]]], dict[str, int]]:
    """MTTR's metadata entries as {video: [(frame number, sentence, source)]}, and {video: the usable frames its
    entries say}; bad entries go to `report`."""
    wanted: dict[str, list[tuple[int, str, str]]] = {}
    declared: dict[str, int] = {}
    for i, (vid, png, mat, usable, query) in enumerate(read_jhmdb_metadata(metadata_path)):
        src = f"{metadata_path}[{i}]"
        try:
            check_path_component(vid, src, "video_id")
            png_path = rebase_metadata_path(root, png, "Rename_Images", src, "png_path")
            mat_path = rebase_metadata_path(root, mat, "puppet_mask", src, "mat_path")
            m = _PNG_RE.match(os.path.basename(png_path))
            if (m is None or os.path.basename(os.path.dirname(png_path)) != vid
                    or os.path.basename(os.path.dirname(mat_path)) != vid):
                raise DataError(src, f"paths {png!r}, {mat!r} do not name video {vid!r} and a '<k:05d>.png'",
                                reason="bad_path")
            sentence = normalize_sentence(query)
            if not has_word(sentence):
                raise DataError(src, f"field 'query' has no word (letters or digits): {query!r}",
                                reason="empty_sentence")
            wanted.setdefault(vid, []).append((int(m.group(1)), sentence, src))
            declared.setdefault(vid, int(usable))
        except DataError as e:
            report(e)
    return wanted, declared


def _frame_counts(vid: str, src: str, png_dirs: dict, mats: dict) -> tuple[int, int]:
    """(PNG frames, mask frames) of a video.

    Raises:
        DataError: no PNG folder ("missing_video"), no mask ("missing_mask"), no usable frame ("short_video").
    """
    if vid not in png_dirs:
        raise DataError(src, f"video {vid!r} has no folder Rename_Images/*/{vid}", reason="missing_video")
    if vid not in mats:
        raise DataError(src, f"video {vid!r} has no puppet_mask/*/{vid}/puppet_mask.mat", reason="missing_mask")
    n_png = _count_pngs(png_dirs[vid])
    n_mask = mat_num_frames(mats[vid])[2]
    if min(n_png, n_mask) < 1:
        raise DataError(png_dirs[vid], f"no usable frame ({n_png} PNGs, {n_mask} masks in {mats[vid]})",
                        reason="short_video")
    return n_png, n_mask


def read_jhmdb(root: str, *, frames: str = "uniform", metadata_path: str | None = None,
               annotation_path: str | None = None, skip_bad: bool = False, skipped: list[Skipped] | None = None,
               frames_per_video: int = 3) -> list[AnnotatedFrame]:
    """Reads J-HMDB Sentences into annotated frames (docs/data.md#datasets), split "test".

    Args:
        root: the `jhmdb_sentences/` folder.
        frames: "uniform" (`round(linspace(1, T, frames_per_video))`) or "metadata" (MTTR's frozen frames).
        metadata_path: MTTR's metadata JSON (required for "metadata"; its queries are used and
            `annotation_path` is not read).
        annotation_path: default `root/jhmdb_annotation.txt`.
        skip_bad: record bad rows/videos in `skipped` and go on instead of raising.
        skipped: receives the `Skipped` records.
        frames_per_video: frames per video in "uniform" mode.

    Returns:
        One `AnnotatedFrame` per chosen frame, sorted by (video, frame); `num_frames` = usable frames.

    Raises:
        DataError: malformed rows/entries, unsafe paths, a video without PNG folder ("missing_video") or mask
            ("missing_mask"), no usable frame ("short_video"), a metadata frame past the usable frames.
        ValueError: unknown `frames` mode or missing `metadata_path`.
    """
    if frames not in FRAME_MODES:
        raise ValueError(f"frames is {frames!r}, expected one of {FRAME_MODES}")
    if frames == "metadata" and metadata_path is None:
        raise ValueError('frames="metadata" needs metadata_path (MTTR\'s jhmdb_sentences_samples_metadata.json)')
    root = os.fspath(root)
    report = _Reporter(skip_bad, skipped, logger)
    png_dirs, mats = _scan(root)

    # (video, frame number or None for uniform) -> referrals
    wanted: dict[str, list[tuple[int | None, str, str]]] = {}
    declared: dict[str, int] = {}  # the usable frames MTTR's entries say each video has
    if frames == "uniform":
        annotation_path = annotation_path or os.path.join(root, "jhmdb_annotation.txt")
        for vid, sentence, src in read_jhmdb_annotations(annotation_path, skip_bad=skip_bad, skipped=skipped):
            wanted.setdefault(vid, []).append((None, sentence, src))
    else:
        wanted, declared = _wanted_from_metadata(root, metadata_path, report)

    out: list[AnnotatedFrame] = []
    mismatched: list[tuple[str, int, int]] = []
    for vid in sorted(wanted):
        try:
            n_png, n_mask = _frame_counts(vid, wanted[vid][0][2], png_dirs, mats)
        except DataError as e:
            report(e)
            continue
        usable = min(n_png, n_mask)
        if declared.get(vid, usable) != usable:
            mismatched.append((vid, usable, declared[vid]))
        by_frame: dict[int, list[Referral]] = {}
        for number, sentence, rsrc in wanted[vid]:
            numbers = uniform_frames(usable, frames_per_video) if number is None else [number]
            for k in numbers:
                if not 1 <= k <= usable:
                    report(DataError(rsrc, f"frame {k} of video {vid!r} is past its {usable} usable frames "
                                           f"({n_png} PNGs, {n_mask} masks)", reason="short_video"))
                    continue
                by_frame.setdefault(k, []).append(Referral(sentence, 0, rsrc))
        for k in sorted(by_frame):
            out.append(AnnotatedFrame(dataset="jhmdb", split="test", video_id=vid, frame_number=k,
                                      frames_path=png_dirs[vid], mask_path=mats[vid], num_frames=usable,
                                      referrals=tuple(by_frame[k])))
    if mismatched:  # (frames are chosen by number: of another extraction, they are other images; a reviewer's wish)
        vid, usable, said = mismatched[0]
        has, its = ("has", "its") if len(mismatched) == 1 else ("have", "their")
        logger.warning("%s: %d of %d videos %s another number of usable frames than %s entries say (%s: %d here, "
                       "%d there): %s frames, chosen by number, may not be the images MTTR's are (another "
                       "extraction of J-HMDB's frames?)", metadata_path, len(mismatched), len(wanted), has, its, vid,
                       usable, said, its)
    logger.info("J-HMDB (%s frames): %d annotated frames, %d videos", frames, len(out), len({f.video_id for f in out}))
    return out
