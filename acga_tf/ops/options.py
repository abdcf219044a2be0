"""How a message names a setting: as the `acga` command's option (`--overwrite`) while the command runs, as the
Python keyword (`overwrite=True`) otherwise, so that a message read from `fit(...)` or `predict(...)` names what the
caller can change (docs/architecture.md#messages)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_command_line = [False]  # whether the `acga` command is running (set by `command_line`; one command a process)


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Within the block, `option` names the `acga` command's options (the command wraps its work in it)."""
    before, _command_line[0] = _command_line[0], True
    try:
        yield
    finally:
        _command_line[0] = before


def option(flag: str, keyword: str) -> str:
    """`flag` ("--overwrite") inside `command_line`, else `keyword` ("overwrite=True"), for a message."""
    return flag if _command_line[0] else keyword
