"""One set of checks for every layer: keras-hub's `run_layer_test` (`keras_hub/src/tests/test_case.py`), for pytest.

`run_layer_test(SomeLayer, init_kwargs, input_data, expected_output_shape, expected_num_trainable_weights,
expected_num_non_trainable_weights)` runs, on fresh layers built from `init_kwargs`:

1. build: `layer.build(shapes)` alone creates every weight (so weights load before the first call), with the
   expected trainable / non-trainable counts;
2. symbolic call: on `keras.Input`s (batch `None`) and on `keras.KerasTensor`s (the batch of `input_data`), the
   `compute_output_spec` path, with the expected output structure, shapes and dtypes;
3. eager call: the expected output structure and shapes, float32 and finite outputs, and no weight created by `call`;
4. training step: a tiny `keras.Model` wrapping the layer, compiled with SGD + MSE on every output, one `fit` step
   toward random targets: the loss is finite, every trainable weight changes, and exactly
   `expected_num_updated_non_trainable_weights` non-trainable weights change (BatchNorm moving statistics);
5. config round trip: `get_config` → JSON → `from_config` gives the same config and, with `set_weights`, the same
   outputs (atol 1e-5); the same through `keras.saving.serialize_keras_object` / `deserialize_keras_object`;
6. `.keras` round trip: a functional model wrapping the layer, saved and loaded with `keras.saving.load_model`
   (no `custom_objects` for registered layers), gives the same outputs;
7. mixed precision (`mixed_bfloat16` and `mixed_float16` by default, the policies `ACGA(dtype=...)` takes): the
   outputs are in the compute dtype except `float32_outputs`, the symbolic dtypes match the eager ones, every output
   is finite, and the layer and every sublayer compute in the compute dtype with float32 variables.

Before checks 5 and 6 every weight is perturbed with seeded noise, so a weight that a round trip drops or mixes
up (a zero bias, a default BatchNorm statistic) changes the outputs.

`input_data` is one array (the layer is called as `layer(x)`) or a dict of arrays, the layer's call arguments by
name (`layer(**input_data)`). `expected_output_shape` is a shape tuple, or a dict of them with exactly the keys of the
layer's output dict. Every failure is an `AssertionError` that names the layer, the check and what differs.
"""

from __future__ import annotations

import inspect
import json
import os
import tempfile
import warnings

import keras
import numpy as np

__all__ = ["run_layer_test"]


def run_layer_test(layer_cls, init_kwargs: dict, input_data, expected_output_shape,
                   expected_num_trainable_weights: int, expected_num_non_trainable_weights: int, *,
                   expected_num_updated_non_trainable_weights: int = 0, float32_outputs=(),
                   run_training_check: bool = True, run_serialization_check: bool = True,
                   run_saving_check: bool = True, run_mixed_precision_check: bool = True,
                   mixed_precision_policies=("mixed_bfloat16", "mixed_float16"), custom_objects: dict | None = None,
                   seed: int = 0):
    """Runs the checks of the module docstring on `layer_cls(**init_kwargs)`.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments (without `dtype`).
        input_data: an array, or a dict of arrays passed as keyword arguments of `call`.
        expected_output_shape: a shape tuple, or a dict output name → shape tuple (all the output's keys).
        expected_num_trainable_weights, expected_num_non_trainable_weights: `len(layer.trainable_weights)` and
            `len(layer.non_trainable_weights)` once built.
        expected_num_updated_non_trainable_weights: how many non-trainable weights one training step changes.
        float32_outputs: output names that stay float32 under mixed precision (attention maps, logits).
        run_*_check: switch a check off (say why at the call site).
        mixed_precision_policies: the dtype policies of check 7.
        custom_objects: for `from_config` / `load_model` of layers that are not registered (private sublayers
            that only their parent's constructor creates); public layers must load without.
        seed: seed of the training targets and of the weight perturbation.

    Returns:
        the float32 eager outputs of check 3 (NumPy), for further assertions by the caller.

    Raises:
        AssertionError: naming the layer class, the check and the difference.
    """
    check = _Checker(layer_cls, init_kwargs, input_data, expected_output_shape, custom_objects)
    rng = np.random.default_rng(seed)
    check.build(expected_num_trainable_weights, expected_num_non_trainable_weights)
    check.symbolic_call(expected_num_trainable_weights, expected_num_non_trainable_weights)
    layer, outputs = check.eager_call(expected_num_trainable_weights, expected_num_non_trainable_weights)
    if run_training_check:
        check.training_step(layer, expected_num_updated_non_trainable_weights, rng)
    if run_serialization_check or run_saving_check:
        _perturb_weights(layer, rng)
        reference = _numpy(check.call(layer, input_data))
        if run_serialization_check:
            check.config_round_trip(layer, reference)
        if run_saving_check:
            check.saving_round_trip(layer, reference)
    if run_mixed_precision_check:
        for policy in mixed_precision_policies:
            check.mixed_precision(policy, tuple(float32_outputs))
    return outputs


