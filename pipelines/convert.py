"""Runnable converter: A2D Sentences / J-HMDB Sentences → TFRecord shards (library: `acga_tf.data.convert`).

    python -m pipelines.convert a2d --root DATA/a2d_sentences --output DATA/a2d_tfrecords --workers 8
    python -m pipelines.convert jhmdb --root DATA/jhmdb_sentences --output DATA/jhmdb_tfrecords --frames metadata

The same as `acga prepare ...`.
"""

import sys

from acga_tf.data.convert import convert, main, prepare

__all__ = ["convert", "prepare", "main"]

if __name__ == "__main__":
    sys.exit(main())
