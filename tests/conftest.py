"""Shared fixtures: paths to ../shared, small dataset trees in the real formats, and prepared shards.

Plain helpers live in support.py (random model inputs) and dataset_files.py (the dataset trees' contents); import
them from there, never from this file. Fixtures import the package (TensorFlow) only when they run, so collecting
a test that needs none of them stays fast.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from support import SHARED

import acga_tf  # noqa: F401  (light; before any test module loads TensorFlow: turns oneDNN on, docs/training.md#cpu)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The longest test files of the default suite, longest first (each file's tests summed: 60 to 220 s on a 2-core AVX2
# host, 2026-12-02). pytest-xdist gives each process one file at a time (`--dist loadfile`, setup.cfg) in the order of
# the collection (`--no-loadscope-reorder`; its own reordering counts tests, not seconds): started first, the long
# files do not leave one process running alone at the end. The other files follow in their usual order.
LONGEST_FIRST = ("test_train.py", "test_backends.py", "test_scripts.py", "test_acga.py", "test_predict.py",
                 "reliability/test_reliability.py", "test_notebooks.py", "test_demo.py", "test_mixed_precision.py",
                 "test_evaluate.py", "test_app.py", "test_export.py")


def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).parent
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(os.path.relpath(item.path, tests)).as_posix(), len(rank)))  # stable


@pytest.fixture(scope="session", autouse=True)
def temporary_files_in_basetemp(tmp_path_factory):
    """Every temporary file of the run, this process' and its children's (notebook kernels, `acga` subprocesses,
    Beam, AutoGraph), goes under pytest's base folder, which pytest prunes to the last three runs: the notebooks'
    `tempfile.mkdtemp` folders alone left 47 MB in /tmp per run."""
    folder = str(tmp_path_factory.mktemp("tmpdir"))
    with pytest.MonkeyPatch.context() as patch:  # restored at the session's end
        patch.setenv("TMPDIR", folder)
        patch.setattr(tempfile, "tempdir", folder)
        yield folder


@pytest.fixture(scope="session")
def jax_cache(tmp_path_factory) -> Path:
    """The persistent compilation cache of this test process' JAX programs (`jax_test_env` in tests/support.py). One
    per process: pytest-xdist gives a process one file at a time and a test runs its programs one at a time, so no
    program reads an entry another is writing. The files' programs build the same tiny model: on a 2-core AVX2 host
    gpu.py's tiny run took 54 s after `acga train`'s JAX run (tests/test_backends.py) had filled the cache, 66 s
    cold."""
    return tmp_path_factory.mktemp("jax_cache")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the project's shared fixtures) is not next to the checkout")
    return SHARED


@pytest.fixture(scope="session")
def real_annotations() -> Path:
    """The folder of the datasets' real annotation files (`dataset_files.FIXTURES`); the test is skipped where it is
    absent (a fresh clone without the project's shared fixtures)."""
    from dataset_files import FIXTURES

    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} (the real annotation files of the project's shared fixtures) is absent")
    return FIXTURES


@pytest.fixture(scope="session")
def prepared_a2d(tmp_path_factory) -> dict:
    """A small synthetic A2D Sentences world (6 videos) converted with `prepare`: {"root", "data", "train", "test",
    "summary"}, "train"/"test" being shard globs. Shared by the training, evaluation and notebook tests."""
    from acga_tf.data.convert import prepare
    from acga_tf.data.synthetic import write_a2d_world

    base = tmp_path_factory.mktemp("prepared_a2d")
    summary = write_a2d_world(str(base / "a2d_sentences"), n_videos=6, seed=1)
    prepare("a2d", str(base / "a2d_sentences"), str(base / "data"), progress=False)
    return {"root": str(base / "a2d_sentences"), "data": str(base / "data"),
            "train": str(base / "data" / "train-*.tfrecord"), "test": str(base / "data" / "test-*.tfrecord"),
            "summary": summary}


@pytest.fixture(scope="session")
def a2d_world(tmp_path_factory) -> tuple:
    """A synthetic A2D Sentences world of 8 videos (`acga_tf.data.synthetic`): (root, summary). Read-only: copy it
    to break it."""
    from acga_tf.data.synthetic import write_a2d_world

    root = tmp_path_factory.mktemp("world") / "a2d_sentences"
    summary = write_a2d_world(str(root), n_videos=8, seed=3)
    return root, summary


@pytest.fixture(scope="session")
def a2d_shards(a2d_world, tmp_path_factory) -> Path:
    """`a2d_world` converted by `acga prepare a2d` (dataset_files.SHARD_SIZE frames per shard). Read-only."""
    from dataset_files import prepare_a2d

    root, _ = a2d_world
    out = tmp_path_factory.mktemp("prepared")
    assert prepare_a2d(root, out) == 0
    return out


@pytest.fixture(scope="session")
def a2d_root(tmp_path_factory) -> Path:
    """The hand-written A2D Sentences tree of dataset_files (3 videos, the quirks of docs/data.md#datasets).
    Read-only."""
    from dataset_files import write_a2d_tree

    return write_a2d_tree(tmp_path_factory.mktemp("a2d_sentences"))


@pytest.fixture
def a2d_copy(a2d_root, tmp_path) -> Path:
    """A writable copy for tests that break files."""
    root = tmp_path / "a2d"
    shutil.copytree(a2d_root, root)
    return root


@pytest.fixture(scope="session")
def jhmdb_root(tmp_path_factory) -> Path:
    """The hand-written J-HMDB Sentences tree of dataset_files (2 videos). Read-only."""
    from dataset_files import write_jhmdb_tree

    return write_jhmdb_tree(tmp_path_factory.mktemp("jhmdb") / "jhmdb_sentences")


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> str:
    """A saved tiny run (random weights, a vocabulary covering `runs.QUERY`); see tests/runs.py. Read-only."""
    from runs import make_run

    return make_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="session")
def exported_run(run_dir, tmp_path_factory) -> str:
    """`run_dir` exported as saved_models/acga/1 (no warm-up requests), shared by the modules that need both: an
    export takes 10 to 15 s on a 2-core CPU. Read-only."""
    from acga_tf.serving.export import export_model

    return export_model(run_dir, str(tmp_path_factory.mktemp("saved_models") / "acga" / "1"), warmup=False)


@pytest.fixture(scope="module")
def trained(run_dir):
    """`run_dir` loaded as a `TrainedModel`."""
    from acga_tf.training import artifacts

    return artifacts.load_trained(run_dir)
