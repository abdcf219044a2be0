"""Plain helpers shared by the tests (imported as `from support import ...`; tests/ is on `sys.path` because pytest
imports the rootdir-less test modules with its default "prepend" import mode). Fixtures live in conftest.py."""

from __future__ import annotations

import pathlib

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def jax_compile_cache(directory) -> dict[str, str]:
    """Environment variables for a JAX process to read and write the persistent compilation cache in `directory`,
    every compile kept (on a CPU a model build compiles each initializer shape, each quick but many)."""
    return {"JAX_COMPILATION_CACHE_DIR": str(directory), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def random_inputs(config, batch=2, seed=0):
    """Deterministic model inputs for `config`: video in [-1, 1], words with zero padding after 5 words."""
    rng = np.random.default_rng(seed)
    video = rng.uniform(-1, 1, (batch, config.clip_length, config.image_size, config.image_size,
                                config.input_channels)).astype("float32")
    words = rng.standard_normal((batch, config.sentence_length, config.word_dim)).astype("float32")
    words[:, 5:] = 0.0
    return {"video": video, "words": words}
