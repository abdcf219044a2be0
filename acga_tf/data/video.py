"""Frame and mask loading for one annotated frame: PyAV video decoding, J-HMDB PNGs, A2D .h5 and J-HMDB .mat masks.

Implements the reading rules of docs/data.md#datasets (A2D: annotated frame k is decoded frame k − 1; J-HMDB:
frame k is `<k:05d>.png` and `part_mask[:, :, k − 1]`), and the clip window of docs/data.md#clips (a window
centred on the annotated frame, clamped to the video's range). Everything here is plain Python/numpy run by the
converters in `pipelines/`, never inside a `tf.data` map (docs/architecture.md).
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import dataclasses
import errno
import fractions
import functools
import heapq
import itertools
import logging
import math
import os
import re
import stat
import struct
import warnings
from collections.abc import Callable, Iterator, MutableSequence, Sequence

import av
import h5py
import numpy as np
import scipy.io
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image, UnidentifiedImageError

from acga_tf.data.colour import BT709, HDR_TRANSFERS, sdr_from_hdr
from acga_tf.data.types import MAX_FRAME_PIXELS, AnnotatedFrame, DataError
from acga_tf.ops import files
from acga_tf.ops.wording import counted

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LoadedSample:
    """The decoded pixels of one annotated frame: its clip window and one mask per referral.

    Attributes:
        frames: uint8 (n, H, W, 3) RGB, the distinct frames of the window centred on the annotated frame, clamped
            to the video's range (each frame stored once; repeat the first/last one to get a fixed-length clip).
        center: index of the annotated frame within `frames`.
        masks: one uint8 (H, W) {0, 1} mask per referral of the frame, in the frame's referral order.
        height: H.
        width: W.
        first_index: zero-based video index of `frames[0]`.
    """

    frames: np.ndarray
    center: int
    masks: tuple[np.ndarray, ...]
    height: int
    width: int
    first_index: int = 0


def window_bounds(center: int, window: int, num_frames: int) -> tuple[int, int]:
    """The distinct zero-based frame indices of a window centred on `center`, clamped to the video.

    The window is `[center − window//2, center + (window+1)//2)` (MTTR, docs/data.md#datasets); indices past the ends
    clamp to the first/last frame, so the distinct frames are `first .. last` (inclusive).

    Args:
        center: zero-based index of the annotated frame.
        window: clip length T (>= 1).
        num_frames: frames in the video (> center).

    Returns:
        (first, last): inclusive zero-based bounds.

    Raises:
        ValueError: `window` < 1 or `center` outside `[0, num_frames)`.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not 0 <= center < num_frames:
        raise ValueError(f"center {center} is outside the video's {counted(num_frames, 'frame')}")
    first = max(0, center - window // 2)
    last = min(num_frames - 1, center + (window + 1) // 2 - 1)
    return first, last


# FFmpeg decoders that render text as video (its `tty` demuxer reads any `.txt`, `.nfo`, ... as 640 x 400 "ANSI art");
# a file they decode is a text file, never a user's video.
TEXT_AS_VIDEO_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})


def _clockwise_degrees(matrix: np.ndarray | None) -> float | None:
    """The clockwise angle in [0, 360) a display matrix (9 int32, 16.16 fixed point) turns frames by, as FFmpeg's
    tool reads it (av_display_rotation_get, then fftools' get_rotation); None for no matrix or a degenerate one."""
    if matrix is None:
        return None
    a, b, c, d = (float(v) / 65536 for v in np.asarray(matrix, np.int64)[[0, 1, 3, 4]])
    scale_x, scale_y = np.hypot(a, c), np.hypot(b, d)
    if scale_x == 0 or scale_y == 0:
        return None
    theta = -round(-np.degrees(np.arctan2(b / scale_y, a / scale_x)))
    return theta - 360 * np.floor(theta / 360 + 0.9 / 360)


def quarter_turned(path: str) -> bool:
    """Whether players show a video's frames turned a quarter (its first frame's display matrix turns them 90 or 270
    degrees, as phones store portrait videos): the aspect of their pixels as shown is then the inverse of the one its
    stream declares. Decodes its first frame, once for a file as it is (a 1440 x 1080 frame: 0.3 s); False where
    none decodes."""
    try:
        stamp = source_stamp(os.fspath(path))
    except OSError:  # no such file: nothing decodes
        return False
    return _quarter_turned(os.fspath(path), stamp)


@functools.lru_cache(maxsize=16)
def _quarter_turned(path: str, stamp: tuple[int, int]) -> bool:
    """`quarter_turned` of `path` whose `source_stamp` is `stamp` (a file changed since is read again)."""
    try:
        with open_video(path) as container:
            stream = video_stream(container)
            for frame in (() if stream is None else container.decode(stream)):
                theta = _clockwise_degrees(_display_matrix(frame, path))
                return theta is not None and (abs(theta - 90) < 1 or abs(theta - 270) < 1)
    except av.FFmpegError:
        pass
    return False


def upright(matrix: np.ndarray | None, source: str = "") -> Callable[[np.ndarray], np.ndarray]:
    """The function that turns decoded frames the way players show them, by their display matrix
    (docs/data.md#videos). Decided once per video; the warning below is logged once.

    Phones store a portrait video as landscape frames plus a display matrix (a rotation by a multiple of 90 degrees,
    sometimes with a mirror). FFmpeg's `ffmpeg` tool applies it by default ("autorotate"); its library, and so
    PyAV, hands out the frames as stored. This is the tool's rule, ported: the angle is the matrix's, rounded to a
    degree, and the signs of the matrix's entries choose between a turn and a turn with a mirror.

    Args:
        matrix: the first frame's 3x3 display matrix as 9 int32 (16.16 fixed point), or None (no side data: frames
            as stored).
        source: the file, named in the warning logged for an angle that is not a multiple of 90 degrees (FFmpeg
            resamples those; here the frames are left as stored).

    Returns:
        (H, W, C) frame as decoded → the frame as players show it (a contiguous copy when it is turned; (W, H, C)
        for a quarter turn).
    """
    def stored(image):
        return image

    theta = _clockwise_degrees(matrix)
    if theta is None:
        return stored
    m = np.asarray(matrix, np.int64)
    if abs(theta - 90) < 1:
        turn = (lambda x: x.transpose(1, 0, 2)) if m[3] > 0 else (lambda x: np.rot90(x, -1))  # cclock_flip / clock
    elif abs(theta - 180) < 1:
        turn = lambda x: x[::-1 if m[4] < 0 else 1, ::-1 if m[0] < 0 else 1]  # noqa: E731 (vflip, hflip)
    elif abs(theta - 270) < 1:
        turn = (lambda x: np.rot90(x, -1)[::-1]) if m[3] < 0 else (lambda x: np.rot90(x, 1))  # clock_flip / cclock
    elif abs(theta) < 1:
        turn = (lambda x: x[::-1]) if m[4] < 0 else stored  # vflip
    else:
        logger.warning("%s: its display matrix turns it %.1f degrees clockwise, not a multiple of 90; its frames are "
                       "used as stored", source, theta)
        return stored
    return stored if turn is stored else lambda image: np.ascontiguousarray(turn(image))


def video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The video stream players and FFmpeg's tool pick (`av_find_best_stream`), or None where there is none.

    Not simply the first: a file can store its cover picture (one frame) as a video stream before the video, and
    FFmpeg prefers a stream of several frames, then the default one (docs/data.md#videos). A stream FFmpeg cannot
    decode (PyAV gives it no codec context: an MP4 cut short inside its index declares one) is none.
    """
    stream = container.streams.best("video")
    if stream is not None and has_decoder(stream):
        return stream
    return next((other for other in container.streams.video if has_decoder(other)), None)


def no_video_reason(container: av.container.InputContainer, path: str) -> str:
    """Why `video_stream` found no video in `path`: cut short in or before its index (`cut_short_mp4`), a video in a
    codec FFmpeg cannot decode, or no video stream at all."""
    if cut := cut_short_mp4(path):
        return cut
    if container.streams.video:  # (PyAV names no codec tag for a video stream it cannot decode: the sound's does)
        return "FFmpeg has no decoder for its video (a codec this FFmpeg does not know)"
    return "no video stream in the file"


def top_field(image: np.ndarray) -> np.ndarray:
    """An interlaced frame's image as players show it, deinterlaced: its two fields were filmed a moment apart and are
    stored woven row by row, so whatever moved between them is combed. The top field's rows (0, 2, 4, ...) are kept
    and each row between them is the rounded mean of the rows above and below (the last one repeats the row above).
    The size stays, so masks keep the stored grid; the vertical detail lost is below what the model's input keeps.

    Args:
        image: uint8 (H, W, C), as stored.

    Returns:
        uint8 (H, W, C).
    """
    if image.shape[0] < 2:
        return image
    kept = image[0::2].astype(np.uint16)
    between = image.shape[0] // 2  # rows 1, 3, ...
    below = np.concatenate([kept[1:], kept[-1:]])[:between]
    out = image.copy()
    out[1::2] = ((kept[:between] + below + 1) // 2).astype(np.uint8)
    return out


def rgb_picture(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as the uint8 (H, W, 3) RGB picture an SDR screen shows: PyAV converts the YUV with the matrix
    and range the stream names; an HDR frame (HLG or PQ transfer) is converted to its SDR picture (`sdr_from_hdr`,
    docs/data.md#videos), its primaries taken as BT.2020 unless it names BT.709's."""
    transfer = HDR_TRANSFERS.get(frame.color_trc)
    if transfer is None:
        return frame.to_ndarray(format="rgb24")
    primaries = "bt709" if frame.color_primaries == BT709 else "bt2020"
    return sdr_from_hdr(frame.to_ndarray(format="rgb48le"), transfer, primaries)


# EXIF orientation (1 to 8) → (the counter-clockwise turn FFmpeg's `av_exif_orientation_to_matrix` sets, whether it
# then mirrors left to right), as FFmpeg builds a JPEG's display matrix from it.
EXIF_ORIENTATIONS = {1: (0, False), 2: (0, True), 3: (180, False), 4: (180, True), 5: (90, True), 6: (90, False),
                     7: (-90, True), 8: (-90, False)}


def picture_header(path: str) -> tuple[int | None, tuple[int, int]] | None:
    """(the EXIF orientation tag, 1 to 8, or None where it has none; the stored (width, height)) of an image file,
    read from its header with Pillow; None where Pillow cannot read it (not an image, or its EXIF unreadable).

    Raises:
        DataError: "corrupt_video" for a picture of more pixels than Pillow opens at all (twice its
            `MAX_IMAGE_PIXELS`, far past `MAX_FRAME_PIXELS`).
    """
    try:
        with warnings.catch_warnings():  # Pillow's warning of a large picture: the callers refuse it by its size
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                # A PNG's EXIF where it comes before the pixels (Pillow read it with the header): its `getexif`
                # otherwise decodes the whole picture to look for EXIF after them (6 ms a 1280 x 720 frame)
                exif = image.getexif() if image.format != "PNG" or "exif" in image.info else {}
                orientation, size = exif.get(0x0112), image.size
    except Image.DecompressionBombError as e:  # Pillow names the count alone: "Image size (225000000 pixels) ..."
        count = re.search(r"\((\d+) pixels\)", str(e))
        pixels = f"{int(count.group(1)):,}" if count else f"more than {2 * Image.MAX_IMAGE_PIXELS:,}"
        raise DataError(path, f"the picture declares a frame of {pixels} pixels, more than the {MAX_FRAME_PIXELS:,} a "
                              "frame may have (8K UHD, 7680 x 4320)", reason="corrupt_video") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    return (orientation if orientation in EXIF_ORIENTATIONS else None), size


def orientation_matrix(orientation: int) -> np.ndarray:
    """The display matrix (9 int32, 16.16 fixed point) FFmpeg gives a picture of this EXIF orientation:
    `av_display_rotation_set` of its turn, then `av_display_matrix_flip` where it mirrors."""
    degrees, mirrored = EXIF_ORIENTATIONS[orientation]
    return _rotation_matrix(degrees, mirrored)


def _rotation_matrix(degrees: float, mirrored: bool = False) -> np.ndarray:
    """`av_display_rotation_set(matrix, degrees)`, then `av_display_matrix_flip(matrix, 1, 0)` where mirrored."""
    radians = math.radians(-degrees)
    c, s = math.cos(radians), math.sin(radians)
    matrix = np.array([c * 65536, -s * 65536, 0, s * 65536, c * 65536, 0, 0, 0, 1 << 30])
    if mirrored:
        matrix[[0, 3, 6]] *= -1
    return np.round(matrix).astype(np.int32)


def _display_matrix(frame: av.VideoFrame, path: str) -> np.ndarray | None:
    """The frame's display matrix side data as 9 int32, or None.

    PyAV reads every side data of a frame to list them, and fails on a type it does not know: FFmpeg 8 gives a JPEG
    with EXIF data its EXIF as side data (type 31), and `frame.side_data` raises "31 is not a valid Type" (any camera
    JPEG). There the matrix is built from the picture's EXIF orientation, read with Pillow from the
    file `path`, as FFmpeg builds it: PyAV's `frame.rotation` keeps the turn alone, and a mirroring orientation (2, 4,
    5 and 7) came out turned half round or not at all. Where Pillow reads no orientation, the matrix is rebuilt from
    `frame.rotation` (av_display_rotation_get's degrees). (A folder's pictures: `_folder_orientations`.)"""
    try:
        side = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
    except ValueError:
        if (header := picture_header(path)) is not None and header[0] is not None:
            return None if header[0] == 1 else orientation_matrix(header[0])
        return _rotation_matrix(-frame.rotation) if frame.rotation else None
    return None if side is None else np.frombuffer(bytes(side), np.int32)


def _declared_frames(stream) -> int:
    """The frames a stream's container says it shows: its sample count, or fewer where its duration is shorter (an
    edit list that trims the video, as the iPhone's Photos app trims: 60 samples, 30 shown, which FFmpeg decodes);
    0 where it says nothing."""
    declared = stream.frames  # the container's count of samples; 0 where it has none
    if declared and stream.duration and stream.time_base and stream.average_rate:
        shown = round(float(stream.duration * stream.time_base * stream.average_rate))
        if 0 < shown < declared:  # (not "the file ends at frame 30 of the 60 its container declares")
            declared = shown
    return declared


@functools.lru_cache(maxsize=16)
def _folder_orientations(folder: str, stamp: tuple[int, int]) -> tuple[int | None, ...]:
    """Each frame's EXIF orientation (None: none) in a folder of frames, whose `source_stamp` is `stamp` (so that a
    folder changed since is read again). Image viewers turn each picture by its own orientation, and phones tag
    photos taken held one way and the other (6, then 8) at the same stored size; a folder's frames must show one
    size, checked here from the files' headers, before any frame is decoded.

    Raises:
        DataError: "corrupt_video" where two frames show different sizes (naming both files).
    """
    orientations, first = [], None
    for name in frame_files(folder)[0]:
        if (header := picture_header(os.path.join(folder, name))) is None:  # FFmpeg names it when it decodes it
            orientations.append(None)
            continue
        orientation, (width, height) = header
        shown = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        if first is None:
            first = (name, shown)
        elif shown != first[1]:  # (not refused midway, "as stored", after the masks of the frames before it)
            raise DataError(folder, f"frames of different sizes: {first[0]} shows {first[1][0]}x{first[1][1]}, "
                                    f"{name} {shown[0]}x{shown[1]} (width x height, turned as its EXIF says): a "
                                    "folder of frames holds the frames of one video", reason="corrupt_video")
        orientations.append(orientation)
    return tuple(orientations)


@functools.lru_cache(maxsize=None)
def _orientation_turn(orientation: int | None) -> Callable[[np.ndarray], np.ndarray]:
    """`upright`'s function for a picture of this EXIF orientation (None or 1: as stored)."""
    return upright(None if orientation in (None, 1) else orientation_matrix(orientation))


# Packets demuxed past frame `start` before their presentation order is taken as known (`_seek`): decoders hold back
# far fewer frames than this (H.264 and HEVC at most 16).
SEEK_MARGIN = 64


# A video that decodes to fewer than this share of the frames its container declares ends early (a download cut short
# with its index at the front); an edit list hides a few frames at most (a phone's first frame or two).
SHORT_OF_DECLARED = 0.9

# Decoders reorder frames by at most 16 (H.264, HEVC): a packet decoded later is shown no earlier than the frames
# decoded this many packets before it, unless its stream's times start again (`RunSplitter`).
REORDER_FRAMES = 17
RESET_S = 1.0  # ... and a new run lies more than a second, and these frames, below the latest time (`reset_ticks`)


def frame_rate(stream) -> fractions.Fraction | None:
    """A video stream's frame rate (its average, else FFmpeg's guess), or None. Read while its file is open: PyAV
    crashes the process (a segmentation fault) on a stream's rate once its container is closed."""
    return stream.average_rate or stream.guessed_rate or None


def reset_ticks(time_base, rate) -> float:
    """How far below the latest timestamp, in ticks of `time_base`, a packet that is no keyframe must lie to start a
    new run (`RunSplitter`): a second, or `REORDER_FRAMES` frames at `rate` where those are longer."""
    return max(RESET_S, REORDER_FRAMES / float(rate) if rate else 0.0) / float(time_base)


class RunSplitter:
    """Tells, packet by packet in decoding order, where a stream's times start again (streams joined end to end:
    `cat a.ts b.ts`, a camera's files joined): `starts_run(pts, keyframe)` is True for the first packet of each run
    after the first. A run starts at a keyframe shown no later than a frame decoded before it (H.264 and HEVC show
    every frame decoded before a keyframe before it), or, where a join cut a GOP, at a packet shown before each of
    the `REORDER_FRAMES` packets decoded before it, `reset` ticks (`reset_ticks`) below the latest. Neither happens
    where a camera paused (its frames jump forward; a B-frame decoded after the jump is shown before it: a reviewer's
    1-fps slideshow, and a paused camera's file, had been cut into runs by a threshold in seconds alone), nor at an
    open GOP's leading frames."""

    def __init__(self, reset: float):
        self.reset, self.top = reset, None
        self.recent: collections.deque[int] = collections.deque(maxlen=REORDER_FRAMES)

    def starts_run(self, pts: int, keyframe: bool) -> bool:
        new = self.top is not None and ((keyframe and pts <= self.top) or (
            pts < min(self.recent) and pts < self.top - self.reset))
        if new or self.top is None:
            self.top = pts
            self.recent.clear()
        self.top = max(self.top, pts)
        self.recent.append(pts)
        return new


def timestamp_runs(packets: Sequence[tuple[int, bool]], reset: float) -> list[list[int]]:
    """A stream's packets' (timestamp, is a keyframe) in decoding order → the timestamps in runs (`RunSplitter`),
    each a stream whose times go forward: one run for almost every video."""
    runs: list[list[int]] = []
    splitter = RunSplitter(reset)
    for pts, keyframe in packets:
        if splitter.starts_run(pts, keyframe) or not runs:
            runs.append([])
        runs[-1].append(pts)
    return runs


def presentation_stamps(packets: Sequence[tuple[int, bool]], reset: float) -> list[int]:
    """The timestamps of a stream's frames in the order they are shown: each run's (`timestamp_runs`) sorted, the
    runs in the file's order, as decoders show them."""
    return [pts for run in timestamp_runs(packets, reset) for pts in sorted(run)]


class Timeline:
    """Frame times (seconds) made to go forward, frame by frame in the order they are shown: where a frame's time is
    not after the one before it (streams joined end to end, whose times start again; a repeated timestamp), it is put
    one frame after it (the last step between two frames, else 1 / the stream's rate), and the frames after it keep
    their own spacing from there. Before, an overlay showed a joined file's second stream in a few milliseconds
    (each frame one tick after the last), its masks JSON gave times going back to 0, and `--start`/`--end` found
    frames among both streams' times sorted together. `frame_times` and the frames' reader (`iter_video_frames`'s
    `times`) give the same times."""

    def __init__(self, rate=None):
        self.fallback = 1.0 / float(rate) if rate else 1.0 / FRAMES_FOLDER_FPS  # (`frame_rate`)
        self.step, self.last, self.shift = None, None, 0.0

    def __call__(self, raw: float | None) -> float | None:
        if raw is None:
            return None
        time = raw + self.shift
        if self.last is not None:
            if time <= self.last:
                time = self.last + (self.step or self.fallback)
                self.shift = time - raw
            else:
                self.step = time - self.last
        self.last = time
        return time


def iter_video_frames(path: str, max_frames: int | None = None, *, damaged: str = "error",
                      times: MutableSequence | None = None, start: int = 0,
                      wanted: Callable[[int], bool] | None = None) -> Iterator[np.ndarray | None]:
    """Decodes a video file with PyAV one frame at a time (memory does not grow with the video's length).

    The file is opened, and a missing or unreadable one reported, when the first frame is asked for. Frames come out
    as players show them: turned by the video's display matrix (`upright`; the first decoded frame's matrix is used
    for every frame, as FFmpeg's tool does), deinterlaced where the decoder marks a frame interlaced (`top_field`),
    as players deinterlace, and an HDR video (a phone's HLG) as its SDR picture (`rgb_picture`).

    Args:
        path: an .mp4 (or any container FFmpeg reads), or a folder of PNG or JPEG frames (`frame_files`).
        max_frames: stop before frame `max_frames` (None: decode all).
        damaged: what a packet that FFmpeg cannot decode, or a frame in which it concealed a decoding error (its
            picture partly guessed, and later frames built on it), does. "error": a DataError at that frame (the
            converters: annotated frame k must be decoded frame k − 1, and a skipped packet would shift every later
            frame). "skip": the packet is skipped and the concealed frame shown, as players and FFmpeg's tool do (a
            truncated download plays up to where it ends), and a warning at the end names the file, the packets
            skipped and FFmpeg's reason, and the frames concealed (`acga predict`, docs/data.md#videos). A frame
            lost with a skipped packet is filled with the next good frame's picture, where the container's packets
            say when it was shown, so that frame k stays the container's frame k (else every later frame moves
            one place up: a mask PNG named for frame 10 would be frame 13's).
        times: where given (a list or deque), each yielded frame's presentation time in seconds (None where the
            container has none) is appended to it first, so a variable frame rate can be written back
            (`Mp4Writer.write(..., time=)`).
        start: the first frame to yield, counted from 0 in presentation order. Where the packets carry timestamps,
            the reader seeks to the last keyframe at or before it and decodes from there (`_seek`); otherwise, or
            where that misses, frames before it are decoded from the start and passed over unconverted.
        wanted: where given, a frame whose index it rejects is yielded as None, not converted to RGB (the conversion
            costs more than the decoding: 1.4 to 3.8 ms against 0.3 to 0.7 ms a 568 × 320 frame on a 2-core CPU).

    Yields:
        uint8 (H, W, 3) RGB frames, upright, from frame `start` (None where `wanted` rejects the frame); decoded index
        i is the 1-based annotated frame i + 1 (docs/data.md#datasets).

    Raises:
        DataError: reason "missing_video" if the file does not exist, "corrupt_video" if FFmpeg cannot decode it,
            it has no video frame (or only an audio file's cover picture), its frames change size, or it is text
            that FFmpeg would render as a picture of characters; "past_the_end" if no frame decodes from `start` on.
    """
    if damaged not in ("error", "skip"):
        raise ValueError(f"damaged must be 'error' or 'skip', got {damaged!r}")
    if start < 0:
        raise ValueError(f"start={start}: must be 0 or more")
    path = os.fspath(path)
    if (problem := video_file_problem(path)) is not None:
        error = DataError(path, problem, reason="missing_video")
        if (note := files.current_folder_note(path)) and problem.endswith(f" ({note})"):  # the server's folder: for
            error.message = problem.removesuffix(f" ({note})")  # the one at the command, not a service's client
        raise error
    index, count, shape, skipped, concealed, filled, last_time = 0, 0, None, [], [], [], None
    # a folder's frames are each turned by their own EXIF orientation, as viewers turn them (a video's by its first
    # frame's display matrix)
    orientations = _folder_orientations(path, source_stamp(path)) if os.path.isdir(path) else None
    try:
        for seek in (start > 0, False):  # a seek that misses its frame decodes from the start instead
            with open_video(path) as container:
                stream = video_stream(container)
                if stream is None:
                    raise DataError(path, no_video_reason(container, path), reason="corrupt_video")
                if stream.disposition & av.stream.Disposition.attached_pic:
                    raise DataError(path, "no video in the file: its only picture is a cover picture attached to "
                                          "its sound (a music or audio file)", reason="corrupt_video")
                declared = _declared_frames(stream)
                # Matroska and WebM declare no frame count, only a duration (a download cut short played to its cut
                # without a word, a reviewer's): its last frame is compared with it where the video is the file's
                # only stream (else the duration is the longest stream's: sound that runs on past the picture)
                lasting = ((container.duration / av.time_base,  # (its seconds, a frame's at the average rate)
                            1 / float(stream.average_rate) if stream.average_rate else 0.0)
                           if not declared and container.duration and "matroska" in container.format.name
                           and len(container.streams) == 1 else None)
                if stream.codec_context.name in TEXT_AS_VIDEO_CODECS:
                    raise DataError(path, f"not a video: a text file (FFmpeg's {container.format.name!r} reader "
                                          "would draw its characters as frames)", reason="corrupt_video")
                _check_size(path, stream.codec_context.width, stream.codec_context.height, "declares")
                target = _seek(container, stream, start) if seek else None
                if seek and target is None:
                    continue  # nothing to seek to, or no timestamps to find the frame by: decode from the start
                index, turn, skipped, concealed, filled, order = (None if seek else 0), None, [], [], [], None
                timeline = Timeline(frame_rate(stream))  # (fed each frame shown, those before `start` too)
                shown = None  # where the times go back (streams joined end to end): every frame's, from the packets

                def timed(k: int, raw: float | None) -> float | None:
                    """Frame `k`'s time: its own, made to go forward (`timeline`); where the times go back, the
                    packets' (`frame_times` in the stream's own seconds), as it gives them (a decoder can show the
                    frames around a join out of order: a tester's file joined inside a GOP was timed 1.6, then 3.04
                    and 4.52 s)."""
                    nonlocal shown
                    if (shown is None and raw is not None and timeline.last is not None
                            and raw + timeline.shift <= timeline.last):
                        shown = frame_times(path, relative=False) or []
                    if shown and k < len(shown):  # (past their end: on from the last)
                        time = shown[k]
                        if timeline.last is not None and time <= timeline.last:  # the packets count frames the
                            # decoder does not show (an open GOP's leading frames): forward all the same (a reviewer's)
                            time = timeline.last + (timeline.step or timeline.fallback)
                        timeline.last = time
                        return time
                    return timeline(raw)
                for frame in _decode(container, stream, skipped if damaged == "skip" else None):
                    if lasting and frame.time is not None:  # where it ends: its own duration where the container
                        # gives one (a still ending shown for seconds), else a frame at the average rate
                        last_time = frame.time + (float(frame.duration * frame.time_base) if frame.duration
                                                  and frame.time_base else lasting[1])
                    if turn is None and orientations is None:  # (a folder's frames: each by its own, below)
                        turn = upright(_display_matrix(frame, path), path)
                    if index is None:  # after the seek: frame `start` is the one with its timestamp
                        if frame.pts is None or frame.pts > target:
                            logger.debug("%s: seeking to frame %d missed it; decoding from the start", path, start)
                            break
                        if frame.pts < target:
                            continue
                        index = start
                    if index < start:  # passed over, counted by its place in the container: a damaged packet before
                        place = index  # `start` that decoded to nothing would else make frame `start` a later one's
                        if skipped and order is None:  # (a reviewer's: a resumed run's masks, one frame off)
                            order = _presentation_order(path, stream.index) or []
                        if skipped and order and frame.pts is not None:
                            place = max(bisect.bisect_left(order, frame.pts), index)
                        if place < start:
                            timed(place, frame.time)  # (a frame from `start` on is timed as it is yielded)
                            index = place + 1
                            continue
                        index = start  # frames lost from `start` on: filled below with this one's picture
                    if frame.is_corrupt:  # FFmpeg concealed a decoding error: its picture is partly guessed
                        if damaged == "error":  # later frames may be built on it: as if decoding stopped here
                            raise DataError(path, f"{_frame_named(path, index)} is damaged (FFmpeg concealed a "
                                                  "decoding error in it)", reason="corrupt_video")
                        concealed.append(index)
                    stored = (frame.width, frame.height)
                    if shape is None:  # where the stream's header did not say
                        _check_size(path, frame.width, frame.height, "has")
                    if orientations is not None:  # (a folder's sizes as shown were checked from its headers)
                        turn = _orientation_turn(orientations[min(index, len(orientations) - 1)])
                    elif shape is not None and stored != shape:
                        raise DataError(path, f"frames of different sizes: {shape[0]}x{shape[1]} then "
                                              f"{stored[0]}x{stored[1]} (width x height, as stored) at frame "
                                              f"{index + 1}",
                                        reason="corrupt_video")
                    gap = 0  # frames lost before this one: damaged packets that decoded to nothing
                    if skipped and order is None:  # the container's frames in order, lost ones included (read once)
                        order = _presentation_order(path, stream.index) or []
                    if order and frame.pts is not None:
                        gap = max(bisect.bisect_left(order, frame.pts) - index, 0)
                    picture, first = None, index
                    for k in range(first, first + gap + 1):  # the lost frames, filled with this one's picture
                        image = None
                        if wanted is None or wanted(k):
                            if picture is None:
                                picture = rgb_picture(frame)
                                picture = turn(top_field(picture) if frame.interlaced_frame else picture)
                            image = picture if k == first + gap else picture.copy()
                        if k < first + gap:
                            filled.append(k)
                        shape, index, count = stored, k + 1, count + 1
                        if times is not None:
                            times.append(timed(k, float(order[k] * stream.time_base) if k < first + gap
                                               else frame.time))
                        yield image
                        if max_frames is not None and index >= max_frames:
                            break
                    if max_frames is not None and index >= max_frames:
                        break
                if index is not None:
                    break
    except GeneratorExit:  # closed half-read (at exit too, where `av.FFmpegError` below may already be None:
        raise  # "TypeError: catching classes that do not inherit from BaseException is not allowed")
    except av.FFmpegError as e:
        if count == 0 and isinstance(e, av.InvalidDataError):  # FFmpeg could not make sense of the file at all
            raise DataError(path, unreadable_file(path, e), reason="corrupt_video") from None
        if count == 0 and (size := y4m_size(path)) is not None:  # FFmpeg refuses a YUV4MPEG header of too many
            _check_size(path, *size, "declares")  # pixels with "[Errno 16] Device or resource busy" (a tester's)
        if count == 0 and (cut := cut_short_mp4(path)):  # its index cut: FFmpeg's words differ by where
            raise DataError(path, cut, reason="corrupt_video") from None
        if count == 0 and isinstance(e, av.EOFError):  # a header and no frame ("cannot decode the video (EOFError:
            # [Errno 541478725] End of file: ...)", a reviewer's empty MKV)
            raise DataError(path, "the video has no frame: the file ends after its header", reason="corrupt_video"
                            ) from None
        raise DataError(path, f"cannot decode the video ({type(e).__name__}: {e})", reason="corrupt_video") from None
    if skipped and count:
        of = f" of the {declared} its container declares" if declared > index else ""
        logger.warning("%s: %d damaged packet%s skipped, as players skip them (FFmpeg: %s); %d frames decoded%s", path,
                       len(skipped), "" if len(skipped) == 1 else "s", skipped[0], index, of)
    elif (damaged == "skip" and count and index is not None and not (max_frames is not None and index >= max_frames)
          and index < SHORT_OF_DECLARED * declared):  # the file ended: a download cut short, its index whole
        logger.warning("%s: the file ends at frame %d of the %d its container declares (cut short?): segmented up to "
                       "where it ends", path, index, declared)
    elif (damaged == "skip" and count and index is not None and not (max_frames is not None and index >= max_frames)
          and lasting and last_time is not None and last_time < SHORT_OF_DECLARED * lasting[0]):
        logger.warning("%s: the file ends at frame %d, shown until %.2f s, of the %.2f s its container says it lasts "
                       "(cut short?): segmented up to where it ends", path, index, last_time, lasting[0])
    if filled:
        logger.warning("%s: %d frame%s lost to damaged packets (from %s on) filled with the next good frame's "
                       "picture, so that frame numbers stay the container's", path, len(filled),
                       "" if len(filled) == 1 else "s", _frame_named(path, filled[0]))
    if concealed and count:
        logger.warning("%s: %d damaged frame%s shown as FFmpeg concealed them (from %s on), as players show them",
                       path, len(concealed), "" if len(concealed) == 1 else "s", _frame_named(path, concealed[0]))
    if count == 0 and start:
        raise DataError(path, f"the video has no decodable frame from frame {start} on", reason="past_the_end")
    if count == 0:
        raise DataError(path, os.path.isdir(path) and _misnamed_frame(path) or "the video has no decodable frame",
                        reason="corrupt_video")


def _frame_named(path: str, index: int) -> str:
    """Frame `index` (0-based) as messages name it: by its number from 1, as mask PNGs and A2D's annotations number
    frames ("frame 6"; they said "frame 5"), and in a folder of frames by its file ("frame 6 (00006.png)")."""
    names = frame_files(path)[0] if os.path.isdir(path) else []
    return f"frame {index + 1}" + (f" ({names[index]})" if index < len(names) else "")


def unreadable_file(path: str, error: av.FFmpegError) -> str:
    """Why FFmpeg found no video in a file it could not read at all (its InvalidDataError, which says only "Invalid
    data found"): an empty file; an MP4 or MOV without its index (the `moov` box, which most recorders and encoders
    write last, so a download or recording cut short has none, and none of its frames can be found); else not a
    video FFmpeg reads (a text file, a document)."""
    said = getattr(error, "strerror", None) or str(error)
    if os.path.isdir(path):  # a folder of frames (`open_video`)
        return _misnamed_frame(path) or f"its frames cannot be read (FFmpeg: {said})"
    if os.path.getsize(path) == 0:
        return "the file is empty (0 bytes)"
    return cut_short_mp4(path) or f"not a video FFmpeg can read (FFmpeg: {said})"


# What each frame extension must hold (Pillow's names: a phone's JPEG with an MPF block is "MPO"): FFmpeg's image2
# reader picks its decoder by the folder's extension.
_FRAME_FORMATS = {".png": ("PNG",), ".jpg": ("JPEG", "MPO"), ".jpeg": ("JPEG", "MPO")}


def _misnamed_frame(folder: str) -> str | None:
    """Why FFmpeg could not read a folder's frames, where its first frame is not what its extension says (PNGs saved
    under `.jpg` names, as some exporters write them: "Invalid data found" named no file), or None. The first frame
    alone: FFmpeg's reader opens the folder on it (a folder of thousands of frames is not read again)."""
    names = frame_files(folder)[0]
    if not names:
        return None
    expected = _FRAME_FORMATS[os.path.splitext(names[0])[1].lower()]
    try:
        with Image.open(os.path.join(folder, names[0])) as image:
            found = image.format
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return f"its frame {names[0]} is not a PNG or JPEG picture Pillow can open"
    if found in expected:
        return None
    extension = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg"}.get(found)
    rename = f"name the frames {extension}" if extension else "save the frames as PNG or JPEG"
    return (f"its frame {names[0]} is a {found} picture, named as {expected[0]}: FFmpeg reads a folder's frames by "
            f"their extension; {rename}")


def y4m_size(path: str) -> tuple[int, int] | None:
    """(width, height) a YUV4MPEG2 file's header declares (`YUV4MPEG2 W1920 H1080 ...`), or None for any other file."""
    if os.path.isdir(path) or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        header = f.read(256).split(b"\n", 1)[0].split()
    if not header or header[0] != b"YUV4MPEG2":
        return None
    fields = {item[:1]: item[1:] for item in header[1:]}
    try:
        size = int(fields[b"W"]), int(fields[b"H"])
    except (KeyError, ValueError):
        return None
    return size if all(0 < side < 10 ** 7 for side in size) else None  # (else FFmpeg's own words)


def cut_short_mp4(path: str) -> str | None:
    """Why an MP4 or MOV cut short in or before its index (the `moov` box, which most recorders and encoders write
    last) shows no frame: it has no index, or its index is its last box and runs past the file's end. None for any
    other file (not an MP4, whole, or cut in its frames after a whole index).
    FFmpeg's own words for such a file differ by the byte it was cut at ("no video stream", "Invalid data", "End of
    file"); a file whose index is whole and whose frames are cut decodes up to its end, with a warning."""
    if os.path.isdir(path) or not os.path.isfile(path):
        return None
    boxes, size = _mp4_boxes(path), os.path.getsize(path)
    if not boxes or boxes[0][0] != b"ftyp":
        return None
    kinds = [kind for kind, _ in boxes]
    if b"moov" not in kinds:
        return ("an MP4 cut short before its index (no 'moov' box, which most recorders write last, as a download "
                "or a recording stopped early leaves it): none of its frames can be found")
    kind, end = boxes[-1]
    if kind == b"moov" and end > size:
        return (f"an MP4 cut short inside its index (the 'moov' box, which most recorders write last): {size:,} of "
                f"its {end:,} bytes are there, as a download or a copy stopped early leaves it; its frames cannot be "
                "found")
    return None


def _mp4_boxes(path: str, limit: int = 10_000) -> list[tuple[bytes, int]]:
    """The types of an MP4/MOV file's top-level boxes with where each says it ends, read from their headers alone (a
    seek per box), up to the file's end or the first header that does not fit; [] where the file does not start as
    one."""
    boxes, position, size = [], 0, os.path.getsize(path)
    with open(path, "rb") as f:
        while position + 8 <= size and len(boxes) < limit:
            f.seek(position)
            length, kind = struct.unpack(">I4s", f.read(8))
            if length == 1:  # a 64-bit size follows
                length = struct.unpack(">Q", f.read(8))[0]
            elif length == 0:  # to the file's end
                length = size - position
            if length < 8 or not kind.isascii():
                break
            position += length
            boxes.append((kind, position))
    return boxes


def _presentation_order(path: str, index: int) -> list[int] | None:
    """The presentation timestamps of a video stream's frames in order, read from its packets alone (`_stamps`: no
    decoding), the damaged ones' included; None where a packet has none, the file cannot be read, or its times start
    again (`timestamp_runs`)."""
    try:
        with open_video(path) as container:
            stream = container.streams[index]
            packets = list(_stamps(container, stream))
            reset = reset_ticks(stream.time_base, frame_rate(stream))
    except av.FFmpegError:
        return None
    if any(pts is None for pts, _ in packets) or len(timestamp_runs(packets, reset)) > 1:  # streams
        return None  # joined end to end: a frame's place cannot be found by its timestamp, which two frames may have
    return sorted(pts for pts, _ in packets)


def _check_size(path: str, width: int, height: int, verb: str, what: str = "the video") -> None:
    """Refuses frames of more than `MAX_FRAME_PIXELS` before they are decoded (or converted): a GIF of 75 bytes can
    declare 15000 × 15000 pixels, and the reader holds a clip's frames (0.7 GB each in RGB). `what`: the video, or
    the picture (a photo, a folder's frame)."""
    if width * height > MAX_FRAME_PIXELS:
        size = "frames" if what == "the video" else "a frame"
        raise DataError(path, f"{what} {verb} {size} of {width} x {height} pixels, more than the "
                              f"{MAX_FRAME_PIXELS:,} a frame may have (8K UHD, 7680 x 4320)", reason="corrupt_video")


def _seek(container: av.container.InputContainer, stream: av.VideoStream, start: int) -> int | None:
    """Seeks `container` to the last keyframe at or before frame `start` (presentation order); returns that frame's
    timestamp, by which the caller finds it among the frames decoded from there. None where it cannot help: a packet
    without timestamps, fewer frames than `start`, no keyframe after the first one before it, or times that start
    again before it (`timestamp_runs`).

    The frame order is read from the packets alone (demuxed, not decoded: about 0.04 ms a packet for 1080p H.264),
    up to the first keyframe `SEEK_MARGIN` packets past frame `start`. Packets the container marks to discard (an
    edit list's leading frames) are left out, as decoders leave them out. Leading frames after the keyframe that
    show before it (an open GOP) may not decode after a seek; they come before frame `start`, which is not one of them.
    """
    packets, keys = [], []  # the packets' (presentation timestamp, is a keyframe) in decoding order; the keyframes'
    for pts, keyframe in _stamps(container, stream):
        if pts is None:
            return None
        if keyframe:
            if len(packets) > start + SEEK_MARGIN:
                break
            keys.append(pts)
        packets.append((pts, keyframe))
    reset = reset_ticks(stream.time_base, frame_rate(stream))
    if len(packets) <= start or len(timestamp_runs(packets, reset)) > 1:  # (times that start again: a timestamp may
        return None  # be two frames')
    target = sorted(pts for pts, _ in packets)[start]
    before = [pts for pts in keys[1:] if pts <= target]  # the first keyframe is where decoding starts anyway
    if not before:
        return None
    try:
        # By the keyframe's presentation time: demuxers search their index by decoding time, which is no later, so
        # they land on that keyframe, not a later one (by its decoding time, MP4's B-frame offset led to the one
        # before it).
        container.seek(before[-1], stream=stream, backward=True, any_frame=False)
    except av.FFmpegError:  # a container that cannot seek
        return None
    return target


# A folder of frames read as a video (`open_video`): its images, in name order, at this rate (the A2D clips').
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")
FRAMES_FOLDER_FPS = 24


def natural_key(name: str) -> list:
    """`name` split into text and numbers, for sorting "row 2" before "row 14" ("00009.png" before "00010.png")."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def frame_files(folder: str) -> tuple[list[str], str | None]:
    """(the names of a folder of frames, in the order they are read, None), or ([], why it is not one): PNG or JPEG
    frames of one extension (J-HMDB's `00001.png`, ...; a DAVIS or A2D frames folder), read in name order. Hidden
    files (macOS's `._00001.png`, `.DS_Store`) and other files are passed over, as FFmpeg's glob passes them over.
    Refused: names whose order is not their numbers' (`1.png`, `10.png`, `2.png`; `00009.png`, `000010.png`), a
    frame name that is a folder, a broken link or an empty file (FFmpeg stops reading at an empty frame: the frames
    after it would be lost without a word)."""
    entries = sorted((entry for entry in os.scandir(folder) if not entry.name.startswith(".")
                      and os.path.splitext(entry.name)[1].lower() in FRAME_EXTENSIONS), key=lambda entry: entry.name)
    names = [entry.name for entry in entries]
    if not names:
        return [], "a folder with no PNG or JPEG frames in it, not a video file"
    if len(kinds := sorted({os.path.splitext(n)[1] for n in names})) > 1:
        case = ", written in one case" if len({kind.lower() for kind in kinds}) == 1 else ""  # (.jpg and .JPG)
        return [], (f"a folder of frames mixing {' and '.join(kinds)} names: FFmpeg reads one extension{case}; "
                    "rename them to one")
    for entry in entries:  # one stat a frame (a folder of 3,000 frames is listed a few times a command)
        try:
            status = entry.stat()  # through a link
        except FileNotFoundError:
            status = None
        except OSError as e:  # links that lead back to each other ("Too many levels of symbolic links")
            if e.errno != errno.ELOOP:
                raise
            return [], (f"its frame {entry.name} is a link that leads back to itself (through other links): a folder "
                        "of frames holds PNG or JPEG files alone")
        why = ("is a broken link" if status is None else "is a folder" if stat.S_ISDIR(status.st_mode)
               else "is not a file" if not stat.S_ISREG(status.st_mode) else "is empty (0 bytes)"
               if status.st_size == 0 else None)
        if why is not None:
            return [], f"its frame {entry.name} {why}: a folder of frames holds PNG or JPEG files alone"
    natural = sorted(names, key=natural_key)
    if natural != names:
        first = next(k for k, (a, b) in enumerate(zip(names, natural)) if a != b)
        return [], (f"its frames' names do not sort in the order of their numbers: name order puts {names[first]} "
                    f"before {natural[first]}; name them with one number of digits: 00001{kinds[0]}, "
                    f"00002{kinds[0]}, ...")
    return names, None


def frames_folder(folder: str) -> tuple[str | None, str | None]:
    """(FFmpeg's glob pattern of the folder's frames, None), or (None, why the folder is not one: `frame_files`)."""
    names, problem = frame_files(folder)
    return (None, problem) if problem is not None else (_glob_pattern(folder, names), None)


def _glob_pattern(folder: str, names: list[str]) -> str:
    """FFmpeg's glob pattern of a folder's frames (`frame_files`' names). FFmpeg's image2 reader calls glob(3) with
    GLOB_BRACE and backslash escapes: each character it would read as a pattern is escaped (a folder named
    `clip\\1` or `{a,b}` was not found)."""
    literal = re.sub(r"([\\*?\[\]{}])", r"\\\1", folder)
    return os.path.join(literal, "*" + os.path.splitext(names[0])[1])


def source_stamp(path: str) -> tuple[int, int]:
    """(size in bytes, last modification in ns) of a video file, or for a folder of frames over its frames (a frame
    replaced in place changes no folder's time): what tells a source changed since a result was made from it."""
    if not os.path.isdir(path):
        status = os.stat(path)
        return status.st_size, status.st_mtime_ns
    stats = [os.stat(os.path.join(path, name)) for name in frame_files(path)[0]]
    return sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)


def open_video(path: str) -> av.container.InputContainer:
    """`av.open` of a video file, or of a folder of frames (`frames_folder`: FFmpeg's image2 reader, at
    `FRAMES_FOLDER_FPS`).

    Raises:
        DataError: "corrupt_video" for a picture (a photo, or a folder's first frame) whose header declares more
            than `MAX_FRAME_PIXELS`: refused before FFmpeg opens it, since its probe decodes a picture whole (a 420
            KB PNG of 12000 x 12000 pixels took 414 MB and 0.44 s to be refused after).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        names, problem = frame_files(path)  # (listed once: its first frame's header, then FFmpeg's pattern)
        if problem is not None:
            raise av.InvalidDataError(0, problem, path)
        first = os.path.join(path, names[0])
        if (header := picture_header(first)) is not None:
            _check_size(first, *header[1], "declares", "the picture")
        return av.open(_glob_pattern(path, names), format="image2", options={"pattern_type": "glob",
                                                                             "framerate": str(FRAMES_FOLDER_FPS)})
    if os.path.isfile(path) and (header := picture_header(path)) is not None:
        _check_size(path, *header[1], "declares", "the picture")
    return av.open(path)


def video_file_problem(path: str) -> str | None:
    """Why `path` cannot be read as a video file, or None: missing, unreadable, a folder that holds no frames
    (`frames_folder`; a run given where the video goes, `predict(video, run, ...)`), or a pipe or a device
    (`<(curl ...)`, `/dev/stdin` from a pipe: a video is opened more than once, for its length and timing, then its
    frames, and seeked in; a FIFO's second open waited for a writer that had gone, for ever, and a pipe was "video
    file not found")."""
    if os.path.isfile(path):  # one this process may not read: named so (not "cannot decode the video
        # (PermissionError: ...)")
        reason = files.unreadable(path)
        return None if reason is None else f"cannot be read ({reason}): check its owner and permissions"
    if os.path.isdir(path):
        return frames_folder(path)[1]
    if os.path.exists(path):
        return ("a pipe or a device, not a video file: a video is read more than once and seeked in; save the stream "
                "to a file first (`cat > clip.mp4`)")
    if path == "-":
        return "standard input is not read as a video (a video is read more than once); save it to a file first"
    if os.path.islink(path):  # a link to nothing: not "not found", which sent the user looking for a missing file
        target = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))  # (from the link's folder)
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return "a link that leads back to itself (through other links), not a video file"
            if e.errno != errno.ENOENT:  # a folder on the way that cannot be searched, a file taken for a folder
                return f"a link to {target}, which cannot be reached ({e.strerror})"
        return f"a link to {target}, which does not exist"
    note = files.current_folder_note(path)
    return "video file not found" + (f" ({note})" if note else "")


def frame_times(path: str, until: float = math.inf, *, relative: bool = True) -> list[float] | None:
    """When each frame of a video file is shown: presentation times in seconds from its first frame, in order, read
    from the packets (demuxed, not decoded), up to the frames shown after `until` seconds. A variable frame rate (as
    phones record) has uneven ones: frame i is not at i / (average rate). None where a packet has no timestamp, as
    raw H.264 has none, or FFmpeg cannot read the file.

    Packets the container marks to discard (an edit list's leading frames) are left out, as decoders leave them out;
    reading stops `SEEK_MARGIN` packets past `until`, far more than decoders reorder. Times that start again (streams
    joined end to end) go on from the frame before (`Timeline`), as the frames' reader gives them; `relative=False`:
    in the stream's own seconds (the first frame at its timestamp), the reader's.
    """
    stamps, past, lowest, base, rate = [], 0, None, None, None
    for base, rate, pts, keyframe, new_run in _run_stamps(path):
        if pts is None:
            return None
        if new_run:  # times that start again (`Timeline`): read to the end
            until = math.inf
        stamps.append((pts, keyframe))
        lowest = pts if lowest is None else min(lowest, pts)
        if float((pts - lowest) * base) > until:
            past += 1
            if past > SEEK_MARGIN:
                break
    if not stamps:
        return None
    timeline = Timeline(rate)
    shown = [timeline(float(p * base)) for p in presentation_stamps(stamps, reset_ticks(base, rate))]
    return [t - shown[0] for t in shown] if relative else shown


def has_sound(path: str) -> bool:
    """Whether a video file has an audio stream (False for a folder of frames or a file FFmpeg cannot open)."""
    if os.path.isdir(path) or video_file_problem(os.fspath(path)) is not None:
        return False
    try:
        with open_video(path) as container:
            return any(stream.type == "audio" for stream in container.streams)
    except av.FFmpegError:
        return False


def times_start_again(path: str) -> int | None:
    """Where a video file's timestamps start again (streams joined end to end: `timestamp_runs`), the number (from
    1) of the first frame of the second run; None where they do not, or cannot be read (a folder of frames, a FIFO,
    a packet without a timestamp)."""
    if os.path.isdir(path):
        return None
    for count, (_, _, pts, _, new_run) in enumerate(_run_stamps(path)):
        if pts is None:
            return None
        if new_run:
            return count + 1
    return None


def _run_stamps(path: str) -> Iterator[tuple[fractions.Fraction, fractions.Fraction | None, int | None, bool, bool]]:
    """(the video stream's time base, its `frame_rate`, timestamp, is a keyframe, starts a run of timestamps:
    `RunSplitter`) of a video file's packets in decoding order (`_stamps`); none where FFmpeg cannot open it, it has
    no timed video stream, or it is a FIFO (opened once, by the frames' reader)."""
    if video_file_problem(os.fspath(path)) is not None:
        return
    try:
        with open_video(path) as container:
            stream = video_stream(container)
            if stream is None or stream.time_base is None:
                return
            base, rate = stream.time_base, frame_rate(stream)
            splitter = RunSplitter(reset_ticks(base, rate))
            for pts, keyframe in _stamps(container, stream):
                yield base, rate, pts, keyframe, pts is not None and splitter.starts_run(pts, keyframe)
    except av.FFmpegError:  # a file FFmpeg cannot open
        return


def _stamps(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[tuple[int | None, bool]]:
    """(presentation timestamp, is a keyframe) of the stream's packets in decoding order, read without decoding,
    leaving out the packets decoders leave out: empty ones; those the container marks to discard (an edit list's
    leading frames); and at the file's start, where a recorder split a recording inside a GOP, the packets before the
    first keyframe and, until the next keyframe, those shown before it (an open GOP's leading frames), which refer
    to frames the file does not hold (a tester's MPEG-TS cut inside a GOP: 33 packets, 24 frames decoded, so
    `--start` picked a frame one early). A stream without a keyframe keeps them all. Damaged data ends them: the
    packets before it still say where their frames are."""
    before: list[tuple[int | None, bool]] = []  # the packets before the first keyframe
    found, first, leading = False, None, True  # the first keyframe: found, its timestamp; its GOP's leading frames
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            pts, keyframe = packet.pts, packet.is_keyframe
            if not found:
                if not keyframe:
                    before.append((pts, keyframe))
                    continue
                found, first, before = True, pts, []
            elif keyframe:
                leading = False
            elif leading and pts is not None and first is not None and pts < first:
                continue
            yield pts, keyframe
    except av.FFmpegError:
        pass
    yield from before  # (no keyframe at all: every packet, as before)


def _decode(container: av.container.InputContainer, stream: av.VideoStream,
            skipped: list[str] | None) -> Iterator[av.VideoFrame]:
    """The frames of `stream`, packet by packet. Where `skipped` is a list, a packet FFmpeg cannot decode is left out
    and its error appended; otherwise the error propagates."""
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError as e:
            if skipped is None:
                raise
            skipped.append(f"{type(e).__name__}: {getattr(e, 'strerror', None) or e}")
            continue
        yield from frames


def read_video_frames(path: str, max_frames: int | None = None) -> np.ndarray:
    """Decodes a whole video file with PyAV into RGB frames (`iter_video_frames`, stacked).

    Returns:
        uint8 (N, H, W, 3) RGB; decoded index i is the 1-based annotated frame i + 1 (docs/data.md#datasets).

    Raises:
        DataError: as `iter_video_frames`.
    """
    return np.stack(list(iter_video_frames(path, max_frames)))


def read_png_frames(folder: str, numbers) -> np.ndarray:
    """Reads J-HMDB frames `<folder>/<k:05d>.png` (docs/data.md#datasets).

    Args:
        folder: the video's `Rename_Images/<action>/<video>` folder.
        numbers: 1-based frame numbers, in the order wanted.

    Returns:
        uint8 (len(numbers), H, W, 3) RGB.

    Raises:
        DataError: "missing_video" for a missing PNG, "corrupt_video" for an unreadable one or frames of
            different sizes.
    """
    folder = os.fspath(folder)
    frames = []
    for k in numbers:
        p = os.path.join(folder, f"{int(k):05d}.png")
        if not os.path.isfile(p):
            raise DataError(p, f"frame {int(k)} not found", reason="missing_video")
        try:
            with Image.open(p) as im:
                frames.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        except (OSError, UnidentifiedImageError) as e:
            raise DataError(p, f"cannot read the PNG ({e})", reason="corrupt_video") from None
    return _stack_frames(folder, frames, "no frame number given")


def _stack_frames(source: str, frames: list, empty_message: str) -> np.ndarray:
    """Stacks decoded frames into (n, H, W, 3), or raises a "corrupt_video" DataError naming `source`."""
    if not frames:
        raise DataError(source, empty_message, reason="corrupt_video")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise DataError(source, f"frames of different sizes: {sorted(shapes)}", reason="corrupt_video")
    return np.stack(frames)


def read_a2d_masks(path: str, instance_ids) -> tuple[np.ndarray, ...]:
    """Reads the masks of the given instances from an A2D `<fffff>.h5` (the reading rule of docs/data.md#datasets).

    `reMask` is `(N, W, H)`, or `(W, H)` when N == 1 (MATLAB transposition); mask k is `reMask[k].T`, indexed by
    the position of the instance id in `instance` (first match for duplicated ids; surplus masks ignored).

    Args:
        path: the .h5 file.
        instance_ids: instance ids to return, in order.

    Returns:
        One uint8 (H, W) {0, 1} mask per id.

    Raises:
        DataError: "bad_mask" if the file or its `instance`/`reMask` field is unreadable or malformed,
            "missing_instance" if an id is not in `instance` or has no mask.
    """
    path = os.fspath(path)
    try:
        with h5py.File(path, "r") as f:
            for key in ("instance", "reMask"):
                if key not in f:
                    raise DataError(path, f"field '{key}' is missing (keys: {sorted(f.keys())})", reason="bad_mask")
            instance = [int(x) for x in np.asarray(f["instance"]).reshape(-1)]
            masks = np.asarray(f["reMask"])
    except DataError:
        raise
    except (OSError, ValueError, TypeError) as e:
        raise DataError(path, f"cannot read the mask file ({e})", reason="bad_mask") from None
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3:
        raise DataError(path, f"field 'reMask' has shape {masks.shape}, expected (N, W, H) or (W, H)",
                        reason="bad_mask")
    out = []
    for iid in instance_ids:
        iid = int(iid)
        if iid not in instance:
            raise DataError(path, f"field 'instance' is {instance}: referred instance {iid} is absent",
                            reason="missing_instance")
        k = instance.index(iid)
        if k >= masks.shape[0]:
            raise DataError(path, f"field 'reMask' has {masks.shape[0]} masks, no mask for instance {iid} "
                                  f"(position {k} in 'instance' {instance})", reason="missing_instance")
        out.append((masks[k].T != 0).astype(np.uint8))
    return tuple(out)


def read_mask_image(path: str, value: int | None = None) -> np.ndarray:
    """Reads one actor's mask from an image of your own data (the rule of docs/data.md#your-own-data).

    A 1-bit image: its set pixels. A palette image whose colours are greys (black and white saved with a palette):
    as the greyscale picture it shows. Another palette image (DAVIS's, one index an object): the pixels of index
    `value` (whatever its transparency), or, where it uses one index besides 0, that index's; index 0 is the
    background (refused where it is not black and another index is: the picture's black would be the actor). A
    greyscale one (8 or 16 bits, or RGB whose three channels are equal, as editors save black and white): the pixels
    equal to `value`; else those at half the top level or more (128 of 255: a JPEG's or an antialiased edge's
    in-between greys go to the nearer side), and any non-zero pixel where the image's values are 0 and 1 only. With
    an alpha channel, a pixel less than half opaque is background, and where the shown pixels are all of one colour
    the opaque pixels are the actor (a cut-out saved by an editor: white, black or red, the shape in the alpha).

    Returns:
        uint8 (H, W) {0, 1}.

    Raises:
        DataError: "missing_mask" (no file), "bad_mask" (not an image, a colour one, an index mask of several
            objects without `value`, values that are no actor's: an id map given without `value`, or a JPEG read
            with `value`: its values are not kept at the edges),
            "empty_mask" (no pixel of the actor).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(path, "mask file not found", reason="missing_mask")
    try:
        with Image.open(path) as image:
            mode = image.mode
            if image.width * image.height > MAX_FRAME_PIXELS:
                raise DataError(path, f"{image.width}x{image.height} pixels, more than a frame may have",
                                reason="bad_mask")
            jpeg = image.format in ("JPEG", "MPO")  # (MPO: a phone's JPEG with a second picture after it)
            if value is not None and jpeg:  # exact values wanted, none kept at the edges
                raise DataError(path, f"an id map saved as JPEG, read for the pixels of value {value}: JPEG's "
                                      "compression changes values near every edge, so the actor would lose or gain "
                                      "pixels there; save it as PNG", reason="bad_mask")
            # A palette image with transparency, read for an index (DAVIS's masks with index 0 transparent, as some
            # tools save them) is an index mask; converted to RGBA, one object alone became the alpha's shape
            if mode == "PA" or (mode == "P" and "transparency" in image.info and value is None):  # a cut-out
                image, mode = image.convert("RGBA"), "RGBA"
            palette = np.asarray(image.getpalette() or [], np.int64).reshape(-1, 3) if mode == "P" else None
            pixels = np.asarray(image)
    except DataError:
        raise
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise DataError(path, f"cannot read the mask image ({e})", reason="bad_mask") from None
    opaque = None  # where an alpha channel says the pixel is shown
    if mode in ("RGBA", "LA") and pixels.ndim == 3:
        alpha = pixels[..., -1]
        pixels = pixels[..., :-1] if mode == "RGBA" else pixels[..., 0]
        if int(alpha.min()) < 255:
            opaque = alpha >= 128
            inside = pixels[opaque]  # the shown pixels' colours
            if len(inside) and (inside == inside[0]).all():  # one colour where shown: the alpha is the shape
                return opaque.astype(np.uint8)  # (else a white cut-out is the whole frame)
        mode = "RGB" if mode == "RGBA" else "L"
    if mode == "RGB" and pixels.ndim == 3:
        if not (np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2])):
            raise DataError(path, "a colour image: save each mask as a greyscale PNG (the actor white, or 1, on "
                                  "black), or as a palette PNG with the table's instance column naming the actor's "
                                  "index", reason="bad_mask")
        pixels = pixels[..., 0]
    if palette is not None and pixels.ndim == 2:
        pixels, mode = _palette_mask(path, pixels, palette, value)
    if pixels.ndim != 2:
        raise DataError(path, f"an image of mode {mode} is not a mask (greyscale, palette or black-and-white)",
                        reason="bad_mask")
    shown = pixels if opaque is None else np.where(opaque, pixels, 0)
    if value is not None:
        mask = shown == value
        if not mask.any():  # (its values looked at here alone: a sort of every pixel, for every mask read)
            values = np.unique(shown)
            top = 65535 if pixels.dtype == np.uint16 else 255
            if mode != "P" and values.tolist() == [0, top]:  # black and white: one actor's mask
                raise DataError(path, f"no pixel has the instance value {value}: a mask of one actor (its pixels "
                                      f"{top} on 0): leave the row's instance empty (it names an actor's value in an "
                                      "id map or a palette mask of several)", reason="bad_mask")  # (--keep-absent
                # kept it as absent)
            raise DataError(path, f"no pixel has the instance value {value} (values in the mask: "
                                  f"{_values(values)})", reason="empty_mask")
        return mask.astype(np.uint8)
    if mode in ("1", "P") or pixels.dtype == bool or int(pixels.max(initial=0)) <= 1:
        if jpeg and mode not in ("1", "P") and shown.any():  # (an own-data tester's lost a tenth of its actor's
            # pixels, unsaid; an all-black JPEG is an empty mask: `--keep-absent` keeps it)
            raise DataError(path, "a mask of 0 and 1 saved as JPEG: JPEG's compression rounds the 1s near its edges "
                                  "to 0, so the actor loses pixels; save it as PNG", reason="bad_mask")
        mask = shown != 0
    else:
        top = 255 if pixels.dtype == np.uint8 or int(pixels.max()) <= 255 else 65535
        objects = _grey_objects(shown)
        if len(objects) > 1:  # (else their union, or the brighter ones alone, is the actor)
            raise DataError(path, f"a greyscale id map of {len(objects)} objects (values {_values(objects)}): give "
                                  "the table's instance column the value of each row's actor", reason="bad_mask")
        mask = shown >= (top + 1) // 2
        if not mask.any() and shown.any():  # (not "the mask is empty", of a mask with an actor in it)
            raise DataError(path, f"no pixel is at half the top level or more (its values: {_values(shown)}): a "
                                  f"greyscale mask's actor is white ({top}), or 1 on 0; an id or class map needs the "
                                  "table's instance column naming the actor's value (a 0/1 mask saved as JPEG: save "
                                  "it as PNG)", reason="bad_mask")
    if not mask.any():
        raise DataError(path, "the mask is empty (no pixel of the actor); a sentence needs its actor in the frame",
                        reason="empty_mask")
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    if mask.mean() >= INVERTED_COVERAGE and border.all() and not mask.all():  # (an own-data tester's: stored as an
        # actor of 94% of the frame, the background, without a word)
        raise DataError(path, f"the actor covers {100 * mask.mean():.0f}% of the frame and all of its border, around "
                              f"{int(mask.size - mask.sum())} pixels that are not: a mask drawn black on white? The "
                              "actor is white (255), or 1, on black (0): invert the mask", reason="bad_mask")
    return mask.astype(np.uint8)


INVERTED_COVERAGE = 0.9  # an actor over this share of the frame and all of its border is taken for an inverted mask


def _palette_mask(path: str, indices: np.ndarray, palette: np.ndarray, value: int | None
                  ) -> tuple[np.ndarray, str]:
    """A palette mask's pixels and the mode to read them in: the greys it shows ("L") where its colours are greys,
    else its indices ("P"), checked (`read_mask_image`)."""
    used = np.unique(indices)
    colours = palette[np.minimum(used, len(palette) - 1)] if len(palette) else np.zeros((len(used), 3), np.int64)
    if len(palette) and (colours == colours[:, :1]).all() and value is None:  # black and white saved with a palette
        return palette[np.minimum(indices, len(palette) - 1), 0].astype(np.uint8), "L"
    if value is None:
        objects = [int(i) for i in used if i != 0]
        black = [i for i, colour in zip(used, colours) if i != 0 and not colour.any()]
        if black and 0 in used and colours[0].any():  # (else the picture's black is read as the actor)
            raise DataError(path, f"palette index 0, the background of an index mask, is the colour "
                                  f"{tuple(int(c) for c in colours[0])} and index {int(black[0])} is black: resave "
                                  "it with the background at index 0, or as a greyscale PNG", reason="bad_mask")
        if len(objects) > 1:  # (else every sentence of such a mask gets all its objects)
            void = " (255: VOC's void border)" if 255 in objects else ""
            raise DataError(path, f"an index mask of {len(objects)} objects (indices {_values(np.array(objects))}"
                                  f"{void}): give the table's instance column the index of each row's actor",
                            reason="bad_mask")
    return indices, "P"


GREY_OBJECT_INTERIOR = 16  # pixels of one grey value whose four neighbours have it too: a region of its own (a 6 x 6
# block has 16), however small beside the others (an id map's ball of 8 x 8 pixels beside a person of 6,300)


def _grey_objects(pixels: np.ndarray) -> np.ndarray:
    """The values of a greyscale mask above its darkest (the background) that each cover a region of their own,
    where the image holds few values (16 or fewer): an id map's objects (128 and 255 on 0). A value is such a region
    where it has pixels whose four neighbours have it too (a tenth or more of the pixels above the background, or
    `GREY_OBJECT_INTERIOR` of them however small it is: a ball beside a person was taken into the person's mask, or
    was the mask alone, without a word, an own-data reviewer's), and it does not enclose the brighter regions beside
    it: a value next to a brighter region is an object only where both meet the background (a ball at 128 held by a
    person at 255). The greys of an antialiased edge (a
    thin ring: no such pixels), of a feathered edge's few levels, of an outline or a trimap's band (each enclosing the
    brighter actor), or a patch inside the actor (no darker value beside it) are no object (diff reviewers': counted
    by size alone, such masks of one actor were refused); a JPEG-saved mask has many values. A small darker object
    wholly inside a brighter one, or a bright one wholly inside a darker one, is not seen."""
    values, counts = np.unique(pixels[pixels > pixels.min()], return_counts=True)
    if len(values) < 2 or len(values) > 16:  # (one value above the background: a mask, nothing more to look at)
        return values[:0]
    inner = pixels[1:-1, 1:-1]
    neighbours = (pixels[:-2, 1:-1], pixels[2:, 1:-1], pixels[1:-1, :-2], pixels[1:-1, 2:])
    held, inside = np.unique(inner[np.logical_and.reduce([inner == n for n in neighbours])], return_counts=True)
    interior = dict(zip(held.tolist(), inside.tolist()))
    background = int(pixels.min())
    sizes = dict(zip(values.tolist(), counts.tolist()))
    pairs = ((pixels[:-1], pixels[1:]), (pixels[:, :-1], pixels[:, 1:]))
    touching: dict[int, set[int]] = {}  # each value's neighbouring values
    for a, b in pairs:
        differ = a != b
        for x, y in set(zip(a[differ].tolist(), b[differ].tolist())):
            touching.setdefault(x, set()).add(y)
            touching.setdefault(y, set()).add(x)
    objects = []
    for value, count in zip(values.tolist(), counts.tolist()):
        own = interior.get(value, 0)
        if not own or not (count * 10 >= counts.sum() or own >= GREY_OBJECT_INTERIOR):
            continue
        brighter = [u for u in touching.get(value, ()) if u > value and sizes[u] >= GREY_OBJECT_INTERIOR]  # (not
        # a speck: a stray brighter pixel inside a ball hid it)
        if not brighter or (background in touching.get(value, ()) and any(background in touching[u]
                                                                            for u in brighter)):
            objects.append(value)
    return np.array(objects, values.dtype)


def _values(pixels: np.ndarray) -> str:
    """The first few distinct values of `pixels`, for a message: "0, 1, 2" or "0, 1, ... (300 values)"."""
    present = np.unique(pixels)
    return ", ".join(str(int(v)) for v in present[:8]) + (f", ... ({len(present)} values)" if len(present) > 8 else "")


def read_referral_masks(frame: AnnotatedFrame) -> tuple[np.ndarray, ...]:
    """The masks of your own data's annotated frame, one per referral (each image read once).

    Raises:
        DataError: `read_mask_image`'s, naming the first table row of that mask, with its `referral`.
    """
    read: dict[tuple[str, int | None], np.ndarray] = {}
    for r in frame.referrals:
        if (r.mask, r.mask_value) not in read:
            try:
                read[r.mask, r.mask_value] = read_mask_image(r.mask, r.mask_value)
            except DataError as e:
                if e.reason == "empty_mask" and r.absent_ok:  # the actor absent from the frame: an empty target
                    with Image.open(r.mask) as image:
                        read[r.mask, r.mask_value] = np.zeros(image.size[::-1], np.uint8)
                    continue
                absent = ("; an actor absent from its frame: --keep-absent keeps the row as an empty mask"
                          if e.reason == "empty_mask" else "")
                raise DataError(e.source, e.message + absent + _row_of(r), e.reason, referral=r) from None
    return tuple(read[r.mask, r.mask_value] for r in frame.referrals)


def _row_of(referral) -> str:
    """" (the row table:line)" for a message about a referral of your own data's table; "" where it has no row."""
    return f" (the row {referral.line})" if referral.line else ""


def without_bad_referrals(frame: AnnotatedFrame, error: DataError, window: int
                          ) -> tuple[AnnotatedFrame | None, LoadedSample | None, list[list[str]]]:
    """`--skip-bad` on a frame of your own data whose loading failed with `error`: where it is one sentence's own
    (`error.referral`: its mask), the frame without the sentences of that mask, loaded again, until it loads.

    Returns:
        (the frame, its sample), or (None, None) where none of its sentences is left or the error is the frame's own
        (its video); and the `skipped.csv` rows ([source, reason, message]): one per sentence left out, named by its
        table row (a video's error too), or one for a dataset's frame.
    """
    skipped: list[list[str]] = []
    while error.referral is not None and frame.dataset == "custom":
        bad = (error.referral.mask, error.referral.mask_value)
        message = error.message.removesuffix(_row_of(error.referral))
        skipped += [[r.line, error.reason, f"column 'mask': {error.source}: {message}"]
                    for r in frame.referrals if (r.mask, r.mask_value) == bad]
        frame = dataclasses.replace(frame, referrals=tuple(r for r in frame.referrals
                                                           if (r.mask, r.mask_value) != bad))
        if not frame.referrals:
            return None, None, skipped
        try:
            return frame, load_sample(frame, window), skipped
        except DataError as e:
            error = e
    if frame.dataset == "custom" and all(r.line for r in frame.referrals):  # each sentence by its table row
        column = "video" if error.source == frame.frames_path else "mask"  # (not the video's path alone)
        return None, None, skipped + [[r.line, error.reason, f"column {column!r}: {error.source}: "
                                                            f"{error.message.removesuffix(_row_of(r))}"]
                                      for r in frame.referrals]
    return None, None, skipped + [[error.source, error.reason, error.message]]


MAT_73 = ("a MATLAB v7.3 (HDF5) .mat file, which is not read: J-HMDB's puppet_mask.mat files are MATLAB v5 "
          "(re-save it in MATLAB with save(file, 'part_mask', '-v7'))")


def mat_num_frames(path: str) -> tuple[int, int, int]:
    """Shape (H, W, T) of `part_mask` in a J-HMDB `puppet_mask.mat`, read without loading the data.

    Raises:
        DataError: "bad_mask" if the file is unreadable or has no 3-D `part_mask`.
    """
    path = os.fspath(path)
    try:
        info = scipy.io.whosmat(path)
    except NotImplementedError:  # SciPy's "Please use HDF reader for matlab v7.3 files"
        raise DataError(path, MAT_73, reason="bad_mask") from None
    except (OSError, ValueError, TypeError, scipy.io.matlab.MatReadError) as e:  # (the last: a file cut short or
        # empty, "Mat file appears to be truncated", a traceback even with --skip-bad: a reviewer's)
        raise DataError(path, f"cannot read the .mat file ({e})", reason="bad_mask") from None
    shapes = {name: shape for name, shape, _ in info}
    if "part_mask" not in shapes:
        raise DataError(path, f"field 'part_mask' is missing (fields: {sorted(shapes)})", reason="bad_mask")
    shape = tuple(shapes["part_mask"])
    if len(shape) == 2:  # a single-frame mask is saved as (H, W)
        shape = (*shape, 1)
    if len(shape) != 3:
        raise DataError(path, f"field 'part_mask' has shape {shape}, expected (H, W, T)", reason="bad_mask")
    return shape  # type: ignore[return-value]


def read_jhmdb_mask(path: str, frame_number: int) -> np.ndarray:
    """The mask of 1-based frame `frame_number` from a J-HMDB `puppet_mask.mat`: `part_mask[:, :, k − 1]`.

    Returns:
        uint8 (H, W) {0, 1} (not transposed: scipy returns MATLAB's H × W × T order, docs/data.md#datasets).

    Raises:
        DataError: "bad_mask" for an unreadable file or field, "short_video" if the mask has fewer frames.
    """
    path = os.fspath(path)
    try:
        mat = scipy.io.loadmat(path, variable_names=["part_mask"])
    except NotImplementedError:
        raise DataError(path, MAT_73, reason="bad_mask") from None
    except (OSError, ValueError, TypeError, scipy.io.matlab.MatReadError) as e:
        raise DataError(path, f"cannot read the .mat file ({e})", reason="bad_mask") from None
    if "part_mask" not in mat:
        raise DataError(path, "field 'part_mask' is missing", reason="bad_mask")
    m = np.asarray(mat["part_mask"])
    if m.dtype.kind not in "biufc":  # a struct or cell array: "Cannot compare structured or void to non-void arrays"
        raise DataError(path, f"field 'part_mask' is a MATLAB {'struct' if m.dtype.names else 'cell or object'} "
                              "array, expected numbers (H x W x T)", reason="bad_mask")
    if m.ndim == 2:
        m = m[:, :, None]
    if m.ndim != 3:
        raise DataError(path, f"field 'part_mask' has shape {m.shape}, expected (H, W, T)", reason="bad_mask")
    if not 1 <= frame_number <= m.shape[2]:
        raise DataError(path, f"field 'part_mask' has {m.shape[2]} frames, no frame {frame_number}",
                        reason="short_video")
    return (m[:, :, frame_number - 1] != 0).astype(np.uint8)


def _count_pngs(folder: str) -> int:
    n = 0
    while os.path.isfile(os.path.join(folder, f"{n + 1:05d}.png")):
        n += 1
    return n


def load_sample(frame: AnnotatedFrame, window: int) -> LoadedSample:
    """Loads the clip window and the referral masks of one annotated frame.

    The window holds zero-based indices `[c − window//2, c + (window+1)//2)` with `c = frame_number − 1`,
    clamped to the usable frames; each distinct frame is stored once (docs/data.md#datasets). `load_samples` loads
    several frames of one video with one decoding.

    Args:
        frame: from `read_a2d` or `read_jhmdb`.
        window: clip length T.

    Returns:
        A `LoadedSample`.

    Raises:
        DataError: "missing_video"/"corrupt_video" (frames), "short_video" (fewer frames than the annotated
            index), "bad_mask"/"missing_instance" (masks), "mask_size" (mask size differs from the frame size).
        ValueError: unknown `frame.dataset` or bad `window`.
    """
    ((_, sample),) = load_samples([frame], window)
    if isinstance(sample, DataError):
        raise sample
    return sample


def load_samples(frames: Sequence[AnnotatedFrame], window: int
                 ) -> Iterator[tuple[AnnotatedFrame, LoadedSample | DataError]]:
    """Loads annotated frames in order, each as `load_sample` would, with the A2D frames of one video next to each
    other decoded together: the video once, up to the last of their windows (A2D annotates 3 to 5 frames a video,
    spread over it; one at a time, each decoding ran from the video's start).

    Args:
        frames: from `read_a2d` or `read_jhmdb`, frames of one video next to each other (the converter sorts them).
        window: clip length T.

    Yields:
        (frame, its `LoadedSample`, or the `DataError` that `load_sample` raises for it), in the order of `frames`.

    Raises:
        ValueError: unknown `frame.dataset` or bad `window`.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    for (dataset, _), group in itertools.groupby(frames, key=lambda f: (f.dataset, f.frames_path)):
        group = list(group)
        if dataset == "a2d":
            results = _video_samples(group, window,
                                     lambda f: read_a2d_masks(f.mask_path, [r.instance_id for r in f.referrals]))
        elif dataset == "custom":
            results = _video_samples(group, window, read_referral_masks)
        elif dataset == "jhmdb":
            results = [_attempt(_jhmdb_sample, f, window) for f in group]
        else:
            raise ValueError(f"{group[0].key}: unknown dataset {dataset!r}, expected 'a2d', 'jhmdb' or 'custom'")
        yield from zip(group, results)


def _attempt(load: Callable, *args) -> LoadedSample | DataError:
    try:
        return load(*args)
    except DataError as e:
        return e


def _video_samples(group: list[AnnotatedFrame], window: int,
                   read_masks: Callable[[AnnotatedFrame], tuple[np.ndarray, ...]]) -> list[LoadedSample | DataError]:
    """The samples of annotated frames of one video file (A2D's, or your own), from one decoding of it up to the end
    of their last window; `read_masks` gives a frame's masks, one per referral.

    Each frame's result is what decoding up to the end of its own window gives: where the video ends or a decoding
    error comes after that end, it does not touch the frame. Frames outside every window are neither converted to RGB
    nor kept.
    """
    results: list = [_attempt(read_masks, f) for f in group]
    pending = [i for i, r in enumerate(results) if not isinstance(r, DataError)]
    if not pending:
        return results
    centers = {i: group[i].frame_number - 1 for i in pending}
    stops = {i: c + (window + 1) // 2 for i, c in centers.items()}  # decode no further than each window's end
    spans = [(max(0, c - window // 2), stops[i]) for i, c in centers.items()]
    kept, decoded, error = {}, 0, None

    def in_a_window(index: int) -> bool:
        return any(low <= index < high for low, high in spans)
    try:
        for image in iter_video_frames(group[0].frames_path, max_frames=max(stops.values()), wanted=in_a_window):
            if image is not None:
                kept[decoded] = image
            decoded += 1
    except DataError as e:  # it stops the frames whose window had not been decoded, and only those
        error = e
    for i in pending:
        frame, c = group[i], centers[i]
        if stops[i] > decoded and error is not None:  # your own data's: the table's row too (a video cell naming
            # the table itself was "not a video FFmpeg can read" of the file alone: an own-data reviewer's)
            rows = [r.line for r in frame.referrals if r.line]
            results[i] = (DataError(error.source, f"{error.message} (the row {rows[0]})", error.reason)
                          if rows and "(the row " not in error.message else error)
            continue
        available = min(stops[i], decoded)  # what decoding up to this frame's window's end gave
        if available <= c:
            results[i] = DataError(frame.frames_path, f"the video has {counted(available, 'frame')}, fewer than "
                                                      f"annotated frame {frame.frame_number} ({_annotated_in(frame)})",
                                   reason="short_video")
            continue
        first, last = window_bounds(c, window, available)
        results[i] = _attempt(_sample, frame, np.stack([kept[k] for k in range(first, last + 1)]), c - first, first,
                              results[i])
    return results


def _annotated_in(frame: AnnotatedFrame) -> str:
    """Where a frame's annotation is, for a message about the frame: the table row ("path:line") of its first sentence,
    or its mask file where no row is known."""
    rows = [r.line for r in frame.referrals if r.line]
    return f"the row {rows[0]}" if rows else frame.mask_path


def _jhmdb_sample(frame: AnnotatedFrame, window: int) -> LoadedSample:
    c, usable = frame.frame_number - 1, frame.num_frames
    if usable is None:
        usable = min(_count_pngs(frame.frames_path), mat_num_frames(frame.mask_path)[2])
    if not 0 <= c < usable:
        raise DataError(frame.frames_path, f"{usable} usable frames, fewer than annotated frame "
                                           f"{frame.frame_number} ({_annotated_in(frame)})", reason="short_video")
    mask = read_jhmdb_mask(frame.mask_path, frame.frame_number)
    first, last = window_bounds(c, window, usable)
    return _sample(frame, read_png_frames(frame.frames_path, range(first + 1, last + 2)), c - first, first,
                   tuple(mask for _ in frame.referrals))


def _sample(frame: AnnotatedFrame, frames: np.ndarray, center: int, first: int,
            masks: tuple[np.ndarray, ...]) -> LoadedSample:
    """The sample, once each mask is checked to have the frames' size."""
    h, w = frames.shape[1:3]
    for m, r in zip(masks, frame.referrals):
        if m.shape != (h, w):
            swapped = " (its width and height swapped: transposed?)" if m.shape == (w, h) else ""
            which = "the mask" if r.mask else f"the mask of instance {r.instance_id}"  # (your own data: its file)
            raise DataError(r.mask or frame.mask_path, f"{which} is {m.shape[0]}x{m.shape[1]} "
                                                       f"(HxW), the frames of {frame.frames_path} are {h}x{w}{swapped}"
                                                       + (_row_of(r) if r.mask else ""),
                            reason="mask_size", referral=r if r.mask else None)
    return LoadedSample(frames=frames, center=center, masks=masks, height=int(h), width=int(w), first_index=first)


# Ticks a second of an MP4 written with its source's frame times: whole ticks a frame at 24, 25, 30, 50, 60 and
# 29.97 fps, and at most 65535 as MPEG-4 Part 2 requires.
TIME_SCALE = 60000
# The longest time between two frames an MP4 is written with (1.24 hours at TIME_SCALE): its frames' offsets are
# signed 32-bit counts of ticks (9.94 hours), and with the encoder's reordering one spans a few frames' gaps: two
# gaps of 3.3 hours failed at closing ("Not yet implemented in FFmpeg"), or wrapped around. An eighth of it is safe.
MAX_FRAME_GAP_TICKS = 2**28


class Mp4Writer:
    """Encodes uint8 (H, W, 3) RGB frames one at a time as H.264 yuv420p (MPEG-4 Part 2 where libx264 is missing).

    Colours are converted with BT.709's matrix and the stream says so (matrix, primaries and transfer BT.709, limited
    range). Untagged, FFmpeg converted them with SD's BT.601 while browsers and players read an untagged HD video
    with BT.709's: red (200, 30, 30) showed as (215, 46, 30) in Chromium (docs/data.md#videos).

    yuv420p needs even sizes: odd-sized frames get their last row/column repeated. Use as a context manager; the
    stream is set up by the first frame. Frames are 1 / fps apart, or, where `write` is given each frame's time (a
    variable frame rate, as phones record), at those times counted from the first one.

    Args:
        path: the .mp4 to write.
        fps: frame rate (a float is kept as an exact fraction, e.g. 29.97).
        options: encoder options (e.g. {"qp": "12"} for byte-identical output); libx264 ones are dropped for mpeg4.
        sample_aspect: the pixels' aspect ratio where it is not 1 (an anamorphic source's, e.g. 32/27 for a
            720 × 480 picture shown 16:9), so that players stretch the frames as they stretch the source's.
        name: the file warnings name, where `path` is a temporary name (the overlay's `.tmp`).
    """

    def __init__(self, path: str, fps: float = 24, options: dict | None = None,
                 sample_aspect: fractions.Fraction | None = None, name: str | None = None):
        self.name = name or os.fspath(path)  # what warnings call it: the file it becomes, not its temporary name
        self.codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self.fps, self.options, self.count, self.sample_aspect = fps, options, 0, sample_aspect
        self.container = av.open(os.fspath(path), "w", format="mp4")
        self.stream, self.start, self.pts, self.cut = None, None, -1, 0  # cut: ticks taken out of gaps too long
        self.failed = False  # a write failed (a full disk): the file is closed without flushing (`abandon`)

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Encodes one uint8 (H, W, 3) frame (every frame the size of the first).

        Args:
            image: the frame.
            time: its time in seconds. Given with the first frame, every frame is placed at its time minus the
                first's (a later frame without one comes 1 / fps after the one before); otherwise frames are
                1 / fps apart.
        """
        pad_h, pad_w = image.shape[0] % 2, image.shape[1] % 2
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        if self.stream is None:
            self.stream = self.container.add_stream(self.codec,
                                                    rate=fractions.Fraction(self.fps).limit_denominator(1001))
            self.stream.width, self.stream.height = int(image.shape[1]), int(image.shape[0])
            self.stream.pix_fmt = "yuv420p"
            context = self.stream.codec_context  # BT.709, said in the stream, as players read it (the class docstring)
            context.colorspace, context.color_primaries, context.color_trc = BT709, BT709, BT709
            context.color_range = int(ColorRange.MPEG)
            if self.options:
                self.stream.options = self.options if self.codec == "libx264" else {"qscale": "2"}
            if self.sample_aspect is not None:
                self.stream.codec_context.sample_aspect_ratio = fractions.Fraction(self.sample_aspect)
            if time is not None:
                self.start = time
                self.stream.codec_context.time_base = fractions.Fraction(1, TIME_SCALE)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24").reformat(
            format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
        if self.start is None:
            frame.pts = self.count
        else:
            ticks = (round((time - self.start) * TIME_SCALE) - self.cut if time is not None
                     else self.pts + TIME_SCALE / self.fps)
            if ticks - self.pts > MAX_FRAME_GAP_TICKS:  # (a camera's hours without motion): else the file cannot
                # be closed ("Not yet implemented in FFmpeg") or its times wrap around
                self.cut += ticks - self.pts - MAX_FRAME_GAP_TICKS
                logger.warning("%s: frame %d comes %.1f hours after the one before it, more than an MP4 is written "
                               "with between two frames: it and later frames are written %.1f hours early",
                               self.name, self.count + 1, (ticks - self.pts) / TIME_SCALE / 3600,
                               self.cut / TIME_SCALE / 3600)
                ticks = self.pts + MAX_FRAME_GAP_TICKS
            self.pts = frame.pts = max(int(round(ticks)), self.pts + 1)  # strictly increasing
            frame.time_base = fractions.Fraction(1, TIME_SCALE)
        self.count += 1
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        except BaseException:
            self.failed = True
            raise

    def close(self) -> None:
        """Flushes the encoder and closes the file (after a failed write, `abandon`s it)."""
        if self.failed:
            self.abandon()
            return
        try:
            if self.stream is not None:
                for packet in self.stream.encode():
                    self.container.mux(packet)
            self.container.close()
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Closes the file without flushing the encoder into it, whatever state a failure left: flushed into a muxer
        whose write had failed (a full disk), FFmpeg wrote the file's header again and the process died of a
        segmentation fault (`acga demo` into a full disk, status 139). The file is the caller's to remove."""
        self.failed = True
        self.stream = None
        with contextlib.suppress(Exception):
            self.container.close()

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            self.abandon()
        else:
            self.close()


def write_mp4(path: str, frames: np.ndarray, fps: float = 24, options: dict | None = None) -> str:
    """Encodes uint8 (T, H, W, 3) RGB frames with `Mp4Writer`, atomically (`files.atomic_path`: a failed write,
    a full disk, leaves no file cut short).

    Returns:
        The codec used.
    """
    with files.atomic_path(os.fspath(path)) as temporary, Mp4Writer(temporary, fps, options) as writer:
        for image in frames:
            writer.write(image)
    return writer.codec


# The sampling rates AAC has (the MP4 overlay's audio); another source rate is resampled to 48 kHz
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def add_audio(video_only: str, source: str, output: str, start: float, end: float) -> bool:
    """Where `source` has sound, writes `output` and returns True: the MP4 `video_only`'s video stream, copied as it
    is, with the audio of `source` shown from `start` until `end` seconds (the source's own times, as its frames'
    `time`), encoded as AAC, starting at the output's 0 as the video does. The channels stay as they are (mono,
    stereo, 5.1, 7.1: `aac_layout`). Every audio track is kept, in its order, with its language and title (a
    screen recording's desktop sound and microphone, a camera's separate tracks); players play the first. A track
    FFmpeg has no decoder for is left out with a warning (`_aac_packets` for gaps and damage). Without an audio
    stream, writes nothing and returns False.

    Raises:
        ValueError: FFmpeg has no decoder for any of the sound's tracks.
        av.FFmpegError: the audio cannot be decoded or encoded.
    """
    source = os.fspath(source)
    if os.path.isdir(source):  # a folder of frames has no sound
        return False
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(av.open(source))
        tracks = [s for s in src.streams if s.type == "audio"]
        if not tracks:
            return False
        decodable = [s for s in tracks if has_decoder(s)]
        for number, track in enumerate(tracks, 1):
            if track not in decodable:
                message = f"{source}: FFmpeg has no decoder for its sound ({track.codec_tag or 'unknown codec'})"
                if not decodable:
                    raise ValueError(message)
                logger.warning("%s: audio track %d of %d left out", message, number, len(tracks))
        vid = stack.enter_context(av.open(os.fspath(video_only)))
        out = stack.enter_context(av.open(os.fspath(output), "w", format="mp4"))
        video_in = vid.streams.video[0]
        video_out = out.add_stream_from_template(video_in)
        sounds = []
        for k, track in enumerate(decodable):
            context = track.codec_context
            rate = context.sample_rate if context.sample_rate in AAC_RATES else 48000
            audio_out = out.add_stream("aac", rate=rate)
            audio_out.layout = aac_layout(context.layout, rate)
            audio_out.bit_rate = 64000 * len(audio_out.layout.channels)
            # MP4 reads a track's title back as "name"; players show "handler_name" as the track's name
            named = {"language": "language", "title": "title", "name": "title", "handler_name": "handler_name"}
            audio_out.metadata.update({named[key]: value for key, value in track.metadata.items()
                                       if key in named and value})
            # each track is read through its own opening of the file: one demuxer cannot be read at two places
            reader = src if k == 0 else stack.enter_context(av.open(source))
            sounds.append(_aac_packets(reader, reader.streams[track.index], audio_out, start, end))

        def video_packets():
            for packet in vid.demux(video_in):
                if packet.dts is not None:  # the demuxer's last, empty packet
                    packet.stream = video_out
                    yield packet

        def timed(packets, order):  # (time, stream order, count, packet): the muxer gets them interleaved
            return ((float(p.dts * p.time_base), order, k, p) for k, p in enumerate(packets))

        for *_, packet in heapq.merge(timed(video_packets(), 0),
                                      *(timed(sound, k + 1) for k, sound in enumerate(sounds))):
            out.mux(packet)
    return True


def has_decoder(stream: av.stream.Stream) -> bool:
    """Whether FFmpeg can decode `stream` (PyAV gives a stream of a codec it does not know no codec context)."""
    return stream.codec_context is not None


def aac_layout(layout: av.AudioLayout, rate: int) -> str:
    """The source's channel layout where FFmpeg's AAC encoder takes it (mono to 7.1), else stereo.

    Keeping the channels keeps the sound as it was: mixed down to stereo (by FFmpeg's matrix, which adds the centre
    and the surrounds to each side at 0.707), 5.1 or 7.1 sound at half scale peaked at 1.25 to 1.59, past full scale,
    and was clipped. Players mix down themselves, to what the room has. A layout the encoder refuses (an order it
    does not know; channels in no named order, as FFmpeg's AAC decoder reports some: "6 channels") is mixed down to
    stereo, as before."""
    name = layout.name
    if name in ("mono", "stereo"):
        return name
    try:
        encoder = av.CodecContext.create("aac", "w")
        encoder.sample_rate, encoder.layout, encoder.format = rate, name, "fltp"
        encoder.open()
    except (av.FFmpegError, ValueError):
        return "stereo"
    return name


def _aac_packets(source, stream, out_stream, start: float, end: float) -> Iterator:
    """The packets of `stream`'s audio from `start` until `end` seconds, resampled to `out_stream`'s rate and layout
    and cut to the sample, timed from `start` (0 there), encoded by `out_stream`.

    Each decoded piece is placed at its own time, as players place it: a gap in the stream's times (a recorder that
    dropped sound) becomes silence, so the sound after it stays in step with the picture (else it is closed up
    and plays a second early after a one-second gap). A packet that cannot be decoded is skipped, as the video
    reader skips damaged frames, and a file cut short gives its sound up to the cut; how many were skipped is
    logged."""
    rate = out_stream.codec_context.sample_rate
    layout = out_stream.layout.name
    channels = len(out_stream.layout.channels)
    # Packed samples (one plane): PyAV 18 mishandles planar frames of 8 channels (7.1), and the encoder converts
    resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
    first, last = round(start * rate), round(end * rate)
    if start > 1:  # seek to the packet before `start` (a part of a long video)
        source.seek(max(int((start - 1) / stream.time_base), 0), stream=stream, backward=True)
    skipped = [0]

    def decoded():
        packets = source.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as e:  # a file cut short: its sound up to the cut
                if isinstance(e, OSError) and not isinstance(e, av.EOFError):
                    raise
                skipped[0] += 1
                break
            try:
                yield from packet.decode()
            except av.FFmpegError as e:  # a damaged packet: skipped, its time left silent
                if isinstance(e, OSError):
                    raise
                skipped[0] += 1
        yield None  # flushes the resampler

    def encoded(samples: np.ndarray, at: int):  # (channels, n) float samples whose first is sample `at`
        begin, stop = max(first - at, 0), min(last - at, samples.shape[1])
        if begin >= stop:
            return
        cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, begin:stop].T.reshape(1, -1),
                                                              dtype=np.float32), format="flt", layout=layout)
        cut.sample_rate, cut.time_base, cut.pts = rate, fractions.Fraction(1, rate), at + begin - first
        yield from out_stream.encode(cut)

    position = None  # the next sample's number, from the source's time 0: where the sound written so far ends
    for frame in decoded():
        for piece in resampler.resample(frame):
            at = round(piece.pts * piece.time_base * rate) if piece.pts is not None else position
            at = first if at is None else at
            if position is not None and at > position:  # a gap in the stream's times: silence, up to `last`
                gap = min(at, max(last, position)) - position
                for offset in range(0, gap, rate):
                    yield from encoded(np.zeros((channels, min(rate, gap - offset)), np.float32), position + offset)
            samples = piece.to_ndarray().reshape(-1, channels).T  # packed (1, n × channels) → (channels, n)
            if position is not None and at < position:  # overlapping times: the part already written is dropped
                samples, at = samples[:, position - at:], position
            yield from encoded(samples, at)
            position = at + samples.shape[1]
        if position is not None and position >= last:
            break
    if skipped[0]:
        logger.warning("%s: %d damaged audio packet(s) skipped (silent there)", source.name, skipped[0])
    yield from out_stream.encode(None)
