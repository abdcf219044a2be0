"""The `acga` command line's parser: argparse's, whose mistakes are one line and whose hints name the option meant
(docs/architecture.md, the layers' table). Free of TensorFlow, so that `acga`, `acga -h` and `acga <command> --help`
answer at once (`acga_tf/__main__.py`): `acga_tf/command_options.py` adds each command's options to the parsers
`top_parser` makes, free of TensorFlow too, and the command line (`acga_tf/cli.py`) what each command runs.
"""

import argparse
import difflib
import os
import re
import sys
import textwrap

from acga_tf import __version__

COMMANDS = {  # the subcommands, as `acga --help` lists them, and what each does (its own `--help` opens with it)
    "demo": "synthetic A2D-format world -> prepare -> train (the demo preset) -> evaluate -> export -> figures",
    "params": "print a preset's parameters per component (trainable, frozen, total)",
    "prepare": "convert A2D / J-HMDB Sentences, or your own videos and masks, to shards",
    "convert-weights": "reference PyTorch checkpoint (.pth/.pth.tar) -> Keras .weights.h5 (needs PyTorch: the "
                       "[convert] extra, README Install)",
    "predict": "segment the actors sentences describe in every frame of a video",
    "visualize": "attention figures for a query point, or a qualitative grid of a dataset",
    "export": "export a trained run as a TF Serving SavedModel (saved_models/NAME/VERSION)",
    "train": "train ACGA on prepared shards (the paper's schedule: docs/training.md#schedule)",
    "evaluate": "score a trained run on prepared shards (the paper's protocol, at each frame's original resolution)",
    "app": "a local web page: upload a video, type sentences, see the masks (needs Gradio: the [app] extra, README "
           "Install)",
}


