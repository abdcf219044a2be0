"""The evaluation protocol's relative threshold, backend-agnostic (NumPy arrays or Keras tensors).

A prediction is σ(logits) ≥ 0.5 × its own maximum (docs/evaluation.md#protocol). This module imports no
TensorFlow, so the Keras metric built on it runs under every Keras backend.
"""

from __future__ import annotations

import keras
import numpy as np

RELATIVE_THRESHOLD = 0.5  # σ(logits) ≥ 0.5 × its own maximum
# The least maximum a mask is drawn from: float32's smallest normal number. CPU kernels (TensorFlow's, XLA's) flush
# values below it to 0, so a map of 1e-40 was empty through them and full through NumPy (a metrics tester's).
SMALLEST_PEAK = float(np.finfo(np.float32).tiny)


def binarize(probability, where=None):
    """`probability >= 0.5 * max(probability)` per sample, and nothing where that maximum is below float32's smallest
    normal number (`SMALLEST_PEAK`: σ of logits below about -87.3 everywhere, 0 once a CPU kernel flushes it; every
    pixel would pass `>= 0`, a full mask for a model sure of nothing).

    Per sample over its last two axes for a 2-D `(S, S)` or 3-D `(N, S, S)` array, over axes (1, 2, 3) for
    `(N, S, S, 1)`; NumPy arrays and tensors of every backend alike (a JAX array of rank 2 or 3 failed).

    Args:
        probability: σ(logits), values in [0, 1].
        where: optional boolean array broadcastable to `probability` (e.g. `(S, S, 1)`): the maximum is taken over
            these pixels only (predict and serving: the frame's own pixels, never the letterbox padding,
            docs/evaluation.md#protocol). None: over every pixel (the evaluation protocol).
    """
    return binarize_with_peak(probability, where)[0]


def binarize_with_peak(probability, where=None):
    """`binarize`'s mask and the maximum it is relative to, per sample (kept dims): the mask's score
    (docs/serving.md#scores), taken once for both."""
    if isinstance(probability, np.ndarray):
        axes = tuple(range(probability.ndim - 2, probability.ndim)) if probability.ndim in (2, 3) else (1, 2, 3)
        candidates = probability if where is None else np.where(where, probability, 0.0)  # σ ≥ 0: 0 never wins
        peak = candidates.max(axis=axes, keepdims=True)
        # (compared in float32: in float16 SMALLEST_PEAK rounds to 0, and a map of zeros was a full mask)
        return (probability >= RELATIVE_THRESHOLD * peak) & (peak.astype(np.float32) >= SMALLEST_PEAK), peak
    rank = len(probability.shape)
    axes = tuple(range(rank - 2, rank)) if rank in (2, 3) else (1, 2, 3)
    candidates = probability if where is None else keras.ops.where(where, probability, 0.0)
    peak = keras.ops.max(candidates, axis=axes, keepdims=True)
    return keras.ops.logical_and(keras.ops.greater_equal(probability, RELATIVE_THRESHOLD * peak),
                                 keras.ops.greater_equal(peak, SMALLEST_PEAK)), peak
