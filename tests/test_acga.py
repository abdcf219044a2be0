"""acga_tf/models/acga.py: `VideoFeature`, and the `ACGA` model: parameter counts, shapes, ablation switches,
serialization, input errors, compile defaults, training, mixed precision (docs/)."""

import functools
import warnings

import keras
import numpy as np
import pytest
from layer_test_case import run_layer_test
from own_layers import GRUTextEncoder
from support import TRAINING_TINY, random_inputs

from acga_tf import ACGAConfig
from acga_tf.models.acga import ACGA, VideoFeature, head_parameter_count, parameter_table
from acga_tf.models.losses import WeightedBCE
from acga_tf.training.artifacts import load_model_file

TINY = ACGAConfig.preset("tiny")
# For tests of training machinery that need no encoder to learn: S=32, Mixed_4f and the head trainable (support.py)
TRAIN_TINY = TINY.replace(**{k: v for k, v in TRAINING_TINY.items() if k != "batch_size"})
VIDEO_FEATURE_INPUT = np.random.default_rng(0).standard_normal((2, 2, 4, 4, 16)).astype("float32")  # Mixed_4f


def test_video_feature_layer():
    """Mean over time, then unit L2 norm over channels (docs/model.md#video-encoder)."""
    out = run_layer_test(VideoFeature, {}, VIDEO_FEATURE_INPUT, expected_output_shape=(2, 4, 4, 16),
                         expected_num_trainable_weights=0, expected_num_non_trainable_weights=0)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, rtol=1e-5)
    mean = VIDEO_FEATURE_INPUT.mean(axis=1)
    np.testing.assert_allclose(out, mean / np.linalg.norm(mean, axis=-1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_compile_defaults_are_the_papers():
    """`compile()` with no arguments: Adam at 5e-4 and the weighted BCE (w = 1.5) at the three resolutions."""
    model = ACGA(TINY)
    model.compile()
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(5e-4)
    assert sorted(model.loss) == ["logits", "logits_res1", "logits_res2"]
    assert all(isinstance(loss, WeightedBCE) and loss.foreground_weight == 1.5 for loss in model.loss.values())
    model.compile(learning_rate=1e-3, foreground_weight=2.0)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)
    assert {loss.foreground_weight for loss in model.loss.values()} == {2.0}


def test_paper_head_has_23664391_parameters_and_mrf_adds_28():
    paper = ACGA(ACGAConfig.preset("paper", clip_length=8, image_size=64))  # widths do not depend on T, S
    assert head_parameter_count(paper) == 23_664_391
    no_fusion = ACGA(ACGAConfig.preset("paper", clip_length=8, image_size=64, fusion_resolutions=()))
    assert head_parameter_count(paper) - head_parameter_count(no_fusion) == 28
    table = parameter_table(paper)
    assert "23,664,391" in table and "fusion (MRF)" in table
    # docs/model.md#presets: only Mixed_4f of I3D trains.
    encoder = paper.stage("video_encoder")
    trainable = {w.path.split("/")[1] for w in encoder.trainable_weights}
    assert trainable == {"Mixed_4f"}
    assert paper.stage("video_encoder", stream="rgb") is encoder
    with pytest.raises(ValueError, match=r"stream='flow': this model's streams are \['rgb'\] \(modality='rgb'\)"):
        paper.stage("decoder", stream="flow")  # an API reader's: any stream, even "xyz", gave the RGB decoder


def test_compile_refuses_what_it_would_ignore_and_names_the_missing_targets():
    """A researcher's: `compile(optimizer="sgd", learning_rate=1e-5)` trained at SGD's 0.01 without a word, and
    `fit(x, {"logits": mask})` was Keras' KeyError saying `logits_res1` was not an output."""
    model = ACGA(TINY)
    with pytest.raises(ValueError, match=r"compile\(learning_rate=1e-05\) sets the default optimizer's, and one is "
                                         r"given: give the optimizer built with it, e.g. "
                                         r"keras.optimizers.SGD\(learning_rate=1e-05\)"):
        model.compile(optimizer="sgd", learning_rate=1e-5)
    with pytest.raises(ValueError, match=r"compile\(foreground_weight=2.0\) sets the default loss's"):
        model.compile(loss={"logits": "binary_crossentropy"}, foreground_weight=2.0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-5))
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)
    model.compile()
    inputs = random_inputs(TINY)
    mask = np.zeros((2, TINY.image_size, TINY.image_size, 1), np.float32)
    with pytest.raises(ValueError, match=r"the losses compiled take targets for \['logits', 'logits_res1', "
                                         r"'logits_res2'\]; the data gives none for \['logits_res1', 'logits_res2'\]: "
                                         r"give each \(acga_tf.data.parse.multiscale_targets\(mask\)"):
        model.fit(inputs, {"logits": mask}, epochs=1, verbose=0)
    # a PyTorch user's first try, one mask: Keras said only "y_true and y_pred have different structures"
    for call in (model.fit, model.evaluate):
        with pytest.raises(ValueError, match=r"^y is one array of shape \(2, 64, 64, 1\); the losses compiled take a "
                                             r"target for each of \['logits', 'logits_res1', 'logits_res2'\]: give y "
                                             r"as that dict \(acga_tf.data.parse.multiscale_targets\(mask\) makes the "
                                             r"model's"):
            call(inputs, mask, verbose=0)


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


