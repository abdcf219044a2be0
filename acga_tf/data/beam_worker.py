"""Imported at the start of each worker process of Beam's DirectRunner in its multi-processing mode, through Beam's
`--beam_plugins` option (which `acga_tf.data.beam` gives that mode alone): a worker then writes its log lines as the
command writes its own, and ignores Ctrl-C (SIGINT, which a terminal sends to every process of the command). The
command's own process alone stops the conversion: it ends its workers through Beam and says what was kept in one line,
as the local runner's workers leave it to (`convert.make_pool`; docs/data.md#conversion). Where Ctrl-C reached the
workers, each printed its Python traceback (a KeyboardInterrupt, twice). SIGTERM and SIGHUP sent to every process of the
command (a scheduler, a terminal that closes) still end a worker at once, its shard being written abandoned: one that
ignored them outlived the command (Beam's `sh -c` around it ends, and the command with it, before the worker is told).

Imported anywhere else (the command's own process, a test), it does nothing.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from acga_tf.ops.native_log import LOG_FORMAT

WORKER_MAIN = "apache_beam.runners.worker.sdk_worker_main"  # the module a Beam worker process runs


def in_beam_worker() -> bool:
    """Whether this process is a Beam worker (started as `python -m apache_beam.runners.worker.sdk_worker_main`)."""
    return getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None) == WORKER_MAIN


def log_as_the_command() -> None:
    """Writes this process's log lines on stderr as the command writes its own ("WARNING acga_tf.data.video: ..."):
    Beam's import gave its root logger Python's default format ("WARNING:acga_tf.data.video:...")."""
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler and handler.stream in (sys.stderr, sys.__stderr__):
            handler.setFormatter(logging.Formatter(LOG_FORMAT))


def ignore_ctrl_c() -> None:
    """Ignores SIGINT in this process (the command's process ends it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# Beam imports this module in the worker's main thread, where signals may be set; where a worker first imports it
# unpickling a step, in one of its threads (a runner that passed the plugin over), it cannot, and leaves Ctrl-C as is
if in_beam_worker():
    log_as_the_command()
    if threading.current_thread() is threading.main_thread():
        ignore_ctrl_c()
