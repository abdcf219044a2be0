"""acga_tf/models/attention.py: `CrossGuidedAttention` with each of its switches (docs/model.md#attention, Table 2)."""

import numpy as np
import pytest
from layer_test_case import run_layer_test

from acga_tf.models.attention import CrossGuidedAttention

RNG = np.random.default_rng(0)
VIDEO = RNG.standard_normal((2, 4, 4, 16)).astype("float32")  # (B, h, w, Cv): N = 16 pixels
TEXT = RNG.standard_normal((2, 6, 12)).astype("float32")  # (B, L, Dt)
WORD_MASK = np.array([[True] * 6, [True] * 3 + [False] * 3])  # (B, L): the second sentence has 3 words
B, N, L = 2, 16, 6
TEXT_OUT, VIDEO_OUT = (B, 4, 4, 12), (B, 4, 4, 16)
FULL = (B, 4, 4, 16 + 8)  # F_VA keeps the coordinate channels in attended_video_full
WORDS, SPATIAL = (B, N, L), (B, N, N)
MAPS = ("word_attention", "spatial_attention")  # softmax in float32 under mixed precision (docs/architecture.md)

# switches → (outputs, trainable weights). Dense layers (kernel + bias): video_reduce with F_TA or
# key_word_aware; txt_increase and video_linear{K,Q,V} with F_VA.
CASES = {
    "acga": ({}, dict(attended_text=TEXT_OUT, attended_video=VIDEO_OUT, attended_video_full=FULL,
                      word_attention=WORDS, spatial_attention=SPATIAL), 2 + 8),
    "no_F_TA": (dict(vision_guided_attention=False),
                dict(attended_text=TEXT_OUT, attended_video=VIDEO_OUT, attended_video_full=FULL,
                     spatial_attention=SPATIAL), 8),
    "no_F_VA": (dict(language_guided_attention=False),
                dict(attended_text=TEXT_OUT, attended_video=VIDEO_OUT, word_attention=WORDS), 2),
    "baseline": (dict(vision_guided_attention=False, language_guided_attention=False),
                 dict(attended_text=TEXT_OUT, attended_video=VIDEO_OUT), 0),
    "key_word_aware": (dict(variant="key_word_aware"),
                       dict(attended_text=TEXT_OUT, attended_video=(B, 4, 4, 16 + 16 + 8), word_attention=WORDS), 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_cross_guided_attention_layer(name):
    kwargs, outputs, weights = CASES[name]
    out = run_layer_test(CrossGuidedAttention, kwargs, {"video": VIDEO, "text": TEXT}, expected_output_shape=outputs,
                         expected_num_trainable_weights=weights, expected_num_non_trainable_weights=0,
                         float32_outputs=[k for k in MAPS if k in outputs])
    for key in MAPS:
        if key in out:
            np.testing.assert_allclose(out[key].sum(-1), 1.0, rtol=1e-5)  # rows are distributions


def test_cross_guided_attention_layer_with_padding_masked():
    out = run_layer_test(CrossGuidedAttention, dict(mask_padding=True),
                         {"video": VIDEO, "text": TEXT, "word_mask": WORD_MASK},
                         expected_output_shape=CASES["acga"][1], expected_num_trainable_weights=10,
                         expected_num_non_trainable_weights=0, float32_outputs=MAPS)
    assert np.all(out["word_attention"][1, :, 3:] == 0.0)  # padding words get no attention
    np.testing.assert_allclose(out["word_attention"].sum(-1), 1.0, rtol=1e-5)



def test_a_sentence_without_words_stays_finite_in_mixed_float16():
    run_layer_test(CrossGuidedAttention, dict(mask_padding=True),
                   {"video": VIDEO, "text": TEXT, "word_mask": np.array([[True] * 6, [False] * 6])},
                   expected_output_shape=CASES["acga"][1], expected_num_trainable_weights=10,
                   expected_num_non_trainable_weights=0, float32_outputs=MAPS, run_training_check=False,
                   run_serialization_check=False, run_saving_check=False, mixed_precision_policies=("mixed_float16",))


def test_padding_is_ignored_only_when_masked():
    padded = TEXT.copy()
    padded[1, 3:] = 0.0
    masked, unmasked = CrossGuidedAttention(mask_padding=True), CrossGuidedAttention(mask_padding=False)
    for layer in (masked, unmasked):
        layer(VIDEO, padded, WORD_MASK)
    unmasked.set_weights(masked.get_weights())
    assert np.all(np.asarray(masked(VIDEO, padded, WORD_MASK)["word_attention"])[1, :, 3:] == 0.0)
    assert np.all(np.asarray(unmasked(VIDEO, padded, WORD_MASK)["word_attention"])[1, :, 3:] > 0.0)


def test_unknown_variant_names_the_value():
    with pytest.raises(ValueError, match="variant='transformer': expected 'acga' or 'key_word_aware'"):
        CrossGuidedAttention(variant="transformer")
