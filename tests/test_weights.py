"""Weight loading: the reference parity fixture and DeepMind's real I3D indexes (docs/model.md#weights)."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from backend_programs.common import reference_weights  # the fixture's rule, written once

from acga_tf import ACGAConfig
from acga_tf.models.acga import ACGA, intermediate_model
from acga_tf.models.video_encoder import I3D, VALID_ENDPOINTS
from acga_tf.training.weights import (
    deepmind_name,
    load_i3d_checkpoint,
    load_initial_weights,
    load_reference_state_dict,
)

UP_TO_4F = VALID_ENDPOINTS[: VALID_ENDPOINTS.index("Mixed_4f") + 1]


@pytest.mark.parametrize("prefix", ["module.", ""])
def test_reference_parity_fixture(shared_dir, prefix):
    ref = shared_dir / "fixtures" / "reference"
    spec = json.loads((ref / "acga_parity_t8_s64.json").read_text())
    arrays = np.load(ref / "acga_parity_t8_s64.npz")
    model = ACGA(ACGAConfig.preset("paper", clip_length=spec["T"], image_size=spec["S"]))
    report = load_reference_state_dict(model, reference_weights(spec, prefix))
    assert len(report.loaded) == 265 and not report.unused_checkpoint and not report.unset_model
    out = intermediate_model(model)({"video": arrays["video"], "words": arrays["words"]})
    # fixture name → ours (the reference returns all 840 attended channels and the fusion in place of res3)
    names = {"mixed_4e": "mixed_4e", "video_feature": "video_feature", "text_feature": "text_feature",
             "attended_text": "attended_text", "attended_video": "attended_video_full",
             "logits_res1": "logits_res1", "logits_res2": "logits_res2", "logits_res3": "logits"}
    for key, ours in names.items():
        expected = arrays[key]
        got = np.asarray(out[ours]).reshape(expected.shape)
        if key.startswith("logits"):
            np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=key)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5, err_msg=key)


def test_reference_shape_mismatch_names_both_sides(shared_dir):
    spec = json.loads((shared_dir / "fixtures/reference/acga_parity_t8_s64.json").read_text())
    state = reference_weights(spec)
    state["txt_model.0.weight"] = np.zeros((300, 300, 5), np.float32)
    model = ACGA(ACGAConfig.preset("paper", clip_length=8, image_size=64))
    with pytest.raises(ValueError, match=r"'txt_model.0.weight' \(300, 300, 5\).*'text_encoder/conv1d/kernel' "
                                         r"\(3, 300, 300\)"):
        load_reference_state_dict(model, state)
    # a tensor of a rank no layout has (a reviewer's: "error: 0", a KeyError)
    for shape in ((), (1, 1, 1, 1, 1, 300)):
        state = reference_weights(spec)
        state["txt_model.0.weight"] = np.zeros(shape, np.float32)
        with pytest.raises(ValueError, match=rf"'txt_model.0.weight' {re.escape(str(shape))} .*vs model "
                                             r"'text_encoder/conv1d/kernel' \(3, 300, 300\)"):
            load_reference_state_dict(model, state)


def _index(shared_dir, stream):
    path = shared_dir / "fixtures" / "i3d" / f"{stream}_imagenet" / "model.ckpt"
    return dict(tf.train.list_variables(str(path)))


@pytest.mark.parametrize("stream, channels", [("rgb", 3), ("flow", 2)])
def test_i3d_table_covers_the_real_deepmind_index_up_to_mixed_4f(shared_dir, stream, channels):
    index = _index(shared_dir, stream)
    assert len(index) == 230
    encoder = I3D(bn_scale=False, bn_epsilon=1e-3, name="i3d")
    encoder.build((None, 8, 64, 64, channels))
    ours = {deepmind_name(w.path.split("/", 1)[1], stream): tuple(w.shape) for w in encoder.weights}
    wanted = {n: tuple(s) for n, s in index.items() if n.split("/")[2] in UP_TO_4F}
    assert ours == wanted  # every variable up to Mixed_4f maps to one Keras weight of the same shape
    leftover = {n.split("/")[2] for n in set(index) - set(wanted)}
    assert leftover == {"Mixed_5b", "Mixed_5c", "Logits"}


def test_a_checkpoint_with_the_real_names_loads_into_the_right_layers(shared_dir, tmp_path):
    index = _index(shared_dir, "rgb")
    rng = np.random.default_rng(0)
    values = {n: rng.standard_normal(s).astype(np.float32) for n, s in index.items()}
    prefix = str(tmp_path / "model.ckpt")
    names = sorted(values)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])
    config = ACGAConfig.preset("paper", clip_length=8, image_size=64, bn_scale=False, bn_epsilon=1e-3)
    model = ACGA(config)
    report = load_i3d_checkpoint(model, prefix)
    assert len(report.loaded) == len([n for n in index if n.split("/")[2] in UP_TO_4F])
    assert all(n.split("/")[2] in ("Mixed_5b", "Mixed_5c", "Logits") for n in report.unused_checkpoint)
    encoder = model.stage("video_encoder")
    unit = encoder.blocks["Mixed_4f"].branch_1.units[1]
    np.testing.assert_array_equal(unit.conv_3d.kernel.numpy(),
                                  values["RGB/inception_i3d/Mixed_4f/Branch_1/Conv3d_0b_3x3/conv_3d/w"])
    np.testing.assert_array_equal(unit.batch_norm.moving_variance.numpy(),
                                  values["RGB/inception_i3d/Mixed_4f/Branch_1/Conv3d_0b_3x3/batch_norm/moving_variance"])
    np.testing.assert_array_equal(encoder.blocks["Conv3d_1a_7x7"].batch_norm.beta.numpy(),
                                  values["RGB/inception_i3d/Conv3d_1a_7x7/batch_norm/beta"])
    # the head is not in an I3D checkpoint: nothing of it is reported as loaded
    assert not any(p.startswith(("attention", "decoder", "text_encoder")) for p in report.loaded)
    # a checkpoint without Mixed_4f is refused by default, nothing set (a reviewer's: 24 weights stayed random, with
    # warnings only); loaded as it is where asked
    partial = str(tmp_path / "partial" / "model.ckpt")
    names = [n for n in names if "/Mixed_4f/" not in n]
    tf.raw_ops.SaveV2(prefix=partial, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])
    fresh = ACGA(config)
    before = [w.numpy() for w in fresh.weights]
    with pytest.raises(ValueError, match=r"partial/model.ckpt: not DeepMind's I3D of this model: 24 of the video "
                                         r"encoder's weights are not in it \(.*Mixed_4f.*\); 156 were$"):
        load_i3d_checkpoint(fresh, partial)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, fresh.weights))
    assert len(load_i3d_checkpoint(fresh, partial, whole=False).loaded) == 156


def test_unreadable_checkpoint_is_a_clear_error(tmp_path, shared_dir):
    model = ACGA(ACGAConfig.preset("tiny"))
    with pytest.raises(ValueError, match="nope.ckpt: cannot read TF checkpoint"):
        load_i3d_checkpoint(model, str(tmp_path / "nope.ckpt"))
    # the .index copied without its .data file: "damaged or cut short" (a docs reviewer's), now "missing"
    model = ACGA(ACGAConfig.preset("paper", clip_length=8, image_size=64, bn_scale=False, bn_epsilon=1e-3))
    with pytest.raises(ValueError, match=r"model.ckpt: cannot read '.*' \(.*No such file or directory\): its data file "
                                         r"is missing \(a checkpoint is its .index and its .data-\* files, side by "
                                         r"side\); copy the checkpoint again"):
        load_i3d_checkpoint(model, str(shared_dir / "fixtures" / "i3d" / "rgb_imagenet" / "model.ckpt"))


def test_convert_weights_command_writes_keras_weights_that_reproduce_the_fixture(shared_dir, tmp_path, monkeypatch):
    """`acga convert-weights` end to end; only `torch.load` is replaced (PyTorch is an optional extra)."""
    import acga_tf.training.weights as weights
    from acga_tf.cli import main

    ref = shared_dir / "fixtures" / "reference"
    spec = json.loads((ref / "acga_parity_t8_s64.json").read_text())
    arrays = np.load(ref / "acga_parity_t8_s64.npz")
    monkeypatch.setattr(weights, "read_torch_checkpoint", lambda path: reference_weights(spec, "module."))
    config_path = tmp_path / "c.json"
    ACGAConfig.preset("paper", clip_length=8, image_size=64).to_json(str(config_path))
    out = tmp_path / "acga.weights.h5"
    assert main(["convert-weights", "--checkpoint", "ref.pth", "--output", str(out), "--config", str(config_path)]) == 0
    model = ACGA(ACGAConfig.from_json(str(tmp_path / "acga.config.json")))
    model.load_weights(str(out))
    logits = model({"video": arrays["video"], "words": arrays["words"]})["logits"]
    np.testing.assert_allclose(np.asarray(logits)[..., 0], arrays["logits_res3"], atol=1e-4)


def test_a_torch_checkpoint_whose_tensors_lie_under_model_is_read(tmp_path, monkeypatch):
    """A reviewer's: {"model": state_dict, "optimizer": ...} (a common training script's layout) gave an empty state
    dict, refused as "265 of the model's 265 weights are not in it", naming no key."""
    import sys
    import types

    from acga_tf.training.weights import read_torch_checkpoint

    class Tensor:  # what the reader uses of a torch tensor
        def __init__(self, value):
            self.value = np.asarray(value, np.float32)

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.value

    saved = {}
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(load=lambda path, **kwargs: saved[path]))
    path = str(tmp_path / "c.pth")
    open(path, "wb").close()
    for layout in ({"model": {"w": Tensor([1, 2])}, "optimizer": {"lr": 0.1}, "epoch": 3},
                   {"model_state_dict": {"w": Tensor([1, 2])}}, {"state_dict": {"w": Tensor([1, 2])}},
                   {"w": Tensor([1, 2])}):
        saved[path] = layout
        assert {k: v.tolist() for k, v in read_torch_checkpoint(path).items()} == {"w": [1, 2]}, layout
    saved[path] = {"net": {"w": Tensor([1])}, "epoch": 3}
    with pytest.raises(ValueError, match=r"c\.pth: no state_dict found \(top-level keys: \['net', 'epoch'\]; tensors "
                                         r"are looked for there and under state_dict, model_state_dict, model\)$"):
        read_torch_checkpoint(path)


def test_convert_weights_without_pytorch_says_how_to_install(tmp_path, monkeypatch, capsys):
    import builtins

    from acga_tf.cli import main

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    checkpoint = tmp_path / "x.pth"
    checkpoint.write_bytes(b"not read")
    assert main(["convert-weights", "--checkpoint", str(checkpoint), "--output", str(tmp_path / "a.weights.h5")]) == 2
    assert capsys.readouterr().err.strip().endswith(
        'needs PyTorch: pip install -e ".[convert]" in the acga-tf checkout (or: pip install torch)')


def test_params_command_prints_the_table_1_count(capsys):
    from acga_tf.cli import main

    assert main(["params", "--preset", "paper"]) == 0
    out = capsys.readouterr().out
    assert "23,664,391" in out and "fusion (MRF)" in out and "28" in out


def test_params_command_counts_an_ablation_row_and_reads_a_runs_experiment(capsys, tmp_path):
    """An ablation researcher's: `acga params` had no `--set` (each Table-1 row needed a JSON file of its own), and
    refused a run's experiment.json, which `acga train --config` takes."""
    from acga_tf.cli import main
    from acga_tf.training.experiment import ExperimentConfig

    assert main(["params", "--preset", "paper", "--set", "fusion_resolutions=[1, 3]"]) == 0
    rows = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["fusion"] == "19"  # docs/model.md#ablations: Res3 + Res1
    experiment = tmp_path / "experiment.json"
    ExperimentConfig.preset("tiny", attention="key_word_aware").to_json(str(experiment))
    assert main(["params", "--config", str(experiment)]) == 0
    from_run = capsys.readouterr().out
    assert main(["params", "--preset", "tiny", "--set", "attention=key_word_aware"]) == 0
    assert capsys.readouterr().out == from_run
    # the schedule's field: said so, with the command that takes it (it named a Python function)
    assert main(["params", "--preset", "tiny", "--set", "epochs=3"]) == 2
    assert capsys.readouterr().err == ("acga params: error: --set epochs: a field of the data or the schedule, not of "
                                       "the model whose parameters acga params counts (acga train --set epochs=... "
                                       "sets it)\n")
    assert main(["params", "--preset", "tiny", "--set", "epoch=3"]) == 2  # mistyped, too (a diff reviewer's)
    assert "(did you mean 'epochs' for 'epoch'?): a field of the data or the schedule" in capsys.readouterr().err
    # both: refused, as `acga train` refuses them (the paper's --preset beside a tiny --config printed the tiny
    # model's table, and convert-weights converted against it, without a word: a command-line reviewer's)
    for command in (["params"], ["convert-weights", "--checkpoint", "x.pth", "--output", "x.weights.h5"]):
        with pytest.raises(SystemExit) as stop:
            main([*command, "--preset", "paper", "--config", str(experiment)])
        assert stop.value.code == 2
        assert "argument --config: not allowed with argument --preset" in capsys.readouterr().err


