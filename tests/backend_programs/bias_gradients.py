"""Bias and gate gradients in 16 bits, under the Keras backend of `KERAS_BACKEND` (acga_tf/models/precision.py).

    KERAS_BACKEND=jax python -m tests.backend_programs.bias_gradients --result RESULT.json

For each layer of `acga_tf.models.precision` (Conv1D, Conv2D, Conv2DTranspose, Dense) and for Keras' own layer of
the same kind, built in mixed_bfloat16 and mixed_float16 with the same weights: the gradient of Σ y·w over the bias,
where `w` (the upstream gradient) has 32,768 positions per channel, values exact in both 16-bit types and a mean of
about 0.5. The true gradient is Σ w per channel (float64); the result holds each layer's error, max |g − Σ w| / max
|Σ w|. The same for `precision.gate`'s gradient over its gate. Gradients come from the layer's call over given
weight values (`keras.StatelessScope`) and the backend's own autodiff, so nothing here is TensorFlow-specific.
"""

from __future__ import annotations

import argparse

import numpy as np

from tests.backend_programs.common import active_backend, write_result

POLICIES = ("mixed_bfloat16", "mixed_float16")
CHANNELS = 4


def _cases():
    import keras

    from acga_tf.models import precision

    return {  # name: (input shape, make(module) -> layer); every output has 8 × 4096 positions per channel
        "Conv1D": ((8, 4096, 3), lambda m: m.Conv1D(CHANNELS, 3, padding="same")),
        "Conv2D": ((8, 64, 64, 3), lambda m: m.Conv2D(CHANNELS, 3, padding="same")),
        "Conv2DTranspose": ((8, 16, 16, 3), lambda m: m.Conv2DTranspose(CHANNELS, 8, strides=4, padding="same")),
        "Dense": ((8, 4096, 3), lambda m: m.Dense(CHANNELS)),
    }, precision, keras.layers


def _grad(fn, args):
    """d fn(*args) / d args under the running backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        args = [tf.convert_to_tensor(a) for a in args]
        with tf.GradientTape() as tape:
            tape.watch(args)
            out = fn(*args)
        return [g.numpy() for g in tape.gradient(out, args)]
    if backend == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(fn, argnums=tuple(range(len(args))))(*args)]
    import torch

    args = [torch.tensor(a, requires_grad=True) for a in args]
    fn(*args).backward()
    return [a.grad.numpy() for a in args]


def _upstream(shape, rng):
    return (rng.integers(0, 129, shape) / 128.0).astype("float32")  # k/128: exact in bfloat16 and float16


def _error(grad, expected) -> float:
    grad = np.asarray(grad, np.float64).reshape(expected.shape)
    return float(np.max(np.abs(grad - expected)) / np.max(np.abs(expected)))


def layer_errors(policy: str) -> dict:
    import keras

    cases, precision, keras_layers = _cases()
    rng = np.random.default_rng(0)
    errors = {}
    for name, (shape, make) in cases.items():
        x = rng.uniform(-1, 1, shape).astype("float32")
        ours, plain = make(precision), make(keras_layers)
        for layer in (ours, plain):
            layer.dtype_policy = policy
            layer.build(shape)
        plain.set_weights(ours.get_weights())
        w = _upstream(ours.compute_output_shape(shape), rng)
        expected = w.astype(np.float64).reshape(-1, CHANNELS).sum(0)
        for label, layer in (("ours", ours), ("keras", plain)):
            def loss(kernel, bias, layer=layer):
                # The layer's own __call__ (stateless_call would skip the policy's casts), over these values.
                with keras.StatelessScope(state_mapping=list(zip(layer.trainable_variables, (kernel, bias)))):
                    y = layer(x)
                return keras.ops.sum(keras.ops.cast(y, "float32") * w)

            weights = [keras.ops.convert_to_numpy(v.value) for v in layer.trainable_variables]
            errors[f"{name} {label}"] = _error(_grad(loss, weights)[1], expected)
    x = np.ones((8, 4096, CHANNELS), "float32")
    w = _upstream(x.shape, rng)
    dtype = keras.dtype_policies.get(policy).compute_dtype

    def gated(g):
        return keras.ops.sum(keras.ops.cast(precision.gate(keras.ops.cast(x, dtype), g), "float32") * w)

    g = np.ones((8, 1, CHANNELS), "float32")
    errors["gate ours"] = _error(_grad(lambda g: gated(keras.ops.cast(g, dtype)), [g])[0],
                                 w.astype(np.float64).sum(1, keepdims=True))
    return errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    backend = active_backend()
    write_result(args.result, {"backend": backend, "errors": {p: layer_errors(p) for p in POLICIES}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