class _Help(argparse.HelpFormatter):
    """argparse's help, wrapped at spaces only: an option named in a help text (`--mixed-precision`) is never split at
    its hyphen across two lines (copied or read aloud, a split option is two broken words)."""

    def _split_lines(self, text: str, width: int) -> list[str]:  # nor a long path or URL in a narrow terminal
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False, break_long_words=False)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose mistakes are one line: its error without the usage block above it (six lines for
    `acga predict --start abc`); `--help` prints the usage. The subcommands' parsers are of
    this class too (`add_subparsers` makes them of their parent's), all with `_Help`'s wrapping."""

    def __init__(self, *args, formatter_class=_Help, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)

    def error(self, message: str):
        choosing = {action.dest: list(action.choices) for action in self._actions
                    if isinstance(action, argparse._SubParsersAction)}  # `acga`'s command, `acga prepare`'s dataset
        if (missing := re.fullmatch(r"the following arguments are required: (\w+)", message)) and \
                missing.group(1) in choosing:  # (it named "command" or "dataset", not what to type: a reviewer's)
            message += f" (one of: {', '.join(choosing[missing.group(1)])})"
        elif (wrong := re.fullmatch(r"argument (\w+): invalid choice: '-?[\d.]+' .*", message)) and \
                wrong.group(1) in choosing:  # `acga prepare --workers 2`: the options go after the dataset
            message += f" ({self.prog} {wrong.group(1).upper()} [options]: the options after the {wrong.group(1)})"
        if message.startswith(("the following arguments are required", "one of the arguments")):  # (the second:
            raise _MissingArguments(self, message)  # a required group's, `acga train --checkpoint X`'s)
        if (typo := re.fullmatch(r"argument \S+: invalid choice: '([^']*)' \(choose from (.*)\)", message)):
            choices = re.findall(r"'([^']*)'", typo.group(2)) or [c.strip() for c in typo.group(2).split(",")]
            if close := difflib.get_close_matches(typo.group(1), choices, n=1, cutoff=0.6):
                message += f"; did you mean {close[0]!r}?"
        if (bare := re.fullmatch(r"argument (--\S+?)(?:/\S+)?: expected one argument", message)):  # (a value that
            # starts with a dash, an A2D video id's -3JkUfn57FL, is read as an option)
            message += f" (a value that starts with a dash is written {bare.group(1)}=-...)"
        _fail(self, message)

    def add_subparsers(self, **kwargs):
        """argparse's, whose commands' own `--help` opens with what the command does (its `help` in the list of
        commands; without it, `acga export --help` says nothing of what export does)."""
        action = super().add_subparsers(**kwargs)
        add = action.add_parser

        def add_parser(name, **options):
            if "help" in options:
                options.setdefault("description", options["help"])
            return add(name, **options)

        action.add_parser = add_parser
        return action

    def parse_args(self, args=None, namespace=None):
        """argparse's, but an option the subcommand does not know is its error, naming the closest of its options
        (argparse blamed the top-level `acga` for `acga evaluate --bach-size 2`, without a hint), also where that
        left a required option missing (`acga predict --modle m` said "required: --model", not the typo)."""
        try:
            namespace, extras = self.parse_known_args(args, namespace)
        except _MissingArguments as missing:
            argv = sys.argv[1:] if args is None else list(args)
            unknown = _unknown_options(_path_to(self, missing.parser), argv[:argv.index("--")] if "--" in argv
                                       else argv)
            _fail(missing.parser, f"unrecognized arguments: {' '.join(unknown)}{_hints(missing.parser, unknown)}"
                  if unknown else missing.message)
        if extras:
            parser = _chosen_parser(self, namespace)
            argv = sys.argv[1:] if args is None else list(args)
            parser.error(_expanded_pattern(argv, extras) or _split_value(parser, argv, extras)
                         or f"unrecognized arguments: {' '.join(extras)}{_hints(parser, extras)}")
        return namespace


class _MissingArguments(Exception):
    """argparse found required options missing, in `parser`: told by `_Parser.parse_args`, which first looks for a
    mistyped option that would explain it."""

    def __init__(self, parser: argparse.ArgumentParser, message: str):
        super().__init__(message)
        self.parser, self.message = parser, message


# Other names users give an option (`--sentence` for `--query`), for `_hints`: the option each means.
OPTION_SYNONYMS = {"--sentence": ("--query",), "--text": ("--query",), "--prompt": ("--query",),
                   "--caption": ("--query",), "--input": ("--video",), "--clip": ("--video",),
                   "--checkpoint": ("--model", "--init-weights"), "--weights": ("--model", "--init-weights"),
                   "--run": ("--model",), "--masks": ("--frames-dir",), "--masks-dir": ("--frames-dir",)}


def _hints(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """"; did you mean --batch-size?" for each of `extras` that is close to one of `parser`'s options, or another
    name for one (`OPTION_SYNONYMS`)."""
    options, hints = _option_strings(parser), []
    for extra in extras:
        name = extra.split("=")[0]
        if not name.startswith("--"):
            continue
        close = ([meant for meant in OPTION_SYNONYMS.get(name, ()) if meant in options][:1]
                 or difflib.get_close_matches(name, options, n=1, cutoff=0.7))
        hints += [f"; did you mean {close[0]}?"] if close else []
    return "".join(hints)


PATTERN_OPTIONS = ("--data", "--val-data")  # the options that take a glob of shards, which acga expands
# The options whose value a shell splits into words unquoted, which need not name an existing path: a sentence, and
# the paths a command writes (`--frames-dir my masks`).
UNCHECKED_VALUE_OPTIONS = ("--query", "--output", "--frames-dir", "--output-dir", "--output-csv", "--output-json")


def _expanded_pattern(argv: list[str], extras: list[str]) -> str | None:
    """The error for a pattern option's glob the shell expanded into files (`--data data/train-*.tfrecord` unquoted:
    argparse lists the files after the first as unrecognized); None where `extras` are not such files. The pattern
    typed cannot be known, so none is guessed (a guess from the files' common ends can match 10 shards where 2 were
    typed)."""
    try:
        start = argv.index(extras[0])
    except ValueError:
        return None
    paths = argv[start - 1:start + len(extras)]
    if start < 2 or argv[start - 2] not in PATTERN_OPTIONS or argv[start:start + len(extras)] != extras \
            or not all(os.path.isfile(path) for path in paths):
        return None
    option = argv[start - 2]
    return (f"{option} takes one pattern, but the shell gave it {len(paths)} files (it expands a pattern left "
            f"unquoted): quote the pattern you typed, e.g. {option} 'data/train-*.tfrecord', so that acga reads it")


def _split_value(parser: argparse.ArgumentParser, argv: list[str], extras: list[str]) -> str | None:
    """The error for a value the shell split into words (`--query the red circle` unquoted: argparse said
    "unrecognized arguments: red circle"); None where `extras` do not follow an option's value."""
    # where the extras lie: the last run of them (`--query red --query the red circle`: the second "red")
    start = next((i for i in range(len(argv) - len(extras), 0, -1) if argv[i:i + len(extras)] == extras), 0)
    if start < 1 or any(extra.startswith("-") for extra in extras):
        return None
    option, value = (argv[start - 1].split("=", 1) if argv[start - 1].startswith("--") and "=" in argv[start - 1]
                     else (argv[start - 2] if start >= 2 else "", argv[start - 1]))
    action = next((action for action in parser._actions if option in action.option_strings), None)
    words = " ".join([value, *extras])
    if action is None or action.nargs == 0 or value.startswith("-") or \
            (option not in UNCHECKED_VALUE_OPTIONS and not os.path.exists(words)):  # a path: where the words name one
        return None
    return (f"{option} takes one value, but the shell split {words!r} into {len(extras) + 1} words: quote it, e.g. "
            f"{option} \"{words}\"")


