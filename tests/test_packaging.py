"""The wheel that `pip install .` builds (setup.cfg): the package alone, with its license and its command.

The repository's `pipelines/` (runnable from a checkout: `python -m pipelines.convert`) used to be installed as a
top-level package `pipelines`, a name that other projects on PyPI use (one install then replaced the other's), and the
wheel carried no license text although its metadata says Apache-2.0.
"""

import configparser
import email.parser
import os
import subprocess
import sys
import zipfile

import pytest
from support import REPO

import acga_tf
from acga_tf.ops import command_line
from acga_tf.ops.extras import extra_packages, install_hint


def test_the_wheel_holds_the_package_its_license_and_the_acga_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = tmp_path.glob("acga_tf-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
    assert {name.split("/")[0] for name in names} == {"acga_tf", info}
    source = {str(path.relative_to(REPO)) for path in (REPO / "acga_tf").rglob("*.py")}
    assert source == {name for name in names if name.endswith(".py")}  # every module, nothing else
    archive = zipfile.ZipFile(wheel)
    license_text = archive.read(f"{info}/LICENSE").decode()
    assert license_text == (REPO / "LICENSE").read_text() and "Apache License" in license_text
    metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
    assert metadata["Name"] == "acga-tf" and metadata["License"] == "Apache-2.0"
    entry_points = configparser.ConfigParser()
    entry_points.read_string(archive.read(f"{info}/entry_points.txt").decode())
    assert dict(entry_points["console_scripts"]) == {"acga": "acga_tf.__main__:main"}


# Each command's help, and each of `acga prepare`'s datasets' (the help's own flag anywhere after the command, and
# after a mistake argparse passes over until the help: an unknown option).
PREPARE_DATASETS = ("a2d", "jhmdb", "custom")  # (`acga prepare --help` lists them: checked below)
HELP_ARGVS = [*([name, "--help"] for name in command_line.COMMANDS), ["predict", "-h"],
              *(["prepare", dataset, "--help"] for dataset in PREPARE_DATASETS), ["prepare", "a2d", "-h"],
              ["-v", "train", "-h"], ["train", "--bogus", "--help"], ["train", "--help", "--epochs", "0"]]


def _without_tensorflow() -> dict:
    """The environment of a subprocess whose `import tensorflow` fails (tests/no_tensorflow), at 100 columns."""
    return dict(os.environ, COLUMNS="100",
                PYTHONPATH=os.pathsep.join([str(REPO / "tests" / "no_tensorflow"), str(REPO)]))


def _parsed(argv: list[str], capsys) -> tuple[int, str, str]:
    """What the command line's parser (with each command's run) answers `argv`: status, stdout, stderr."""
    from acga_tf.cli import _build_parser
    with pytest.raises(SystemExit) as stopped:
        _build_parser().parse_args(argv)
    said = capsys.readouterr()
    return stopped.value.code, said.out, said.err


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["-h"], [], *HELP_ARGVS])
def test_acga_version_and_help_answer_without_tensorflow_and_as_the_command_line_does(argv, capsys, monkeypatch):
    # `acga --version` loaded TensorFlow (7 s on 2 cores) to print one line, and `acga --help` or `acga` alone to
    # list the commands (6 to 13 s, in a found-not-fixed list for many sessions): each must say what argparse says.
    # So did `acga train --help` and every command's help (6 to 12 s): their options are free of TensorFlow now.
    monkeypatch.setenv("COLUMNS", "100")  # (the help's width, here as in the subprocess)
    proc = subprocess.run([sys.executable, "-m", "acga_tf", *argv], capture_output=True, text=True,
                          env=_without_tensorflow(), timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == _parsed(argv, capsys), proc.stderr[-2000:]
    assert (proc.returncode, proc.stdout) == ((0, f"acga-tf {acga_tf.__version__}\n") if argv == ["--version"] else
                                              (2, "") if not argv else (0, proc.stdout))
    if argv in ([], ["-h"], ["--help"]):
        assert "evaluate" in (proc.stdout if argv else proc.stderr)  # (the commands listed)
    elif argv != ["--version"]:  # the help of the command named before the help's flag
        named = [word for word in argv[:argv.index("-h" if "-h" in argv else "--help")] if not word.startswith("-")]
        assert proc.stdout.startswith(" ".join(["usage: acga", *named, "[-h]"]))
    if argv == ["prepare", "--help"]:
        assert f"{{{','.join(PREPARE_DATASETS)}}}" in proc.stdout  # (each dataset's help is among the cases)


@pytest.mark.parametrize("argv", [["train", "--epochs", "0"], ["train", "--bogus"],
                                  ["train", "--epochs", "0", "--help"], ["prepare", "bogus", "--help"],
                                  ["train", "--", "--help"]])
def test_a_mistake_before_the_help_is_left_to_the_command_line(argv, capsys):
    """argparse reads the arguments in order: `acga train --epochs 0 --help` is its error (status 2), not the help.
    That error, as any run's, is the command line's to say, after its own checks (KERAS_BACKEND, the umask), as
    before: here its `import tensorflow` fails, so each of these reached it."""
    proc = subprocess.run([sys.executable, "-m", "acga_tf", *argv], capture_output=True, text=True,
                          env=_without_tensorflow(), timeout=60)
    assert proc.returncode != 0 and "import tensorflow: refused" in proc.stderr, proc.stderr[-2000:]
    assert _parsed(argv, capsys)[0] == 2


def test_a_mistake_before_the_help_is_the_command_lines_one_line(capsys, monkeypatch):
    """`acga train --epochs 0 --help` end to end, TensorFlow loaded: the parser's one-line error, as before."""
    monkeypatch.setenv("COLUMNS", "100")
    argv = ["train", "--epochs", "0", "--help"]
    proc = subprocess.run([sys.executable, "-m", "acga_tf", *argv], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="100", PYTHONPATH=str(REPO)), timeout=300)
    assert (proc.returncode, proc.stdout, proc.stderr) == _parsed(argv, capsys)
    assert proc.stderr.startswith("acga train: error: argument --epochs: ")


def test_an_extras_install_hint_names_the_readmes_command_and_its_packages():
    """A documentation reviewer's: `pip install 'acga-tf[convert]'` in the messages, though README Install installs
    from a checkout (`pip install -e ".[convert]"`) and acga-tf is on no package index. The packages come from the
    installed metadata, so they cannot drift from setup.cfg."""
    parser = configparser.ConfigParser()
    parser.read(os.path.join(REPO, "setup.cfg"))
    extras = parser["options.extras_require"]
    for extra in ("convert", "beam", "serving", "app"):
        assert extra_packages(extra) == extras[extra].split(), extra
    assert install_hint("app") == 'pip install -e ".[app]" in the acga-tf checkout (or: pip install "gradio>=5.50")'
    assert install_hint("convert").endswith("(or: pip install torch)")
