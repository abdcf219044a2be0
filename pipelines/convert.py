"""Runnable converter: A2D Sentences / J-HMDB Sentences → TFRecord shards (library: `acga_tf.data.convert`).

    python -m pipelines.convert a2d --root DATA/a2d_sentences --output DATA/a2d_tfrecords --workers 8
    python -m pipelines.convert jhmdb --root DATA/jhmdb_sentences --output DATA/jhmdb_tfrecords --frames metadata

It runs `acga prepare ...` (the same options, messages and exit statuses: one line for an error, what is kept at a
Ctrl-C or SIGTERM).
"""

import sys

from acga_tf.cli import main as acga_main
from acga_tf.data.convert import convert, make_pool, prepare

__all__ = ["convert", "make_pool", "prepare", "main"]


def main(argv=None) -> int:
    return acga_main(["prepare", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
