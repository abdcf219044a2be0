"""Where a benchmark ran: Keras backend and versions, the device, and the host (CPU model, usable cores).

Every benchmark prints these lines with its figures (`environment_lines`), so a number is never quoted without
the machine it came from. Run alone to see them:

    python benchmarks/hostinfo.py                   # backend, CPU device, host
    python benchmarks/hostinfo.py --device GPU      # fails (exit 1) where TensorFlow sees no GPU
    KERAS_BACKEND=jax python benchmarks/hostinfo.py --device GPU   # the same through JAX (no TensorFlow imported)

Under `KERAS_BACKEND=jax` nothing here imports TensorFlow: the device is JAX's (`jax_device`).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

from acga_tf.ops.provenance import cpu_features  # (only the standard library: no backend is chosen)

__all__ = ["cores", "cpu_features", "cpu_model", "device_description", "environment_lines", "jax_device",
           "on_the_cpu", "require_device", "thread_settings"]


def cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's share), not the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo ("model name" on x86; "Model" / "Hardware" / "CPU part" on ARM), else
    what `platform` knows."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and value.strip():
                    fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    for key in ("model name", "Model", "Hardware", "cpu model", "CPU part"):
        if key in fields:
            return fields[key]
    return platform.processor() or platform.machine() or "unknown CPU"


def thread_settings() -> str:
    """The thread settings TensorFlow reads from the environment, where set ("TF_NUM_INTRAOP_THREADS=1"), else
    TensorFlow's default; and the settings made through `tf.config.threading`, where made."""
    set_in_env = [f"{name}={os.environ[name]}" for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                                                           "OMP_NUM_THREADS") if os.environ.get(name)]
    import tensorflow as tf

    configured = [f"{what} {n}" for what, n in (("intra-op", tf.config.threading.get_intra_op_parallelism_threads()),
                                                ("inter-op", tf.config.threading.get_inter_op_parallelism_threads()))
                  if n]
    return ", ".join(set_in_env + configured) or "TF default (one per usable core)"


def jax_device(kind: str):
    """The first JAX device of `kind` ("cpu" or "gpu", any case).

    Raises:
        SystemExit: JAX has no such device (`jax.devices("gpu")` raises where no GPU backend is installed).
    """
    import jax

    try:
        return jax.devices(kind.lower())[0]
    except RuntimeError:
        seen = ", ".join(str(d) for d in jax.devices()) or "none"
        raise SystemExit(f"error: JAX sees no {kind.upper()} device (it sees: {seen})") from None


def add_trainable_from(parser) -> None:
    """The `--trainable-from` option that `preset_config` reads."""
    parser.add_argument("--trainable-from", default=None,
                        help="override the preset's i3d_trainable_from (e.g. Mixed_4f, the paper's: fewer gradients "
                             "to trace and compile)")


