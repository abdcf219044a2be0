"""Mixed precision: the gradients that sum over every position are summed in float32 (docs/training.md#mixed-precision).

Under a mixed policy a layer adds its bias in the compute dtype (bfloat16 or float16), and the bias's gradient is the
upstream gradient summed over the batch and every pixel. Summed in 16 bits, such a sum stalls once it is about 256
times larger than what is added to it: TensorFlow 2.21's CPU `BiasAddGrad` returned 2,352 for a true 65,569 (a
bfloat16 gradient of 8×128×128 values, mean 0.5), and JAX on the CPU sums a Conv2D's bias gradient in 16 bits too.
The decoder's bias gradients at S/4 and S came out 80 to 98% wrong under both.

`add_bias` and `gate` keep the forward pass as it was (one add or multiply in the compute dtype, which XLA and oneDNN
fuse into the convolution) and give the gradient of the broadcast operand summed in float32. The layers below are
Keras' own with `add_bias` for their bias; in float32 they are Keras' layers unchanged.
"""

from __future__ import annotations

import keras

_SIXTEEN_BIT = ("bfloat16", "float16")


def _is_sixteen_bit(x) -> bool:
    return keras.backend.standardize_dtype(x.dtype) in _SIXTEEN_BIT


def _sum_in_float32(x, axes, dtype, keepdims=False):
    return keras.ops.cast(keras.ops.sum(keras.ops.cast(x, "float32"), axis=axes, keepdims=keepdims), dtype)


def _upstream(args, upstream):
    """The upstream gradient, whichever way the backend passes it to a `keras.ops.custom_gradient` function."""
    return args[0] if upstream is None else upstream


@keras.ops.custom_gradient
def _add_bias_16(x, bias):
    def grad(*args, upstream=None):
        upstream = _upstream(args, upstream)
        return upstream, _sum_in_float32(upstream, tuple(range(len(upstream.shape) - 1)), bias.dtype)

    return keras.ops.add(x, bias), grad


def add_bias(x, bias):
    """`x + bias`, `bias` `(C,)` along the last axis; in 16 bits, the bias's gradient is summed in float32."""
    if not _is_sixteen_bit(x):
        return keras.ops.add(x, bias)
    return _add_bias_16(x, keras.ops.cast(bias, x.dtype))


@keras.ops.custom_gradient
def _gate_16(x, g):
    def grad(*args, upstream=None):
        upstream = _upstream(args, upstream)
        product = keras.ops.cast(upstream, "float32") * keras.ops.cast(x, "float32")
        return upstream * g, _sum_in_float32(product, 1, g.dtype, keepdims=True)

    return x * g, grad


def gate(x, g):
    """`x * g` with `x` `(B, N, C)` and `g` `(B, 1, C)`; in 16 bits, `g`'s gradient is summed over N in float32."""
    if not _is_sixteen_bit(x):
        return x * g
    return _gate_16(x, keras.ops.cast(g, x.dtype))


class _BiasGradientInFloat32:
    """Mixin for a Keras layer with `use_bias` and `activation`: in 16 bits, its bias goes through `add_bias`.
    `_without_bias` is the layer's op before its bias: a convolution's by default."""

    def call(self, inputs):
        if (not self.use_bias or self.compute_dtype not in _SIXTEEN_BIT
                or getattr(self, "quantization_mode", None) or getattr(self, "lora_enabled", False)
                or getattr(self, "padding", None) == "causal"):  # Keras' own call: what this one does not cover
            return super().call(inputs)
        outputs = add_bias(self._without_bias(inputs), self.bias)
        return outputs if self.activation is None else self.activation(outputs)

    def _without_bias(self, inputs):
        return self.convolution_op(inputs, self.kernel)


class Conv1D(_BiasGradientInFloat32, keras.layers.Conv1D):
    """`keras.layers.Conv1D`, its bias gradient summed in float32 in 16 bits."""


class Conv2D(_BiasGradientInFloat32, keras.layers.Conv2D):
    """`keras.layers.Conv2D`, its bias gradient summed in float32 in 16 bits."""


class Conv2DTranspose(_BiasGradientInFloat32, keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose`, its bias gradient summed in float32 in 16 bits."""

    def _without_bias(self, inputs):
        return keras.ops.conv_transpose(inputs, self.kernel, strides=list(self.strides), padding=self.padding,
                                        output_padding=self.output_padding, dilation_rate=self.dilation_rate,
                                        data_format=self.data_format)


class Dense(_BiasGradientInFloat32, keras.layers.Dense):
    """`keras.layers.Dense`, its bias gradient summed in float32 in 16 bits."""

    def _without_bias(self, inputs):
        return keras.ops.matmul(inputs, self.kernel)
