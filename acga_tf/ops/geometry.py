"""Letterbox geometry and clip indices: pure TF ops shared by the data pipeline, serving, evaluation and predict.

Every function accepts batched and unbatched tensors with dynamic heights and widths, so the same code runs in
the `tf.data` parser, in the exported serving graph and eagerly on NumPy arrays (docs/data.md#letterbox).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


def _check_positive(function: str, **sizes: Any) -> None:
    """Raises a ValueError naming the argument where a size given as a Python or NumPy number is below 1 (a tensor
    is read only in the graph: a size of 0 padded nothing and gave an empty image, or failed inside TensorFlow)."""
    for name, value in sizes.items():
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value < 1:
            raise ValueError(f"{function}: {name}={value}, expected at least 1")
        if isinstance(value, (bool, float, np.floating)):
            raise ValueError(f"{function}: {name}={value!r}, expected a whole number of pixels or frames")


def letterbox_geometry(height: Any, width: Any, size: Any) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Where a height × width image lands in the size × size letterbox (docs/data.md#letterbox).

    Scale to fit keeping the aspect ratio (the long side becomes `size`; the short side is rounded half up),
    then centre (the extra padding pixel, if any, goes to the bottom/right).

    Returns:
        int32 scalars (new_height, new_width, top, left).
    """
    _check_positive("letterbox_geometry", height=height, width=width, size=size)
    h, w = tf.cast(height, tf.int64), tf.cast(width, tf.int64)
    s = tf.cast(size, tf.int64)
    m = tf.maximum(h, w)
    # Exact integer rounding of h * s / m (no float error for any frame size).
    new_h = tf.maximum((2 * h * s + m) // (2 * m), 1)
    new_w = tf.maximum((2 * w * s + m) // (2 * m), 1)
    top, left = (s - new_h) // 2, (s - new_w) // 2
    return tuple(tf.cast(v, tf.int32) for v in (new_h, new_w, top, left))


def frame_region(height: Any, width: Any, size: Any) -> tf.Tensor:
    """bool (S, S, 1): True on the pixels where `letterbox` puts a height × width frame, False on the padding
    (docs/data.md#letterbox)."""
    new_h, new_w, top, left = letterbox_geometry(height, width, size)
    positions = tf.range(tf.cast(size, tf.int32))
    rows = (positions >= top) & (positions < top + new_h)  # (S,)
    cols = (positions >= left) & (positions < left + new_w)  # (S,)
    return (rows[:, None] & cols[None, :])[..., None]


def as_4d(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(..., H, W, C) → ((N, H, W, C), the original dynamic shape)."""
    rank = images.shape.rank
    if rank is None or rank < 3:
        raise ValueError(f"expected images of shape (..., H, W, C), got {images.shape}")
    shape = tf.shape(images)
    return tf.reshape(images, tf.concat([[-1], shape[-3:]], 0)), shape


def _resize(images: tf.Tensor, size: tf.Tensor, method: str, antialias: bool) -> tf.Tensor:
    if method == "nearest":
        return _nearest(images, size)
    return tf.image.resize(images, size, method=method, antialias=antialias)


def _nearest(images: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """`tf.image.resize(images, size, "nearest")`, the same pixels, as two gathers: a row's and a column's source
    index computed as TensorFlow's kernel computes them (half-pixel centres, float32: floor((i + 0.5) × in / out),
    at most in − 1). TensorFlow's kernel took 27 to 84 ms to bring 4 masks to 1920 × 1080, the gathers 3 to 6 ms, the
    same pixels (benchmarks/postprocess.py)."""
    def source(in_size, out_size):
        scale = tf.cast(in_size, tf.float32) / tf.cast(out_size, tf.float32)
        index = tf.cast(tf.floor((tf.cast(tf.range(out_size), tf.float32) + 0.5) * scale), tf.int32)
        return tf.minimum(index, tf.cast(in_size, tf.int32) - 1)

    shape = tf.shape(images)  # columns first, on the few source rows; then whole rows are copied
    columns = tf.gather(images, source(shape[2], size[1]), axis=2)
    return tf.gather(columns, source(shape[1], size[0]), axis=1)


def letterbox(images: tf.Tensor, size: int, method: str = "bilinear", antialias: bool = False) -> tf.Tensor:
    """Letterboxes images to size × size: scale to fit keeping the aspect ratio, centre, pad zeros
    (docs/data.md#letterbox).

    Args:
        images: (..., H, W, C), any number of leading dims (a frame, a clip (T,H,W,C), a batch of clips); H and W
            may be dynamic.
        size: S.
        method: a `tf.image.resize` method: "bilinear" for frames, "nearest" for masks.
        antialias: passed to `tf.image.resize`.

    Returns:
        (..., S, S, C): the input dtype for "nearest", float32 otherwise.
    """
    _check_positive("letterbox", size=size)
    images = tf.convert_to_tensor(images)
    flat, shape = as_4d(images)
    new_h, new_w, top, left = letterbox_geometry(shape[-3], shape[-2], size)
    resized = _resize(flat, tf.stack([new_h, new_w]), method, antialias)
    padded = tf.image.pad_to_bounding_box(resized, top, left, size, size)
    out = tf.reshape(padded, tf.concat([shape[:-3], [size, size], shape[-1:]], 0))
    out.set_shape(images.shape[:-3].concatenate([size, size, images.shape[-1]]))
    return out


def unletterbox(prob_or_mask: tf.Tensor, height: Any, width: Any, method: str = "bilinear",
                antialias: bool = False) -> tf.Tensor:
    """Maps an S × S prediction back to the original height × width: the exact inverse of `letterbox`.

    The protocol's "scale to cover and centre crop" (docs/evaluation.md#protocol), done as: crop the region where
    `letterbox` put the frame, then resize it to height × width (docs/data.md#letterbox says why). For
    nearest-neighbour masks, `unletterbox(letterbox(m)) == m` whenever the frame was not shrunk (S ≥ max(H, W)), and
    `letterbox(unletterbox(p)) == p` for any S × S mask p that is zero on the padding when the frame was shrunk.

    Args:
        prob_or_mask: (..., S, S, C); every leading item shares the same original size.
        height, width: original size (Python ints or int scalars).
        method: "bilinear" for probabilities, "nearest" for masks.
        antialias: passed to `tf.image.resize`.

    Returns:
        (..., height, width, C): the input dtype for "nearest", float32 otherwise.
    """
    _check_positive("unletterbox", height=height, width=width)
    x = tf.convert_to_tensor(prob_or_mask)
    flat, shape = as_4d(x)
    new_h, new_w, top, left = letterbox_geometry(height, width, shape[-2])
    crop = tf.image.crop_to_bounding_box(flat, top, left, new_h, new_w)
    resized = _resize(crop, tf.cast(tf.stack([height, width]), tf.int32), method, antialias)
    out = tf.reshape(resized, tf.concat([shape[:-3], tf.cast(tf.stack([height, width]), tf.int32),
                                         shape[-1:]], 0))
    static_hw = [height if isinstance(height, int) else None, width if isinstance(width, int) else None]
    out.set_shape(x.shape[:-3].concatenate(static_hw + [x.shape[-1]]))
    return out


def clip_indices(center: Any, num_frames: Any, clip_length: int, lookahead: int | None = None) -> tf.Tensor:
    """Indices of T frames centred on `center`, repeating the first/last frame past the ends (docs/data.md#letterbox).

    Indices center − T//2 … center + (T+1)//2 − 1, clamped to [0, num_frames − 1]; with `lookahead` (0 to T − 1),
    center − (T − 1 − lookahead) … center + lookahead instead (a live stream's clips: docs/serving.md#live-video).

    Returns:
        int32 (T,).
    """
    _check_positive("clip_indices", num_frames=num_frames, clip_length=clip_length)
    if isinstance(center, (int, np.integer)) and isinstance(num_frames, (int, np.integer)) \
            and not 0 <= center < num_frames:
        raise ValueError(f"clip_indices: center={center} is not a frame of the {num_frames}")
    center = tf.cast(center, tf.int32)
    before = clip_length // 2 if lookahead is None else clip_length - 1 - lookahead
    offsets = tf.range(clip_length, dtype=tf.int32) - before
    return tf.clip_by_value(center + offsets, 0, tf.cast(num_frames, tf.int32) - 1)


def scale_frames(frames: tf.Tensor) -> tf.Tensor:
    """uint8-range pixels → float32 in [-1, 1] (x / 127.5 − 1, docs/model.md#video-encoder)."""
    x = tf.clip_by_value(tf.cast(frames, tf.float32), 0.0, 255.0)
    return x / 127.5 - 1.0


def preprocess_clip(frames: tf.Tensor, size: int) -> tf.Tensor:
    """Frames uint8 (..., H, W, 3) → letterboxed float32 (..., S, S, 3) in [-1, 1] (docs/data.md#letterbox);
    padding is black."""
    return scale_frames(letterbox(frames, size, method="bilinear"))