def _fail(parser: argparse.ArgumentParser, message: str):
    parser.exit(2, f"{parser.prog}: error: {message} (`{parser.prog} --help` lists the options)\n")


def _path_to(parser: argparse.ArgumentParser, target: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers from `parser` down to its subcommand's (or sub-subcommand's) parser `target`; [] if none."""
    if parser is target:
        return [parser]
    children = action.choices.values() if (action := _subcommands(parser)) is not None else ()
    return next(([parser, *path] for child in children if (path := _path_to(child, target))), [])


def _unknown_options(parsers: list[argparse.ArgumentParser], argv: list[str]) -> list[str]:
    """The `--options` of `argv` that none of `parsers` knows, even as argparse's abbreviations (`--mod`)."""
    known = [option for parser in parsers for option in _option_strings(parser)]
    return [token for token in argv if token.startswith("--") and len(token) > 2
            and not any(option.startswith(token.split("=")[0]) for option in known)]


def _subcommands(parser: argparse.ArgumentParser):
    """`parser`'s subcommands action (its `choices`: their parsers by name, `dest`: where the name goes), or None."""
    return next((action for action in parser._actions if isinstance(action, argparse._SubParsersAction)), None)


def _chosen_parser(parser: argparse.ArgumentParser, namespace) -> argparse.ArgumentParser:
    """The innermost parser the command line chose (`acga prepare a2d`'s, for one)."""
    while (action := _subcommands(parser)) is not None and \
            (chosen := action.choices.get(getattr(namespace, action.dest, None))) is not None:
        parser = chosen
    return parser


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions for option in action.option_strings if option.startswith("--")]


def add_everywhere(parser: argparse.ArgumentParser) -> None:
    """`-v` and `--debug` after any subcommand too (`acga predict -v ...` was "unrecognized arguments: -v"): added to
    every subcommand's parser, their default left to the top-level's."""
    for child in (action.choices.values() if (action := _subcommands(parser)) is not None else ()):
        child.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                           help="log at INFO level (also before the subcommand)")
        child.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                           help="show the Python traceback of an error (also before the subcommand)")
        add_everywhere(child)


def top_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """`acga`'s parser with its own options and a parser for each of `COMMANDS` (their options added by
    `acga_tf/command_options.py`), and the subcommands' action (`.choices`: their parsers by name)."""
    parser = _Parser(prog="acga", description="ACGA: segment the actor a sentence describes.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    parser.add_argument("--version", action="version", version=f"acga-tf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, does in COMMANDS.items():
        sub.add_parser(name, help=does)
    return parser, sub
