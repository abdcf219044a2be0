"""Segment the actors sentences describe in every frame of a video, from any artifact, streaming
(docs/data.md#clips, docs/evaluation.md#protocol, docs/serving.md#predict).

Frame i's clip is the T frames centred on i with the first/last frame repeated past the video's ends (the data
pipeline's `clip_indices`, docs/data.md#clips). Each prediction is σ(logits) thresholded at 0.5 × its maximum over
the frame's own pixels (padding is never an answer) and mapped back to the frame's H × W by inverting the letterbox
(`acga_tf.ops.postprocess`, the one post-processing every command and the serving graph share).

- `load_predictor(model)` (`acga_tf.apps.predictors`): a `Predictor` from a run directory, a `.keras` file (its
  vocabulary beside it), an exported SavedModel (a version folder or its `saved_models/NAME` parent: the highest
  version) or a TF Serving URL (`http://host:8501/v1/models/NAME`, `grpc://host:8500/NAME`). All give the same masks.
- `iter_masks(predictor, frames, queries)`: the streaming core. Frames come from any iterator; each frame's masks,
  one per sentence, are yielded as soon as its clip is done, and only the frames that pending clips still need
  are held (about clip_length + batch_size), so memory does not grow with the video's length. The clip is encoded
  once for all the sentences (`ACGA.segment_queries`, or the SavedModel's `segment_queries` signature).
- `predict(...)`: the whole video in memory (`PredictionResult`); `predict_to_files(...)`: the `acga predict`
  job, writing the overlay and mask PNGs frame by frame.
"""

from __future__ import annotations

import bisect
import collections
import concurrent.futures
import contextlib
import dataclasses
import fractions
import functools
import itertools
import json
import logging
import math
import numbers
import os
import re
import shutil
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

import av
import numpy as np
import tensorflow as tf
from PIL import Image, ImageColor, ImageDraw, ImageFont

from acga_tf.apps.predictors import Predictor, load_predictor
from acga_tf.data.text import FUNCTION_WORDS, compose, tokenize_py, tokenize_py_many, typable_words
from acga_tf.data.types import MAX_FRAME_PIXELS, MAX_SENTENCE_BYTES, DataError
from acga_tf.data.video import (
    FRAME_EXTENSIONS,
    Mp4Writer,
    add_audio,
    frame_files,
    frame_times,
    has_sound,
    iter_video_frames,
    open_video,
    quarter_turned,
    source_stamp,
    times_start_again,
    video_file_problem,
    video_stream,
)
from acga_tf.ops import files, rle
from acga_tf.ops.config import closest_pairs, positive_int
from acga_tf.ops.errors import check_stop, error_message
from acga_tf.ops.exceptions import InputError, InputTypeError
from acga_tf.ops.geometry import clip_indices
from acga_tf.ops.options import option
from acga_tf.ops.postprocess import smooth_masks
from acga_tf.ops.wording import counted
from acga_tf.training import artifacts

logger = logging.getLogger(__name__)

# How messages name prediction's settings: the `acga predict` option, or the Python argument (`ops.options.option`).
START, END = ("--start ", "start="), ("--end ", "end=")  # each followed by its value


def output_flags() -> tuple[str, str]:
    """How messages name the overlay and the mask folder: `--output` and `--frames-dir` under the command, `output`
    and `frames_dir` from Python (`check_outputs`' and `predict_to_files`' default `flags`)."""
    return option("--output", "output"), option("--frames-dir", "frames_dir")

DEFAULT_FPS = 24.0  # used for arrays given without fps (the A2D clips' rate)
SMALLEST_FRAME = 32  # pixels a side: smaller frames (a thumbnail, an array of wrong axes) are segmented, warned
# RGB overlay colours, one per sentence (cycled past seven, with a warning: `legend`): red first, so one sentence looks
# as it always did.
# Okabe and Ito's palette, told apart with every common colour blindness (red then green,
# the second and third sentences' masks, would look alike to one man in twelve): vermillion, blue, bluish green, yellow,
# reddish purple, sky blue, orange.
OVERLAY_PALETTE = (("vermillion", (213, 94, 0)), ("blue", (0, 114, 178)), ("bluish green", (0, 158, 115)),
                   ("yellow", (240, 228, 66)), ("reddish purple", (204, 121, 167)), ("sky blue", (86, 180, 233)),
                   ("orange", (230, 159, 0)))  # each colour with its name, for the lines that pair them in words
OVERLAY_COLORS = tuple(rgb for _, rgb in OVERLAY_PALETTE)
OVERLAY_COLOR = OVERLAY_COLORS[0]
OVERLAY_ALPHA = 0.5
OVERLAY_FORMATS = (".mp4", ".gif")  # a video's overlay (and `--list --overlays`')
OVERLAY_STILL = ".png"  # the overlay of one frame: a photo, or a part of a video of one frame
# libx264 for overlays: veryfast encodes long videos at several times real time; zerolatency (no lookahead, no
# B-frames) halves the encoder's memory at 4K (680 → 300 MB measured, benchmarks/predict_memory.py).
MP4_OPTIONS = {"preset": "veryfast", "crf": "20", "tune": "zerolatency"}
# What write_mask_frames writes (and may overwrite), and the temporary name of a PNG a killed run was writing.
MASK_PNG = re.compile(r"^(\d{5}|[1-9]\d{5,6})\.png(\.tmp)?$")  # a numbered frame's mask (frames 100,000 to
# 9,999,999, six or seven digits: 92 hours at 30 fps; not a user's dated `20240101.png`, eight, which a rerun would
# remove) too: its folder's names (`mask_png_names`)
SENTENCE_FOLDER = re.compile(r"^\d+$")  # <frames_dir>/<k>/, the mask PNGs of sentence k of several
EARLIER_FOLDER = ".acga-earlier"  # <frames_dir>/.acga-earlier/: an earlier run's masks while a run replaces them
EARLIER_LIST = "set-aside.txt"  # in it, written first: the names set aside (what putting them back restores)
REPLACED_FOLDER = ".acga-replaced"  # the set-aside folder of a run that ended, renamed before it is removed
# <frames_dir>/.acga-started.json: which job a run writing masks alone is (`job_record`), written as it starts and
# removed when it ends: the masks a stopped run left beside it are gone on from by the next run of that job.
STARTED_FILE = ".acga-started.json"
# What a run writes in <frames_dir> beside the masks: the sentences' list and the job's record (or a kill's half of it)
RECORD_FILES = tuple(name + suffix for name in ("queries.txt", STARTED_FILE) for suffix in ("", files.TEMPORARY_SUFFIX))
# A warning of a run's own housekeeping (`extra=`), not of the video: `predict_list` keeps it out of `summary.json`.
HOUSEKEEPING = {"housekeeping": True}
# Files a file manager leaves in a folder it shows (not a run's; `system_file`): removed with the masks beside them.
SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def system_file(name: str) -> bool:
    """Whether `name` is a file manager's (`SYSTEM_FILES`), or macOS's `._NAME` beside each file it wrote to a share
    (AppleDouble), which a run removes with the masks it replaces or goes on from."""
    return name in SYSTEM_FILES or name.startswith("._")


# === Sentences ===
QUOTED_LENGTH = 80  # characters of a sentence a message quotes


def quoted(query: str) -> str:
    """A sentence as messages quote it: `repr`, its first `QUOTED_LENGTH` characters and "..." where longer (else a
    423-word sentence is printed whole three times, by the summary and two warnings)."""
    return repr(query) if len(query) <= QUOTED_LENGTH else f"{query[:QUOTED_LENGTH]!r}..."


def check_query(query: str) -> str:
    """Returns the query on one line: stripped, each run of whitespace (a tab, a line break: a quoted CSV field may
    hold them) made one space, accents in their composed Unicode form (`compose`: "é" typed two ways is one
    sentence). The words are the same (tokenization splits on whitespace; the vocabulary knows both forms);
    `queries.txt`, a sentence per line after its number and a tab, and the overlay's legend need the sentence on one
    line.

    Raises:
        TypeError: the query is not a str (bytes included: decode them first).
        ValueError: the query is not valid Unicode (a lone surrogate), is longer than `MAX_SENTENCE_BYTES` in UTF-8
            (64 KiB: the records' bound; a web page's 30 MB sentence held 1.5 GB of the server's memory), or has no
            word (letters or digits) after tokenization.
    """
    if not isinstance(query, str):
        raise InputTypeError(f"query {query!r} is {type(query).__name__}: give each sentence as a str"
                             + (" (bytes.decode('utf-8'))" if isinstance(query, (bytes, bytearray)) else ""))
    if len(query) > MAX_SENTENCE_BYTES or len(query.encode("utf-8", "surrogatepass")) > MAX_SENTENCE_BYTES:
        raise InputError(f"query {quoted(query)} is {len(query.encode('utf-8', 'surrogatepass')):,} bytes long in "
                         f"UTF-8, more than the {MAX_SENTENCE_BYTES:,} a sentence may have (the model reads its first "
                         "words only)")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError(f"query {quoted(query)} is not valid Unicode: character {e.start} is a lone "
                         "surrogate") from None
    if not tokenize_py(query):
        raise InputError(f"query is empty: {quoted(query)} has no word (letters or digits)")
    return " ".join(compose(query).split())


def as_sentences(queries) -> list[str]:
    """The sentences `queries` holds: a list, tuple or array of them, or one str (one sentence).

    Raises:
        ValueError: no sentence.
    """
    sentences = [queries] if isinstance(queries, (str, bytes, bytearray)) else list(queries)
    if not sentences:
        raise InputError("give at least one query (a list of sentences)")
    return sentences


def check_queries(predictor: Predictor, queries: Sequence[str]) -> list[str]:
    """Checks the sentences against the model before any frame is read; returns them stripped.

    Logs a warning naming the words the vocabulary lacks (they get zero vectors) and, for a sentence longer than
    L words, how many are dropped (the model reads the first L).

    Raises:
        TypeError: a sentence that is not a str.
        ValueError: no sentence, an empty one, or one with no vocabulary word among its first L (its mask would
            ignore it: a text-blind answer); where several are refused, each is named in the one message (a web-page
            tester fixed three sentences in three tries), the model's words said once, at its end.
    """
    given = as_sentences(queries)
    for query in given:  # (a sentence that is not a str: its own TypeError)
        if not isinstance(query, str):
            check_query(query)
    refused = []  # every sentence refused, an empty one beside an unknown one included (the empty one was named alone)
    for refusal, notes in judge_queries(predictor, given):
        for note in notes:
            logger.warning("%s", note)
        if refusal is not None:
            refused.append(refusal)
    if refused:  # `.message` without the hint, which may name the model's vocabulary file
        hint = predictor.words_hint()  # (asked only here: a SavedModel's reads its file)
        bare = [refusal.removesuffix(f"; {hint}") if hint else refusal for refusal in refused]
        message = bare[0] if len(bare) == 1 else (f"{len(bare)} of the {len(given)} sentences cannot be segmented: "
                                                   + "; ".join(bare))
        hinted = hint and bare != refused
        raise InputError(message + (f"; {hint}" if hinted else ""), message=message)
    return [check_query(query) for query in given]


WORDS_NAMED = 12  # a sentence's words past those the model reads, named in its warning (then "...")


def judge_queries(predictor: Predictor, queries: Sequence[str]) -> list[tuple[str | None, list[str]]]:
    """What the model makes of each sentence, from one `describe` of them all (one request to a TF Serving model):
    (why it is refused, or None; its warnings: words the vocabulary lacks, words past the L the model reads). A
    sentence `check_query` refuses (empty, not text, too long) gets its refusal, as `predict` says it (a service
    tester's empty sentence was "has no known word" here, "query is empty" from `predict`). `check_queries` raises
    the first refusal and logs the warnings; `acga predict --list` fails the refused sentence's row alone."""
    judged: list = [None] * len(queries)
    sentences = {}
    for k, query in enumerate(queries):
        try:
            sentences[k] = check_query(query)
        except InputError as e:
            judged[k] = (str(e), [])
    for k, verdict in zip(sentences, _judged(predictor, list(sentences.values())) if sentences else ()):
        judged[k] = verdict
    return judged


SUGGESTION_CUTOFF = 0.75  # difflib's similarity a known word needs to be suggested for an unknown one ("circel" →
# "circle" 0.83, "sqaure" → "square" 0.83, "zebra" → nothing in the demo's words)


def suggested_words(missing: Sequence[str], known: Sequence[str] | None) -> str:
    """"did you mean circle for circel?": the closest known word to each of `missing` that has one (difflib), or ""
    (none close, or the model's words cannot be read here: a model behind a server). A mistyped word got zero
    vectors and the mask ignored it, with a note naming the word only (a web-page tester's)."""
    pairs = closest_pairs(missing, known or (), SUGGESTION_CUTOFF)
    return ("did you mean " + ", ".join(f"{quoted(good)} for {quoted(bad)}" for good, bad in pairs) + "?"
            if pairs else "")


def _typable_words(predictor: Predictor) -> Sequence[str]:
    """The model's words a sentence can hold as written (the tokenizer reads each as itself: a hand-built vocabulary's
    "Red" or "don't" is never read, so not suggested: a diff reviewer's), read once a predictor."""
    if (words := getattr(predictor, "_typable_words", None)) is None:
        words = typable_words(predictor.known_words() or ())
        with contextlib.suppress(AttributeError):  # (a predictor of slots: read again next time)
            predictor._typable_words = words
    return words


def _judged(predictor: Predictor, queries: list[str]) -> list[tuple[str | None, list[str]]]:
    """`judge_queries` of sentences `check_query` has passed."""
    info = predictor.describe(list(queries))
    length = predictor.sentence_length
    judged = []
    known_words = None
    for query, tokens, words, known, unknown in zip(queries, tokenize_py_many(list(queries)), info["words"],
                                                    info["known_words"], info["unknown_words"]):
        missing = list(dict.fromkeys(str(unknown).split()))  # (of the words the model reads: L at most)
        if missing and known_words is None:
            known_words = _typable_words(predictor)
        suggestion = suggested_words(missing, known_words)
        read = [t for t in tokens[:length] if t not in missing]  # the words the model knows, in order
        if known and read and all(t in FUNCTION_WORDS for t in read):  # "the zebra galloping": "done", 2% covered
            named = ", ".join(map(repr, dict.fromkeys(read)))
            plural = len(set(read)) > 1
            of = f"of its first {length} words (it reads no more)" if words > length else "of it"
            lacks = (f" ({', '.join(missing)} {'are' if len(missing) > 1 else 'is'} not in its vocabulary)"
                     if missing else "")
            hint = predictor.words_hint() if missing else None
            judged.append((f"query {quoted(query)}: the model knows only {named} {of}, "
                           f"{'words' if plural else 'a word'} naming no actor{lacks}, so the mask would ignore the "
                           "sentence" + "".join(f"; {part}" for part in (suggestion, hint) if part), []))
            continue
        if known == 0:
            hint = predictor.words_hint()  # French or Chinese sentences for the demo's model, say
            # "its first 8 words" of a longer sentence only (not a 4-word sentence's "first 8")
            which = f"its first {length} words" if words > length else "its words"
            judged.append((f"query {quoted(query)} has no known word: none of {which} is in the "
                           "vocabulary of the model, so the mask would ignore the sentence"
                           + "".join(f"; {part}" for part in (suggestion, hint) if part), []))
            continue
        notes = []
        if words > length:  # the words dropped named (they may be the sentence's motion)
            dropped = tokens[length:]
            named = " ".join(dropped) if len(dropped) <= WORDS_NAMED else " ".join(dropped[:WORDS_NAMED]) + " ..."
            notes.append(f"query {quoted(query)} has {words} words; the model reads the first {length}: "
                         f"{words - length} are dropped ({named})")
        if missing:
            notes.append(f"query {quoted(query)}: words not in the model's vocabulary (they get zero vectors): "
                         + ", ".join(missing) + (f"; {suggestion}" if suggestion else ""))
        if symbols := list(dict.fromkeys(c for c in query if unicodedata.category(c) == "So")):
            # else "the 🟢 circle" is read as "the circle" without a word
            notes.append(f"query {quoted(query)}: {' '.join(symbols)} not read (the model reads words of letters "
                         "and digits; emoji and symbols are left out)")
        judged.append((None, notes))
    return judged


