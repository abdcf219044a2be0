"""Fixtures of the reliability tests: a tiny prepared world of their own (tests here damage files)."""

import shutil

import pytest


@pytest.fixture
def world_copy(prepared_a2d, tmp_path):
    """A writable copy of the session's prepared shards: {"data", "train", "test"}."""
    data = tmp_path / "data"
    shutil.copytree(prepared_a2d["data"], data)
    return {"data": str(data), "train": str(data / "train-*.tfrecord"), "test": str(data / "test-*.tfrecord")}
