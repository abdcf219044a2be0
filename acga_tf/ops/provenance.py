"""Where a result came from (docs/training.md#provenance): the software that made it, the source commit of a
checkout, and the host's CPU, recorded beside a run's weights and an evaluation's scores, since the same command
rounds differently on another CPU or another TensorFlow (docs/demo.md). Only the standard library is imported here,
so that the benchmarks can import it before choosing a Keras backend."""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import urllib.parse

from acga_tf import __version__

PACKAGES = ("tensorflow", "keras", "numpy", "jax", "torch", "h5py", "av")


def now() -> str:
    """The time in UTC, to the second, as ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1)
def source_commit() -> str | None:
    """The git commit of the checkout acga_tf runs from, with "-modified" where its files differ from it; None where
    acga_tf is not in a git checkout (installed from a wheel) or git is missing. Every version so far is 0.1.0, so
    the version alone does not tell two states of the code apart."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # acga_tf/
    root = os.path.dirname(package)
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    try:
        git = ["git", "--no-optional-locks", "-C", root]  # (no index.lock taken beside a user's git command)
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                check=True).stdout.strip()
        changed = subprocess.run([*git, "status", "--porcelain", "--", package], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-modified" if changed else commit or None


@functools.lru_cache(maxsize=1)
def _software() -> tuple:
    versions = {"acga_tf": __version__, "source_commit": source_commit(), "python": platform.python_version(),
                "keras_backend": os.environ.get("KERAS_BACKEND") or _loaded_backend()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return tuple(versions.items())


def software() -> dict[str, str | None]:
    """acga-tf's version and source commit, Python's, the Keras backend, and the installed versions of the libraries
    whose arithmetic or files a result depends on (those not installed left out). Read once a process (`acga evaluate
    RUN/checkpoints` records them for each checkpoint)."""
    return dict(_software())


def _loaded_backend() -> str | None:
    keras = sys.modules.get("keras")
    return keras.backend.backend() if keras is not None else None


def cpu_features() -> str:
    """The CPU's instructions that decide this package's speed and rounding ("AVX512-BF16, AMX" or "AVX2 only"), from
    /proc/cpuinfo's flags: a CPU model's name ("AMD EPYC") does not tell the README's hosts apart (the demo took 7 min
    on one with AVX512-BF16, 32 min on one with AVX2 only). "" where the flags are not known."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next((line.partition(":")[2].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return ""
    names = {"avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX"}
    found = [name for flag, name in names.items() if flag in flags]
    if not found:
        found = ["AVX512F"] if "avx512f" in flags else ["AVX2 only"] if "avx2" in flags else []
    return ", ".join(found)


def host(**details) -> dict[str, object]:
    """The machine: its platform, processor, CPU instructions (`cpu_features`) and core count, and `details` (the
    caller's: the GPU, whether oneDNN is on, the replicas)."""
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu_features() or None,
            "cores": os.cpu_count(), **details}


# the keys whose strings are paths, whatever they hold (a run's `provenance.json`, docs/training.md#provenance, and
# the export's record, docs/serving.md#layout)
PATH_FIELDS = frozenset({"model", "cwd", "file", "pattern", "source"})
_SEPARATORS = re.compile(r"[/\\]")  # a path's separators, POSIX's and Windows'
# "/" that no path has: between spaces ("A100 / MIG") or in a run of digits alone (a ratio or date, "1/2", "06/12/2026")
_NOT_A_PATHS = re.compile(r"(?<=\s)/(?=\s)|(?<![\w/\\])\d+(?:/\d+)+(?![\w/\\])")
_SETTING = re.compile(r"^(-{0,2}[A-Za-z_][\w.-]*=)(.*)$", re.S)  # "--data=...", "note=..."
# where a path begins in a word of text: at its start or after = ( ' " ` { [ < : (`--data=/x`, `open('/x`, `file:/x`)
_PATH_START = re.compile(r"""(?:^|(?<=[=('"`{\[<:]))(/|~|[A-Za-z]:[\\/]|\\\\|[A-Za-z][\w+.-]*://)""")
_URL = re.compile(r"^[A-Za-z][\w+.-]*://")
# a word of prose with one "/" between letters ("and/or", "I/O", "TCP/IP", "input/output"; after it, a hyphen or an
# apostrophe between letters: "I/O-bound", "read/write-heavy"), punctuation around it: no path sign (a folder of
# digits, a dot, "_", "-" or "'" before the "/", "~", a second separator) is in it, so free text keeps it whole (a
# folder named with a hyphen or an apostrophe, "jane-doe/videos", "D'Angelo/Desktop", is a path's: a reviewer's)
_PROSE = re.compile(r"""[(\["'`{<]*[^\W\d_]+/[^\W\d_]+(?:['\u2019-][^\W\d_]+)*[)\]"'`}>.,;:!?]*""")
PATH_GAP = 2  # words without a separator a path of text may hold between two with one ("/Users/Jane Middle Doe/x")


def without_folders(record: object, key: str | None = None) -> object:
    """`record` (JSON values) with each path cut to its last name: absolute, relative, Windows' and URLs (their user,
    password and query left out: "https://alice:pw@host/a?token=..." → "a"), also after a setting's `=`
    ("/data/a2d/train-*.tfrecord" → "train-*.tfrecord", "runs/alice/exp1" → "exp1", "--data=/data/a2d" → "--data=a2d",
    "note=runs/Jane Doe/x" → "note=x"): a record shipped to others then does not show the folders of the host that made
    it (`acga export --no-host-paths`). A string under a key of `PATH_FIELDS` is a path, and so is a command line's
    argument (`argv`) or a setting's value holding a separator, spaces and all ("/Users/Jane Doe/a2d" → "a2d"), whatever
    option of a user's own script it follows; one without a separator, a served model's name, is kept. In other text, a
    path begins at a word's start or after `=`, `(`, a quote, `:` ("cannot open '/home/Jane Doe/x.h5': No such file" →
    "cannot open 'x.h5': No such file"; "~alice/data/a2d", a home's, → "a2d") and runs on over the words holding a
    separator (but one that begins a path), `PATH_GAP` words without one between them at most; any other word holding a
    separator is cut too ("runs/exp1" → "exp1": a relative path with a space in free text loses its folders word by
    word), but for a word of letters on both sides of one "/", which is prose ("and/or", "I/O", "TCP/IP", "I/O-bound"
    are kept, "jane-doe/videos" is not: docs/serving.md#layout). A "/" between spaces or in a run of digits is no path's
    ("A100 / MIG 3g.40gb", "1/2" and "06/12/2026" are kept). A key that is a path is cut too; where two keys then read
    the same, the later one cut is "name (2)", and a key that was not cut keeps its name."""
    if isinstance(record, dict):  # (a key that is a path too: a mends reviewer's {"/home/me/x.tfrecord": ...})
        keys = {name: _text_cut(name) if isinstance(name, str) else name for name in record}
        taken, counts, cut = {short for name, short in keys.items() if short == name}, {}, {}
        for name, value in record.items():
            short = keys[name]
            if short != name and short in taken:  # (two paths of one name, or a path and a field of its name)
                counts[short] = counts.get(short, 2)
                while f"{short} ({counts[short]})" in taken:
                    counts[short] += 1
                short = f"{short} ({counts[short]})"
            taken.add(short)
            cut[short] = without_folders(value, name)
        return cut
    if isinstance(record, list):
        return [without_folders(value, key) for value in record]
    if not isinstance(record, str):
        return record
    if key in PATH_FIELDS:  # (what holds no path's separator, a served model's name, say, is kept)
        return _path_cut(record)
    prefix, value = _settings(record)
    if prefix or key == "argv":  # (one argument, one setting's value: a path with spaces is one path)
        return prefix + _path_cut(value)
    return _text_cut(record)


def _settings(text: str) -> tuple[str, str]:
    """("--a=b=", value) of a chain of settings ("--a=b=/x"), ("", text) of none (a loop: a chain of a thousand was a
    RecursionError, a reviewer's)."""
    prefix = ""
    while setting := _SETTING.match(text):
        prefix, text = prefix + setting[1], setting[2]
    return prefix, text


def _holds_path(text: str) -> bool:
    """Whether `text` holds a separator that is not between spaces or in a run of digits."""
    return len(_SEPARATORS.findall(text)) > sum(match.group().count("/") for match in _NOT_A_PATHS.finditer(text))


def _in_text(word: str) -> bool:
    """Whether a word of text holds a path's separator (`_holds_path`; a "/" alone, as in "A100 / MIG", is none)."""
    return _holds_path(word) and word.strip("/\\") != ""


def _path_cut(text: str) -> str:
    """`text` (an argument, a setting's value) cut to its last name where it holds a path's separator."""
    return _last_name(text) if _holds_path(text) else text


def _text_cut(text: str) -> str:
    """Text with its paths cut (`without_folders`)."""
    words = re.split(r"(\s+)", text)  # words at even places, the spaces between at odd ones
    out, k = [], 0
    while k < len(words):
        begins = _PATH_START.search(words[k]) if k % 2 == 0 else None
        if begins is not None and not _in_text(words[k][begins.start():]):  # ("~" alone, a "/" alone)
            begins = None
        if begins is None:
            out.append(_word_cut(words[k]) if k % 2 == 0 else words[k])
            k += 1
            continue
        ends, gap = k, 0
        for j in range(k + 2, len(words), 2):
            if gap > PATH_GAP or _PATH_START.search(words[j]):  # (a word that begins a path of its own)
                break
            if _in_text(words[j]):
                ends, gap = j, 0
            else:
                gap += 1
        out.append(words[k][:begins.start()] + _last_name("".join(words[k:ends + 1])[begins.start():]))
        k = ends + 1
    return "".join(out)


def _word_cut(word: str) -> str:
    """A word of text that holds a separator cut to its last name, a setting's name kept; a word of prose ("and/or",
    `_PROSE`) kept (a setting's value is a path still: "--data=data/train" → "--data=train")."""
    prefix, value = _settings(word)
    if not _in_text(value) or (not prefix and _PROSE.fullmatch(word)):
        return word
    return prefix + _path_cut(value)


def _last_name(path: str) -> str:
    """A path's last name ("/data/a2d/" → "a2d", "C:\\data\\a2d" → "a2d", a URL's path's: its user, password,
    query and fragment left out; "/" kept); a string without a separator as it is."""
    if _URL.match(path):
        try:
            parts = urllib.parse.urlsplit(path)
            hostname = parts.hostname
        except ValueError:  # ("http://[::1/x": "Invalid IPv6 URL", a traceback of `acga export`, a reviewer's):
            parts, hostname = None, None  # cut as a path, user and host with its folders
        if parts is not None:
            tail = parts.path.rstrip("/")
            return _SEPARATORS.split(tail)[-1] if tail else hostname or ""
    if not _SEPARATORS.search(path):
        return path
    return _SEPARATORS.split(path.rstrip("/\\"))[-1] or path[:1]