def _experiment_json() -> str:
    from acga_tf.training.experiment import ExperimentConfig

    return ExperimentConfig.preset("tiny").to_json()


@pytest.mark.parametrize("text", ['{"preset": "tiny", "attention": "key_word_aware"}', _experiment_json(),
                                  '{"preset": "tiny", "epochs": 3}'], ids=["preset", "experiment", "train_config"])
def test_params_command_reads_a_config_from_a_pipe(text, capsys):
    """`acga params --config <(...)` (bash's process substitution, a pipe named /dev/fd/N): the file was read twice,
    and the second read found the pipe empty: "/dev/fd/63:1: not valid JSON". Read once now; a run's experiment.json
    too, and the config `acga train --config` takes (its training fields were "unknown ACGAConfig field(s)
    ['epochs']"). The pipe is made here as bash makes it (a fresh process for each took 7 s)."""
    from acga_tf import cli

    read, write = os.pipe()
    os.write(write, text.encode("utf-8"))
    os.close(write)
    try:
        status = cli.main(["params", "--config", f"/dev/fd/{read}"])
    finally:
        os.close(read)
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "fusion (MRF)" in out


def test_starting_weights_that_do_not_all_fit_say_what(tmp_path):
    """A researcher's: a `.weights.h5` of another architecture was "does not fit this run's model (A total of 1 objects
    could not be loaded. Example error message for object <Conv2D name=conv_fusion, built=True>:)", naming nothing;
    a run loaded into a model with an attention switched off said "all 257 weights" and dropped the rest silently."""
    tiny = ACGAConfig.preset("tiny")
    ACGA(tiny).save_weights(str(tmp_path / "m.weights.h5"))
    with pytest.raises(ValueError, match=r"m.weights.h5: does not fit this run's model \(A total of 1 objects could "
                                         r"not be loaded\. .* variable.shape=\(3, 3, 1, 1\), Received: "
                                         r"value.shape=\(3, 3, 3, 1\)\. Target variable: <Variable "
                                         r"path=decoder/conv_fusion/kernel, shape=\(3, 3, 1, 1\), dtype=float32>\)$"):
        load_initial_weights(ACGA(tiny.replace(fusion_resolutions=(3,))), str(tmp_path / "m.weights.h5"))
    ACGA(tiny).save(str(tmp_path / "full.keras"))
    line = load_initial_weights(ACGA(tiny.replace(language_guided_attention=False)), str(tmp_path / "full.keras"))
    assert re.search(r"full.keras: all \d+ weights of the model \(fine-tuning it\); 8 of its weights this model has "
                     r"no place for are left out \(.*txt_increase.*, \.\.\.\)", line), line


