"""Shared test fixtures: paths to ../shared and small deterministic inputs."""

import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the project's shared fixtures) is not next to the checkout")
    return SHARED


def random_inputs(config, batch=2, seed=0):
    """Deterministic model inputs for `config`: video in [-1, 1], words with zero padding after 5 words."""
    rng = np.random.default_rng(seed)
    video = rng.uniform(-1, 1, (batch, config.clip_length, config.image_size, config.image_size,
                                config.input_channels)).astype("float32")
    words = rng.standard_normal((batch, config.sentence_length, config.word_dim)).astype("float32")
    words[:, 5:] = 0.0
    return {"video": video, "words": words}


@pytest.fixture(scope="session")
def prepared_a2d(tmp_path_factory) -> dict:
    """A small synthetic A2D Sentences world (6 videos) converted with `prepare`: {"root", "data", "train", "test",
    "summary"}, "train"/"test" being shard globs. Shared by the training, evaluation and notebook tests."""
    from acga_tf.data.convert import prepare
    from acga_tf.data.synthetic import write_a2d_world

    base = tmp_path_factory.mktemp("prepared_a2d")
    summary = write_a2d_world(str(base / "a2d_sentences"), n_videos=6, seed=1)
    prepare("a2d", str(base / "a2d_sentences"), str(base / "data"), progress=False)
    return {"root": str(base / "a2d_sentences"), "data": str(base / "data"),
            "train": str(base / "data" / "train-*.tfrecord"), "test": str(base / "data" / "test-*.tfrecord"),
            "summary": summary}