@functools.cache
def _tiny_base() -> ACGA:
    """The tiny model (seed 1) the switches are compared with, built once for the module (about 2 s a build on a
    2-core CPU); the tests only read it."""
    keras.utils.set_random_seed(1)
    return ACGA(TINY)


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_every_ablation_switch_builds_trains_and_changes_the_output(name):
    keras.utils.set_random_seed(1)
    base_config = TINY.replace(modality="flow") if name == "flow" else TINY
    # bn_deepmind sets the base's BatchNorm statistics, flow compares with another model: their own bases.
    base = ACGA(base_config) if name in ("flow", "bn_deepmind") else _tiny_base()
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
    (lambda c: {"video": np.zeros((2, 8, 64, 64, 3), "float32"), "words": np.zeros((3, 8, 32), "float32")},
     r"inputs differ in batch size: video \(2, 8, 64, 64, 3\), words \(3, 8, 32\)"),
    (lambda c: {"video": np.zeros((0, 8, 64, 64, 3), "float32"), "words": np.zeros((0, 8, 32), "float32")},
     r"'video' has shape \(0, 8, 64, 64, 3\): an empty batch"),
    (lambda c: {"video": np.zeros((1, 8, 64, 64, 3)).tolist(), "words": np.zeros((1, 8, 32), "float32")},
     r"'video' is a list: pass an array or a tensor"),
    # raw pixels: Keras' functional model cast them to float, and the model read 0..255 as if in [-1, 1] (found by a
    # tester, the thirty-fifth session)
    (lambda c: {"video": np.zeros((1, 8, 64, 64, 3), "uint8"), "words": np.zeros((1, 8, 32), "float32")},
     r"'video' is uint8: the model reads floats, frames scaled to \[-1, 1\] \(x / 127.5 - 1: "
     r"acga_tf.ops.geometry.preprocess_clip"),
    (lambda c: {"video": np.zeros((1, 8, 64, 64, 3), "float32"), "words": np.zeros((1, 8, 32), "int64")},
     r"'words' is int64: the model reads floats, word vectors"),
])
def test_wrong_inputs_fail_with_a_clear_message(inputs, match):
    model = ACGA(TINY)
    with pytest.raises(ValueError, match=match):
        model(inputs(TINY))


@pytest.mark.parametrize("video, words, match", [
    ((1, 7, 64, 64, 3), (3, 8, 32), r"'video'.*axis 1 is 7 but the config's clip_length gives 8"),
    ((1, 8, 64, 64, 3), (3, 9, 32), r"'words'.*axis 1 is 9 but the config's sentence_length gives 8"),
    ((1, 8, 64, 64, 3), (8, 32), r"'words' has shape \(8, 32\), expected rank 3"),
    ((1, 8, 64, 64, 3), (0, 8, 32), r"'words' has shape \(0, 8, 32\): an empty batch"),
])
def test_segment_queries_checks_its_inputs_as_the_model_does(video, words, match):
    """Any number of clips with any number of sentences; the shapes are the config's."""
    model = ACGA(TINY)
    assert model.segment_queries(np.zeros((2, 8, 64, 64, 3), "float32"), np.zeros((3, 8, 32), "float32")
                                 )["logits"].shape == (6, 64, 64, 1)
    with pytest.raises(ValueError, match=match):
        model.segment_queries(np.zeros(video, "float32"), np.zeros(words, "float32"))
    with pytest.raises(ValueError, match=r"'video' is uint8: the model reads floats"):
        model.segment_queries(np.zeros((1, 8, 64, 64, 3), "uint8"), np.zeros((3, 8, 32), "float32"))