def _write_checkpoint(prefix: str, values: dict) -> None:
    names = sorted(values)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])


def test_starting_weights_that_were_never_loaded_are_refused_naming_the_file(shared_dir, tmp_path):
    """A weights reviewer's: a partial I3D checkpoint or another model's loaded 98 or 0 tensors "keeping their
    initialisation (a checkpoint without BatchNorm scales)", and a frozen encoder trained random; the flow checkpoint
    for an RGB model said "stream='flow': this model's streams are ['rgb']"; a `.data` file cut short was a traceback
    with the model half loaded; a `.weights.h5` with more weights said "all 257 weights", one cut short "does not fit
    this run's model"; a damaged `.keras` was "File not found"."""
    rng = np.random.default_rng(0)
    index = _index(shared_dir, "rgb")
    values = {n: rng.standard_normal(s).astype(np.float32) for n, s in index.items()}
    config = ACGAConfig.preset("paper", clip_length=8, image_size=64, bn_scale=False, bn_epsilon=1e-3)
    model = ACGA(config)
    kernel = model.stage("video_encoder").blocks["Conv3d_1a_7x7"].conv_3d.kernel
    before = kernel.numpy()
    partial = str(tmp_path / "partial" / "model.ckpt")
    _write_checkpoint(partial, dict(sorted(values.items())[:100]))
    with pytest.raises(ValueError, match=rf"^{re.escape(partial)}: not DeepMind's I3D of this model: \d+ of the video "
                                         r"encoder's weights are not in it \(.*, \.\.\.\); \d+ were$"):
        load_initial_weights(model, partial)
    other = str(tmp_path / "other" / "model.ckpt")
    _write_checkpoint(other, {"dense/kernel": np.zeros((3, 3), np.float32)})
    for modality in ("rgb", "flow"):  # (a flow model was told it got DeepMind's RGB checkpoint)
        with pytest.raises(ValueError, match=r"not DeepMind's I3D of this model: 180 of the video encoder's weights "
                                             r"are not in it .*; 0 were$"):
            load_initial_weights(ACGA(config.replace(modality=modality)), other)
    flow = str(tmp_path / "flow" / "model.ckpt")
    _write_checkpoint(flow, {n.replace("RGB/", "Flow/", 1): v for n, v in list(values.items())[:3]})
    with pytest.raises(ValueError, match=rf"^{re.escape(flow)}: DeepMind's I3D of the flow stream \(its variables are "
                                         r"under Flow/\); this model reads rgb: give the rgb_imagenet checkpoint$"):
        load_initial_weights(ACGA(config), flow)
    whole = str(tmp_path / "whole" / "model.ckpt")
    _write_checkpoint(whole, values)
    line = load_initial_weights(ACGA(config.replace(modality="rgb+flow")), whole)  # the other stream said to stay
    assert line.endswith("; the flow stream's video encoder keeps its initialisation (--init-weights takes one "
                         "checkpoint, one stream's)"), line
    data = whole + ".data-00000-of-00001"
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    with pytest.raises(ValueError, match=r"model\.ckpt: cannot read '.*' \(.*\): its data file is damaged or cut "
                                         r"short; copy the checkpoint again$"):
        load_initial_weights(model, whole)
    np.testing.assert_array_equal(kernel.numpy(), before)  # nothing set from a file that cannot be read whole
    # the weights files
    tiny = ACGAConfig.preset("tiny")
    ACGA(tiny).save_weights(str(tmp_path / "full.weights.h5"))
    line = load_initial_weights(ACGA(tiny.replace(language_guided_attention=False)),
                                str(tmp_path / "full.weights.h5"))
    assert line.endswith("; 8 of its weights this model has no place for are left out"), line
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes((tmp_path / "full.weights.h5").read_bytes()[:50_000])
    with pytest.raises(ValueError, match=r"cut\.weights\.h5: not a whole HDF5 weights file \(.*\): cut short or "
                                         r"damaged; copy it again$"):
        load_initial_weights(ACGA(tiny), str(cut))
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not all of a zip")
    with pytest.raises(ValueError, match=r"broken\.keras: not a \.keras file: \d+ bytes that are not a zip archive"):
        load_initial_weights(ACGA(tiny), str(broken))


