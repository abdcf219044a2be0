"""Your own data: videos, sentences and mask images listed in a CSV table (docs/data.md#your-own-data).

The table (`annotations.csv` in the data's folder, or any CSV file given as the root) has a header and one row per
sentence: `video` (any file FFmpeg reads, or a folder of its frames; a relative path is taken from the table's
folder), `frame` (the annotated frame's number, 1 for the first, as `acga predict` numbers its mask PNGs), `query`
(the sentence), `mask` (an image of the described actor in that frame: `acga_tf.data.video.read_mask_image`'s rule)
and `split` (`train` or `test`); optionally `instance` (the actor's pixel value, 1 or more, in a palette or
greyscale mask that holds several actors).

One `AnnotatedFrame` per (video, frame), holding its sentences; each distinct (mask, instance) of a frame is one actor,
numbered 0, 1, ... in the table's order (the `instance` of the evaluation's sample ids). A video belongs to one split
(a video in both would let the held-out scores see training frames). The frames and masks are read when the shards
are written (`acga_tf.data.video.load_samples`), as A2D's are: a frame past the video's end, a mask of another size
than the frames, an empty or colour mask is an error naming the file, or with `--skip-bad` a row of `skipped.csv`.
"""

from __future__ import annotations

import difflib
import logging
import os
import re

from acga_tf.data.a2d import _Reporter, normalize_sentence
from acga_tf.data.text import has_word
from acga_tf.data.types import MAX_SENTENCE_BYTES, AnnotatedFrame, DataError, Referral, Skipped
from acga_tf.data.video import frame_files, video_file_problem
from acga_tf.ops import files
from acga_tf.ops.tables import TableError, read_csv_rows

logger = logging.getLogger(__name__)

TABLE_NAME = "annotations.csv"
COLUMNS = ("video", "frame", "query", "mask", "split")
OPTIONAL_COLUMNS = ("instance",)
EXPECTED = f"a CSV table with the columns {','.join(COLUMNS)} (and optionally instance)"
_INT_RE = re.compile(r"^[0-9]+$")


def table_path(root: str) -> str:
    """The table of `root`: the file itself, or `annotations.csv` in the folder."""
    root = os.fspath(root)
    return root if os.path.isfile(root) or root.lower().endswith(".csv") else os.path.join(root, TABLE_NAME)


def read_custom(root: str, *, skip_bad: bool = False, skipped: list[Skipped] | None = None,
                keep_absent: bool = False) -> list[AnnotatedFrame]:
    """Reads your own data's table into annotated frames (module docstring).

    Args:
        root: the data's folder (holding `annotations.csv`) or the table's path.
        skip_bad: record bad rows in `skipped` and go on instead of raising.
        skipped: receives the `Skipped` records.
        keep_absent: a row whose mask lacks its actor (empty, or no pixel of its instance value) is the actor
            absent from that frame, kept as a sample with an empty mask (`Referral.absent_ok`; a benchmark that
            scores such frames, Refer-YouTube-VOS's), not refused.

    Returns:
        One `AnnotatedFrame` per annotated (video, frame), sorted by (video, frame); dataset "custom".

    Raises:
        DataError: an unreadable table or header (always), or a bad row (unless `skip_bad`): the message names
            `table:line` and the column.
    """
    path = table_path(root)
    try:
        names, table = read_csv_rows(path, COLUMNS, expected=EXPECTED, kind="table", strict=True,
                                     optional=OPTIONAL_COLUMNS)
    except TableError as e:
        source = f"{e.path}:{e.line}" if e.line is not None else e.path
        raise DataError(source, e.problem, reason="missing_file" if "not found" in e.problem else "bad_header") \
            from None
    unknown = [name for name in names if name and name not in COLUMNS + OPTIONAL_COLUMNS]  # "": a spreadsheet's
    misspelt = [name for name in unknown if difflib.get_close_matches(name, COLUMNS + OPTIONAL_COLUMNS, 1, 0.75)]
    if misspelt:  # a misspelt "instance" would be left out without a word
        raise DataError(f"{path}:1", f"unknown column {', '.join(repr(n) for n in misspelt)}; expected {EXPECTED}",
                        reason="bad_header")
    if unknown:  # an annotation tool's own columns (annotator, notes): not refused, as A2D's tables' are not
        logger.warning("%s: column%s %s not read (expected %s)", path, "s" if len(unknown) > 1 else "",
                       ", ".join(repr(n) for n in unknown), EXPECTED)
    if not table:
        raise DataError(path, f"has no row under its header; expected {EXPECTED}", reason="bad_header")
    report = _Reporter(skip_bad, skipped, logger)
    folder = os.path.dirname(os.path.abspath(path))
    frames: dict[tuple[str, int], dict] = {}
    video_of: dict[str, tuple[str, str]] = {}  # video id -> (file, the line that first named it)
    split_of: dict[str, tuple[str, str]] = {}  # video file -> (split, the line that set it)
    checked: dict[str, str | None] = {}  # video path -> why it cannot be read, or None
    listed: dict[str, tuple[list[str], bool]] = {}  # a folder of frames -> its frames' names in reading order,
    # and whether they are named by other numbers than their places (`_renamed`)
    for line, cells in table:
        src = f"{path}:{line}"
        try:
            video, number, sentence, mask, split, value = _row(cells, src, folder, checked, listed)
            video_id = os.path.relpath(video, folder)  # a folder of frames keeps its whole name
            video_id = (video_id if os.path.isdir(video) else os.path.splitext(video_id)[0]).replace(os.sep, "/")
            if video_of.setdefault(video_id, (video, src))[0] != video:
                raise DataError(src, f"column 'video': {cells['video'].strip()!r} and the video of "
                                     f"{video_of[video_id][1]} differ only in their extension; rename one",
                                reason="bad_row")
            first_split, where = split_of.setdefault(video, (split, src))
            if first_split != split:
                raise DataError(src, f"column 'split': {split!r}, but {where} puts this video in {first_split!r}; a "
                                     "video belongs to one split (its frames would be both trained on and scored)",
                                reason="split_clash")
            entry = frames.setdefault((video_id, number), {"video": video, "split": split, "actors": {},
                                                            "referrals": []})
            instance = entry["actors"].setdefault((mask, value), len(entry["actors"]))
            earlier = next((r.line for r in entry["referrals"] if (r.sentence, r.instance_id) == (sentence, instance)),
                           None)
            if earlier is not None:  # a copied row would be trained on, and scored, twice
                raise DataError(src, f"repeats {earlier} (the same video, frame, sentence and mask)",
                                reason="duplicate_row")
            other = next((r.line for r in entry["referrals"] if r.sentence == sentence), None)
            if other is not None:  # one sentence, two actors: the model learns two answers to one question
                logger.warning("%s: the same sentence as %s in the same frame, with another mask: %r names two actors "
                               "there (both are trained on; make each sentence tell its actor apart)", src, other,
                               sentence)
            entry["referrals"].append(Referral(sentence, instance, src, mask=mask, mask_value=value,
                                               absent_ok=keep_absent))
        except DataError as e:
            report(e)
    out = [AnnotatedFrame(dataset="custom", split=entry["split"], video_id=video_id, frame_number=number,
                          frames_path=entry["video"], mask_path=entry["referrals"][0].mask, num_frames=None,
                          referrals=tuple(entry["referrals"]))
           for (video_id, number), entry in sorted(frames.items())]
    logger.info("%s: %d annotated frames, %d videos", path, len(out), len({f.video_id for f in out}))
    return out


