"""acga_tf/models/decoder.py: `MultiResolutionDecoder`, its `_MaskBranch` and `_Upsample` (docs/model.md#decoder)."""

import keras
import numpy as np
import pytest
from layer_test_case import run_layer_test

from acga_tf.models.coords import coordinate_map
from acga_tf.models.decoder import MultiResolutionDecoder, _MaskBranch, _Upsample

RNG = np.random.default_rng(0)
VIDEO = RNG.standard_normal((2, 4, 4, 16)).astype("float32")  # attended video (B, S/16, S/16, Cv), S = 64
TEXT = RNG.standard_normal((2, 4, 4, 12)).astype("float32")  # attended text (B, S/16, S/16, Dt)
LOGITS = {"logits_res1": (2, 4, 4, 1), "logits_res2": (2, 16, 16, 1), "logits_res3": (2, 64, 64, 1),
          "logits": (2, 64, 64, 1)}
# Three mask branches of 3 convs and two upsamplers of 2 (kernel + bias each): 26 weights, and the fusion conv's 2.
DECODER_WEIGHTS = 3 * 3 * 2 + 2 * 2 * 2


@pytest.mark.parametrize("fusion, weights", [((1, 2, 3), DECODER_WEIGHTS + 2), ((1, 3), DECODER_WEIGHTS + 2),
                                             ((), DECODER_WEIGHTS)])
def test_multi_resolution_decoder_layer(fusion, weights):
    out = run_layer_test(MultiResolutionDecoder, dict(filters=(8, 6, 4), fusion_resolutions=fusion),
                         {"attended_video": VIDEO, "attended_text": TEXT}, expected_output_shape=LOGITS,
                         expected_num_trainable_weights=weights, expected_num_non_trainable_weights=0,
                         float32_outputs=tuple(LOGITS))  # logits stay float32 (docs/architecture.md)
    if not fusion:  # Table 1 "Baseline": no fusion, the output is res3's logits
        np.testing.assert_array_equal(out["logits"], out["logits_res3"])


def test_upsample_layer():
    """ConvTranspose 8×8 stride 4 then Conv3×3: exactly 4× the size."""
    run_layer_test(_Upsample, dict(filters=6), VIDEO, expected_output_shape=(2, 16, 16, 6),
                   expected_num_trainable_weights=4, expected_num_non_trainable_weights=0,
                   custom_objects={"_Upsample": _Upsample})  # private: only the decoder's constructor makes it