# === Frames ===
@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a video's container declares about the stream players pick (`video_stream`); nothing is decoded.

    Attributes:
        fps: the average frame rate, or None.
        frames: the frame count, or None (for progress bars: a damaged file may decode fewer).
        sample_aspect: the aspect ratio of its pixels where it is not 1 (anamorphic video, e.g. 32/27 for DVD's
            720 × 480 shown 16:9), or None; of the frames as players show them (a quarter turn inverts the stored
            one: the frames are read upright).
        width, height: the stored frame size, or None.
        duration: seconds, the stream's or else the container's, or None: where no frame count is declared
            (Matroska, WebM), what a progress bar's total is estimated from (`frames_to_segment`).
    """

    fps: float | None = None
    frames: int | None = None
    sample_aspect: fractions.Fraction | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def video_info(path: str) -> VideoInfo:
    """A video file's `VideoInfo`, from one read of its container; all None where FFmpeg cannot open it or it has no
    video stream.

    Raises:
        TypeError: `path` is not a path (frames in an array have no container to read: their rate is the one given).
    """
    if not isinstance(path, (str, os.PathLike)):  # (said "expected str, bytes or os.PathLike object, not ndarray")
        raise InputTypeError(f"video_info reads a video file or a folder of frames by its path, not "
                             f"{type(path).__name__}")
    if video_file_problem(os.fspath(path)) is not None:  # (refused by the frames' reader, which names it)
        return VideoInfo()
    try:
        with open_video(path) as container:
            stream = video_stream(container)
            if stream is None:
                return VideoInfo()
            rate, count, aspect = stream.average_rate, stream.frames, stream.sample_aspect_ratio
            width, height = stream.codec_context.width, stream.codec_context.height
            duration = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                        else _container_duration(container, stream))
    except av.FFmpegError:
        return VideoInfo()
    if os.path.isdir(path):  # a folder of frames: FFmpeg's image reader declares no count (a progress bar's "12/?")
        count = len(frame_files(path)[0])
    if aspect and aspect != 1 and quarter_turned(path):  # the frames are used upright: their pixels' aspect as shown
        aspect = 1 / aspect  # (a phone's 90-degree matrix and 2:1 pixels were stretched along the wrong side)
    return VideoInfo(float(rate) if rate else None, int(count) or None, aspect if aspect and aspect != 1 else None,
                     int(width) or None, int(height) or None, duration if duration and duration > 0 else None)


def _container_duration(container, stream) -> float | None:
    """Seconds a container says its video lasts where the stream declares no duration (Matroska, WebM, FLV), or
    None. Matroska's (and WebM's) duration runs from time 0 to its end: a file cut from a stream, whose frames start
    at 5 s, declared 5 s more than they last (its bar's total was 165 for 45 frames, and the list's time left with
    it: a reviewer's), so the video stream's own start is taken off (not the container's: sound from 0 s beside
    frames from 5 s, a mends reviewer's); another container's (FLV's) is its length already. Sound that outlasts
    the frames still counts in it (an estimate, for progress bars)."""
    if not container.duration:
        return None
    seconds = container.duration / av.time_base
    if "matroska" in container.format.name and stream.start_time is not None and stream.time_base:
        seconds -= float(stream.start_time * stream.time_base)
    return seconds


def video_fps(path: str, default: float = DEFAULT_FPS) -> float:
    """The average frame rate of a video file (`video_info`), or `default`."""
    return video_info(path).fps or default


def video_length(path: str) -> int | None:
    """The frame count a video's container declares (`video_info`; for progress bars), or None."""
    return video_info(path).frames


def frames_to_segment(path: str, start: float | None = None, end: float | None = None) -> int | None:
    """How many frames `predict_to_files(path, ..., start=, end=)` will segment, from the container's declared
    frame count and rate (for progress bars), or where it declares no count (Matroska, WebM) an estimate from its
    duration and rate (an archive's hour-long MKV showed "1440/?" and no time left); None where it declares
    neither. A bar given it ends at the frames segmented (the CLI sets its total then).

    Raises:
        ValueError: as `frame_range`.
    """
    info = video_info(path)
    first, stop = frame_range(start, end, info.fps or DEFAULT_FPS, _times_for(path, start, end))
    count = info.frames
    if count is None and info.duration and info.fps:
        count = round(info.duration * info.fps)
    if count is None:
        return None
    return max(min(count, stop or count) - first, 0) or None


def load_video(video, fps: float | None = None) -> tuple[np.ndarray, float]:
    """A video path (anything PyAV reads) or a uint8 array → (frames uint8 (N, H, W, 3), fps), all in memory.

    Raises:
        DataError: the file is missing or cannot be decoded (a ValueError; the message names the file).
        ValueError: an array that is not uint8 (N, H, W, 3) with N ≥ 1.
    """
    frames, fps = open_frames(video, fps)
    return np.stack(list(frames)), fps


def open_frames(video, fps: float | None = None, times: collections.abc.MutableSequence | None = None,
                start: int = 0) -> tuple[Iterator[np.ndarray], float]:
    """A video path or uint8 (N, H, W, 3) array → (an iterator of uint8 (H, W, 3) frames from frame `start`, fps). A
    file is decoded lazily, one frame at a time, from the keyframe before `start` where it can seek
    (`iter_video_frames`); its first frame is decoded here, so a missing or unreadable file fails now. Where `times`
    is given, a file's frame times are appended to it as frames are decoded.

    Raises:
        DataError: the file is missing or cannot be decoded, or has no frame `start` (a ValueError naming the file).
        ValueError: an array that is not uint8 (N, H, W, 3) with more than `start` frames.
        TypeError: bytes or a file object (an upload's) in place of a path.
    """
    check_fps(fps)
    if isinstance(video, (str, os.PathLike)):
        frames = iter_video_frames(os.fspath(video), damaged="skip", times=times, start=start)
        first = next(frames)
        return _chain(first, frames), float(fps) if fps else video_fps(video)
    if isinstance(video, (bytes, bytearray, memoryview)) or hasattr(video, "read"):  # a web handler's upload
        raise InputTypeError(f"video is {'a file object' if hasattr(video, 'read') else type(video).__name__}, "
                             "not a path or frames: write the upload to a file and give its path, or decode it to a "
                             "uint8 (N, H, W, 3) array")
    if video is None or isinstance(video, collections.abc.Iterator) or (
            isinstance(video, (list, tuple)) and video and all(isinstance(v, (str, os.PathLike)) for v in video)):
        # (said "video array has dtype object and shape ()", of what was no array: a Python-API tester's)
        given = ("None" if video is None else "an iterator of frames" if isinstance(video, collections.abc.Iterator)
                 else "a list of paths")
        raise InputTypeError(f"video is {given}: give a video file or a folder of frames by its path, or frames as a "
                             "uint8 (N, H, W, 3) array or a list of (H, W, 3) ones (a stream of frames: iter_masks)")
    if isinstance(video, (list, tuple)):  # frames of several sizes: NumPy's "inhomogeneous shape" named none
        shapes = [np.shape(frame) for frame in video]
        if (other := next((k for k, shape in enumerate(shapes) if shape != shapes[0]), None)) is not None:
            raise InputError(f"frame {other} has shape {shapes[other]}, frame 0 {shapes[0]}: frames of one size, "
                             "expected")
    array = np.asarray(video)
    if array.ndim != 4 or array.shape[-1] != 3 or array.shape[0] <= start or array.dtype != np.uint8:
        hint = _frames_hint(array)
        raise InputError(f"video array has dtype {array.dtype} and shape {array.shape}, expected uint8 "
                         f"(N, H, W, 3) with N >= {start + 1}" + (f" ({hint})" if hint else ""))
    return iter(array[start:]), float(fps) if fps else DEFAULT_FPS


def _frames_hint(array: np.ndarray) -> str | None:
    """What a frames array refused by `open_frames` most likely is, and how to make uint8 (N, H, W, 3) of it (a
    Python-API tester's float, greyscale, RGBA and channels-first frames got the bare shape)."""
    shape = array.shape
    if array.ndim == 4 and shape[1] == 3 and shape[-1] not in (3, 4):
        form = "channels first (N, 3, H, W)? frames.transpose(0, 2, 3, 1)"
    elif array.ndim == 4 and shape[-1] == 4:
        form = "RGBA? frames[..., :3]"
    elif array.ndim == 4 and shape[-1] == 1:
        form = "greyscale? np.repeat(frames, 3, axis=-1)"
    elif array.ndim == 3 and shape[-1] == 3:
        form = "one frame? frame[None]"
    elif array.ndim == 3 and shape[-1] == 4:  # (a PNG's RGBA frame was taken for greyscale frames: a reviewer's)
        form = "one RGBA frame? frame[None, ..., :3]"
    elif array.ndim == 3:
        form = "greyscale (N, H, W)? np.repeat(frames[..., None], 3, axis=-1)"
    elif array.ndim == 5:
        form = "a batch of videos? one video a call"
    else:
        form = None
    if array.dtype == np.bool_:
        kind = "booleans: pictures, not masks, expected"
    elif np.issubdtype(array.dtype, np.floating) and np.isfinite(array).any() and np.nanmax(array) > 1:
        kind = "floats in [0, 255]? frames.round().clip(0, 255).astype(np.uint8)"  # (they were told "* 255")
    elif np.issubdtype(array.dtype, np.floating):
        kind = "floats in [0, 1]? (frames * 255).round().astype(np.uint8)"
    elif np.issubdtype(array.dtype, np.integer) and array.dtype != np.uint8:
        kind = f"{array.dtype}: 8-bit values? frames.astype(np.uint8); deeper ones scaled to 0..255 first"
    else:
        kind = None
    return "; ".join(part for part in (form, kind) if part) or None


def check_fps(fps) -> None:
    """Raises a ValueError unless `fps` is None (the file's rate, or 24) or a finite number of frames per second > 0."""
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not math.isfinite(fps)
                            or fps <= 0):
        raise ValueError(f"fps={fps!r}: frames per second, must be a number > 0")


def _pixel_aspect(given: fractions.Fraction | None, declared: fractions.Fraction | None
                  ) -> fractions.Fraction | None:
    """The frames' pixel aspect: the one `given`, else the one the container `declared`; None for square pixels."""
    value = declared if given is None else given
    if value is not None and not value > 0:
        raise ValueError(f"sample_aspect={given}: the pixels' width over their height, must be > 0")
    return None if value is None or value == 1 else fractions.Fraction(value)


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def display_width(width: int, sample_aspect: fractions.Fraction | None) -> int:
    """The width at which players show a frame `width` pixels wide whose pixels have the aspect `sample_aspect`
    (`ffmpeg -vf scale=iw*sar:ih`, rounded): 853 for DVD's 720 at 32:27; `width` where the pixels are square."""
    return max(1, round(width * sample_aspect)) if sample_aspect else width


def square_pixels(frame: np.ndarray, sample_aspect: fractions.Fraction | None) -> np.ndarray:
    """A uint8 (H, W, 3) frame as players show it: an anamorphic one resampled to square pixels, (H, display W, 3)
    (`display_width`; PIL's bilinear filter, which averages over the pixels it narrows); any other as it is."""
    width = display_width(frame.shape[1], sample_aspect)
    if width == frame.shape[1]:
        return frame
    return np.asarray(Image.fromarray(frame).resize((width, frame.shape[0]), Image.Resampling.BILINEAR))


def nearest_columns(array: np.ndarray, width: int) -> np.ndarray:
    """(..., W) → (..., width): each column the one whose span holds its centre (a mask's nearest-neighbour resize
    along the width, pixel centres aligned)."""
    columns = array.shape[-1]
    return array[..., np.minimum(((np.arange(width) + 0.5) * columns / width).astype(int), columns - 1)]


def _to_stored_width(outputs: dict[str, np.ndarray], width: int) -> dict[str, np.ndarray]:
    """`Predictor.segment`'s outputs for square-pixel frames (`square_pixels`) → at the stored `width`: masks by
    nearest column, probabilities by linear interpolation (both with pixel centres aligned); `empty` is recounted,
    since a mask one display column wide can vanish."""
    display = outputs["mask"].shape[-1]
    if display == width:
        return outputs
    out = dict(outputs, mask=nearest_columns(outputs["mask"], width))
    out["empty"] = ~out["mask"].any(axis=(-2, -1))
    if "probability" in outputs:
        x = np.clip((np.arange(width) + 0.5) * display / width - 0.5, 0, display - 1)  # in display columns
        left = np.minimum(x.astype(int), display - 2) if display > 1 else np.zeros(width, int)
        t = (x - left).astype(np.float32)
        p = outputs["probability"]
        out["probability"] = p[..., left] * (1 - t) + p[..., np.minimum(left + 1, display - 1)] * t
    return out


class FrameWindow:
    """The frames pending clips still need: index → [raw uint8 frame, the frame the model sees, prepared frame],
    oldest dropped first. Frames are prepared when a clip first needs them, all those pending at once
    (`Predictor.prepare_many`: the letterbox of 8 frames in one call took a sixth of 8 calls' time, the same values).

    Attributes:
        longest: the most frames held at once (what bounds memory: about clip_length + batch_size).
    """

    def __init__(self):
        self.first, self.items, self.longest = 0, collections.deque(), 0
        self.prepare_many: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None  # `iter_masks` sets it

    def __len__(self) -> int:
        return len(self.items)

    @property
    def last(self) -> int:
        """Index of the newest frame held."""
        return self.first + len(self.items) - 1

    def append(self, raw: np.ndarray, seen: np.ndarray) -> None:
        """Holds frame `raw` and `seen`, the frame the model sees (square pixels; often `raw` itself), prepared when
        a clip first needs it."""
        self.items.append([raw, seen, None])
        self.longest = max(self.longest, len(self.items))

    def raw(self, index: int) -> np.ndarray:
        return self.items[index - self.first][0]

    def prepared(self, indices: np.ndarray) -> np.ndarray:
        """Stacked prepared frames of int `indices` (any shape) → (*indices.shape, ...)."""
        pending = [item for item in self.items if item[2] is None]
        if pending:
            for item, prepared in zip(pending, self.prepare_many([item[1] for item in pending])):
                item[2] = prepared
        flat = [self.items[i - self.first][2] for i in np.asarray(indices).ravel()]
        return np.stack(flat).reshape(np.shape(indices) + flat[0].shape)

    def drop_before(self, index: int) -> None:
        """Forgets the frames before `index` (no later clip needs them)."""
        while self.items and self.first < index:
            self.items.popleft()
            self.first += 1


class FramesEnded(InputError):
    """`iter_masks`' frames ended before the first frame asked for (`first`)."""


@dataclasses.dataclass
class FrameMasks:
    """One frame's predictions, one row per sentence.

    Attributes:
        index: zero-based frame index.
        frame: uint8 (H, W, 3), the frame itself (for overlays).
        masks: uint8 (Q, H, W) in {0, 1} (docs/evaluation.md#protocol, maximum over the frame's own pixels).
        empty: bool (Q,): a mask without any foreground pixel.
        probabilities: float32 (Q, H, W) σ(logits) at the frame's size, or None when not asked for.
        scores: float32 (Q,): each sentence's score, the model's highest probability in the frame (the maximum the
            relative threshold is taken from; docs/serving.md#scores), or None where the artifact gives none (a
            SavedModel exported before 2026-12-06).
    """

    index: int
    frame: np.ndarray
    masks: np.ndarray
    empty: np.ndarray
    probabilities: np.ndarray | None = None
    scores: np.ndarray | None = None

    def to_dict(self, time: float | None = None) -> dict:
        """The frame's masks as JSON values (docs/serving.md#masks-as-json): `{"frame": index, "time": seconds (where
        given), "masks": [{"area", "box", "rle", "score"}, ...]}`, one mask per sentence in their order; a mask's
        `rle` is COCO's uncompressed run-length encoding (`acga_tf.ops.rle`); `score` where known (`scores`).

        Raises:
            ValueError: a `time` that is not a finite number (JSON has no NaN).
        """
        timed = {} if time is None else {"time": _json_time(time)}
        return {"frame": self.index, **timed, "masks": [_mask_record(mask, self.scores, k)
                                                        for k, mask in enumerate(self.masks)]}


def _json_time(time: float) -> float:
    """A frame's time for JSON, rounded to the microsecond; NaN and infinities refused (JSON has none)."""
    if not math.isfinite(time):
        raise ValueError(f"time={time!r}: a frame's time must be a finite number of seconds")
    return round(float(time), 6)


def _mask_record(mask: np.ndarray, scores: np.ndarray | None, k: int) -> dict:
    """`rle.record(mask)`, with the mask's score (the k-th of `scores`) where the artifact gives scores."""
    record = rle.record(mask)
    if scores is not None:
        record["score"] = round(float(scores[k]), 6)
    return record


def iter_masks(predictor: Predictor, frames: Iterable[np.ndarray], queries: Sequence[str], *, batch_size: int = 4,
               probabilities: bool = False, window: FrameWindow | None = None, first: int = 0,
               stop: int | None = None, offset: int = 0, sample_aspect: fractions.Fraction | None = None,
               smooth_edges: bool = False, lookahead: int | None = None) -> Iterator[FrameMasks]:
    """Yields every frame's masks, in order, as soon as its clip is done (docs/data.md#clips).

    Frame i's clip is frames i − T//2 … i + (T+1)//2 − 1, clamped to the video; frames are read lazily and only
    those later clips need are held, so memory does not grow with the video's length. Usable from a web handler:
    pass a loaded predictor (`load_predictor`) and checked sentences (`check_queries`).

    Args:
        predictor: from `load_predictor`.
        frames: uint8 (H, W, 3) RGB frames, all the same size (an iterator: read as needed).
        queries: Q sentences; each frame gets one mask per sentence, in this order.
        batch_size: clips per model call.
        probabilities: also return σ(logits) at the frame's size (a bilinear resize per frame and sentence).
        window: the frame buffer to use (to inspect its `longest` afterwards); a new one by default.
        first, stop: segment frames `first` to `stop` − 1 only (stop None: to the video's end). `frames` is still
            the whole video: the clips of the range's first and last frames take the frames around them, so each
            mask is the one segmenting the whole video gives. Frames before the clips' reach are passed over,
            and no frame after it is read.
        offset: the video's index of `frames`' first frame, where the reader started there (`open_frames(start=)`,
            at most `clip_reach(predictor, first)`, the first frame a clip of the range takes).
        sample_aspect: the aspect of the frames' pixels where they are not square (an anamorphic video's,
            `video_info(path).sample_aspect`): the model then sees each frame as players show it (`square_pixels`),
            and the masks are mapped back to the stored size.
        smooth_edges: threshold the probabilities at the frame's size (`postprocess.smooth_masks`): edges follow
            the model between its S × S cells instead of their steps, not the evaluation protocol's masks
            (docs/serving.md#smooth-edges); every artifact gives them (from its probabilities).
        lookahead: the frames after frame i that its clip takes, 0 to T − 1 (None: (T+1)//2 − 1, the centred
            clips the model trained on); the rest of the clip is the frames before it. A live stream's frame gets
            its mask once `lookahead` more frames have come: 0 gives it at once, but the model segments the actor
            where it is mid-clip, so a moving actor's mask lags behind it (docs/serving.md#live-video: 5.7 pixels
            for a circle moving 2 a frame; a mean IoU of 43.5 against 46.7 centred on the demo's world).

    Yields:
        `FrameMasks`, frame `first` first.

    Raises:
        ValueError: bad batch size or lookahead, or a range of no frame.
        FramesEnded: the frames ended before `first` (an `InputError`).
        InputError: no queries, or frames that are not uint8 (H, W, 3) of one size (a live camera's resolution
            switch: docs/serving.md#live-video); the frames before it whose masks were not yet yielded get none.
        InputError: also a sentence with no word the model knows, from the model's own check, where
            `check_queries` (which refuses it before any frame, naming every such sentence) was not called first;
            TensorFlow then also writes a line of its own to stderr ("Local rendezvous is aborting ...").
    """
    if not isinstance(predictor, Predictor):  # (a path: "'str' object has no attribute 'prepare_many'", a tester's;
        # the caller's code at fault, not its client's input)
        raise TypeError(f"predictor is a {type(predictor).__name__}, not a loaded predictor: give "
                        "load_predictor(model) (a run's folder, a .keras file, a SavedModel or a server's URL)")
    if isinstance(frames, (str, bytes, os.PathLike)):  # (a path was read as frames, one a character)
        raise InputTypeError(f"frames is a {type(frames).__name__}, not frames: give open_frames(path) for a video's "
                             "or a folder's frames, or an iterable of uint8 (H, W, 3) arrays")
    batch_size = positive_int("batch_size", batch_size)
    queries = as_sentences(queries)
    if first < 0 or (stop is not None and stop <= first):
        raise InputError(f"frames {first} to {stop}: an empty or negative range")
    window = FrameWindow() if window is None else window
    window.prepare_many = predictor.prepare_many
    t = predictor.clip_length
    if lookahead is not None and (isinstance(lookahead, bool) or not isinstance(lookahead, numbers.Integral)
                                  or not 0 <= lookahead < t):
        raise ValueError(f"lookahead={lookahead!r}: must be an integer from 0 to {t - 1} (the model's clips are "
                         f"{t} frames)")
    after = (t + 1) // 2 - 1 if lookahead is None else int(lookahead)  # a clip's frames after its centre
    before = t - 1 - after  # and before it
    window.first = lowest = max(0, first - before)  # (`clip_reach` for centred clips)
    if not 0 <= offset <= lowest:
        raise ValueError(f"offset={offset}: the frames must start at or before frame {lowest}, the first that frame "
                         f"{first}'s clip takes")
    end = stop if stop is not None else np.inf
    shape, centre, seen = None, first, offset  # the first frame's shape; the next centre to yield; frames read
    for index, frame in enumerate(frames, offset):
        seen = index + 1
        if index < lowest:
            continue
        if index > end - 1 + after:  # past the last clip's reach: the clips below are all complete
            break
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3 or frame.shape != (shape or frame.shape):
            raise InputError(f"frame {index} has dtype {frame.dtype} and shape {frame.shape}, expected uint8 "
                             f"(H, W, 3) frames of one size{f' {shape}' if shape else ''}")
        if shape is None and (min(frame.shape[:2]) == 0 or frame.shape[0] * frame.shape[1] > MAX_FRAME_PIXELS):
            # frames in memory, as a file's header is (a service tester's 0 x 64 frames were TensorFlow's "input image
            # must be of non-zero size", and 8000 x 4400 ones took 3.5 GB through a SavedModel)
            raise InputError(f"frame {index} has {frame.shape[1]} x {frame.shape[0]} pixels: a frame must have at "
                             f"least 1 pixel a side and at most {MAX_FRAME_PIXELS:,} (8K UHD, 7680 x 4320)")
        if shape is None and min(frame.shape[:2]) < SMALLEST_FRAME:
            logger.warning("frames of %dx%d pixels: the masks of frames under %d pixels a side mean little%s",
                           frame.shape[1], frame.shape[0], SMALLEST_FRAME, _input_size(predictor))
        shape = frame.shape
        window.append(frame, square_pixels(frame, sample_aspect))
        while centre < end and min(centre + batch_size, end) - 1 + after <= index:  # a batch of clips is complete
            batch_stop = int(min(centre + batch_size, end))
            yield from _run_batch(predictor, window, queries, centre, batch_stop, None, probabilities, sample_aspect,
                                  smooth_edges, lookahead)
            centre = batch_stop
            window.drop_before(centre - before)
    if seen > offset and first >= seen:  # a stream that ended before the range (an empty one yields nothing)
        raise FramesEnded(f"first={first}: past the end of the frames ({seen})")
    if shape is None:
        return
    total = window.last + 1  # the video's end, or a frame no remaining clip reaches past
    if seen == 1:
        logger.warning("one frame (a still image?): segmented as a clip of that frame repeated %d times, in which "
                       "nothing moves", t)
    for start in range(centre, int(min(total, end)), batch_size):  # the last clips repeat the last frame
        yield from _run_batch(predictor, window, queries, start, int(min(start + batch_size, total, end)), total,
                              probabilities, sample_aspect, smooth_edges, lookahead)
        window.drop_before(start + batch_size - before)


def _input_size(predictor: Predictor) -> str:
    """" (the model reads frames scaled to 128x128)" where the predictor knows its input size, else ""."""
    size = getattr(predictor, "image_size", None)
    return f" (the model reads frames scaled to {size}x{size})" if size else ""


def clip_reach(predictor: Predictor, first: int) -> int:
    """The first frame that the clip of frame `first` takes (T // 2 before it, clamped at 0; docs/data.md#clips): where
    a reader segmenting from frame `first` can start."""
    return max(0, first - predictor.clip_length // 2)


def _run_batch(predictor: Predictor, window: FrameWindow, queries: list[str], start: int, stop: int,
               total: int | None, probabilities: bool, sample_aspect: fractions.Fraction | None,
               smooth_edges: bool = False, lookahead: int | None = None) -> Iterator[FrameMasks]:
    centres = np.arange(start, stop)
    # Without the total (mid-stream), no clip of these centres reaches past the newest frame.
    indices = np.asarray(clip_indices(centres[:, None], total or window.last + 1, predictor.clip_length,
                                      lookahead))  # (b, T)
    h, w = window.raw(start).shape[:2]
    try:
        outputs = predictor.segment(window.prepared(indices), queries, h, display_width(w, sample_aspect),
                                    probabilities or smooth_edges)
    except tf.errors.InvalidArgumentError as e:  # the model's own check of the sentences (`check_queries` not called
        # first): the client's mistake, refused as `check_queries` refuses it (a Python-API tester's HTTP 500)
        refusal = None
        if "query " in error_message(e):
            try:
                check_queries(predictor, queries)
            except InputError as refused:
                refusal = refused
        if refusal is not None:
            raise refusal from None
        raise
    outputs = _to_stored_width(outputs, w)
    if smooth_edges:  # from the probabilities at the stored size, which every artifact gives
        outputs["mask"], outputs["empty"] = smooth_masks(outputs["probability"])
    scores = outputs.get("score")
    for i, c in enumerate(centres):
        yield FrameMasks(index=int(c), frame=window.raw(int(c)), masks=outputs["mask"][i],
                         empty=outputs["empty"][i], probabilities=outputs["probability"][i] if probabilities else None,
                         scores=None if scores is None else scores[i])


# === The whole video in memory ===
@dataclasses.dataclass
class PredictionResult:
    """Per-frame predictions of one query on one video.

    Attributes:
        masks: uint8 (N, H, W) in {0, 1}: the predicted mask of every frame at the video's size
            (docs/evaluation.md#protocol, maximum over the frame's own pixels).
        probabilities: float32 (N, H, W): σ(logits) mapped back to H × W (bilinear); None where `predict` was
            asked for the masks alone.
        fps: frames per second of the video (for writing overlays).
        query: the sentence.
        times: when each frame is shown, in seconds from the first, where a video file's frames carry their own
            times (a variable frame rate's uneven ones); None: frame i at i / fps.
        scores: float32 (N,): each frame's score, the model's highest probability in it (docs/serving.md#scores),
            or None where the artifact gives none (a SavedModel exported before 2026-12-06).
    """

    masks: np.ndarray
    probabilities: np.ndarray | None
    fps: float
    query: str
    times: tuple[float, ...] | None = None
    scores: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.masks.shape[0])

    @property
    def height(self) -> int:
        return int(self.masks.shape[1])

    @property
    def width(self) -> int:
        return int(self.masks.shape[2])

    @property
    def empty_frames(self) -> list[int]:
        """Zero-based indices of the frames whose mask is empty."""
        return [int(i) for i in np.flatnonzero(~self.masks.any(axis=(1, 2)))]

    def to_dict(self) -> dict:
        """The masks as JSON values (docs/serving.md#masks-as-json), for a service's answer (`json.dumps`):
        `{"query", "width", "height", "fps", "frames": [{"frame", "time", "area", "box", "rle", "score"}, ...]}`, a
        frame's index zero-based, its time when it is shown (`times`, else index / fps seconds), its mask as COCO's
        uncompressed run-length encoding (`acga_tf.ops.rle`; `rle.decode` reads it back) with the box `[x, y,
        width, height]` around it (null where empty), its score where known (`scores`). The probabilities are left
        out."""
        return {"query": self.query, "width": self.width, "height": self.height, "fps": self.fps,
                "frames": [{"frame": i, "time": _json_time(_time_of(i, self.fps, self.times)),
                            **_mask_record(mask, self.scores, i)} for i, mask in enumerate(self.masks)]}

    def __repr__(self) -> str:
        """One line: the sentence, the frames and their size, the rate, the frames with a mask (the arrays' values
        would fill a screen with a hundred lines); a long sentence's start (`quoted`)."""
        masked = self.num_frames - len(self.empty_frames)
        return (f"PredictionResult(query={quoted(self.query)}, {self.num_frames} frames of {self.width}x{self.height}, "
                f"fps={self.fps:g}, {masked} with a mask)")


def predict(model, video, query: str | None = None, *, queries: Sequence[str] | None = None, batch_size: int = 4,
            fps: float | None = None, progress: Callable[[int], None] | None = None,
            sample_aspect: fractions.Fraction | None = None, smooth_edges: bool = False,
            probabilities: bool = True) -> PredictionResult | list[PredictionResult]:
    """Predicts the mask of the actor each sentence describes in every frame of `video`, all kept in memory (for
    long videos use `iter_masks` or `predict_to_files`, whose memory does not grow with the length).

    Args:
        model: any artifact `load_predictor` takes (run directory, `.keras`, SavedModel, TF Serving URL), or a
            loaded `TrainedModel` / `Predictor`. A path is loaded once and kept until another path is given: a
            process that alternates two models by path loads each again at every switch (TensorFlow keeps about
            100 MB of every SavedModel loaded: 140 MB more a switch, measured), so load each
            with `load_predictor` once and pass the predictors.
        video: a video file PyAV can read, a folder of PNG or JPEG frames (docs/serving.md#predict), or uint8 frames
            (N, H, W, 3) RGB; any size and length.
        query: one sentence → one `PredictionResult`.
        queries: several sentences, segmented together (the clip encoded once for all) → one `PredictionResult`
            per sentence, in order. Give `query` or `queries`, not both.
        batch_size: clips per forward pass.
        fps: frame rate to record (default: the file's, or 24 for arrays).
        progress: called after each frame with the frames it adds to the count, 1 (tqdm's `update`: an increment,
            not a running total).
        sample_aspect: the aspect of an array's pixels where they are not square (a file's is read from its
            container): the model sees the frames as players show them, the masks keep the stored size (`iter_masks`).
        smooth_edges: masks thresholded at the frame's size, edges following the probabilities (`iter_masks`).
        probabilities: keep σ(logits) of every pixel (float32: four bytes a pixel beside the mask's one); False: the
            masks alone (60 frames of 720p: 134 MB at the peak against 563 MB with them, measured; a minute of
            1080p at 25 fps holds 12 GB of probabilities).

    Returns:
        `PredictionResult` (masks uint8 (N, H, W), probabilities float32 (N, H, W) or None, fps), or a list of them.

    Raises:
        ValueError: no or an empty query, a query without a vocabulary word, a bad batch size or array, a model
            that is not RGB-only, or an unreadable video (`DataError`).
        TypeError: a model that is neither a path nor a loaded one (the `ACGA` model in hand), a query that is not
            text (a list given as `query`), or bytes or a file object in place of the video.
        FileNotFoundError: the model is missing or incomplete.
    """
    if (query is None) == (queries is None):
        raise ValueError("give query (one sentence) or queries (a list of sentences), not both" if query is not None
                         else "no sentence: give query (one sentence) or queries (a list of sentences)")
    sentences = [query] if queries is None else as_sentences(queries)
    batch_size = positive_int("batch_size", batch_size)
    if not isinstance(probabilities, bool):  # ("no" was taken for True)
        raise InputTypeError(f"probabilities={probabilities!r}: True or False")
    check_fps(fps)
    info = video_info(video) if isinstance(video, (str, os.PathLike)) else VideoInfo()  # one read of the container
    decoded = []  # a file's frame times, as its frames are decoded (for `to_dict`)
    frames, fps = open_frames(video, fps or info.fps, decoded)
    aspect = _pixel_aspect(sample_aspect, info.sample_aspect)
    predictor = load_predictor(model)
    sentences = check_queries(predictor, sentences)
    masks, probs, scores = [], [], []
    for item in iter_masks(predictor, frames, sentences, batch_size=batch_size, probabilities=probabilities,
                           sample_aspect=aspect, smooth_edges=smooth_edges):
        masks.append(item.masks)
        probs.append(item.probabilities)
        scores.append(item.scores)
        if progress is not None:
            progress(1)
    masks = np.stack(masks, axis=1)  # (Q, N, H, W)
    probs = np.stack(probs, axis=1) if probabilities else [None] * len(sentences)
    scores = np.stack(scores, axis=1) if scores and scores[0] is not None else [None] * len(sentences)  # (Q, N)
    own = isinstance(video, (str, os.PathLike)) and os.path.isfile(video) and len(decoded) == masks.shape[1]
    times = tuple(t - decoded[0] for t in decoded) if own and None not in decoded else None  # from frame 0's
    results = [PredictionResult(masks=m, probabilities=p, fps=fps, query=q, times=times, scores=k)
               for m, p, q, k in zip(masks, probs, sentences, scores)]
    return results[0] if queries is None else results


# === Writing results ===
def overlay_color_name(k: int) -> str:
    """The name of `overlay_color(k)`, for the lines that pair sentences with colours in text."""
    return OVERLAY_PALETTE[k % len(OVERLAY_PALETTE)][0]


def overlay_color(k: int) -> tuple[int, int, int]:
    """The overlay colour of sentence k (zero-based)."""
    return OVERLAY_COLORS[k % len(OVERLAY_COLORS)]


@functools.lru_cache(maxsize=64)
def _blend_table(value: float, alpha: float) -> np.ndarray:
    """uint8 (256,): rint((1 − α)·x + α·value) for every channel value x (a table, no float image)."""
    return np.rint((1.0 - alpha) * np.arange(256) + alpha * value).clip(0, 255).astype(np.uint8)


def _blend(frames: np.ndarray, layers, alpha: float) -> np.ndarray:
    """uint8 (..., H, W, 3) frames with each `(bool mask (..., H, W), colour)` of `layers` blended in, in order. Only
    the masked pixels are looked up and written: each channel of the whole frame took 20 ms of a 1080p frame's 66 in
    `acga predict --output`, where a mask covers a few percent of it (benchmarks/postprocess.py)."""
    out = np.array(frames, order="C", copy=True)  # C order, so that `pixels` is a view of it, pixel i its row i
    pixels = out.reshape(-1, 3)  # (of a transposed frame's copy, a copy: the colours went into it and were lost)
    for mask, color in layers:
        where = np.flatnonzero(mask)
        if 2 * len(where) > np.size(mask):  # most of the frame: every pixel looked up (cheaper there than taking
            inside = np.asarray(mask, bool).reshape(-1)  # the pixels apart)
            for c, value in enumerate(color):
                pixels[:, c] = np.where(inside, _blend_table(float(value), alpha)[pixels[:, c]], pixels[:, c])
            continue
        picked = pixels.take(where, axis=0)  # (masked pixels, 3)
        for c, value in enumerate(color):
            picked[:, c] = _blend_table(float(value), alpha).take(picked[:, c])
        pixels[where] = picked
    return out


def overlay_frames(frames: np.ndarray, masks: np.ndarray, color=OVERLAY_COLOR, alpha: float = OVERLAY_ALPHA
                   ) -> np.ndarray:
    """Blends `color` into the masked pixels: uint8 (N, H, W, 3) frames and (N, H, W) masks → uint8 (N, H, W, 3).

    Raises:
        ValueError: the frames and masks differ in number or size.
    """
    color, alpha = overlay_rgb(color), _overlay_alpha(alpha)
    frames, masks = np.asarray(frames), np.asarray(masks)
    _check_frames_of(frames, masks.shape)
    return _blend(frames, [(masks.astype(bool), color)], alpha)


def _check_frames_of(frames: np.ndarray, masks_shape: tuple[int, ...]) -> None:
    """Raises a ValueError where (N, H, W, 3) frames are not those of (N, H, W) masks."""
    if frames.shape[:3] != tuple(masks_shape):
        raise ValueError(f"frames {frames.shape} and masks {tuple(masks_shape)} differ in number or size")


def overlay_rgb(color) -> tuple[int, int, int]:
    """An overlay colour as (r, g, b) in 0..255: given so, or by a name or `#rrggbb` as Pillow reads them
    (`PIL.ImageColor`: "red", "#d55e00").

    Raises:
        ValueError: anything else (`color="red"` was read a letter at a time: "could not convert string to float").
    """
    if isinstance(color, str):
        try:
            rgb = ImageColor.getrgb(color)
        except ValueError:
            raise ValueError(f"color={color!r}: not a colour Pillow knows by name or #rrggbb") from None
        if len(rgb) != 3:  # ("#ff000080": its opacity was dropped without a word)
            raise ValueError(f"color={color!r}: a colour without its opacity (#rrggbb); alpha= sets how much of it "
                             "covers a masked pixel")
        return rgb
    values = list(color) if isinstance(color, (list, tuple, np.ndarray)) else None
    if (values is None or len(values) != 3 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                                       and 0 <= v <= 255 for v in values)):
        raise ValueError(f"color={color!r}: an (r, g, b) of numbers in 0..255, a colour name or #rrggbb, expected")
    if all(v <= 1 for v in values) and any(v > 0 for v in values) and (  # (Matplotlib's 0..1: all but black)
            any(v != int(v) for v in values) or all(isinstance(v, (float, np.floating)) for v in values)):
        raise ValueError(f"color={color!r}: an (r, g, b) in 0..255, not 0..1 as Matplotlib's: "
                         "tuple(round(255 * v) for v in color)")
    return tuple(int(round(v)) for v in values)


def _overlay_alpha(alpha) -> float:
    """`alpha` as a float in [0, 1] (1.5 was taken: the masked pixels pushed past the colour, to its extremes)."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha!r}: how much of the colour covers a masked pixel, a number in [0, 1]")
    return float(alpha)


LEGEND_FONT_SIZE = 11  # pixels: the legend's glyphs, 14 pixels a line with the gap (times `legend_scale`)
LEGEND_FONTS_SEARCHED = 200  # the fonts looked through for glyphs the first lacks (a desktop has hundreds)
LEGEND_FRAME_STEP = 360  # pixels of the frame's shorter side for each step of the legend's size


def legend_scale(width: int, height: int | None = None) -> int:
    """How many times its smallest size the legend is drawn: 1 up to 719 pixels on the frame's shorter side, 2 on a
    720p frame, 3 on 1080p, 6 on 4K (11 pixels of text were unreadable on a phone's 1080 × 1920 video)."""
    return max(1, min(width, height or width) // LEGEND_FRAME_STEP)


def legend(queries: Sequence[str], width: int, height: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The overlay's legend: each sentence next to a swatch of its colour, on a dark translucent box no wider than
    `width` pixels. A sentence wider than that goes on over more lines (`_wrapped`); where the frame is too narrow for
    a line of a few letters, or its `height` holds fewer lines than the sentences need, a warning says what is cut;
    past the palette's seven colours, a warning says which sentences share one.
    Each sentence is drawn in a font that has its characters (`legend_font`), shaped where Pillow has libraqm (Arabic
    joined, right to left), after its number; a character no font here has is drawn as a box, with a warning.

    Returns:
        (uint8 (h, w, 3) pixels, float32 (h, w, 1) opacity).
    """
    if len(queries) > len(OVERLAY_PALETTE):  # (an eighth sentence's masks were vermillion as the first's, unsaid)
        shared = ", ".join(f"{k + 1} with {k % len(OVERLAY_PALETTE) + 1}"
                           for k in range(len(OVERLAY_PALETTE), min(len(queries), 3 * len(OVERLAY_PALETTE))))
        logger.warning("the overlay has %d sentences and %d colours: sentences share colours (%s%s); the legend's "
                       "numbers and each sentence's own masks tell them apart", len(queries), len(OVERLAY_PALETTE),
                       shared, ", ..." if len(queries) > 3 * len(OVERLAY_PALETTE) else "")
    u = legend_scale(width, height)  # pixels a unit: the legend grows with the frame
    line, min_room = (LEGEND_FONT_SIZE + 3) * u, LEGEND_MIN_ROOM * u
    numbers = [f"{k + 1}. " for k in range(len(queries))]  # drawn apart: a right-to-left sentence moved "1." after it
    fonts, missing = [], []
    for query in queries:
        path, lacking = legend_font(query)
        fonts.append(ImageFont.truetype(path, LEGEND_FONT_SIZE * u) if path
                     else ImageFont.load_default(LEGEND_FONT_SIZE * u) if u > 1 else ImageFont.load_default())
        missing += lacking
    if missing:  # (else Pillow's default font draws every letter outside ASCII as a box, without a word)
        named = " ".join(c if c.isprintable() and unicodedata.category(c)[0] != "M" else f"U+{ord(c):04X}"
                         for c in dict.fromkeys(missing))
        logger.warning("the overlay's legend has no font with a glyph for %s: drawn as a box (install a font that "
                       "has them, such as Noto Sans CJK for Chinese and Japanese)", named)
    number_width = max(int(np.ceil(fonts[0].getlength(number))) for number in numbers)
    room = width - 18 * u - number_width - 4 * u  # the text's pixels a line
    # (else a sentence wider than the frame is cut at its edge without a word)
    lines = [_wrapped(query, font, room, min_room) for font, query in zip(fonts, queries)]
    if height is not None and 4 * u + line * sum(map(len, lines)) > height:  # the sentences' swatches come first
        lines = [[query] for query in queries]
    if (cut := [k for k, (font, wrapped) in enumerate(zip(fonts, lines)) if font.getlength(wrapped[0]) > room]):
        lines = [[_cut(wrapped[0], font, room)] if k in cut else wrapped
                 for k, (font, wrapped) in enumerate(zip(fonts, lines))]
        why = (f"the frame is {width} pixels wide" if room < min_room
               else f"the frame is {height} pixels high, too low for more lines")
        logger.warning("the overlay's legend cuts sentence%s %s to a line: %s (the summary gives %s whole)",
                       "s" if len(cut) > 1 else "", ", ".join(str(k + 1) for k in cut), why,
                       "them" if len(cut) > 1 else "it")
    ends = np.cumsum([len(wrapped) for wrapped in lines])  # each sentence's last line, counted from 1
    # a frame too low for every sentence's lines says so (9 sentences on a 64-pixel video, say)
    if height is not None and (shown := int(np.sum(ends <= max(0, (height - 4 * u) // line)))) < len(queries):
        logger.warning("the overlay's legend shows %d of the %d sentences whole: the frame is %d pixels high (each "
                       "sentence's masks are whole; the summary names the colours)", shown, len(queries), height)
    text_width = max(int(np.ceil(font.getlength(text))) for font, wrapped in zip(fonts, lines) for text in wrapped)
    size = (min(width, 18 * u + number_width + text_width + 4 * u), 4 * u + line * int(ends[-1]))
    rgba = Image.new("RGBA", size, (0, 0, 0, 150))
    draw = ImageDraw.Draw(rgba)
    for k, (font, number, wrapped, end) in enumerate(zip(fonts, numbers, lines, ends)):
        y = 3 * u + line * int(end - len(wrapped))
        draw.rectangle([3 * u, y + u, 13 * u, y + 11 * u], fill=overlay_color(k) + (255,))
        draw.text((18 * u, y), number, fill=(255, 255, 255, 255), font=fonts[0])
        for i, text in enumerate(wrapped):
            draw.text((18 * u + number_width, y + line * i), text, fill=(255, 255, 255, 255), font=font)
    pixels = np.asarray(rgba, np.float32)
    return pixels[..., :3].astype(np.uint8), pixels[..., 3:] / 255.0


LEGEND_MIN_ROOM = 3 * LEGEND_FONT_SIZE  # pixels: a narrower legend line is cut, not broken into lines of a letter


def _wrapped(text: str, font, room: int, min_room: int = LEGEND_MIN_ROOM) -> list[str]:
    """`text` in lines no wider than `room` pixels, broken at spaces, inside a word only where the word alone is wider
    (Chinese and Japanese write no spaces); `[text]` where `room` is under `min_room`."""
    if room < min_room or font.getlength(text) <= room:
        return [text]
    lines, current = [], ""
    for word in text.split():
        joined = f"{current} {word}" if current else word
        if font.getlength(joined) <= room:
            current = joined
            continue
        if current:
            lines.append(current)
        while len(word) > 1 and font.getlength(word) > room:  # the longest start of it that fits, a letter at least
            cut = next((k for k in range(len(word) - 1, 0, -1) if font.getlength(word[:k]) <= room), 1)
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    return lines + [current] if current else lines


def _cut(text: str, font, room: int) -> str:
    """The longest start of `text` that fits `room` pixels with "…" after it ("…" alone where nothing does)."""
    for k in range(len(text) - 1, 0, -1):
        if font.getlength(text[:k].rstrip() + "…") <= room:
            return text[:k].rstrip() + "…"
    return "…"


def legend_font(text: str) -> tuple[str | None, list[str]]:
    """(the font file to draw `text` with, the characters of it that font lacks): Matplotlib's DejaVu Sans (Latin,
    Greek, Cyrillic, Arabic, Hebrew, ...; installed with Matplotlib) where it has them all, else the first of the
    machine's fonts Matplotlib knows that has them (Noto Sans CJK, say), else the one that lacks the fewest; (None,
    the characters outside ASCII) where Pillow can draw with none of them (a Pillow built without FreeType)."""
    needed = list(dict.fromkeys(c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf")))
    best = (None, [c for c in needed if not c.isascii()])  # (ZWJ, ZWNJ and such draw nothing; in the text's order)
    for path in _legend_font_files():
        lacking = [c for c in needed if ord(c) not in _font_characters(path)]
        if not lacking:
            return path, []
        if best[0] is None or len(lacking) < len(best[1]):
            best = (path, lacking)
    return best


@functools.lru_cache(maxsize=1)
def _legend_font_files() -> tuple[str, ...]:
    """DejaVu Sans first, then the machine's other fonts that Pillow draws at the legend's size (an emoji font of
    fixed-size bitmaps is not one)."""
    from matplotlib import font_manager  # noqa: PLC0415 (Matplotlib's font list: only for an overlay's legend)

    first = str(font_manager.findfont("DejaVu Sans", fallback_to_default=True))  # (a str subclass since 3.11)
    # (not Matplotlib's "Last Resort" font: its glyph for every character is a box naming the character's block)
    paths = [first] + sorted({entry.fname for entry in font_manager.fontManager.ttflist
                              if "lastresort" not in os.path.basename(entry.fname).lower()} - {first})
    usable = []
    for path in paths[:LEGEND_FONTS_SEARCHED]:
        try:
            ImageFont.truetype(path, LEGEND_FONT_SIZE)
        except (OSError, ImportError):  # (ImportError: a Pillow without FreeType draws with none)
            continue
        usable.append(path)
    return tuple(usable)


@functools.lru_cache(maxsize=None)
def _font_characters(path: str) -> frozenset[int]:
    """The code points a font file has glyphs for (its character map)."""
    from matplotlib import ft2font  # noqa: PLC0415 (as above)

    try:
        return frozenset(ft2font.FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


def overlay_frame(frame: np.ndarray, masks: np.ndarray, key: tuple[np.ndarray, np.ndarray] | None = None,
                  alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """One uint8 (H, W, 3) frame with its (Q, H, W) masks blended in, sentence k in `overlay_color(k)`, and the
    `legend` (if given) in the top-left corner."""
    out = _blend(np.asarray(frame), [(np.asarray(m).astype(bool), overlay_color(k)) for k, m in enumerate(masks)],
                 alpha)
    if key is not None:
        pixels, opacity = key
        h, w = min(pixels.shape[0], out.shape[0]), min(pixels.shape[1], out.shape[1])
        corner = out[:h, :w].astype(np.float32)
        out[:h, :w] = np.rint(corner * (1 - opacity[:h, :w]) + pixels[:h, :w] * opacity[:h, :w]).astype(np.uint8)
    return out


def gif_durations(times: Sequence[float]) -> list[int]:
    """Milliseconds each GIF frame lasts, for frames shown at `times` (seconds) and the end at `times[-1]`'s successor.

    GIF stores centiseconds: each frame starts at its time rounded to them, so the rounding does not add up (a 1/30 s
    frame rounded alone lasted 30 ms, and a GIF of a 30 fps video played 11% fast). Viewers slow frames under 20 ms
    down to 100 ms, so none is shorter: above 50 fps a GIF plays slower than its video (an MP4 keeps its timing).
    """
    out, start = [], round(times[0] * 100)
    for time in times[1:]:
        end = max(start + 2, round(time * 100))
        out.append(10 * (end - start))
        start = end
    return out


def overlay_format(path: str) -> str:
    """The overlay format of `path`: ".mp4", ".gif", or ".png" for one frame's (`OVERLAY_STILL`).

    Raises:
        ValueError: another extension.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in (*OVERLAY_FORMATS, OVERLAY_STILL):
        raise ValueError(f"{path}: unsupported overlay format {ext or '(none)'!r}, expected one of "
                         f"{', '.join(OVERLAY_FORMATS)} or {OVERLAY_STILL} (one frame)")
    return ext


@contextlib.contextmanager
def _naming(path: str) -> Iterator[None]:
    """An OSError with an errno raised inside (a full disk) is raised again naming `path`, the file being written:
    Pillow's save names no file, and PyAV's error names the temporary file (`path` + ".tmp")."""
    try:
        yield
    except OSError as e:
        if e.errno is None or e.filename == path:
            raise
        raise OSError(e.errno, e.strerror, path) from e


def _one_frame_only(path: str) -> InputError:
    """The refusal of a PNG overlay (one frame) of a video that has more, where no count says how many."""
    return InputError(f"{path}: a PNG overlay holds one frame, and the video has more: segment one frame "
                      f"({option('--start', 'start')} and {option('--end', 'end')}), or write an .mp4 or .gif")


def _two_frames_from(path: str, first: int) -> bool:
    """Whether a video file has two frames from frame `first` on, decoded to tell (not converted to pixels): a stream
    that declares neither its frame count nor its frames' times (raw H.264) can be counted no other way, and a PNG
    overlay of more than one frame is refused before any work (docs/serving.md#mattes-and-cut-outs). Its errors are
    the run's to report (False)."""
    frames = iter_video_frames(path, damaged="skip", start=first, wanted=lambda _: False)
    try:
        return sum(1 for _ in itertools.islice(frames, 2)) == 2
    except DataError:
        return False
    finally:
        frames.close()


class OverlayWriter:
    """Writes overlay frames one at a time: MP4 streams through PyAV; a GIF (Pillow) keeps its frames until
    `close` (GIFs are for short clips). An MP4 keeps an anamorphic source's `sample_aspect` (a GIF cannot store one).

    The file is written under a temporary name beside `path` (`path` + ".tmp") and renamed to `path` by `close`;
    `discard` removes it instead. So a run that fails or is interrupted leaves no half overlay at `path`, and an
    earlier file there as it was. An OSError while writing (a full disk) names `path` (`_naming`).

    With `audio` (the source video's path), an MP4 gets the source's sound for the frames written (from the first
    frame's time until the last one's end; `audio_start` seconds where the frames have no times), as AAC; a source
    without sound, or sound FFmpeg cannot decode, gives the picture alone (the latter with a warning).
    """

    def __init__(self, path: str, fps: float, sample_aspect: fractions.Fraction | None = None, *,
                 audio: str | None = None, audio_start: float = 0.0, lock: files.WriteLock | None = None):
        self.path, self.fps, self.count = files.output_path(os.fspath(path))[0], fps, 0  # (a link: written through,
        # kept; a reviewer's link was replaced with a file)
        self.audio, self.times_written = audio, [audio_start, None]
        self.ext = overlay_format(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.temporary = self.path + files.TEMPORARY_SUFFIX
        # another run writing `path` now is refused here (`lock`: the caller took it, on the temporary file)
        self.lock = lock or files.WriteLock(self.temporary, self.path)
        try:
            with _naming(self.path):
                self.mp4 = (Mp4Writer(self.temporary, fps, MP4_OPTIONS, sample_aspect, name=self.path)
                            if self.ext == ".mp4" else None)
        except BaseException:
            self.lock.release()
            raise
        self.images: list[Image.Image] = []
        self.times: list[float | None] = []

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Adds one frame; `time` (seconds), where known, keeps a variable frame rate's timing (`Mp4Writer`)."""
        if self.mp4 is not None:
            with _naming(self.path):
                self.mp4.write(image, time)
            if time is not None:  # the first frame's and the last one's, for the audio
                self.times_written = [time if self.count == 0 else self.times_written[0], time]
        else:
            if self.ext == OVERLAY_STILL and self.images:  # frames that no count foresaw (`predict_to_files` counts
                raise _one_frame_only(self.path)  # them before any work)
            self.images.append(Image.fromarray(image))
            self.times.append(time)
        self.count += 1

    def close(self) -> None:
        """Finishes the file (a GIF's frames are all saved here) and renames it to `path`; after a failure, call
        `discard`."""
        with _naming(self.path):
            if self.mp4 is not None:
                self.mp4.close()
                if self.audio is not None and self.count and self.mp4.cut:  # frames moved earlier: the sound, at
                    logger.warning("%s: the sound is left out: frames were moved earlier to shorten a gap between "
                                   "them (the warning above), and the sound would run late after it", self.path)
                elif (self.audio is not None and self.count and has_sound(self.audio)
                      and (frame := times_start_again(self.audio))):
                    # (its sound's times start again there too: the overlay had the first stream's sound alone)
                    logger.warning("%s: the sound is left out: the video's times start again at frame %d (streams "
                                   "joined end to end), and its sound would not follow the frames", self.path, frame)
                elif self.audio is not None and self.count:  # its own times, would not follow them
                    self._add_audio()
            elif self.images and self.ext == OVERLAY_STILL:
                self.images[0].save(self.temporary, format="PNG")
            elif self.images:
                self.images[0].save(self.temporary, format="GIF", save_all=True, append_images=self.images[1:],
                                    duration=self._gif_durations(), loop=0)
            if self.mp4 is not None or self.images:
                os.replace(self.temporary, self.path)
            else:  # a GIF of no frame: nothing to write (the temporary file is the lock's, empty)
                os.remove(self.temporary)
        self.lock.release()
        logger.info("wrote %d overlay frames to %s", self.count, self.path)

    def _add_audio(self) -> None:
        """Muxes the source's sound, if it has any, into the written MP4 (`add_audio`), in a second temporary file."""
        start, last = self.times_written
        end = (last if last is not None else start + (self.count - 1) / self.fps) + 1 / self.fps
        with_audio = self.temporary + ".audio" + files.TEMPORARY_SUFFIX
        try:
            if not add_audio(self.temporary, self.audio, with_audio, start, end):
                return  # no sound: the picture alone, as it is
        except BaseException as e:
            with contextlib.suppress(FileNotFoundError):
                os.remove(with_audio)
            # PyAV's errno errors (a full disk) are OSErrors, raised for `_naming` to name the file
            if isinstance(e, OSError):
                e.add_note("while adding the video's sound (--no-audio writes the picture alone)")
            if not isinstance(e, (av.FFmpegError, ValueError)) or isinstance(e, OSError):
                raise
            logger.warning("%s: written without the video's sound, which could not be copied (%s)", self.path, e)
            return
        os.replace(with_audio, self.temporary)

    def _gif_durations(self) -> list[int]:
        """Each frame's GIF duration (`gif_durations`): until the next frame's time where every frame has one, else
        at 1 / fps from the first; the last frame lasts 1 / fps."""
        if None in self.times:
            times = [k / self.fps for k in range(len(self.images) + 1)]
        else:
            times = [float(t) for t in self.times] + [float(self.times[-1]) + 1.0 / self.fps]
        return gif_durations(times)

    def discard(self) -> None:
        """Removes what was written; `path` is left as it was."""
        if self.mp4 is not None:
            self.mp4.abandon()  # the encoder or the disk may be what failed
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.temporary)
        self.lock.release()


MASKS_JSON_FORMAT, MASKS_JSON_VERSION = "acga-tf masks", 1  # the masks JSON's first two fields


def masks_json_header(predictor: Predictor, video, queries: Sequence[str], fps: float) -> dict:
    """The masks JSON's header before the frame size (docs/serving.md#masks-as-json): its format and version, the
    model (`{"weights": Predictor.weights()}`), the video's file or folder name (not its path: a service's upload
    folder is not the client's business), the sentences and the rate."""
    name = os.path.basename(os.path.normpath(os.fspath(video))) if isinstance(video, (str, os.PathLike)) else None
    return {"format": MASKS_JSON_FORMAT, "format_version": MASKS_JSON_VERSION,
            "model": {"weights": predictor.weights()}, "video": name, "queries": list(queries), "fps": fps}


class MasksJsonWriter:
    """Writes `acga predict --output-json`'s file a frame at a time (docs/serving.md#masks-as-json): `{"format",
    "format_version", "model", "video", "queries", "fps", "width", "height", "frames": [FrameMasks.to_dict(time),
    ...]}` (`header`, then the first frame's size), one line a frame, so memory does not grow with the video's
    length; a path ending in `.jsonl` gets JSON Lines, that header (without "frames") on the first line, then one
    frame's object a line. A frame's `file` (a folder of frames: the frame's own file name) follows its number.

    As `OverlayWriter`: written under `path` + ".tmp" and renamed by `close`, removed by `discard` (a failed run
    leaves no half file, an earlier file as it was); another run writing `path` now is refused (`files.WriteLock`);
    an OSError names `path`. Standard output, a pipe or a device is written into as it is (`files.output_path`).
    """

    def __init__(self, path: str, header: dict):
        self.path, self.header, self.count = os.fspath(path), header, 0
        self.lines = self.path.lower().endswith(".jsonl")  # JSON Lines
        self.target, self.in_place = files.output_path(self.path)
        self.temporary = self.target if self.in_place else self.target + files.TEMPORARY_SUFFIX
        self.lock = None
        with _naming(self.path):
            if not self.in_place:
                os.makedirs(os.path.dirname(os.path.abspath(self.target)), exist_ok=True)
                self.lock = files.WriteLock(self.temporary, self.path)
            try:
                self.file = open(self.temporary, "w", encoding="utf-8", errors="backslashreplace")
            except BaseException:
                if self.lock is not None:
                    self.lock.release()
                raise

    def write(self, item: FrameMasks, time: float | None = None, file: str | None = None) -> None:
        """Adds one frame's masks (its size and the sentences go in the header, before the first); `file`: the
        frame's file name, for a folder of frames."""
        with _naming(self.path):
            if self.count == 0:
                h, w = item.frame.shape[:2]
                header = json.dumps({**self.header, "width": w, "height": h}, ensure_ascii=False)
                self.file.write(header + "\n" if self.lines else header[:-1] + ', "frames": [\n')
            elif not self.lines:
                self.file.write(",\n")
            record = item.to_dict(time)
            if file is not None:
                record = {"frame": record.pop("frame"), "file": file, **record}
            self.file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n" * self.lines)
        self.count += 1

    def close(self) -> None:
        """Finishes the file and renames it to `path`; after a failure, call `discard`."""
        with _naming(self.path):
            if self.lines and self.count == 0:  # no frame: the header alone
                self.file.write(json.dumps(self.header, ensure_ascii=False) + "\n")
            elif not self.lines:
                if self.count == 0:
                    self.file.write(json.dumps({**self.header, "frames": []}, ensure_ascii=False)[:-2])
                self.file.write("\n]}\n")
            self.file.close()
            if not self.in_place:
                os.replace(self.temporary, self.target)
        if self.lock is not None:
            self.lock.release()
        logger.info("wrote the masks of %d frames to %s", self.count, self.path)

    def discard(self) -> None:
        """Removes what was written; `path` is left as it was."""
        with contextlib.suppress(OSError):
            self.file.close()  # the disk may be what failed
        if not self.in_place:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.temporary)
        if self.lock is not None:
            self.lock.release()


def write_overlay(result: PredictionResult | Sequence[PredictionResult], frames, path: str, *, color=None,
                  alpha: float = OVERLAY_ALPHA, audio: bool = True) -> str:
    """Writes the frames with the masks blended in, as MP4 (PyAV) or GIF (Pillow) by `path`'s extension.

    Args:
        result: from `predict`: one result, drawn in `color`; or the list `predict(..., queries=...)` gives, each
            sentence in its colour of the palette with a legend, as `acga predict --output` draws several.
        frames: the video's uint8 (N, H, W, 3) frames, or its path (decoded again; an MP4 keeps an anamorphic
            video's pixel aspect).
        path: `*.mp4` or `*.gif`; odd-sized MP4s get their last row/column repeated (yuv420p needs even sizes).
        color: one result's colour (`overlay_rgb`: (r, g, b), a name or #rrggbb); None: the palette's first.
        alpha: how much of the colour covers a masked pixel, in [0, 1].
        audio: an MP4 of a video file's frames keeps the file's sound (`OverlayWriter`); False: the picture alone.

    Returns:
        `path`.

    Raises:
        ValueError: another extension, frames that do not match the result, results of other videos, a colour or
            alpha out of range, or `color` with several results.
        TypeError: `result` is not a result or a list of them.
    """
    if isinstance(result, (list, tuple)) and not result:
        raise ValueError("result is an empty list: no sentence's result to draw")
    results = ([result] if isinstance(result, PredictionResult) else list(result)
               if isinstance(result, (list, tuple)) and all(isinstance(r, PredictionResult) for r in result) else None)
    if results is None:  # (a list was "'list' object has no attribute 'masks'")
        raise InputTypeError(f"result is {type(result).__name__}: give what predict returns, a PredictionResult or "
                             "the list of them for several queries")
    if len(results) > 1 and color is not None:
        raise ValueError("color= colours one result; several are drawn in the palette's colours, one a sentence")
    first = results[0]
    for other in results[1:]:  # results of one video: the overlay's frames, rate and times are the first one's
        for what, mine, theirs in (("masks", first.masks.shape, other.masks.shape), ("rates", first.fps, other.fps),
                                   ("frame times", _times_key(first.times), _times_key(other.times))):
            if mine != theirs:
                shown = (mine, theirs) if what != "frame times" else ("one", "another")
                raise ValueError(f"the results' {what} differ: {shown[0]} for {quoted(first.query)}, {shown[1]} for "
                                 f"{quoted(other.query)} (results of one video, from one predict, expected)")
    color = overlay_rgb(OVERLAY_COLOR if color is None else color)
    alpha = _overlay_alpha(alpha)
    overlay_format(path)
    source = os.fspath(frames) if isinstance(frames, (str, os.PathLike)) else None
    aspect = video_info(source).sample_aspect if source else None
    times = []  # a file's frame times: the overlay keeps them (a variable frame rate), and its sound starts there
    decoded, _ = open_frames(frames, None, times)
    frames = np.stack(list(decoded))
    if len(results) == 1:
        blended = overlay_frames(frames, results[0].masks, color, alpha)
    else:
        _check_frames_of(frames, first.masks.shape)
        key = legend([r.query for r in results], frames.shape[2], frames.shape[1])
        masks = np.stack([r.masks for r in results], axis=1)  # (N, Q, H, W)
        blended = (overlay_frame(frame, masks[k], key, alpha) for k, frame in enumerate(frames))
    writer = OverlayWriter(path, first.fps, aspect, audio=source if audio else None)
    try:
        for k, image in enumerate(blended):
            writer.write(image, times[k] if k < len(times) else None)
        writer.close()  # a GIF is saved here: a failure leaves no temporary file either
    except BaseException:
        writer.discard()
        raise
    return os.fspath(path)


def _times_key(times) -> tuple[float, ...] | None:
    """A result's frame times, comparable whatever sequence holds them (a list or an array made by hand)."""
    return None if times is None else tuple(float(t) for t in times)


def mask_png(directory: str, index: int, names: Sequence[str] | None = None) -> str:
    """`<directory>/<i:05d>.png`, i = index + 1 (J-HMDB's 1-based frame naming), or `names[index]` for a folder of
    frames (`mask_png_names`)."""
    return os.path.join(directory, names[index] if names else f"{index + 1:05d}.png")


def mask_png_names(video) -> list[str] | None:
    """The mask PNGs' names of a folder of frames, each its frame's: frame `00000.jpg`'s mask is `00000.png` (DAVIS
    and YouTube-VOS number from 0, J-HMDB and FFmpeg's `%05d.png` from 1: numbered from 1 whatever the frames' names,
    a DAVIS folder's masks were one frame off its own), photo `IMG_2041.JPG`'s `IMG_2041.png` (they were `00001.png`,
    ... in reading order, with nothing to tell which photo each was). None for a video file or an array: their masks
    are `00001.png`, ... (`mask_png`)."""
    if not isinstance(video, (str, os.PathLike)) or not os.path.isdir(video):
        return None
    return _mask_names(frame_files(os.fspath(video))[0])


def _mask_names(frame_names: Sequence[str]) -> list[str] | None:
    """A folder's frames' names → their masks' (`mask_png_names`)."""
    return [f"{os.path.splitext(name)[0]}.png" for name in frame_names] or None


def write_mask_png(path: str, mask: np.ndarray, soft: bool = False) -> None:
    """One (H, W) mask as a PNG with pixels 0 / 255, or, `soft`, uint8 grey levels as they are (`soft_mask`'s),
    written atomically (`files.atomic_path`): a write that fails (a full disk) leaves no file, and its OSError names
    `path`."""
    image = Image.fromarray(np.asarray(mask, np.uint8) if soft else (np.asarray(mask) > 0).astype(np.uint8) * 255)
    with _naming(path), files.atomic_path(path, sync=False) as temporary:  # (a run goes on from the last whole one)
        image.save(temporary, format="PNG")


def soft_mask(probability: np.ndarray) -> np.ndarray:
    """σ(logits) at the frame's size, `(..., H, W)` → uint8 grey levels, round(255 × p): a soft matte
    (docs/serving.md#soft-masks)."""
    return np.round(np.clip(np.asarray(probability, np.float32), 0.0, 1.0) * 255).astype(np.uint8)


def write_mask_frames(result: PredictionResult, directory: str) -> list[str]:
    """Writes one PNG per frame, `<directory>/<i:05d>.png` with i 1-based (J-HMDB's frame naming), pixels 0 / 255.

    Returns:
        The paths, in frame order.
    """
    os.makedirs(directory, exist_ok=True)
    paths = []
    for i, mask in enumerate(result.masks):
        paths.append(mask_png(directory, i))
        write_mask_png(paths[-1], mask)
    logger.info("wrote %d mask PNGs to %s", len(paths), directory)
    return paths


# === acga predict: streaming to files ===
def check_outputs(video, output: str | None, frames_dir: str | None, queries: int = 1,
                  flags: tuple[str, str] | None = None, own: Collection[str] | None = None,
                  output_json: str | None = None, inputs: Sequence[tuple[str, str]] = ()) -> None:
    """Checks the output paths before any work (docs/serving.md#predict).

    A frames folder may hold what an earlier run wrote there, for any number of sentences (mask PNGs, or numbered
    folders of them and `queries.txt`): `predict_to_files` replaces it.

    `flags`: the settings that named the overlay and the frames folder, as messages name them (default: `output` and
    `frames_dir`, the command's `--output` and `--frames-dir`: `options.option`; `--list`'s are both under
    `--output-dir`). `own`: the names of a frames folder's masks (`mask_png_names`), where the caller has them.
    `output_json`: the masks' JSON file (`predict_to_files`). `inputs`: what else is read, (path, what it is), as
    `files.check_not_input` takes them: the model's files (`artifacts.model_inputs`), which no output may replace.

    Raises:
        ValueError: an output that is the input video or one of `inputs`; an overlay that is not .mp4/.gif, is an
            existing folder, or is a
            write-protected file; a frames folder that is a file, holds other files (a numbered folder's included) or
            write-protected mask PNGs of an earlier run; a JSON file that is a folder or write-protected; a path
            under a file; two paths the same.
    """
    # by the files they name: an output that is a link is written through (`files.output_path`), so a link to the
    # video given as --output would have replaced the video
    video_path = os.path.realpath(os.fspath(video)) if isinstance(video, (str, os.PathLike)) else None
    output_flag, frames_flag = flags or output_flags()
    json_flag = option("--output-json", "output_json")
    named = {}  # each output's file: two the same are refused
    read = [*([(video_path, "the input video")] if video_path is not None else []), *inputs]
    for flag, path in ((output_flag, output), (frames_flag, frames_dir), (json_flag, output_json)):
        if path is None:
            continue
        files.check_not_input(path, read, flag)
        if (video_path is not None and os.path.isdir(video_path) and flag != frames_flag
                and os.path.splitext(os.path.realpath(path))[1].lower() in FRAME_EXTENSIONS
                and os.path.dirname(os.path.realpath(path)) == video_path):  # a security tester's `--output
            # frames/00003.png` replaced input frame 3 with frame 1's overlay; by the file it names (an output that
            # is a link is written through: a reviewer's `out.png -> frames/00003.png`)
            raise ValueError(f"{path}: is in the folder of frames being read ({video}), where it would replace or add "
                             f"a frame; {flag} must name a path outside it")
        if (other := named.get(os.path.realpath(path))) is not None and not files.output_path(path)[1]:
            raise ValueError(f"{path}: {other} and {flag} name the same path")
        named[os.path.realpath(path)] = flag
    if output_json is not None:
        if os.path.isdir(output_json) or output_json.endswith(("/", os.sep)):
            raise ValueError(f"{output_json}: {'is an existing' if os.path.isdir(output_json) else 'names a'} folder; "
                             f"{json_flag} names the JSON file to write")
        if not files.output_path(output_json)[1]:
            files.check_writable(output_json, flag=json_flag)
    if output is not None:
        if os.path.isdir(output):  # before the extension: a folder's name has none
            raise ValueError(f"{output}: is an existing folder; {output_flag} names the overlay file to write "
                             "(FILE.mp4 or FILE.gif)")
        overlay_format(output)
        if files.output_path(output)[1]:  # PyAV finishes an MP4 by seeking back to its start
            raise ValueError(f"{output}: is a pipe or a device; {output_flag} names the overlay file to write "
                             "(FILE.mp4 or FILE.gif), which is finished by seeking back in it")
        files.check_writable(output, flag=output_flag)
    if frames_dir is not None:
        if os.path.exists(frames_dir) and not os.path.isdir(frames_dir):
            raise ValueError(f"{frames_dir}: is a file; {frames_flag} names a folder for the mask PNGs")
        files.check_writable(frames_dir, folder=True, flag=frames_flag)
        if os.path.isdir(frames_dir):
            own = set(mask_png_names(video) or ()) if own is None else own
            earlier, others = _earlier_files(frames_dir, own)
            if others:
                raise ValueError(f"{frames_dir}: holds files predict did not write ({', '.join(others[:3])}); move "
                                 f"them out and run again, or choose an empty or new {frames_flag}")
            protected = [name for name in earlier if files.write_protected(os.path.join(frames_dir, name))]
            if protected:  # else a `chmod 444` mask would be replaced with the earlier run's others
                raise ValueError(f"{os.path.join(frames_dir, protected[0])}: exists and is write-protected"
                                 f"{f' (and {len(protected) - 1} more)' if len(protected) > 1 else ''}: not replaced; "
                                 f"make the earlier masks writable, remove them or choose another {frames_flag}")


@dataclasses.dataclass
class PredictionSummary:
    """What `predict_to_files` did: sizes and, per sentence, the mean mask coverage and the empty frames."""

    queries: list[str]
    num_frames: int
    height: int
    width: int
    fps: float
    coverage: list[float]
    empty_frames: list[list[int]]
    paths: list[str]
    first: int = 0  # zero-based index, in the video, of the first frame segmented
    sample_aspect: fractions.Fraction | None = None  # the pixels' aspect where not square (the model saw square ones)
    start_time: float = 0.0  # seconds: when the first frame segmented is shown (from the video's first frame)
    end_time: float = 0.0  # seconds: when the last frame segmented ends (the next is shown, or as long as the one
    # before it lasted, if sooner: a camera's pause)
    mask_names: tuple[str, str] | None = None  # the first and last mask PNGs' names where a frames folder names them


def frame_range(start: float | None, end: float | None, fps: float,
                times: Sequence[float] | None = None) -> tuple[int, int | None]:
    """`--start`/`--end` in seconds → the zero-based frames [first, stop) shown from `start` until before `end`.

    Frame i is shown at `times[i]` where the video's frame times are given (`frame_times`: a variable frame rate's
    uneven ones, as `ffmpeg -ss`/`-to` count), else from i / fps.

    Raises:
        ValueError: a start below 0, infinite or not a number, an end not after the start (an infinite end is the
            video's end), or a range in which no frame is shown (not the frame after it segmented).
    """
    if start is not None and not 0 <= start < math.inf:
        raise InputError(f"{option(*START)}{start}: must be a time in seconds, 0 or more")
    if end is not None and not end > (start or 0):
        raise InputError(f"{option(*END)}{end}: must be a time in seconds after {option('--start', 'start')} "
                         f"({start or 0})")
    first = 0 if start is None else _frame_at(start, fps, times)
    stop = None if end is None or end == math.inf else _frame_at(end, fps, times)
    if stop is not None and stop <= first:
        raise InputError(f"{option(*START)}{start or 0} {option(*END)}{end}: no frame is shown in that time (the "
                         f"next, frame {first + 1}, at {_time_of(first, fps, times):.3f} s); widen the range")
    return first, stop


def _frame_at(seconds: float, fps: float, times: Sequence[float] | None) -> int:
    """The first frame shown at or after `seconds`, capped far past any video's end: by `times` up to their last
    frame, else (and past it) from i / fps."""
    if times and seconds <= times[-1] + 1e-6:
        return bisect.bisect_left(times, seconds - 1e-6)
    return int(np.ceil(min(seconds * fps, 2.0 ** 62) - 1e-6))


def _times_for(video, start: float | None, end: float | None, whole: bool = False) -> tuple[float, ...] | None:
    """A file's frame times (`frame_times`) up to what `--start`/`--end` need (`whole`: all of them, to count the
    frames of a container that declares no count); None where no part is asked for. The last file's are kept while
    it is unchanged: `acga predict` asks twice (its progress bar's total, then the run)."""
    if not isinstance(video, (str, os.PathLike)) or (start is None and end is None and not whole):
        return None
    path = os.fspath(video)
    stat = os.stat(path) if os.path.isfile(path) else None
    until = math.inf if whole else max([t for t in (start, end) if t is not None and t < math.inf], default=0.0)
    return _cached_frame_times(path, stat and (stat.st_size, stat.st_mtime_ns), until)


@functools.lru_cache(maxsize=1)
def _cached_frame_times(path: str, version, until: float) -> tuple[float, ...] | None:
    times = frame_times(path, until)
    return None if times is None else tuple(times)


def _time_of(index: int, fps: float, times: Sequence[float] | None) -> float:
    """When frame `index` is shown (seconds): by `times`, past their end 1 / fps apart, else index / fps."""
    if not times:
        return index / fps
    return times[index] if index < len(times) else times[-1] + (index - len(times) + 1) / fps


def predict_to_files(model, video, queries: Sequence[str], *, output: str | None = None,
                     frames_dir: str | None = None, batch_size: int = 4, fps: float | None = None,
                     progress: Callable[[int], None] | None = None, start: float | None = None,
                     end: float | None = None, sample_aspect: fractions.Fraction | None = None,
                     audio: bool = True, sentence_folders: bool = False,
                     flags: tuple[str, str] | None = None, output_json: str | None = None,
                     smooth_edges: bool = False, soft_masks: bool = False, job: dict | None = None,
                     keep_job: bool = False, on_start: Callable[[int], None] | None = None) -> PredictionSummary:
    """The `acga predict` job: streams `video` through `iter_masks` and writes each frame's overlay and mask PNGs
    as soon as its masks are known; memory does not grow with the video's length (MP4 overlays; a GIF keeps its
    frames). Every path and sentence is checked before the first frame is segmented.

    Args:
        model: any artifact `load_predictor` takes.
        video: a video file, or uint8 (N, H, W, 3) frames.
        queries: the sentences; overlay colour k and the legend (two or more sentences) follow their order.
        output: overlay `FILE.mp4` or `FILE.gif`.
        frames_dir: one PNG per frame (`00001.png`, ...; a folder of frames: each frame's name, `mask_png_names`);
            with several sentences, `<frames_dir>/<k>/00001.png` (k = 1, 2, ...) and `queries.txt` listing them.
            The masks an earlier run wrote there are replaced (a warning says how many), so the folder holds this
            run's only; until this run ends they are kept aside
            (`EARLIER_FOLDER`), and a run that fails or is stopped puts them back, removing its own.
            `sentence_folders`: numbered folders and `queries.txt` for one sentence too (`predict_list`: one layout
            for every video). `flags`: the settings that named `output` and `frames_dir`, for messages
            (`check_outputs`).
        batch_size, fps, progress, sample_aspect: as `predict` (an MP4 overlay keeps the pixels' aspect).
        start, end: segment only the frames shown from `start` until before `end` seconds (`frame_range`); mask
            PNGs keep the video's frame numbers, and each mask is the one segmenting the whole video gives.
        audio: an MP4 overlay of a video file keeps the file's sound, for the frames segmented (`OverlayWriter`);
            False: the picture alone (`acga predict --no-audio`).
        output_json: a JSON file of every frame's masks, each as COCO's run-length encoding with its box and area
            (`MasksJsonWriter`, docs/serving.md#masks-as-json; `acga predict --output-json`), each frame with the
            time it is shown (a variable frame rate's own).
        smooth_edges: masks thresholded at the frame's size, edges following the probabilities (`iter_masks`;
            `acga predict --smooth-edges`).
        soft_masks: `frames_dir`'s PNGs hold the probabilities at the frame's size, 0 to 255 (`soft_mask`), in
            place of the masks' 0 and 255: a soft matte (`acga predict --soft-masks`, docs/serving.md#soft-masks).
            The overlay, the JSON and the summary keep the masks.
        job: what this run is asked (`job_record` of the same video, queries and smooth_edges), where it writes masks
            alone (`frames_dir`, no `start`, `end`, overlay, JSON or soft masks) with a model known by its files or
            URL (`masks_alone`): a stopped run of the same job whose masks `frames_dir` holds is gone on with from its
            last frame (a warning says so; the summary counts its frames too); a stopped run's of another job are
            refused (`InputError`, nothing changed); those of this job that cannot be gone on from are removed, with
            a warning; a finished run's are replaced as without `job`. The record is written into `frames_dir` as
            `STARTED_FILE` before the first frame where no finished run's masks were set aside (a stop puts those
            back), and removed once the run has segmented its frames (`keep_job`: left for the caller to remove once
            its own record of the result is written, as `predict_list` does). docs/serving.md#a-video-stopped-mid-way.
        on_start: called once the outputs are held, before the first frame, with the number of frames a stopped run
            left that this one goes on from (0 where none): a progress bar's total is the rest.

    Returns:
        A `PredictionSummary`; frames with an empty mask are also logged as a warning.

    Raises:
        ValueError, FileNotFoundError: as `predict` and `check_outputs`.
        OSError: a file could not be written (a full disk; it names the file). An error after the work began says
            what was kept in a note; the overlay is not written, and no mask PNG is left half written: the frames
            folder keeps an earlier run's masks, else this run's first frames'.
    """
    queries = as_sentences(queries)
    batch_size = positive_int("batch_size", batch_size)
    check_fps(fps)
    # a folder of frames, listed once: its frames' names (the JSON's `file`), its masks' (`mask_png_names`)
    frame_names = frame_files(os.fspath(video))[0] if isinstance(video, (str, os.PathLike)) and os.path.isdir(
        video) else None
    names = _mask_names(frame_names) if frames_dir and frame_names else None
    own = set(names or ())  # the names of this folder's masks (`_is_mask`)
    flags = flags or output_flags()
    if soft_masks and not frames_dir:
        raise ValueError(f"{option('--soft-masks', 'soft_masks')}: goes with {flags[1]}, the folder of the PNGs it "
                         "makes soft")
    # the model's files by what it was loaded from (a predictor's `source`: its run, SavedModel or URL)
    check_outputs(video, output, frames_dir, len(queries), flags, own, output_json,
                  artifacts.model_inputs(getattr(model, "source", model)))
    target = None if output is None else files.output_path(output)[0]  # through a link: the file it names
    earlier_overlay = target is not None and os.path.isfile(target)  # kept as it is where the run fails
    earlier_json = output_json is not None and os.path.isfile(files.output_path(output_json)[0])
    times = collections.deque()  # the decoded frames' times, oldest first, from frame `timed` on
    is_file = isinstance(video, (str, os.PathLike))
    info = video_info(video) if is_file else VideoInfo()
    aspect = _pixel_aspect(sample_aspect, info.sample_aspect)
    frames, fps = open_frames(video, fps or info.fps or DEFAULT_FPS, times)  # an array is checked here
    shown = _times_for(video, start, end)  # when each frame is shown, where a part is asked for
    # a file's JSON times, where no part is asked for: its frames' decoded times, counted from frame 0's
    zero = times[0] if times and shown is None and is_file and os.path.isfile(video) else None
    first, stop = frame_range(start, end, fps, shown)
    if job is not None and (start is not None or end is not None or output is not None or output_json is not None
                            or soft_masks or not frames_dir or not is_file or not masks_alone(job)):
        raise ValueError("job: goes with a video file or folder, frames_dir and a model known by its files alone (no "
                         "start, end, overlay, JSON or soft masks, which a stopped run does not keep)")
    declared = info.frames if is_file else len(video)
    if declared is not None and first >= declared:
        raise _past_the_end(video, start, first, declared, fps, shown)
    if output is not None and overlay_format(output) == OVERLAY_STILL:  # one frame: counted before any work
        if declared is None and is_file:  # a container without a count (Matroska, WebM): its packets' times
            declared = len(_times_for(video, None, None, whole=True) or ()) or None
        if declared is not None and (count := min(declared, stop or declared) - first) > 1:
            raise InputError(f"{output}: a PNG overlay holds one frame; {count} frames are to be segmented: give "
                             f"{option('--start', 'start')} and {option('--end', 'end')} around one, or write an "
                             ".mp4 or .gif")
        if declared is None and is_file and (stop is None or stop - first > 1) and _two_frames_from(video, first):
            raise _one_frame_only(output)  # (a raw H.264 stream, which declares neither a count nor times: it was
            # refused at its second frame, once the model had segmented the first)
    predictor = load_predictor(model)
    queries = check_queries(predictor, queries)
    if job is not None and (job.get("queries"), job.get("smooth_edges"), job.get("video")) != (
            queries, smooth_edges, os.path.realpath(video)):
        raise ValueError("job: records another video, other sentences or smooth_edges than this run's (job_record of "
                         "the same video, queries and smooth_edges)")

    def read_from(first: int):
        """The frames from the first one frame `first`'s clips take: a file is read again from there, seeking to the
        keyframe before it. (the frames, that frame)"""
        offset = clip_reach(predictor, first) if is_file else 0
        if not offset:
            return frames, 0
        frames.close()
        times.clear()
        try:
            return open_frames(video, fps, times, start=offset)[0], offset
        except DataError as e:
            if e.reason != "past_the_end":
                raise
            raise _past_the_end(video, start, first, None, fps) from None  # a container without a count

    frames, offset = read_from(first)
    with _locked_outputs(target, frames_dir, flags[1]) as overlay_lock:  # another run writing them now: refused here
        kept_frames, started, not_gone_on = [], None, None
        if job is not None:  # under the lock: no other run changes the folder between this look and the run
            kept_frames, not_gone_on = _go_on_from(frames_dir, job, sentence_folders or len(queries) > 1,
                                                   os.fspath(video), names, flags[1])
            if kept_frames:
                first = len(kept_frames)
                frames, offset = read_from(first)
        resume_from = len(kept_frames)
        masks_json = None
        if output_json:  # another run writing it now is refused here, before anything is moved or written
            masks_json = MasksJsonWriter(output_json, masks_json_header(predictor, video, queries, fps))
        try:
            folders, earlier, cleared = _mask_folders(frames_dir, queries, numbered=sentence_folders, own=own,
                                                      keep=bool(kept_frames), clear_stopped=job is not None)
            if cleared:  # (said: they are gone, unlike an earlier run's, which are replaced only once this one ends)
                logger.warning("%s: removed the %d mask PNGs of a stopped run that this one cannot go on from: %s",
                               frames_dir, cleared, not_gone_on or "no record of its job", extra=HOUSEKEEPING)
            # what a stopped run's masks are of (none set aside: those would be put back, without this record)
            started = os.path.join(frames_dir, STARTED_FILE) if job is not None and not earlier else None
            if started:
                files.write_json(started, job)
        except BaseException:
            if masks_json is not None:
                masks_json.discard()
            raise
        if on_start is not None:
            on_start(resume_from)
        writer, key, summary, timed = None, None, None, offset
        try:
            for item in _until_the_end(iter_masks(predictor, frames, queries, batch_size=batch_size, first=first,
                                                  stop=stop, offset=offset, sample_aspect=aspect,
                                                  smooth_edges=smooth_edges, probabilities=soft_masks)):
                check_stop()  # (a stop Python dropped in a finalizer: `errors.check_stop`)
                if summary is None:
                    h, w = item.frame.shape[:2]
                    summary = PredictionSummary(queries, 0, h, w, fps, [0.0] * len(queries), [[] for _ in queries], [],
                                                first=item.index, sample_aspect=aspect)
                    writer = (OverlayWriter(target, fps, aspect, audio=video if is_file and audio else None,
                                            audio_start=_time_of(item.index, fps, None), lock=overlay_lock)
                              if output else None)
                    key = legend(queries, w, h) if len(queries) > 1 and writer is not None else None  # (its
                    # warnings, a sentence cut to a line, are the overlay's: none without one)
                    if masks_json is not None and item.scores is None:  # (a pipeline reading "score" is told why)
                        logger.warning("%s gives no scores (exported before 2026-12-06): the masks JSON has none; "
                                       "export the run again (acga export) for them", predictor.source)
                while timed < item.index and times:  # drop the times of frames written or passed over
                    times.popleft()
                    timed += 1
                if writer is not None:
                    writer.write(overlay_frame(item.frame, item.masks, key), times[0] if times else None)
                _write_frame_masks(folders, item.index, soft_mask(item.probabilities) if soft_masks else item.masks,
                                   names, soft=soft_masks)
                if masks_json is not None:  # when the frame is shown: its decoded time, counted from frame 0's
                    decoded = times[0] if times and zero is not None else None
                    masks_json.write(item, decoded - zero if decoded is not None else _time_of(item.index, fps, shown),
                                     frame_names[item.index] if frame_names else None)
                summary.num_frames += 1
                for k, mask in enumerate(item.masks):
                    summary.coverage[k] += float(mask.mean())
                    if item.empty[k]:
                        summary.empty_frames[k].append(item.index)
                if progress is not None:
                    progress(1)
            if writer is not None:
                writer.close()  # in the try: a failure here (a GIF is saved here) is discarded and says what was kept
            if masks_json is not None and summary is not None:
                masks_json.close()
        except BaseException as e:
            for unfinished in (writer, masks_json):
                if unfinished is not None:
                    unfinished.discard()
            done = 0 if summary is None else summary.num_frames
            kept = [f"{path} was not written" + (" (the earlier file is kept)" if earlier_file else "")
                    for path, earlier_file in ((output, earlier_overlay), (output_json, earlier_json))
                    if path and not (masks_json is not None and path == output_json and masks_json.in_place)]
            if masks_json is not None and masks_json.in_place:  # standard output, a pipe: written as it went
                kept += [f"{output_json} got the first {masks_json.count} frames' masks, not a whole JSON document"]
            if earlier:
                _restore_earlier(frames_dir, own)
                kept += [f"{frames_dir} keeps the earlier run's {earlier} masks"]
            elif frames_dir and not done and not resume_from:
                kept += [f"no mask was written to {frames_dir}"]
            elif frames_dir and first and not resume_from:  # a part (--start): frames first + 1 on, not "the first"
                kept += [f"{frames_dir} holds the masks of frames {first + 1} to {first + done}"]
            elif frames_dir:  # (a stopped run's frames kept too, where this one went on from them)
                kept += [f"{frames_dir} holds the masks of the first {counted(done + resume_from, 'frame')}"]
            if started and done + resume_from > 1:  # (`_go_on_from` keeps all but the last: none of one)
                kept += ["the same command goes on from there"]
            kept = "; ".join([f"after {counted(done, 'frame')}" + (f" (from frame {resume_from + 1})"
                                                                  if resume_from else ""), *kept])
            if isinstance(e, KeyboardInterrupt):
                raise KeyboardInterrupt(kept) from None
            e.add_note(kept)  # what was kept, which the CLI's one-line error ends with
            raise
        if earlier and summary is None:  # nothing was segmented (the error below): the earlier masks stay
            _restore_earlier(frames_dir, own)
        elif earlier:
            _discard_earlier(frames_dir)
            logger.warning("%s: replaced the %d mask PNGs of an earlier run, so that the folder holds this run's "
                           "masks only", frames_dir, earlier)
        if started and summary is not None and not keep_job:  # the job is done: nothing to go on with
            os.remove(started)
    if summary is None:  # the container declared no length, or a wrong one
        if masks_json is not None:
            masks_json.discard()
        raise _past_the_end(video, start, first, None, fps)
    _count_kept(summary, kept_frames)
    summary.start_time = _time_of(summary.first, fps, shown)
    last = summary.first + summary.num_frames - 1
    summary.end_time = _time_of(last + 1, fps, shown)
    if last >= 1:  # the last frame lasts as long as the one before it did (in the part or not), at most: the next
        # frame comes seconds later after a camera's pause (a tester's "5.52 s to 11.00 s" for `--end 6`)
        summary.end_time = min(summary.end_time, 2 * _time_of(last, fps, shown) - _time_of(last - 1, fps, shown))
    summary.coverage = [c / max(summary.num_frames, 1) for c in summary.coverage]
    summary.paths = [path for path in (output, frames_dir, output_json) if path]
    if names:  # a folder of frames, named otherwise than the summary counts frames (from 1): DAVIS's, a camera's
        summary.mask_names = (names[summary.first], names[summary.first + summary.num_frames - 1])
    warn_empty(summary)
    return summary


def job_record(video: str, queries: Sequence[str], model: str | None, *, overlay: str | None = None,
               smooth_edges: bool = False, masks_json: bool = False, soft_masks: bool = False) -> dict:
    """What a run of `video` is asked, by which a later run knows the same job: the video (the file its path names,
    through links; its size and time modified: `source_stamp`), the sentences (`check_query`'d), the model
    (`batch.model_identity`: None for one known by no file) and the options that change the files written.
    `predict_to_files(job=)` writes it where the run writes masks alone (`masks_alone`); `predict_list`'s
    `summary.json` records it with what was found."""
    size, modified_ns = source_stamp(video)
    return {"video": os.path.realpath(video), "size": size, "modified_ns": modified_ns,
            "queries": [check_query(query) for query in as_sentences(queries)], "model": model, "overlay": overlay,
            "smooth_edges": smooth_edges, "masks_json": masks_json, "soft_masks": soft_masks}


def masks_alone(job: dict) -> bool:
    """Whether a run of `job` (`job_record`) can be gone on with after a stop: masks alone (no overlay or JSON cut
    short, no soft masks to count the coverage from), by a model known by its files or URL."""
    return job.get("model") is not None and not (job.get("overlay") or job.get("masks_json") or job.get("soft_masks"))


def _stopped_run(frames_dir: str, job: dict, record: dict | None, numbered: bool, names: Sequence[str] | None
                 ) -> list[list[tuple[float, bool]]]:
    """The frames, from the first, that a stopped run of the same job left readable masks of in every sentence's
    folder of `frames_dir` (`numbered`: `<frames_dir>/<k>/` and `queries.txt`, else the masks at its top), each
    frame's (coverage, empty) per sentence.

    The same job: `record`, `frames_dir`'s `STARTED_FILE`, is of `job`; `names`: the masks' names where the video is
    a folder of frames (`mask_png_names`), else None. [] for anything else: another job, a folder holding
    other files than its masks, `queries.txt`, the record and a file manager's (`system_file`, removed here with a
    killed run's half-written PNG), masks not readable from the first (a power cut's empty PNGs). Called with the
    folder locked (`predict_to_files`)."""
    if not masks_alone(job) or not same_job(record, job):
        return []
    if not os.path.isdir(frames_dir):  # (a link to a folder: its folder, as every run reads and writes it)
        return []
    folders = [os.path.join(frames_dir, str(k + 1)) for k in range(len(job["queries"]))] if numbered else [frames_dir]
    named = set(names or ())
    try:
        if numbered:
            with open(os.path.join(frames_dir, "queries.txt"), encoding="utf-8") as f:  # (another job's masks
                if not _same_sentences([line.rstrip("\n").split("\t", 1)[-1] for line in f], job["queries"]):
                    return []  # written there by hand)
        present: dict[str, set[str]] = {}  # each sentence's folder: its masks (listed once, by the walk)
        for root, folders_in, found in os.walk(frames_dir):
            if any(os.path.join(root, d) not in folders for d in folders_in):  # a folder of the user's, a link
                return []
            for name in found:
                if system_file(name) or name.endswith(files.TEMPORARY_SUFFIX):
                    os.remove(os.path.join(root, name))
                elif root in folders and (name in named if names else MASK_PNG.match(name)):
                    present.setdefault(root, set()).add(name)
                elif not (root == frames_dir and name in (STARTED_FILE, *(("queries.txt",) if numbered else ()))):
                    return []  # a file of the user's: not taken for a mask, nor removed
    except OSError:
        return []
    count = 0  # the frames whose masks are there in every sentence's folder, from the first
    while (names is None or count + 1 < len(names)) and all(
            os.path.basename(mask_png(folder, count, names)) in present.get(folder, ()) for folder in folders):
        count += 1
    paths = [mask_png(folder, k, names) for k in range(count) for folder in folders]
    kept: list[list[tuple[float, bool]]] = []
    # read on every core (PNG decoding lets go of the GIL): 3.6 ms a 1080p mask, so an hour of video's 100,000
    # masks took 6 minutes on one, before the first frame and without a word
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    try:
        for k, read in enumerate(pool.map(_coverage, paths)):
            if read is None:  # unreadable (a power cut's empty PNG): gone on from the frame before
                break
            if k % len(folders) == 0:
                kept.append([])
            kept[-1].append(read)
    finally:
        pool.shutdown(cancel_futures=True)  # (the reads queued after an unreadable one are not waited for)
    return kept[:-1] if kept and len(kept[-1]) < len(folders) else kept


def _coverage(path: str) -> tuple[float, bool] | None:
    """A mask PNG's (coverage, empty), or None where it cannot be read."""
    try:
        with Image.open(path) as image:
            mask = np.asarray(image) > 0
    except (OSError, ValueError, Image.DecompressionBombError):  # (UnidentifiedImageError is an OSError)
        return None
    return float(mask.mean()), not mask.any()


def _go_on_from(frames_dir: str, job: dict, numbered: bool, video: str, names: Sequence[str] | None, flag: str
                ) -> tuple[list[list[tuple[float, bool]]], str | None]:
    """(The frames a run of `job` keeps in `frames_dir` (locked) and goes on from, why a stopped run's masks there are
    not gone on from (None where there are none)). The frames kept are a stopped run's (`_stopped_run`; an earlier
    run's masks a killed run had set aside are put back first), but for the last, segmented again (there is then one
    to segment, whatever the container's count said); a warning naming `video` says from which frame. `names`: the
    masks' names where the video is a folder of frames (`mask_png_names`, as `predict_to_files` has them).

    Raises:
        InputError: the masks of a stopped run of another job are there (its own command goes on with them; a typed
            sentence, another model, would remove hours of work): nothing is changed. `flag` names the folder.
    """
    own = set(names or ())
    if os.path.isdir(frames_dir):
        _restore_earlier(frames_dir, own)
    started = os.path.join(frames_dir, STARTED_FILE)
    record = files.read_record(started)  # (read once: the look below and the refusal)
    kept = _stopped_run(frames_dir, job, record, numbered, names)[:-1]
    if not kept:
        if not os.path.isfile(started):
            return [], None
        if record is None:  # (a power cut's empty record)
            return [], "its record cannot be read"
        if not same_job(record, job) and _mask_files(frames_dir, own):  # (a run stopped before its first mask left
            # nothing to keep)
            why, resumable = job_difference(record, job)
            then = ("its own command goes on with them" if resumable else "no run can go on with them now")
            raise InputError(f"{frames_dir}: holds the masks of a stopped run of another job ({why}): {then}; to "
                             f"segment this job there, remove the folder first, or choose another {flag}")
        return [], ("the same job, but its masks cannot be gone on from (whole in every sentence's folder from the "
                    "first frame, at least two; nothing else of anyone's there)")
    logger.warning("%s: going on from frame %d%s, where a stopped run of the same job left it (its first %d "
                   "frames' masks are kept)", video, len(kept) + 1, f" ({names[len(kept)]})" if names else "",
                   len(kept), extra=HOUSEKEEPING)
    return kept, None


def _words(sentences) -> list[tuple[str, ...]] | None:
    """The words the model reads of each sentence ("The red car!" is "the red car"), or None for anything else."""
    if not isinstance(sentences, list) or not all(isinstance(sentence, str) for sentence in sentences):
        return None
    return [tuple(tokens) for tokens in tokenize_py_many(sentences)]


def same_job(record: dict | None, job: dict) -> bool:
    """Whether a stopped run's `record` (`STARTED_FILE`) is of `job`: the same in everything, its sentences in the
    words the model reads (a sentence written again in capitals or with a full stop gives the same masks)."""
    if record is None or {k: v for k, v in record.items() if k != "queries"} != {
            k: v for k, v in job.items() if k != "queries"}:
        return False
    return _same_sentences(record.get("queries"), job["queries"])


def _same_sentences(written, sentences: list[str]) -> bool:
    """Whether `written` (a record's or `queries.txt`'s sentences) are `sentences` in the words the model reads:
    tokenized (one TensorFlow op) only where they are not written the same."""
    return written == sentences or _words(written) == _words(sentences)


def job_difference(record: dict, job: dict, flags: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """(What differs between a stopped run's `record` and `job`, in words; whether the stopped run's own command can
    still go on with its masks: not where its video or model changed in place since). `flags`: the command's option
    of a record's key where it is not `--key` (`acga predict --list`'s `--json` for `masks_json`)."""
    if record.get("video") != job["video"]:
        return f"another video ({record.get('video')})", True
    if (record.get("size"), record.get("modified_ns")) != (job["size"], job["modified_ns"]):
        return "the video has changed since (its size or time modified)", False
    if not _same_sentences(record.get("queries"), job["queries"]):
        queries = record.get("queries")
        queries = queries if isinstance(queries, list) else [queries]
        return f"other sentences ({', '.join(quoted(str(query)) for query in queries)})", True
    if record.get("model") != job["model"]:
        where = str(record.get("model")).split(" (")[0]  # (a path, then its files' fingerprint)
        in_place = job["model"] is not None and job["model"].split(" (")[0] == where
        return (f"the model has changed since ({where})" if in_place
                else f"another model ({record.get('model')}; this run's: {job['model']})"), not in_place
    differ = sorted(key for key in {*job, *record} - {"queries"} if record.get(key) != job.get(key))
    if "overlay" in differ:  # (the overlay's sound goes with it: "--audio: the stopped run's None", a reviewer's)
        differ = [key for key in differ if key != "audio"]
    flags = flags or {}
    return "other options (" + ", ".join(
        f"{option(flags.get(key, '--' + key.replace('_', '-')), key)}: the stopped run's "
        f"{'none' if record.get(key) is None else record.get(key)}, this run's "
        f"{'none' if job.get(key) is None else job.get(key)}" for key in differ) + ")", True


def _count_kept(summary: PredictionSummary, kept: Sequence[Sequence[tuple[float, bool]]]) -> None:
    """Adds the frames a stopped run left (`_go_on_from`'s) to `summary`, before its coverage is averaged: the video's
    frame count, each sentence's summed coverage and empty frames. Nothing where none were kept."""
    if not kept:
        return
    for k in range(len(summary.queries)):
        summary.coverage[k] += sum(frame[k][0] for frame in kept)
        summary.empty_frames[k] = [i for i, frame in enumerate(kept) if frame[k][1]] + summary.empty_frames[k]
    summary.num_frames, summary.first = len(kept) + summary.num_frames, 0


def warn_empty(summary: PredictionSummary) -> None:
    """A warning for each sentence whose mask is empty in some frames of `summary`: how many, and the first."""
    for query, empty in zip(summary.queries, summary.empty_frames):
        if empty:
            logger.warning("query %s: the mask is empty in %d of %d frames (first: frame %d)", quoted(query),
                           len(empty), summary.num_frames, empty[0] + 1)  # counted from 1, as the mask files are


def _until_the_end(items: Iterator[FrameMasks]) -> Iterator[FrameMasks]:
    """`items`, ending where its frames ended before the range: the caller names the start past the end in seconds."""
    try:
        yield from items
    except FramesEnded:
        return


def _past_the_end(video, start: float | None, first: int, frames: int | None, fps: float,
                  times: Sequence[float] | None = None) -> InputError:
    """The error of a start past the video's end: a `DataError` naming the file (its `.message` without the path),
    or an `InputError` for an array."""
    message = _past_the_end_message(start, first, frames, fps, times)
    if isinstance(video, (str, os.PathLike)):
        return DataError(os.fspath(video), message, reason="past_the_end")
    return InputError(f"the video: {message}")


def _past_the_end_message(start: float | None, first: int, frames: int | None, fps: float,
                          times: Sequence[float] | None = None) -> str:
    given = f"{option(*START)}{start}"  # as the caller gave it
    variable = times and any(abs(t - times[0] - k / fps) > 0.5 / fps for k, t in enumerate(times))
    if variable and first >= len(times):  # the frames' own times: no number or length from the mean rate (8 frames
        count = len(times)  # over 3.03 s would read "--start 5.0 is frame 15 ... 3.05 s at 2.62 fps")
        return (f"{given} is past the video's end ({counted(count, 'frame')}, the last shown "
                f"from {times[-1]:.2f} s)")
    length = (f"{counted(frames, 'frame')}, {frames / fps:.2f} s at {fps:g} fps" if frames
              else f"{fps:g} fps")
    if frames and start is not None and start < frames / fps:  # within the video, after its last frame is shown
        return (f"no frame is shown from {given} on: the last, frame {frames}, is shown from "
                f"{_time_of(frames - 1, fps, times):.2f} s ({length})")
    frame = f"is frame {first + 1}, " if first < 2 ** 31 else "is "  # no made-up frame number for --start 1e300
    return f"{given} {frame}past the video's end ({length})"


def _is_mask(name: str, own: Collection[str]) -> bool:
    """Whether `name` is a mask PNG a run writes: `MASK_PNG`, or one of `own`, the names of the frames folder's masks
    (`mask_png_names`), or either's temporary name. Not any numbered PNG: a user's `2024.png` in the folder would be
    taken for an earlier mask and removed."""
    return bool(MASK_PNG.match(name)) or name.removesuffix(files.TEMPORARY_SUFFIX) in own


def holds_run_files_only(frames_dir: str, video) -> bool:
    """Whether `frames_dir` holds only what runs of `predict_to_files` write there for `video` (`_earlier_masks`),
    which a run replaces, and no file or folder of anyone else's, which it refuses (`check_outputs`)."""
    return not foreign_files(frames_dir, video)


def foreign_files(frames_dir: str, video) -> list[str]:
    """The files and folders in `frames_dir` (relative to it, sorted) that no run of `predict_to_files` for `video`
    writes there (`holds_run_files_only`)."""
    return _earlier_files(frames_dir, set(mask_png_names(video) or ()))[1]


def mask_count(frames_dir: str, video) -> int:
    """How many mask PNGs of any run `frames_dir` holds (`_mask_files`; `video`'s mask names, `mask_png_names`)."""
    return len(_mask_files(frames_dir, set(mask_png_names(video) or ())))


def _mask_files(frames_dir: str, own: Collection[str]) -> list[str]:
    """The mask PNGs among what runs wrote in `frames_dir` (`_earlier_masks`)."""
    return _masks_among(_earlier_masks(frames_dir, own)[0])


def _masks_among(names: Iterable[str]) -> list[str]:
    """The mask PNGs among files runs wrote (`_earlier_masks`' first list): not the records or a file manager's."""
    return [name for name in names if not (os.path.basename(name) in RECORD_FILES
                                           or system_file(os.path.basename(name)))]


def _earlier_files(frames_dir: str, own: Collection[str]) -> tuple[list[str], list[str]]:
    """`_earlier_masks`, the files set aside that a run did not put there (`_foreign_set_aside`) among the others."""
    earlier, others = _earlier_masks(frames_dir, own)
    return earlier, others + _foreign_set_aside(frames_dir)


def _earlier_masks(frames_dir: str, own: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """The files in `frames_dir`, relative to it and sorted: (those a run of `predict_to_files` writes: mask PNGs at
    its top and in its numbered folders (`_is_mask`), `queries.txt`, `STARTED_FILE` (or a kill's half of it), and a
    file manager's (`system_file`: a Finder that showed the folder), replaced or removed with them; every other file
    or folder)."""
    ours, others = [], []
    for name in sorted(os.listdir(frames_dir)):
        path = os.path.join(frames_dir, name)
        if name in (EARLIER_FOLDER, REPLACED_FOLDER) and os.path.isdir(path) and not os.path.islink(path):
            continue  # an earlier run's masks set aside by a run that was killed (`_restore_earlier`; checked by
            # `_foreign_set_aside`), or those a run that ended replaced, not yet removed
        if SENTENCE_FOLDER.match(name) and os.path.isdir(path) and not os.path.islink(path):  # a link is not ours:
            # its target's PNGs would be removed as an earlier run's masks
            for inner in sorted(os.listdir(path)):
                mine = (_is_mask(inner, own) or system_file(inner)) and os.path.isfile(os.path.join(path, inner))
                (ours if mine else others).append(os.path.join(name, inner))
        elif (_is_mask(name, own) or name in RECORD_FILES or system_file(name)) and os.path.isfile(path):
            ours.append(name)
        else:
            others.append(name)
    return ours, others


@contextlib.contextmanager
def _locked_outputs(output: str | None, frames_dir: str | None, frames_flag: str = "--frames-dir"
                    ) -> Iterator[files.WriteLock | None]:
    """Locks the overlay's temporary file and the mask folder (`files.WriteLock`) for a run, before anything in them is
    removed or written: another run writing either now is refused, with nothing changed. Yields the overlay's lock,
    for its `OverlayWriter`; the empty file the lock made is removed at the end where no overlay was written."""
    with contextlib.ExitStack() as stack:
        lock = None
        if output:
            temporary = output + files.TEMPORARY_SUFFIX
            os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
            lock = files.WriteLock(temporary, output)
            stack.callback(lock.release)
            stack.callback(_remove_if_empty, temporary)  # before the release (last in, first out)
        if frames_dir:
            os.makedirs(frames_dir, exist_ok=True)
            stack.callback(files.WriteLock(frames_dir, f"{frames_dir} ({frames_flag})").release)
        yield lock


def _remove_if_empty(path: str) -> None:
    with contextlib.suppress(OSError):
        if os.path.getsize(path) == 0:
            os.remove(path)


def _mask_folders(frames_dir: str | None, queries: list[str], numbered: bool = False, own: Collection[str] = (),
                  keep: bool = False, clear_stopped: bool = False) -> tuple[list[str], int, int]:
    """The PNG folder of each sentence (created), and `queries.txt` for several (or `numbered`); how many mask PNGs
    of an earlier run were put aside, and how many of a stopped run removed (`clear_stopped`). `keep`: the folder's
    masks are a stopped run's that this one goes on from (`predict_to_files(job=)`): left where they are.
    `clear_stopped`: a stopped run's masks (its `STARTED_FILE` beside them) that this run does not go on from are
    removed, not set aside: this run writes its own record, which masks put back after a stop would contradict.

    What an earlier run wrote in `frames_dir` (`_earlier_masks`: `check_outputs` let only that be there) is moved
    into its `EARLIER_FOLDER` first, and the numbered folders it leaves empty removed: else a run over fewer frames
    or sentences would leave the earlier run's masks beyond them, mixed with its own. `predict_to_files` removes them
    once its run is done, and puts them back where it fails or is stopped (so that a run the scheduler stops does not
    remove a complete earlier result). A folder a killed run left mid-way is first put back as it was.
    """
    if frames_dir is None:
        return [], 0, 0
    earlier = cleared = 0
    if os.path.isdir(frames_dir) and not keep:
        _restore_earlier(frames_dir, own)
        shutil.rmtree(os.path.join(frames_dir, REPLACED_FOLDER), ignore_errors=True)
        names = _earlier_masks(frames_dir, own)[0]
        earlier = len(_masks_among(names))
        if clear_stopped and STARTED_FILE in names:  # a stopped run's (not a finished one's): removed below
            earlier, cleared = 0, earlier
        if earlier:  # set aside, the list of them first: a kill at any point leaves what `_restore_earlier` reads
            aside = os.path.join(frames_dir, EARLIER_FOLDER)
            os.makedirs(aside, exist_ok=True)
            files.write_text(os.path.join(aside, EARLIER_LIST), "".join(f"{name}\n" for name in names))
            for name in names:
                os.makedirs(os.path.dirname(os.path.join(aside, name)), exist_ok=True)
                os.replace(os.path.join(frames_dir, name), os.path.join(aside, name))
        else:  # no mask to keep (a `queries.txt` a run stopped before its first frame left; `clear_stopped`): removed,
            # the record last (a stop meanwhile leaves masks that are still known as the stopped run's)
            for name in sorted(names, key=lambda name: name in RECORD_FILES):
                os.remove(os.path.join(frames_dir, name))
        _remove_empty_sentence_folders(frames_dir)
    if len(queries) == 1 and not numbered:
        os.makedirs(frames_dir, exist_ok=True)
        return [frames_dir], earlier, cleared
    folders = [os.path.join(frames_dir, str(k + 1)) for k in range(len(queries))]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    # whole or not at all (renamed into place): a kill while a resumed run wrote it again left it cut short, so its
    # masks were not gone on with by the next run
    files.write_text(os.path.join(frames_dir, "queries.txt"), "".join(f"{k + 1}\t{q}\n" for k, q in enumerate(queries)))
    return folders, earlier, cleared


def _set_aside_names(frames_dir: str) -> list[str] | None:
    """The names an earlier run's masks were set aside under (`EARLIER_LIST`), or None where no such record is."""
    try:
        with open(os.path.join(frames_dir, EARLIER_FOLDER, EARLIER_LIST), encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None


def _foreign_set_aside(frames_dir: str) -> list[str]:
    """What is in `frames_dir`'s `EARLIER_FOLDER` that a run of `predict_to_files` did not put there (a folder of that
    name made by hand, whose files would otherwise be removed with the masks of the folder)."""
    aside = os.path.join(frames_dir, EARLIER_FOLDER)
    if not os.path.lexists(aside):
        return []
    if os.path.islink(aside) or not os.path.isdir(aside):
        return [EARLIER_FOLDER]
    names = _set_aside_names(frames_dir)
    if names is None:  # an empty one, or one killed while its list was written, is removed
        return [EARLIER_FOLDER] if set(os.listdir(aside)) - {EARLIER_LIST + files.TEMPORARY_SUFFIX} else []
    listed = set(names) | {EARLIER_LIST} | {os.path.dirname(name) for name in names}
    return [os.path.join(EARLIER_FOLDER, os.path.relpath(os.path.join(root, name), aside))
            for root, folders, found in os.walk(aside) for name in [*folders, *found]
            if os.path.relpath(os.path.join(root, name), aside) not in listed][:3]


def _restore_earlier(frames_dir: str, own: Collection[str] = ()) -> None:
    """Puts the earlier run's masks set aside in `EARLIER_FOLDER` back in `frames_dir`, and removes what the run that
    set them aside wrote; nothing where none were set aside. Safe to stop and repeat at any point: each mask set
    aside and not yet back replaces the one of its name, and the masks not among the names recorded
    (`EARLIER_LIST`) are the later run's, removed."""
    aside = os.path.join(frames_dir, EARLIER_FOLDER)
    if not os.path.isdir(aside) or os.path.islink(aside):
        return
    names = _set_aside_names(frames_dir)
    if names is None:  # set aside before its list was written: nothing was moved yet
        shutil.rmtree(aside)
        return
    for name in set(_earlier_masks(frames_dir, own)[0]) - set(names):
        os.remove(os.path.join(frames_dir, name))
    for name in names:
        if os.path.isfile(os.path.join(aside, name)):
            os.makedirs(os.path.dirname(os.path.join(frames_dir, name)), exist_ok=True)
            os.replace(os.path.join(aside, name), os.path.join(frames_dir, name))
    _remove_empty_sentence_folders(frames_dir)
    shutil.rmtree(aside)


def _discard_earlier(frames_dir: str) -> None:
    """Removes the earlier run's masks a run that ended set aside: renamed first, so that a kill while they are
    removed does not leave part of them to be put back over the new masks."""
    replaced = os.path.join(frames_dir, REPLACED_FOLDER)
    os.replace(os.path.join(frames_dir, EARLIER_FOLDER), replaced)
    shutil.rmtree(replaced)


def _remove_empty_sentence_folders(frames_dir: str) -> None:
    for name in os.listdir(frames_dir):
        folder = os.path.join(frames_dir, name)
        if SENTENCE_FOLDER.match(name) and os.path.isdir(folder) and not os.path.islink(folder) \
                and not os.listdir(folder):
            os.rmdir(folder)


def _write_frame_masks(folders: list[str], index: int, masks: np.ndarray, names: Sequence[str] | None = None,
                       soft: bool = False) -> None:
    """Writes frame `index`'s mask PNG in each sentence's folder (named as `mask_png`); a failure (a full disk,
    Ctrl-C) removes those already written, so that every folder holds the masks of the same frames."""
    written = []
    try:
        for folder, mask in zip(folders, masks):
            path = mask_png(folder, index, names)
            write_mask_png(path, mask, soft)
            written.append(path)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                os.remove(path)
        raise


__all__ = ["check_query", "quoted", "check_queries", "judge_queries", "as_sentences", "check_fps", "iter_masks",
           "FrameMasks", "FrameWindow", "open_frames", "load_video", "PredictionResult", "predict", "PredictionSummary",
           "predict_to_files", "check_outputs", "write_overlay", "write_mask_frames", "soft_mask", "overlay_frames",
           "overlay_rgb", "overlay_frame", "overlay_format", "legend", "Predictor", "load_predictor", "VideoInfo",
           "video_info", "frame_range", "frames_to_segment", "display_width", "square_pixels", "nearest_columns",
           "mask_png_names", "warn_empty"]
