"""Weight loading as name tables: DeepMind's Kinetics I3D checkpoints (docs/model.md#video-encoder) and the reference
PyTorch ACGA checkpoint (docs/model.md#weights).

Keras variable paths follow the checkpoints' scopes (see `video_encoder.py`), so each source is a table of
renames plus a layout transpose per tensor rank; a test checks the tables against the real checkpoint indexes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence

import h5py
import keras
import numpy as np
import tensorflow as tf

from acga_tf.models.acga import ACGA
from acga_tf.models.config import ACGAConfig
from acga_tf.models.presets import PRESETS
from acga_tf.models.video_encoder import I3D, VALID_ENDPOINTS
from acga_tf.ops import files
from acga_tf.ops.extras import install_hint
from acga_tf.training import artifacts

logger = logging.getLogger(__name__)

# DeepMind leaf names (kinetics-i3d: snt.Conv3D "w", snt.BatchNorm "beta", "moving_mean", "moving_variance").
_DEEPMIND_LEAVES = {"conv_3d/kernel": "conv_3d/w", "batch_norm/beta": "batch_norm/beta",
                    "batch_norm/gamma": "batch_norm/gamma", "batch_norm/moving_mean": "batch_norm/moving_mean",
                    "batch_norm/moving_variance": "batch_norm/moving_variance"}
_DEEPMIND_SCOPES = {"rgb": "RGB/inception_i3d", "flow": "Flow/inception_i3d"}

# Reference (PyTorch) names: I3D units inside a Mixed block, and leaves.
_REFERENCE_UNITS = {"": "", "Branch_0/Conv3d_0a_1x1": "branch_0", "Branch_1/Conv3d_0a_1x1": "branch_1.0",
                    "Branch_1/Conv3d_0b_3x3": "branch_1.1", "Branch_2/Conv3d_0a_1x1": "branch_2.0",
                    "Branch_2/Conv3d_0b_3x3": "branch_2.1", "Branch_3/Conv3d_0b_1x1": "branch_3.1"}
_REFERENCE_LEAVES = {"conv_3d/kernel": "conv3d.weight", "batch_norm/gamma": "batch3d.weight",
                     "batch_norm/beta": "batch3d.bias", "batch_norm/moving_mean": "batch3d.running_mean",
                     "batch_norm/moving_variance": "batch3d.running_var"}
# Head layers: Keras path (below the model) → reference module (docs/model.md#weights).
_REFERENCE_HEAD = {
    "text_encoder/conv1d": "txt_model.0",
    "attention/video_reduce": "attention_layer.video_reduce",
    "attention/txt_increase": "attention_layer.txt_increase",
    "attention/video_linearK": "attention_layer.video_linearK",
    "attention/video_linearQ": "attention_layer.video_linearQ",
    "attention/video_linearV": "attention_layer.video_linearV",
    **{f"decoder/conv_mask_{size}/conv_{i}": f"conv_mask_{size}.{i}"
       for size in ("small", "medium", "large") for i in (0, 2, 4)},
    **{f"decoder/deconv_{size}/deconv_0": f"deconv_{size}.0" for size in ("small", "medium")},
    **{f"decoder/deconv_{size}/conv_1": f"deconv_{size}.1" for size in ("small", "medium")},
    "decoder/conv_fusion": "conv_fusion",
}
# PyTorch → Keras layout by rank (docs/model.md#weights): Conv3d (out,in,t,h,w) → (t,h,w,in,out); Conv2d (out,in,h,w)
# and ConvTranspose2d (in,out,h,w) → (h,w,in,out) / (h,w,out,in); Conv1d (out,in,k) → (k,in,out); Linear → (in,out).
_TORCH_TO_KERAS = {5: (2, 3, 4, 1, 0), 4: (2, 3, 1, 0), 3: (2, 1, 0), 2: (1, 0), 1: None}


@dataclasses.dataclass
class LoadReport:
    """What a load did: `loaded` model paths, checkpoint names it did not use, model weights it did not set."""

    loaded: list[str]
    unused_checkpoint: list[str]
    unset_model: list[str]
    stream: str | None = None  # an I3D checkpoint's: the stream whose encoder it was loaded into
    # the unused checkpoint names the source holds by design, by why (DeepMind's blocks after Mixed_4f, the other
    # stream's variables): said at INFO, where the others are a WARNING
    expected_unused: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def unexpected_unused(self) -> list[str]:
        """The unused checkpoint names that are not `expected_unused` (an unknown name, another model's)."""
        expected = {name for names in self.expected_unused.values() for name in names}
        return [name for name in self.unused_checkpoint if name not in expected]

    def log(self, source: str) -> None:
        logger.info("%s: loaded %d tensors%s", source, len(self.loaded), "".join(
            f"; left out: {len(names)} {why}" for why, names in self.expected_unused.items()))  # (a correct load
        # of DeepMind's RGB checkpoint warned "50 checkpoint variables not used", its blocks past Mixed_4f)
        unexpected = self.unexpected_unused
        if unexpected:
            logger.warning("%s: %d checkpoint variables not used: %s", source, len(unexpected), _some(unexpected))
        if self.unset_model:
            logger.warning("%s: %d model weights not set: %s", source, len(self.unset_model),
                           _some(self.unset_model))


NAMES_SHOWN = 6  # names a load's messages show of a longer list, then "..."


def _some(names: Sequence[str]) -> str:
    return ", ".join(names[:NAMES_SHOWN]) + (", ..." if len(names) > NAMES_SHOWN else "")


def _relative(variable, layer: keras.layers.Layer) -> str:
    """The variable's path below `layer` ("Mixed_4f/Branch_1/Conv3d_0b_3x3/conv_3d/kernel")."""
    prefix = layer.name + "/"
    path = variable.path
    return path[path.index(prefix) + len(prefix):] if prefix in path else path


def _i3d_relative_parts(rel: str) -> tuple[str, str, str]:
    """Splits an I3D relative path into (block, unit below the block, leaf)."""
    parts = rel.split("/")
    return parts[0], "/".join(parts[1:-2]), "/".join(parts[-2:])


def deepmind_name(rel: str, stream: str = "rgb") -> str:
    """DeepMind checkpoint name of an I3D variable path relative to the encoder."""
    block, unit, leaf = _i3d_relative_parts(rel)
    return "/".join(p for p in (_DEEPMIND_SCOPES[stream], block, unit, _DEEPMIND_LEAVES[leaf]) if p)


def reference_name(stage: str, rel: str) -> str:
    """Reference state-dict name (no `module.` prefix) of a variable at `rel` below stage layer `stage`."""
    if stage == "video_encoder":
        block, unit, leaf = _i3d_relative_parts(rel)
        return ".".join(p for p in ("video_model.model", block.lower(), _REFERENCE_UNITS[unit],
                                    _REFERENCE_LEAVES[leaf]) if p)
    layer, leaf = rel.rsplit("/", 1)
    return f"{_REFERENCE_HEAD[f'{stage}/{layer}']}.{'weight' if leaf == 'kernel' else leaf}"


def _encoder(model_or_encoder, stream: str | None) -> I3D:
    if isinstance(model_or_encoder, I3D):
        return model_or_encoder
    return model_or_encoder.stage("video_encoder", stream)


def _assign(targets: dict[str, keras.Variable], source: Mapping[str, np.ndarray], transpose,
            source_name: str, refuse: Callable[[list[str], int], None] | None = None, *,
            expected: Callable[[str], str | None] | None = None, mismatch_hint: str = "") -> LoadReport:
    """Sets `targets` (checkpoint name → variable) from `source`, checking shapes; reports leftovers. Every value is
    read and checked before the first is set: a damaged file or a shape mismatch part-way left the model half loaded.
    `refuse(unset, found)`, given, is called then with the model weights the source lacks and how many it has, and
    raises where they say the source is not what was asked for. `expected(name)`, given, says why an unused source
    name is one the source holds by design (None: it is not), logged at INFO; `mismatch_hint` ends a shape
    mismatch's message."""
    values, unset = {}, []
    for name, variable in targets.items():
        if name not in source:
            unset.append(variable.path)
            continue
        try:
            stored = np.asarray(source[name])
        except Exception as e:  # TensorFlow's reader: IndexError "Read less bytes than requested", DataLossError, ...
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            why = ("its data file is missing (a checkpoint is its .index and its .data-* files, side by side)"
                   if "No such file" in first else "its data file is damaged or cut short")  # (a docs reviewer's
            # .index copied alone was "damaged or cut short")
            raise ValueError(f"{source_name}: cannot read {name!r} ({first}): {why}; copy the checkpoint again") \
                from None
        value = stored.transpose(transpose(stored)) if transpose else stored
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"{source_name}: shape mismatch: checkpoint {name!r} {tuple(stored.shape)} "
                             f"(as Keras {tuple(value.shape)}) vs model {variable.path!r} {tuple(variable.shape)}"
                             + mismatch_hint)
        values[name] = value
    if refuse is not None:
        refuse(unset, len(values))
    loaded = []
    for name, value in values.items():
        targets[name].assign(value.astype(targets[name].dtype))
        loaded.append(targets[name].path)
    unused = sorted(set(source) - set(targets))
    by_why: dict[str, list[str]] = {}
    for name in unused:
        why = expected(name) if expected is not None else None
        if why is not None:
            by_why.setdefault(why, []).append(name)
    report = LoadReport(loaded, unused, unset, expected_unused=by_why)
    report.log(source_name)
    return report


