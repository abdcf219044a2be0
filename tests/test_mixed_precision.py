"""Mixed precision and XLA of `acga_tf/models/acga.py` (`SegmentationTask.compile`, `compute_dtype`) and of
`acga_tf/training/train.py` (`mixed_precision_policy`): docs/training.md#mixed-precision and #xla.

- A model built mixed_float16 compiles with a loss-scale optimizer (defaults, an explicit optimizer, a name), and
  a float16 fit whose gradients underflow without scaling learns with it and does not move without it: under
  TensorFlow on a small task model (TensorFlow's CPU kernels have no float16 MaxPool3D, and its XLA compiler
  rejects the decoder's float16 resize gradient, so the ACGA itself cannot train in float16 there), and under JAX
  on the tiny ACGA (tests/backend_programs/loss_scaling.py, in a subprocess).
- `jit_compile=True` equals eager execution for the forward pass and one training step of the tiny ACGA.
- mixed_bfloat16_head computes I3D in float32 and the rest in bfloat16, and keeps it through a `.keras` file, the
  copy `fit` saves and the attention twin.
- Every bias of the model has its gradient summed in float32 in 16 bits (acga_tf/models/precision.py), and the
  demo's decoder's bias gradients in bfloat16 and float16 match float32's (tests/test_backends.py checks each
  layer under each backend).
"""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest
from support import REPO, jax_test_env, random_inputs

from acga_tf import ACGAConfig
from acga_tf.models import precision
from acga_tf.models.acga import ACGA, SegmentationTask, compute_dtype
from acga_tf.models.decoder import MultiResolutionDecoder
from acga_tf.models.losses import WeightedBCE
from acga_tf.ops import devices
from acga_tf.ops.devices import bfloat16_speedup
from acga_tf.training.train import PRECISIONS, _inference_copy, mixed_precision_policy, resolve_policy

TINY = ACGAConfig.preset("tiny", image_size=32, i3d_trainable_from="Mixed_4f")
# × the small model's loss: its gradients, ~1e-6 / (4 × 16 × 16 pixels) = 1e-9, are below float16's smallest
# subnormal (6e-8) unless scaled (by 2^15 at first)
LOSS_FACTOR = 1e-6


@pytest.mark.parametrize("optimizer", [None, "sgd", "explicit"])
def test_a_mixed_float16_model_compiles_with_a_loss_scale_optimizer(optimizer):
    model = ACGA(TINY, dtype="mixed_float16")
    assert model.dtype_policy.name == "float32"  # Keras' functional model: why compile reads the layers instead
    assert compute_dtype(model) == "float16"
    inner = keras.optimizers.SGD(0.1) if optimizer == "explicit" else optimizer
    model.compile(optimizer=inner)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    expected = keras.optimizers.Adam if optimizer is None else keras.optimizers.SGD
    assert isinstance(model.optimizer.inner_optimizer, expected)
    model.compile(optimizer=model.optimizer)  # already scaled: not wrapped twice
    assert isinstance(model.optimizer.inner_optimizer, expected)


def test_other_policies_and_auto_scale_loss_false_keep_the_plain_optimizer():
    for dtype in (None, "mixed_bfloat16"):
        model = ACGA(TINY, dtype=dtype)
        model.compile()
        assert type(model.optimizer) is keras.optimizers.Adam, dtype
    model = ACGA(TINY, dtype="mixed_float16")
    model.compile(auto_scale_loss=False)
    assert type(model.optimizer) is keras.optimizers.Adam


class _Task(SegmentationTask, keras.Model):
    """A two-convolution segmentation model trained through `SegmentationTask.compile`."""


class _TinyLoss(WeightedBCE):
    def call(self, y_true, y_pred):
        return super().call(y_true, y_pred) * LOSS_FACTOR


