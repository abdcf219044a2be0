"""Layers of one's own for the tests of docs/model.md#extending (apart from support.py, which conftest.py imports:
importing Keras there loaded TensorFlow in pytest's own process, whose start-up lines then followed the summary)."""

import keras


@keras.saving.register_keras_serializable(package="acga_tf_tests")
class GRUTextEncoder(keras.layers.Layer):
    """A text encoder of one's own (docs/model.md#extending): a bidirectional GRU, (B, L, D) → (B, L, units)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.gru = keras.layers.Bidirectional(keras.layers.GRU(units // 2, return_sequences=True))

    def build(self, shape):
        self.gru.build(shape)

    def call(self, words):
        return self.gru(words)

    def compute_output_shape(self, shape):
        return (*shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
