"""The ACGA model: shapes, layer checks, ablation switches, serialization, input errors, training (spec §2–§7)."""

import keras
import numpy as np
import pytest
from conftest import random_inputs
from layer_checks import run_layer_checks

from acga_tf import ACGAConfig
from acga_tf.models.acga import ACGA, head_parameter_count, parameter_table
from acga_tf.models.attention import CrossGuidedAttention
from acga_tf.models.coords import CoordinateMap, coordinate_map
from acga_tf.models.decoder import MultiResolutionDecoder
from acga_tf.models.losses import acga_losses
from acga_tf.models.metrics import ReferringIoU
from acga_tf.models.text_encoder import TextEncoder
from acga_tf.models.video_encoder import I3D, InceptionBlock, Unit3D, endpoint_channels

TINY = ACGAConfig.preset("tiny")


def test_coordinate_map_matches_spec_section_3():
    c = coordinate_map(2, 4)
    assert c.shape == (2, 4, 8)
    # cell (i=1, j=2) of a 2x4 grid: xmin = 2*2/4-1 = 0, xmax = 0.5, ymin = 0, ymax = 1
    np.testing.assert_allclose(c[1, 2], [0.0, 0.0, 0.5, 1.0, 0.25, 0.5, 0.25, 0.5])


def test_layers_pass_layer_checks():
    rng = np.random.default_rng(0)
    video = rng.uniform(-1, 1, (1, 8, 32, 32, 3)).astype("float32")
    run_layer_checks(lambda dtype=None: Unit3D(8, (3, 3, 3), (1, 2, 2), bn_scale=True, dtype=dtype), {"x": video},
                     (1, 8, 16, 16, 8))
    run_layer_checks(lambda dtype=None: InceptionBlock((4, 4, 8, 2, 4, 4), dtype=dtype), {"x": video},
                     (1, 8, 32, 32, 20))
    run_layer_checks(lambda dtype=None: I3D(width_multiplier=0.125, endpoints=("Mixed_4e", "Mixed_4f"),
                                            dtype=dtype), {"video": video},
                     {"Mixed_4f": (1, 2, 2, 2, endpoint_channels("Mixed_4f", 0.125))})
    feature = rng.standard_normal((2, 4, 4, 16)).astype("float32")
    text = rng.standard_normal((2, 6, 12)).astype("float32")
    run_layer_checks(lambda dtype=None: CoordinateMap(dtype=dtype), {"features": feature}, (2, 4, 4, 24))
    run_layer_checks(lambda dtype=None: TextEncoder(12, "conv1d", dtype=dtype), {"words": text}, (2, 6, 12))
    run_layer_checks(lambda dtype=None: CrossGuidedAttention(dtype=dtype), {"video": feature, "text": text},
                     {"attended_text": (2, 4, 4, 12), "attended_video": (2, 4, 4, 16),
                      "word_attention": (2, 16, 6), "spatial_attention": (2, 16, 16)})
    run_layer_checks(lambda dtype=None: MultiResolutionDecoder((8, 6, 4), dtype=dtype),
                     {"attended_video": feature, "attended_text": feature[..., :12]},
                     {"logits_res1": (2, 4, 4, 1), "logits_res2": (2, 16, 16, 1), "logits": (2, 64, 64, 1)})


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


def test_i3d_shapes_at_paper_size_without_running_it():
    enc = I3D(endpoints=("Mixed_4e", "Mixed_4f"))
    shapes = enc.compute_output_shape((None, 16, 512, 512, 3))
    assert shapes["Mixed_4e"] == (None, 4, 32, 32, 528) and shapes["Mixed_4f"] == (None, 4, 32, 32, 832)
    with pytest.raises(ValueError, match="final_endpoint='Mixed_9z'"):
        I3D(final_endpoint="Mixed_9z")


