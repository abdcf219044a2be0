"""Sentence encoders: Conv1D + tanh (docs/model.md#text-encoder) or an LSTM (Table 2 "LSTM")."""

from __future__ import annotations

import keras

from acga_tf.models import precision


@keras.saving.register_keras_serializable(package="acga_tf")
class TextEncoder(keras.layers.Layer):
    """Encodes word vectors `(B, L, D)` into text features `(B, L, units)` (docs/model.md#text-encoder).

    Args:
        units: feature width (docs/model.md#text-encoder: 300).
        kind: "conv1d" (Conv1D(units, 3, "same", bias) → tanh) or "lstm" (LSTM(units), all steps).

    Call arguments:
        words: float `(B, L, D)`; padding positions are zero vectors.
    """

    def __init__(self, units: int = 300, kind: str = "conv1d", **kwargs):
        super().__init__(**kwargs)
        if kind not in ("conv1d", "lstm"):
            raise ValueError(f"TextEncoder kind={kind!r}: expected 'conv1d' or 'lstm'")
        self.units, self.kind = units, kind
        if kind == "conv1d":
            # docs/model.md#text-encoder: kernel 3, "same" padding, bias (reference: txt_model.0 = Conv1d(300, 300, 3,
            # padding=1)).
            self.encoder = precision.Conv1D(units, 3, padding="same", activation="tanh",
                                              dtype=self.dtype_policy, name="conv1d")
        else:
            self.encoder = keras.layers.LSTM(units, return_sequences=True, dtype=self.dtype_policy, name="lstm")

    def build(self, input_shape):
        self.encoder.build(input_shape)

    def call(self, words):
        return self.encoder(words)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "kind": self.kind}
