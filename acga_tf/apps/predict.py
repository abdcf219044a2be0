"""Segment the actor a sentence describes in every frame of a video (docs/data.md#clips, docs/evaluation.md#protocol).

Frame i's clip is the T frames centred on i with the first/last frame repeated past the video's ends (the data
pipeline's `clip_indices`, docs/data.md#clips). Clips are batched through the model; each prediction is σ(logits)
thresholded at 0.5 × its own maximum and mapped back to the frame's H × W by inverting the letterbox
(docs/evaluation.md#protocol), exactly as the evaluator does.

The video is decoded once and each frame is letterboxed and scaled once: a rolling window keeps only the
preprocessed frames that the current and later batches still need, so memory stays bounded for long videos.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable

import av
import numpy as np
import tensorflow as tf
from PIL import Image

from acga_tf.data.text import tokenize_py
from acga_tf.data.video import read_video_frames, write_mp4
from acga_tf.ops.geometry import clip_indices, preprocess_clip
from acga_tf.ops.postprocess import logits_outputs
from acga_tf.training.artifacts import TrainedModel, load_trained

logger = logging.getLogger(__name__)

DEFAULT_FPS = 24.0  # used for arrays given without fps (the A2D clips' rate)
OVERLAY_COLOR = (255, 40, 40)  # RGB of the predicted mask in overlays
OVERLAY_ALPHA = 0.5
OVERLAY_FORMATS = (".mp4", ".gif")


@dataclasses.dataclass
class PredictionResult:
    """Per-frame predictions of one query on one video.

    Attributes:
        masks: uint8 (N, H, W) in {0, 1}: the evaluated prediction (docs/evaluation.md#protocol) of every frame at the
        video's size.
        probabilities: float32 (N, H, W): σ(logits) mapped back to H × W (bilinear).
        fps: frames per second of the video (for writing overlays).
        query: the sentence.
    """

    masks: np.ndarray
    probabilities: np.ndarray
    fps: float
    query: str

    @property
    def num_frames(self) -> int:
        return int(self.masks.shape[0])

    @property
    def height(self) -> int:
        return int(self.masks.shape[1])

    @property
    def width(self) -> int:
        return int(self.masks.shape[2])


def check_query(query: str) -> str:
    """Returns the query stripped.

    Raises:
        ValueError: the query has no word (letters or digits) after tokenization.
    """
    if not isinstance(query, str) or not tokenize_py(query):
        raise ValueError(f"query is empty: {query!r} has no word (letters or digits)")
    return query.strip()


def video_fps(path: str, default: float = DEFAULT_FPS) -> float:
    """The average frame rate of a video file (its container metadata; nothing is decoded), or `default`."""
    try:
        with av.open(os.fspath(path)) as container:
            rate = container.streams.video[0].average_rate if container.streams.video else None
    except av.FFmpegError:
        return default
    return float(rate) if rate else default


def load_video(video, fps: float | None = None) -> tuple[np.ndarray, float]:
    """A video path (anything PyAV reads) or a uint8 array → (frames uint8 (N, H, W, 3), fps).

    Raises:
        DataError: the file is missing or cannot be decoded (a ValueError; the message names the file).
        ValueError: an array that is not uint8 (N, H, W, 3) with N ≥ 1.
    """
    if isinstance(video, (str, os.PathLike)):
        frames = read_video_frames(os.fspath(video))
        return frames, float(fps) if fps else video_fps(video)
    frames = np.asarray(video)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1 or frames.dtype != np.uint8:
        raise ValueError(f"video array has dtype {frames.dtype} and shape {frames.shape}, expected uint8 "
                         "(N, H, W, 3) with N >= 1")
    return frames, float(fps) if fps else DEFAULT_FPS


def as_trained(model_path_or_trained):
    """A `TrainedModel` from a run directory / `model.keras` path, or the `TrainedModel` itself."""
    if isinstance(model_path_or_trained, TrainedModel):
        return model_path_or_trained
    return load_trained(os.fspath(model_path_or_trained))


def query_words(trained, query: str) -> np.ndarray:
    """float32 (1, L, D) word vectors of `query`; logs a warning naming the words the vocabulary lacks."""
    tokens = tokenize_py(query)[: trained.config.sentence_length]
    unknown = [t for t in tokens if trained.vocabulary.index(t) == 0]
    if unknown:
        logger.warning("query words not in the model's vocabulary (they get zero vectors): %s", ", ".join(unknown))
    return np.asarray(trained.vectorizer()(tf.constant([query])), np.float32)


def clip_batches(num_frames: int, clip_length: int, batch_size: int):
    """Yields (centres, indices) per batch: centres int (b,), indices int (b, T) of each centre's clip
    (docs/data.md#clips)."""
    for start in range(0, num_frames, batch_size):
        centres = np.arange(start, min(start + batch_size, num_frames))
        yield centres, np.asarray(clip_indices(centres[:, None], num_frames, clip_length))  # (b, T)


class _PreprocessedFrames:
    """Letterboxed, scaled frames (docs/data.md#clips) computed once each, kept only while a later clip needs them."""

    def __init__(self, frames: np.ndarray, size: int):
        self.frames, self.size = frames, size
        self.first, self.cache = 0, np.zeros((0, size, size, 3), np.float32)

    def gather(self, indices: np.ndarray) -> np.ndarray:
        """float32 (..., S, S, 3) for int `indices`; indices must never go below an earlier call's minimum."""
        lo, hi = int(indices.min()), int(indices.max())
        have = self.first + len(self.cache)
        if hi >= have:
            new = np.asarray(preprocess_clip(self.frames[have:hi + 1], self.size), np.float32)
            self.cache = np.concatenate([self.cache, new])
        self.cache, self.first = self.cache[lo - self.first:], lo  # frames before `lo` are never needed again
        return self.cache[indices - self.first]


def predict(model_path_or_trained, video, query: str, *, batch_size: int = 4, fps: float | None = None,
            progress: Callable[[int], None] | None = None) -> PredictionResult:
    """Predicts the mask of the actor `query` describes in every frame of `video`.

    Args:
        model_path_or_trained: a trained run (directory or its `model.keras`, see `acga_tf.training.artifacts`) or a
            loaded
            `TrainedModel`.
        video: a video file PyAV can read, or uint8 frames (N, H, W, 3) RGB; any size and length.
        query: the sentence.
        batch_size: clips per forward pass.
        fps: frame rate to record (default: the file's, or 24 for arrays).
        progress: called with the number of frames finished after each batch.

    Returns:
        A `PredictionResult`: masks uint8 (N, H, W), probabilities float32 (N, H, W), fps.

    Raises:
        ValueError: empty query, bad batch size or array, a model that is not RGB-only, or an unreadable video
            (`DataError`).
        FileNotFoundError: the model run is incomplete.
    """
    query = check_query(query)
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be >= 1")
    frames, fps = load_video(video, fps)
    trained = as_trained(model_path_or_trained)
    config = trained.config
    if config.modality != "rgb":
        raise ValueError(f"the model's modality is {config.modality!r}: prediction from video frames needs an RGB "
                         "model (modality='rgb')")
    n, h, w = frames.shape[:3]
    logger.info("predicting %d frames of %dx%d (HxW) with clips of %d frames at %d px", n, h, w,
                config.clip_length, config.image_size)
    words = np.repeat(query_words(trained, query), batch_size, axis=0)  # (batch, L, D)
    source = _PreprocessedFrames(frames, config.image_size)
    masks = np.zeros((n, h, w), np.uint8)
    probabilities = np.zeros((n, h, w), np.float32)
    for centres, indices in clip_batches(n, config.clip_length, batch_size):
        b = len(centres)
        # Pad the last batch with copies of its last clip: one input shape, one traced function.
        indices = np.concatenate([indices, np.repeat(indices[-1:], batch_size - b, axis=0)])
        logits = trained.model.predict_on_batch({"video": source.gather(indices), "words": words})["logits"]
        outputs = logits_outputs(np.asarray(logits)[:b], h, w)  # σ, relative threshold, inverse letterbox
        masks[centres] = np.asarray(outputs["mask"])
        probabilities[centres] = np.asarray(outputs["probability"])
        if progress is not None:
            progress(b)
    return PredictionResult(masks=masks, probabilities=probabilities, fps=fps, query=query)


# === Writing results ===
def overlay_frames(frames: np.ndarray, masks: np.ndarray, color=OVERLAY_COLOR, alpha: float = OVERLAY_ALPHA
                   ) -> np.ndarray:
    """Blends `color` into the masked pixels: uint8 (N, H, W, 3) frames and (N, H, W) masks → uint8 (N, H, W, 3).

    Raises:
        ValueError: the frames and masks differ in number or size.
    """
    frames, masks = np.asarray(frames), np.asarray(masks)
    if frames.shape[:3] != masks.shape:
        raise ValueError(f"frames {frames.shape} and masks {masks.shape} differ in number or size")
    out = frames.astype(np.float32)
    on = masks.astype(bool)
    out[on] = (1.0 - alpha) * out[on] + alpha * np.asarray(color, np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def gif_frame_duration(fps: float) -> int:
    """Milliseconds per GIF frame: GIF stores centiseconds, and viewers slow down delays under 20 ms."""
    return max(10 * int(round(100.0 / fps)), 20)


def _write_gif(path: str, frames: np.ndarray, fps: float) -> None:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=gif_frame_duration(fps),
                   loop=0)


def overlay_format(path: str) -> str:
    """The overlay format of `path`: ".mp4" or ".gif".

    Raises:
        ValueError: another extension.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in OVERLAY_FORMATS:
        raise ValueError(f"{path}: unsupported overlay format {ext or '(none)'!r}, expected one of "
                         f"{', '.join(OVERLAY_FORMATS)}")
    return ext


def write_overlay(result: PredictionResult, frames, path: str, *, color=OVERLAY_COLOR,
                  alpha: float = OVERLAY_ALPHA) -> str:
    """Writes the frames with the predicted masks blended in, as MP4 (PyAV) or GIF (Pillow) by `path`'s extension.

    Args:
        result: from `predict`.
        frames: the video's uint8 (N, H, W, 3) frames, or its path (decoded again).
        path: `*.mp4` or `*.gif`; odd-sized MP4s get their last row/column repeated (yuv420p needs even sizes).

    Returns:
        `path`.

    Raises:
        ValueError: another extension, or frames that do not match the result.
    """
    ext = overlay_format(path)
    frames = load_video(frames)[0]
    blended = overlay_frames(frames, result.masks, color, alpha)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    (write_mp4 if ext == ".mp4" else _write_gif)(os.fspath(path), blended, result.fps)
    logger.info("wrote %d overlay frames to %s", len(blended), path)
    return os.fspath(path)


def write_mask_frames(result: PredictionResult, directory: str) -> list[str]:
    """Writes one PNG per frame, `<directory>/<i:05d>.png` with i 1-based (J-HMDB's frame naming), pixels 0 / 255.

    Returns:
        The paths, in frame order.
    """
    os.makedirs(directory, exist_ok=True)
    paths = []
    for i, mask in enumerate(result.masks):
        path = os.path.join(directory, f"{i + 1:05d}.png")
        Image.fromarray((mask > 0).astype(np.uint8) * 255).save(path)
        paths.append(path)
    logger.info("wrote %d mask PNGs to %s", len(paths), directory)
    return paths


__all__ = ["PredictionResult", "predict", "write_overlay", "write_mask_frames", "overlay_frames", "overlay_format",
           "check_query", "load_video"]
