"""The GPU the running Keras backend computes on, described in one line. Imports TensorFlow only under the
TensorFlow backend, so the JAX benchmarks can use it where TensorFlow is not installed."""

from __future__ import annotations

import keras


def gpu_description(index: int = 0) -> str | None:
    """"NVIDIA H200, compute capability 9.0" for the backend's GPU `index` (JAX's under `KERAS_BACKEND=jax`,
    else TensorFlow's), or None when it sees no such GPU."""
    if keras.backend.backend() == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if index >= len(gpus):
            return None
        cc = getattr(gpus[index], "compute_capability", None)
        return gpus[index].device_kind + (f", compute capability {cc}" if cc else "")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if index >= len(gpus):
        return None
    details = tf.config.experimental.get_device_details(gpus[index])
    cc = details.get("compute_capability")
    return details.get("device_name", "unknown GPU") + (f", compute capability {cc[0]}.{cc[1]}" if cc else "")
