"""I3D (Inflated Inception-v1) video encoder up to Mixed_4f, with DeepMind's layer names (docs/model.md#video-encoder).

Layers are nested so that variable paths reproduce the checkpoint scopes: `Mixed_4f/Branch_1/Conv3d_0b_3x3/
conv_3d/kernel` ↔ DeepMind's `RGB/inception_i3d/Mixed_4f/Branch_1/Conv3d_0b_3x3/conv_3d/w`. Weight loading
(`acga_tf.training.weights`) is therefore a table of leaf renames, not code.

References:
    Carreira & Zisserman, "Quo Vadis, Action Recognition?", CVPR 2017, https://arxiv.org/abs/1705.07750
"""

from __future__ import annotations

import numbers

import keras

from acga_tf.models import device

# Endpoints in order, DeepMind's names (kinetics-i3d `i3d.py` VALID_ENDPOINTS).
VALID_ENDPOINTS = (
    "Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
    "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f",
    "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c",
)

# docs/model.md#video-encoder: (kind, output channels or inception widths, kernel, strides).
# Inception widths: (b0 1x1, b1 1x1, b1 3x3, b2 1x1, b2 3x3, b3 pool->1x1).
_LAYOUT = {
    "Conv3d_1a_7x7": ("unit", 64, (7, 7, 7), (2, 2, 2)),
    "MaxPool3d_2a_3x3": ("pool", None, (1, 3, 3), (1, 2, 2)),
    "Conv3d_2b_1x1": ("unit", 64, (1, 1, 1), (1, 1, 1)),
    "Conv3d_2c_3x3": ("unit", 192, (3, 3, 3), (1, 1, 1)),
    "MaxPool3d_3a_3x3": ("pool", None, (1, 3, 3), (1, 2, 2)),
    "Mixed_3b": ("mixed", (64, 96, 128, 16, 32, 32), None, None),
    "Mixed_3c": ("mixed", (128, 128, 192, 32, 96, 64), None, None),
    "MaxPool3d_4a_3x3": ("pool", None, (3, 3, 3), (2, 2, 2)),
    "Mixed_4b": ("mixed", (192, 96, 208, 16, 48, 64), None, None),
    "Mixed_4c": ("mixed", (160, 112, 224, 24, 64, 64), None, None),
    "Mixed_4d": ("mixed", (128, 128, 256, 24, 64, 64), None, None),
    "Mixed_4e": ("mixed", (112, 144, 288, 32, 64, 64), None, None),
    "Mixed_4f": ("mixed", (256, 160, 320, 32, 128, 128), None, None),
    "MaxPool3d_5a_2x2": ("pool", None, (2, 2, 2), (2, 2, 2)),
    "Mixed_5b": ("mixed", (256, 160, 320, 32, 128, 128), None, None),
    "Mixed_5c": ("mixed", (384, 192, 384, 48, 128, 128), None, None),
}


def scaled_width(width: int, multiplier: float) -> int:
    """An I3D width scaled by `multiplier` (at least 4 channels)."""
    return width if multiplier == 1.0 else max(4, int(round(width * multiplier)))


def endpoint_channels(endpoint: str, multiplier: float = 1.0) -> int:
    """Output channels of an I3D endpoint (832 for Mixed_4f at full width, docs/model.md#video-encoder)."""
    index = VALID_ENDPOINTS.index(endpoint)
    for name in reversed(VALID_ENDPOINTS[: index + 1]):
        kind, widths, _, _ = _LAYOUT[name]
        if kind == "unit":
            return scaled_width(widths, multiplier)
        if kind == "mixed":
            w = [scaled_width(x, multiplier) for x in widths]
            return w[0] + w[2] + w[4] + w[5]
    raise ValueError(endpoint)


def _bfloat16_filter_gradient_is_wrong(compute_dtype: str, input_shape, kernel_size, strides) -> bool:
    """Whether TensorFlow's bfloat16 Conv3D kernel gradient is wrong for this conv (docs/training.md#mixed-precision).

    Measured on TensorFlow 2.21's CPU kernels (oneDNN): where an input axis is shorter than the kernel along it
    (T = 2 under a 3×3×3 kernel, Mixed_4 of a clip of 8 frames), or no longer than it with a stride, the bfloat16
    kernel gradient is off by 50 to 180% (sometimes NaN, once a crash) while the forward pass and the input
    gradient are right. Such convs run in float32 under the TensorFlow backend: they sit at the coarsest
    resolution, so this costs little. JAX is not affected.
    """
    if compute_dtype != "bfloat16" or keras.backend.backend() != "tensorflow":
        return False
    sizes = tuple(input_shape)[1:4]
    return any(size is not None and (size < k or (s > 1 and size <= k))
               for size, k, s in zip(sizes, kernel_size, strides))