class _Checker:
    """The checks of `run_layer_test`, sharing the layer class, its arguments and the expected outputs."""

    def __init__(self, layer_cls, init_kwargs, input_data, expected_output_shape, custom_objects):
        self.cls, self.kwargs, self.data = layer_cls, dict(init_kwargs), input_data
        self.custom_objects = custom_objects
        if "dtype" in self.kwargs:
            raise ValueError("run_layer_test: pass init_kwargs without 'dtype' (the mixed precision check sets it)")
        self.keyed = isinstance(expected_output_shape, dict)
        self.expected = ({k: tuple(v) for k, v in expected_output_shape.items()} if self.keyed
                         else {None: tuple(expected_output_shape)})

    # --- helpers ---
    def fail(self, check: str, message: str):
        raise AssertionError(f"{self.cls.__name__} [{check}]: {message}")

    def new(self, **extra):
        try:
            return self.cls(**self.kwargs, **extra)
        except Exception as e:  # re-raised with the arguments that failed
            raise AssertionError(f"{self.cls.__name__}(**{self.kwargs!r}, **{extra!r}) raised "
                                 f"{type(e).__name__}: {e}") from e

    @staticmethod
    def call(layer, data):
        return layer(**data) if isinstance(data, dict) else layer(data)

    def checked_call(self, check: str, layer, data):
        try:
            return self.call(layer, data)
        except Exception as e:
            self.fail(check, f"calling the layer raised {type(e).__name__}: {e}")

    def flat(self, check: str, outputs) -> dict:
        """The outputs as a dict keyed like `self.expected` (None for a single tensor)."""
        if self.keyed != isinstance(outputs, dict):
            self.fail(check, f"returned {type(outputs).__name__}, expected "
                             f"{'a dict with keys ' + str(sorted(self.expected)) if self.keyed else 'one tensor'}")
        if not self.keyed:
            return {None: outputs}
        if set(outputs) != set(self.expected):
            self.fail(check, f"output keys {sorted(outputs)}, expected {sorted(self.expected)}")
        return dict(outputs)

    def check_shapes(self, check: str, outputs: dict, batch):
        for key, want in self.expected.items():
            want = (batch,) + want[1:]
            got = tuple(outputs[key].shape)
            if got != want:
                self.fail(check, f"output {_name(key)} has shape {got}, expected {want}")

    def check_counts(self, check: str, layer, trainable: int, non_trainable: int):
        if not layer.built:
            self.fail(check, "layer.built is False")
        got = (len(layer.trainable_weights), len(layer.non_trainable_weights))
        if got != (trainable, non_trainable):
            self.fail(check, f"{got[0]} trainable and {got[1]} non-trainable weights, expected {trainable} and "
                             f"{non_trainable}; weights: {[w.path for w in layer.weights]}")

    def symbolic_inputs(self, batch_none: bool):
        def spec(name, x):
            x = np.asarray(x)
            if batch_none:
                return keras.Input(batch_shape=(None,) + x.shape[1:], dtype=str(x.dtype), name=name)
            return keras.KerasTensor(x.shape, dtype=str(x.dtype), name=name)

        if isinstance(self.data, dict):
            return {k: spec(k, v) for k, v in self.data.items()}
        return spec("x", self.data)

    # --- the checks ---
    def build(self, trainable: int, non_trainable: int):
        layer = self.new()
        shapes = ({f"{k}_shape": tuple(np.shape(v)) for k, v in self.data.items()} if isinstance(self.data, dict)
                  else {"input_shape": tuple(np.shape(self.data))})
        try:
            if len(shapes) == 1:  # Keras passes a single shape positionally, whatever build() names it
                layer.build(*shapes.values())
            else:
                layer.build(**shapes)
        except Exception as e:
            self.fail("build", f"layer.build({shapes}) raised {type(e).__name__}: {e}")
        self.check_counts("build", layer, trainable, non_trainable)

    def symbolic_call(self, trainable: int, non_trainable: int):
        batch = _batch(self.data)
        for batch_none in (True, False):
            check = "symbolic call, batch None" if batch_none else f"symbolic call, batch {batch}"
            layer = self.new()
            outputs = self.checked_call(check, layer, self.symbolic_inputs(batch_none))
            outputs = self.flat(check, outputs)
            self.check_shapes(check, outputs, None if batch_none else batch)
            for key, out in outputs.items():
                if keras.backend.standardize_dtype(out.dtype) != "float32":
                    self.fail(check, f"output {_name(key)} is {out.dtype}, expected float32")
            self.check_counts(check, layer, trainable, non_trainable)

    def eager_call(self, trainable: int, non_trainable: int):
        layer = self.new()
        outputs = self.flat("eager call", self.checked_call("eager call", layer, self.data))
        self.check_shapes("eager call", outputs, _batch(self.data))
        for key, out in outputs.items():
            if keras.backend.standardize_dtype(out.dtype) != "float32":
                self.fail("eager call", f"output {_name(key)} is {out.dtype}, expected float32")
            if not np.all(np.isfinite(keras.ops.convert_to_numpy(out))):
                self.fail("eager call", f"output {_name(key)} has non-finite values")
        self.check_counts("eager call (weights created in call, not build?)", layer, trainable, non_trainable)
        numpy_outputs = _numpy(outputs)
        return layer, (numpy_outputs if self.keyed else numpy_outputs[None])

    def training_step(self, layer, expected_updated: int, rng):
        model = _LayerModel(layer, name="layer_model")
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
        outputs = _numpy(self.flat("training step", self.call(layer, self.data)))
        targets = {k: rng.standard_normal(v.shape).astype("float32") for k, v in outputs.items()}
        y = targets if self.keyed else targets[None]
        trainable = [keras.ops.convert_to_numpy(w).copy() for w in layer.trainable_weights]
        frozen = [keras.ops.convert_to_numpy(w).copy() for w in layer.non_trainable_weights]
        with warnings.catch_warnings():  # a layer without weights still runs one compiled training step
            warnings.filterwarnings("ignore", "The model does not have any trainable weights")
            history = model.fit(self.data, y, batch_size=_batch(self.data), epochs=1, shuffle=False, verbose=0)
        loss = history.history["loss"][-1]
        if not np.isfinite(loss):
            self.fail("training step", f"loss is {loss}")
        unchanged = [w.path for w, before in zip(layer.trainable_weights, trainable)
                     if np.array_equal(keras.ops.convert_to_numpy(w), before)]
        if unchanged:
            self.fail("training step", f"{len(unchanged)} trainable weights did not change (no gradient?): "
                                       f"{unchanged}")
        updated = [w.path for w, before in zip(layer.non_trainable_weights, frozen)
                   if not np.array_equal(keras.ops.convert_to_numpy(w), before)]
        if len(updated) != expected_updated:
            self.fail("training step", f"{len(updated)} non-trainable weights changed, expected {expected_updated}: "
                                       f"{updated}")

    def config_round_trip(self, layer, reference: dict):
        config = layer.get_config()
        try:
            text = json.dumps(config, sort_keys=True)
        except TypeError as e:
            self.fail("config round trip", f"get_config() is not JSON-serializable: {e}; config: {config!r}")
        try:
            clone = self.cls.from_config(json.loads(text))
        except Exception as e:
            self.fail("config round trip", f"from_config(JSON of get_config()) raised {type(e).__name__}: {e}")
        revived = json.dumps(clone.get_config(), sort_keys=True)
        if revived != text:
            self.fail("config round trip", f"from_config(config).get_config() differs:\n{revived}\n!=\n{text}")
        self.same_outputs("config round trip", layer, clone, reference)

        serialized = json.dumps(keras.saving.serialize_keras_object(layer), sort_keys=True)
        try:
            restored = keras.saving.deserialize_keras_object(json.loads(serialized),
                                                             custom_objects=self.custom_objects)
        except Exception as e:
            self.fail("serialize_keras_object round trip", f"deserialize_keras_object raised {type(e).__name__}: {e} "
                                                           "(is the class registered?)")
        if type(restored) is not self.cls:
            self.fail("serialize_keras_object round trip", f"restored a {type(restored).__name__}")
        self.same_outputs("serialize_keras_object round trip", layer, restored, reference)

    def same_outputs(self, check: str, layer, clone, reference: dict):
        self.call(clone, self.data)  # builds it
        try:
            clone.set_weights(layer.get_weights())
        except Exception as e:
            self.fail(check, f"set_weights(original weights) raised {type(e).__name__}: {e}")
        self.compare(check, _numpy(self.flat(check, self.call(clone, self.data))), reference)

    def saving_round_trip(self, layer, reference: dict):
        inputs = self.symbolic_inputs(batch_none=True)
        model = keras.Model(inputs, self.call(layer, inputs), name=f"{layer.name}_model")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "layer.keras")
            model.save(path)
            try:
                loaded = keras.saving.load_model(path, custom_objects=self.custom_objects)
            except Exception as e:
                self.fail(".keras round trip", f"load_model raised {type(e).__name__}: {e}")
        restored = loaded.get_layer(layer.name)
        if type(restored) is not self.cls:
            self.fail(".keras round trip", f"the loaded model's layer {layer.name!r} is a {type(restored).__name__}")
        self.compare(".keras round trip", _numpy(self.flat(".keras round trip", loaded(self.data))), reference)

    def compare(self, check: str, got: dict, reference: dict, atol: float = 1e-5):
        for key, want in reference.items():
            if got[key].shape != want.shape or not np.allclose(got[key], want, atol=atol, rtol=0):
                diff = (np.max(np.abs(got[key] - want)) if got[key].shape == want.shape
                        else f"shape {got[key].shape} != {want.shape}")
                self.fail(check, f"output {_name(key)} differs from the original layer's (max |diff| {diff}, "
                                 f"atol {atol})")

    def mixed_precision(self, policy_name: str, float32_outputs: tuple):
        check = f"mixed precision {policy_name}"
        policy = keras.dtype_policies.get(policy_name)
        unknown = set(float32_outputs) - set(self.expected)
        if unknown:
            raise ValueError(f"run_layer_test: float32_outputs {sorted(unknown)} are not outputs of the layer")
        layer = self.new(dtype=policy_name)
        eager = self.flat(check, self.checked_call(check, layer, self.data))
        symbolic = self.flat(check + ", symbolic",
                             self.checked_call(check + ", symbolic", self.new(dtype=policy_name),
                                               self.symbolic_inputs(True)))
        if (layer.compute_dtype, layer.variable_dtype) != (policy.compute_dtype, policy.variable_dtype):
            self.fail(check, f"layer computes in {layer.compute_dtype} with {layer.variable_dtype} variables")
        for key, out in eager.items():
            want = "float32" if key in float32_outputs else policy.compute_dtype
            got = keras.backend.standardize_dtype(out.dtype)
            if got != want:
                self.fail(check, f"output {_name(key)} is {got}, expected {want}")
            spec = keras.backend.standardize_dtype(symbolic[key].dtype)
            if spec != got:
                self.fail(check, f"output {_name(key)} is {got} when called eagerly but {spec} symbolically "
                                 "(compute_output_shape/compute_output_spec disagree with call)")
            values = keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))
            if not np.all(np.isfinite(values)):
                self.fail(check, f"output {_name(key)} has non-finite values")
        # A sublayer kept in float32 on purpose says why in `float32_reason` (Unit3D's convs that TensorFlow's
        # bfloat16 kernel gradient gets wrong).
        off = [f"{sub.name} ({type(sub).__name__}: {sub.dtype_policy.name})"
               for sub in layer._flatten_layers(include_self=False)
               if (sub.compute_dtype, sub.variable_dtype) != (policy.compute_dtype, policy.variable_dtype)
               and not (sub.compute_dtype == "float32" and getattr(sub, "float32_reason", None))]
        if off:
            self.fail(check, f"sublayers without the layer's dtype policy (pass dtype=self.dtype_policy): {off}")
        wrong = [f"{w.path}: {w.dtype}" for w in layer.weights
                 if _is_float(w.dtype) and keras.backend.standardize_dtype(w.dtype) != policy.variable_dtype]
        if wrong:
            self.fail(check, f"weights not in {policy.variable_dtype}: {wrong}")

