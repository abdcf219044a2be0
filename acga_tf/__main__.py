"""The `acga` command and `python -m acga_tf`: `main` runs the command line (`acga_tf.cli`) as a script, since nothing
imports the command line (docs/architecture.md).

`acga --version` answers here, without loading the command line, which loads TensorFlow (about 7 s on a 2-core CPU).
"""

import runpy
import sys

from acga_tf import __version__


def main() -> None:
    """Runs the `acga` command with `sys.argv`; ends the process with its exit status."""
    if sys.argv[1:2] == ["--version"]:  # argparse's answer (`acga_tf.cli`), without TensorFlow
        print(f"acga-tf {__version__}")
        sys.exit(0)
    runpy.run_module("acga_tf.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
