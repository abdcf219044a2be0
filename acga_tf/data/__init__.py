"""Datasets: readers of A2D Sentences and J-HMDB Sentences, TFRecord schema, `tf.data` pipeline."""

from typing import Any

__all__ = ["make_dataset"]


def __getattr__(name: str) -> Any:
    # Lazy: the readers and converters import `acga_tf.data.*` without paying for TensorFlow's import.
    if name == "make_dataset":
        from acga_tf.data.datasets import make_dataset

        return make_dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