class _CheckpointReader(Mapping):
    """A read-only mapping over a TF checkpoint's variables (read lazily)."""

    def __init__(self, path: str):
        try:
            self._reader = tf.train.load_checkpoint(path)
        except Exception as e:  # TF raises several types (NotFoundError, DataLossError, ValueError).
            raise ValueError(f"{path}: cannot read TF checkpoint ({type(e).__name__}: {e})") from None
        self._shapes = self._reader.get_variable_to_shape_map()

    def __getitem__(self, name):
        if name not in self._shapes:
            raise KeyError(name)
        return self._reader.get_tensor(name)

    def __contains__(self, name):  # Mapping's asks __getitem__ for a KeyError; TensorFlow's reader raised its own
        return name in self._shapes

    def __iter__(self):
        return iter(self._shapes)

    def __len__(self):
        return len(self._shapes)


def load_i3d_checkpoint(model_or_encoder, path: str, stream: str | None = None, *, whole: bool = True
                        ) -> LoadReport:
    """Loads a DeepMind Kinetics I3D TF checkpoint (`rgb_imagenet`, `flow_imagenet`, ...) into the encoder.

    Args:
        model_or_encoder: an `ACGA` model or an `I3D` layer.
        path: checkpoint prefix (`.../rgb_imagenet/model.ckpt`).
        stream: "rgb" or "flow"; default: detected from the checkpoint's scope (`RGB/` or `Flow/`); of a checkpoint
            holding both, the model's stream (a two-stream model's first; a bare I3D's by its input channels), the
            other's variables left out. For a two-stream model it also picks which stream's encoder is loaded.
        whole: refuse, before any weight is set, a checkpoint that lacks an encoder weight other than a BatchNorm
            scale (a partial one, or another model's: its encoder would train from random weights); the default,
            as `acga train --init-weights` (it was False here: a partial checkpoint left 24 weights random, with
            warnings only, a reviewer's). False loads what the checkpoint has.

    Returns:
        A `LoadReport`; the checkpoint's Mixed_5*/Logits variables (and another stream's) show up as unused, as
        `expected_unused` too (logged at INFO; other unused names are a WARNING), and the model's BatchNorm scales
        (when the config has `bn_scale=True`; DeepMind's BatchNorm has none, docs/model.md#video-encoder) as unset.

    Raises:
        ValueError: unreadable checkpoint or a shape mismatch (naming both sides, and the model's
            `i3d_width_multiplier` where it is not 1: DeepMind's I3D is full-width).
    """
    reader = _CheckpointReader(path)
    streams = getattr(model_or_encoder, "streams", None)
    scopes = [scope for scope in ("rgb", "flow") if any(n.startswith(_scope_prefix(scope)) for n in reader)]
    if stream is None:
        # the streams this model reads (a bare I3D: the one of its first kernel's channels), the first the
        # checkpoint holds: a checkpoint of both streams (RGB/ and Flow/ in one file) was refused for an RGB model
        # as "the flow stream's"
        reads = list(streams) if streams is not None else [s for s in [_input_stream(model_or_encoder)] if s]
        readable = [scope for scope in reads if scope in scopes]
        # (a checkpoint of neither scope: the model's own stream, and `whole` says what it lacks; it was "DeepMind's
        # I3D of the rgb stream" for a flow model)
        stream = readable[0] if readable else scopes[0] if scopes and streams is None else (reads or ["rgb"])[0]
        if streams is not None and scopes and not readable:  # (said "stream='flow': this model's streams are
            # ['rgb']", of a stream nobody gave)
            given, other = scopes[0], "flow" if scopes[0] == "rgb" else "rgb"
            raise ValueError(f"{path}: DeepMind's I3D of the {given} stream (its variables are under "
                             f"{_scope_prefix(given)}); this model reads {' and '.join(streams)}: "
                             f"give the {other}_imagenet checkpoint")
    encoder = _encoder(model_or_encoder, stream)
    if not encoder.built:
        raise ValueError("load_i3d_checkpoint: build the encoder (or the model) before loading weights")
    targets = {deepmind_name(_relative(v, encoder), stream): v for v in encoder.weights}

    def refuse(unset: list[str], found: int) -> None:
        missing = [name for name in unset if not name.endswith("/gamma")]  # (DeepMind's BatchNorm has no scale)
        if missing or not found:  # (a partial or another model's checkpoint trained a random video encoder, "a
            # checkpoint without BatchNorm scales" said of it)
            raise ValueError(f"{path}: not DeepMind's I3D of this model: {len(missing)} of the video encoder's "
                             f"weights are not in it ({_some(missing)}); {found} were")

    final = encoder.final_endpoint
    after = (*VALID_ENDPOINTS[VALID_ENDPOINTS.index(final) + 1:], "Logits")  # DeepMind's blocks past the encoder's
    past = (f"variables of blocks after {final} ({', '.join(b for b in after if not b.startswith('MaxPool'))}), "
            + ("which this I3D does not have" if isinstance(model_or_encoder, I3D) else "which ACGA does not use"))

    def expected(name: str) -> str | None:
        rest = name.partition("/inception_i3d/")[2]
        if name.startswith(_scope_prefix(stream)) and rest.split("/")[0] in after:
            return past
        others = [other for other in _DEEPMIND_SCOPES if other != stream and name.startswith(_scope_prefix(other))]
        return (f"variables of the {others[0]} stream ({_scope_prefix(others[0])}), which this load of the {stream} "
                "stream's encoder does not read") if others else None

    multiplier = encoder.width_multiplier
    hint = ("" if multiplier == 1 else  # (a shape mismatch in a narrower model named no cause: a reviewer's)
            f": the checkpoint is DeepMind's full-width I3D and this model's i3d_width_multiplier={multiplier:g} "
            "(so use a preset or config with i3d_width_multiplier=1.0: the paper preset, or "
            "--set i3d_width_multiplier=1.0)")
    return dataclasses.replace(_assign(targets, reader, None, path, refuse if whole else None, expected=expected,
                                       mismatch_hint=hint), stream=stream)


