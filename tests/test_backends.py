"""The model under each Keras backend: TensorFlow, JAX and (where installed) PyTorch.

Each check runs a program of tests/backend_programs/ in a subprocess with `KERAS_BACKEND` set (a process picks its
Keras backend once, at import), and asserts on the JSON that the program writes:

- parity.py: the reference parity fixture (shared/fixtures/reference) is reproduced under the backend (with
  `--other-stems`, also with the I3D stem in its other forms: 3D (a CPU's) or folded, and space to depth (a GPU's);
  and with the decoder's sub-pixel upsampling),
  and the model (fixture weights) is saved as a .keras file;
- save_load.py: the .keras files saved under the other backends load under this one, with the same outputs;
- bias_gradients.py: bias and gate gradients in 16 bits, summed in float32 (acga_tf/models/precision.py);
- fit_one_epoch.py: one `model.fit` epoch of the tiny model on `make_dataset`'s tf.data batches of the synthetic world
  lowers the training loss.

Some of these checks are slow tests (`pytest -m slow`): the comment above `SLOW` says why.

JAX (CPU wheels) comes with the `test` extra; PyTorch with the `convert` extra: the torch checks skip, saying so,
where it is not installed. The JAX programs share the test process' persistent compilation cache (`jax_cache` in
tests/conftest.py) and compile at LLVM optimisation level 0 (`jax_test_env` in tests/support.py); set
`JAX_COMPILATION_CACHE_DIR` to keep a cache across runs.
"""

from __future__ import annotations

import itertools
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from support import TRAINING_TINY_SET, installed, jax_test_env, require

REPO = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")
LOGITS = ("logits_res1", "logits_res2", "logits")
FIXTURE_DIR = pathlib.Path("fixtures", "reference")  # under shared/
PARITY_ATOL = 1e-4  # the fixture's tolerance on the logits (shared/fixtures/reference/README.md)
CROSS_BACKEND_ATOL = 1e-5
PROGRAM_TIMEOUT_S = 600


# Slow tests here (`pytest -m slow`; 10 to 60 s each on a 2-core AVX2 host), each covered in the default suite at
# less cost:
# - the programs under TensorFlow: the default suite checks the same in its own process: the parity fixture in
#   tests/test_weights.py (the stem's forms in tests/test_video_encoder.py), the 16-bit bias gradients in
#   tests/test_mixed_precision.py, fits on the synthetic world's tf.data batches in tests/test_train.py and
#   tests/test_acga.py;
# - under JAX, the bias gradients (the slow test_gpu_session_runs_every_step_without_tensorflow runs them again) and
#   the fit (`acga train` below fits under JAX too, and checks that the loss falls);
# - loading under JAX a file saved under TensorFlow (the default suite loads under TensorFlow a file saved under JAX:
#   a run trained on a GPU under JAX, then exported and served under TensorFlow);
# - the parity fixture with the I3D stem in its other forms (the default suite checks the forms against each other:
#   under TensorFlow in tests/test_video_encoder.py, under JAX in benchmarks/gpu_stem.py's tiny run).
SLOW = pytest.mark.slow


