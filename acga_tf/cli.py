"""The `acga` command: thin argparse subcommands over library functions.

Each subcommand has an `_add_<name>(subparsers)` that declares its options and a `_run_<name>(args) -> int` that
calls the library. User errors (ValueError, FileNotFoundError, ImportError for optional extras) end with one
line on stderr and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acga", description="ACGA: segment the actor a sentence describes.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


# === params (issue: model) ===
def _add_params(sub) -> None:
    p = sub.add_parser("params", help="print a Table-1-style parameter count of a preset")
    p.add_argument("--preset", default="paper", help="paper | small | tiny (default: paper)")
    p.add_argument("--config", help="a config JSON file instead of a preset")
    p.set_defaults(run=_run_params)


def _run_params(args) -> int:
    from acga_tf.config import ACGAConfig
    from acga_tf.model import ACGA, parameter_table

    config = ACGAConfig.from_json(args.config) if args.config else ACGAConfig.preset(args.preset)
    print(parameter_table(ACGA(config)))
    return 0


_SUBCOMMANDS = [_add_params]


def main(argv: list[str] | None = None) -> int:
    """Runs the `acga` command; returns the exit status."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, ImportError, KeyError) as e:
        print(f"acga {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
