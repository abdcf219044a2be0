"""Runnable Apache Beam conversion (library: `acga_tf.data.beam`; needs `pip install 'acga-tf[beam]'`).

    python -m pipelines.beam a2d --root /shared/a2d_sentences --output /shared/a2d_tfrecords \
        --beam-option=--runner=FlinkRunner --beam-option=--flink_master=HOST:8081

Each `--beam-option` goes to Beam's PipelineOptions (DirectRunner when none is given). Input and output must be
folders every Beam worker sees (a shared file system: NFS, a mounted bucket). The same as
`acga prepare ... --runner beam`.
"""

import sys

from acga_tf.data.convert import DATASETS
from pipelines.convert import main


def run(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    explicit = any(a == "--runner" or a.startswith("--runner=") for a in argv)
    if not explicit and {"-h", "--help"} & set(argv):  # (the help below is `acga prepare`'s: "default: local")
        print("python -m pipelines.beam runs `acga prepare ... --runner beam`: its options follow, --runner beam "
              "given", file=sys.stderr)
    dataset = next((k for k, arg in enumerate(argv) if arg in DATASETS), None)  # after the dataset, whose option
    if not explicit and dataset is not None:  # it is (with no dataset, it was taken for the dataset given; a `-v`
        argv = [*argv[:dataset + 1], "--runner", "beam", *argv[dataset + 1:]]  # before it kept the local runner)
    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
