"""Datasets: readers of A2D Sentences and J-HMDB Sentences, the TFRecord schema, converters and the `tf.data`
pipeline (docs/data.md)."""

from acga_tf.data.datasets import make_dataset

__all__ = ["make_dataset"]
