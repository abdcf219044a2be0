"""Progress output on a live display or into a log: the one rule every bar follows (`is_live`).

On a terminal or in a notebook a bar redraws in place. Into a file or a pipe (`acga train > train.log`, `2> log`)
each redraw is a line ended by a carriage return: `acga predict` wrote 57 for 480 frames (2026-12-02), some 36,000
for an hour's run; `acga prepare` one per shard; Keras' training bar about 500 bytes a step. There tqdm's bars
redraw every 30 s at most (`redraw_interval`), and Keras' bars print one line when done (`keras_verbosity`).
"""

from __future__ import annotations

import os
from typing import IO

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
    only the 30 s wrote a line every 10 to 20 s (a tester's 8.5-minute `acga predict` log: 33 redraws)."""
    interval = redraw_interval(stream)
    return {"mininterval": interval, "maxinterval": max(interval, 10.0)}


def keras_verbosity(stream: IO) -> int:
    """Keras' `verbose` for a bar written to `stream` (`fit`, `keras.utils.Progbar`): 1, the live bar, or 2, one line
    when done (an epoch's, or the whole run's). Keras draws its live bar on a terminal in colours and bold, which a
    terminal that asks for none (`NO_COLOR` set, no-color.org; `TERM=dumb`) gets as escape codes: there, 2."""
    plain = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
    return 1 if is_live(stream) and not plain else 2


__all__ = ["is_live", "redraw_interval", "bar_intervals", "keras_verbosity", "LOG_INTERVAL_S", "TERMINAL_INTERVAL_S"]
