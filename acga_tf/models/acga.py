"""`ACGA`: the model assembled from its stages (docs/model.md).

A keras-hub style "functional subclass": named inputs `video` and `words`, the stage layers called in order,
`super().__init__(inputs, outputs)` with a dict of named outputs, and a config that is the `ACGAConfig`.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Mapping

import keras
import numpy as np

from acga_tf.models.attention import CrossGuidedAttention
from acga_tf.models.config import FORMER_FIELDS, ACGAConfig
from acga_tf.models.decoder import MultiResolutionDecoder
from acga_tf.models.losses import FOREGROUND_WEIGHT, TARGETS, acga_losses
from acga_tf.models.metrics import ReferringIoU
from acga_tf.models.text_encoder import TextEncoder
from acga_tf.models.video_encoder import I3D, VALID_ENDPOINTS

# rgb+flow input: RGB then flow (docs/model.md#video-encoder)
_STREAM_CHANNELS = {"rgb": slice(0, 3), "flow": slice(3, 5)}
# The stages a layer of one's own may replace (`ACGA(config, stages=...)`, docs/model.md#extending), in model order.
REPLACEABLE_STAGES = ("video_feature", "text_encoder", "attention", "decoder")


@keras.saving.register_keras_serializable(package="acga_tf")
class VideoFeature(keras.layers.Layer):
    """Mixed_4f averaged over time, then L2-normalised over channels (docs/model.md#video-encoder):
    `(B, T', h, w, C)` → `(B, h, w, C)`."""

    def call(self, x):
        x = keras.ops.mean(x, axis=1)
        x32 = keras.ops.cast(x, "float32")
        norm = keras.ops.sqrt(keras.ops.maximum(keras.ops.sum(x32 * x32, axis=-1, keepdims=True), 1e-24))
        return keras.ops.cast(x32 / norm, x.dtype)  # reference: F.normalize(p=2, eps=1e-12)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])


def wire_head(stages, mixed_4f, words):
    """Everything after the video encoder, wired once for `ACGA` and for any model cut inside the encoder.

    Args:
        stages: the stage layers by name ("video_feature", "text_encoder", "attention", "decoder").
        mixed_4f: the encoder's last endpoint `(B, T/4, S/16, S/16, C)`.
        words: word vectors `(B, L, D)`; all-zero rows are padding.

    Returns:
        `(video feature, text feature, attention outputs, decoder logits)`.
    """
    feature, text, attended = attend(stages, mixed_4f, words)
    logits = stages["decoder"](attended["attended_video"], attended["attended_text"])
    return feature, text, attended, logits


def attend(stages, mixed_4f, words):
    """The head up to the decoder (`wire_head` without it): `(video feature, text feature, attention outputs)`."""
    word_mask = keras.ops.any(keras.ops.not_equal(words, 0.0), axis=-1)  # (B, L): real words
    feature = stages["video_feature"](mixed_4f)  # (B, S/16, S/16, C)
    text = stages["text_encoder"](words)  # (B, L, text_dim)
    return feature, text, stages["attention"](feature, text, word_mask)


def compute_dtype(model: keras.Model) -> str:
    """The dtype the model's layers compute in ("float32", "bfloat16", "float16").

    Keras' functional model keeps a float32 policy of its own whatever its layers' policy (`ACGA(config,
    dtype="mixed_float16").dtype_policy.name` is "float32"), so this reads the layers: the narrowest compute dtype
    of any of them (docs/training.md#mixed-precision).
    """
    dtypes = {layer.dtype_policy.compute_dtype for layer in model.layers}
    for dtype in ("float16", "bfloat16"):
        if dtype in dtypes:
            return dtype
    return "float32"


class SegmentationTask:
    """keras-hub's task shape for models trained with the paper's loss: `compile()` with no arguments uses Adam,
    the multi-resolution weighted BCE and the referring IoU metric (docs/training.md#loss). Mixed into `ACGA` and
    into the training task of `acga_tf.training.task`."""

    def compile(self, optimizer=None, loss=None, metrics=None, *, learning_rate: float | None = None,
                foreground_weight: float | None = None, jit_compile="auto", **kwargs):
        """`keras.Model.compile` with the paper's defaults.

        A model whose layers compute in float16 always trains with dynamic loss scaling: the optimizer (the
        default or the one given) is wrapped in a `keras.optimizers.LossScaleOptimizer`, under every backend
        (docs/training.md#mixed-precision). Keras would only do so from the model's own policy, which a functional
        model keeps at float32.

        Args:
            optimizer: default `keras.optimizers.Adam(learning_rate)`; an optimizer or its name.
            loss: default `acga_losses(foreground_weight)`: WBCE at S/16, S/4 and S.
            metrics: Keras' `metrics`; by default none, and `weighted_metrics` (unless given) is
                `{"logits": [ReferringIoU()]}`: as a weighted metric it takes the samples' weights where the data
                gives them (`(x, y, w)`), which Keras passes to `weighted_metrics` only.
            learning_rate: the default Adam's (5e-4); refused with an `optimizer` given (set it on that one).
            foreground_weight: the default losses' (1.5); refused with a `loss` given.
            jit_compile: XLA for training, evaluation and inference; "auto" (default) is Keras' choice: on
                under JAX and on a TensorFlow GPU without a distribution strategy, off on a TensorFlow CPU, where
                XLA measured slower (docs/training.md#xla).
            **kwargs: passed to `keras.Model.compile` (`auto_scale_loss=False` turns the loss scaling off).
        """
        for name, value, default_of in (("learning_rate", learning_rate, optimizer), ("foreground_weight",
                                                                                     foreground_weight, loss)):
            if value is not None and default_of is not None:  # else SGD's 0.01 trains, without a word
                instead = (f"give the optimizer built with it, e.g. keras.optimizers."
                           f"{type(keras.optimizers.get(optimizer)).__name__}(learning_rate={value!r})"
                           if name == "learning_rate" else "build the loss you give with it")
                raise ValueError(f"compile({name}={value!r}) sets the default "
                                 f"{'optimizer' if name == 'learning_rate' else 'loss'}'s, and one is given: {instead}")
        learning_rate = 5e-4 if learning_rate is None else learning_rate
        foreground_weight = FOREGROUND_WEIGHT if foreground_weight is None else foreground_weight
        optimizer = keras.optimizers.Adam(learning_rate) if optimizer is None else keras.optimizers.get(optimizer)
        if (kwargs.get("auto_scale_loss", True) and compute_dtype(self) == "float16"
                and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name="loss_scale_optimizer")
        if metrics is None and "weighted_metrics" not in kwargs:
            kwargs["weighted_metrics"] = {"logits": [ReferringIoU()]}
        super().compile(optimizer=optimizer,
                        loss=loss if loss is not None else acga_losses(foreground_weight),
                        metrics=metrics, jit_compile=jit_compile, **kwargs)
        self._jit_compile_asked = jit_compile

    def get_compile_config(self):
        # Keras' record of the compile, with `jit_compile` as asked ("auto" is decided again where the model loads:
        # a model compiled on a TensorFlow CPU keeps XLA under JAX).
        config = super().get_compile_config()
        if config and getattr(self, "_jit_compile_asked", None) == "auto":
            config["jit_compile"] = "auto"
        return config

    def compile_from_config(self, config):
        """Compiles a loaded model as it was saved (optimizer, loss, metrics), so that a `.keras` file of a compiled
        model goes on training with its optimizer's state. Keras skips a `compile` it did not write (with a warning);
        this one takes Keras' own arguments, already resolved, so it is called with them."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)  # its variables, into which Keras loads the saved ones

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras' `fit`. A `tf.data.Dataset` keeps its own order (`make_dataset` shuffles a training set): Keras 3.15
        warned at every `fit` on one that its default `shuffle=True` is ignored. Arrays are checked first
        (`_check_arrays`)."""
        _check_arrays(self, x, y)
        if "shuffle" not in kwargs and not args[6:] and _is_tf_dataset(x):  # shuffle: fit's 9th parameter
            kwargs["shuffle"] = False
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras' `evaluate`, its arrays checked first (`_check_arrays`)."""
        _check_arrays(self, x, y)
        return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """Keras' `predict`, its arrays checked first (`_check_arrays`)."""
        _check_arrays(self, x)
        return super().predict(x, *args, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # (no `:=` in what a graph calls: AutoGraph cannot convert it, and printed "AutoGraph could not transform
        # <ACGA> ... Please report this to the TensorFlow team" at every evaluation: a notebook reviewer's)
        missing = sorted(set(self.loss) - set(y)) if isinstance(y, dict) and isinstance(self.loss, dict) else []
        if missing:  # `fit(x, {"logits": mask})`: Keras' KeyError says `logits_res1` is not an output
            raise ValueError(f"the losses compiled take targets for {sorted(self.loss)}; the data gives none for "
                             f"{missing}: give each (acga_tf.data.parse.multiscale_targets(mask) makes the three "
                             "from an S x S mask; make_dataset's batches have them), or compile losses only for "
                             "the targets given")
        return super().compute_loss(x, y, _with_targets(y, y_pred), sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, _with_targets(y, y_pred), sample_weight)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Called by Keras' TensorFlow trainer only, before `fit`, `evaluate`, `train_on_batch` and `test_on_batch`
        # (the other backends always build first). Two changes to Keras' version (docs/training.md#first-step):
        # - Without a distribution strategy Keras leaves the optimizer, loss and metric variables to be created
        #   while the first step function is traced, and TensorFlow then traces that step a second time, without
        #   creating variables. Building first, as Keras does under a strategy, traces it once: the tiny preset's
        #   first `fit` epoch measured 42.7 s before, 27.4 s after, with the same losses.
        # - Under a strategy Keras builds the compiled metrics from a `strategy.reduce("MEAN", batch)` of the first
        #   distributed batch, which fails for dict inputs across replicas (keras-team/keras#20329: "Attempt to
        #   convert a value ({'video': PerReplica...}) ... to a Tensor"). The build needs only shapes and dtypes,
        #   so this builds from the first replica's local batch.
        # Like Keras under a strategy (and its JAX and PyTorch trainers), this reads one batch in every `fit` and
        # `evaluate`, built or not, and Keras then starts the epoch on a new iterator: with a dataset reshuffled at
        # each iteration every `fit` trains on its second iteration's order, and a resumed run counts on that to see
        # the batches the uninterrupted one saw.
        if iterator is not None:
            for _, _, it in iterator:  # a plain tensor's local results are itself
                data_batch = keras.tree.map_structure(
                    lambda v: self.distribute_strategy.experimental_local_results(v)[0], next(it))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)


def _with_targets(y, y_pred):
    """The outputs that have a target in `y`: with `return_attention` the model also returns attention maps, which
    have none, and Keras' compiled metrics index the targets by every output name (a KeyError)."""
    if isinstance(y, dict) and isinstance(y_pred, dict) and not set(y_pred) <= set(y):
        return {key: value for key, value in y_pred.items() if key in y}
    return y_pred


def _check_arrays(model, x, y=None) -> None:
    """Checks arrays given to `fit`, `evaluate` or `predict` before Keras runs its loop: the inputs as a call checks
    them, the targets' ranks and values. Under JAX, Keras takes the variables' values out of the model for the loop
    and puts them back at its end, so an error raised inside a step (the model's own input check among them) leaves
    the model without its weights for the rest of the process (every later call fails with
    "'NoneType' object is not callable"). A dataset or generator is read inside the loop, not checked here."""
    if isinstance(x, dict) and all(hasattr(value, "shape") for value in x.values()) and \
            hasattr(model, "_check_inputs"):
        model._check_inputs(x, depth=1)  # (the warning at the line that called fit, evaluate or predict)
    if hasattr(y, "shape") and isinstance(getattr(model, "loss", None), dict) and len(model.loss) > 1:
        # one mask where the compiled losses take a target per output: Keras said only "y_true and y_pred have
        # different structures" (a PyTorch user's first try)
        raise ValueError(f"y is one array of shape {tuple(y.shape)}; the losses compiled take a target for each of "
                         f"{sorted(model.loss)}: give y as that dict (acga_tf.data.parse.multiscale_targets(mask) "
                         "makes the model's three from (B, S, S, 1) masks; make_dataset's batches have them)")
    targets = y.items() if isinstance(y, dict) else [("target", y)] if hasattr(y, "shape") else []
    for name, value in targets:
        if not hasattr(value, "shape"):
            continue
        if len(value.shape) != 4:
            raise ValueError(f"target {name!r} has shape {tuple(value.shape)}: targets are {TARGETS}")
        values = keras.ops.convert_to_numpy(value)  # (no copy of a NumPy array)
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if not 0.0 <= low <= high <= 1.0:  # (else a 0/255 mask trains to a loss of 305, unbounded below)
            raise ValueError(f"target {name!r} holds values from {low:g} to {high:g}: targets are masks of 0 and 1 "
                             "(a 0/255 mask: divide it by 255)")


def _is_tf_dataset(x) -> bool:
    """Whether `x` is a `tf.data.Dataset`, without importing TensorFlow (the model runs under JAX without it)."""
    return any(c.__module__.startswith("tensorflow.python.data") for c in type(x).__mro__)


def _serialize(policy):
    return keras.dtype_policies.serialize(policy) if policy is not None else None


CALL_ARGUMENTS = frozenset({"training", "mask"})  # the keyword arguments a call of `ACGA` takes (Keras' own)


def _call_arguments(cls: type) -> frozenset[str] | None:
    """The keyword arguments a call of `cls` takes: Keras' own and those of its `call` (a subclass's own, as
    docs/model.md#extending shows: `scale=` was refused by a fixed set, a reviewer's); None where `call` takes
    **kwargs (any name)."""
    own = None  # the first `call` before ACGA's own place in the order Python looks it up (a mixin's too)
    for c in cls.__mro__:
        if c is ACGA:
            break
        if "call" in c.__dict__:
            own = c.__dict__["call"]
            break
    if own is None:  # Keras' functional call (it takes **kwargs, and passes over what it does not know)
        return CALL_ARGUMENTS
    return _arguments_of(own)


@functools.cache
def _arguments_of(call) -> frozenset[str] | None:
    """`_call_arguments` of one `call` function, read from its signature once (a call of the model asks on every
    call; a class's `call` assigned later is another function, read then)."""
    parameters = list(inspect.signature(call).parameters.values())[2:]  # (past self and the inputs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return CALL_ARGUMENTS | {p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                                      inspect.Parameter.KEYWORD_ONLY)}


# |frames| beyond this in an array given to the model are taken as unscaled (0..255): `preprocess_clip`'s reach 1, and
# standard normal noise (a smoke test's) stays below 6 even for 10^8 values
VIDEO_RANGE_SLACK = 10.0


@keras.saving.register_keras_serializable(package="acga_tf")
class ACGA(SegmentationTask, keras.Model):
    """Asymmetric Cross-Guided Attention network (docs/model.md).

    Args:
        config: an `ACGAConfig` (or its `to_dict()`).
        dtype: dtype policy of the model ("float32", "mixed_bfloat16", "mixed_float16"); set on this model only.
            Default: Keras' global policy (`keras.config.dtype_policy()`), saved with the model where not float32.
        encoder_dtype: dtype policy of the I3D video encoder(s) where it differs from `dtype` (default: `dtype`).
            `dtype="mixed_bfloat16", encoder_dtype="float32"` computes the text encoder, attention and decoder in
            bfloat16 and I3D in float32 (docs/training.md#mixed-precision).
        stages: layers of one's own in place of the model's, by stage name (`REPLACEABLE_STAGES`: "video_feature",
            "text_encoder", "attention", "decoder"), each taking and giving what the stage it replaces does
            (docs/model.md#extending); saved with the model (register their classes with Keras to load it). One
            stream only (not modality "rgb+flow").

    Call arguments:
        inputs: dict with `video` float32 `(B, T, S, S, C)` in [-1, 1] (C = 3 RGB, 2 flow, 5 RGB then flow) and
            `words` float32 `(B, L, D)` word vectors (padding rows zero).
        training: BatchNorm/Dropout mode (frozen I3D blocks always run in inference mode).

    Returns:
        dict of float32 logits `logits_res1` `(B, S/16, S/16, 1)`, `logits_res2` `(B, S/4, S/4, 1)`, `logits`
        `(B, S, S, 1)` (the fused output); with `config.return_attention` also `word_attention` `(B, N, L)` and
        `spatial_attention` `(B, N, N)` where the configuration has them (N = (S/16)²; two-stream models
        prefix them with `rgb_` / `flow_`).

    Example:
        >>> config = ACGAConfig.preset("tiny")
        >>> model = ACGA(config)
        >>> out = model({"video": np.zeros((1, 8, 64, 64, 3), "float32"),
        ...              "words": np.zeros((1, 8, 32), "float32")})
        >>> tuple(out["logits"].shape)
        (1, 64, 64, 1)

    References:
        Wang et al., ICCV 2019, https://arxiv.org/abs/1908.10047
    """

    def __init__(self, config: ACGAConfig | dict, dtype=None, encoder_dtype=None, stages=None, **kwargs):
        if isinstance(config, dict):
            config = ACGAConfig.from_dict(config, source="ACGA config")
        if not isinstance(config, ACGAConfig):
            raise TypeError(f"ACGA takes an ACGAConfig or its dict, got {type(config).__name__} {config!r} (a preset: "
                            "ACGA(ACGAConfig.preset('tiny')))")
        if keras.config.image_data_format() != "channels_last":
            raise ValueError("ACGA is channels-last only; keras.config.image_data_format() is "
                             f"{keras.config.image_data_format()!r}")
        if dtype is None and keras.config.dtype_policy().name != "float32":
            # Keras' global policy (`keras.mixed_precision.set_global_policy` before the build), which the layers
            # take: named here, so that `get_config` records it as a plain Keras model records its layers' policies.
            # Else a saved model loads in float32 where the global policy is float32 again.
            dtype = keras.config.dtype_policy().name
        c = config
        streams = ("rgb", "flow") if c.modality == "rgb+flow" else (c.modality,)
        replaced = _checked_stages(stages, streams)

        # === Layers ===
        stages = {}
        for stream in streams:
            prefix = f"{stream}_" if len(streams) > 1 else ""
            stages[stream] = dict(
                video_encoder=I3D(final_endpoint="Mixed_4f", width_multiplier=c.i3d_width_multiplier,
                                  trainable_from=c.i3d_trainable_from, bn_scale=c.bn_scale, bn_epsilon=c.bn_epsilon,
                                  endpoints=("Mixed_4e", "Mixed_4f"), dtype=encoder_dtype or dtype,
                                  name=f"{prefix}video_encoder"),
                video_feature=VideoFeature(dtype=dtype, name=f"{prefix}video_feature"),
                text_encoder=TextEncoder(c.text_dim, c.text_encoder, dtype=dtype, name=f"{prefix}text_encoder"),
                attention=CrossGuidedAttention(c.vision_guided_attention, c.language_guided_attention, c.attention,
                                               c.mask_padding, c.attention_init_std, dtype=dtype,
                                               name=f"{prefix}attention"),
                decoder=MultiResolutionDecoder(c.decoder_filters, c.fusion_resolutions, dtype=dtype,
                                               name=f"{prefix}decoder"),
            )
            stages[stream].update(replaced)

        # === Functional Model ===
        video = keras.Input((c.clip_length, c.image_size, c.image_size, c.input_channels), name="video")
        words = keras.Input((c.sentence_length, c.word_dim), name="words")
        per_stream, intermediates = [], {}
        for stream in streams:
            s = stages[stream]
            clip = video if len(streams) == 1 else video[..., _STREAM_CHANNELS[stream]]
            endpoints = s["video_encoder"](clip)
            try:
                feature, text, attended, logits = wire_head(s, endpoints["Mixed_4f"], words)
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                if not replaced:
                    raise
                # a stage of one's own that takes or gives another shape fails deep in the next stage (with
                # "too many values to unpack", "'KerasTensor' object is not a mapping", KeyError 'attended_text')
                detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ValueError(f"stages: the model cannot be wired with {', '.join(replaced)} of your own "
                                 f"({type(e).__name__}: {detail}); each stage must take and give what the one it "
                                 "replaces does (docs/model.md#extending)") from None
            per_stream.append((stream, attended, logits))
            if not intermediates:  # intermediates of the first stream (docs/model.md#weights), for `intermediate_model`
                intermediates = {"mixed_4e": endpoints["Mixed_4e"], "mixed_4f": endpoints["Mixed_4f"],
                                 "video_feature": feature, "text_feature": text,
                                 **{k: v for k, v in attended.items() if k.startswith("attended")}, **logits}
        outputs = {}
        for key in ("logits_res1", "logits_res2", "logits"):
            # rgb+flow: late fusion, the average of the two streams' logits.
            outputs[key] = (per_stream[0][2][key] if len(per_stream) == 1
                            else keras.ops.mean(keras.ops.stack([p[2][key] for p in per_stream]), axis=0))
        if c.return_attention and "attention" in replaced and not {"word_attention", "spatial_attention"} & set(
                per_stream[0][1]):  # (else the model had no maps, without a word)
            raise ValueError(f"return_attention: the attention stage of your own gives no map (it gives "
                             f"{', '.join(sorted(per_stream[0][1]))}): add word_attention (B, N, L) or "
                             "spatial_attention (B, N, N) to the dict it returns (N = (S/16)²), or build with "
                             "return_attention=False (docs/model.md#extending)")
        if c.return_attention:
            for stream, attended, _ in per_stream:
                prefix = f"{stream}_" if len(per_stream) > 1 else ""
                for key in ("word_attention", "spatial_attention"):
                    if key in attended:
                        outputs[prefix + key] = attended[key]
        super().__init__(inputs={"video": video, "words": words}, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.config = config
        self.streams = streams
        # Keras' Functional keeps a float32 policy of its own; remember the layers' policy for get_config.
        # (Serialised in get_config only: Keras' serializer probes for TensorFlow, which a JAX-only machine lacks.)
        self._layer_dtype = keras.dtype_policies.get(dtype) if dtype else None
        self._encoder_dtype = keras.dtype_policies.get(encoder_dtype) if encoder_dtype else None
        self._intermediates = intermediates
        self._built_trainable = trainable_flags(self)  # what `get_config` compares with
        self._replaced = replaced  # (layers of one's own: serialised by `get_config`)
        # each stage's layer name, for `stage` (a layer of one's own has a name of its own)
        self._stage_names = {stream: {name: layer.name for name, layer in stages[stream].items()}
                             for stream in streams}

    @property
    def precision(self) -> str:
        """What it computes in, named as `acga train --mixed-precision` names it: "float32", "mixed_bfloat16",
        "mixed_float16", or "mixed_bfloat16_head" (the I3D video encoder in float32, the rest in mixed_bfloat16)."""
        layers = self._layer_dtype.name if self._layer_dtype is not None else "float32"
        encoder = self._encoder_dtype.name if self._encoder_dtype is not None else layers
        if encoder == layers:
            return layers
        return "mixed_bfloat16_head" if (layers, encoder) == ("mixed_bfloat16", "float32") else \
            f"{layers} (video encoder {encoder})"

    def __call__(self, inputs, *args, **kwargs):
        taken = _call_arguments(type(self))
        unknown = sorted(set(kwargs) - taken) if taken is not None else []  # (no `:=`: see `compute_loss`)
        if unknown:  # (Keras passes over them: `return_attention=True` gave no map, without a word)
            raise TypeError(f"{type(self).__name__}() got the argument(s) {', '.join(unknown)}, which its call does "
                            f"not take ({', '.join(f'{a}=' for a in sorted(taken))})"
                            + ("; the attention maps are the config's return_attention=True "
                               "(ACGA(config.replace(return_attention=True)), or "
                               "acga_tf.apps.visualize.attention_model(model) for a built one)"
                               if "return_attention" in unknown else ""))
        self._check_inputs(inputs)  # before Keras' own input_spec check, to name the config field
        self._check_runs_here(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def stateless_call(self, trainable_variables, non_trainable_variables, *args, **kwargs):
        """Keras' `stateless_call` (a JAX training step's), with `__call__`'s input checks: it calls `call` directly,
        and a clip of another size failed deep inside a layer ("Cannot concatenate arrays ...")."""
        inputs = args[0] if args else kwargs.get("inputs")
        if inputs is not None:
            self._check_inputs(inputs)
        return super().stateless_call(trainable_variables, non_trainable_variables, *args, **kwargs)

    def _check_runs_here(self, inputs) -> None:
        """Refuses, in one line, to compute in float16 under TensorFlow without a GPU: TensorFlow has no float16
        MaxPool3D kernel on a CPU, and the first call failed deep in I3D with TensorFlow's kernel message. A
        symbolic call (building a larger model) is let through; a run saved in float16 loads in float32 on a CPU
        (`acga_tf.training.artifacts`)."""
        if getattr(self, "_runs_here", False):  # checked once: the layers and devices are read on the first call
            return
        if compute_dtype(self) == "float16" and keras.backend.backend() == "tensorflow":
            if any(isinstance(value, keras.KerasTensor) for value in inputs.values()):
                return  # symbolic: checked at the first real call
            if not any(device.lower().startswith("gpu") for device in keras.distribution.list_devices()):
                raise ValueError("ACGA computes in float16 (dtype='mixed_float16'), which TensorFlow cannot run on a "
                                 "CPU (it has no float16 MaxPool3D kernel): build it with dtype='mixed_bfloat16' or "
                                 "float32 here (a saved float16 run: acga_tf.training.artifacts.load_trained loads "
                                 "it in float32; a model of yours: float32 = ACGA(model.config), then "
                                 "float32.set_weights(model.get_weights())), or run it on a GPU "
                                 "(docs/training.md#mixed-precision)")
        self._runs_here = True

    def _check_inputs(self, inputs, per_clip: bool = True, depth: int = 0) -> None:
        """Raises a ValueError naming the input, the expected shape and the config field behind it; with
        `per_clip`, also where video and words differ in batch size (`segment_queries` pairs every clip with every
        sentence). Warns of frames not scaled to [-1, 1] at the caller's line, `depth` calls above the method that
        called this one."""
        c = self.config
        if not isinstance(inputs, dict) or set(inputs) != {"video", "words"}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"ACGA expects a dict with keys ['video', 'words'], got {got}")
        for key, value in inputs.items():
            if not hasattr(value, "shape"):
                raise ValueError(f"ACGA input {key!r} is a {type(value).__name__}: pass an array or a tensor "
                                 "(np.asarray(...))")
        for key, value in inputs.items():  # Keras' functional model casts its inputs: uint8 pixels read as 0..255
            dtype = keras.backend.standardize_dtype(getattr(value, "dtype", None) or "float32")
            if not dtype.startswith(("float", "bfloat")):
                scale = ("frames scaled to [-1, 1] (x / 127.5 - 1: acga_tf.ops.geometry.preprocess_clip letterboxes "
                         "and scales uint8 frames)" if key == "video"
                         else "word vectors (acga_tf.data.vocab.SentenceVectorizer)")
                raise ValueError(f"ACGA input {key!r} is {dtype}: the model reads floats, {scale}; "
                                 "docs/model.md")
        video = inputs["video"]
        reach = float(max(video.max(), -video.min())) if isinstance(video, np.ndarray) and video.size else 0.0
        if reach > VIDEO_RANGE_SLACK:  # (a Python-API reviewer's [0, 255] floats were taken without a word)
            warnings.warn(f"ACGA input 'video' reaches {reach:g}: the model reads frames scaled to [-1, 1] (x / 127.5 "
                          "- 1: acga_tf.ops.geometry.preprocess_clip letterboxes and scales uint8 frames); frames of "
                          "0..255 give masks unrelated to the video; docs/model.md", stacklevel=3 + depth)
        shapes = {key: tuple(value.shape) for key, value in inputs.items()}
        expected = {
            "video": ((c.clip_length, "clip_length"), (c.image_size, "image_size"), (c.image_size, "image_size"),
                      (c.input_channels, f"modality={c.modality!r}")),
            "words": ((c.sentence_length, "sentence_length"), (c.word_dim, "word_dim")),
        }
        for key, dims in expected.items():
            shape = shapes[key]
            want = "(B, " + ", ".join(str(d) for d, _ in dims) + ")"
            if len(shape) != len(dims) + 1:
                raise ValueError(f"ACGA input {key!r} has shape {shape}, expected rank {len(dims) + 1}: {want}")
            for axis, (size, field) in enumerate(dims, start=1):
                if shape[axis] is not None and shape[axis] != size:
                    raise ValueError(f"ACGA input {key!r} has shape {shape}, expected {want}: axis {axis} is "
                                     f"{shape[axis]} but the config's {field} gives {size}")
            if shape[0] == 0:
                raise ValueError(f"ACGA input {key!r} has shape {shape}: an empty batch")
        batches = shapes["video"][0], shapes["words"][0]
        if per_clip and None not in batches and batches[0] != batches[1]:
            raise ValueError(f"ACGA inputs differ in batch size: video {shapes['video']}, words {shapes['words']} "
                             "(one sentence per clip; segment_queries pairs each clip with every sentence)")

    def get_config(self):
        config = {"config": self.config.to_dict(), "name": self.name, "dtype": _serialize(self._layer_dtype)}
        if self._encoder_dtype is not None:  # only where set: configs saved before it load as they did
            config["encoder_dtype"] = _serialize(self._encoder_dtype)
        if self._replaced:
            for name, layer in self._replaced.items():  # else saved, and then not loadable, even here
                kind = type(layer)
                registered = keras.saving.get_registered_object(keras.saving.get_registered_name(kind)) is kind
                if not registered and not kind.__module__.startswith("keras."):
                    raise ValueError(f"stages[{name!r}]: its class {kind.__name__} is not registered with Keras, so "
                                     "a saved model could not be loaded: decorate the class with "
                                     "@keras.saving.register_keras_serializable(package=...) "
                                     "(docs/model.md#extending)")
            config["stages"] = {name: keras.saving.serialize_keras_object(layer)
                                for name, layer in self._replaced.items()}
        flags = trainable_flags(self)
        if flags != self._built_trainable:  # a layer frozen or unfrozen since the build: every flag, in build order
            config["layers_trainable"] = flags
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("config"), dict):  # models saved before the config split also stored training fields
            config["config"] = {k: v for k, v in config["config"].items() if k not in FORMER_FIELDS}
        for key in ("dtype", "encoder_dtype"):
            if isinstance(config.get(key), dict):
                config[key] = keras.dtype_policies.deserialize(config[key])
        if isinstance(config.get("stages"), dict):  # layers of one's own, as `get_config` serialised them
            config["stages"] = {name: keras.saving.deserialize_keras_object(layer)
                                for name, layer in config["stages"].items()}
        flags = config.pop("layers_trainable", None)
        model = cls(**config)
        if flags:
            set_trainable_flags(model, flags)
        return model

    def segment_queries(self, video, words) -> dict:
        """B clips and Q sentences in one pass: the video encoder runs once per clip, the head on every (clip,
        sentence) pair as a batch (inference mode). Equal to calling the model on each clip repeated Q times.

        Args:
            video: `(B, T, S, S, C)`, as for `call` (B = 1: one clip).
            words: `(Q, L, D)` word vectors, one sentence per row.

        Returns:
            dict of float32 logits `logits_res1`, `logits_res2`, `logits`, each with B × Q rows, clip-major (row
            b × Q + q is clip b with sentence q).

        A subclass that overrides `call` (its own forward pass, docs/model.md#extending) is called on each clip
        repeated Q times instead, so that prediction and the export compute what it trains and is scored with: the
        video encoder then runs once per (clip, sentence) pair.
        """
        self._check_inputs({"video": video, "words": words}, per_clip=False)
        self._check_runs_here({"video": video, "words": words})
        count, clips = keras.ops.shape(words)[0], keras.ops.shape(video)[0]
        words = keras.ops.tile(words, (clips, 1, 1))  # (B·Q, L, D): sentences 0..Q-1 for each clip
        if type(self).call is not ACGA.call:  # (a subclass that refines the logits: else predict ignores it)
            outputs = self({"video": keras.ops.repeat(video, count, axis=0), "words": words}, training=False)
            return {key: outputs[key] for key in ("logits_res1", "logits_res2", "logits")}
        per_stream = []
        for stream in self.streams:
            clip = video if len(self.streams) == 1 else video[..., _STREAM_CHANNELS[stream]]
            mixed_4f = self.stage("video_encoder", stream)(clip, training=False)["Mixed_4f"]
            stages = {name: self.stage(name, stream)
                      for name in ("video_feature", "text_encoder", "attention", "decoder")}
            per_stream.append(wire_head(stages, keras.ops.repeat(mixed_4f, count, axis=0), words)[3])
        return {key: (per_stream[0][key] if len(per_stream) == 1
                      else keras.ops.mean(keras.ops.stack([p[key] for p in per_stream]), axis=0))
                for key in ("logits_res1", "logits_res2", "logits")}

    def stage(self, name: str, stream: str | None = None) -> keras.layers.Layer:
        """The stage layer `name` ("video_encoder", "video_feature", "text_encoder", "attention", "decoder") of the
        `stream` ("rgb" or "flow"; default: the first of `modality`). A model of one stream has one of each.

        Raises:
            ValueError: a stream the model does not have.
        """
        if stream is not None and stream not in self.streams:
            raise ValueError(f"stream={stream!r}: this model's streams are {list(self.streams)} "
                             f"(modality={self.config.modality!r})")
        return self.get_layer(self._stage_names[stream or self.streams[0]][name])


def check_stage_names(stages, given: str, example: str) -> None:
    """Refuses `stages` (layers, or what makes them: `given`, as `example` shows one) that is no dict, or names a
    stage no layer of one's own may replace (`REPLACEABLE_STAGES`)."""
    if not isinstance(stages, Mapping):
        raise TypeError(f"stages is a {type(stages).__name__}: give a dict of {given} by stage name, e.g. "
                        f"stages={{'text_encoder': {example}}} (docs/model.md#extending)")
    if unknown := sorted(set(stages) - set(REPLACEABLE_STAGES)):
        raise ValueError(f"stages: {', '.join(map(repr, unknown))} is not a stage a layer of one's own may replace; "
                         f"those are {', '.join(REPLACEABLE_STAGES)} (docs/model.md#extending)")


def _checked_stages(stages, streams: tuple[str, ...]) -> dict:
    """`ACGA`'s `stages` argument checked: {stage name: Keras layer}, or {} for None.

    Raises:
        ValueError: a name that is not in `REPLACEABLE_STAGES`, or a model of two streams.
        TypeError: not a dict, or a value that is not a Keras layer.
    """
    if stages is None:
        return {}
    check_stage_names(stages, "layers", "MyTextEncoder()")
    for name, layer in stages.items():
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(f"stages[{name!r}] is a {type(layer).__name__}, not a Keras layer")
    if stages and len(streams) > 1:
        raise ValueError("stages: a model of two streams (modality='rgb+flow') would share the layer between them; "
                         "replace stages in a one-stream model")
    return dict(stages)


def _named_layers(layer: keras.layers.Layer, path: str = ""):
    """`(path, layer)` for `layer`'s sublayers at every depth, each before its own sublayers; a path is the names
    from the model down, "/"-joined (a name that siblings share gets "#k")."""
    children = layer._flatten_layers(include_self=False, recursive=False)
    names = [child.name for child in children]
    for index, child in enumerate(children):
        name = child.name if names.count(child.name) == 1 else f"{child.name}#{names[:index].count(child.name)}"
        yield f"{path}/{name}" if path else name, child
        yield from _named_layers(child, f"{path}/{name}" if path else name)


def trainable_flags(model: keras.Model) -> dict[str, bool]:
    """Every layer's `trainable`, the model's own under "" (docs/model.md#fine-tuning): what `ACGA.get_config` keeps
    where a layer was frozen or unfrozen after the build, so that a `.keras` file trains the same layers again."""
    return {"": model.trainable, **{path: layer.trainable for path, layer in _named_layers(model)}}


def set_trainable_flags(model: keras.Model, flags: dict[str, bool]) -> None:
    """Sets the flags of `trainable_flags`, each layer after the layers that hold it (setting a layer's flag sets its
    sublayers' too, so each then gets its own)."""
    if "" in flags:
        model.trainable = flags[""]
    for path, layer in _named_layers(model):
        if path in flags:
            layer.trainable = flags[path]


def intermediate_model(model: ACGA) -> keras.Model:
    """A model over the same layers that returns the intermediates of the (first) stream
    (docs/model.md#weights).

    Keys: `mixed_4e`, `mixed_4f`, `video_feature`, `text_feature`, `attended_text`, `attended_video`
    (and `attended_video_full` with F_VA), `logits_res1`, `logits_res2`, `logits_res3`, `logits`.
    """
    return keras.Model(model.inputs, dict(model._intermediates), name=f"{model.name}_intermediates")


# The head's outputs when the model is cut for the feature cache (`split_model`): the targets of the loss.
CACHE_TARGETS = ("logits_res1", "logits_res2", "logits")


def check_feature_cache(config: ACGAConfig) -> None:
    """Refuses a config whose I3D has no frozen block, so nothing to cache (`split_model`; `fit` asks before it
    writes).

    Raises:
        ValueError: naming `i3d_trainable_from`.
    """
    if config.i3d_trainable_from == VALID_ENDPOINTS[0]:
        raise ValueError(f"i3d_trainable_from={config.i3d_trainable_from!r}: no frozen I3D block to cache; the feature "
                         "cache needs frozen layers below the trainable ones (paper: 'Mixed_4f')")


def split_model(model, task_class=keras.Model) -> tuple[keras.Model, keras.Model]:
    """(prefix, head) functional models over `model`'s layers, cut at the first trainable I3D block: the frozen
    blocks run once into a cache (`acga_tf.training.feature_cache`), and training runs the head only.

    The prefix runs the frozen blocks (`I3D.run_blocks`); the head runs the trainable blocks, then the rest of the
    model through `acga.wire_head`, the same wiring `ACGA` uses, so nothing of the forward pass is written twice.

    Args:
        model: a single-stream `ACGA`.
        task_class: the class of the head (e.g. the training task of `acga_tf.training.task`).

    Raises:
        ValueError: a two-stream model, or an I3D with nothing frozen (no cache to make).
    """
    config = model.config
    if len(model.streams) != 1:
        raise ValueError("the feature cache supports single-stream models; this one has streams "
                         f"{model.streams}")
    encoder = model.stage("video_encoder")
    names = list(encoder.blocks)
    check_feature_cache(config)
    # "none": every block frozen, the head starts at the encoder's output ('none' was "not in list": a reviewer's)
    start = len(names) if encoder.trainable_from == "none" else names.index(encoder.trainable_from)

    video = keras.Input((config.clip_length, config.image_size, config.image_size, config.input_channels),
                        name="video")
    cut = encoder.run_blocks(video, names[:start], training=False)
    prefix = keras.Model({"video": video}, {"features": cut}, name=f"{model.name}_frozen_prefix")

    features = keras.Input(tuple(cut.shape[1:]), name="features")
    words = keras.Input((config.sentence_length, config.word_dim), name="words")
    stages = {name: model.stage(name) for name in ("video_feature", "text_encoder", "attention", "decoder")}
    _, _, _, logits = wire_head(stages, encoder.run_blocks(features, names[start:]), words)
    head = task_class(inputs={"features": features, "words": words}, outputs={k: logits[k] for k in CACHE_TARGETS},
                      name=f"{model.name}_head")
    return prefix, head


def parameter_table(model: ACGA) -> str:
    """A Table-1-style parameter count: video encoder, text encoder, attention, decoder, fusion, total,
    trainable vs frozen (docs/model.md#decoder: the paper head has 23,664,391 parameters, MRF 28); a subclass's own
    layers in a row "other layers" (docs/model.md#extending)."""
    rows = []

    def count(weights):
        return int(sum(np.prod(w.shape) for w in weights))

    groups = {"video encoder (I3D)": [], "text encoder": [], "attention": [], "decoder": [], "fusion (MRF)": []}
    for stream in model.streams:
        groups["video encoder (I3D)"].append(model.stage("video_encoder", stream))
        groups["text encoder"].append(model.stage("text_encoder", stream))
        groups["attention"].append(model.stage("attention", stream))
        groups["decoder"].append(model.stage("decoder", stream))
    for name, layers in groups.items():
        if name == "fusion (MRF)":
            continue
        trainable = sum(count(layer.trainable_weights) for layer in layers)
        frozen = sum(count(layer.non_trainable_weights) for layer in layers)
        if name == "decoder":
            fusion = [layer.conv_fusion for layer in layers if getattr(layer, "conv_fusion", None) is not None]
            fusion_count = sum(count(f.weights) for f in fusion)
            rows.append((name, trainable - fusion_count, frozen))
            rows.append(("fusion (MRF)", fusion_count, 0))
        else:
            rows.append((name, trainable, frozen))
    head = sum(t + f for n, t, f in rows if n != "video encoder (I3D)")
    other_t = count(model.trainable_weights) - sum(t for _, t, _ in rows)  # a subclass's own layers
    other_f = count(model.non_trainable_weights) - sum(f for _, _, f in rows)
    if other_t or other_f:
        rows.append(("other layers", other_t, other_f))
    total_t = sum(t for _, t, _ in rows)
    total_f = sum(f for _, _, f in rows)
    width = 24
    lines = [f"{'component':<{width}} {'trainable':>13} {'frozen':>13} {'total':>13}"]
    for name, t, f in rows:
        lines.append(f"{name:<{width}} {t:>13,} {f:>13,} {t + f:>13,}")
    lines.append(f"{'head (text+attn+dec+MRF)':<{width}} {'':>13} {'':>13} {head:>13,}")
    lines.append(f"{'total':<{width}} {total_t:>13,} {total_f:>13,} {total_t + total_f:>13,}")
    return "\n".join(lines)


def head_parameter_count(model: ACGA) -> int:
    """Parameters of text encoder + attention + decoder + fusion (23,664,391 for the paper preset,
    docs/model.md#presets)."""
    return int(sum(model.stage(n, s).count_params() for s in model.streams
                   for n in ("text_encoder", "attention", "decoder")))