def test_convert_weights_refuses_a_checkpoint_that_does_not_fill_the_model(shared_dir, tmp_path, monkeypatch,
                                                                          capsys):
    """A weights reviewer's: a `.pth` of another architecture was "loaded 0 tensors", exit 0 and a `.weights.h5` of
    random weights; one whose BatchNorm scales the config has no place for dropped 45 tensors, exit 0. PyTorch's
    `num_batches_tracked` buffers are not weights: a file with them converts."""
    import acga_tf.training.weights as weights
    from acga_tf.cli import main

    spec = json.loads((shared_dir / "fixtures" / "reference" / "acga_parity_t8_s64.json").read_text())
    state = reference_weights(spec, "module.")
    config = tmp_path / "c.json"
    ACGAConfig.preset("paper", clip_length=8, image_size=64).to_json(str(config))
    out = tmp_path / "acga.weights.h5"
    argv = ["convert-weights", "--checkpoint", "ref.pth", "--output", str(out), "--config", str(config)]
    monkeypatch.setattr(weights, "read_torch_checkpoint", lambda path: {f"other.{k}": v for k, v in state.items()})
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ref.pth: not the reference ACGA of this config: 265 of the model's 265 weights are not in it" in err, err
    assert "nothing written" in err and not out.exists()
    # the reference's whole Kinetics I3D (its forward stops at Mixed_4f: a diff reviewer's reading of the authors'
    # code) and PyTorch's counters are left out, not refused
    with_buffers = dict(state, **{"module.video_model.model.conv3d_1a_7x7.bn.num_batches_tracked": np.array(5),
                                  "module.video_model.model.mixed_5b.b0.conv3d.weight": np.zeros(3, np.float32),
                                  "module.video_model.model.conv3d_0c_1x1.conv3d.bias": np.zeros(3, np.float32)})
    monkeypatch.setattr(weights, "read_torch_checkpoint", lambda path: with_buffers)
    assert main(argv) == 0 and out.exists()
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"loaded 265 tensors from ref.pth -> {out} (left out, as ACGA does not use them: 1 PyTorch BatchNorm "
        "counters and 2 tensors of the reference I3D's blocks past Mixed_4f)")