_NUMBERED = re.compile(r"^(\D*?)(\d+)$")  # a frame's file name without its extension: a prefix, then its number


def _numbers(names: list[str]) -> list[int] | None:
    """The numbers a folder's frames are named by (`00005.jpg`; CVAT's `frame_000005.png`), where every name is one
    prefix and a number; else None."""
    matches = [_NUMBERED.match(os.path.splitext(name)[0]) for name in names]
    if not all(matches) or len({m.group(1) for m in matches}) != 1:
        return None
    return [int(m.group(2)) for m in matches]


def _renamed(names: list[str]) -> bool:
    """Whether a folder's frames are named by numbers that are not their places from 1 (DAVIS's 00000.jpg, ...;
    Refer-YouTube-VOS's every fifth frame, 00000.jpg, 00005.jpg, ...; CVAT's frame_000000.png, ...): a number in
    the table's frame column could then mean either, and is refused (`_frame_number`)."""
    numbers = _numbers(names)
    return numbers is not None and any(number != k for k, number in enumerate(numbers, 1))


def _frame_number(given: str, names: list[str], renamed: bool, video: str, src: str) -> str:
    """A folder of frames' `frame` cell as its place from 1 (a string of digits, checked by the caller): a frame's
    file name (`00005.jpg`) gives its place. In a folder named by other numbers than the places (`_renamed`) a number
    is refused: a table written from the file names (pandas and spreadsheets drop the zeros: 5 for 00005.jpg) put
    every mask on another frame without a word."""
    if given in names:
        return str(names.index(given) + 1)
    if _INT_RE.match(given) and renamed:
        numbers = _numbers(names)
        first = next(k for k, number in enumerate(numbers, 1) if number != k)
        file = next((name for name, number in zip(names, numbers) if number == int(given)), None)
        which = (f"; {file} is the file numbered {int(given)}, its frame {names.index(file) + 1}" if file else "")
        raise DataError(src, f"column 'frame' is {given!r}, but {os.path.basename(video)}'s frames are named by other "
                             f"numbers than their places ({names[first - 1]} is its frame {first}): name the frame "
                             f"by its file{which}", reason="frame_numbering")
    return given


def _other_videos_mask(video: str, mask: str) -> str | None:
    """The name of another video whose folder of frames stands beside `video` and is named as the folder holding
    `mask` (DAVIS's and Refer-YouTube-VOS's Annotations/<video>/ beside JPEGImages/<video>/: a row pointing at
    another video's masks), or None."""
    owner = os.path.basename(os.path.dirname(mask))
    if owner == os.path.basename(video):
        return None
    beside = os.path.join(os.path.dirname(video), owner)  # (not the masks' own folder: root/kitchen, root/masks)
    return owner if os.path.isdir(beside) and not os.path.samefile(beside, os.path.dirname(mask)) else None