class BackendRuns:
    """Runs each backend program once per module (a failure too: later tests that need it fail with its message)
    and keeps the JSON results."""

    def __init__(self, work: pathlib.Path, jax_cache: pathlib.Path):
        self.work, self.jax_cache = work, jax_cache
        self._results: dict[tuple, dict] = {}

    def env(self, backend: str, cpu_devices: int = 1) -> dict[str, str]:
        """The backend's environment; under JAX, `cpu_devices` CPU devices (XLA's host platform device count)."""
        env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CONFIG")}
        env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu",
                   PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
        # JAX on a CPU: compiling dominates. The JAX processes share a compilation cache (tests/conftest.py).
        if backend == "jax":
            env.update(jax_test_env(self.jax_cache))
            if cpu_devices > 1:
                env["XLA_FLAGS"] += f" --xla_force_host_platform_device_count={cpu_devices}"
        return env

    def run(self, backend: str, program: str, *args: str, name: str = "") -> dict:
        """Runs `python -m tests.backend_programs.<program> ARGS --result R.json` under `backend`; returns R.json's
        JSON (R: `name`, by default the program's, and the backend)."""
        result = self.work / f"{name or program}-{backend}.json"
        command = [sys.executable, "-m", f"tests.backend_programs.{program}", *args, "--result", str(result)]
        proc = subprocess.run(command, cwd=REPO, env=self.env(backend), capture_output=True, text=True,
                              timeout=PROGRAM_TIMEOUT_S)
        if proc.returncode != 0:
            pytest.fail(f"KERAS_BACKEND={backend} {program}.py exited with {proc.returncode}:\n{proc.stderr[-6000:]}")
        data = json.loads(result.read_text())
        assert data["backend"] == backend  # the program checked that Keras runs the requested backend
        return data

    def _once(self, key: tuple, make) -> dict:
        if key not in self._results:
            try:
                self._results[key] = make()
            except (Exception, pytest.fail.Exception) as e:
                self._results[key] = e
        if isinstance(self._results[key], BaseException):
            pytest.fail(f"{' '.join(key)}: {self._results[key]}", pytrace=False)
        return self._results[key]

    def saved_dir(self, backend: str) -> pathlib.Path:
        return self.work / "saved" / backend

    def parity(self, backend: str, fixture_dir: pathlib.Path) -> dict:
        """parity.py under `backend`, which also saves the model to `saved_dir(backend)`."""
        return self._once(("parity", backend), lambda: self.run(
            backend, "parity", "--save", str(self.saved_dir(backend)), str(fixture_dir)))

    def load(self, backend: str, fixture_dir: pathlib.Path) -> dict:
        """save_load.py under `backend` over the files saved under every other installed backend."""
        def make():
            sources = [b for b in BACKENDS if b != backend and installed(b)]
            for source in sources:
                self.parity(source, fixture_dir)
            return self.run(backend, "save_load", *(str(self.saved_dir(s)) for s in sources))
        return self._once(("load", backend), make)

    def train(self, backend: str, train_pattern: str, *, cpu_devices: int, batch_size: int,
              extra: tuple = ()) -> tuple[pathlib.Path, subprocess.CompletedProcess]:
        """`acga -v train` of the tiny preset at S=32 (trainable from Mixed_4f), 2 epochs of 4 steps, under `backend`
        on `cpu_devices` devices with `batch_size` per device: (run folder, finished process)."""
        def make():
            out = self.work / f"train-{backend}-{cpu_devices}x{batch_size}"
            command = [sys.executable, "-m", "acga_tf.cli", "-v", "train", "--preset", "tiny", "--data", train_pattern,
                       "--epochs", "2", "--steps-per-epoch", "4", "--batch-size", str(batch_size), *TRAINING_TINY_SET,
                       *extra, "--output", str(out)]
            proc = subprocess.run(command, cwd=REPO, env=self.env(backend, cpu_devices), capture_output=True,
                                  text=True, timeout=PROGRAM_TIMEOUT_S)
            if proc.returncode != 0:
                pytest.fail(f"KERAS_BACKEND={backend} acga train exited with {proc.returncode}:\n{proc.stderr[-6000:]}")
            return {"out": out, "proc": proc}
        result = self._once(("train", backend, str(cpu_devices), str(batch_size)), make)
        return result["out"], result["proc"]

    def fit(self, backend: str, train_pattern: str) -> dict:
        """fit_one_epoch.py under `backend`: the tiny model at S=32 with the paper's trainable blocks (Mixed_4f and
        the head; fewer gradients to compile than training the whole encoder), batches of 4."""
        return self._once(("fit", backend), lambda: self.run(
            backend, "fit_one_epoch", "--image-size", "32", "--batch-size", "4",
            "--trainable-from", "Mixed_4f", train_pattern))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, jax_cache):
    work = tmp_path_factory.mktemp("backends")
    yield BackendRuns(work, jax_cache)
    shutil.rmtree(work / "saved", ignore_errors=True)  # three .keras files of the paper topology, ~125 MB each


