"""The device the Keras backend computes on, for the layers that run an operation in the form that is fastest there
(docs/model.md#forms-per-device): the same sums over the same variables in every form."""

from __future__ import annotations

import keras


def on_gpu() -> bool:
    """Whether the Keras backend computes on a GPU (`keras.distribution.list_devices` lists GPUs first). False
    under backends without `keras.distribution` (PyTorch): they keep the forms a CPU runs, right on every device."""
    try:
        devices = keras.distribution.list_devices()
    except AttributeError:  # keras.src.backend.distribution_lib is None under the torch backend
        return False
    return any(d.lower().startswith("gpu") for d in devices)
