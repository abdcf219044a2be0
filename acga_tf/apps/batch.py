"""Segment many videos, each with its own sentences, listed in a CSV file (`acga predict --list`,
docs/serving.md#many-videos).

The model is loaded once (a command per video spends most of its time starting: 11.32 s a video against 1.58 s in
one process, `benchmarks/predict_many.py` on a 2-core CPU). Each video gets one folder, `<output_dir>/<name>/`: its
masks (`masks/<k>/00001.png` for its sentence k, and `masks/queries.txt`, the same layout for one sentence or several),
its overlay where asked for, and `summary.json`, written last, which says that the video is done and what was
found. A failure is the failure of its rows only: a missing or unreadable video fails that video's rows, a refused
sentence (no word the model knows) only its own row; the rest go on. `results.csv`, one row per row of the list,
says what became of each. The same command again segments only what is not done: a video whose `summary.json`
matches its file (size, time modified), its sentences, the model (`model_identity`) and the overlay asked for, and
whose masks are all there, is passed over.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import itertools
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence

from acga_tf import __version__
from acga_tf.apps.predict import (
    HOUSEKEEPING,
    OVERLAY_FORMATS,
    STARTED_FILE,
    check_query,
    foreign_files,
    frames_to_segment,
    job_difference,
    job_record,
    judge_queries,
    load_predictor,
    mask_count,
    mask_png_names,
    masks_alone,
    predict_to_files,
    same_job,
    system_file,
)
from acga_tf.apps.predictors import KerasPredictor, ServingPredictor, is_server_url
from acga_tf.data.decode import PNG_END
from acga_tf.data.text import tokenize_py_many
from acga_tf.data.types import DataError
from acga_tf.data.video import video_file_problem
from acga_tf.ops import files, tables
from acga_tf.ops.errors import check_stop
from acga_tf.ops.options import option
from acga_tf.training import artifacts
from acga_tf.training.artifacts import TrainedModel

logger = logging.getLogger(__name__)

SUMMARY_NAME = "summary.json"
# Where the list of 2026-12-06 recorded a video's job while it was segmented: removed (now `masks/.acga-started.json`,
# `predict.STARTED_FILE`, as `acga predict --frames-dir` writes it)
FORMER_STARTED_NAME = "started.json"
RESULTS_NAME = "results.csv"
MASKS_FOLDER = "masks"
OVERLAY_NAME = "overlay"  # overlay.mp4 or overlay.gif
MASKS_JSON_NAME = "masks.json"  # every sentence's masks as JSON, where asked for (docs/serving.md#masks-as-json)
# What a `summary.json` written before a setting existed had: its default, so that such a video is still done.
SUMMARY_DEFAULTS = {"smooth_edges": False, "masks_json": False, "soft_masks": False, "audio": True}
# The `acga predict --list` option of a job record's key where it is not `--key` (`job_difference`)
LIST_FLAGS = {"masks_json": "--json", "overlay": "--overlays", "audio": "--no-audio"}
RESULT_COLUMNS = ("line", "video", "query", "status", "masks", "frames", "coverage", "message")


@dataclasses.dataclass(frozen=True)
class ListRow:
    """One row of a list: `line` is the line of the file its row starts on (the header is line 1; a sentence with
    a line break spans two), `video` as written, `path` the file it names (a relative path is taken from the list's
    folder; `./a.mp4` and `a.mp4` are one file)."""

    line: int
    video: str
    path: str
    query: str
    relative: str = ""  # `path` from the list's folder ("../x.mp4" where it lies outside it)
    problem: str = ""  # what makes the row fail alone, found as the list is read (a row that ends before a column)


@dataclasses.dataclass
class RowResult:
    """What became of one row: `status` "done", "done earlier" (an earlier run's, passed over), "failed", "stopped"
    (its video was being segmented when the run was stopped) or "not started" (the run was stopped first); `masks`
    its mask folder, relative to the output folder; `coverage` the mean fraction of pixels its mask covers; `message`
    why it failed, or the warnings its sentence and video gave."""

    row: ListRow
    status: str = "not started"
    masks: str = ""
    frames: int | None = None
    coverage: float | None = None
    message: str = ""


def read_list(path: str) -> list[ListRow]:
    """The rows of a CSV list of videos and sentences: a header naming the columns `video` and `query` (others are
    ignored), then one row per (video, sentence). UTF-8 (a spreadsheet's byte-order mark is skipped); a sentence may
    be quoted, commas and line breaks in it; blank rows are skipped. A relative video path is taken from the list's
    folder, or from the current folder where the list is a pipe (`-`: standard input).

    Raises:
        ValueError: the file cannot be read as such a list, or two of its videos would share a folder
            (`video_folders`; the message names it, and the line).
    """
    stdin = os.fspath(path) == "-"  # `--list -`: standard input, so named in messages (not "/dev/stdin")
    path, name = ("/dev/stdin", "standard input (--list -)") if stdin else (os.fspath(path),) * 2
    try:
        _, table = tables.read_csv_rows(path, ("video", "query"), expected="a CSV list with the columns video,query",
                                        strict=True)  # an unquoted comma cut the sentence short, without a word
    except tables.TableError as e:
        if not stdin:
            raise
        raise tables.TableError(name, e.problem, e.line) from None
    # a relative path is taken from the list's folder; a list given as a pipe (`--list <(...)`, `/dev/stdin`) has
    # none: from the current one (they were looked for in /dev/fd, or /dev)
    rows, folder = [], os.path.dirname(os.path.abspath(path)) if os.path.isfile(path) else os.getcwd()
    for line, cells in table:
        video = cells["video"].strip()
        where = files.as_stored(os.path.normpath(os.path.join(folder, os.path.expanduser(video)))) if video else ""
        rows.append(ListRow(line, video, where, cells["query"], os.path.relpath(where, folder) if video else "",
                            cells.short or ""))  # (it failed as "query is empty": a mends reviewer's)
    if not rows:
        raise ValueError(f"{name}: lists no video (a header video,query, then one row per video and sentence)")
    try:
        video_folders(rows)  # two videos that would share a folder: said now, naming the list
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    return rows


def _check_not_read(output_dir: str, folders: dict[str, str], rows: Sequence[ListRow], list_path: str | None,
                    flag: str) -> None:
    """Refuses, before the model loads, a list whose run would write or remove what it reads: the list itself
    (`--list OUT/results.csv --output-dir OUT` replaced the list with the run's table) or a video of it (an earlier
    run's `overlay.mp4` listed again, in the folder of a video it lists). Files are compared by their identity
    (device, inode), only those that exist: a list of 10,000 rows is checked in one pass."""
    read = {}
    for path, what in [*(() if list_path in (None, "-") else [(list_path, f"the list ({option('--list', 'rows')})")]),
                       *((row.path, f"the video of line {row.line} of the list") for row in rows if row.path)]:
        with contextlib.suppress(OSError):
            stat = os.stat(path)
            read.setdefault((stat.st_dev, stat.st_ino), what)
    written = [os.path.join(output_dir, RESULTS_NAME), *(
        os.path.join(output_dir, folder, name) for folder in folders.values()
        for name in (SUMMARY_NAME, MASKS_JSON_NAME, FORMER_STARTED_NAME, *(OVERLAY_NAME + kind
                                                                           for kind in OVERLAY_FORMATS)))]
    for path in written:
        with contextlib.suppress(OSError):
            stat = os.stat(path)
            if (what := read.get((stat.st_dev, stat.st_ino))) is not None:
                raise ValueError(f"{path}: is {what}, which the run would replace or remove; give another {flag}")


def video_folders(rows: Sequence[ListRow]) -> dict[str, str]:
    """Each video's folder name under the output folder, by its path: its path from the list's folder, without its
    extension, where it lies under that folder (`clips/a.mp4` → `clips/a`), else its file name's stem.

    Raises:
        ValueError: two videos would share a folder, one's would lie inside the other's, or one's would be named as
            `results.csv` (the message names their lines).
    """
    names, first = {}, {}
    for row in rows:
        if not row.video or row.path in names:
            continue
        inside = row.relative and not row.relative.startswith("..")
        name = os.path.splitext(row.relative if inside else os.path.basename(row.path))[0].replace(os.sep, "/")
        if name.lower() in first or name.lower().startswith(RESULTS_NAME):
            other = first.get(name.lower())
            which = (f"lines {other.line} and {row.line}: {other.video} and {row.video} would share the folder "
                     if other else f"line {row.line}: {row.video} would write the folder ")
            raise ValueError(f"{which}{name}; give the videos distinct names")
        names[row.path], first[name.lower()] = name, row
    for path, name in names.items():  # a folder inside another video's (X.mp4 and X/masks.mp4)
        parts = name.lower().split("/")
        for k in range(1, len(parts)):
            outer = first.get("/".join(parts[:k]))
            if outer is not None:
                row = first[name.lower()]
                raise ValueError(f"lines {outer.line} and {row.line}: the folder of {row.video} would lie inside "
                                 f"that of {outer.video}; give the videos distinct names")
    return names


RUN_FILES = (artifacts.MODEL_FILE, artifacts.VOCAB_FILE, artifacts.EMBEDDINGS_FILE)  # what a run's model is read from


def model_identity(model) -> str | None:
    """What `summary.json` records as the model, by which a re-run knows it: the file or folder its path names
    (through links), with a fingerprint of the files it is read from (their paths, sizes and times modified: a run
    trained again, a SavedModel given a new version, is another model; a run's logs and checkpoints are not read); a
    TF Serving URL as given (name a version, `/versions/N`, to pin one). A model given as an object: a
    `TrainedModel` or Keras predictor by a fingerprint of its weights, words and word vectors (trained further in
    memory, it is another model), a SavedModel or server predictor by what it was loaded from; None for any other
    `Predictor` (its videos are segmented again by the next run)."""
    if isinstance(model, KerasPredictor):
        model = model.trained
    if isinstance(model, TrainedModel):
        named = hashlib.sha256("\n".join([*(w.path for w in model.model.weights), *model.vocabulary.words]).encode())
        digest = artifacts.arrays_digest([*model.model.weights, model.embeddings], digest=named)
        where = os.path.realpath(model.directory) if model.directory else "a model"
        return f"{where} in memory (weights {digest})"
    if isinstance(model, ServingPredictor):
        model = model.source  # a SavedModel folder or a server's URL
    if not isinstance(model, (str, os.PathLike)):
        return None
    given = os.fspath(model)
    if is_server_url(given):
        return given
    path = os.path.realpath(given)  # (through links, as the video: `job_record`)
    if os.path.isfile(os.path.join(path, artifacts.MODEL_FILE)):  # a run: the files a model is loaded from, not
        files_read = [os.path.join(path, name) for name in RUN_FILES]  # its logs, checkpoints or evaluations
    elif os.path.isfile(path):  # a .keras file, and the word files beside it
        files_read = [path, *(os.path.join(os.path.dirname(path), name) for name in RUN_FILES[1:])]
    else:  # a SavedModel, or its parent with its versions
        files_read = sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in names)
    found = []
    for name in files_read:
        with contextlib.suppress(OSError):
            stat = os.stat(name)
            found.append(f"{os.path.relpath(name, path)}:{stat.st_size}:{stat.st_mtime_ns}")
    return f"{path} ({hashlib.sha256(chr(10).join(found).encode()).hexdigest()[:16]})"


def predict_list(model, rows: Sequence[ListRow], output_dir: str, *, overlay: str | None = None, audio: bool = True,
                 batch_size: int = 4, model_name: str | None = None, smooth_edges: bool = False,
                 masks_json: bool = False, soft_masks: bool = False,
                 progress: Callable[[ListRow, list[RowResult]], None] | None = None,
                 frames: Callable[[ListRow, int, int | None], Callable[[int], None] | None] | None = None,
                 on_start: Callable[[], None] | None = None, list_path: str | None = None) -> list[RowResult]:
    """Segments every video of `rows` with its sentences (module docstring): one `predict_to_files` per video.

    Args:
        model: any artifact `load_predictor` takes (loaded once).
        rows: from `read_list`, or the list's path.
        output_dir: the folder to write in (created).
        overlay: "mp4" or "gif" for an overlay per video (`<name>/overlay.mp4`), or None.
        audio, batch_size, smooth_edges, soft_masks: as `predict_to_files`; a video done earlier with other edges
            or other PNGs is segmented again.
        masks_json: each video's masks also as `<name>/masks.json` (`predict_to_files`' `output_json`).
        model_name: what `summary.json` records as the model, by which a later run tells whether a video was
            segmented by the same model (default: `model_identity`).
        progress: called after each video with its first row and its rows' results.
        frames: called as each video's segmenting starts, with its first row, its number among the list's videos
            (from 1) and the frames it has (None where its container declares no count); what it returns, where not
            None, is called with the number of frames each step segmented (a minutes-long video's progress).
        on_start: called once, before the first video, when nothing can refuse the list as a whole any more (the model
            loaded, the folder held, `results.csv` written): what a caller says of a run that goes ahead (`acga
            predict --no-audio` without an MP4 overlay) is then not said before a refusal.
        list_path: the list's file, where `rows` were read from one (`acga predict --list`): refused, as each video
            is, where a file the run writes or removes is it (`--list OUT/results.csv --output-dir OUT`).

    Returns:
        One `RowResult` per row, in order. A KeyboardInterrupt is raised again once `results.csv` is written, the
        rows not reached "not started"; other errors than a video's or a sentence's (a full disk, a model server
        down) stop the run the same way.

    Raises:
        ValueError: two videos would share a folder; `overlay` not "mp4", "gif" or None.
    """
    if isinstance(rows, (str, os.PathLike)):  # the list's path
        rows, list_path = read_list(rows), os.fspath(rows)
    if overlay is not None and "." + str(overlay) not in OVERLAY_FORMATS:
        raise ValueError(f"overlay={overlay!r}: expected one of {', '.join(f[1:] for f in OVERLAY_FORMATS)}, or None")
    folders = video_folders(rows)
    flag = option("--output-dir", "output_dir")
    files.check_writable(output_dir, folder=True, flag=flag)
    if os.path.isfile(table := os.path.join(output_dir, RESULTS_NAME)):  # an earlier run's: not a write-protected one
        files.check_writable(table, flag=flag)
    _check_not_read(output_dir, folders, rows, list_path, flag)
    predictor = load_predictor(model)
    os.makedirs(output_dir, exist_ok=True)
    lock = files.WriteLock(output_dir, f"{output_dir} ({flag})")  # a second run into it now is refused
    model_name = model_name or model_identity(model)
    results = [RowResult(row) for row in rows]
    by_video: dict[str, list[RowResult]] = {}
    for result in results:
        if result.row.problem:  # its own failure, its video's other rows segmented
            _fail([result], result.row.problem)
        else:
            by_video.setdefault(result.row.path, []).append(result)
    done = 0
    try:
        # before any video's earlier outputs go: a kill -9 left an earlier run's results.csv saying "done" of masks it
        # had removed (a reviewer's); from here on a row is "not started" until its video is done or failed
        table_writes = _TableWrites(table, results)
        if on_start is not None:
            on_start()
        for path, group in by_video.items():
            check_stop()  # (a stop Python dropped in a finalizer: `errors.check_stop`)
            if not path:
                _fail(group, "no video named in the row")
                continue
            started = None if frames is None else functools.partial(frames, group[0].row, done + 1)
            _segment_video(predictor, path, group, output_dir, folders[path], overlay=overlay, audio=audio,
                           batch_size=batch_size, model_name=model_name, started=started, smooth_edges=smooth_edges,
                           masks_json=masks_json, soft_masks=soft_masks)
            done += 1
            table_writes.after_a_video()  # a run killed outright (kill -9) leaves it all but up to date
            if progress is not None:
                progress(group[0].row, group)
    except BaseException as e:
        videos = [group for path, group in by_video.items() if path]
        segmented = sum(any(r.status in ("done", "done earlier") for r in group) for group in videos[:done])
        failed = f", {done - segmented} failed" if done > segmented else ""  # a missing video, say: no summary
        kept = (f"{segmented} of {len(videos)} videos done, each with its {SUMMARY_NAME}{failed}; {table} lists every "
                "row; the same command segments only the rest")
        if done < len(videos):  # the video being segmented: stopped, or what stopped the run
            for result in videos[done]:
                if result.status == "not started":
                    result.status, result.message = "stopped", _one_line(e) or type(e).__name__
        write_results(table, results)
        if isinstance(e, KeyboardInterrupt):
            raise KeyboardInterrupt(kept) from None
        e.add_note(kept)
        raise
    else:
        write_results(table, results)  # (under the lock: a second run into the folder is refused until it is done)
    finally:
        lock.release()
    return results


def _segment_video(predictor, path: str, group: list[RowResult], output_dir: str, name: str, *, overlay: str | None,
                   audio: bool, batch_size: int, model_name: str,
                   started: Callable[[int | None], Callable[[int], None] | None] | None = None,
                   smooth_edges: bool = False, masks_json: bool = False, soft_masks: bool = False) -> None:
    """Segments one video with its rows' sentences into `<output_dir>/<name>/`, or passes over one done earlier;
    fills in the rows' results. A video's or a sentence's error fails its rows; any other error propagates.
    `started`: called with the video's frame count (or None) as its segmenting starts; returns the per-step frames
    callback (`predict_list`'s `frames`)."""
    folder = os.path.join(output_dir, name)
    summary_path = os.path.join(folder, SUMMARY_NAME)
    refused, chosen, given = {}, {}, []  # chosen: each row's sentence, as segmented
    for result in group:
        try:
            given.append((result, check_query(result.row.query)))
        except (TypeError, ValueError) as e:
            refused[id(result)] = str(e)
    # "The red circle!" is "the red circle" to the model (the same words): segmented once, as first written
    distinct = list(dict.fromkeys(sentence for _, sentence in given))
    words = [tuple(tokens) for tokens in tokenize_py_many(distinct)]
    first_written: dict[tuple, str] = {}
    for sentence, key in zip(distinct, words):
        first_written.setdefault(key, sentence)
    written = {sentence: first_written[key] for sentence, key in zip(distinct, words)}
    unique = list(dict.fromkeys(written.values()))
    judged = dict(zip(unique, judge_queries(predictor, unique))) if unique else {}  # one describe for the video
    for result, sentence in given:
        refusal, _ = judged[written[sentence]]
        if refusal is not None:  # a sentence refused fails its row alone
            refused[id(result)] = refusal
        else:
            chosen[id(result)] = written[sentence]
    sentences = [sentence for sentence in unique if judged[sentence][0] is None]
    said = {sentence: judged[sentence][1] for sentence in sentences}  # each sentence's warnings
    for result in group:
        if id(result) in refused:
            result.status, result.message = "failed", refused[id(result)]
    if not sentences:
        return
    if (problem := video_file_problem(path)) is not None:
        _fail([r for r in group if id(r) not in refused], f"{path}: {problem}")
        logger.warning("%s: %s", path, problem)
        return
    wanted = job_record(path, sentences, model_name, overlay=overlay, smooth_edges=smooth_edges,
                        masks_json=masks_json, soft_masks=soft_masks)
    if overlay == "mp4":  # (a run again with --no-audio passed over an overlay with sound as done earlier)
        wanted["audio"] = audio
    earlier = files.read_record(summary_path)
    if (earlier is not None and wanted["model"] is not None
            and all(earlier.get(key, SUMMARY_DEFAULTS.get(key)) == value for key, value in wanted.items()
                    if key in earlier or key != "audio")  # (not recorded before 2026-12-06, night: as asked)
            and _complete(folder, earlier)):
        _fill(group, chosen, name, earlier, "done earlier")
        return
    if (other := _other_result(output_dir, folder)) is not None:  # before anything of the folder is removed
        _fail([r for r in group if id(r) not in refused], f"{path}: its masks would be written in the folder of "
              f"another video's result ({os.path.join(other, SUMMARY_NAME)}), which it would replace; give this "
              f"list another {option('--output-dir', 'output_dir')}")
        return
    if os.path.exists(summary_path):
        os.remove(summary_path)  # first: a run stopped while writing again leaves no marker saying "done"
    _remove(os.path.join(folder, FORMER_STARTED_NAME))
    masks = os.path.join(folder, MASKS_FOLDER)  # an earlier run's masks, all of them; a link there: the link only
    job = wanted if masks_alone(wanted) else None
    stopped = files.read_record(os.path.join(masks, STARTED_FILE))  # a stopped run's record
    if not os.path.islink(masks) and os.path.isdir(masks) and (foreign := foreign_files(masks, path)):
        kept = next(f"{masks}.kept-{k}" for k in itertools.count(1) if not os.path.lexists(f"{masks}.kept-{k}"))
        os.rename(masks, kept)  # (a reviewer's notes.txt was removed with the folder, "a stopped run of another job")
        logger.warning("%s: held files that are not a run's (%s%s): the folder is kept as %s; the video is segmented "
                       "from the start", masks, ", ".join(foreign[:3]), ", ..." if len(foreign) > 3 else "", kept,
                       extra=HOUSEKEEPING)
    if os.path.islink(masks) or job is None or not same_job(stopped, job):
        if os.path.islink(masks):  # (rmtree refused it, silently, and the masks were written into its target)
            os.remove(masks)
        elif stopped is not None and os.path.isdir(masks) and (count := mask_count(masks, path)):
            logger.warning("%s: removed the %d mask PNGs of a stopped run of another job (%s)", masks, count,
                           job_difference(stopped, wanted, LIST_FLAGS)[0], extra=HOUSEKEEPING)
        shutil.rmtree(masks, ignore_errors=True)  # (else a stopped run of this job: gone on from, or cleared, by
        # `predict_to_files`)
    for kind in OVERLAY_FORMATS:  # an overlay of an earlier run that this one does not write
        if kind != f".{overlay}":
            _remove(os.path.join(folder, OVERLAY_NAME + kind))
    if not masks_json:  # an earlier run's, of other masks
        _remove(os.path.join(folder, MASKS_JSON_NAME))
    output = os.path.join(folder, f"{OVERLAY_NAME}.{overlay}") if overlay else None
    notes: list[str] = []  # the video's warnings (damaged frames, empty masks)
    began = time.monotonic()
    try:
        with _warnings_into(notes):
            total = frames_to_segment(path)
            steps = []  # the per-step frames callback, once the frames to segment are known

            def begin(kept: int) -> None:
                if started is not None:
                    steps.append(started(total if total is None else max(total - kept, 1)))

            def step(frames: int) -> None:
                if steps and steps[0] is not None:
                    steps[0](frames)

            summary = predict_to_files(predictor, path, sentences, output=output,
                                       frames_dir=os.path.join(folder, MASKS_FOLDER), batch_size=batch_size,
                                       audio=audio, sentence_folders=True, progress=step, on_start=begin,
                                       flags=(option("--output-dir", "output_dir"),) * 2, smooth_edges=smooth_edges,
                                       output_json=os.path.join(folder, MASKS_JSON_NAME) if masks_json else None,
                                       soft_masks=soft_masks, job=job, keep_job=True)
    except (DataError, ValueError, TypeError) as e:  # the video's fault: its rows fail, the list goes on
        message = str(e) + "".join(f"; {note}" for note in getattr(e, "__notes__", ()))
        _fail([r for r in group if id(r) not in refused], message)
        logger.warning("%s", message)
        return
    record = {**wanted, "frames": summary.num_frames, "width": summary.width, "height": summary.height,
              "fps": summary.fps, "coverage": summary.coverage,
              "empty_frames": [len(empty) for empty in summary.empty_frames],
              "overlay_file": os.path.basename(output) if output else None,
              "seconds": round(time.monotonic() - began, 3), "acga_tf": __version__}
    told = {note for sentence in sentences for note in said[sentence]}
    record["warnings"] = list(dict.fromkeys([*told, *notes]))
    record["sentence_warnings"] = [said[sentence] for sentence in sentences]
    record["video_warnings"] = [note for note in dict.fromkeys(notes) if note not in told]
    with files.atomic_path(summary_path) as temporary, open(temporary, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, ensure_ascii=False)
        f.write("\n")  # a text file's last line ends (`cat`, `tail`)
    _remove(os.path.join(masks, STARTED_FILE))  # once `summary.json` says it is done (a kill before: gone on from)
    _fill(group, chosen, name, record, "done")


def _other_result(output_dir: str, folder: str) -> str | None:
    """The folder of another video's result (its `SUMMARY_NAME`) that segmenting the video of `folder` would replace
    or write into, or None: one in its masks folder, which is cleared (a list's `a.mp4` after an earlier list's
    `a/masks.mp4` or `a/masks/1.mp4`: that result was removed, or set aside, without a word), or one whose masks
    folder holds `folder` (the other way round: written into). A result merely beside or above is left alone."""
    masks = os.path.join(folder, MASKS_FOLDER)
    for inner, _, names in () if os.path.islink(masks) else os.walk(masks):  # (a link: removed, not what it names)
        if SUMMARY_NAME in names:
            return inner
    parent = os.path.dirname(folder)
    while len(parent) > len(output_dir) and parent.startswith(os.path.join(output_dir, "")):
        if os.path.isfile(os.path.join(parent, SUMMARY_NAME)) and \
                os.path.join(folder, "").startswith(os.path.join(parent, MASKS_FOLDER, "")):
            return parent
        parent = os.path.dirname(parent)
    return None


def _fill(group: list[RowResult], chosen: dict, name: str, record: dict, status: str) -> None:
    """The results of the rows not refused (`chosen`: each one's sentence, one of `record`'s queries)."""
    for result in group:
        if id(result) not in chosen:
            continue
        k = record["queries"].index(chosen[id(result)])
        result.status = status
        result.masks = f"{name}/{MASKS_FOLDER}/{k + 1}"
        result.frames, result.coverage = record["frames"], record["coverage"][k]
        mine = record.get("sentence_warnings", [[]] * len(record["queries"]))[k]
        result.message = "; ".join([*mine, *record.get("video_warnings", [])])


def _complete(folder: str, record: dict) -> bool:
    """Whether an earlier run's files are all there: each sentence's folder with its `frames` mask PNGs, each ending
    with its IEND chunk, and the overlay it wrote (a folder or file removed since, or a mask emptied or cut short, is
    segmented again)."""
    try:
        names = mask_png_names(record["video"])  # a folder of frames' masks: its frames' names
        expected = (sorted(names[:record["frames"]]) if names else
                    [f"{i:05d}.png" for i in range(1, record["frames"] + 1)])
        for k in range(len(record["queries"])):
            masks = os.path.join(folder, MASKS_FOLDER, str(k + 1))
            names = sorted(n for n in os.listdir(masks)
                           if n.endswith(".png") and not system_file(n))  # (not macOS's `._00001.png`)
            if names != expected or not all(_ends_whole(os.path.join(masks, name)) for name in names):
                return False
        if record.get("masks_json") and not os.path.isfile(os.path.join(folder, MASKS_JSON_NAME)):
            return False
        overlay = record.get("overlay_file")
        return overlay is None or os.path.isfile(os.path.join(folder, overlay))
    except (OSError, KeyError, TypeError):
        return False


def _ends_whole(path: str) -> bool:
    """Whether a mask PNG ends with its IEND chunk (`PNG_END`, the last 12 bytes of the PNGs the package writes):
    the masks are written without waiting for the disk, so a power cut can leave one empty or cut short, and the
    video was "done earlier" with a mask no program can read (a reviewer's)."""
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) < len(PNG_END):
            return False
        f.seek(-len(PNG_END), os.SEEK_END)
        return f.read() == PNG_END


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def _fail(group: list[RowResult], message: str) -> None:
    for result in group:
        result.status, result.message = "failed", message


def _remove(path: str) -> None:
    if os.path.isfile(path):
        os.remove(path)


class _Notes(logging.Handler):
    """Keeps the messages of the warnings it is given."""

    def __init__(self, notes: list[str]):
        super().__init__(logging.WARNING)
        self.notes = notes

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(record, "housekeeping", False):  # (a run's own: `predict.HOUSEKEEPING`)
            self.notes.append(record.getMessage())


@contextlib.contextmanager
def _warnings_into(notes: list[str]) -> Iterator[None]:
    """Within the block, the package's warnings (words the model does not know, empty masks, damaged frames) are
    also appended to `notes`, for the video's `summary.json` and `results.csv`."""
    handler, package = _Notes(notes), logging.getLogger("acga_tf")
    package.addHandler(handler)
    try:
        yield
    finally:
        package.removeHandler(handler)


class _TableWrites:
    """`results.csv` written now, then after a video once the time since the last write is `TABLE_TIME_SHARE` times
    what that write took (each write is the whole table: twice a video, a list of 10,000 rows spent 86 ms a write, 29
    minutes of a run, growing as the square of the rows). A video done since the last write is listed "not started"
    until the next one (its `summary.json` says done: the same command passes over it)."""

    def __init__(self, table: str, results: Sequence[RowResult]):
        self.table, self.results = table, results
        self.write()

    def write(self) -> None:
        began = time.monotonic()
        write_results(self.table, self.results)
        self.last = time.monotonic()
        self.took = self.last - began

    def after_a_video(self) -> None:
        if time.monotonic() - self.last >= TABLE_TIME_SHARE * self.took:
            self.write()


TABLE_TIME_SHARE = 20  # `results.csv` written at most a twentieth of the time (`_TableWrites`)


def write_results(path: str, results: Sequence[RowResult]) -> None:
    """`results.csv`: per row of the list, in order, its line, video, sentence, status, mask folder (relative to the
    output folder), frames, mean coverage and message (written whole, then renamed into place; a cell that a
    spreadsheet would run as a formula starts with `'`, `tables.spreadsheet_text`, except a path starting with `-`,
    kept for scripts that read the paths back: A2D's clips, named by YouTube ids, often start with `-`)."""
    with files.atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(RESULT_COLUMNS)
        text, a_path = tables.spreadsheet_text, functools.partial(tables.spreadsheet_text, path=True)
        for r in results:
            writer.writerow([r.row.line, a_path(r.row.video), text(r.row.query), r.status, a_path(r.masks),
                             "" if r.frames is None else r.frames, "" if r.coverage is None else f"{r.coverage:.6f}",
                             text(r.message)])


__all__ = ["ListRow", "RowResult", "read_list", "video_folders", "predict_list", "write_results", "SUMMARY_NAME",
           "RESULTS_NAME"]
