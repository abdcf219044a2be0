"""What the machine the running Keras backend computes on is and does: its GPU in one line, how much faster it
convolves in bfloat16 than in float32, and JAX's data parallelism over its devices; and the check that the backend is
TensorFlow where the model runs in graphs. Imports TensorFlow only under the TensorFlow backend, so the JAX benchmarks
can use it where TensorFlow is not installed."""

from __future__ import annotations

import functools
import os
import time

import keras
import numpy as np

# (input, kernel) shapes of the probe's convolutions: the demo decoder's 3x3 convs at S/2 and an I3D 3x3x3 conv.
_PROBE_CONVS = (((8, 64, 64, 32), (3, 3, 32, 32)), ((4, 4, 32, 32, 32), (3, 3, 3, 32, 32)))


def require_tensorflow_backend(what: str) -> None:
    """Refuses `what` unless Keras runs the TensorFlow backend: evaluation, prediction from a Keras run, the figures,
    the export and the demo run the model inside TensorFlow graphs (docs/training.md#backends).

    Raises:
        ValueError: another backend, named with the fix, on one line.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(f"{what} needs KERAS_BACKEND=tensorflow (the default), not {backend}: it runs the model in "
                         f"TensorFlow graphs; a run trained under {backend} loads there as it is "
                         "(docs/training.md#backends)")


def data_parallel():
    """`keras.distribution.DataParallel` over every device the backend computes on, under JAX where it sees more than
    one (docs/training.md#distribution); None otherwise: one device has nothing to split, TensorFlow trains under a
    `tf.distribute` strategy instead, and Keras' distribution API is JAX-only (PyTorch trains on one device).

    Each device gets an equal slice of every batch; the weights are replicated and their gradients summed across
    devices, so a step on N devices computes what one device computes on the whole batch (tested to rounding).
    """
    if keras.backend.backend() != "jax":
        return None
    devices = keras.distribution.list_devices()
    return keras.distribution.DataParallel(devices=devices) if len(devices) > 1 else None


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


@functools.cache
def bfloat16_speedup(repeats: int = 5) -> float:
    """float32's time over bfloat16's for the same convolutions on the backend's default device (> 1: bfloat16
    is faster), measured once per process in about 0.2 s on a 2-core CPU (docs/training.md#mixed-precision).

    On a CPU the answer depends on the host: 1.70 to 2.31 on the 2-core AMD EPYC development host under TensorFlow
    (0.88 under JAX), while issue 12 measured the paper forward pass at 0.65x float32's speed on a 2-core Intel host.
    The median of `repeats` timings of each, interleaved, after one untimed run.
    """
    rng = np.random.default_rng(0)
    inputs = {dtype: [tuple(keras.ops.convert_to_tensor(rng.normal(size=shape).astype("float32"), dtype=dtype)
                            for shape in pair) for pair in _PROBE_CONVS]
              for dtype in ("float32", "bfloat16")}
    times = {dtype: [] for dtype in inputs}
    for run in range(repeats + 1):
        for dtype, pairs in inputs.items():
            start = time.perf_counter()
            for x, kernel in pairs:
                keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, padding="same"))
            if run:
                times[dtype].append(time.perf_counter() - start)
    return float(np.median(times["float32"]) / np.median(times["bfloat16"]))


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its oneDNN CPU kernels in this process; None under another Keras backend or where
    TensorFlow does not say.

    TensorFlow decides once, when it loads: on by itself only on some CPUs, else as `TF_ENABLE_ONEDNN_OPTS` says,
    which `import acga_tf` sets to 1 when TensorFlow is not loaded yet (docs/training.md#cpu).
    """
    if keras.backend.backend() != "tensorflow":
        return None
    try:  # TensorFlow's own check (tensorflow/core/util/port.cc), not exported under tf.*
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def onednn_hint() -> str | None:
    """One line for a process whose TensorFlow left its oneDNN CPU kernels off although the user did not ask for
    that (TensorFlow was loaded before `acga_tf`) and computes on the CPU, else None (docs/training.md#cpu)."""
    if onednn_enabled() is not False or os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false"):
        return None
    if gpu_description() is not None:
        return None
    return ("TensorFlow's oneDNN CPU kernels are off in this process (TensorFlow was loaded before acga_tf, which "
            "turns them on): on an AVX2-only CPU the demo's training step then took 3.1x as long (2.36 s against "
            "0.75 s); import acga_tf before tensorflow or keras, or set TF_ENABLE_ONEDNN_OPTS=1 before Python starts")
