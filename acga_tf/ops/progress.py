"""How often a progress bar redraws (`tqdm`'s `mininterval`): every 0.1 s on a terminal, every 30 s at most where the
stream is a file or a pipe (`2> log`). Each redraw into a log is a line ended by a carriage return: `acga predict`
wrote 57 for 480 frames (2026-12-02), some 36,000 for an hour's run; `acga prepare` one per shard written."""

from __future__ import annotations

from typing import IO

TERMINAL_INTERVAL_S = 0.1  # tqdm's default
LOG_INTERVAL_S = 30.0


def redraw_interval(stream: IO) -> float:
    """Seconds between redraws of a bar written to `stream`. A notebook's stream (ipykernel's, not a terminal) counts
    as one: `tqdm.auto` draws a widget there, which redraws in place."""
    isatty = getattr(stream, "isatty", None)
    live = (isatty is not None and isatty()) or type(stream).__module__.startswith("ipykernel")
    return TERMINAL_INTERVAL_S if live else LOG_INTERVAL_S


__all__ = ["redraw_interval", "LOG_INTERVAL_S", "TERMINAL_INTERVAL_S"]
