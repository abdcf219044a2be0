"""acga_tf/models/text_encoder.py: `TextEncoder`, Conv1D + tanh (docs/model.md#text-encoder) or LSTM (Table 2)."""

import numpy as np
import pytest
from layer_test_case import run_layer_test

from acga_tf.models.text_encoder import TextEncoder

WORDS = np.random.default_rng(0).standard_normal((2, 6, 12)).astype("float32")  # (B, L, D)


@pytest.mark.parametrize("kind, weights", [("conv1d", 2), ("lstm", 3)])  # kernel, bias (+ recurrent kernel)
def test_text_encoder_layer(kind, weights):
    out = run_layer_test(TextEncoder, dict(units=12, kind=kind), WORDS, expected_output_shape=(2, 6, 12),
                         expected_num_trainable_weights=weights, expected_num_non_trainable_weights=0)
    assert np.all(np.abs(out) < 1.0)  # both end in tanh


def test_conv1d_sees_one_word_either_side():
    """Kernel 3, "same" padding (docs/model.md#text-encoder): changing word 0 changes outputs 0 and 1 only."""
    encoder = TextEncoder(units=12, kind="conv1d")
    changed = WORDS.copy()
    changed[:, 0] += 1.0
    diff = np.abs(np.asarray(encoder(changed)) - np.asarray(encoder(WORDS))).max(axis=(0, 2))
    assert np.all(diff[:2] > 0) and np.all(diff[2:] == 0)


def test_unknown_kind_names_the_value():
    with pytest.raises(ValueError, match="TextEncoder kind='gru': expected 'conv1d' or 'lstm'"):
        TextEncoder(kind="gru")
