"""tests/layer_test_case.py itself: a correct toy layer passes every check, and each way of breaking a layer that the
harness exists to catch fails with a message naming the layer and the check (a harness that cannot fail tests
nothing)."""

import keras
import numpy as np
import pytest
from layer_test_case import run_layer_test

X = np.random.default_rng(0).standard_normal((2, 5, 4)).astype("float32")


@keras.saving.register_keras_serializable(package="acga_tf_tests")
class Projection(keras.layers.Layer):
    """A Dense sublayer, the keras-hub way: sublayer in __init__, built in build(), config = constructor args."""

    def __init__(self, units: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = keras.layers.Dense(units, dtype=self.dtype_policy, name="dense")

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, x):
        return self.dense(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="acga_tf_tests")
class BuildsInCall(Projection):
    def build(self, input_shape):
        pass  # the Dense builds itself on the first call


@keras.saving.register_keras_serializable(package="acga_tf_tests")
class WrongOutputShape(Projection):
    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units + 1,)


@keras.saving.register_keras_serializable(package="acga_tf_tests")
class ForgetsUnits(Projection):
    def get_config(self):
        return keras.layers.Layer.get_config(self)


class Unregistered(Projection):
    pass


@keras.saving.register_keras_serializable(package="acga_tf_tests")
class UnusedWeight(Projection):
    def build(self, input_shape):
        super().build(input_shape)
        self.unused = self.add_weight(shape=(2,), initializer="ones", name="unused")


@keras.saving.register_keras_serializable(package="acga_tf_tests")
class SublayerWithoutPolicy(Projection):
    """Outputs in the compute dtype, but its Dense computes in float32 (as InceptionBlock's _Branch layers)."""

    def __init__(self, units: int = 3, **kwargs):
        super().__init__(units, **kwargs)
        self.dense = keras.layers.Dense(units, name="dense")

    def call(self, x):
        return keras.ops.cast(self.dense(x), self.compute_dtype)


def _run(cls, **overrides):
    args = dict(expected_output_shape=(2, 5, 5), expected_num_trainable_weights=2,
                expected_num_non_trainable_weights=0)
    args.update(overrides)
    return run_layer_test(cls, dict(units=5), X, **args)


def test_a_correct_layer_passes_every_check():
    out = _run(Projection)
    assert out.shape == (2, 5, 5) and out.dtype == np.float32


@pytest.mark.parametrize("cls, overrides, match", [
    (Projection, dict(expected_output_shape=(2, 5, 6)),
     r"Projection \[symbolic call, batch None\]: output .* has shape \(None, 5, 5\), expected \(None, 5, 6\)"),
    (Projection, dict(expected_output_shape={"a": (2, 5, 5)}), r"Projection \[.*\]: returned .*, expected a dict"),
    (Projection, dict(expected_num_trainable_weights=3), r"Projection \[build\]: 2 trainable .* expected 3"),
    (BuildsInCall, {}, r"BuildsInCall \[build\]: 0 trainable and 0 non-trainable weights, expected 2 and 0"),
    (WrongOutputShape, {}, r"WrongOutputShape \[symbolic call, batch None\]: output .* has shape \(None, 5, 6\)"),
    (UnusedWeight, dict(expected_num_trainable_weights=3),
     r"UnusedWeight \[training step\]: 1 trainable weights did not change .*unused"),
    (ForgetsUnits, {}, r"ForgetsUnits \[config round trip\]: set_weights\(original weights\) raised"),
    (Unregistered, {}, r"Unregistered \[serialize_keras_object round trip\]: .*is the class registered"),
    (Unregistered, dict(run_serialization_check=False), r"Unregistered \[\.keras round trip\]: load_model raised"),
    (SublayerWithoutPolicy, {}, r"SublayerWithoutPolicy \[mixed precision mixed_bfloat16\]: sublayers without the "
                                r"layer's dtype policy .*dense \(Dense: float32\)"),
])
@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # UnusedWeight: on purpose
def test_a_broken_layer_fails_naming_the_layer_and_the_check(cls, overrides, match):
    with pytest.raises(AssertionError, match=match):
        _run(cls, **overrides)


def test_moving_statistics_updates_are_counted():
    bn = dict(expected_output_shape=(2, 5, 4), expected_num_trainable_weights=2, expected_num_non_trainable_weights=2,
              run_serialization_check=False, run_saving_check=False, run_mixed_precision_check=False)
    run_layer_test(keras.layers.BatchNormalization, {}, X, expected_num_updated_non_trainable_weights=2, **bn)
    with pytest.raises(AssertionError, match=r"\[training step\]: 2 non-trainable weights changed, expected 0"):
        run_layer_test(keras.layers.BatchNormalization, {}, X, **bn)