class _LayerModel(keras.Model):
    """The model of the training step: calls the layer on the input array or on the dict of call arguments."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def call(self, inputs, training=None):
        # `training` must be in the signature: Keras only hands training=True down (BatchNorm in training mode,
        # moving statistics updated) through call() methods that take it. Layers without it get it from the
        # call context.
        if isinstance(inputs, dict):
            return self.layer(**inputs, training=training) if _takes_training(self.layer) else self.layer(**inputs)
        return self.layer(inputs, training=training) if _takes_training(self.layer) else self.layer(inputs)


def _takes_training(layer) -> bool:
    return "training" in inspect.signature(layer.call).parameters


def _perturb_weights(layer, rng):
    """Adds seeded noise to every weight (variances stay positive), so that no weight keeps its initial value."""
    for w in layer.weights:
        if not _is_float(w.dtype):
            continue
        value = keras.ops.convert_to_numpy(w).astype("float64")
        noise = rng.normal(0.0, 0.1, value.shape)
        value = np.abs(value + noise) + 0.05 if "variance" in w.path else value + noise
        w.assign(value.astype(keras.backend.standardize_dtype(w.dtype)))


def _numpy(outputs) -> dict:
    flat = outputs if isinstance(outputs, dict) else {None: outputs}
    return {k: keras.ops.convert_to_numpy(keras.ops.cast(v, "float32")) for k, v in flat.items()}


def _batch(data) -> int:
    first = next(iter(data.values())) if isinstance(data, dict) else data
    return int(np.shape(first)[0])


def _is_float(dtype) -> bool:
    return keras.backend.standardize_dtype(dtype).startswith(("float", "bfloat"))


def _name(key) -> str:
    return "(the only one)" if key is None else repr(key)