def test_paper_head_has_23664391_parameters_and_mrf_adds_28():
    paper = ACGA(ACGAConfig.preset("paper", clip_length=8, image_size=64))  # widths do not depend on T, S
    assert head_parameter_count(paper) == 23_664_391
    no_fusion = ACGA(ACGAConfig.preset("paper", clip_length=8, image_size=64, fusion_resolutions=()))
    assert head_parameter_count(paper) - head_parameter_count(no_fusion) == 28
    table = parameter_table(paper)
    assert "23,664,391" in table and "fusion (MRF)" in table
    # spec §1: only Mixed_4f of I3D trains.
    encoder = paper.stage("video_encoder")
    trainable = {w.path.split("/")[1] for w in encoder.trainable_weights}
    assert trainable == {"Mixed_4f"}


def test_outputs_and_attention_maps():
    model = ACGA(TINY.replace(return_attention=True))
    out = model(random_inputs(TINY))
    n, s = (TINY.image_size // 16) ** 2, TINY.image_size
    assert tuple(out["logits"].shape) == (2, s, s, 1)
    assert tuple(out["logits_res1"].shape) == (2, s // 16, s // 16, 1)
    assert tuple(out["logits_res2"].shape) == (2, s // 4, s // 4, 1)
    assert tuple(out["word_attention"].shape) == (2, n, TINY.sentence_length)
    assert tuple(out["spatial_attention"].shape) == (2, n, n)
    np.testing.assert_allclose(np.sum(out["word_attention"], -1), 1.0, rtol=1e-5)


ABLATIONS = {
    "no_F_TA": dict(vision_guided_attention=False),
    "no_F_VA": dict(language_guided_attention=False),
    "baseline": dict(vision_guided_attention=False, language_guided_attention=False),
    "key_word_aware": dict(attention="key_word_aware"),
    "lstm": dict(text_encoder="lstm"),
    "mask_padding": dict(mask_padding=True),
    "res3_only": dict(fusion_resolutions=(3,)),
    "res3_res1": dict(fusion_resolutions=(1, 3)),
    "res3_res2": dict(fusion_resolutions=(2, 3)),
    "no_fusion": dict(fusion_resolutions=()),
    "bn_deepmind": dict(bn_scale=False, bn_epsilon=1e-3),
    "flow": dict(modality="flow"),
    "rgb_flow": dict(modality="rgb+flow"),
}


def _transfer(src, dst):
    """Copies every weight whose path and shape match, so that only the switch differs."""
    by_path = {w.path: w for w in src.weights}
    for w in dst.weights:
        if w.path in by_path and tuple(by_path[w.path].shape) == tuple(w.shape):
            w.assign(by_path[w.path])


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_every_ablation_switch_builds_trains_and_changes_the_output(name):
    keras.utils.set_random_seed(1)
    base_config = TINY.replace(modality="flow") if name == "flow" else TINY
    if name == "bn_deepmind":
        base_config = TINY
    base = ACGA(base_config)
    config = base_config.replace(**ABLATIONS[name])
    model = ACGA(config)
    _transfer(base, model)
    if name == "flow":  # compare flow vs rgb+flow-free baseline: same input, other channel count
        base = ACGA(TINY.replace(modality="flow", vision_guided_attention=False))
        _transfer(model, base)
    if name == "bn_deepmind":  # non-trivial BatchNorm statistics (with zero offsets I3D is scale-invariant)
        for w in base.weights + model.weights:
            if "moving_variance" in w.path:
                w.assign(np.full(w.shape, 0.05, "float32"))
            if "moving_mean" in w.path:
                w.assign(np.full(w.shape, 0.01, "float32"))
    inputs = random_inputs(config)
    base_inputs = random_inputs(base.config) if name != "rgb_flow" else {
        "video": inputs["video"][..., :3], "words": inputs["words"]}
    out = model(inputs)["logits"]
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(np.asarray(out) - np.asarray(base(base_inputs)["logits"]))) > 1e-6
    # backward: every trainable weight of the head gets a gradient
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = model(inputs, training=True)
        loss = sum(tf.reduce_mean(out[k] ** 2) for k in ("logits_res1", "logits_res2", "logits"))
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.path for w, g in zip(model.trainable_weights, grads) if g is None]
    assert not missing, missing


def test_keras_save_and_load_round_trip(tmp_path):
    config = TINY.replace(return_attention=True, fusion_resolutions=(1, 3))
    model = ACGA(config)
    inputs = random_inputs(config)
    path = str(tmp_path / "acga.keras")
    model.save(path)
    restored = keras.saving.load_model(path)  # no custom_objects needed
    assert isinstance(restored, ACGA) and restored.config == config
    for key, value in model(inputs).items():
        np.testing.assert_allclose(restored(inputs)[key], value, atol=1e-6)


@pytest.mark.parametrize("inputs, match", [
    (lambda c: {"video": np.zeros((1, 8, 64, 64, 4), "float32"), "words": np.zeros((1, 8, 32), "float32")},
     r"'video'.*axis 4 is 4 but the config's modality='rgb' gives 3"),
    (lambda c: {"video": np.zeros((1, 6, 64, 64, 3), "float32"), "words": np.zeros((1, 8, 32), "float32")},
     r"'video'.*axis 1 is 6 but the config's clip_length gives 8"),
    (lambda c: {"video": np.zeros((1, 8, 64, 64, 3), "float32"), "words": np.zeros((1, 20, 32), "float32")},
     r"'words'.*axis 1 is 20 but the config's sentence_length gives 8"),
    (lambda c: {"video": np.zeros((8, 64, 64, 3), "float32"), "words": np.zeros((1, 8, 32), "float32")},
     r"'video' has shape \(8, 64, 64, 3\), expected rank 5"),
    (lambda c: {"video": np.zeros((1, 8, 64, 64, 3), "float32")}, r"keys \['video', 'words'\], got \['video'\]"),
])
def test_wrong_inputs_fail_with_a_clear_message(inputs, match):
    model = ACGA(TINY)
    with pytest.raises(ValueError, match=match):
        model(inputs(TINY))


def _synthetic_batch(config, n=4, seed=0):
    """Clips with a bright square whose position the sentence vector tells: a learnable toy task."""
    rng = np.random.default_rng(seed)
    s, t = config.image_size, config.clip_length
    video = rng.uniform(-1, -0.8, (n, t, s, s, 3)).astype("float32")
    words = np.zeros((n, config.sentence_length, config.word_dim), "float32")
    mask = np.zeros((n, s, s, 1), "float32")
    for i in range(n):
        y, x = rng.integers(0, s - 24, 2)
        video[i, :, y:y + 24, x:x + 24, i % 3] = 1.0
        mask[i, y:y + 24, x:x + 24] = 1.0
        words[i, :3] = rng.standard_normal((3, config.word_dim))
    pool = lambda m, k: m.reshape(n, s // k, k, s // k, k, 1).mean((2, 4)) >= 0.5
    targets = {"logits": mask, "logits_res2": pool(mask, 4).astype("float32"),
               "logits_res1": pool(mask, 16).astype("float32")}
    return {"video": video, "words": words}, targets


def test_tiny_preset_overfits_with_model_fit():
    keras.utils.set_random_seed(0)
    model = ACGA(TINY)
    model.compile(optimizer=keras.optimizers.Adam(TINY.learning_rate), loss=acga_losses(TINY),
                  metrics={"logits": [ReferringIoU()]})
    x, y = _synthetic_batch(TINY)
    history = model.fit(x, y, batch_size=4, epochs=60, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] <= 0.2 * losses[0], (losses[0], losses[-1])
    assert history.history["mean_iou"][-1] > 0.5  # ReferringIoU on the fused logits


def test_mixed_precision_model_keeps_its_policy_through_save_and_load(tmp_path):
    model = ACGA(TINY, dtype="mixed_bfloat16")
    assert model.stage("decoder").compute_dtype == "bfloat16"
    path = str(tmp_path / "mixed.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.stage("decoder").compute_dtype == "bfloat16"
    assert restored.stage("video_encoder").variable_dtype == "float32"
    inputs = random_inputs(TINY)
    out = restored(inputs)["logits"]
    assert out.dtype == "float32"  # logits stay float32 (STYLE §3)
    np.testing.assert_allclose(np.asarray(out), np.asarray(model(inputs)["logits"]), atol=1e-6)
