"""The same checks for every layer (keras-hub's test_case pattern): output shape, config JSON round trip,
`serialize_keras_object` round trip with equal outputs, and a mixed-precision call."""

import json

import keras
import numpy as np


def run_layer_checks(layer_factory, inputs: dict, expected_shapes: dict | tuple | None = None):
    """`layer_factory(dtype=None)` builds a fresh layer; `inputs` are its call kwargs (NumPy)."""
    layer = layer_factory()
    out = layer(**inputs)
    flat = out if isinstance(out, dict) else {"output": out}
    if expected_shapes is not None:
        want = expected_shapes if isinstance(expected_shapes, dict) else {"output": expected_shapes}
        for key, shape in want.items():
            assert tuple(flat[key].shape) == tuple(shape), (key, flat[key].shape, shape)
    # Config round trip through JSON and through serialize_keras_object: same outputs with the same weights.
    config = json.loads(json.dumps(layer.get_config()))
    clone = layer.__class__.from_config(config)
    clone(**inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(_first(clone(**inputs)), _first(out), atol=1e-5)
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(layer))))
    restored(**inputs)
    restored.set_weights(layer.get_weights())
    np.testing.assert_allclose(_first(restored(**inputs)), _first(out), atol=1e-5)
    # Mixed precision: the layer computes in bfloat16 and stays finite.
    mixed = layer_factory(dtype="mixed_bfloat16")
    mixed_out = _first(mixed(**inputs))
    assert np.all(np.isfinite(np.asarray(keras.ops.cast(mixed_out, "float32"))))
    return out


def _first(out):
    return np.asarray(keras.ops.cast(out[sorted(out)[0]] if isinstance(out, dict) else out, "float32"))