@pytest.fixture(scope="module")
def deepmind_rgb(shared_dir):
    """Random values under the real RGB checkpoint's names and shapes (the whole network, Mixed_5b to Logits too)."""
    rng = np.random.default_rng(1)
    return {n: rng.standard_normal(s).astype(np.float32) for n, s in _index(shared_dir, "rgb").items()}


DEEPMIND_CONFIG = dict(clip_length=8, image_size=64, bn_scale=False, bn_epsilon=1e-3)


def test_a_checkpoint_of_both_streams_loads_the_models_stream(shared_dir, tmp_path, deepmind_rgb, caplog):
    """A weights reviewer's: a checkpoint holding RGB/ and Flow/ (both streams in one file) was refused for an RGB
    model as "DeepMind's I3D of the flow stream"; a checkpoint of the flow stream alone still is."""
    flow = {n: np.zeros(s, np.float32) for n, s in _index(shared_dir, "flow").items()}
    joint = str(tmp_path / "joint" / "model.ckpt")
    _write_checkpoint(joint, {**deepmind_rgb, **flow})
    model = ACGA(ACGAConfig.preset("paper", **DEEPMIND_CONFIG))
    with caplog.at_level("INFO", logger="acga_tf.training.weights"):
        report = load_i3d_checkpoint(model, joint)
    assert report.stream == "rgb" and len(report.loaded) == 180
    np.testing.assert_array_equal(model.stage("video_encoder").blocks["Conv3d_1a_7x7"].conv_3d.kernel.numpy(),
                                  deepmind_rgb["RGB/inception_i3d/Conv3d_1a_7x7/conv_3d/w"])
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text
    assert ("; left out: 230 variables of the flow stream (Flow/), which this load of the rgb stream's encoder does "
            "not read") in caplog.text
    # a flow model takes the Flow/ variables of the same file
    flow_model = ACGA(ACGAConfig.preset("paper", modality="flow", **DEEPMIND_CONFIG))
    assert load_i3d_checkpoint(flow_model, joint).stream == "flow"
    encoder = I3D(bn_scale=False, bn_epsilon=1e-3, name="i3d")  # a bare I3D: by its input channels
    encoder.build((None, 8, 64, 64, 2))
    assert load_i3d_checkpoint(encoder, joint).stream == "flow"
    # a two-stream model starting from it (--init-weights): both streams' encoders
    both = ACGA(ACGAConfig.preset("paper", modality="rgb+flow", **DEEPMIND_CONFIG))
    assert load_initial_weights(both, joint) == (f"{joint}: DeepMind I3D, 360 tensors into the rgb and flow streams' "
                                                 "video encoders; the head starts fresh")
    assert not both.stage("video_encoder", "flow").blocks["Conv3d_1a_7x7"].conv_3d.kernel.numpy().any()
    # a diff reviewer's: the flow stream's refusal (a weight missing) left the rgb stream's encoder loaded
    broken = str(tmp_path / "broken" / "model.ckpt")
    _write_checkpoint(broken, {**{name: value + 1 for name, value in deepmind_rgb.items()},
                               **{name: value for name, value in list(flow.items())[1:]}})
    with pytest.raises(ValueError, match="not DeepMind's I3D of this model: 1 of the video encoder's weights"):
        load_initial_weights(both, broken)
    np.testing.assert_array_equal(both.stage("video_encoder", "rgb").blocks["Conv3d_1a_7x7"].conv_3d.kernel.numpy(),
                                  deepmind_rgb["RGB/inception_i3d/Conv3d_1a_7x7/conv_3d/w"])
    only_flow = str(tmp_path / "flow" / "model.ckpt")
    _write_checkpoint(only_flow, flow)
    with pytest.raises(ValueError, match=r"DeepMind's I3D of the flow stream \(its variables are under Flow/\); "
                                         r"this model reads rgb: give the rgb_imagenet checkpoint$"):
        load_i3d_checkpoint(model, only_flow)


