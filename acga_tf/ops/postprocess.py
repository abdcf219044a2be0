"""Logits → masks at the frame's own size: the one post-processing that evaluation, predict, figures and the
serving graph share (docs/evaluation.md#protocol).

σ(logits) at S × S, the relative threshold (`threshold.binarize`: ≥ 0.5 × each sample's maximum), then the
inverse letterbox back to H × W (nearest neighbour for masks, bilinear for probabilities). Pure TF ops: runs
inside the exported graph and eagerly on NumPy inputs.

Where the maximum is taken (`peak`): evaluation keeps the paper's protocol, the maximum over the whole S × S output
("letterbox"), so its figures stay comparable with published ones; predict and the serving graph take it over the
frame's own pixels ("frame"): a peak in the letterbox padding (an out-of-distribution video) would otherwise leave
an empty mask inside the frame (docs/evaluation.md#protocol, docs/serving.md#signatures).

The threshold and the peak are constants of an exported graph (docs/serving.md#signatures): a SavedModel and a model
server give the masks of the values it was exported with, so a per-call option cannot reach them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from acga_tf.ops.geometry import frame_region, unletterbox
from acga_tf.ops.threshold import binarize, binarize_with_peak

PEAK_LETTERBOX = "letterbox"  # the evaluation protocol: the maximum over the whole S × S output, padding included
PEAK_FRAME = "frame"  # predict and serving: the maximum over the frame's own pixels (padding is never an answer)
PEAKS = (PEAK_LETTERBOX, PEAK_FRAME)


def _region(probability: tf.Tensor, height: Any, width: Any, peak: str) -> tf.Tensor | None:
    """Where the relative threshold's maximum is taken: None (everywhere) or bool (S, S, 1), the frame's pixels."""
    if peak not in PEAKS:
        raise ValueError(f"peak={peak!r}: expected one of {', '.join(map(repr, PEAKS))}")
    return None if peak == PEAK_LETTERBOX else frame_region(height, width, tf.shape(probability)[-2])


def probability_mask(probability: Any, height: Any, width: Any, peak: str = PEAK_LETTERBOX) -> tf.Tensor:
    """σ(logits) `(N, S, S, 1)` → the evaluated mask, uint8 `(N, H, W)` in {0, 1}.

    Args:
        peak: "letterbox" (the evaluation protocol: ≥ 0.5 × the maximum over all S × S pixels) or "frame" (≥ 0.5 ×
            the maximum over the frame's own pixels: what predict and serving use, docs/evaluation.md#protocol).
    """
    return _mask_and_score(tf.cast(probability, tf.float32), height, width, peak)[0]


def _mask_and_score(probability: tf.Tensor, height: Any, width: Any, peak: str) -> tuple[tf.Tensor, tf.Tensor]:
    """`probability_mask`'s mask and its score, the maximum its threshold is relative to, `(N,)`."""
    binary, top = binarize_with_peak(probability, _region(probability, height, width, peak))
    binary = tf.cast(binary, tf.uint8)  # thresholded at S × S, then un-letterboxed
    return unletterbox(binary, height, width, method="nearest")[..., 0], tf.reshape(top, [-1])


def probability_outputs(probability: Any, height: Any, width: Any, peak: str = PEAK_LETTERBOX,
                        probabilities: bool = True) -> dict[str, tf.Tensor]:
    """σ(logits) `(N, S, S, 1)` → `{"mask": uint8 (N, H, W) in {0, 1}, "empty": bool (N,) (the mask has no
    foreground pixel), "score": float32 (N,), "probability": float32 (N, H, W)}`; "probability" (a bilinear resize
    per sample) only when `probabilities`. `peak` as in `probability_mask`.

    "score" is the maximum the relative threshold is taken from (σ at the model's S × S output, over the pixels
    `peak` names): the model's confidence that the sentence's actor is anywhere in the frame. The mask is never
    empty for a low score (the threshold is relative), so a client that must say "not found" compares the score
    with a bound of its own (docs/serving.md#scores)."""
    probability = tf.cast(probability, tf.float32)
    mask, score = _mask_and_score(probability, height, width, peak)
    outputs = {"mask": mask, "empty": tf.logical_not(tf.reduce_any(mask > 0, axis=[1, 2])), "score": score}
    if probabilities:
        outputs["probability"] = unletterbox(probability, height, width, method="bilinear")[..., 0]
    return outputs


def logits_outputs(logits: Any, height: Any, width: Any, peak: str = PEAK_LETTERBOX,
                   probabilities: bool = True) -> dict[str, tf.Tensor]:
    """Model logits `(N, S, S, 1)` → `{"mask", "empty", "score", "probability"}` (see `probability_outputs`)."""
    return probability_outputs(tf.sigmoid(tf.cast(logits, tf.float32)), height, width, peak, probabilities)


def smooth_masks(probability: Any) -> tuple[np.ndarray, np.ndarray]:
    """σ(logits) already at the frame's size (`probability_outputs`' bilinear "probability", `(..., H, W)`) → the
    masks with smooth edges, `(uint8 (..., H, W) in {0, 1}, empty bool (...))`: the relative threshold applied there,
    ≥ 0.5 × each map's maximum, so a mask's edge follows the probabilities between the model's S × S cells instead of
    their steps (a frame of 1280 pixels from S = 128: 10-pixel steps). Not the evaluation protocol's masks, which
    are thresholded at S × S (docs/evaluation.md#protocol); a mask can differ from them by its edge pixels."""
    probability = np.asarray(probability, np.float32)
    flat = probability.reshape((-1,) + probability.shape[-2:])
    mask = binarize(flat).reshape(probability.shape).astype(np.uint8)
    return mask, ~mask.any(axis=(-2, -1))


def mask_at_original_size(probability: Any, height: int, width: int) -> np.ndarray:
    """One sample's σ(logits) `(S, S)` or `(S, S, 1)` → bool `(height, width)`: the evaluated prediction (the mask
    only: no probability map is resized)."""
    probability = np.asarray(probability, np.float32)
    probability = probability.reshape((1,) + probability.shape[:2] + (1,))
    return np.asarray(probability_mask(probability, int(height), int(width)))[0].astype(bool)