def _scope_prefix(stream: str) -> str:
    """The prefix of a DeepMind checkpoint's variables of `stream` ("RGB/", "Flow/")."""
    return _DEEPMIND_SCOPES[stream].split("/")[0] + "/"


def _input_stream(encoder) -> str | None:
    """The stream an `I3D` layer reads, by its first kernel's input channels (2: flow, else rgb); None unbuilt."""
    kernels = [v for v in getattr(encoder, "weights", ()) if _relative(v, encoder) == "Conv3d_1a_7x7/conv_3d/kernel"]
    return None if not kernels else "flow" if kernels[0].shape[-2] == 2 else "rgb"


def load_reference_state_dict(model, state_dict: Mapping[str, np.ndarray], source: str = "state_dict") -> LoadReport:
    """Loads the reference PyTorch ACGA weights (docs/model.md#weights) into a single-stream `ACGA` model.

    Args:
        model: an `ACGA` whose config matches the checkpoint (reference: BatchNorm with scale, epsilon 1e-5).
        state_dict: parameter name → NumPy array, names with or without the DataParallel `module.` prefix.
        source: name used in messages.

    Raises:
        ValueError: a shape mismatch, a two-stream model, or a name given both with and without `module.`.
    """
    if len(model.streams) != 1:
        raise ValueError("load_reference_state_dict: the reference checkpoint is single-stream; "
                         f"this model has streams {model.streams}")
    source_arrays = {}
    for key, value in state_dict.items():
        name = key.removeprefix("module.")
        if name in source_arrays and not np.array_equal(source_arrays[name], value, equal_nan=True):  # (the
            # later of the two was kept, unsaid: a reviewer's; the same tensor twice is one)
            raise ValueError(f"{source}: holds both 'module.{name}' and '{name}' (with and without DataParallel's "
                             "prefix), which differ: save the state dict with one of them")
        source_arrays[name] = value
    targets = {}
    for stage in ("video_encoder", "text_encoder", "attention", "decoder"):
        layer = model.stage(stage)
        for variable in layer.weights:
            targets[reference_name(stage, _relative(variable, layer))] = variable
    multiplier = model.config.i3d_width_multiplier
    hint = ("" if multiplier == 1 else f": the checkpoint's I3D is full-width and this model's i3d_width_multiplier="
            f"{multiplier:g} (so use a preset or config with i3d_width_multiplier=1.0: the paper preset)")
    return _assign(targets, source_arrays, lambda v: _TORCH_TO_KERAS.get(v.ndim), source,  # (another rank: its
                   expected=_reference_unused, mismatch_hint=hint)  # shape named beside the model's, not "error: 0")


