"""TensorFlow's runtime errors as one line a user or a client can read (docs/serving.md#signatures); SIGTERM
handled as Ctrl-C (`sigterm_as_interrupt`, and `check_stop` for a stop that was lost); and interruptions held back
where they cannot stop work cleanly (`deferred_interrupts`)."""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
from collections.abc import Iterator

import tensorflow as tf

from acga_tf.ops.limits import STOP_SIGNALS


def error_message(error: tf.errors.OpError) -> str:
    """The part of a TF runtime error a client needs, as TF Serving reports it: the failed check's message,
    without eager Python's "Graph execution error" / "Detected at node" / "{{function_node ...}}" preamble and the
    node suffix."""
    message = re.sub(r"^Graph execution error:\s*", "", getattr(error, "message", str(error)))
    # The traceback's lines: indented ones and blank ones (`\s+` would run on over a blank line into the message)
    message = re.sub(r"^Detected at node .*?\(most recent call last\):\n(?:(?:<stack traces unavailable>|[ \t]+\S.*|"
                     r"[ \t]*)\n)*", "", message)
    message = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", message)  # a tf.function called eagerly
    message = re.sub(r"\s*\[Op:[^\]]*\][^\n]*", "", message)  # an eager op's "[Op:IteratorGetNext] name:"
    # a tf.data map's: "Error in user-defined function passed to ParallelMapDatasetV2:2 transformation with
    # iterator: Iterator::Root::...::ParallelMapV2: "
    message = re.sub(r"^Error in user-defined function passed to \S+ transformation with iterator: \S+: ", "",
                     message)
    return message.split("\n\t [[")[0].strip()


# Set by `sigterm_as_interrupt`'s handler: a stop that came, which `check_stop` raises again where it was lost.
_STOP = threading.Event()
_OPEN_BLOCKS: list[threading.Event] = []  # the events of the `sigterm_as_interrupt` blocks open now, outermost first


def check_stop() -> None:
    """Raises KeyboardInterrupt where Ctrl-C, SIGTERM or SIGHUP came within `sigterm_as_interrupt`: for a loop to
    call between its steps. Python drops an exception raised inside a finalizer (`__del__`), so a stop whose
    KeyboardInterrupt struck while TensorFlow collected one of its functions ("Exception ignored in:
    AtomicFunction.__del__") was lost: a JAX training run of several epochs went on to its end, status 0 (a tester's
    `kill -TERM`, 7 of 7)."""
    if _STOP.is_set() and threading.current_thread() is threading.main_thread():  # (the stop is the main thread's:
        # `acga app`'s request threads go on while the server closes, as they did)
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[threading.Event]:
    """Within the block, SIGTERM (`kill`, `timeout`, `docker stop`, `systemctl stop`) and SIGHUP raise
    KeyboardInterrupt in the main thread, as Ctrl-C does, so that a job says what it kept and leaves no partial file
    (their default ends Python at once: `acga predict` left `OUT.mp4.tmp`, `acga app` its visitors' uploads). Yields
    an event set when one of them or Ctrl-C came (its `signum` says which: a KeyboardInterrupt raised inside a C
    extension can surface as another error, which the event tells for a stop), as are the events of the blocks it is
    nested in (whose handlers it took over); the previous handlers are put back after the block. Once a stop came, an
    error that C code reports itself (`PyErr_Print`, through `sys.excepthook`) is not printed: the stop, raised inside
    an import TensorFlow's C code made, was its "SystemError: <built-in function __import__> returned a result with an
    exception set" traceback, before the command's one line (`acga predict`, once in two runs of the test suite). Off
    the main thread (where no handler can be set) it does nothing."""
    terminated = threading.Event()
    terminated.signum = None  # which signal came: SIGINT, SIGTERM or SIGHUP
    if threading.current_thread() is not threading.main_thread():
        yield terminated
        return

    def stop(signum, frame):
        for event in (*_OPEN_BLOCKS, terminated):  # the enclosing blocks' too: a command's, around `acga app`'s own
            # (its SIGTERM was "interrupted", the outer block's guess of Ctrl-C, or no stop at all: a reviewer's)
            event.signum = signum
            event.set()
        _STOP.set()
        raise KeyboardInterrupt

    # SIGHUP too: a terminal or an SSH session that closes sends it (else the job ends at once, a list of videos
    # without its results.csv); unless it is ignored, as `nohup` makes it
    handled = [signal.SIGTERM]
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        handled.append(signal.SIGHUP)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where it is ignored (`cmd &`)
        handled.append(signal.SIGINT)
    if not _OPEN_BLOCKS:  # (a nested block keeps, and leaves, the stop its outer one may still have to raise)
        _STOP.clear()
    previous = {signum: signal.signal(signum, stop) for signum in handled}
    previous_hook = sys.excepthook

    def unless_stopping(*error) -> None:  # (what the block raises itself is its caller's to report)
        if not terminated.is_set():
            previous_hook(*error)

    sys.excepthook = unless_stopping
    _OPEN_BLOCKS.append(terminated)
    try:
        yield terminated
    finally:
        _OPEN_BLOCKS.remove(terminated)
        sys.excepthook = previous_hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if not _OPEN_BLOCKS:
            _STOP.clear()


@contextlib.contextmanager
def noting_stops(event: threading.Event) -> Iterator[threading.Event]:
    """Within the block, Ctrl-C, SIGTERM and SIGHUP also set `event` before the handler in place takes them (the one
    of the command's outer `sigterm_as_interrupt`, say: a nested one does not take SIGINT over, so `acga app`'s
    Ctrl-C went unseen by the page, which logged its running request as "stopped by the visitor"). Yields `event`;
    off the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):  # (not SIG_IGN or SIG_DFL: a signal left to them is not a stop this process takes)
            previous[signum] = handler
            signal.signal(signum, lambda signum, frame, handler=handler: (event.set(), handler(signum, frame)))
    try:
        yield event
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Within the block, Ctrl-C, SIGTERM and SIGHUP wait: each is recorded, and the first is delivered again (to the
    handler in place before the block) once the block has ended without an error. For work that an interruption
    cannot stop cleanly from inside: raised within TensorFlow's SavedModel writer, KeyboardInterrupt became an
    AssertionError's traceback (status 1), or was swallowed and the export reported done (status 0), or stopped it
    with a complete version folder left (status 130). Off the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    handled = [signum for signum in STOP_SIGNALS if signal.getsignal(signum) is not signal.SIG_IGN]
    previous = {signum: signal.signal(signum, lambda signum, frame: came.append(signum)) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if came:
        signal.raise_signal(came[0])