def test_frames_of_0_to_255_given_as_floats_are_warned_about_where_the_model_is_called():
    """A Python-API reviewer's float frames of 0..255 gave masks unrelated to the video without a word (the model
    reads [-1, 1]); scaled frames are taken quietly."""
    model = ACGA(TINY)
    video = np.random.default_rng(0).integers(0, 256, (1, 8, 64, 64, 3)).astype("float32")
    words = np.zeros((1, 8, 32), "float32")
    for call in (lambda: model({"video": video, "words": words}), lambda: model.segment_queries(video, words)):
        with pytest.warns(UserWarning, match=r"ACGA input 'video' reaches 255: the model reads frames scaled to "
                                             r"\[-1, 1\] .*frames of 0..255 give masks unrelated") as caught:
            call()
        assert caught[0].filename == __file__  # the user's line
    with pytest.warns(UserWarning, match="reaches 255") as caught:  # at the line that called predict (a reviewer's:
        model.predict({"video": video, "words": words}, verbose=0)  # in the package)
    assert caught[0].filename == __file__
    noise = np.random.default_rng(1).standard_normal(video.shape).astype("float32")  # a smoke test's: not 0..255
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model({"video": video / 127.5 - 1, "words": words})
        model({"video": noise, "words": words})


def test_stateless_call_checks_its_inputs_as_a_call_does():
    """A JAX user's training step (`stateless_call`) with a 32 x 32 clip on an S = 64 model failed inside
    CoordinateMap ("Cannot concatenate arrays with shapes ..."), where a call names the input and the field."""
    model = ACGA(TINY)
    variables = (model.trainable_variables, model.non_trainable_variables)
    bad = {"video": np.zeros((1, 8, 32, 32, 3), "float32"), "words": np.zeros((1, 8, 32), "float32")}
    with pytest.raises(ValueError, match=r"'video'.*axis 2 is 32 but the config's image_size gives 64"):
        model.stateless_call(*variables, bad)
    with pytest.raises(ValueError, match=r"'video' is uint8: the model reads floats"):
        model.stateless_call(*variables, inputs={"video": bad["video"].astype("uint8"), "words": bad["words"]})
    outputs, _ = model.stateless_call(*variables, random_inputs(TINY))
    assert tuple(outputs["logits"].shape)[1:] == (64, 64, 1)


def test_a_call_with_an_argument_it_does_not_take_is_refused():
    """A Python-API tester's `model(x, return_attention=True)` answered without maps and without a word (Keras passes
    over a keyword a model's call does not take): the config's field is the switch, and the message says so."""
    model = ACGA(TINY)
    inputs = random_inputs(TINY)
    with pytest.raises(TypeError, match=r"^ACGA\(\) got the argument\(s\) return_attention, which its call does not "
                                        r"take \(mask=, training=\); the attention maps are the config's "
                                        r"return_attention=True"):
        model(inputs, return_attention=True)
    assert set(model(inputs, training=False)) == {"logits", "logits_res1", "logits_res2"}

    class Scaled(ACGA):  # a subclass's own argument (docs/model.md#extending) is taken (a fixed set refused it)
        def call(self, inputs, training=None, mask=None, scale=1.0):
            return {k: v * scale for k, v in super().call(inputs, training=training, mask=mask).items()}

    scaled = Scaled(TINY)
    scaled.set_weights(model.get_weights())
    np.testing.assert_allclose(scaled(inputs, scale=2.0)["logits"], 2 * np.asarray(model(inputs)["logits"]),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match=r"^Scaled\(\) got the argument\(s\) scales, which its call does not take "
                                        r"\(mask=, scale=, training=\)$"):
        scaled(inputs, scales=2.0)

    class ScaleMixin:  # a mixin's call, before ACGA's place (a reviewer's: refused)
        def call(self, inputs, training=None, mask=None, scale=1.0):
            return {k: v * scale for k, v in super().call(inputs, training=training, mask=mask).items()}

    class Mixed(ScaleMixin, ACGA):
        pass

    mixed = Mixed(TINY)
    mixed.set_weights(model.get_weights())
    np.testing.assert_allclose(mixed(inputs, scale=2.0)["logits"], 2 * np.asarray(model(inputs)["logits"]),
                               rtol=1e-5, atol=1e-6)


def test_predict_refuses_raw_pixels():
    """`model.predict` passes its batches through the same check (Keras keeps the arrays' dtype)."""
    with pytest.raises(ValueError, match=r"'video' is uint8: the model reads floats"):
        ACGA(TINY).predict({"video": np.zeros((1, 8, 64, 64, 3), "uint8"), "words": np.zeros((1, 8, 32), "float32")},
                           verbose=0)


