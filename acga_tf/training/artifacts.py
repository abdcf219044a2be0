"""A trained model on disk: the one layout that `train` writes and `evaluate`, `export`, `predict` and the demo read.

    <run>/model.keras        the final model (`keras.saving.load_model`, no custom objects needed)
    <run>/config.json        its ACGAConfig (the architecture)
    <run>/experiment.json    the ExperimentConfig it was trained with (model, data, training), when known; `train`
                             writes it when training starts
    <run>/vocab.txt          the vocabulary (word<TAB>count), row i of the embedding matrix is word i
    <run>/embeddings.npy     float32 (V, D) word vectors the model was trained with (row 0: padding/unknown)

`path` may be the run directory, its `model.keras`, or one of its checkpoints (`<run>/checkpoints/epoch-NN.keras`):
the vocabulary files are looked up beside the model file, then in the folder above it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import itertools
import json
import logging
import math
import os
import random
import re
import tempfile
import zipfile
import zlib

import h5py
import keras
import numpy as np

from acga_tf.data.vocab import (
    SentenceVectorizer,
    Vocabulary,
    load_embedding_matrix,
    save_embedding_matrix,
)
from acga_tf.models import acga, losses, metrics  # noqa: F401  (registers the serializable classes)
from acga_tf.models.config import FORMER_FIELDS, ACGAConfig
from acga_tf.ops import files, limits
from acga_tf.ops.devices import gpu_description

logger = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
EXPERIMENT_FILE = "experiment.json"
PROVENANCE_FILE = "provenance.json"
DAMAGED_PROVENANCE = re.compile(r"provenance\.json\.damaged(\.\d+)?")  # a damaged record kept (`record_session`)
SAVED_MODEL_FILE = "saved_model.pb"  # what makes a folder a SavedModel (`saved_model_version`)
VOCAB_FILE = "vocab.txt"
EMBEDDINGS_FILE = "embeddings.npy"
CHECKPOINT_DIR = "checkpoints"  # <run>/checkpoints/epoch-NN.keras (`train`)
BACKUP_DIR = "backup"  # <run>/backup: what a stopped run resumes from (`train`)
# A run's own files (with its checkpoints and backup): what no command's output may replace (`model_files`)
RUN_FILES = (MODEL_FILE, CONFIG_FILE, EXPERIMENT_FILE, PROVENANCE_FILE, VOCAB_FILE, EMBEDDINGS_FILE)
# In each `.keras` file a run writes (`model.keras`, its checkpoints): the digest of the words it was trained with
# (`words_digest`), so that a copy without its run's word files beside it is not scored with other words. It is the
# zip archive's comment, `WORDS_KEY` in JSON; files of 2026-12-05 hold it as an entry, `WORDS_ENTRY`, which made
# Keras unpack the whole archive into a temporary folder at every load (it does so for a file of more than its own
# three entries) and leave that folder behind where the unpacking failed (a full disk).
WORDS_KEY = "acga_words"
WORDS_ENTRY = "acga_words.json"


@dataclasses.dataclass
class TrainedModel:
    """A loaded run: the model, its config and the word vectors it was trained with."""

    model: keras.Model
    config: ACGAConfig
    vocabulary: object  # acga_tf.data.vocab.Vocabulary
    embeddings: np.ndarray
    directory: str

    def __post_init__(self):
        require_acga(self.model)

    def vectorizer(self):
        """A `SentenceVectorizer` (string sentences → (B, L, D) word vectors) for this model."""
        return SentenceVectorizer.from_vocabulary(self.vocabulary, self.embeddings, self.config.sentence_length)


def require_acga(model) -> None:
    """Refuses, in one line, a model that is not an `ACGA` (or a subclass of it): a run's files, evaluation, prediction
    and export read its config and multi-sentence pass (another `keras.Model` fails deep inside with
    "'MyModel' object has no attribute 'config'", after a run's word files are written).

    Raises:
        TypeError: `model` is not an `ACGA`.
    """
    if not isinstance(model, acga.ACGA):
        raise TypeError(f"model is a {type(model).__name__}, not an ACGA: a run holds an ACGA or a subclass of it "
                        "(a stage of your own: ACGA(config, stages=...), docs/model.md#extending)")


def arrays_digest(arrays, *, digest=None) -> str:
    """A short sha256 of arrays (each one's dtype, shape and bytes, in order): what a run's weights or word vectors
    are known by (`acga_tf.apps.batch.model_identity`, the backup's record of the word vectors). `digest`: a
    `hashlib` object already fed with something else."""
    digest = digest or hashlib.sha256()
    for array in arrays:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(array))
        digest.update(f"{value.dtype}:{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def words_digest(words, embeddings) -> str:
    """`arrays_digest` of a vocabulary's words, in order, and their vectors: what a model's words are known by."""
    return arrays_digest([np.asarray([str(w) for w in words], dtype=str), np.asarray(embeddings, np.float32)])


def record_words(keras_path: str, digest: str) -> None:
    """Records the digest of the words the model reads (`words_digest`, computed once by the caller) as the `.keras`
    file's zip comment (`WORDS_KEY`; Keras reads its entries alone)."""
    with zipfile.ZipFile(keras_path, "a") as archive:
        archive.comment = json.dumps({WORDS_KEY: digest}).encode()


def recorded_words(keras_path: str) -> str | None:
    """The digest `record_words` recorded in a `.keras` file (or the entry of a file of 2026-12-05, `WORDS_ENTRY`);
    None for a file without it (saved by Keras alone, or by acga-tf before 2026-12-05)."""
    try:
        with zipfile.ZipFile(keras_path) as archive:
            if archive.comment:
                return str(json.loads(archive.comment)[WORDS_KEY])
            return str(json.loads(archive.read(WORDS_ENTRY))["words"])
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, OSError):
        return None


def save_vocabulary(directory: str, vocabulary, embeddings: np.ndarray) -> None:
    """Writes `vocab.txt` and `embeddings.npy` into `directory`."""
    os.makedirs(directory, exist_ok=True)  # (their shapes checked by `save_trained`, the caller)
    with files.atomic_path(os.path.join(directory, VOCAB_FILE)) as temporary:
        vocabulary.save(temporary)
    with files.atomic_path(os.path.join(directory, EMBEDDINGS_FILE), suffix=".partial.npy") as temporary:
        save_embedding_matrix(temporary, embeddings)  # (np.save appends .npy to names without it)


def save_weights(model: keras.Model, path: str) -> None:
    """`model.save_weights(path)` (a `.weights.h5` file), written atomically (`files.atomic_path`). Where the write
    fails (a full disk), the HDF5 file Keras left open is closed at once and the error names `path` with the system's
    reason: left open, HDF5 flushed it again as Python exited, printing its traceback twice, and the process died of
    a segmentation fault (`acga train` on a full disk, status 139). The file's size is reserved first
    (`_reserve_space`), so that a disk too full for it fails before HDF5 writes: closing a file HDF5 failed to write
    is itself a segmentation fault where the disk fills mid-write (a 12 MB quota, say)."""
    try:
        with files.atomic_path(path, suffix=".staging.weights.h5") as temporary:  # Keras wants .weights.h5
            _reserve_space(temporary, _weights_file_size(model))
            open_before = _open_hdf5_files()
            try:
                keras.Model.save_weights(model, temporary, overwrite=True)  # the model's own, not what a class
                # gives instead (a training task saves its ACGA's for callbacks: `TrainingTask.save_weights`)
            except BaseException:
                _close_hdf5(_open_hdf5_files() - open_before)
                raise
    except OSError as e:
        if e.errno is None:
            raise
        raise OSError(e.errno, os.strerror(e.errno), path) from None


def _weights_file_size(model: keras.Model) -> int:
    """An upper bound of the bytes `model.save_weights` writes: the weights and a compiled model's optimizer state
    (Adam's two moments), and HDF5's records of each (1.1 KB a variable measured: 12.61 MB for a tiny run's backup of
    11.93 MB in 617 variables, so at most a fifth above the size)."""
    optimizer = getattr(model, "optimizer", None)
    variables = [*model.weights, *(optimizer.variables if optimizer is not None else [])]
    return sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize + 4096 for v in variables) + (1 << 20)


def _reserve_space(path: str, size: int) -> None:
    """Allocates `size` bytes for the file at `path` (made empty; the writer then truncates it), so that a disk or quota
    without them fails here, with ENOSPC or EDQUOT naming `path`. A file system that cannot allocate ahead is left
    to the writer."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        os.posix_fallocate(descriptor, 0, size)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise OSError(e.errno, os.strerror(e.errno), path) from None
    finally:
        os.close(descriptor)


def _open_hdf5_files() -> set[int]:
    """The identifiers of the HDF5 files open in this process."""
    return {file_id.id for file_id in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE)}


def _close_hdf5(identifiers: set[int]) -> None:
    """Closes the HDF5 files of `identifiers` (h5py's objects of them become invalid), whatever their state. Told by
    identifier, not by name: asking HDF5 the name of a file whose write failed is itself a segmentation fault (a 12 MB
    quota filled by the first backup, say)."""
    for file_id in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
        if file_id.id in identifiers:
            with contextlib.suppress(Exception):  # its flush fails again, for the reason the caller is told
                h5py.File(file_id).close()


def save_trained(directory: str, model: keras.Model, vocabulary, embeddings: np.ndarray, *,
                 experiment=None, overwrite: bool = False) -> str:
    """Writes the whole layout (each file atomically); returns the model path.

    Args:
        experiment: the `ExperimentConfig` of the run, written to `experiment.json` when given.
        overwrite: replace the model, words and config of a trained run already in `directory` (`fit` does, for
            its own run); else such a folder is refused.

    Raises:
        TypeError: `model` is not an `ACGA` (`require_acga`), `vocabulary` not a `Vocabulary`, `embeddings` not a
            float array, before anything is written.
        ValueError: `embeddings` is not (the vocabulary's words, the model's word_dim), before anything is
            written (word vectors of another width replaced a run's own, and the run no longer loaded).
        FileExistsError: `directory`, a local folder, holds a trained run (its `model.keras`) or one whose
            training began (its `experiment.json`: a stopped run, resumable from its backup) and not `overwrite`,
            before anything is written: a notebook's cell pointed at a trained run replaced its model with an
            untrained one, its `experiment.json`, provenance and checkpoints left beside it (a notebook tester's).
    """
    require_acga(model)
    _check_words(model, vocabulary, embeddings)
    directory = os.fspath(directory)
    if not overwrite and "://" not in directory:
        for name, what in ((MODEL_FILE, "a trained run"), (EXPERIMENT_FILE, "a run whose training began")):
            if os.path.exists(os.path.join(directory, name)):
                raise FileExistsError(f"{directory}: holds {what} ({name}): not replaced; save into another "
                                      "folder, or pass overwrite=True to replace its model, words and config")
    save_vocabulary(directory, vocabulary, embeddings)
    files.write_text(os.path.join(directory, CONFIG_FILE), model.config.to_json() + "\n")
    if experiment is not None:
        save_experiment(directory, experiment)
    path = os.path.join(directory, MODEL_FILE)
    with files.atomic_path(path, suffix=".partial.keras") as temporary:  # Keras wants the .keras ending
        model.save(temporary)
        record_words(temporary, words_digest(vocabulary.words, embeddings))
    return path


def _check_words(model: keras.Model, vocabulary, embeddings) -> None:
    """`save_trained`'s words checked before anything is written: a `Vocabulary`, and a (words, word_dim) float
    matrix. Before, word vectors of another width replaced a run's own (`overwrite=True`) and the run no longer
    loaded; a list of words or of vectors was an AttributeError, an empty folder left (a library tester's)."""
    if not isinstance(vocabulary, Vocabulary):
        raise TypeError(f"vocabulary is a {type(vocabulary).__name__}, not an acga_tf.data.vocab.Vocabulary: give "
                        "the run's (load_trained(run).vocabulary) or Vocabulary.load('vocab.txt')")
    if not isinstance(embeddings, np.ndarray) or embeddings.dtype.kind != "f":
        raise TypeError(f"embeddings is a {type(embeddings).__name__}"
                        f"{f' of {embeddings.dtype}' if isinstance(embeddings, np.ndarray) else ''}, not a NumPy "
                        "float matrix (words, word_dim)")
    expected = (len(vocabulary.words), model.config.word_dim)
    if embeddings.shape != expected:
        raise ValueError(f"embeddings has the shape {embeddings.shape}; the vocabulary's {expected[0]} words (the "
                         f"padding row first) by the model's word_dim {expected[1]} is {expected}")


def save_experiment(directory: str, experiment) -> None:
    """Writes `experiment.json` (an `ExperimentConfig`) into `directory`, atomically. `train` also writes it when
    training starts, before the run's first backup: `--resume` refuses another experiment (docs/training.md#resume)."""
    files.write_text(os.path.join(directory, EXPERIMENT_FILE), experiment.to_json() + "\n")


def record_session(directory: str, session: dict) -> None:
    """Adds one training command's record to the run's `provenance.json` (`{"sessions": [...]}`,
    docs/training.md#provenance), atomically: what it read (the shards with their sha256, the starting weights, the
    word vectors), the precision, the software and the host. A record that is not valid JSON is kept beside it
    (`provenance.json.damaged`, then `.damaged.2`, ...: an earlier one is never replaced), with a warning."""
    path = os.path.join(directory, PROVENANCE_FILE)
    sessions = []
    if os.path.isfile(path):
        try:
            sessions = files.read_json(path)["sessions"]
            if not isinstance(sessions, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            names = (f"{path}.damaged" if n == 1 else f"{path}.damaged.{n}" for n in itertools.count(1))
            kept = next(name for name in names if not os.path.lexists(name))
            os.replace(path, kept)
            logger.warning("%s: not a run's record of its sessions; kept as %s, and a new one begun", path, kept)
            sessions = []
    files.write_json(path, {"sessions": [*sessions, session]})


def run_directory(path: str) -> str | None:
    """The run folder holding the vocabulary of the model at `path` (a run directory, its `model.keras`, or a
    checkpoint one folder below the run); None when there is none."""
    directory = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for candidate in (directory, os.path.dirname(directory)):
        if all(os.path.exists(os.path.join(candidate, f)) for f in (VOCAB_FILE, EMBEDDINGS_FILE)):
            return candidate
    return None


LARGEST_VERSION = 2**63 - 1  # TF Serving reads a version folder's name as an int64: a larger one is not a version


def saved_model_version(path: str) -> str | None:
    """The SavedModel folder `path` names: itself, or the highest integer version inside it (TF Serving's
    `saved_models/NAME` layout, whose versions are 64-bit integers: a folder of a larger number, which TF Serving does
    not serve, is passed over as it passes it over); None when it is neither."""
    if os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
        return path
    versions = [int(n) for n in os.listdir(path) if n.isdigit() and n.isascii() and int(n) <= LARGEST_VERSION
                and os.path.isfile(os.path.join(path, n, SAVED_MODEL_FILE))]
    return os.path.join(path, str(max(versions))) if versions else None


def unfinished_saved_model(path: str) -> str | None:
    """Where `path` is a SavedModel, or TF Serving's folder of its versions, whose highest version lacks its
    `saved_model.pb` (an export or a copy that did not finish; TF Serving would fail to load that version): that
    version's folder; else None. A version folder counts where it holds a SavedModel's `variables` folder or
    `fingerprint.pb`, or nothing at all (made for a copy that never came)."""
    def unfinished(inside: list[str]) -> bool:
        return SAVED_MODEL_FILE not in inside and (not inside or "variables" in inside or "fingerprint.pb" in inside)

    names = os.listdir(path)  # (listed once)
    if names and unfinished(names):  # the version folder itself (an empty folder is not taken for one)
        return path
    if SAVED_MODEL_FILE in names:
        return None
    numbered = sorted(int(n) for n in names if n.isdigit() and n.isascii() and int(n) <= LARGEST_VERSION
                      and os.path.isdir(os.path.join(path, n)))  # (TF Serving's versions, as `saved_model_version`)
    if not numbered:
        return None
    highest = os.path.join(path, str(numbered[-1]))
    try:
        return highest if unfinished(os.listdir(highest)) else None
    except OSError:
        return None


def models_inside(folder: str, depth: int = 2, saved_models: bool = True) -> list[str]:
    """The trained runs (folders holding `model.keras`) and, with `saved_models`, SavedModels (`saved_model_version`)
    in `folder`'s subfolders, `depth` levels down at most, relative to it and sorted: what a `--model` naming the
    folder above them (a demo's output folder, `saved_models/`) meant."""
    found = []
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir() and not entry.name.startswith("."))
    except OSError:
        return found
    for name in names[:100]:  # a big folder (`--model ~`) is not searched through
        path = os.path.join(folder, name)
        try:
            model = os.path.isfile(os.path.join(path, MODEL_FILE)) or (saved_models and
                                                                        saved_model_version(path) is not None)
        except OSError:
            continue
        if model:
            found.append(name)
        elif depth > 1:
            found += [os.path.join(name, inner) for inner in models_inside(path, depth - 1, saved_models)]
    return found


def folder_of_models_error(path: str, saved_models: bool = True) -> FileNotFoundError | None:
    """The error for a `--model` naming a folder that holds no model itself but models in its subfolders
    (`--model demo_output`, the folder above the run and the export), naming them (`models_inside`: runs,
    and SavedModels where the command takes them); None for any other path."""
    if not os.path.isdir(path) or os.path.exists(os.path.join(path, MODEL_FILE)):
        return None
    inside = models_inside(path, saved_models=saved_models)
    if not inside:
        return None
    more = f" and {len(inside) - 4} more" if len(inside) > 4 else ""
    return FileNotFoundError(f"{path}: holds no model itself; models in it: "
                             f"{', '.join(os.path.join(path, name) for name in inside[:4])}{more}: give one of them")


def _require_keras_file(path: str) -> None:
    """Refuses, in one line, a file that is not a `.keras` file (Keras' own message suggests a SavedModel layer)."""
    if not path.endswith(".keras"):
        raise ValueError(f"{path}: not a .keras file (a trained run is its folder, its {MODEL_FILE} or a checkpoint "
                         "checkpoints/epoch-NN.keras)")


@contextlib.contextmanager
def _python_random_kept():
    """Puts Python's `random` stream back as it was after the block: Keras draws a seed from it for every initializer
    it rebuilds without one (about 60 for an ACGA), so loading a model moved a caller's seeded stream (a script that
    seeded `random`, loaded a run and then drew numbers drew others than without the load)."""
    state = random.getstate()
    try:
        yield
    finally:
        random.setstate(state)


def check_keras_archive(path: str) -> None:
    """Raises a ValueError where the `.keras` file at `path` is not a zip archive (Keras says "File not found" of an
    empty or truncated one)."""
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras file: {os.path.getsize(path)} bytes that are not a zip archive "
                         "(truncated, or not written by Keras)")


def load_model_file(path: str) -> keras.Model:
    """`keras.saving.load_model` with acga_tf's serializable classes registered, not compiled: evaluation, prediction
    and export need no optimizer (a compiled model's `.keras` file would otherwise build its state, two values a
    weight for Adam; `keras.saving.load_model` gives it for further training, docs/model.md#fine-tuning).

    Raises:
        ValueError: the file is not a `.keras` file, not a Keras model, or not an `ACGA`.
    """
    _require_keras_file(path)
    files.check_readable(path)  # before the zip check, which read it as a damaged file
    check_keras_archive(path)
    try:
        with _python_random_kept():
            model = keras.saving.load_model(path, compile=False)
    except (zipfile.BadZipFile, zlib.error) as e:  # a copy changed on the way: "Bad CRC-32 for file ..." (else a
        # traceback, status 1: a .keras with 5 KB overwritten, say)
        raise ValueError(f"{path}: damaged ({e}): copy it again from where it was written, or load another "
                         "checkpoint") from None
    except (ValueError, TypeError, KeyError, OSError) as e:  # Keras' errors for files that are not .keras models
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):  # (the file was blamed)
            raise ValueError(f"{path}: cannot load a Keras model: no room to unpack it ({e.strerror}; Keras unpacks "
                             "the weights of a model larger than the free memory beside the file, and a .keras file "
                             f"of 2026-12-05 whole into {tempfile.gettempdir()}: TMPDIR names another folder)"
                             ) from None
        if "safe_mode" in str(e):  # Keras' refusal of a Lambda layer's Python code (a file to distrust, not to run)
            raise ValueError(f"{path}: holds Python code (a Lambda layer), which Keras does not run from a file "
                             "(its safe mode): not a model acga-tf wrote (its models have no Lambda layer); do not "
                             "load it unless you know who wrote it and why") from None
        if unknown := _unknown_classes(path):  # (Keras said "... could not be deserialized properly")
            raise ValueError(f"{path}: holds a class of your own, {', '.join(unknown)}, which this process does not "
                             "know: load it from Python after importing the module that defines it, registered with "
                             "@keras.saving.register_keras_serializable; the acga command knows acga-tf's classes "
                             "only (docs/model.md#extending)") from None
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        limit = limits.memory_limit_hint()  # Keras reports an allocation that failed as objects it could not load
        raise ValueError(f"{path}: cannot load a Keras model ({first_line.rstrip(':')})"
                         + (f"; it may have run out of memory{limit}" if limit else "")) from None
    if not isinstance(model, acga.ACGA):
        raise ValueError(f"{path}: a {type(model).__name__}, not an ACGA model (acga-tf loads the .keras files that "
                         "`acga train` or `ACGA.save` write)")
    return _runnable_here(model, path)


def _unknown_classes(path: str) -> list[str]:
    """The registered names (`package>Class`, or an unregistered class's own name) in a `.keras` file's config that
    neither Keras nor this process knows: a model extended with classes of one's own (docs/model.md#extending),
    loaded where they are not imported, or never registered."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    names, stack = set(), [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name, module = item.get("registered_name"), item.get("module")
            keras_own = isinstance(module, str) and module.split(".")[0] == "keras"  # ("Functional": Keras' own)
            if isinstance(name, str) and not keras_own and keras.saving.get_registered_object(name) is None:
                names.add(name)  # ("pkg>Class", or an unregistered class's bare name)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(names)


def _runnable_here(model: acga.ACGA, path: str) -> acga.ACGA:
    """The model, or, where it computes in float16 and TensorFlow runs on a CPU (which has no float16 MaxPool3D
    kernel), its float32 twin with the same weights (a warning says so): a run trained in mixed_float16 under JAX, or
    on a GPU, then failed at its first clip in `acga evaluate`, `predict` and the SavedModel `acga export` wrote."""
    if acga.compute_dtype(model) != "float16" or keras.backend.backend() != "tensorflow" or gpu_description():
        return model
    logger.warning("%s: the model computes in float16, which TensorFlow cannot run on a CPU (it has no float16 "
                   "MaxPool3D kernel): it runs in float32 here, with the same weights", path)
    return float32_twin(model)


def float32_twin(model: acga.ACGA) -> acga.ACGA:
    """The model computing in float32 throughout, with the same weights (a model trained in a mixed precision; the
    weights of such a model are float32 already): for a CPU without float16 kernels (`_runnable_here`), and
    `acga export --float32` for CPUs without bfloat16 units (docs/serving.md#export)."""
    config = {**model.get_config(), "dtype": "float32"}
    config.pop("encoder_dtype", None)
    twin = acga.ACGA.from_config(config)
    twin.set_weights(model.get_weights())
    return twin


def trained_files(path: str) -> tuple[str, str]:
    """(the `.keras` file, the run folder) of the run at `path` (as `load_trained` takes it), checked without loading
    anything: for a command to refuse a wrong `--model` before its other checks warn (`acga evaluate --model` naming
    a demo's output folder warned first of its training shards).

    Raises:
        as `load_trained`, but for what loading the model finds.
    """
    path = as_model_path(path)
    if os.path.isfile(path):
        _require_keras_file(path)
    model_path = os.path.join(path, MODEL_FILE) if os.path.isdir(path) else path
    directory = run_directory(path)
    if os.path.isdir(path) and not os.path.exists(model_path) and saved_model_version(path) is not None:
        raise FileNotFoundError(f"{path}: a SavedModel, which serves (TF Serving, `acga predict`, `acga app`); this "
                                f"reads a trained run: its folder (holding {MODEL_FILE}), {MODEL_FILE} or a checkpoint")
    if (not os.path.exists(model_path) and _checkpoints_folder_run(path) is not None
            and (kept := sorted(name for name in os.listdir(path) if name.endswith(".keras")))):
        # (`acga export --model RUN/checkpoints` was told to put vocabulary files beside a model.keras it lacks: a
        # tester's; `acga evaluate` scores such a folder checkpoint by checkpoint)
        raise FileNotFoundError(f"{path}: a run's checkpoints folder ({', '.join(kept[:3])}"
                                f"{', ...' if len(kept) > 3 else ''}): give one of its checkpoints, or the run's "
                                f"folder {_checkpoints_folder_run(path)} for its final model")
    if not os.path.exists(model_path) or directory is None:
        folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        absent = [os.path.join(folder, f) for f in (VOCAB_FILE, EMBEDDINGS_FILE)
                  if not os.path.exists(os.path.join(folder, f))]
        missing = model_path if not os.path.exists(model_path) else (absent or [os.path.join(folder, VOCAB_FILE)])[0]
        # (runs only: what this reads, so that it names no SavedModel it would then refuse)
        if (error := folder_of_models_error(path, saved_models=False)) is not None:
            raise error
        raise FileNotFoundError(f"{missing}: missing (a trained run holds {MODEL_FILE}, {VOCAB_FILE} and "
                                f"{EMBEDDINGS_FILE}: give the run's folder, or put its {VOCAB_FILE} and "
                                f"{EMBEDDINGS_FILE} beside the .keras file)")
    return model_path, directory


def _checkpoints_folder_run(path: str) -> str | None:
    """The run whose `checkpoints/` folder `path` is (by its name), or None."""
    is_it = os.path.isdir(path) and os.path.basename(os.path.normpath(path)) == CHECKPOINT_DIR
    return os.path.dirname(os.path.abspath(path)) if is_it else None


def model_files(model) -> list[str]:
    """The existing files of the model artifact `model` names, which a command reading it must not write over (its
    outputs are refused where they name one: `files.check_not_input`, docs/reliability.md): a run's own files
    (`RUN_FILES`), checkpoints and backup, for a run's folder, its `model.keras` or a checkpoint (also for its
    `checkpoints/` folder); a `.keras` file with the vocabulary files beside it; every file of a SavedModel folder
    (or of TF Serving's folder of its versions); a loaded `TrainedModel` by its run's folder. Nothing for a server's
    URL, or for what is not there (the command says so)."""
    if isinstance(model, TrainedModel):
        model = model.directory
    if not isinstance(model, (str, os.PathLike)) or "://" in os.fspath(model) or not os.path.exists(model):
        return []
    path = os.fspath(model)
    found = [path] if os.path.isfile(path) else []
    if os.path.isfile(path):
        found += [os.path.join(os.path.dirname(path), name) for name in (VOCAB_FILE, EMBEDDINGS_FILE)]
    run = run_directory(path) or _checkpoints_folder_run(path)  # (`acga evaluate --model RUN/checkpoints`)
    if run is not None:
        found += [os.path.join(run, name) for name in RUN_FILES]
        for folder in (CHECKPOINT_DIR, BACKUP_DIR):
            found += [os.path.join(root, name) for root, _, names in os.walk(os.path.join(run, folder))
                      for name in names]
    elif os.path.isdir(path) and saved_model_version(path) is not None:  # a SavedModel, or its versions' folder
        found += [os.path.join(root, name) for root, _, names in os.walk(path) for name in names]
    return [name for name in dict.fromkeys(found) if os.path.isfile(name)]


def model_inputs(model) -> list[tuple[str, str]]:
    """`model_files` as `files.check_not_input` takes them: (path, "a file of the model (MODEL)")."""
    name = model.directory if isinstance(model, TrainedModel) else model
    return [(path, f"a file of the model ({name})") for path in model_files(model)]


def load_trained(path: str) -> TrainedModel:
    """Loads a run written by `save_trained`: the directory, its `model.keras`, or one of its checkpoints.

    Raises:
        FileNotFoundError: the model or its vocabulary files are missing (the message names the file).
        ValueError: `path` is a file, but not a `.keras` file (a video passed as the model, say).
        TypeError: `path` is not a path (`as_model_path`).
    """
    model_path, directory = trained_files(path)
    model = load_model_file(model_path)
    vocabulary = Vocabulary.load(os.path.join(directory, VOCAB_FILE))
    embeddings = load_embedding_matrix(os.path.join(directory, EMBEDDINGS_FILE), vocabulary,
                                       os.path.join(directory, VOCAB_FILE))
    if embeddings.shape[1] != model.config.word_dim:  # else the first prediction fails in tf.function's binding,
        # kilobytes of tensor values long (an embeddings.npy of another run)
        raise ValueError(f"{os.path.join(directory, EMBEDDINGS_FILE)}: word vectors of {embeddings.shape[1]} "
                         f"dimensions; the model reads {model.config.word_dim} (its word_dim): the file of another "
                         "run? Put back the run's own")
    _check_config_copy(directory, model.config)
    # what `acga -v` says of a run's precision (else nothing tells what predict computes in)
    logger.info("loaded %s (T=%d, S=%d): the video encoder computes in %s, the decoder in %s, as the run trained",
                model_path, model.config.clip_length, model.config.image_size,
                model.stage("video_encoder").compute_dtype, model.stage("decoder").compute_dtype)
    return TrainedModel(model, model.config, vocabulary, embeddings, directory)


def _check_config_copy(directory: str, config) -> None:
    """Warns where the run's `config.json`, a copy of the architecture for people and tools to read, gives a field
    another value than the model file holds (the one that is loaded): a security reviewer's `image_size: -1` there
    went unnoticed while the model ran at its own. Fields a run of an earlier checkout lacks are not differences."""
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(path):
        return
    try:
        written = files.read_json(path)
    except (OSError, ValueError):
        written = None
    held = json.loads(config.to_json())
    fields = ["the whole file (not a JSON object)"] if not isinstance(written, dict) else sorted(
        k for k in written if k not in FORMER_FIELDS and (k not in held or written[k] != held[k]))  # (the training
    # settings runs of 2026-11-25 to 11-29 wrote there, which loading leaves out)
    if fields:
        logger.warning("%s: %s %s from what %s holds, which is the model loaded (config.json is a copy for reading: "
                       "edited by hand, or another run's?)", path, ", ".join(fields),
                       "differ" if len(fields) > 1 else "differs", MODEL_FILE)


def as_trained(model_path_or_trained: str | os.PathLike | TrainedModel) -> TrainedModel:
    """A `TrainedModel` from a run directory / `.keras` path (`load_trained`), or the `TrainedModel` itself: the jobs
    of `acga demo` share one loaded run."""
    if isinstance(model_path_or_trained, TrainedModel):
        return model_path_or_trained
    return load_trained(model_path_or_trained)


def as_model_path(value, takes: str = "a trained run's folder or its model.keras, or a TrainedModel (load_trained)"
                  ) -> str:
    """`value` as a path, where it is one (str or os.PathLike).

    Raises:
        TypeError: anything else, saying what the model argument `takes`: an `ACGA` model passed in gets this, not
            Python's "expected str, bytes or os.PathLike object, not ACGA".
    """
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError(f"model is {type(value).__name__}, not a path: give {takes} (a Keras model alone lacks the "
                    "vocabulary and word vectors its sentences are read with)")