def _space_to_depth_conv(x, kernel, stride: int):
    """A "same" 2D convolution of stride `stride` over every frame of `x` `(B, T, H, W, C)`, as a stride-1
    convolution over `stride` × `stride` blocks of pixels stacked as channels ("space to depth").

    `kernel` `(k, k, C, F)` is zero-padded to `stride · ceil(k / stride)` taps and regrouped the same way, so the
    sum is the same; the convolution then sees `stride²·C` input channels and no stride, a shape that suits matrix
    units better than a few channels under a stride (the stem's fastest form on a GPU: benchmarks/gpu_stem.py).
    """
    ops = keras.ops
    batch, frames, height, width, channels = x.shape
    k, filters = kernel.shape[0], kernel.shape[-1]
    blocks = -(-k // stride)  # kernel taps per axis in block units
    pads = []
    for size in (height, width):
        out = -(-size // stride)
        before = max((out - 1) * stride + k - size, 0) // 2  # TF "same"
        pads.append((before, (out + blocks - 1) * stride - size - before))  # whole blocks, the extra ones zero-weighted
    x = ops.pad(x, [[0, 0], [0, 0], list(pads[0]), list(pads[1]), [0, 0]])
    hb, wb = (height + sum(pads[0])) // stride, (width + sum(pads[1])) // stride
    x = ops.reshape(x, (-1, hb, stride, wb, stride, channels))
    x = ops.reshape(ops.transpose(x, (0, 1, 3, 2, 4, 5)), (-1, hb, wb, stride * stride * channels))
    kernel = ops.pad(kernel, [[0, blocks * stride - k], [0, blocks * stride - k], [0, 0], [0, 0]])
    kernel = ops.reshape(kernel, (blocks, stride, blocks, stride, channels, filters))
    kernel = ops.reshape(ops.transpose(kernel, (0, 2, 1, 3, 4, 5)),
                         (blocks, blocks, stride * stride * channels, filters))
    y = ops.conv(x, kernel, padding="valid")  # (B·T, out_h, out_w, F)
    return ops.reshape(y, (-1 if batch is None else batch, frames) + tuple(y.shape[1:]))


@keras.saving.register_keras_serializable(package="acga_tf")
class MaxPool3D(keras.layers.MaxPooling3D):
    """Keras' `MaxPooling3D` with "same" padding, computed as one 1-D max-pool per axis (`separable`, read when the
    layer is traced): the maximum over a box is the maximum, along one axis, of the maxima along the others, and
    "same" padding and strides are per axis, so the outputs are equal, bit for bit (docs/model.md#video-encoder).

    Faster on every device measured: under TensorFlow on the CPU a 3×3×3 stride-1 pool of `(4, 8, 28, 28, 192)`
    took 97 ms against 302 in one 3-D pool, under JAX 11 against 73; the paper preset's forward ran 1.08x faster on
    the CPU and 1.04x on the H200 (benchmarks/README.md). `separable = False` runs Keras' own 3-D pool
    (`benchmarks/gpu.py --pool 3d` compares them).
    """

    def __init__(self, pool_size, strides=None, **kwargs):
        super().__init__(pool_size, strides, **kwargs)
        self.separable = True

    def call(self, inputs):
        if not self.separable:
            return super().call(inputs)
        x = inputs
        for axis in range(3):
            if self.pool_size[axis] == 1 and self.strides[axis] == 1:
                continue
            size, strides = [1, 1, 1], [1, 1, 1]
            size[axis], strides[axis] = self.pool_size[axis], self.strides[axis]
            x = keras.ops.max_pool(x, tuple(size), tuple(strides), padding=self.padding,
                                   data_format=self.data_format)
        return x


@keras.saving.register_keras_serializable(package="acga_tf")
class Unit3D(keras.layers.Layer):
    """Conv3D (no bias) → BatchNorm → ReLU with TF "SAME" padding (docs/model.md#video-encoder).

    Args:
        filters: output channels.
        kernel_size: (t, h, w).
        strides: (t, h, w).
        bn_scale: BatchNorm has a learned scale (reference checkpoint) or not (DeepMind).
        bn_epsilon: BatchNorm epsilon.
    """

    def __init__(self, filters: int, kernel_size=(1, 1, 1), strides=(1, 1, 1), bn_scale: bool = False,
                 bn_epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = filters, tuple(kernel_size), tuple(strides)
        self.bn_scale, self.bn_epsilon = bn_scale, bn_epsilon
        self.conv_3d = keras.layers.Conv3D(filters, self.kernel_size, self.strides, padding="same",
                                           use_bias=False, dtype=self.dtype_policy, name="conv_3d")
        self.batch_norm = keras.layers.BatchNormalization(epsilon=bn_epsilon, scale=bn_scale, momentum=0.99,
                                                          dtype=self.dtype_policy, name="batch_norm")

    def build(self, input_shape):
        if _bfloat16_filter_gradient_is_wrong(self.conv_3d.dtype_policy.compute_dtype, input_shape,
                                              self.kernel_size, self.strides):
            self.conv_3d.dtype_policy = "float32"  # inputs are cast to float32 by the conv, outputs back by the BN
            self.conv_3d.float32_reason = "TensorFlow's bfloat16 kernel gradient is wrong for this input shape"
        self.conv_3d.build(input_shape)
        self.batch_norm.build(self.conv_3d.compute_output_shape(input_shape))
        # The RGB stem (3 input channels, 7×7×7) on a GPU runs as a 1×7×7 convolution over the 7 frames its kernel
        # spans, stacked as 21 channels: the same sum, in a shape the GPU runs faster (docs/model.md#video-encoder).
        # The test is any input channel count that is not a multiple of 8 with a temporal kernel: at the paper's
        # widths only the stem; at the narrow presets' (tiny, demo) some inner 3×3×3 units too, unmeasured there.
        on_gpu = device.on_gpu()
        self.fold_time = input_shape[-1] % 8 != 0 and self.kernel_size[0] > 1 and on_gpu
        # With a spatial stride (the stem), the folded conv also stacks each 2×2 block of pixels as channels
        # (`_folded_conv`): on the H200 under JAX with the BatchNorm separate, the stem took 21.7 ms per batch of 32
        # in this form against 31.1 folded and 69.5 in 3D (benchmarks/gpu_stem.py, one run; benchmarks/README.md).
        self.space_to_depth = on_gpu
        # Folded, the conv can also compute two consecutive output frames per position (`_folded_conv`): the frames
        # both read stacked once, twice the filters. Chosen nowhere until measured (`benchmarks/gpu_stem.py`).
        self.paired_frames = False
        # Where the BN uses its moving statistics (inference, or a frozen BN in training), fold it into the conv
        # (`call`): 2 to 8% faster inference on the CPU under TensorFlow. Not on a GPU: on the H200 under JAX, as
        # cuDNN's fused conv + bias + ReLU, it made the forward with the folded stem 2.8x slower (236 against 83.5 ms
        # per batch of 32; benchmarks/README.md, sixth session); `benchmarks/gpu.py --batch-norm` compares the two.
        self.fold_batch_norm = not on_gpu

    def call(self, x, training=None):
        bn = self.batch_norm
        if (training and bn.trainable) or not self.fold_batch_norm:  # batch statistics: the BN is its own op
            y = self._folded_conv(x, self.conv_3d.kernel) if self.fold_time else self.conv_3d(x)
            return keras.ops.relu(bn(y, training=training))
        # The BN's moving statistics make it y·s + (β − μ·s) per channel, s = γ/√(σ² + ε): folded into the kernel
        # and a bias, so that conv, bias and ReLU run as one fused op (docs/model.md#video-encoder). Computed from
        # the variables at every call, so gradients reach the kernel (and γ, β) as through the separate BN.
        ops = keras.ops
        scale = ops.rsqrt(ops.cast(bn.moving_variance, "float32") + bn.epsilon)
        if bn.scale:
            scale = scale * ops.cast(bn.gamma, "float32")
        shift = -ops.cast(bn.moving_mean, "float32") * scale
        if bn.center:
            shift = shift + ops.cast(bn.beta, "float32")
        kernel = ops.cast(self.conv_3d.kernel, "float32") * scale
        if self.fold_time:
            y = self._folded_conv(x, kernel)
        else:
            dtype = self.conv_3d.compute_dtype
            y = ops.conv(ops.cast(x, dtype), ops.cast(kernel, dtype), strides=self.strides, padding="same")
        return ops.cast(ops.relu(y + ops.cast(shift, y.dtype)), bn.compute_dtype)

    def _folded_conv(self, x, kernel):
        """The convolution of `kernel` `(kt, kh, kw, c, f)` (`conv_3d`'s shape) over `x` with the time axis folded
        into the channels (see `build`); with `space_to_depth` (and a spatial stride), each stride × stride block of
        pixels too (`_space_to_depth_conv`); with `paired_frames`, two consecutive output frames at once: the kt + st
        frames they read stacked, and the kernel twice, zero-padded by st frames after and before (2f filters)."""
        ops = keras.ops
        (kt, kh, kw), (st, sh, sw) = self.kernel_size, self.strides
        dtype = self.conv_3d.compute_dtype
        x = ops.cast(x, dtype)
        frames, channels = x.shape[1], x.shape[-1]
        out_frames = -(-frames // st)
        pad = max((out_frames - 1) * st + kt - frames, 0)  # "same": the odd one at the end
        kernel = ops.cast(kernel, dtype)  # (kt, kh, kw, c, f)
        steps, span, filters, stride, extra = out_frames, kt, self.filters, st, 0
        if self.paired_frames:  # output frames 2p and 2p + 1 read the kt + st frames from 2p·st on
            steps, span, filters, stride = -(-out_frames // 2), kt + st, 2 * self.filters, 2 * st
            extra = (2 * steps - out_frames) * st  # an odd count: one more output at the end, dropped below
            kernel = ops.concatenate([ops.pad(kernel, [[0, st], [0, 0], [0, 0], [0, 0], [0, 0]]),
                                      ops.pad(kernel, [[st, 0], [0, 0], [0, 0], [0, 0], [0, 0]])], axis=-1)
        x = ops.pad(x, [[0, 0], [pad // 2, pad - pad // 2 + extra], [0, 0], [0, 0], [0, 0]])
        x = ops.concatenate([x[:, k:k + (steps - 1) * stride + 1:stride] for k in range(span)], axis=-1)  # (k, c)
        # (span, kh, kw, c, f) -> (1, kh, kw, span * c, f)
        kernel = ops.reshape(ops.transpose(kernel, (1, 2, 0, 3, 4)), (1, kh, kw, span * channels, filters))
        if self.space_to_depth and sh == sw > 1:
            y = _space_to_depth_conv(x, kernel[0], sh)
        else:
            y = ops.conv(x, kernel, strides=(1, sh, sw), padding="same")
        if not self.paired_frames:
            return y
        height, width = y.shape[2], y.shape[3]
        y = ops.reshape(y, (-1, steps, height, width, 2, self.filters))
        y = ops.reshape(ops.transpose(y, (0, 1, 4, 2, 3, 5)), (-1, 2 * steps, height, width, self.filters))
        return y[:, :out_frames]

    def compute_output_shape(self, input_shape):
        return self.conv_3d.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "bn_scale": self.bn_scale, "bn_epsilon": self.bn_epsilon}


def i3d_units(layer) -> list:
    """Every `Unit3D` inside `layer` (a model, a stage or a block), e.g. to switch a form before tracing."""
    return [sub for sub in layer._flatten_layers() if isinstance(sub, Unit3D)]


def max_pools(layer) -> list:
    """Every `MaxPool3D` inside `layer` (a model, a stage or a block), e.g. to switch its form before tracing."""
    return [sub for sub in layer._flatten_layers() if isinstance(sub, MaxPool3D)]


@keras.saving.register_keras_serializable(package="acga_tf")
class InceptionBlock(keras.layers.Layer):
    """I3D inception block: 1×1 | 1×1→3×3×3 | 1×1→3×3×3 | 3×3×3 max-pool→1×1, concatenated
    (docs/model.md#video-encoder).

    Args:
        widths: (b0, b1a, b1b, b2a, b2b, b3) output channels.
        bn_scale, bn_epsilon: passed to every `Unit3D`.
    """

    def __init__(self, widths, bn_scale: bool = False, bn_epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.widths = tuple(int(w) for w in widths)
        self.bn_scale, self.bn_epsilon = bn_scale, bn_epsilon
        b0, b1a, b1b, b2a, b2b, b3 = self.widths

        def unit(filters, kernel, name):
            return Unit3D(filters, kernel, bn_scale=bn_scale, bn_epsilon=bn_epsilon, dtype=self.dtype_policy,
                          name=name)

        # Branch names are DeepMind's scopes (Branch_k/Conv3d_0x_...).
        self.branch_0 = _Branch([unit(b0, (1, 1, 1), "Conv3d_0a_1x1")], dtype=self.dtype_policy,
                                name="Branch_0")
        self.branch_1 = _Branch([unit(b1a, (1, 1, 1), "Conv3d_0a_1x1"), unit(b1b, (3, 3, 3), "Conv3d_0b_3x3")],
                                dtype=self.dtype_policy,
                                name="Branch_1")
        self.branch_2 = _Branch([unit(b2a, (1, 1, 1), "Conv3d_0a_1x1"), unit(b2b, (3, 3, 3), "Conv3d_0b_3x3")],
                                dtype=self.dtype_policy,
                                name="Branch_2")
        self.pool = MaxPool3D((3, 3, 3), (1, 1, 1), padding="same", dtype=self.dtype_policy,
                              name="MaxPool3d_0a_3x3")
        self.branch_3 = _Branch([unit(b3, (1, 1, 1), "Conv3d_0b_1x1")], dtype=self.dtype_policy,
                                name="Branch_3")

    def build(self, input_shape):
        for branch in (self.branch_0, self.branch_1, self.branch_2, self.branch_3):
            branch.build(input_shape)

    def call(self, x, training=None):
        return keras.ops.concatenate([
            self.branch_0(x, training=training), self.branch_1(x, training=training),
            self.branch_2(x, training=training), self.branch_3(self.pool(x), training=training)], axis=-1)

    def compute_output_shape(self, input_shape):
        w = self.widths
        return tuple(input_shape[:-1]) + (w[0] + w[2] + w[4] + w[5],)

    def get_config(self):
        return {**super().get_config(), "widths": self.widths, "bn_scale": self.bn_scale,
                "bn_epsilon": self.bn_epsilon}


class _Branch(keras.layers.Layer):
    """A chain of `Unit3D`s under one name scope (Branch_k); internal to `InceptionBlock`."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        shape = input_shape
        for unit in self.units:
            unit.build(shape)
            shape = unit.compute_output_shape(shape)

    def call(self, x, training=None):
        for unit in self.units:
            x = unit(x, training=training)
        return x


@keras.saving.register_keras_serializable(package="acga_tf")
class I3D(keras.layers.Layer):
    """I3D video encoder returning a dict of endpoints (docs/model.md#video-encoder).

    Args:
        final_endpoint: last block built, one of `VALID_ENDPOINTS` (ACGA: "Mixed_4f").
        width_multiplier: scales every width (1.0 = DeepMind's I3D).
        trainable_from: first block that trains; earlier blocks are frozen (their BatchNorms run in
            inference mode). "none" freezes every block.
        bn_scale, bn_epsilon: BatchNorm scale and epsilon (docs/model.md#video-encoder: reference 1e-5 with scale,
            DeepMind 1e-3 without).
        endpoints: names of the endpoints returned by `call` (default: just `final_endpoint`).

    Call arguments:
        video: float `(B, T, H, W, C)` in [-1, 1].

    Returns:
        dict endpoint name → `(B, T', H', W', C')`; Mixed_4f at T=16, S=512 is `(B, 4, 32, 32, 832)`.

    Example:
        >>> enc = I3D(endpoints=("Mixed_4e", "Mixed_4f"), width_multiplier=0.125)
        >>> out = enc(keras.ops.zeros((1, 8, 64, 64, 3)))
        >>> tuple(out["Mixed_4f"].shape)
        (1, 2, 4, 4, 104)
    """

    def __init__(self, final_endpoint: str = "Mixed_4f", width_multiplier: float = 1.0,
                 trainable_from: str = "Conv3d_1a_7x7", bn_scale: bool = False, bn_epsilon: float = 1e-3,
                 endpoints=None, **kwargs):
        super().__init__(**kwargs)
        if final_endpoint not in VALID_ENDPOINTS:
            raise ValueError(f"I3D final_endpoint={final_endpoint!r}: expected one of {VALID_ENDPOINTS}")
        if trainable_from != "none" and trainable_from not in VALID_ENDPOINTS:
            raise ValueError(f"I3D trainable_from={trainable_from!r}: expected 'none' or one of {VALID_ENDPOINTS}")
        if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, numbers.Real) or not (
                0 < width_multiplier <= 1):  # as ACGAConfig.i3d_width_multiplier: 0 built a model of empty blocks
            raise ValueError(f"I3D width_multiplier={width_multiplier!r}: must be in (0, 1]")
        self.final_endpoint, self.width_multiplier = final_endpoint, float(width_multiplier)
        self.trainable_from, self.bn_scale, self.bn_epsilon = trainable_from, bn_scale, bn_epsilon
        self.endpoints = tuple(endpoints) if endpoints else (final_endpoint,)
        for name in self.endpoints:
            if name not in VALID_ENDPOINTS[: VALID_ENDPOINTS.index(final_endpoint) + 1]:
                raise ValueError(f"I3D endpoint {name!r} is not built up to final_endpoint={final_endpoint!r}")
        first_trainable = (len(VALID_ENDPOINTS) if trainable_from == "none"
                           else VALID_ENDPOINTS.index(trainable_from))
        self._first_trainable = first_trainable
        self.blocks = {}
        for index, name in enumerate(VALID_ENDPOINTS[: VALID_ENDPOINTS.index(final_endpoint) + 1]):
            kind, widths, kernel, strides = _LAYOUT[name]
            if kind == "unit":
                layer = Unit3D(scaled_width(widths, self.width_multiplier), kernel, strides, bn_scale=bn_scale,
                               bn_epsilon=bn_epsilon, dtype=self.dtype_policy, name=name)
            elif kind == "mixed":
                layer = InceptionBlock([scaled_width(w, self.width_multiplier) for w in widths],
                                       bn_scale=bn_scale, bn_epsilon=bn_epsilon, dtype=self.dtype_policy, name=name)
            else:
                layer = MaxPool3D(kernel, strides, padding="same", dtype=self.dtype_policy, name=name)
            layer.trainable = index >= first_trainable
            self.blocks[name] = layer

    @property
    def trainable(self):
        return keras.layers.Layer.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        # Keras sets every sublayer's flag to the layer's: `encoder.trainable = True` after `False` would train the
        # blocks before `trainable_from` too. Those stay frozen, as the config says; a block's own flag (or the
        # config's `trainable_from`) trains them (docs/model.md#fine-tuning).
        keras.layers.Layer.trainable.fset(self, value)
        if value and hasattr(self, "blocks"):
            for index, layer in enumerate(self.blocks.values()):
                if index < self._first_trainable:
                    layer.trainable = False

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.blocks.values():
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, video, training=None):
        outputs, x = {}, video
        for name in self.blocks:
            x = self.run_blocks(x, (name,), training=training)
            if name in self.endpoints:
                outputs[name] = x
        return outputs

    def run_blocks(self, x, names, training=None):
        """Runs the blocks `names` (consecutive, in order) on `x`: how a model cut inside the encoder (the feature
        cache, `acga_tf.training.feature_cache`) runs one part of it over the same layers."""
        for name in names:
            layer = self.blocks[name]
            x = layer(x) if name.startswith("MaxPool") else layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shapes, shape = {}, tuple(input_shape)
        for name, layer in self.blocks.items():
            shape = layer.compute_output_shape(shape)
            if name in self.endpoints:
                shapes[name] = shape
        return shapes

    def get_config(self):
        return {**super().get_config(), "final_endpoint": self.final_endpoint,
                "width_multiplier": self.width_multiplier, "trainable_from": self.trainable_from,
                "bn_scale": self.bn_scale, "bn_epsilon": self.bn_epsilon, "endpoints": self.endpoints}