def _float16_fit(scaled: bool) -> tuple[list[float], int]:
    keras.utils.set_random_seed(0)
    x = keras.Input((16, 16, 3))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", dtype="mixed_float16")(x)
    logits = keras.layers.Conv2D(1, 3, padding="same", dtype="mixed_float16")(h)
    model = _Task(x, keras.layers.Activation("linear", dtype="float32")(logits), name="float16_task")
    model.compile(optimizer=keras.optimizers.Adam(3e-2), loss=_TinyLoss(), metrics=[], auto_scale_loss=scaled)
    rng = np.random.default_rng(0)
    video = rng.uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    mask = (video[..., :1] > 0).astype("float32")  # learnable from the pixels
    before = [w.numpy() for w in model.trainable_weights]
    losses = [float(model.train_on_batch(video, mask)) / LOSS_FACTOR for _ in range(30)]
    moved = sum(int(not np.array_equal(b, w.numpy())) for b, w in zip(before, model.trainable_weights))
    return losses, moved


def test_loss_scaling_lets_float16_gradients_that_underflow_learn_under_tensorflow():
    losses, moved = _float16_fit(scaled=True)
    assert moved == 4 and losses[-1] < 0.9 * losses[0], losses  # measured: 0.947 -> 0.813
    losses, moved = _float16_fit(scaled=False)  # the same fit without scaling: every gradient flushes to zero
    assert moved == 0 and len(set(losses)) == 1, losses


