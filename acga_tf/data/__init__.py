"""Datasets: readers of A2D Sentences and J-HMDB Sentences, TFRecord schema, `tf.data` pipeline."""
