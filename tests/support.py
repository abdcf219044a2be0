"""Plain helpers shared by the tests (imported as `from support import ...`; tests/ is on `sys.path` because pytest
imports the rootdir-less test modules with its default "prepend" import mode). Fixtures live in conftest.py."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import socket

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# The tiny preset as the tests of training machinery train it (kill and resume, workers, replicas, refusals): S=32,
# batch 2, Mixed_4f and the head training, as the paper does, rather than all of I3D. What those tests check does not
# need the whole encoder to learn, and its gradients double the step's graph: a one-step `acga train` took 31 s
# against 18 s on a 2-core AVX2 host.
TRAINING_TINY = {"image_size": 32, "batch_size": 2, "i3d_trainable_from": "Mixed_4f"}
# The same model settings as `acga train` arguments (the batch goes with --batch-size).
TRAINING_TINY_SET = ("--set", f"image_size={TRAINING_TINY['image_size']}",
                     "--set", f"i3d_trainable_from={TRAINING_TINY['i3d_trainable_from']}")


MISSING = {
    "tensorflow": "TensorFlow is not installed (a dependency of acga-tf: pip install -e .)",
    "jax": "JAX is not installed: the JAX-backend tests need it (pip install -e '.[test]' or '.[jax]')",
    "torch": "PyTorch is not installed: the torch-backend tests need it (pip install -e '.[convert]')",
}


def installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None  # the backends' names are their modules' names


def require(*backends: str) -> None:
    """Skips the test, naming what to install, unless every backend in `backends` is installed."""
    for backend in backends:
        if not installed(backend):
            pytest.skip(MISSING[backend])


def jax_test_env(cache_directory) -> dict[str, str]:
    """Environment variables for the tests' JAX processes on a CPU, where compiling takes most of their time:

    - the persistent compilation cache in `cache_directory`, every compile kept (on a CPU a model build compiles each
      initializer shape, each quick but many);
    - the non-partitionable threefry (another random stream, same distributions), which compiles ~3x faster;
    - XLA's CPU code generated at LLVM optimisation level 0, after any `XLA_FLAGS` already set: the tests check what
      the programs compute, not how fast. Measured on a 2-core AVX2 host, benchmarks/gpu.py's tiny run took 82
      CPU-seconds instead of 143 (62 s instead of 95 s).

    A variable already set in this process' environment keeps its value (set `JAX_COMPILATION_CACHE_DIR` to keep a
    cache across runs).
    """
    defaults = {"JAX_COMPILATION_CACHE_DIR": str(cache_directory), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0", "JAX_THREEFRY_PARTITIONABLE": "0"}
    flags = " ".join(filter(None, [os.environ.get("XLA_FLAGS"), "--xla_backend_optimization_level=0"]))
    return {**{key: os.environ.get(key, value) for key, value in defaults.items()}, "XLA_FLAGS": flags}


def random_inputs(config, batch=2, seed=0):
    """Deterministic model inputs for `config`: video in [-1, 1], words with zero padding after 5 words."""
    rng = np.random.default_rng(seed)
    video = rng.uniform(-1, 1, (batch, config.clip_length, config.image_size, config.image_size,
                                config.input_channels)).astype("float32")
    words = rng.standard_normal((batch, config.sentence_length, config.word_dim)).astype("float32")
    words[:, 5:] = 0.0
    return {"video": video, "words": words}


def assert_one_line_error(err: str, *needles: str) -> str:
    """`err` (a command's stderr) holds one `acga ...` line, no traceback, and every needle in that line; returns it."""
    lines = [line for line in err.strip().splitlines() if line.startswith("acga ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def free_ports(n: int) -> list[int]:
    """`n` TCP ports of 127.0.0.1 free now (a cluster's addresses for TF_CONFIG)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()