@pytest.mark.slow  # ~60 s on 2 cores: JAX compiles the tiny model's two training steps
def test_loss_scaling_lets_the_tiny_acga_learn_in_float16_under_jax(tmp_path, jax_cache):
    pytest.importorskip("jax", reason="the JAX-backend test needs JAX (pip install -e '.[test]')")
    result = tmp_path / "loss_scaling.json"
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CONFIG")}
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
               **jax_test_env(jax_cache))
    proc = subprocess.run([sys.executable, "-m", "tests.backend_programs.loss_scaling", "--result", str(result)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    data = json.loads(Path(result).read_text())
    assert data["backend"] == "jax" and data["compute_dtype"] == "float16"
    assert data["default_optimizer"] == ["LossScaleOptimizer", "Adam"]
    assert data["explicit_optimizer"] == ["LossScaleOptimizer", "SGD"]
    scaled, unscaled = data["scaled"], data["unscaled"]
    # Measured: 2.496 -> 2.476 in 6 steps with scaling; without it no weight moves and the loss stays 2.496.
    assert scaled["weights_moved"] > 0 and scaled["losses"][-1] < scaled["losses"][0] - 0.01, scaled
    assert all(b < a for a, b in zip(scaled["losses"], scaled["losses"][1:])), scaled
    assert unscaled["weights_moved"] == 0 and len(set(unscaled["losses"])) == 1, unscaled


def _targets(config, batch=2):
    s = config.image_size
    mask = np.zeros((batch, s, s, 1), "float32")
    mask[:, : s // 2, s // 4:] = 1.0
    return {"logits": mask, "logits_res2": mask[:, ::4, ::4], "logits_res1": mask[:, ::16, ::16]}


def test_xla_equals_eager_for_the_forward_pass_and_one_training_step():
    models = {}
    for mode in ("eager", "xla"):
        keras.utils.set_random_seed(0)
        model = ACGA(TINY)
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=mode == "xla", run_eagerly=mode == "eager")
        models[mode] = model
    models["xla"].set_weights(models["eager"].get_weights())
    x, y = random_inputs(TINY), _targets(TINY)
    forward = {mode: m.predict_on_batch(x)["logits"] for mode, m in models.items()}
    np.testing.assert_allclose(forward["xla"], forward["eager"], atol=1e-5)
    before = models["eager"].get_weights()
    for model in models.values():
        model.train_on_batch(x, y)
    after = {mode: m.get_weights() for mode, m in models.items()}
    assert any(not np.array_equal(a, b) for a, b in zip(before, after["eager"]))  # the step changed the weights
    for eager, xla in zip(after["eager"], after["xla"]):
        np.testing.assert_allclose(xla, eager, atol=1e-5)


def test_mixed_precision_policy_names_its_choice_and_why():
    policy, reason = mixed_precision_policy(gpu=None, speedup=0.65)  # issue 12's Intel host
    assert policy == "float32" and reason == ("no GPU; this CPU convolves in bfloat16 at 0.65x float32's speed (a "
                                              "0.2 s probe): mixed_bfloat16 would be no faster here")
    policy, reason = mixed_precision_policy(gpu=None, speedup=1.8)  # the AMD EPYC development host
    assert policy == "mixed_bfloat16_head" and "at 1.80x float32's speed" in reason
    assert "I3D in float32" in reason and "docs/demo.md" in reason
    policy, reason = mixed_precision_policy(gpu="NVIDIA H200, compute capability 9.0", speedup=1.8)
    assert policy == "mixed_float16" and "loss scaling" in reason and "NVIDIA H200" in reason
    # this machine: no GPU, and the probe is measured once per process
    assert mixed_precision_policy() == mixed_precision_policy(gpu=None) == mixed_precision_policy(
        gpu=None, speedup=bfloat16_speedup())


_HEAD_IN_BFLOAT16 = {"video_encoder": "float32", "video_feature": "bfloat16", "text_encoder": "bfloat16",
                     "attention": "bfloat16", "decoder": "bfloat16"}


def _stage_dtypes(model, stream=None):
    return {name: model.stage(name, stream).compute_dtype for name in _HEAD_IN_BFLOAT16}


def test_mixed_bfloat16_head_keeps_i3d_in_float32_in_every_copy_of_the_model(tmp_path):
    from acga_tf.apps.visualize import attention_model

    model = ACGA(TINY, **PRECISIONS["mixed_bfloat16_head"])
    assert _stage_dtypes(model) == _HEAD_IN_BFLOAT16 and compute_dtype(model) == "bfloat16"
    inputs = random_inputs(TINY, batch=1)
    expected = keras.ops.convert_to_numpy(model(inputs)["logits"])
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert model.precision == loaded.precision == "mixed_bfloat16_head"  # as `acga evaluate --output-json` names it
    model.compile()  # as under JAX, where the model is its own task: `_inference_copy` builds an uncompiled copy
    for copy in (loaded, _inference_copy(model), attention_model(model)):
        assert _stage_dtypes(copy) == _HEAD_IN_BFLOAT16, copy.name
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(copy(inputs)["logits"]), expected)
    # a model saved before `encoder_dtype` existed has no such key: one policy for every layer, as then
    config = model.get_config()
    del config["encoder_dtype"]
    assert set(_stage_dtypes(ACGA.from_config(config)).values()) == {"bfloat16"}
    assert "encoder_dtype" not in ACGA(TINY, dtype="mixed_bfloat16").get_config()
    assert ACGA.from_config(config).precision == "mixed_bfloat16" and ACGA(TINY).precision == "float32"
    two = ACGA(TINY.replace(modality="rgb+flow"), **PRECISIONS["mixed_bfloat16_head"])
    assert _stage_dtypes(two, "rgb") == _stage_dtypes(two, "flow") == _HEAD_IN_BFLOAT16


def test_bfloat16_speedup_times_the_same_convolutions_in_both_dtypes(monkeypatch):
    """The probe's ratio is float32's time over bfloat16's, of the same convolutions: on a clock that a float32
    convolution moves 3 ticks and a bfloat16 one 1 tick, it reads 3 (a real second timing, made slower by sleeping,
    was too noisy beside the other test process: once 1.27 for 3)."""
    assert 0.05 < bfloat16_speedup.__wrapped__(repeats=3) < 20  # the real probe runs
    clock, calls = [0.0], {"float32": [], "bfloat16": []}

    def counted_conv(x, kernel, **kwargs):
        dtype = keras.backend.standardize_dtype(x.dtype)
        calls[dtype].append((tuple(x.shape), tuple(kernel.shape), keras.backend.standardize_dtype(kernel.dtype)))
        clock[0] += 3.0 if dtype == "float32" else 1.0
        return x

    monkeypatch.setattr(keras.ops, "conv", counted_conv)
    monkeypatch.setattr(devices, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    assert bfloat16_speedup.__wrapped__(repeats=3) == 3.0
    assert calls["float32"] and [c[:2] for c in calls["float32"]] == [c[:2] for c in calls["bfloat16"]]
    assert {c[2] for c in calls["float32"]} == {"float32"} and {c[2] for c in calls["bfloat16"]} == {"bfloat16"}


def test_resolve_policy():
    assert resolve_policy(False) is None
    assert resolve_policy(True) == resolve_policy("auto") == mixed_precision_policy()[0]
    assert resolve_policy("mixed_bfloat16") == "mixed_bfloat16"
    assert resolve_policy("mixed_bfloat16_head") == "mixed_bfloat16_head"
    with pytest.raises(ValueError, match="mixed precision 'float16': expected auto or one of float32, "
                                         "mixed_bfloat16, mixed_float16, mixed_bfloat16_head"):
        resolve_policy("float16")


def test_every_bias_of_the_model_has_its_gradient_summed_in_float32():
    """Each layer of the ACGA with a bias is one of acga_tf/models/precision.py's (the decoder's first convs add
    theirs with `precision.add_bias`, checked by the next test)."""
    model = ACGA(TINY, dtype="mixed_bfloat16")
    biased = [layer for layer in model._flatten_layers() if getattr(layer, "use_bias", False)]
    assert len(biased) == 20  # the decoder's 14 convs, the attention's 5 Dense layers, the text encoder's conv
    assert [layer.path for layer in biased if not isinstance(layer, precision._BiasGradientInFloat32)] == []


# mixed_float16 (21 s in the suite: float16 convolutions are slow on a CPU): the default suite checks bfloat16's,
# where TensorFlow's CPU kernel summed the bias gradients in 16 bits (its float16 kernel sums in float32)
@pytest.mark.parametrize("policy", ["mixed_bfloat16", pytest.param("mixed_float16", marks=pytest.mark.slow)])
def test_the_decoders_bias_gradients_in_16_bits_match_float32(policy):
    """The demo's decoder at S = 128 (batch 4): every bias gradient within 2% of float32's (measured: at most 0.8%
    in bfloat16 and 0.1% in float16; with Keras' own bias add, TensorFlow's CPU kernel sums them in bfloat16 and the
    first checked is 5.9% off, those at S/4 and S 80 to 98%; its float16 kernel sums in float32)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    video, text = (tf.constant(rng.normal(0, 0.1, (4, 8, 8, c)), tf.float32) for c in (104, 64))
    mask = tf.constant(rng.random((4, 128, 128, 1)) < 0.1, tf.float32)
    grads, weights = {}, None
    for dtype in ("float32", policy):
        decoder = MultiResolutionDecoder((64, 32, 16), dtype=dtype, name="decoder")
        decoder.build(video.shape, text.shape)
        weights = weights or decoder.get_weights()
        decoder.set_weights(weights)
        with tf.GradientTape() as tape:
            outputs = decoder(video, text)
            loss = sum(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                tf.image.resize(mask, logits.shape[1:3], "nearest"), logits)) for logits in outputs.values())
            loss = loss * 2.0 ** 12  # as loss scaling does: float16 gradients ~1e-6 would lose bits to underflow
        variables = decoder.trainable_variables
        grads[dtype] = {v.path: g.numpy() for v, g in zip(variables, tape.gradient(loss, variables))}
    biases = [path for path in grads["float32"] if path.endswith("bias")]
    assert len(biases) == 14
    for path in biases:
        g32, g16 = grads["float32"][path], grads[policy][path]
        error = np.linalg.norm(g16 - g32) / np.linalg.norm(g32)
        assert error < 0.02, f"{policy}: {path}'s gradient is {error:.1%} off float32's"


def test_a_global_mixed_policy_set_before_the_build_is_saved_with_the_model(tmp_path):
    """Keras' idiom: `set_global_policy("mixed_bfloat16")`, then build. Before, `get_config` recorded only a `dtype=`
    given to ACGA, so the model loaded in float32 in a process whose global policy was float32 (its logits 0.012
    apart), where a plain Keras model keeps its layers' policies."""
    from acga_tf import ACGA, ACGAConfig

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = ACGA(ACGAConfig.preset("tiny").replace(image_size=32))
    finally:
        keras.config.set_dtype_policy("float32")
    path = str(tmp_path / "global.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for name in ("video_encoder", "text_encoder", "attention", "decoder"):
        assert loaded.get_layer(name).dtype_policy.name == "mixed_bfloat16", name
    inputs = random_inputs(model.config, batch=1)
    np.testing.assert_array_equal(np.asarray(model(inputs)["logits"]), np.asarray(loaded(inputs)["logits"]))


def _bfloat16_ops(saved_model: Path) -> int:
    """How many ops of a SavedModel's graph compute in bfloat16 (their `T` attribute)."""
    from tensorflow.core.protobuf import saved_model_pb2

    graph = saved_model_pb2.SavedModel.FromString((saved_model / "saved_model.pb").read_bytes()).meta_graphs[0]
    nodes = [node for function in graph.graph_def.library.function for node in function.node_def]
    return sum(node.attr["T"].type == 14 for node in nodes)  # DT_BFLOAT16


def test_a_bfloat16_run_exports_in_float32_where_asked(tmp_path, monkeypatch, caplog, capsys):
    """An edge deployer's export of a mixed_bfloat16_head run kept bfloat16 in its graph, with no option to change
    it: on a CPU without bfloat16 units such a graph runs far slower (and with oneDNN held to AVX2 it aborted the
    process). `acga export --float32` exports the same weights computing in float32; the default export says so."""
    import dataclasses

    import tensorflow as tf
    from runs import QUERY, make_run

    from acga_tf.cli import main
    from acga_tf.serving import export
    from acga_tf.training import artifacts

    run = make_run(tmp_path / "run")
    trained = artifacts.load_trained(run)
    model = ACGA(trained.config, **PRECISIONS["mixed_bfloat16_head"])
    model.set_weights(trained.model.get_weights())
    artifacts.save_trained(run, model, trained.vocabulary, trained.embeddings, overwrite=True)
    assert main(["export", "--model", run, "--output", str(tmp_path / "f32" / "acga" / "1"), "--no-warmup",
                 "--float32"]) == 0
    assert "(computes in float32; signatures: serving_default" in capsys.readouterr().out  # (a newcomer: said nowhere)
    assert _bfloat16_ops(tmp_path / "f32" / "acga" / "1") == 0
    record = json.loads((tmp_path / "f32" / "acga" / "1" / "assets.extra" / "acga_provenance.json").read_text())
    assert record["precision"] == "float32" and record["weights"] == artifacts.arrays_digest(model.weights)
    loaded = tf.saved_model.load(str(tmp_path / "f32" / "acga" / "1"))
    video = np.random.default_rng(0).integers(0, 256, (1, 8, 48, 64, 3), np.uint8)
    served = loaded.serving_default(video=tf.constant(video), query=tf.constant([QUERY]))
    twin = artifacts.float32_twin(model)
    reference = export.ServingModule(twin, trained.vectorizer()).segment(tf.constant(video), tf.constant([QUERY]))
    np.testing.assert_allclose(served["probability"].numpy(), reference["probability"].numpy(), atol=2e-5)

    class Traced(Exception):
        pass

    def stop(module):
        raise Traced

    monkeypatch.setattr(export, "trace_signatures", stop)  # the default export's note, then no tracing
    with caplog.at_level("INFO"), pytest.raises(Traced):
        export.export_model(dataclasses.replace(trained, model=model), str(tmp_path / "bf16" / "acga" / "1"))
    assert "the export computes in mixed_bfloat16_head, as the run trained: on a CPU without bfloat16 units" in \
        caplog.text and "acga export --float32" in caplog.text
