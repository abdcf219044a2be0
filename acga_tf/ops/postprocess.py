"""Logits → masks at the frame's own size: the one post-processing that evaluation, predict, figures and the
serving graph share (docs/evaluation.md#protocol).

σ(logits) at S × S, the relative threshold (`threshold.binarize`: ≥ 0.5 × each sample's maximum), then the
inverse letterbox back to H × W (nearest neighbour for masks, bilinear for probabilities). Pure TF ops: runs
inside the exported graph and eagerly on NumPy inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from acga_tf.ops.geometry import unletterbox
from acga_tf.ops.threshold import binarize


def probability_mask(probability: Any, height: Any, width: Any) -> tf.Tensor:
    """σ(logits) `(N, S, S, 1)` → the evaluated mask, uint8 `(N, H, W)` in {0, 1}."""
    binary = tf.cast(binarize(tf.cast(probability, tf.float32)), tf.uint8)  # thresholded at S × S, then un-letterboxed
    return unletterbox(binary, height, width, method="nearest")[..., 0]


def probability_outputs(probability: Any, height: Any, width: Any) -> dict[str, tf.Tensor]:
    """σ(logits) `(N, S, S, 1)` → `{"mask": uint8 (N, H, W) in {0, 1}, "probability": float32 (N, H, W)}`."""
    probability = tf.cast(probability, tf.float32)
    restored = unletterbox(probability, height, width, method="bilinear")
    return {"mask": probability_mask(probability, height, width), "probability": restored[..., 0]}


def logits_outputs(logits: Any, height: Any, width: Any) -> dict[str, tf.Tensor]:
    """Model logits `(N, S, S, 1)` → `{"mask", "probability"}` at `(N, H, W)` (see `probability_outputs`)."""
    return probability_outputs(tf.sigmoid(tf.cast(logits, tf.float32)), height, width)


def mask_at_original_size(probability: Any, height: int, width: int) -> np.ndarray:
    """One sample's σ(logits) `(S, S)` or `(S, S, 1)` → bool `(height, width)`: the evaluated prediction (the mask
    only: no probability map is resized)."""
    probability = np.asarray(probability, np.float32)
    probability = probability.reshape((1,) + probability.shape[:2] + (1,))
    return np.asarray(probability_mask(probability, int(height), int(width)))[0].astype(bool)