def test_a_correct_load_of_deepminds_checkpoint_does_not_warn(tmp_path, deepmind_rgb, caplog):
    """A weights reviewer's: the paper preset's load of DeepMind's RGB checkpoint warned "50 checkpoint variables not
    used", its blocks after Mixed_4f that ACGA does not use by design; an unknown name in a used block still warns."""
    prefix = str(tmp_path / "rgb" / "model.ckpt")
    _write_checkpoint(prefix, deepmind_rgb)
    model = ACGA(ACGAConfig.preset("paper", **DEEPMIND_CONFIG))
    with caplog.at_level("INFO", logger="acga_tf.training.weights"):
        report = load_i3d_checkpoint(model, prefix)
    assert len(report.unused_checkpoint) == 50 and not report.unexpected_unused
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", f"{prefix}: loaded 180 tensors; left out: 50 variables of blocks after Mixed_4f (Mixed_5b, Mixed_5c, "
                 "Logits), which ACGA does not use")]
    odd = str(tmp_path / "odd" / "model.ckpt")
    _write_checkpoint(odd, {**deepmind_rgb, "RGB/inception_i3d/Mixed_4f/Branch_1/extra/w": np.zeros(3, np.float32)})
    caplog.clear()
    with caplog.at_level("INFO", logger="acga_tf.training.weights"):
        load_i3d_checkpoint(model, odd)
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"{odd}: 1 checkpoint variables not used: RGB/inception_i3d/Mixed_4f/Branch_1/extra/w"]


