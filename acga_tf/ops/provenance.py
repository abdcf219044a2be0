"""Where a result came from (docs/training.md#provenance): the software that made it, the source commit of a
checkout, and the host's CPU, recorded beside a run's weights and an evaluation's scores, since the same command
rounds differently on another CPU or another TensorFlow (docs/demo.md). Only the standard library is imported here,
so that the benchmarks can import it before choosing a Keras backend."""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import itertools
import os
import platform
import re
import subprocess
import sys

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
# a "/" that no path has: between spaces ("A100 / MIG") or digits (a ratio, "1/2")
_NOT_A_PATHS = re.compile(r"(?<=\s)/(?=\s)|(?<=\d)/(?=\d)")
_SETTING = re.compile(r"^(-{0,2}[A-Za-z_][\w.-]*=)(.*)$", re.S)  # "--data=...", "note=..."


_PATH_START = re.compile(r"""['"(\[<]*(/|~|[A-Za-z]:[\\/]|\\\\|[A-Za-z][\w+.-]*://)""")  # a word a path begins
_QUOTES = re.compile(r"""^(['"(\[<]*)(.*)$""", re.S)  # the quotes or bracket before a path, kept


def without_folders(record: object, key: str | None = None) -> object:
    """`record` (JSON values) with each path cut to its last name, also after a setting's `=`: absolute, relative,
    Windows' and URLs ("/data/a2d/train-*.tfrecord" → "train-*.tfrecord", "runs/alice/exp1" → "exp1",
    "gs://bucket/a" → "a", "--data=/data/a2d" → "--data=a2d", "note=/home/alice/x" → "note=x"): a record shipped to
    others then does not show the folders of the host that made it (`acga export --no-host-paths`). A string under
    a key of `PATH_FIELDS` is a path, and so is a command line's argument (`argv`) or a setting's value holding a
    separator that is not between spaces or digits, spaces and all ("/Users/Jane Doe/a2d" → "a2d"), whatever option
    of a user's own script it follows. In other text, from the first word that begins a path (`/`, `~`, `C:\\`, a
    URL) to the last word holding a separator is one path ("cannot open '/home/Jane Doe/x.h5': No such file" →
    "cannot open 'x.h5': No such file"), and any other word holding one is cut ("and/or" → "or"). "A100 / MIG 3g.40gb"
    and "1/2" are kept. A key that is a path is cut too ("name (2)" where two keys would read the same)."""
    if isinstance(record, dict):  # (a key that is a path too: a mends reviewer's {"/home/me/x.tfrecord": ...})
        cut = {}
        for name, value in record.items():
            short = without_folders(name) if isinstance(name, str) else name
            if short in cut:  # (two paths of one name, or a path and a key of its name: both kept)
                short = next(f"{short} ({n})" for n in itertools.count(2) if f"{short} ({n})" not in cut)
            cut[short] = without_folders(value, name)
        return cut
    if isinstance(record, list):
        return [without_folders(value, key) for value in record]
    if not isinstance(record, str):
        return record
    if key in PATH_FIELDS:
        return _last_name(record)
    if setting := _SETTING.match(record):
        return setting[1] + (_path_cut(setting[2]) if key == "argv" else without_folders(setting[2]))
    if key == "argv" or not any(c.isspace() for c in record):  # (one argument: a path with spaces is one path)
        return _path_cut(record)
    words = re.split(r"(\s+)", record)  # words at even places, the spaces between at odd ones
    begins = next((k for k in range(0, len(words), 2) if _PATH_START.match(words[k])), None)
    if begins is None:
        return "".join(_path_cut(word) for word in words)
    ends = max(k for k in range(begins, len(words), 2) if _path_cut(words[k]) != words[k] or k == begins)
    return "".join([*map(_path_cut, words[:begins]), _path_cut("".join(words[begins:ends + 1])),
                    *map(_path_cut, words[ends + 1:])])


def _path_cut(text: str) -> str:
    """`text` (a word, an argument) cut to its last name where it holds a separator not between spaces or digits, the
    quotes before it kept, a setting's name too ("note=/home/me/x" → "note=x")."""
    if len(_SEPARATORS.findall(text)) <= len(_NOT_A_PATHS.findall(text)):
        return text
    if setting := _SETTING.match(text):
        return setting[1] + _path_cut(setting[2])
    quotes, path = _QUOTES.match(text).groups()
    return quotes + _last_name(path)


def _last_name(path: str) -> str:
    """A path's last name ("/data/a2d/" → "a2d", "C:\\data\\a2d" → "a2d"; "/" kept); a string without a separator
    as it is."""
    if not _SEPARATORS.search(path):
        return path
    return _SEPARATORS.split(path.rstrip("/\\"))[-1] or path[:1]