def _row(cells: dict[str, str], src: str, folder: str, checked: dict[str, str | None],
         listed: dict[str, tuple[list[str], bool]]) -> tuple[str, int, str, str, str, int | None]:
    """(video file or folder of frames, frame number, normalised sentence, mask file, split, instance value or None)
    of a row; `checked` holds why each video path seen so far cannot be read (None: it can), `listed` each folder of
    frames' file names (`_frame_number`)."""
    if getattr(cells, "short", None):  # (a row of the table's, refused or left out as the others are)
        raise DataError(src, cells.short, reason="bad_row")
    paths = {}
    for column in ("video", "mask"):
        given = cells[column].strip()
        if not given:
            raise DataError(src, f"column {column!r} is empty", reason="bad_row")
        paths[column] = files.as_stored(os.path.normpath(os.path.join(folder, os.path.expanduser(given))))
    windows = {column: " (a Windows path? separate its folders with /)" if "\\" in cells[column] and os.sep == "/"
               else "" for column in ("video", "mask")}
    if not os.path.exists(paths["video"]):
        raise DataError(src, f"column 'video': {paths['video']} not found{windows['video']}",
                        reason="windows_path" if windows["video"] else "missing_video")
    if paths["video"] not in checked:  # a folder of frames is listed once, not once a row
        checked[paths["video"]] = video_file_problem(paths["video"])
    if checked[paths["video"]] is not None:  # (a folder of frames is not "not found")
        raise DataError(src, f"column 'video': {paths['video']}: {checked[paths['video']]}", reason="missing_video")
    if os.path.isdir(paths["mask"]):  # (it was "not found": an own-data reviewer's)
        raise DataError(src, f"column 'mask': {paths['mask']} is a folder; the mask is one image file of the "
                             "annotated frame (masks/0005.png)", reason="missing_mask")
    if not os.path.isfile(paths["mask"]):
        raise DataError(src, f"column 'mask': {paths['mask']} not found{windows['mask']}",
                        reason="windows_path" if windows["mask"] else "missing_mask")
    number = cells["frame"].strip()
    if os.path.isdir(paths["video"]):
        if os.path.dirname(paths["mask"]) == paths["video"]:  # Refer-YouTube-VOS's Annotations/<id> for JPEGImages/<id>
            raise DataError(src, f"column 'video': {paths['video']} is the folder of the row's mask "
                                 f"({os.path.basename(paths['mask'])}): give the folder of the video's frames",
                            reason="bad_row")
        if (other := _other_videos_mask(paths["video"], paths["mask"])) is not None:
            raise DataError(src, f"column 'mask': {paths['mask']} is in a folder named as another video ({other}), "
                                 f"not as this row's ({os.path.basename(paths['video'])})", reason="bad_row")
        if paths["video"] not in listed:  # (listed once a folder, not once a row)
            names = frame_files(paths["video"])[0]
            listed[paths["video"]] = names, _renamed(names)
        number = _frame_number(number, *listed[paths["video"]], paths["video"], src)
    if not _INT_RE.match(number) or int(number) < 1:
        zero = "" if not _INT_RE.match(number) else (
            f" (a folder's frames count by place, from 1, or by file name: {listed[paths['video']][0][0]})"
            if os.path.isdir(paths["video"]) else
            " (acga predict's masks JSON and CVAT count frames from 0: add 1 to their numbers)")
        whole = (" (a whole number: a spreadsheet or pandas wrote 10 as 10.0)" if re.fullmatch(r"\d+\.0*", number)
                 else "")
        raise DataError(src, f"column 'frame' is {number!r}: the annotated frame's number, 1 for the first "
                             f"frame{zero}{whole}", reason="frame_numbering" if zero else "bad_row")
    sentence = normalize_sentence(cells["query"])
    if len(sentence.encode()) > MAX_SENTENCE_BYTES:
        raise DataError(src, f"column 'query' is {len(sentence.encode()):,} bytes long, more than the "
                             f"{MAX_SENTENCE_BYTES:,} a sentence may have", reason="bad_row")
    if not has_word(sentence):
        raise DataError(src, f"column 'query' has no word (letters or digits): {cells['query']!r}",
                        reason="empty_sentence")
    split = cells["split"].strip().lower()
    if split not in ("train", "test"):
        raise DataError(src, f"column 'split' is {cells['split']!r}, expected train or test", reason="bad_row")
    value = cells.get("instance", "").strip()
    if value and not (_INT_RE.match(value) and 1 <= int(value) <= 65535):
        zero = (" (0 is the background of index masks: objects count from 1)" if value.strip("0") == "" else
                " (a whole number: a spreadsheet or pandas wrote 1 as 1.0)" if re.fullmatch(r"\d+\.0*", value)
                else "")
        raise DataError(src, f"column 'instance' is {value!r}: the actor's pixel value in its mask (1 to 65535), "
                             f"or empty for the mask's whole foreground{zero}", reason="bad_row")
    return paths["video"], int(number), sentence, paths["mask"], split, int(value) if value else None