def read_torch_checkpoint(path: str) -> dict[str, np.ndarray]:
    """Reads a `.pth` / `.pth.tar` file (a state dict, or a dict with a `state_dict` entry) into NumPy arrays.

    The file is unpickled with `weights_only=True`: tensors, numbers, strings and containers only, so a hostile
    checkpoint cannot run code. A checkpoint that also pickled other Python objects is refused with a message.

    Raises:
        ImportError: PyTorch is not installed (an optional extra).
        FileNotFoundError: there is no such file.
        ValueError: the file is not a checkpoint of tensors, or holds no state dict.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    try:
        import torch  # the optional [convert] extra
    except ImportError:
        raise ImportError(f"reading a PyTorch checkpoint needs PyTorch: {install_hint('convert')}") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError for non-tensor objects, RuntimeError for damaged files
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a checkpoint of tensors only, refused without unpickling other objects "
                         f"(which could run code): {first_line}. If you trust the file, re-save its state dict "
                         "alone: torch.save(torch.load(PATH, weights_only=False)['state_dict'], 'clean.pth')") from None
    state = _state_dict(obj)
    if state is None:
        found = list(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path}: no state_dict found (top-level keys: {found}; tensors are looked for there and "
                         f"under {', '.join(STATE_DICT_KEYS)})")
    return {k: v.detach().cpu().numpy() for k, v in state.items() if hasattr(v, "detach")}


STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")  # where training scripts put the model's tensors


def _state_dict(obj: object) -> dict | None:
    """The state dict of a loaded checkpoint: its first entry of `STATE_DICT_KEYS` that holds tensors, else the
    checkpoint itself where it holds tensors, else None ({"model": ..., "optimizer": ...} gave an empty state dict,
    then "265 of the model's 265 weights are not in it": a reviewer's)."""
    if not isinstance(obj, dict):
        return None
    for candidate in [obj.get(key) for key in STATE_DICT_KEYS] + [obj]:
        if isinstance(candidate, dict) and any(hasattr(v, "detach") for v in candidate.values()):
            return candidate
    return None


def convert_reference_checkpoint(path: str, output: str, config=None) -> LoadReport:
    """`acga convert-weights`: a reference `.pth` → Keras weights (`.weights.h5`) for `ACGA(config)`.

    Args:
        path: the reference checkpoint.
        output: a `.weights.h5` path (the config is written next to it as `<output>.config.json`).
        config: the model config (default: the paper preset, which follows the reference checkpoint).
    """
    if not output.endswith(".weights.h5"):
        raise ValueError(f"{output}: the output must end in .weights.h5")
    files.check_writable(output, flag="--output")  # before the checkpoint is read and the model built
    state = read_torch_checkpoint(path)
    model = ACGA(config or ACGAConfig.preset("paper"))
    report = load_reference_state_dict(model, state, source=path)
    left = [name for name in report.unused_checkpoint if not _beside_the_model(name)]
    if report.unset_model or left:  # (written with exit 0: another architecture's file, random weights in it)
        raise ValueError(f"{path}: not the reference ACGA of this config: "
                         + "; ".join(part for part in (
                             f"{len(report.unset_model)} of the model's {len(model.weights)} weights are not in it "
                             f"({_some(report.unset_model)})" if report.unset_model else "",
                             f"{len(left)} of its tensors have no place in the model ({_some(left)})" if left else "")
                                     if part)
                         + " (the paper preset follows the reference; --config for another); nothing written")
    artifacts.save_weights(model, output)
    model.config.to_json(output[: -len(".weights.h5")] + ".config.json")
    return report


def _h5_weights(path: str) -> int:
    """How many of a model's weights a Keras `.weights.h5` file holds (its layers', not an optimizer's).

    Raises:
        ValueError: not a whole HDF5 file (a copy cut short was "does not fit this run's model").
    """
    names = []
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    except OSError as e:
        reason = str(e).split("(", 1)[-1].split(")")[0] if "(" in str(e) else str(e)  # h5py's "(truncated file: ..."
        raise ValueError(f"{path}: not a whole HDF5 weights file ({reason}): cut short or damaged; copy it again") \
            from None
    return sum(name.startswith("layers/") for name in names)


TORCH_BUFFERS = ("num_batches_tracked",)  # state-dict entries that are not weights (PyTorch's BatchNorm counter)
# The reference's video model is a whole Kinetics I3D (its forward stops at Mixed_4f): its state dict also holds the
# blocks past it and the classifier, which ACGA has no place for (as DeepMind's Mixed_5b to Logits; a reviewer's
# reading of the authors' code: convert-weights refused their checkpoint for them)
REFERENCE_UNUSED = tuple(f"video_model.model.{block}." for block in ("mixed_5b", "mixed_5c", "conv3d_0c_1x1",
                                                                      "logits"))


def _beside_the_model(name: str) -> bool:
    """Whether a reference state-dict entry the model has no place for is one the reference holds beside what
    ACGA uses (`TORCH_BUFFERS`, `REFERENCE_UNUSED`), not a sign of another architecture."""
    return name.endswith(TORCH_BUFFERS) or name.startswith(REFERENCE_UNUSED)


def _reference_unused(name: str) -> str | None:
    """Why the reference holds a tensor ACGA has no place for (`_beside_the_model`); None: no such reason."""
    if name.endswith(TORCH_BUFFERS):
        return "PyTorch BatchNorm counters, which are not weights"
    if name.startswith(REFERENCE_UNUSED):
        return "tensors of the reference I3D's blocks past Mixed_4f, which ACGA does not use"
    return None


def _load_by_structure(model, source) -> bool:
    """Loads `source`'s weights into `model` as Keras matches a `.weights.h5` file's (by the layers' attributes and
    classes, not their names), where both have the same weights in the same shapes; whether it did. Keras numbers
    the names of a layer's unnamed sublayers by what the process built before (`bidirectional` in the first model,
    `bidirectional_1` in the next): a run with a GRU of one's own, fine-tuned, had "no weight
    .../bidirectional/forward_gru/..." (a researcher's)."""
    if len(model.weights) != len(source.weights) or any(
            tuple(a.shape) != tuple(b.shape) for a, b in zip(model.weights, source.weights)):
        return False
    with tempfile.TemporaryDirectory() as folder:
        file = os.path.join(folder, "run.weights.h5")
        source.save_weights(file)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(file)
        except (ValueError, KeyError):
            return False
    return True


def load_initial_weights(model, path: str) -> str:
    """Loads the weights a training run starts from (`acga train --init-weights`, docs/training.md#schedule) into a
    freshly built ACGA; returns one line saying what was loaded.

    Args:
        model: the built `ACGA` to train.
        path: DeepMind's Kinetics I3D checkpoint (its prefix, `.../rgb_imagenet/model.ckpt`, or its `.index` file):
            the video encoder up to Mixed_4f, the head keeping its fresh initialisation; a Keras weights file
            (`.weights.h5`, as `acga convert-weights` or `save_weights` write it): every weight; a run directory or
            `.keras` file: that trained model's weights (fine-tuning it: the same architecture, other flags may differ).

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: a file of none of these kinds, or weights that do not fit the model (the message names the first
            weight and both shapes; for a `.weights.h5` file, Keras' reason: the layer and the weights it expected).
    """
    path = os.fspath(path)
    prefix = path[:-len(".index")] if path.endswith(".index") else path
    if os.path.isfile(prefix + ".index"):
        # a two-stream model's encoders as they were, put back where the second stream's load is refused (it left the
        # first stream's encoder loaded: a reviewer's); a one-stream model's load is checked whole before it sets any
        encoders = [_encoder(model, stream).weights for stream in model.streams] if len(model.streams) > 1 else []
        before = [[variable.numpy() for variable in weights] for weights in encoders]
        report = load_i3d_checkpoint(model, prefix, whole=True)
        others = [stream for stream in model.streams if stream != report.stream]
        held = [other for other in others  # (the other stream's variables: unused by the first load)
                if any(name.startswith(_scope_prefix(other)) for name in report.unused_checkpoint)]
        try:  # a checkpoint of both streams, RGB/ and Flow/: each stream's encoder
            reports = [report] + [load_i3d_checkpoint(model, prefix, other, whole=True) for other in held]
        except BaseException:
            for weights, values in zip(encoders, before):
                for variable, value in zip(weights, values):
                    variable.assign(value)
            raise
        notes = []
        unset = sum(len(each.unset_model) for each in reports)
        if unset:  # (BatchNorm scales alone: `whole`)
            notes.append(f"{unset} BatchNorm scales it lacks keep their initialisation (1, as DeepMind's BatchNorm "
                         "has none)")
        others = [other for other in others if other not in held]
        if others:  # (said nothing of the other stream, left random)
            notes.append(f"the {' and '.join(others)} stream's video encoder keeps its initialisation (--init-weights "
                         "takes one checkpoint, one stream's)")
        epsilon = model.config.bn_epsilon
        if not np.isclose(epsilon, DEEPMIND_BN_EPSILON):
            notes.append(f"its BatchNorms were trained with epsilon {DEEPMIND_BN_EPSILON:g}, the model has "
                         f"{epsilon:g}: --set bn_epsilon={DEEPMIND_BN_EPSILON:g} --set bn_scale=false builds it as "
                         "DeepMind's")
        into = ("the video encoder" if len(reports) == 1 else
                f"the {' and '.join(each.stream for each in reports)} streams' video encoders")
        return (f"{prefix}: DeepMind I3D, {sum(len(each.loaded) for each in reports)} tensors into {into}; the head "
                "starts fresh" + "".join(f"; {note}" for note in notes))
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: not found (--init-weights takes DeepMind's I3D checkpoint, e.g. "
                                "rgb_imagenet/model.ckpt, a .weights.h5 file, or a run directory or .keras file)")
    if path.endswith(".weights.h5"):
        stored = _h5_weights(path)
        try:
            with warnings.catch_warnings():  # a weights file holds no optimizer state: Keras says it skips it
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(path)
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{path}: does not fit this run's model ({_keras_reason(e)})") from None
        left = stored - len(model.weights)  # (Keras passes over the layers the model lacks: "all weights" was said)
        return (f"{path}: all {len(model.weights)} weights of the model"
                + (f"; {left} of its weights this model has no place for are left out" if left > 0 else ""))
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "model.keras")) or path.endswith(".keras"):
        file = os.path.join(path, "model.keras") if os.path.isdir(path) else path
        artifacts.check_keras_archive(file)  # (Keras said "File not found" of a damaged one)
        try:
            source = keras.saving.load_model(file, compile=False)
        except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile, zlib.error) as e:  # (a damaged copy's
            # "Bad CRC-32" was a traceback)
            raise ValueError(f"{file}: cannot be loaded as a Keras model ({str(e).splitlines()[0]})") from None
    else:
        raise ValueError(f"{path}: not a starting point --init-weights takes (DeepMind's I3D checkpoint prefix with "
                         "its .index beside it, a .weights.h5 file, or a run directory or .keras file)")
    theirs = {variable.path: variable for variable in source.weights}
    pairs = [(variable, theirs.get(variable.path)) for variable in model.weights]
    if any(source_variable is None for _, source_variable in pairs) and _load_by_structure(model, source):
        return f"{path}: all {len(model.weights)} weights of the model (fine-tuning it)"
    for variable, source_variable in pairs:
        if source_variable is None:
            own = getattr(source, "_replaced", None) or {}  # its stages of its own: a `fit` without them (a
            # researcher's fine-tune of a GRU run, "another architecture" and no more)
            hint = ("; it was trained with stages of its own (" + ", ".join(
                f"{name}: {keras.saving.get_registered_name(type(layer))}" for name, layer in sorted(own.items()))
                + "): give fit the same stages=") if own else ""
            raise ValueError(f"{path}: has no weight {variable.path}: another architecture than this run's{hint}")
        if tuple(source_variable.shape) != tuple(variable.shape):
            raise ValueError(f"{path}: weight {source_variable.path} is {tuple(source_variable.shape)}, this run's "
                             f"model has {tuple(variable.shape)}: another architecture (another preset, or other "
                             "widths: decoder_filters, text_dim, word_dim; the image size and clip length change no "
                             f"weight){_architecture_hint(source, model)}")
    for variable, source_variable in pairs:
        variable.assign(keras.ops.convert_to_numpy(source_variable).astype(variable.dtype))
    mine = {id(source_variable) for _, source_variable in pairs}
    left = [variable.path for variable in source.weights if id(variable) not in mine]  # a model with a part
    # switched off (an attention, a branch)
    return (f"{path}: all {len(model.weights)} weights of the model (fine-tuning it)"
            + (f"; {len(left)} of its weights this model has no place for are left out ({left[0]}, ...)" if left
               else ""))


