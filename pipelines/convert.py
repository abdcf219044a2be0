"""Runnable converter: A2D Sentences / J-HMDB Sentences → TFRecord shards (library: `acga_tf.data.convert`).

    python -m pipelines.convert a2d --root DATA/a2d_sentences --output DATA/a2d_tfrecords --workers 8
    python -m pipelines.convert jhmdb --root DATA/jhmdb_sentences --output DATA/jhmdb_tfrecords --frames metadata

The same options as `acga prepare ...` (both come from `acga_tf.data.convert.add_prepare_arguments`).
"""

import argparse
import sys

from acga_tf.ops import native_log

# First, as the `acga` command does: the imports below load TensorFlow, whose start-up lines would reach stderr.
native_log.import_tensorflow_quietly()

from acga_tf.data.convert import (
    add_prepare_arguments,
    convert,
    make_pool,
    prepare,
    prepare_from_args,
)
from acga_tf.data.types import DataError

__all__ = ["convert", "make_pool", "prepare", "main"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.convert", description=__doc__.splitlines()[0])
    add_prepare_arguments(parser)
    args = parser.parse_args(argv)
    try:
        for line in prepare_from_args(args):
            print(line)
    except (DataError, ValueError, FileNotFoundError, ImportError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