def test_a_preset_name_is_not_a_config():
    with pytest.raises(TypeError, match=r"ACGA takes an ACGAConfig or its dict, got str 'tiny' \(a preset: "):
        ACGA("tiny")


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


def test_tiny_preset_overfits_with_model_fit(monkeypatch):
    # Mixed_4f and the head train, as in the paper (the whole encoder: 40 s instead of 27 s on a 2-core AVX2 host).
    config = TINY.replace(i3d_trainable_from="Mixed_4f")
    keras.utils.set_random_seed(0)
    model = ACGA(config)
    model.compile(learning_rate=2e-3)  # the paper's loss and metrics by default (the tiny experiment's rate)
    traced = []
    train_step = model.train_step
    monkeypatch.setattr(model, "train_step", lambda data: (traced.append(1), train_step(data))[1])
    x, y = _synthetic_batch(config)
    # 20 steps (60 before): measured 2026-12-07, the loss falls to 1.4% of its first (10 steps: 16%) and the IoU
    # reaches 0.98 (10 steps: 0.76)
    history = model.fit(x, y, batch_size=4, epochs=20, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] <= 0.2 * losses[0], (losses[0], losses[-1])
    assert history.history["mean_iou"][-1] > 0.5  # ReferringIoU on the fused logits
    # built before the first step, not while it is traced: under TensorFlow the step is traced once, not twice
    # (docs/training.md#first-step); the other backends run it as Python once per step or trace it once
    if keras.backend.backend() == "tensorflow":
        assert len(traced) == 1


def test_a_model_returning_attention_maps_trains_with_the_default_compile():
    # The maps have no target: Keras' compiled metrics indexed the targets by every output name (KeyError).
    config = TRAIN_TINY.replace(return_attention=True)
    model = ACGA(config)
    model.compile()
    x, y = _synthetic_batch(config, n=2)
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "mean_iou" in history.history
    assert model.train_on_batch(x, y, return_dict=True)["loss"] > 0
    assert set(model.predict(x, verbose=0)) >= {"logits", "word_attention", "spatial_attention"}


def test_a_saved_compiled_model_loads_compiled_and_goes_on_training_with_its_optimizer(tmp_path):
    model = ACGA(TRAIN_TINY)
    model.compile(learning_rate=1e-3)
    x, y = _synthetic_batch(TRAIN_TINY, n=2)
    model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    path = str(tmp_path / "trained.keras")
    model.save(path)
    restored = keras.saving.load_model(path)  # before: not compiled (Keras skipped the custom compile), fit failed
    assert restored.compiled and type(restored.optimizer).__name__ == "Adam"
    assert int(restored.optimizer.iterations) == 2
    assert float(restored.optimizer.learning_rate) == pytest.approx(1e-3)
    for saved, loaded in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded), keras.ops.convert_to_numpy(saved))
    restored.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert int(restored.optimizer.iterations) == 3
    assert not load_model_file(path).compiled  # the product's loader (evaluate, predict, export): no optimizer state


def test_layers_frozen_after_the_build_stay_frozen_through_save_and_load(tmp_path):
    model = ACGA(TINY)
    built = len(model.trainable_weights)
    model.get_layer("video_encoder").trainable = False
    model.get_layer("text_encoder").trainable = False
    frozen = len(model.trainable_weights)
    assert frozen < built
    model.save(str(tmp_path / "frozen.keras"))
    restored = keras.saving.load_model(str(tmp_path / "frozen.keras"))  # before: every layer trainable again
    assert len(restored.trainable_weights) == frozen
    assert [w.path for w in restored.trainable_weights] == [w.path for w in model.trainable_weights]
    ACGA(TINY).save(str(tmp_path / "plain.keras"))  # nothing changed: the config as before, without the flags
    assert "layers_trainable" not in ACGA(TINY).get_config()
    assert len(keras.saving.load_model(str(tmp_path / "plain.keras")).trainable_weights) == built


