"""The base of every config in the package: a frozen dataclass that checks its field types, round-trips through
JSON, and names the config, field and value in every error (docs/architecture.md#configs).

Subclasses declare typed fields and add range checks in `validate()`; `__post_init__` first normalises JSON lists
to tuples and checks each value against its annotation (`bool` is not accepted for `int`, an `int` is accepted for
`float`), so `from_dict(json.loads(json.dumps(c.to_dict()))) == c` for every config.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import numbers
import re
import typing
from typing import Any, TypeVar

T = TypeVar("T", bound="FrozenConfig")


def closest_pairs(unknown, known, cutoff: float = 0.75) -> list[tuple[str, str]]:
    """(the closest of `known`, the name) for each of the `unknown` names that has one at difflib's `cutoff`: what a
    "did you mean" message names (a mistyped config field, a sentence's mistyped word)."""
    known = list(known)
    return [(close[0], name) for name in unknown
            if known and (close := difflib.get_close_matches(str(name), known, n=1, cutoff=cutoff))]


def closest_fields(unknown, known) -> str:
    """" (did you mean 'image_size' for 'imagesize'?)" for the unknown field names close to a known one (difflib), or
    "" (a mistyped `--set imagesize=64` was listed among every known field only: a command-line reviewer's)."""
    pairs = closest_pairs(unknown, known)
    return (" (did you mean " + ", ".join(f"{good!r} for {bad!r}" for good, bad in pairs) + "?)") if pairs else ""


class FrozenConfig:
    """Mixin for `@dataclasses.dataclass(frozen=True)` configs: type checks, `to_dict`, `from_dict`, `replace`."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            object.__setattr__(self, field.name, _coerce(self, field.name, value, hints[field.name]))
        self.validate()

    def validate(self) -> None:
        """Range checks of the subclass (raise `ValueError` through `self.check`)."""

    def check(self, ok: bool, field: str, why: str) -> None:
        """Raises `ValueError("<Config>.<field>=<value>: <why>")` unless `ok`."""
        if not ok:
            raise ValueError(f"{type(self).__name__}.{field}={getattr(self, field)!r}: {why}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field (tuples as lists)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self, path: str | None = None) -> str:
        """The config as JSON text; also written to `path` when given."""
        return config_json(self.to_dict(), path)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def unknown_fields_hint(cls, unknown: list[str]) -> str:
        """What `from_dict`'s refusal of the fields `unknown` adds after naming them ("" here; a config whose
        fields others hold says which)."""
        return ""

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any], source: str | None = "<dict>") -> T:
        """Builds a config from `to_dict()` output.

        Raises:
            ValueError: not a dict, an unknown key or a bad value; the message names `source` (where given) and the
                key.
        """
        prefix = f"{source}: " if source else ""
        if not isinstance(d, dict):
            raise ValueError(f"{prefix}expected a JSON object of {cls.__name__} fields, got {type(d).__name__}")
        unknown = sorted(set(d) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"{prefix}unknown {cls.__name__} field(s) {unknown}{cls.unknown_fields_hint(unknown)}"
                             f"{closest_fields(unknown, cls.field_names())}; known fields: "
                             f"{sorted(cls.field_names())}")
        try:
            return cls(**d)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{prefix}{e}") from None

    def replace(self: T, **overrides) -> T:
        """A copy with fields replaced (validated like a new config; a message names the config and the field)."""
        d = self.to_dict()
        d.update(overrides)
        return type(self).from_dict(d, source=None)


def config_json(d: dict[str, Any], path: str | None = None) -> str:
    """`d` as indented, key-sorted JSON text; also written to `path` when given."""
    text = json.dumps(d, indent=2, sort_keys=True)
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return text


def _jsonable(value: Any) -> Any:
    return [_jsonable(v) for v in value] if isinstance(value, (tuple, list)) else value


def _coerce(config: FrozenConfig, name: str, value: Any, hint: Any) -> Any:
    """`value` checked against the annotation `hint` (JSON lists become tuples)."""
    where = f"{type(config).__name__}.{name}={value!r}"
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list of {typing.get_args(hint)[0].__name__}"
                             + (" (JSON, e.g. [1, 3] or [])" if isinstance(value, str) else ""))
        item = typing.get_args(hint)[0]
        return tuple(_coerce_scalar(where, v, item) for v in value)
    return _coerce_scalar(where, value, hint)


def _coerce_scalar(where: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false"
                             + (" (JSON's, lowercase)" if isinstance(value, str) and value.lower() in ("true", "false")
                                else ""))
    elif kind is int:  # NumPy's integers too, stored as int (JSON has no other)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{where}: expected an integer")
        value = int(value)
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{where}: expected a number")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{where}: expected a finite number")
    elif kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string")
    return value


def positive_int(name: str, value: Any) -> int:
    """`value` as an int, where it is an integer (Python's or NumPy's) of at least 1: a count or a batch size.

    Raises:
        ValueError: anything else, as `name=value: must be an integer >= 1`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r}: must be an integer >= 1")
    return int(value)


def time_argument(value: str) -> float:
    """An argparse `type`: a time in seconds, as a number (`90.5`, `inf`) or as editors and FFmpeg write it,
    `[HH:]MM:SS[.fff]` (`1:30.5`, `00:01:30.500`)."""
    number = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)"  # ASCII digits only
    parts = value.strip().split(":")
    if len(parts) == 1 and re.fullmatch(number, value.strip(), re.IGNORECASE):
        return float(value)
    if (1 < len(parts) <= 3 and all(re.fullmatch(r"[0-9]+", p) for p in parts[:-1])
            and re.fullmatch(r"[0-9]+(\.[0-9]*)?", parts[-1])):
        if all(float(p) < 60 for p in parts[1:]):  # minutes and seconds under 60, as FFmpeg reads them
            return sum(float(p) * 60 ** k for k, p in enumerate(reversed(parts)))
        raise argparse.ArgumentTypeError(f"{value!r}: minutes and seconds after a ':' must be under 60")
    raise argparse.ArgumentTypeError(f"{value!r} is not a time: give seconds (90.5) or [HH:]MM:SS[.fff] (1:30.5)")


def count_argument(value: str) -> int:
    """An argparse `type`: a whole number of at least 1, refused by argparse naming the flag the user typed
    (`--batch-size 0` was "TrainingConfig.batch_size=0", `--window 0` "window=0": the field, not the flag)."""
    try:
        return positive_int("count", int(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1") from None