def preset_config(args):
    """The `ACGAConfig` of `args.preset` with the overrides the script's arguments give: `--image-size`,
    `--trainable-from` and `--attention-init-std`, where the script has them and they are set.

    Raises:
        SystemExit: a bad preset or override (one line).
    """
    from acga_tf.models.config import ACGAConfig

    overrides = {field: getattr(args, name, None) for field, name in (
        ("image_size", "image_size"), ("i3d_trainable_from", "trainable_from"),
        ("attention_init_std", "attention_init_std"))}
    try:
        return ACGAConfig.preset(args.preset, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None


def jax_start(args, script: str, header: str):
    """The start of a JAX-only script (`gpu.py`, `gpu_learning.py`): checks `KERAS_BACKEND=jax`, picks the
    `--device`, builds the `ACGAConfig` of `--preset` with `--image-size` / `--trainable-from` (and
    `--attention-init-std` where the script has it), prints `header` after the preset's sizes and the environment
    lines. Returns `(device, config)`.

    Raises:
        SystemExit: another backend, no such device, or a bad preset or override (one line).
    """
    import keras

    if keras.backend.backend() != "jax":
        raise SystemExit(f"error: {script} runs under KERAS_BACKEND=jax (running {keras.backend.backend()}); see "
                         "benchmarks/README.md")
    device = jax_device(args.device)
    config = preset_config(args)
    print(f"preset={args.preset} T={config.clip_length} S={config.image_size} device={device.platform}:{device.id} "
          f"{header} trainable_from={config.i3d_trainable_from} attention_init_std={config.attention_init_std:g}")
    for line in environment_lines(f"{device.platform.upper()}:{device.id}"):
        print(line)
    return device, config


def tensorflow_free_exit() -> int:
    """Prints whether `tensorflow` was imported and returns the exit status: 1 if it was (the JAX scripts must run
    where TensorFlow is not installed)."""
    imported = "tensorflow" in sys.modules
    print(f"tensorflow imported: {'yes' if imported else 'no'}")
    return 1 if imported else 0


def require_device(kind: str) -> str:
    """The first logical device of `kind` ("CPU" or "GPU") of the Keras backend, as "GPU:0" (TensorFlow's or,
    under `KERAS_BACKEND=jax`, JAX's).

    Raises:
        SystemExit: the backend sees no such device (TensorFlow would otherwise place the work on the CPU silently).
    """
    if _backend() == "jax":
        device = jax_device(kind)
        return f"{device.platform.upper()}:{device.id}"
    import tensorflow as tf

    devices = tf.config.list_logical_devices(kind.upper())
    if not devices:
        seen = ", ".join(d.name for d in tf.config.list_logical_devices()) or "none"
        raise SystemExit(f"error: TensorFlow sees no {kind.upper()} device (it sees: {seen})")
    return devices[0].name.split("device:")[-1]


def _backend() -> str:
    import keras

    return keras.backend.backend()


def on_the_cpu() -> str:
    """Keeps this process's work on the host CPU under the running backend, and returns "CPU:0", for a CPU
    benchmark's `environment_lines`: where a GPU is visible, TensorFlow and JAX place the work on it, and the figures
    were labelled CPU:0 (a benchmark reviewer's reading of jit.py, precision.py and onednn.py).

    Raises:
        SystemExit: TensorFlow's devices were set up in this process already with a GPU among them.
    """
    if _backend() == "jax":
        import jax

        jax.config.update("jax_default_device", jax.devices("cpu")[0])
        return "CPU:0"
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # (TensorFlow's devices are set up once a process)
        if tf.config.list_logical_devices("GPU"):
            raise SystemExit("error: TensorFlow uses a GPU in this process already; run this CPU benchmark with "
                             "CUDA_VISIBLE_DEVICES= set empty") from None
    return "CPU:0"


def device_description(device: str = "CPU:0") -> str:
    """"GPU:0 (NVIDIA H200, compute capability 9.0)" or "CPU:0 (the host CPU, N cores)"."""
    kind, _, index = device.upper().partition(":")
    if kind == "GPU":
        from acga_tf.ops.devices import gpu_description  # imports Keras: after the scripts set KERAS_BACKEND

        description = gpu_description(int(index or 0))
        seen_by = "JAX" if _backend() == "jax" else "TensorFlow"
        return f"{device} ({description})" if description else f"{device} (not visible to {seen_by})"
    return f"{device} (the host CPU, {cores()} core{'s' * (cores() != 1)})"


def environment_lines(device: str = "CPU:0", onednn: str | None = None) -> list[str]:
    """Three lines to print with a benchmark's figures: backend, device, host. `onednn` says what the oneDNN setting
    is where this process's own is not the one timed (onednn.py's processes each set theirs)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax
        import jaxlib

        backend = (f"backend: Keras {keras.__version__} on jax, JAX {jax.__version__} (jaxlib {jaxlib.__version__}), "
                   f"Python {platform.python_version()}; XLA_FLAGS: {os.environ.get('XLA_FLAGS', 'none')}")
    else:
        import tensorflow as tf

        from acga_tf.ops.devices import onednn_enabled

        onednn = onednn or {True: "on", False: "off", None: "unknown"}[onednn_enabled()]
        backend = (f"backend: Keras {keras.__version__} on {keras.backend.backend()}, TensorFlow {tf.__version__}, "
                   f"Python {platform.python_version()}; threads: {thread_settings()}; oneDNN CPU kernels: {onednn}")
    features = cpu_features()
    n = cores()
    host = (f"host: {cpu_model()}{f' ({features})' if features else ''}, {n} usable core{'s' * (n != 1)} (of "
            f"{os.cpu_count()}), {platform.system()} {platform.machine()}")
    return [backend, f"device: {device_description(device)}", host]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="CPU", choices=("CPU", "GPU"), help="the device to describe")
    args = parser.parse_args(argv)
    for line in environment_lines(require_device(args.device)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