def test_unfreezing_the_encoder_keeps_the_blocks_its_config_freezes_frozen():
    model = ACGA(TINY.replace(i3d_trainable_from="Mixed_4b"))
    encoder = model.get_layer("video_encoder")
    trainable = [w.path for w in model.trainable_weights]
    encoder.trainable = False
    encoder.trainable = True  # before: every block trained, Conv3d_1a_7x7 included
    assert [w.path for w in model.trainable_weights] == trainable
    assert not encoder.blocks["Conv3d_1a_7x7"].trainable and encoder.blocks["Mixed_4b"].trainable
    encoder.blocks["Conv3d_1a_7x7"].trainable = True  # a block's own flag still trains it
    assert len(model.trainable_weights) > len(trainable)


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
    assert out.dtype == "float32"  # logits stay float32 (docs/architecture.md)
    np.testing.assert_allclose(np.asarray(out), np.asarray(model(inputs)["logits"]), atol=1e-6)


def test_a_float16_model_runs_in_float32_where_tensorflow_has_no_gpu(tmp_path, caplog):
    """A run trained in mixed_float16 (under JAX, or on a GPU) failed at its first clip in `acga evaluate`, `predict`
    and the SavedModel `acga export` wrote, on a CPU: TensorFlow has no float16 MaxPool3D kernel there."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's CPU kernels")
    from acga_tf.models.acga import compute_dtype

    model = ACGA(TINY, dtype="mixed_float16")
    path = str(tmp_path / "f16.keras")
    model.save(path)
    with caplog.at_level("WARNING"):
        loaded = load_model_file(path)
    assert compute_dtype(loaded) == "float32" and "runs in float32 here, with the same weights" in caplog.text
    reference = ACGA(TINY)  # the same weights in float32
    reference.set_weights(model.get_weights())
    inputs = random_inputs(TINY)
    np.testing.assert_array_equal(np.asarray(loaded(inputs)["logits"]), np.asarray(reference(inputs)["logits"]))


def test_a_float16_model_called_where_tensorflow_has_no_gpu_says_so_in_one_line():
    """`ACGA(config, dtype="mixed_float16")` built in Python and called on a CPU under TensorFlow failed deep in I3D
    with TensorFlow's kernel message ("Could not find device for node: MaxPool3D ... T=DT_HALF"). Now one line says
    why and what to use; a symbolic call (composing a larger model) still works."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's CPU kernels")
    model = ACGA(TINY, dtype="mixed_float16")
    inputs = random_inputs(TINY)
    message = (r"^ACGA computes in float16 \(dtype='mixed_float16'\), which TensorFlow cannot run on a CPU "
               r".*mixed_bfloat16")
    with pytest.raises(ValueError, match=message + r".*a saved float16 run: acga_tf\.training\.artifacts\."
                                                   r"load_trained loads it in float32; a model of yours: float32 = "
                                                   r"ACGA\(model\.config\), then float32\.set_weights"):
        model(inputs)
    float32 = ACGA(model.config)  # the remedy the message gives (a JAX user's bare .keras file had no run to load)
    float32.set_weights(model.get_weights())
    assert float32(inputs)["logits"].shape[1:] == (TINY.image_size, TINY.image_size, 1)
    with pytest.raises(ValueError, match=message):
        model.segment_queries(inputs["video"], inputs["words"])
    with pytest.raises(ValueError, match=message):
        model.predict(inputs, verbose=0)
    symbolic = {key: keras.Input(value.shape[1:]) for key, value in inputs.items()}
    assert model(symbolic)["logits"].shape[1:] == (TINY.image_size, TINY.image_size, 1)


@pytest.mark.parametrize("modality", ["rgb", "rgb+flow"])
def test_segment_queries_equals_the_model_on_the_repeated_clip(modality):
    config = TINY.replace(modality=modality)
    model = ACGA(config)
    inputs = random_inputs(config, batch=3)
    clip = inputs["video"][:1]
    together = model.segment_queries(clip, inputs["words"])
    alone = model({"video": np.repeat(clip, 3, axis=0), "words": inputs["words"]}, training=False)
    for key in ("logits_res1", "logits_res2", "logits"):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(together[key]),
                                   keras.ops.convert_to_numpy(alone[key]), atol=1e-5)


def test_segment_queries_on_several_clips_is_clip_major():
    """B clips and Q sentences → B × Q rows, row b·Q + q = clip b with sentence q (what predict batches)."""
    model = ACGA(TINY)
    inputs = random_inputs(TINY, batch=3)
    clips, words = inputs["video"][:2], inputs["words"]  # B = 2, Q = 3
    together = keras.ops.convert_to_numpy(model.segment_queries(clips, words)["logits"])
    alone = model({"video": np.repeat(clips, 3, axis=0), "words": np.tile(words, (2, 1, 1))}, training=False)
    assert together.shape[0] == 6
    np.testing.assert_allclose(together, keras.ops.convert_to_numpy(alone["logits"]), atol=1e-5)