@pytest.mark.parametrize("size", [(4, 4), (5, 3), (1, 1)], ids=["square", "odd and oblong", "one pixel"])
def test_sub_pixel_form_equals_the_transposed_convolution(size):
    """`_Upsample.sub_pixel`: the 8×8 stride-4 transposed conv as one 2×2 conv with a filter per output phase, then
    interleaved: the same output and the same gradients for the input, the kernel and the bias, up to float32
    rounding, at the borders too (a one-pixel input, whose 4×4 output reads only the kernel's middle taps). A GPU
    runs this form, a CPU the transposed convolution (faster there to train)."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    x = tf.constant(rng.standard_normal((2, *size, 5)).astype("float32"))
    layer = _Upsample(3)
    layer.build(x.shape)
    assert layer.sub_pixel == bool(tf.config.list_physical_devices("GPU"))
    layer.deconv_0.bias.assign(rng.standard_normal(3))
    variables = [layer.deconv_0.kernel, layer.deconv_0.bias, layer.conv_1.kernel]
    results = []
    for sub_pixel, patches in ((False, False), (True, False), (True, True)):
        layer.sub_pixel, layer.sub_pixel_patches = sub_pixel, patches
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.sin(y) * y)  # an upstream gradient that differs at every pixel
        results.append([y, *tape.gradient(loss, [x, *variables])])
    assert tuple(results[1][0].shape) == (2, 4 * size[0], 4 * size[1], 3)
    for name, plain, sub_pixel, patches in zip(("output", "input gradient", "kernel gradient", "bias gradient",
                                                "conv_1 kernel gradient"), *results):
        plain = np.asarray(plain)
        np.testing.assert_allclose(np.asarray(sub_pixel), plain, atol=2e-6 * np.abs(plain).max(), err_msg=name)
        np.testing.assert_allclose(np.asarray(patches), plain, atol=2e-6 * np.abs(plain).max(),
                                   err_msg=f"{name}, the 2x2 conv as a product over patches")


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_mask_logits_as_a_product_equal_the_1x1_convolution(policy):
    """`_MaskBranch.logits_as_product`: the 1×1 conv to one channel as a matrix product over the channels, the same
    logits and the same gradients (its kernel's and bias's; in 16 bits the bias gradient summed in float32)."""
    import tensorflow as tf

    keras.utils.set_random_seed(8)  # the layer's initial weights, so that a failure repeats
    rng = np.random.default_rng(8)
    x = tf.constant(rng.standard_normal((2, 6, 5, 7)).astype("float32"))
    upstream = tf.constant(rng.standard_normal((2, 6, 5, 1)).astype("float32"))  # a different gradient per pixel
    layer = _MaskBranch(4, dtype=policy)
    layer.build(x.shape)
    layer.conv_4.bias.assign(rng.standard_normal(1))
    results = []
    for as_product in (False, True):
        layer.logits_as_product = as_product
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cast(layer(x), "float32")
            loss = tf.reduce_sum(upstream * y)  # linear: both forms get the same upstream gradient
        results.append([y, *tape.gradient(loss, [x, layer.conv_4.kernel, layer.conv_4.bias, layer.conv_2.kernel])])
    tolerance = 2e-6 if policy == "float32" else 2e-2
    for name, conv, product in zip(("logits", "input gradient", "conv_4 kernel gradient", "conv_4 bias gradient",
                                    "conv_2 kernel gradient"), *results):
        conv = np.asarray(tf.cast(conv, "float32"))
        np.testing.assert_allclose(np.asarray(tf.cast(product, "float32")), conv, atol=tolerance * np.abs(conv).max(),
                                   err_msg=name)


@pytest.mark.parametrize("inputs, shape", [
    ({"x": np.concatenate([VIDEO, TEXT, np.zeros((2, 4, 4, 8), "float32")], -1)}, (2, 4, 4, 1)),  # res1
    ({"x": RNG.standard_normal((2, 16, 16, 8)).astype("float32"), "text": TEXT}, (2, 16, 16, 1)),  # res2
])
def test_mask_branch_layer(inputs, shape):
    run_layer_test(_MaskBranch, dict(filters=8), inputs, expected_output_shape=shape,
                   expected_num_trainable_weights=6, expected_num_non_trainable_weights=0,
                   custom_objects={"_MaskBranch": _MaskBranch})


@pytest.mark.parametrize("grid,text_dim", [(4, 12), (5, 7)])
def test_decoder_equals_the_literal_concat_resize_conv_of_spec_section_6(grid, text_dim):
    """res2/res3 never build concat(features, resize(text), coords): their result must equal doing so."""
    import tensorflow as tf

    rng = np.random.default_rng(grid)
    video = tf.constant(rng.standard_normal((2, grid, grid, 10)), tf.float32)
    text = tf.constant(rng.standard_normal((2, grid, grid, text_dim)), tf.float32)
    decoder = MultiResolutionDecoder((8, 6, 4))
    out = decoder(video, text)
    for w in decoder.weights:  # non-zero biases, so that a dropped bias shows
        if w.path.endswith("bias"):
            w.assign(rng.standard_normal(w.shape).astype("float32"))
    out = decoder(video, text)

    def literal(branch, features):
        size = features.shape[1]
        x = tf.concat([features, tf.image.resize(text, (size, size), "bilinear"),
                       tf.broadcast_to(coordinate_map(size, size)[None], (2, size, size, 8))], -1)
        return branch.conv_4(branch.conv_2(branch.conv_0(x)))

    medium = decoder.deconv_small(video)
    large = decoder.deconv_medium(medium)
    res2, res3 = literal(decoder.conv_mask_medium, medium), literal(decoder.conv_mask_large, large)
    np.testing.assert_allclose(out["logits_res2"], res2, atol=2e-5 * float(np.abs(res2).max()))
    np.testing.assert_allclose(out["logits_res3"], res3, atol=2e-5 * float(np.abs(res3).max()))
    assert float(np.abs(res3 - tf.reduce_mean(res3)).max()) > 1e-3  # not a constant map
