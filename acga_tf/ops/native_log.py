"""TensorFlow's start-up lines, kept off the `acga` command's stderr (docs/reliability.md).

TensorFlow 2.21's native libraries log a few INFO lines while they load ("oneDNN custom operations are on",
"Could not find cuda drivers on your machine", ...), before Abseil's logging is set up, so `TF_CPP_MIN_LOG_LEVEL`
does not silence them: a user error that the command reports on one line came after nine lines of them.
`import_tensorflow_quietly` imports TensorFlow with stderr's file descriptor routed through a filter that drops
exactly those lines (Abseil's `I` lines and its "before absl::InitializeLog()" notice) and passes every other byte on
as it comes, so a warning, an error or a crash's last words during the import still reach the user. It also looks
for GPUs inside the filter, where CUDA's "failed call to cuInit" error line (printed on every machine without an
NVIDIA driver, each time a command first touched a device) is held back: `held_lines` gives it to the command, which
logs it at INFO level (`acga -v`).

This module imports no TensorFlow: the command line calls it before anything loads TensorFlow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator

# Abseil's INFO lines as TensorFlow writes them (`I0000 00:00:1796205476.834428   1234 port.cc:153] `: the epoch
# seconds where Abseil has the seconds of the minute), and Abseil's notice about early log lines.
NOISE = re.compile(rb"I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] "
                   rb"|WARNING: All log messages before absl::InitializeLog")
# CUDA's error line on a machine without a usable NVIDIA driver (TensorFlow then runs on the CPU).
HELD = re.compile(rb"E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] failed call to cuInit")
LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # the `acga` command's log lines (and its Beam workers')
_DRAIN_S = 5.0
_held: list[str] = []
_unfiltered: list[int] = []  # stderr's own descriptor while `filtered_stderr` routes it through the filter


def import_tensorflow_quietly(warnings: bool = False) -> None:
    """Imports TensorFlow without its INFO start-up lines on stderr, unless it is already imported or the user asked
    for INFO logs (`TF_CPP_MIN_LOG_LEVEL=0`). Where `TF_CPP_MIN_LOG_LEVEL` is unset or not a level from 0 to 3
    (TensorFlow reads `abc` as 0: all its lines), sets it to 2 (errors), or to 1 (warnings too) with `warnings`: the
    command's own message says what failed, and TensorFlow's warnings before it ("Local rendezvous is aborting with
    status: ...", a temporary file's path on a full disk) only repeated it. In an interactive session TensorFlow's
    Python logger, which TensorFlow sets to INFO there, is set to WARNING (TensorFlow already imported too)."""
    if os.environ.get(LEVEL_VARIABLE, "").strip() not in ("0", "1", "2", "3"):  # unset, or not a level:
        os.environ[LEVEL_VARIABLE] = "1" if warnings else "2"  # TensorFlow reads "abc" as 0
    if os.environ[LEVEL_VARIABLE].strip() == "0":
        return
    if "tensorflow" not in sys.modules:
        with filtered_stderr():
            import tensorflow  # loaded here, filtered; the importers below find it loaded

            tensorflow.config.list_physical_devices("GPU")  # CUDA's initialisation, whose failure is one more line
    # In an interactive session (a notebook's kernel, `python -i`) TensorFlow sets its Python logger to INFO, so
    # every `fit` printed "INFO:tensorflow:Using MirroredStrategy ..." and every export "INFO:tensorflow:Assets
    # written to: .../1.partial/assets", twice (a notebook tester's): warnings and errors still pass.
    logger = sys.modules["tensorflow"].get_logger()
    if logger.level == logging.INFO:  # (elsewhere TensorFlow leaves it unset: the root logger's level)
        logger.setLevel(logging.WARNING)


def unfilter_stderr() -> None:
    """Points file descriptor 2 back at stderr itself, where `filtered_stderr` routes it through the filter: for a
    line written just before the process ends (Ctrl-C while TensorFlow loads), which the filter's thread would not
    pass on in time. `filtered_stderr` still restores and closes what it opened."""
    if _unfiltered:
        sys.stderr.flush()
        os.dup2(_unfiltered[-1], 2)


def held_lines() -> list[str]:
    """The lines `import_tensorflow_quietly` held back (CUDA's "failed call to cuInit"), to log at INFO level."""
    return list(_held)


@contextlib.contextmanager
def filtered_stderr(drop: re.Pattern[bytes] | None = None) -> Iterator[None]:
    """Routes file descriptor 2 through a thread that drops `NOISE` lines (and those `drop` matches at their start)
    and holds `HELD` ones (`held_lines`), for the duration of the block. Processes started in the block write
    through the filter too (Beam's workers: `acga_tf.data.beam`)."""
    if sys.stderr is None:  # Python started with file descriptor 2 closed (`2>&-`): nothing to filter
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr (closed by the caller): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_forward, args=(read_end, saved, drop), daemon=True)
    thread.start()
    _unfiltered.append(saved)
    try:
        yield
    finally:
        _unfiltered.remove(saved)
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread reads to the end and stops
        thread.join(timeout=_DRAIN_S)  # a child process started in the block may hold the pipe: do not wait for it
        if not thread.is_alive():
            os.close(saved)


def _forward(read_end: int, destination: int, drop: re.Pattern[bytes] | None = None) -> None:
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            if HELD.match(line):  # kept without Abseil's prefix ("E0000 00:00:17962... cuda_platform.cc:52] ")
                _held.append(line.decode("utf-8", errors="replace").split("] ", 1)[-1].strip())
            elif not NOISE.match(line) and not (drop is not None and drop.match(line)):
                while line:  # os.write may write part of it
                    line = line[os.write(destination, line):]
