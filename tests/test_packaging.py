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


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["-h"], []])
def test_acga_version_and_help_answer_without_tensorflow_and_as_the_command_line_does(argv, capsys):
    # `acga --version` loaded TensorFlow (7 s on 2 cores) to print one line, and `acga --help` or `acga` alone to
    # list the commands (6 to 13 s, in a found-not-fixed list for many sessions): each must say what argparse says.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "tests" / "no_tensorflow"), str(REPO)]))
    proc = subprocess.run([sys.executable, "-m", "acga_tf", *argv], capture_output=True, text=True, env=env,
                          timeout=60)
    from acga_tf.cli import _build_parser
    with pytest.raises(SystemExit) as stopped:
        _build_parser().parse_args(argv)
    said = capsys.readouterr()
    assert (proc.returncode, proc.stdout, proc.stderr) == (stopped.value.code, said.out, said.err), proc.stderr[-2000:]
    assert (proc.returncode, proc.stdout) == ((0, f"acga-tf {acga_tf.__version__}\n") if argv == ["--version"] else
                                              (2, "") if not argv else (0, proc.stdout))
    assert argv == ["--version"] or "evaluate" in (proc.stdout if argv else proc.stderr)  # (the commands listed)


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
