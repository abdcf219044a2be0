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


# where a record holds paths (docs/serving.md#layout): the keys whose strings are paths (a run's `provenance.json`,
# docs/training.md#provenance, and the export's record), and the options of a command line that take one (`acga
# train`'s, or a prefix of them, as argparse reads "--val" for "--val-data")
PATH_FIELDS = frozenset({"model", "cwd", "file", "pattern", "source"})
PATH_OPTIONS = ("--data", "--val-data", "--output", "--word-vectors", "--init-weights", "--config", "--model")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def without_folders(record: object) -> object:
    """`record` (JSON values) with each path cut to its last name, also after an option's `=`: absolute, relative
    and URLs ("/data/a2d/train-*.tfrecord" → "train-*.tfrecord", "runs/alice/exp1" → "exp1", "gs://bucket/a" → "a",
    "--data=/data/a2d" → "--data=a2d"): a record shipped to others then does not show the folders of the host that
    made it (`acga export --no-host-paths`). A path is a string under a key of `PATH_FIELDS`, an absolute path (or
    one from "~", "./" or "../"), a URL, one of the strings the record holds under those keys (a pattern as given,
    relative), and in a command line (`argv`) its program and the value of an option of `PATH_OPTIONS`. Any other
    string is kept, a "/" in it or not (a precision "mixed_float16/...", a GPU's "A100 / MIG 3g.40gb", "1/2": they
    were cut to what followed their last "/")."""
    recorded = set(_path_values(record))
    return _without_folders(record, None, recorded)


def _path_values(record: object, key: str | None = None):
    if isinstance(record, dict):
        for name, value in record.items():
            yield from _path_values(value, name)
    elif isinstance(record, list):
        for value in record:
            yield from _path_values(value, key)
    elif isinstance(record, str) and key in PATH_FIELDS:
        yield record


def _without_folders(record: object, key: str | None, recorded: set[str]) -> object:
    if isinstance(record, dict):
        return {name: _without_folders(value, name, recorded) for name, value in record.items()}
    if isinstance(record, list):
        if key == "argv" and all(isinstance(arg, str) for arg in record):
            return _command_line(record, recorded)
        return [_without_folders(value, key, recorded) for value in record]
    if not isinstance(record, str):
        return record
    return _last_name(record) if key in PATH_FIELDS or _is_path(record, recorded) else record


def _is_path(text: str, recorded: set[str]) -> bool:
    return (text in recorded or os.path.isabs(text) or text.startswith(("~", "./", "../", "." + os.sep, ".." + os.sep))
            or _URL.match(text) is not None)


def _command_line(argv: list[str], recorded: set[str]) -> list[str]:
    """`argv` with its program, the values of `PATH_OPTIONS` and any other path (`_is_path`) cut to their names."""
    path_option = lambda flag: len(flag) > 2 and flag.startswith("--") and any(o.startswith(flag) for o in PATH_OPTIONS)
    cut = []
    for k, arg in enumerate(argv):
        if k == 0:
            cut.append(_last_name(arg))
        elif arg.startswith("-") and "=" in arg:
            flag, equals, value = arg.partition("=")
            cut.append(flag + equals + (_last_name(value) if path_option(flag) or _is_path(value, recorded) else value))
        elif path_option(argv[k - 1]) and "=" not in argv[k - 1] or _is_path(arg, recorded):
            cut.append(_last_name(arg))
        else:
            cut.append(arg)
    return cut


def _last_name(path: str) -> str:
    """A path's last name ("/data/a2d/" → "a2d"; "/" kept); a string without a separator as it is."""
    if "/" not in path and os.sep not in path:
        return path
    return os.path.basename(path.rstrip("/" + os.sep)) or path[:1]
