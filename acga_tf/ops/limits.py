"""The process's limits that stop a command before it can start (docs/reliability.md): the virtual memory limit
(`ulimit -v`, a batch scheduler's `vmem`) and a temporary folder it can write. Each gives the one line `acga` prints
in place of Python's traceback. And the standard streams a command started without (`2>&-`). This module imports no
TensorFlow: `acga` asks before loading it."""

from __future__ import annotations

import fcntl
import os
import resource
import signal
import sys
import tempfile

# The virtual memory one `acga` command needed on a 2-core host (measured 2026-12-05): `acga params` and
# `acga predict` 3 GiB (2.5 failed while TensorFlow loaded), `acga train` 4 GiB.
# TensorFlow reserves far more address space than it fills: a command's resident memory is about 1 GB.
NEEDED_GIB = "3 to 4"
# Below this a command is refused before it loads anything. TensorFlow's libraries are 1.2 GB and importing it peaked
# at 1.9 GiB of address space on that host; below 3 GiB, how a command failed varied and mostly could not be caught:
# no message at 1.2 GB (OpenBLAS's exit), a traceback at 1.4, TensorFlow's abort at 2.1 (a thread it could not make,
# status 134), a segmentation fault at 2.5 (`acga predict` 3 of 3 runs, `acga params` 2 of 6).
TOO_LITTLE = 3 * 2 ** 30
# The errors a library's loading ends in where the address space ran out (ImportError: "failed to map segment from
# shared object"; SystemError: "error return without exception set"; RuntimeError: a module's own import check).
LOADING_ERRORS = (ImportError, MemoryError, OSError, RuntimeError, SystemError)
# The signals that stop a command: Ctrl-C, SIGTERM (`kill`, `timeout`, a scheduler) and SIGHUP (a terminal that
# closes) where the platform has it. A command stopped by one says so in one line and ends by it
# (docs/reliability.md).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def address_space_limit() -> int | None:
    """The soft limit on the process's virtual memory (`ulimit -v`), in bytes; None where there is none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def memory_limit_hint() -> str:
    """" under the virtual memory limit of 2.4 GiB (ulimit -v; ...: raise the limit or lift it)" where a limit is
    set, else ""."""
    limit = address_space_limit()
    if limit is None:
        return ""
    return (f" under the virtual memory limit of {limit / 2 ** 30:.1f} GiB (ulimit -v; TensorFlow reserves far more "
            f"address space than it uses, {NEEDED_GIB} GiB a command: raise the limit or lift it)")


def too_little_to_start() -> str | None:
    """The one-line message where the virtual memory limit is below what loading TensorFlow takes; None otherwise."""
    limit = address_space_limit()
    return None if limit is None or limit >= TOO_LITTLE else \
        f"not enough memory to load the command's libraries{memory_limit_hint()}"


def start_up_failure(error: BaseException) -> str | None:
    """The one-line message for `error`, raised while the command loaded its libraries under a virtual memory limit
    (`ImportError: libavformat...: failed to map segment from shared object`), with the error's first line; None
    where no limit is set (a broken installation keeps its traceback)."""
    if address_space_limit() is None or not isinstance(error, LOADING_ERRORS):
        return None
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")[:300]
    return (f"not enough memory to load the command's libraries{memory_limit_hint()}; loading failed with "
            f"{type(error).__name__}" + (f": {first}" if first else ""))


def temporary_folder_problem() -> str | None:
    """Why no temporary file can be made (TensorFlow, Matplotlib and the commands' atomic writes need one), naming
    what was tried; None where one can."""
    try:
        tempfile.gettempdir()
    except FileNotFoundError:
        tried = [f"TMPDIR={os.environ['TMPDIR']}"] if os.environ.get("TMPDIR") else []
        return (f"no temporary folder can be written ({', '.join([*tried, '/tmp', '/var/tmp', '/usr/tmp'])} and the "
                "current folder were tried): set TMPDIR to a writable folder")
    return None


def temporary_folder_warning() -> str | None:
    """Where `TMPDIR` is set but Python's `tempfile` passed it over (a folder that does not exist, a file, one that
    cannot be written), the one-line warning naming it and the folder used instead; None otherwise. Python falls back
    to /tmp silently, where a cluster's scratch folder was meant."""
    wanted = os.environ.get("TMPDIR")
    if not wanted:
        return None
    used = tempfile.gettempdir()
    if os.path.realpath(wanted) == os.path.realpath(used):
        return None
    why = ("does not exist" if not os.path.lexists(wanted) else "is a broken link" if not os.path.exists(wanted)
           else "is not a folder" if not os.path.isdir(wanted) else "cannot be written")
    return f"TMPDIR={wanted} {why}: temporary files go to {used} instead"


# What a command started with its standard output closed says (`acga_tf.cli.main`, `acga --version`).
CLOSED_STDOUT = ("standard output is closed (`>&-`) or open for reading only (`1<file`), so the command's results "
                 "would be lost with status 0; send it to a file, or to /dev/null to discard it")


def open_closed_standard_streams() -> list[int]:
    """Opens the null device on standard input, output or error where the process started with it closed (`2>&-`,
    `<&-`, as a service manager may start it), or with an output open for reading only (bash leaves a closed stderr
    so for the program a bash script runs: `acga 2>&-` through pyenv's shim); returns those descriptors.

    Else the next file the command opens takes that number, so that TensorFlow's log lines would be written into an
    output; and with `sys.stderr` None (Python's choice then) a progress bar fails ("'NoneType' object has no
    attribute 'write'", status 1), after an evaluation whose results are then not written.
    A closed stderr is read as `2>/dev/null`: the command runs, its exit status says how it went. `sys.stdout` is
    None where stdout was closed: the command refuses to run, its results would be lost (`acga_tf.cli.main`)."""
    opened = []
    for descriptor in (0, 1, 2):
        try:
            unusable = descriptor > 0 and fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
        except OSError:  # closed
            unusable = True
        if unusable:
            null = os.open(os.devnull, os.O_RDONLY if descriptor == 0 else os.O_WRONLY)
            if null != descriptor:  # (a closed one: the lowest free number, as those below it are open)
                os.dup2(null, descriptor)
                os.close(null)
            opened.append(descriptor)
    if 1 in opened:
        sys.stdout = None
    if 2 in opened:
        sys.stderr = open(2, "w", closefd=False, errors="backslashreplace")  # noqa: SIM115 (for the process's life)
    return opened