@pytest.mark.parametrize("backend", [pytest.param(b, marks=[SLOW] if b == "tensorflow" else []) for b in BACKENDS])
def test_reference_parity_fixture_under_each_backend(runs, shared_dir, backend):
    require(backend)
    result = runs.parity(backend, shared_dir / FIXTURE_DIR)
    assert (result["loaded"], result["unused_checkpoint"], result["unset_model"]) == (265, 0, 0)
    assert set(result["max_abs_diff"]) == {"logits_res1", "logits_res2", "logits_res3"}
    for key, diff in result["max_abs_diff"].items():
        assert diff <= PARITY_ATOL, f"{backend}: {key} differs from the fixture by {diff:.3g}"


@SLOW  # a minute a backend on a 2-core AVX2 host (the comment above SLOW says what the default suite checks instead)
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_stems_other_forms_reproduce_the_parity_fixture_under_each_backend(runs, shared_dir, backend):
    require(backend)
    result = runs.run(backend, "parity", "--other-stems", str(shared_dir / FIXTURE_DIR), name="parity_stems")
    other = "folded" if result["stem_folded"] else "3D (a CPU's)"  # the form this machine does not run
    for key, diff in result["max_abs_diff_other_stem"].items():
        assert diff <= PARITY_ATOL, f"{backend}, the stem {other}: {key} differs from the fixture by {diff:.3g}"
    for key, diff in result["max_abs_diff_space_to_depth_stem"].items():
        assert diff <= PARITY_ATOL, f"{backend}, the stem in space to depth (a GPU's): {key} is off by {diff:.3g}"
    for key, diff in result["max_abs_diff_paired_frames_stem"].items():
        assert diff <= PARITY_ATOL, f"{backend}, the stem computing frames in pairs: {key} is off by {diff:.3g}"
    upsample = "sub-pixel (a GPU's)" if result["stem_folded"] else "transposed"  # the form this machine does not run
    for key, diff in result["max_abs_diff_other_upsample"].items():
        assert diff <= PARITY_ATOL, f"{backend}, the decoder's {upsample} upsampling: {key} is off by {diff:.3g}"
    for key, diff in result["max_abs_diff_3d_max_pool"].items():
        assert diff <= PARITY_ATOL, f"{backend}, Keras' 3-D max-pools: {key} is off by {diff:.3g}"


@SLOW
@pytest.mark.parametrize("backend", BACKENDS)
def test_bias_and_gate_gradients_are_summed_in_float32_under_each_backend(runs, backend):
    """acga_tf/models/precision.py: in mixed_bfloat16 and mixed_float16, the bias gradient of each of its layers and
    the gate's gradient, summed over 32,768 positions, are within 1% of the true sum. Keras' own Conv2D is the
    control: its bias gradient is summed in 16 bits by TensorFlow's CPU kernel (bfloat16) and by JAX on the CPU."""
    require(backend)
    errors = runs.run(backend, "bias_gradients")["errors"]
    for policy, by_layer in errors.items():
        for name, error in by_layer.items():
            if name.endswith("ours"):
                assert error < 0.01, f"{backend}, {policy}: {name[:-5]}'s gradient is {error:.1%} off"
    if backend in ("tensorflow", "jax"):  # measured: 98% (TensorFlow) and 94% (JAX) off
        error = errors["mixed_bfloat16"]["Conv2D keras"]
        assert error > 0.5, (f"{backend}: Keras' own bfloat16 Conv2D bias gradient is now {error:.1%} off: the "
                             "defect that precision.py works around may be fixed")


@pytest.mark.parametrize("source, target", [pytest.param(*pair, marks=[SLOW] if pair == ("tensorflow", "jax") else [])
                                            for pair in itertools.permutations(BACKENDS, 2)])
def test_keras_file_saved_under_one_backend_loads_under_another(runs, shared_dir, source, target):
    """The model saved is the parity model (the reference's weights, BatchNorm statistics included)."""
    require(source, target)
    loaded = runs.load(target, shared_dir / FIXTURE_DIR)["loaded"][source]
    assert loaded["is_acga"] and loaded["output_keys"] == sorted(LOGITS)
    for key in LOGITS:
        diff = loaded["outputs_max_abs_diff"][key]
        assert diff <= CROSS_BACKEND_ATOL, f"saved under {source}, loaded under {target}: {key} differs by {diff:.3g}"


