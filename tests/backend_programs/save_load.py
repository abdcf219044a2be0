"""Cross-backend `.keras` files: a model saved under one Keras backend, loaded under another.

    KERAS_BACKEND=torch python -m tests.backend_programs.save_load DIR [DIR ...] --result RESULT.json

Each DIR holds `model.keras` and `reference.npz` (the inputs and the outputs computed under the saving backend),
written by `save_with_reference` (tests/backend_programs/parity.py saves the parity model that way, its weights
being the reference's, BatchNorm statistics included). This program loads each DIR's model under its own backend,
runs it on the same inputs and records the largest difference from the saved outputs.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from tests.backend_programs.common import active_backend, write_result

MODEL_FILE = "model.keras"
REFERENCE_FILE = "reference.npz"


def predict(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's outputs as NumPy arrays (`predict`: a tf.function under TensorFlow, jitted under JAX)."""
    batch = len(next(iter(inputs.values())))
    return {k: np.asarray(v) for k, v in model.predict(inputs, batch_size=batch, verbose=0).items()}


def save_with_reference(model, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray], directory: str,
                        backend: str) -> None:
    """Writes `model.keras` and `reference.npz` (inputs, the saving backend's outputs and its name) to
    `directory`."""
    os.makedirs(directory, exist_ok=True)
    model.save(os.path.join(directory, MODEL_FILE))
    arrays = {f"input/{k}": v for k, v in inputs.items()}
    arrays.update({f"output/{k}": v for k, v in outputs.items()})
    np.savez(os.path.join(directory, REFERENCE_FILE), backend=np.array(backend), **arrays)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", required=True, help="where the JSON result goes")
    parser.add_argument("dirs", nargs="+")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    backend = active_backend()
    import keras

    from acga_tf import ACGA  # registers the model's classes for deserialisation (`import acga_tf` alone does not)

    loaded = {}
    for directory in args.dirs:
        t = time.perf_counter()
        reference = np.load(os.path.join(directory, REFERENCE_FILE))
        model = keras.saving.load_model(os.path.join(directory, MODEL_FILE))
        inputs = {k[len("input/"):]: reference[k] for k in reference.files if k.startswith("input/")}
        expected = {k[len("output/"):]: reference[k] for k in reference.files if k.startswith("output/")}
        outs = predict(model, inputs)
        loaded[str(reference["backend"])] = {
            "dir": directory,
            "class": type(model).__name__,
            "is_acga": isinstance(model, ACGA),
            "weights": len(model.weights),
            "output_keys": sorted(outs),
            "outputs_max_abs_diff": {k: float(np.max(np.abs(outs[k] - v))) for k, v in expected.items() if k in outs},
            "outputs_max_abs": {k: float(np.max(np.abs(v))) for k, v in expected.items()},
            "seconds": round(time.perf_counter() - t, 2),
        }
        del model
    write_result(args.result, {"backend": backend, "loaded": loaded, "seconds": round(time.perf_counter() - start, 2)})


if __name__ == "__main__":
    main()