def test_a_keras_file_holding_python_code_is_refused_and_the_code_not_run(tmp_path):
    """A security reviewer's `model.keras` with a Lambda layer whose code writes a file: refused by Keras' safe mode,
    but the message said it held "a class of your own, Functional" to import and load from Python."""
    marker = tmp_path / "ran"
    inputs = keras.Input((3,))
    code = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")  # (no closure: Keras saves the code alone)
    model = keras.Model(inputs, keras.layers.Lambda(code)(inputs))
    marker.unlink()  # (written once while the model was built)
    model.save(tmp_path / "code.keras")
    with pytest.raises(ValueError, match=r"code\.keras: holds Python code \(a Lambda layer\), which Keras does not run "
                                         r"from a file \(its safe mode\): not a model acga-tf wrote"):
        load_model_file(str(tmp_path / "code.keras"))
    assert not marker.exists()


def test_a_runs_config_json_that_differs_from_its_model_is_warned_about(tmp_path, caplog):
    """A security reviewer's `image_size: -1` (and NaN, 1e9, a class name) in a run's config.json changed nothing and
    said nothing: the model file's own architecture is what loads. Now a warning names the fields."""
    import json

    from runs import make_run

    from acga_tf.training.artifacts import load_trained

    run = make_run(tmp_path / "run")
    with caplog.at_level("WARNING"):
        load_trained(run)
    assert "config.json" not in caplog.text  # as written: no warning
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    former = {"foreground_weight": 2.0, "learning_rate": 1e-3, "epochs": 5, "seed": 0}  # runs of 2026-11-25 to 29
    (tmp_path / "run" / "config.json").write_text(json.dumps({**config, **former}))
    with caplog.at_level("WARNING"):
        load_trained(run)
    assert "config.json" not in caplog.text  # (a reviewer's: every load of such a run warned)
    config.pop("attention_init_std")  # a field a run of an earlier checkout lacks is no difference
    (tmp_path / "run" / "config.json").write_text(json.dumps({**config, "image_size": -1, "__class__": "os.system"}))
    with caplog.at_level("WARNING"):
        trained = load_trained(run)
    assert trained.config.image_size == 64  # the model file's (the tiny preset's)
    assert f"{tmp_path / 'run' / 'config.json'}: __class__, image_size differ from what model.keras holds, which is " \
           "the model loaded (config.json is a copy for reading: edited by hand, or another run's?)" in caplog.text


