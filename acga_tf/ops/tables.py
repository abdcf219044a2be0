"""CSV tables a user writes by hand or exports from a spreadsheet: the videos and sentences `acga predict --list`
reads, the annotations `acga prepare custom` reads (docs/serving.md#many-videos, docs/data.md#your-own-data).

One reader for both: UTF-8 (a spreadsheet's byte-order mark skipped), a header naming the columns (any order, any
case), a cell may be quoted with commas and line breaks in it, blank rows skipped; an unclosed quote is an error
naming the line where its row began, not the rest of the file read as one cell.

The tables acga-tf writes (`results.csv` of a list, `acga evaluate`'s per-sample CSV) keep a user's text cell as
written, except one that a spreadsheet would run as a formula (`spreadsheet_text`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence

from acga_tf.ops import files
from acga_tf.ops.exceptions import InputError
from acga_tf.ops.wording import counted


class Row(dict):
    """A table row's cells by column name; `short` says where the row ended before a column the table needs (its
    cells past the end read as ""), else None."""

    short: str | None = None


class TableError(InputError):
    """A table that cannot be read as such (an `InputError`: a `ValueError`): `path`, the `line` (None for the whole
    file) and the `problem`."""

    def __init__(self, path: str, problem: str, line: int | None = None):
        super().__init__(f"{path}: line {line}: {problem}" if line is not None else f"{path}: {problem}")
        self.path, self.problem, self.line = path, problem, line


def read_csv_rows(path: str, columns: Sequence[str], *, expected: str, kind: str = "list", strict: bool = False,
                  optional: Sequence[str] = ()) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header's column names (stripped, lower case) and the rows of a CSV table.

    Args:
        path: the CSV file.
        columns: the columns the header must name.
        expected: what the table should be, for messages ("a CSV list with the columns video,query").
        kind: what the file is called in messages ("list file not found").
        optional: the columns read where the header names them; like `columns`, refused where named twice.
        strict: a row with more cells than the header (empty ones too) is an error naming its line: an unquoted
            comma in a sentence (otherwise the cells past the header are not read, and a sentence cut in two
            before an empty last column moves its end into the next column).

    Returns:
        (names, rows): each row as (the line of the file it starts on, {column name: cell}, a `Row`); a row
        shorter than the header has "" for the columns it lacks (and its `short` says so where one of `columns`
        is); where the name of a column neither asked for nor `optional` repeats, its first column is read.

    Raises:
        TableError: a missing or unreadable file, no header, a column of `columns` missing from it or one of
            `columns` and `optional` named twice,
            bytes that are not UTF-8, malformed CSV; the message names the file and the line.
    """
    path, ended, data = os.fspath(path), 0, b""
    try:
        with open(path, "rb") as raw:  # read once: a pipe cannot be read again to name a bad byte's line
            data = raw.read()
        with io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="") as f:  # (no second copy)
            reader = csv.reader(f, strict=True)  # an unclosed quote is an error, not the rest of the file in one cell
            header = next(reader, None)
            if header is None:
                raise TableError(path, f"is empty; expected {expected}")
            names = [name.strip().lower() for name in header]
            missing = [column for column in columns if column not in names]
            if missing:
                raise TableError(path, f"no column {' or '.join(missing)} in the header ({','.join(header)}); "
                                       f"expected {expected}{_separator_hint(header)}", 1)
            twice = [column for column in (*columns, *optional) if names.count(column) > 1]
            if twice:  # (the first was read, the other ignored without a word: a tester's)
                places = " and ".join(str(i + 1) for i, name in enumerate(names) if name == twice[0])
                raise TableError(path, f"the header names the column {twice[0]} more than once (columns {places}); "
                                       f"expected {expected}", 1)
            at = {name: names.index(name) for name in names}
            rows, ended = [], reader.line_num
            for cells in reader:
                line, ended = ended + 1, reader.line_num  # the line the row starts on (a quoted line break spans two)
                if strict and len(cells) > len(names) and any(cell.strip() for cell in cells):
                    # (empty cells past the header too: "the red, big circle" unquoted before an empty last
                    # column would move "big circle" into the mask's column, named as a missing file)
                    raise TableError(path, f"{len(cells)} cells, the header names {len(names)}: a cell with a comma "
                                           "in it (a sentence) must be quoted", line)
                if any(cell.strip() for cell in cells):
                    row = Row({name: cells[i] if i < len(cells) else "" for name, i in at.items()})
                    if (short := [column for column in columns if at[column] >= len(cells)]):  # (its own row's
                        # problem, for the caller to refuse with the row, or leave out: "column 'mask' is empty"
                        # before, of a row whose cells ended before it, an own-data reviewer's)
                        row.short = (f"{counted(len(cells), 'cell')}, the header names {len(names)}: "
                                     f"the row ends before its {' and '.join(short)} column{'s' * (len(short) > 1)}")
                    rows.append((line, row))
    except FileNotFoundError:
        note = files.current_folder_note(path)
        raise TableError(path, f"{kind} file not found" + (f" ({note})" if note else "")) from None
    except UnicodeDecodeError:  # (the line of the first bad byte: its own decoder's position, past any BOM)
        bad = _first_bad_byte(data)
        raise TableError(path, f"not UTF-8 text; save the {kind} as UTF-8 CSV",
                         len(data[:bad].replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"))) from None
    except IsADirectoryError:
        raise TableError(path, f"is a folder; expected {expected}") from None
    except OSError as e:
        raise TableError(path, f"cannot be read ({e.strerror or e})") from None
    except csv.Error as e:  # where the row began: an unclosed quote runs to the file's end
        raise TableError(path, f"not CSV ({e}: a quoted sentence must end with a quote, and a quote inside one be "
                               "doubled)", ended + 1) from None
    return names, rows


# What starts a formula in Excel, LibreOffice and Google Sheets (OWASP's "CSV injection" list): a cell that starts
# with one of them, a sentence "=HYPERLINK(...)", is run when the CSV is opened.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str, *, path: bool = False) -> str:
    """A text cell for a CSV acga-tf writes: `text`, with a `'` before it where it starts as a formula does
    (`FORMULA_STARTS`), so a spreadsheet shows it as text instead of running it (docs/serving.md#many-videos). A
    `path` starting with `-` is kept (A2D's clips, named by YouTube ids, often do, and scripts read the paths back):
    a spreadsheet shows it as an error, not as what a formula computes."""
    starts = tuple(start for start in FORMULA_STARTS if start != "-") if path else FORMULA_STARTS
    return "'" + text if text.startswith(starts) else text


def _separator_hint(header: list[str]) -> str:
    """Where a header read as one cell holds another separator (a spreadsheet's CSV in a locale that writes
    semicolons), the words that say so; else ""."""
    if len(header) == 1:
        for separator, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
            if separator in header[0]:
                return f": its columns are separated by {name}, not commas"
    return ""


def _first_bad_byte(data: bytes) -> int:
    """The offset in `data` of its first byte that is not UTF-8 (a text wrapper decodes by chunks: its error's
    position is within one)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return len(data)
