"""Shared by the backend programs (`tests/backend_programs/*.py`), each of which runs in its own process with the
Keras backend chosen by the `KERAS_BACKEND` environment variable (tests/test_backends.py starts them). Nothing here
imports Keras before the program asks for it, and nothing here picks the backend: the environment does.
"""

from __future__ import annotations

import json
import os
import zlib

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def active_backend() -> str:
    """The Keras backend in use, checked against `KERAS_BACKEND` (a mismatch means the variable was ignored)."""
    import keras

    backend = keras.backend.backend()
    wanted = os.environ.get("KERAS_BACKEND")
    if wanted and wanted != backend:
        raise SystemExit(f"KERAS_BACKEND={wanted!r} but Keras runs {backend!r}")
    return backend


def write_result(path: str, result: dict) -> None:
    """Writes the program's JSON result (what the test asserts on) and echoes it on stdout."""
    text = json.dumps(result, indent=2, sort_keys=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(text)


def reference_weights(spec: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """The parity fixture's weights, rebuilt with the rule in shared/fixtures/reference/README.md (also used by
    tests/test_weights.py)."""
    state = {}
    for p in spec["parameters"]:
        name, shape = p["name"], tuple(p["shape"])
        z = np.random.default_rng(zlib.crc32(name.encode()) + spec["seed"]).standard_normal(shape)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            v = 1.0 + 0.1 * np.abs(z)
        elif leaf in ("running_mean", "bias"):
            v = 0.1 * z
        elif leaf == "weight" and len(shape) == 1:
            v = 1.0 + 0.1 * z
        elif name.startswith("deconv_") and name.endswith(".0.weight"):
            v = z * np.sqrt(1 / (shape[0] * 8 * 8 / 16))
        else:
            v = z * np.sqrt(1 / np.prod(shape[1:]))
        state[prefix + name] = v.astype(np.float32)
    return state