def test_a_stage_replaced_by_a_layer_of_ones_own_trains_saves_and_loads(tmp_path, monkeypatch):
    """docs/model.md#extending: `ACGA(config, stages={"text_encoder": layer})` (a researcher found no way to swap a
    stage but to rebuild the model from its internals, which evaluate, predict and export then refused)."""
    model = ACGA(TINY, stages={"text_encoder": GRUTextEncoder(TINY.text_dim, name="gru_text")})
    assert model.stage("text_encoder").name == "gru_text"
    gru_weights = sum(int(np.prod(w.shape)) for w in model.stage("text_encoder").weights)
    rows = [line.split() for line in parameter_table(model).splitlines() if line.startswith("text encoder")]
    assert rows == [["text", "encoder", f"{gru_weights:,}", "0", f"{gru_weights:,}"]]
    inputs = random_inputs(TINY, batch=2)
    before = keras.ops.convert_to_numpy(model(inputs, training=False)["logits"])
    together = model.segment_queries(inputs["video"][:1], inputs["words"])["logits"]
    alone = model({"video": np.repeat(inputs["video"][:1], 2, axis=0), "words": inputs["words"]}, training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(together), keras.ops.convert_to_numpy(alone["logits"]),
                               atol=1e-5)
    model.save(tmp_path / "gru.keras")
    loaded = load_model_file(str(tmp_path / "gru.keras"))
    assert loaded.stage("text_encoder").name == "gru_text" and isinstance(loaded.stage("text_encoder"), GRUTextEncoder)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(inputs, training=False)["logits"]), before)
    with monkeypatch.context() as patch:  # a process that does not know the class (the acga command): named
        patch.delitem(keras.saving.get_custom_objects(), "acga_tf_tests>GRUTextEncoder")
        with pytest.raises(ValueError, match=r"gru.keras: holds a class of your own, acga_tf_tests>GRUTextEncoder, "
                                             r"which this process does not know: load it from Python after importing"):
            load_model_file(str(tmp_path / "gru.keras"))

    # Keras' own class beside it is not one of "your own" (a security reviewer's Lambda file was said to hold a
    # class of its own, "Functional", to import before loading it)
    from acga_tf.training.artifacts import _unknown_classes

    assert _unknown_classes(str(tmp_path / "gru.keras")) == []

    for stages, error, match in (
            ({"video_encoder": GRUTextEncoder(8)}, ValueError, "'video_encoder' is not a stage a layer of one's own "
                                                               "may replace; those are video_feature, text_encoder"),
            ({"text_encoder": "gru"}, TypeError, r"stages\['text_encoder'\] is a str, not a Keras layer"),
            ([GRUTextEncoder(8)], TypeError, "stages is a list: give a dict of layers by stage name")):
        with pytest.raises(error, match=match):
            ACGA(TINY, stages=stages)
    with pytest.raises(ValueError, match="two streams"):
        ACGA(TINY.replace(modality="rgb+flow"), stages={"text_encoder": GRUTextEncoder(TINY.text_dim)})
    # a stage that takes or gives another shape is named (a QA tester's: "'KerasTensor' object is not a mapping")
    with pytest.raises(ValueError, match=r"^stages: the model cannot be wired with decoder of your own \(TypeError: "
                                         r".*\); each stage must take and give what the one it replaces does"):
        ACGA(TINY, stages={"decoder": keras.layers.Identity()})
    # an attention stage without maps under return_attention (a researcher's model returned none, without a word)

    class _MapLess(keras.layers.Layer):
        def call(self, video, text, word_mask):
            sentence = keras.ops.mean(text, axis=1)[:, None, None, :]  # (B, 1, 1, Dt)
            return {"attended_video": video, "attended_text": video[..., :1] * 0 + sentence}

    with pytest.raises(ValueError, match=r"^return_attention: the attention stage of your own gives no map \(it gives "
                                         r"attended_text, attended_video\): add word_attention"):
        ACGA(TINY.replace(return_attention=True), stages={"attention": _MapLess()})
    assert set(ACGA(TINY, stages={"attention": _MapLess()}).output) == {"logits_res1", "logits_res2", "logits"}
    # a class Keras cannot find by name is refused when saved (a QA tester's saved, then loaded nowhere)
    unregistered = type("_Unregistered", (GRUTextEncoder,), {})
    with pytest.raises(ValueError, match=r"stages\['text_encoder'\]: its class _Unregistered is not registered with "
                                         r"Keras, so a saved model could not be loaded"):
        ACGA(TINY, stages={"text_encoder": unregistered(TINY.text_dim)}).save(tmp_path / "unregistered.keras")


class _Refined(ACGA):
    """A researcher's extension (docs/model.md#extending): a 3 × 3 convolution refines the fused logits."""

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.refine = keras.layers.Conv2D(1, 3, padding="same", kernel_initializer="ones", name="refine")
        self.refine.build((None, self.config.image_size, self.config.image_size, 1))

    def call(self, inputs, training=None, mask=None):
        outputs = dict(super().call(inputs, training=training))
        outputs["logits"] = outputs["logits"] + self.refine(outputs["logits"])
        return outputs


def test_a_subclass_with_its_own_forward_pass_is_what_segment_queries_computes(tmp_path):
    """A researcher's subclass refined the logits in `call`: `fit` and `evaluate` used it, `segment_queries` (so
    `acga predict` and the export's multi-sentence signatures) rebuilt the head from the stages without it (max
    logit difference 7.4); the parameter table left its layer out; a run's files were half written for a model that
    is not an ACGA before the refusal."""
    model = _Refined(TINY)
    inputs = random_inputs(TINY, batch=3)
    clips = inputs["video"][:2]
    together = model.segment_queries(clips, inputs["words"])
    alone = model({"video": np.repeat(clips, 3, axis=0), "words": np.tile(inputs["words"], (2, 1, 1))},
                  training=False)
    for key in ("logits_res1", "logits_res2", "logits"):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(together[key]), keras.ops.convert_to_numpy(alone[key]),
                                   atol=1e-5)
    other = [line.split() for line in parameter_table(model).splitlines() if line.startswith("other layers")]
    assert other == [["other", "layers", "10", "0", "10"]]  # the 3 × 3 kernel and its bias
    assert "other layers" not in parameter_table(ACGA(TINY))

    from acga_tf.data.vocab import Vocabulary  # noqa: PLC0415
    from acga_tf.training.artifacts import TrainedModel, save_trained  # noqa: PLC0415

    plain = keras.Model(model.inputs, model.outputs)
    with pytest.raises(TypeError, match=r"^model is a Functional, not an ACGA: .*docs/model.md#extending\)$"):
        save_trained(str(tmp_path / "run"), plain, Vocabulary(["red"]), np.zeros((2, TINY.word_dim), "float32"))
    assert not (tmp_path / "run").exists()
    with pytest.raises(TypeError, match="not an ACGA"):
        TrainedModel(plain, TINY, Vocabulary(["red"]), np.zeros((2, TINY.word_dim), "float32"), str(tmp_path))


