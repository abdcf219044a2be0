"""The `acga` command and `python -m acga_tf`: `main` runs the command line (`acga_tf.cli`) as a script, since nothing
imports the command line (docs/architecture.md).

`acga --version`, `acga` alone and the help (`acga --help`, `acga <command> -h`, `acga prepare a2d --help`) answer
here, without loading the command line, which loads TensorFlow (about 7 s on a 2-core CPU): its parser, with each
command's options, is `command_options.py`'s, free of TensorFlow. The help runs nothing, so it answers before the
command line's checks of the environment (a KERAS_BACKEND that cannot load, a umask the commands refuse).
A start-up that the process's limits stop (no writable temporary folder, `ulimit -v` too low to load TensorFlow or
FFmpeg) is one line here too (`ops/limits.py`).
"""

import contextlib
import io
import runpy
import sys

from acga_tf import __version__, command_options
from acga_tf.ops import command_line, limits


def main() -> None:
    """Runs the `acga` command with `sys.argv`; ends the process with its exit status."""
    limits.open_closed_standard_streams()  # first: before any file is opened, which would take a closed one's number
    help_asked = bool({"-h", "--help"} & set(sys.argv[1:]))
    if sys.argv[1:2] == ["--version"] or not sys.argv[1:] or help_asked:  # the command line's answers
        if sys.stdout is None:  # (`acga --version >&-` answered nothing, with status 0)
            print(f"acga: error: {limits.CLOSED_STDOUT}", file=sys.stderr)
            sys.exit(2)
        if sys.argv[1:2] == ["--version"]:  # (argparse's answer, and whatever follows it)
            print(f"acga-tf {__version__}")
            sys.exit(0)
        if not sys.argv[1:]:
            command_line.top_parser()[0].parse_args([])  # "the following arguments are required"
        _help(sys.argv[1:])
    if (problem := limits.temporary_folder_problem() or limits.too_little_to_start()) is not None:  # before loading
        print(f"acga: error: {problem}", file=sys.stderr)
        sys.exit(2)
    if (warning := limits.temporary_folder_warning()) is not None:
        print(f"acga: warning: {warning}", file=sys.stderr)
    try:
        runpy.run_module("acga_tf.cli", run_name="__main__", alter_sys=True)
    except (ImportError, MemoryError, OSError) as e:  # the command's own errors are reported by it: these come from
        # loading its libraries (TensorFlow, FFmpeg), before it could (under `ulimit -v 2000000`, say)
        if (message := limits.start_up_failure(e)) is None:
            raise
        print(f"acga: error: {message}", file=sys.stderr)
        sys.exit(2)


def _help(argv: list[str]) -> None:
    """Prints the help `argv` asks for and exits with status 0, where the command line's parser would; returns
    otherwise, for the command line to answer as before. argparse reads the arguments in order: a mistake before the
    help's flag is its error (`acga train --epochs 0 --help`, status 2), which the command line reports after its own
    checks."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # (the mistake: the command line says it)
            command_options.build_parser()[0].parse_args(argv)
    except SystemExit as stop:
        if stop.code == 0:  # the help, printed
            raise
    except Exception:  # (a check of a value that failed otherwise: the command line's to report too)
        pass


if __name__ == "__main__":
    main()