# The config fields that shape a model's weights (the image size, clip and sentence lengths shape none)
WEIGHT_FIELDS = ("i3d_width_multiplier", "decoder_filters", "text_dim", "word_dim", "attention", "text_encoder",
                 "fusion_resolutions", "bn_scale", "language_guided_attention", "vision_guided_attention", "modality")


def _architecture_hint(source, model) -> str:
    """"; it differs from this run's model in text_dim (its 64, here 48); its architecture is that of preset
    'demo'": the weight-shaping fields where the two configs differ, and the preset whose weights' shapes the
    source's are (the one whose other fields match too, where one does); "" where a config is not known (an own-data
    tester guessed the demo run's preset; a reviewer's --set was the cause)."""
    config, own = getattr(source, "config", None), getattr(model, "config", None)
    if not isinstance(config, ACGAConfig):
        return ""
    differ = ([f"{field} (its {getattr(config, field)}, here {getattr(own, field)})" for field in WEIGHT_FIELDS
               if getattr(config, field) != getattr(own, field)] if isinstance(own, ACGAConfig) else [])
    presets = {name: ACGAConfig.preset(name) for name in PRESETS}
    names = [name for name, preset in presets.items()
             if all(getattr(preset, field) == getattr(config, field) for field in WEIGHT_FIELDS)]
    names = [name for name in names if presets[name] == config] or names
    return ((f"; it differs from this run's model in {', '.join(differ)}" if differ else "")
            + (f"; its architecture is that of preset {' or '.join(map(repr, names))} (--preset; from Python, "
               "ExperimentConfig.preset)" if names else ""))


def _keras_reason(error: Exception) -> str:
    """Keras' message for a weights file that does not load, on one line up to its list of objects: its first line
    alone ("A total of 1 objects could not be loaded. Example error message for object <Conv2D ...>:") named no
    weight."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    kept = []
    for line in lines:
        if line.startswith("List of objects"):
            break
        kept.append(line)
    return re.sub(r", value=\[.*?\]>", ">", " ".join(kept))[:1000] or type(error).__name__  # not the weight's values


DEEPMIND_BN_EPSILON = 1e-3  # docs/model.md#video-encoder

