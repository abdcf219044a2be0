"""Runnable Apache Beam conversion (library: `acga_tf.data.beam`; needs `pip install 'acga-tf[beam]'`).

    python -m pipelines.beam a2d --root /shared/a2d_sentences --output /shared/a2d_tfrecords \
        --beam-option=--runner=FlinkRunner --beam-option=--flink_master=HOST:8081

Each `--beam-option` goes to Beam's PipelineOptions (DirectRunner when none is given). Input and output must be
folders every Beam worker sees (a shared file system: NFS, a mounted bucket). The same as
`acga prepare ... --runner beam`.
"""

import sys

from pipelines.convert import main


def run(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    explicit = any(a == "--runner" or a.startswith("--runner=") for a in argv)
    if not explicit and argv and not argv[0].startswith("-"):  # after the dataset, whose options it is (before
        argv = [argv[0], "--runner", "beam", *argv[1:]]  # it, with no dataset, it was named as the dataset given)
    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