@SLOW
@pytest.mark.parametrize("backend", BACKENDS)
def test_one_fit_epoch_lowers_the_loss(runs, prepared_a2d, backend):
    require(backend)
    result = runs.fit(backend, prepared_a2d["train"])
    losses = result["step_losses"]
    assert result["finite"] and result["steps"] == len(losses) >= 5
    # Keras' TF trainer counts one more optimizer iteration than it runs steps over a dataset of unknown cardinality
    # (make_dataset's): the last call meets the end of the data; the weights are not updated (Keras 3.15).
    assert result["optimizer_iterations"] - len(losses) in ((0, 1) if backend == "tensorflow" else (0,))
    # Training-mode losses of the epoch's steps, each before its update: the last steps' mean is well below the
    # first step's (measured: ~2.2 -> ~0.9 under every backend).
    tail = sum(losses[-3:]) / 3
    assert tail < 0.9 * losses[0], f"{backend}: loss {losses[0]:.3f} at the first step, {tail:.3f} over the last 3"


def _epoch_losses(run_dir: pathlib.Path) -> list[float]:
    """The training loss of each epoch, from the run's TensorBoard logs (`epoch_loss` in logs/train)."""
    import tensorflow as tf

    losses = {}
    for path in sorted((run_dir / "logs" / "train").glob("events.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == "epoch_loss":
                    losses[event.step] = float(tf.make_ndarray(value.tensor))
    return [losses[epoch] for epoch in sorted(losses)]


def test_acga_train_honours_keras_backend(runs, prepared_a2d):
    """`acga train` under KERAS_BACKEND=jax: one device, no strategy, the same run layout, and the loss falls from
    the first epoch to the second (its TensorFlow-only option, the feature cache, refuses: the next test)."""
    require("jax")
    out, proc = runs.train("jax", prepared_a2d["train"], cpu_devices=1, batch_size=4)
    assert "trained epochs 1 to 2 of 2, final loss " in proc.stdout
    assert "training with one jax device: global batch 4 (4 per replica x 1)" in proc.stderr
    for name in ("model.keras", "config.json", "experiment.json", "vocab.txt", "embeddings.npy",
                 "checkpoints/epoch-01.keras", "checkpoints/epoch-02.keras"):
        assert (out / name).exists(), name
    losses = _epoch_losses(out)
    assert len(losses) == 2 and losses[1] < 0.9 * losses[0], losses  # measured: 1.46 -> 0.75


@pytest.mark.slow  # (38 s in the suite): the default suite trains under JAX on one device (the loss falls)
def test_acga_train_under_jax_splits_each_batch_over_every_device(runs, prepared_a2d):
    """Under JAX, `acga train` trains on all the devices JAX sees (keras.distribution.DataParallel; here 2 CPU
    devices), `--batch-size` per device as under tf.distribute, and 2 devices at 2 clips each make the steps one
    device makes at 4: the same weights to rounding. I3D's trainable Mixed_4f keeps its training-mode BatchNorm: JAX
    computes its statistics over the whole batch, not per device (docs/training.md#distribution). The validation
    shards are evaluated after each epoch."""
    require("jax")
    from acga_tf.training.artifacts import load_trained

    out, proc = runs.train("jax", prepared_a2d["train"], cpu_devices=2, batch_size=2,
                           extra=("--val-data", prepared_a2d["test"]))
    assert "training with DataParallel over cpu:0, cpu:1: global batch 4 (2 per replica x 2)" in proc.stderr
    assert proc.stdout.count("val_loss") == 2, proc.stdout  # one line per epoch (stdout is a pipe)
    assert "ran out of data" not in proc.stderr  # Keras' warning at the end of a dataset of unknown length
    one_out, _ = runs.train("jax", prepared_a2d["train"], cpu_devices=1, batch_size=4)
    np.testing.assert_allclose(_epoch_losses(out), _epoch_losses(one_out), rtol=1e-4)
    two, one = (load_trained(str(path)).model for path in (out, one_out))
    assert len(two.weights) == len(one.weights) == 265
    for a, b in zip(two.weights, one.weights):
        assert a.path == b.path
        if a.path == "attention/video_linearQ/bias":
            # Its gradient is zero by construction (its term K_i · b is the same for every j of softmax_j(K_i · Q_j)),
            # so Adam, dividing by sqrt(v) + 1e-7, turns round-off alone into steps: measured 9.0e-5 apart.
            continue
        # atol as in tests/test_train.py's two-replica test: Adam turns round-off in near-zero gradients into weight
        # differences of a few 1e-5 (measured here after 8 steps: at most 4.6e-5, in video_linearQ's kernel)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4, err_msg=a.path)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_bad_arrays_are_refused_before_keras_loop_and_the_model_stays_whole(runs, backend):
    """A JAX user's `model.predict` with a sentence of the wrong length left the model without its weights for the
    rest of the process (Keras' JAX loop takes the variables' values out of the model; the model's input check ran
    inside the step): every later call failed with "'NoneType' object is not callable". 0/255 targets trained to a
    loss of 305 (unbounded below), and targets without their channel axis broadcast to S x S x S at batch 1."""
    require(backend)
    result = runs.run(backend, "bad_inputs")
    refusals = result["refusals"]
    assert "ACGA input 'words' has shape (1, 12, 32), expected (B, 8, 32): axis 1 is 12 but the config's " \
           "sentence_length gives 8" in refusals["predict, a sentence of 12 words"]
    assert refusals["evaluate, 0/255 targets"] == ("target 'logits_res1' holds values from 255 to 255: targets are "
                                                   "masks of 0 and 1 (a 0/255 mask: divide it by 255)")
    assert refusals["fit, targets without their channel axis"].startswith(
        "target 'logits_res1' has shape (1, 2, 2): targets are (B, h, w, 1) masks of 0 and 1")
    assert result["difference"] == 0.0  # the same weights after the refusals


def test_the_loss_refuses_a_target_of_another_rank_than_its_output():
    """Called directly (a custom loop's loss), a target without its channel axis is named, not broadcast."""
    import keras

    from acga_tf.models.losses import WeightedBCE

    with pytest.raises(ValueError, match=r"wbce: the target's shape \(1, 4, 4\) and the output's \(1, 4, 4, 1\) "
                                         "differ in rank"):
        WeightedBCE(name="wbce")(keras.ops.zeros((1, 4, 4)), keras.ops.zeros((1, 4, 4, 1)))


def test_commands_that_run_the_model_in_tensorflow_graphs_refuse_other_backends_in_one_line(runs, run_dir, exported_run,
                                                                                            prepared_a2d, tmp_path):
    """Under KERAS_BACKEND=jax, export, evaluate, predict from a run, both figures, the demo and the web page each
    print one line naming the fix (exit status 2), before writing anything (acga_tf/ops/devices.py), and so does
    `acga train --feature-cache`; predict from the run's export works."""
    require("jax")
    from runs import moving_frames, write_video

    video = write_video(tmp_path / "clip.mp4", moving_frames(12, 48, 64), "mpeg4", "yuv420p")
    out = tmp_path / "out"
    out.mkdir()
    result = runs.run("jax", "refusals", str(run_dir), exported_run, video, str(out), "--train-data",
                      prepared_a2d["train"], "--train-output", str(tmp_path / "cached"))
    what = {"export": "the export", "evaluate": "evaluation", "predict": "prediction from a Keras run",
            "visualize attention": "the attention figure", "visualize grid": "the qualitative grid",
            "demo": "the demo", "app": "prediction from a Keras run"}
    cached = result["commands"].pop("train --feature-cache")
    assert cached == {"status": 2, "stderr": "acga train: error: --feature-cache: the feature cache needs "
                                             "KERAS_BACKEND=tensorflow (the default), not jax: it reads the frozen "
                                             "blocks' features through tf.data; train under TensorFlow, or without "
                                             "the cache (docs/training.md#backends)\n"}, cached
    assert not (tmp_path / "cached").exists()  # refused before the run's folder is made (it was left empty)
    assert sorted(result["commands"]) == sorted(what)
    for name, outcome in result["commands"].items():
        command = name.split()[0]
        assert outcome["status"] == 2, (name, outcome)
        assert outcome["stderr"] == (f"acga {command}: error: {what[name]} needs KERAS_BACKEND=tensorflow (the "
                                     "default), not jax: it runs the model in TensorFlow graphs; a run trained under "
                                     "jax loads there as it is (docs/training.md#backends)\n"), name
    assert result["written"] == []
    assert result["served"] == {"status": 0, "frames": [f"{i:05d}.png" for i in range(1, 13)]}
