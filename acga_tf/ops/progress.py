"""Progress output on a live display or into a log: the one rule every bar follows (`is_live`).

On a terminal or in a notebook a bar redraws in place. Into a file or a pipe (`acga train > train.log`, `2> log`)
each redraw is a line ended by a carriage return: `acga predict` wrote 57 for 480 frames (2026-12-02), some 36,000
for an hour's run; `acga prepare` one per shard; Keras' training bar about 500 bytes a step. There tqdm's bars
(`bar`) redraw every 30 s at most (`redraw_interval`), each on a line of its own in plain ASCII, and Keras' bars
print one line when done (`keras_verbosity`).
"""

from __future__ import annotations

import os
import warnings
from typing import IO

from tqdm import TqdmWarning, tqdm

with warnings.catch_warnings():  # a notebook without ipywidgets: tqdm.auto's "IProgress not found. Please update
    warnings.simplefilter("ignore", TqdmWarning)  # jupyter and ipywidgets" at import, whatever a call would draw
    from tqdm.auto import tqdm as live_tqdm  # a notebook's widget, else tqdm (a text bar)

TERMINAL_INTERVAL_S = 0.1  # tqdm's default
LOG_INTERVAL_S = 30.0


def is_live(stream: IO) -> bool:
    """Whether a bar written to `stream` redraws in place: a terminal, or a notebook's stream (ipykernel's, not a
    terminal), where `tqdm.auto` draws a widget and Keras' bar redraws its line."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty()) or type(stream).__module__.startswith("ipykernel")


def redraw_interval(stream: IO) -> float:
    """Seconds between redraws of a tqdm bar written to `stream` (its `mininterval`)."""
    return TERMINAL_INTERVAL_S if is_live(stream) else LOG_INTERVAL_S


def bar_intervals(stream: IO) -> dict[str, float]:
    """tqdm's `mininterval` and `maxinterval` for a bar written to `stream`: into a log, 30 s both. tqdm's monitor
    thread redraws a bar not redrawn for `maxinterval` (10 s by default) whatever its `mininterval`, so a bar given
    only the 30 s writes a line every 10 to 20 s (33 redraws in an 8.5-minute `acga predict` log)."""
    interval = redraw_interval(stream)
    return {"mininterval": interval, "maxinterval": max(interval, 10.0)}


# A bar in a log: its figures without the bar (tqdm draws it with block characters, or '#'s with ascii).
LOG_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit}s [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def bar(*, file: IO, **options) -> tqdm:
    """A tqdm progress bar written to `file` (tqdm's `options`): on a live display, tqdm's; into a log, redrawn every
    30 s at most (`bar_intervals`), each redraw a line of its own in `LOG_FORMAT` ("predict: 120/240 frames [00:10<
    00:10, 12.0frame/s]"), not tqdm's carriage returns and block characters, which in a log
    (`acga prepare ... 2> c1.err`) put two redraws on one line."""
    if is_live(file):
        return live_tqdm(file=file, **bar_intervals(file), **options)
    return tqdm(file=_Lines(file), bar_format=LOG_FORMAT, ascii=True, **bar_intervals(file), **options)


class _Lines:
    """A log's stream as tqdm writes to it: tqdm begins each redraw with a carriage return (padding it with spaces
    to the last one's length) and ends the last with a newline; here each redraw ends the line before it."""

    def __init__(self, stream: IO):
        self.stream, self.open = stream, False

    def write(self, text: str) -> None:
        for number, part in enumerate(text.split("\r")):
            if number and self.open and part.strip():  # a redraw: the line before it ends
                self._end()
            for index, piece in enumerate(part.split("\n")):
                if index and self.open:
                    self._end()
                if piece.strip():
                    self.stream.write(piece.rstrip())
                    self.open = True

    def _end(self) -> None:
        self.stream.write("\n")
        self.open = False

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def keras_verbosity(stream: IO) -> int:
    """Keras' `verbose` for a bar written to `stream` (`fit`, `keras.utils.Progbar`): 1, the live bar, or 2, one line
    when done (an epoch's, or the whole run's). Keras draws its live bar on a terminal in colours and bold, which a
    terminal that asks for none (`NO_COLOR` set, no-color.org; `TERM=dumb`) gets as escape codes: there, 2."""
    plain = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
    return 1 if is_live(stream) and not plain else 2


__all__ = ["is_live", "redraw_interval", "bar_intervals", "bar", "keras_verbosity", "LOG_INTERVAL_S",
           "TERMINAL_INTERVAL_S"]