def test_a_full_width_checkpoint_in_a_narrower_model_names_the_width_multiplier(tmp_path, deepmind_rgb):
    """A weights reviewer's: DeepMind's checkpoint into the tiny preset (an I3D of 1/8 the width) was a shape mismatch
    that did not say why."""
    prefix = str(tmp_path / "rgb" / "model.ckpt")
    _write_checkpoint(prefix, deepmind_rgb)
    tiny = ACGA(ACGAConfig.preset("tiny"))
    message = (r"shape mismatch: checkpoint '.*' \(.*\) vs model '.*' \(.*\): the checkpoint is DeepMind's "
               r"full-width I3D and this model's i3d_width_multiplier=0\.125 \(so use a preset or config with "
               r"i3d_width_multiplier=1\.0: the paper preset, or --set i3d_width_multiplier=1\.0\)$")
    with pytest.raises(ValueError, match=message):
        load_i3d_checkpoint(tiny, prefix)
    with pytest.raises(ValueError, match=message):
        load_initial_weights(tiny, prefix + ".index")


def test_a_state_dict_with_a_name_with_and_without_module_is_refused(shared_dir):
    """A weights reviewer's: `module.X` beside `X` kept the later one, unsaid."""
    spec = json.loads((shared_dir / "fixtures/reference/acga_parity_t8_s64.json").read_text())
    state = reference_weights(spec)
    state["module.txt_model.0.bias"] = state["txt_model.0.bias"] + 1
    model = ACGA(ACGAConfig.preset("paper", clip_length=8, image_size=64))
    with pytest.raises(ValueError, match=r"^ref\.pth: holds both 'module\.txt_model\.0\.bias' and 'txt_model\.0\.bias' "
                                         r"\(with and without DataParallel's prefix\), which differ: save the "
                                         r"state dict with one of them$"):
        load_reference_state_dict(model, state, source="ref.pth")
    state["module.txt_model.0.bias"] = state["txt_model.0.bias"].copy()  # the same tensor twice (a diff reviewer's)
    assert "txt_model.0.bias" not in load_reference_state_dict(model, state, source="ref.pth").unused_checkpoint
