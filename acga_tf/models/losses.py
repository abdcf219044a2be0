"""Multi-scale weighted binary cross-entropy (docs/training.md#loss)."""

from __future__ import annotations

import keras

OUTPUT_NAMES = ("logits_res1", "logits_res2", "logits")  # docs/training.md#loss: the three supervised outputs
# What the losses take as targets, for messages (the loss and `ACGA.fit`'s array check).
TARGETS = "(B, h, w, 1) masks of 0 and 1 (mask[..., None]; acga_tf.data.parse.multiscale_targets makes the three)"


@keras.saving.register_keras_serializable(package="acga_tf")
class WeightedBCE(keras.losses.Loss):
    """WBCE(x, y) = mean of −[w·y·log σ(x) + (1−y)·log(1−σ(x))] over pixels, from logits (docs/training.md#loss).

    Args:
        foreground_weight: w, the positive-class weight (docs/model.md#presets: 1.5).
    """

    def __init__(self, foreground_weight: float = 1.5, name: str = "weighted_bce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.foreground_weight = float(foreground_weight)

    def call(self, y_true, y_pred):
        if len(y_true.shape) != len(y_pred.shape):  # (else (1, S, S) against (1, S, S, 1) broadcasts to S x S x S)
            raise ValueError(f"{self.name}: the target's shape {tuple(y_true.shape)} and the output's "
                             f"{tuple(y_pred.shape)} differ in rank: give targets as {TARGETS}")
        x = keras.ops.cast(y_pred, "float32")
        y = keras.ops.cast(y_true, "float32")
        # Stable: log σ(x) = −softplus(−x), log(1 − σ(x)) = −softplus(x).
        loss = self.foreground_weight * y * keras.ops.softplus(-x) + (1.0 - y) * keras.ops.softplus(x)
        return keras.ops.mean(loss, axis=(1, 2, 3))  # per sample; the Loss reduction averages over the batch

    def get_config(self):
        return {**super().get_config(), "foreground_weight": self.foreground_weight}


FOREGROUND_WEIGHT = 1.5  # the paper's positive-class weight


def acga_losses(foreground_weight: float = FOREGROUND_WEIGHT) -> dict[str, WeightedBCE]:
    """The paper's loss as a dict for `model.compile(loss=...)`: WBCE at S/16, S/4 and S, summed by Keras."""
    return {name: WeightedBCE(foreground_weight, name=f"wbce_{name}") for name in OUTPUT_NAMES}