def test_the_default_metric_weighs_the_samples_fit_and_evaluate_are_given():
    """README: `ReferringIoU` weighs the samples of a dataset of `(x, y, w)`. Before, `compile()` put it under Keras'
    `metrics`, to which Keras passes no weights: weights [1, 1, 0, 0] scored all four samples."""
    config = TINY.replace(image_size=64)
    keras.utils.set_random_seed(0)
    model = ACGA(config)
    model.compile()
    x, y = _synthetic_batch(config)
    x, y = {k: v[:4] for k, v in x.items()}, {k: v[:4] for k, v in y.items()}
    all_four = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    first_two = model.evaluate({k: v[:2] for k, v in x.items()}, {k: v[:2] for k, v in y.items()}, batch_size=4,
                               verbose=0, return_dict=True)
    weighted = model.evaluate(x, y, sample_weight=np.array([1, 1, 0, 0], "float32"), batch_size=4, verbose=0,
                              return_dict=True)
    assert all_four["mean_iou"] != pytest.approx(first_two["mean_iou"], abs=1e-4)  # the check can fail
    for key in ("mean_iou", "overall_iou", "map"):
        assert weighted[key] == pytest.approx(first_two[key], abs=1e-5), key


def test_two_referring_iou_metrics_on_two_outputs_log_under_their_own_names():
    """Before: each logged `mean_iou`, ..., whatever its name, and the second output's values replaced the first's."""
    from acga_tf.models.metrics import ReferringIoU

    config = TINY.replace(image_size=64)
    keras.utils.set_random_seed(0)
    model = ACGA(config)
    model.compile(metrics={"logits": [ReferringIoU()], "logits_res2": [ReferringIoU(name="res2")]})
    x, y = _synthetic_batch(config)
    results = model.evaluate(x, y, batch_size=len(y["logits"]), verbose=0, return_dict=True)
    logits = model.predict(x, verbose=0)
    for key, output in (("mean_iou", "logits"), ("res2_mean_iou", "logits_res2")):
        alone = ReferringIoU()
        alone.update_state(y[output], logits[output])
        assert results[key] == pytest.approx(float(alone.result()["mean_iou"]), abs=1e-5), key


def test_what_a_graph_calls_converts_with_autograph():
    """A notebook reviewer's: `:=` in `ACGA.__call__` (and in `compute_loss`), which AutoGraph cannot convert, printed
    "AutoGraph could not transform <ACGA ...> and will run it as-is. Please report this to the TensorFlow team" at
    every evaluation (`acga demo`, the quickstart notebook): each method of the model code's classes, and each
    function of the modules a SavedModel's or an evaluation's graph calls, converts."""
    import importlib
    import inspect
    import pkgutil

    import tensorflow as tf

    import acga_tf.models

    functions = []
    for info in pkgutil.iter_modules(acga_tf.models.__path__, "acga_tf.models."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and obj.__module__ == module.__name__:  # the layers, `SegmentationTask`, ...
                functions += [f for f in vars(obj).values() if inspect.isfunction(f)]
    for name in ("acga_tf.ops.postprocess", "acga_tf.ops.geometry", "acga_tf.ops.threshold", "acga_tf.data.text",
                 "acga_tf.data.decode", "acga_tf.data.parse", "acga_tf.serving.export"):
        module = importlib.import_module(name)
        functions += [f for f in vars(module).values() if inspect.isfunction(f) and f.__module__ == name]
        functions += [f for obj in vars(module).values() if inspect.isclass(obj) and obj.__module__ == name
                      for f in vars(obj).values() if inspect.isfunction(f)]
    failed = []
    for function in functions:
        try:
            inspect.getsource(function)
        except OSError:  # a dataclass's generated methods: no graph calls them
            continue
        try:
            tf.autograph.to_graph(function)
        except Exception as e:  # noqa: BLE001 (AutoGraph's ConversionError and what it wraps)
            failed.append(f"{function.__qualname__}: {str(e)[-120:]}")
    assert len(functions) > 100 and not failed, failed
