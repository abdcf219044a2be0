"""Executes every notebook in notebooks/ top to bottom with nbclient (the notebooks keep their sizes small in their
first code cell, so each runs in about a minute on a CPU)."""

import pathlib
import re
import subprocess
import sys

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
KERNEL = "python3"


@pytest.fixture(scope="session")
def kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--user", "--name", KERNEL], check=True)
    return KERNEL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_name, tmp_path, monkeypatch):
    import nbclient
    import nbformat

    scratch = tmp_path / "tmp"  # the kernel's temporary folder, to see what a notebook leaves there
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))

    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{path.name}: commit notebooks without outputs"
    client = nbclient.NotebookClient(notebook, kernel_name=kernel_name, timeout=300,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell on any error
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # a workshop tester's: TensorFlow's C++ lines in the outputs (CUDA's "failed call to cuInit", a refused request's
    # "W0000 ... assertion failed"), and the notebooks' working folders left in /tmp
    streams = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", [])
                      if o.get("output_type") == "stream")
    assert not re.search(r"cuInit|^[EWI]\d{4} ", streams, re.M), streams
    # a notebook tester's: absl's "All log messages before absl::InitializeLog()" line and oneDNN's notice (which
    # TF_CPP_MIN_LOG_LEVEL does not keep out), tqdm's "IProgress not found" warning without ipywidgets, and the INFO
    # records TensorFlow's logger prints in an interactive session ("Using MirroredStrategy", "Assets written to")
    # a notebook reviewer's: "AutoGraph could not transform <ACGA ...> ... Please report this to the TensorFlow team"
    # under the quickstart's evaluation (its WARNING:tensorflow records)
    assert not re.search(r"absl::InitializeLog|oneDNN custom operations|IProgress not found|INFO:tensorflow|"
                         r"WARNING:tensorflow|AutoGraph could not", streams), streams
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("acga_")]
