"""Training: `fit(experiment, train_pattern, output_dir)` runs the experiment's schedule (docs/training.md#schedule)
on prepared shards.

Layout of `output_dir` (the final files are `acga_tf.training.artifacts`' layout of a trained run):

    model.keras, config.json, experiment.json,
    vocab.txt, embeddings.npy                  the trained run (`artifacts.save_trained`; experiment.json is also
                                               written when training starts: a resume is checked against it)
    checkpoints/epoch-NN.keras                 the model after every epoch
    backup/                                    `BackupAndRestore` state (kept: `--resume` trains further from it)
    logs/                                      TensorBoard
    workers/<type>-<index>/                    the same, for the non-chief workers of a multi-worker run

Resuming: run `fit` again with the same arguments (a finished run is refused unless `resume` or `overwrite`; so is a
resume under another experiment than the run's `experiment.json`, the epochs aside, and one whose backup is missing
or damaged: see `claim_run_dir`). The backup (saved every `backup_every` optimizer steps and at
each epoch's end) restores the weights and the optimizer (its `iterations` included); training goes on from that
exact step, mid-epoch included, over the same stream of batches (the consumed ones are skipped), so a killed
and resumed run makes as many optimizer steps as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import importlib.util
import inspect
import json
import logging
import math
import os
import random
import re
import sys
from collections.abc import Callable, Collection, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras.src.backend.common import global_state  # Keras' seed state: no public getter

from acga_tf.data.datasets import check_shards, load_vectorizer, load_vocabulary, make_dataset
from acga_tf.data.manifest import (
    MANIFEST_NAME,
    as_given,
    count_samples,
    damaged_shard_error,
    first_unreadable,
    known_sample_count,
    matching_shards,
    read_manifest,
    shard_pattern,
    shard_records,
)
from acga_tf.data.shards import sha256_file
from acga_tf.data.vocab import SentenceVectorizer, Vocabulary, check_word_vectors, load_embedding_matrix
from acga_tf.models.acga import ACGA, check_feature_cache, check_stage_names, compute_dtype
from acga_tf.models.video_encoder import i3d_units
from acga_tf.ops import files, provenance
from acga_tf.ops.devices import bfloat16_speedup, data_parallel, gpu_description, onednn_enabled, onednn_hint
from acga_tf.ops.errors import check_stop, error_message
from acga_tf.ops.options import option
from acga_tf.training import artifacts
from acga_tf.training.cluster import (
    CLUSTER_LOSSES,
    check_same_settings,
    gather_rows,
    multi_worker_strategy,
    read_tf_config,
    worker_role,
)
from acga_tf.training.defaults import DEFAULT_BACKUP_EVERY, POLICIES, PRECISIONS
from acga_tf.training.experiment import ExperimentConfig
from acga_tf.training.feature_cache import CACHE_GLOB, cached_dataset, split_model, write_cache
from acga_tf.training.task import TrainingTask
from acga_tf.training.weights import load_initial_weights

logger = logging.getLogger(__name__)

# How messages name `fit`'s settings: the `acga train` option, or the argument (`ops.options.option`).
RESUME, OVERWRITE, OUTPUT = ("--resume", "resume=True"), ("--overwrite", "overwrite=True"), ("--output", "output_dir")
STEPS_PER_EPOCH = ("--steps-per-epoch", "steps_per_epoch")
BATCH_SIZE_KEYWORD = "the experiment's batch_size"  # (fit takes none of its own)


def _set(names: tuple[str, str], value) -> tuple[str, str]:
    """(`--flag VALUE`, `keyword=VALUE`) of an option's names."""
    return f"{names[0]} {value}", f"{names[1]}={value}"


def _precision_option(name: str) -> str:
    """"--mixed-precision NAME" under the command, 'mixed_precision="NAME"' from Python (a researcher's `fit` log named
    the command's option)."""
    return option(f"--mixed-precision {name}", f'mixed_precision="{name}"')


def _start_over() -> str:
    """The end of a refused resume's message: "--overwrite to start over, or choose another --output"."""
    return f"{option(*OVERWRITE)} to start over, or choose another {option(*OUTPUT)}"

BACKUP_DIR = artifacts.BACKUP_DIR
CHECKPOINT_DIR = artifacts.CHECKPOINT_DIR
CHECKPOINT_PATTERN = "epoch-{epoch:02d}.keras"
LOG_DIR = "logs"
WORKERS_DIR = "workers"
FEATURE_CACHE_DIR = "feature_cache"
VALIDATION_CACHE_DIR = "validation"  # in FEATURE_CACHE_DIR: the validation samples' features (written again with it)
# The backup's files (Keras' `BackupAndRestore` names).
BACKUP_WEIGHTS_FILE = "latest.weights.h5"
BACKUP_METADATA_FILE = "training_metadata.json"
# The experiment fields (`ExperimentConfig.to_dict()` part, field) a resumed run may change (docs/training.md#resume):
# the number of epochs, to train further. Any other difference is refused.
# (the steps per epoch are checked against the backup's own record, whose message names --steps-per-epoch)
RESUMABLE_CHANGES = (("training", "epochs"), ("training", "steps_per_epoch"))
# What `keras.utils.set_random_seed` sets in Keras' global state (keras/src/utils/rng_utils.py): `seeded` puts it back
KERAS_SEED_ATTRIBUTES = ("global_random_seed", "global_seed_generator")
# What a run directory holds (anything else there is someone else's), with `artifacts.DAMAGED_PROVENANCE`'s records.
RUN_ENTRIES = (artifacts.MODEL_FILE, artifacts.CONFIG_FILE, artifacts.EXPERIMENT_FILE, artifacts.VOCAB_FILE,
               artifacts.EMBEDDINGS_FILE, artifacts.PROVENANCE_FILE, BACKUP_DIR, CHECKPOINT_DIR, LOG_DIR, WORKERS_DIR,
               FEATURE_CACHE_DIR)
TEMPORARY_ENDINGS = (files.TEMPORARY_SUFFIX, ".partial.keras", ".partial.npy")


def make_strategy() -> tf.distribute.Strategy:
    """`MultiWorkerMirroredStrategy` when `TF_CONFIG` is set (`cluster.multi_worker_strategy`: checked, the wait
    for the cluster bounded and said), else `MirroredStrategy` over every visible GPU (one CPU replica when there is
    none).

    Raises:
        ValueError: as `cluster.read_tf_config` and `cluster.multi_worker_strategy`.
    """
    config = read_tf_config()
    if config is not None:
        return multi_worker_strategy(config)
    return tf.distribute.MirroredStrategy()


def run_folder(output_dir: str) -> str:
    """Where this process writes the run: `output_dir`, or for a worker of `TF_CONFIG`'s cluster that is not the chief
    `output_dir/workers/<type>-<index>/` (docs/training.md#distribution)."""
    task_type, task_index, is_chief = worker_role()
    return output_dir if is_chief else os.path.join(output_dir, WORKERS_DIR, f"{task_type}-{task_index}")


_DETECT = "detect"


def mixed_precision_policy(gpu: str | None = _DETECT, speedup: float | None = None) -> tuple[str, str]:
    """The precision `--mixed-precision` trains under (a key of `PRECISIONS`), and why
    (docs/training.md#mixed-precision).

    Args:
        gpu: the GPU's description (`gpu_description()`, detected by default), None for a CPU.
        speedup: on a CPU, bfloat16's convolution speed over float32's (`bfloat16_speedup()`, measured by default).

    Returns:
        `(precision, reason)`: "mixed_float16" (with dynamic loss scaling) on a GPU; on a CPU "mixed_bfloat16_head"
        (I3D in float32, the rest in mixed_bfloat16) where it convolves faster in bfloat16, else "float32", with
        the measured bfloat16 speed in the reason.
    """
    gpu = gpu_description() if gpu == _DETECT else gpu
    if gpu is not None:
        return "mixed_float16", (f"GPU ({gpu}): float16 compute with dynamic loss scaling (a LossScaleOptimizer); "
                                 "on an H200 both mixed policies learnt like float32 to within 4.1% of its final "
                                 "loss (300 steps), and mixed_float16's forward ran at 1.10x mixed_bfloat16's speed "
                                 f"(docs/training.md#mixed-precision); {_precision_option('mixed_bfloat16')} chooses "
                                 "the other")
    speedup = bfloat16_speedup() if speedup is None else speedup
    measured = f"no GPU; this CPU convolves in bfloat16 at {speedup:.2f}x float32's speed (a 0.2 s probe)"
    if speedup > 1:
        return "mixed_bfloat16_head", (
            f"{measured}: the text encoder, attention and decoder in mixed_bfloat16 and I3D in float32, whose demo "
            "training step ran 1.23x to 1.34x faster than float32's on 2-core AVX512-BF16 hosts "
            "(benchmarks/README.md); it learnt colour in all five synthetic worlds tried on 2026-12-01 (held-out mean "
            "IoU 55.3; float32 on the same worlds 49.7, colour learnt in two), and in two "
            f"of four with the training data's order since 2026-12-04 (docs/demo.md); "
            f"{_precision_option('float32')} chooses float32")
    return "float32", f"{measured}: mixed_bfloat16 would be no faster here"


def resolve_policy(mixed_precision: bool | str) -> str | None:
    """The precision of `fit(mixed_precision=...)`: None (the model's default, float32) for False,
    `mixed_precision_policy()` for True or "auto", else the one named (a key of `PRECISIONS`).

    Raises:
        ValueError: an unknown policy name.
    """
    if mixed_precision is False or mixed_precision is None:
        return None
    if mixed_precision is True or mixed_precision == "auto":
        policy, reason = mixed_precision_policy()
        logger.warning("mixed precision: %s (%s)", policy, reason)
        return policy
    if mixed_precision not in POLICIES:
        raise ValueError(f"mixed precision {mixed_precision!r}: expected auto or one of {', '.join(POLICIES)}")
    if mixed_precision == "mixed_float16" and keras.backend.backend() == "tensorflow" and gpu_description() is None:
        raise ValueError("mixed precision mixed_float16: TensorFlow has no float16 kernel on a CPU for I3D's 3-D "
                         "pooling (MaxPool3D), so it cannot train the model in float16 here; on a CPU choose "
                         "mixed_bfloat16_head, mixed_bfloat16 or float32 (auto picks one), or train under "
                         "KERAS_BACKEND=jax")
    return mixed_precision


class _ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that also saves at every epoch's end, records the optimizer step in its metadata and
    leaves restoring to `fit` (which restores once, before training, so that a resumed run can start mid-epoch;
    Keras itself would restart the epoch). Writes are atomic (temporary name, then rename)."""

    def __init__(self, backup_dir: str, *, save_freq, steps_per_epoch: int | None = None,
                 global_batch: int | None = None, precision: str | None = None, word_vectors: str | None = None,
                 stages: dict[str, str] | None = None, feature_cache: bool | None = None,
                 data: dict | None = None, vocabulary: dict | None = None):
        super().__init__(backup_dir, save_freq=save_freq)
        # recorded with each backup: a resume must keep the epochs' bounds, and the batch (batch_size x devices) that
        # the steps it skips were made of; and what the run computed in, and the word vectors it read the sentences
        # with (a digest), which the experiment does not hold (else a resume with others goes on without a word)
        self.steps_per_epoch, self.global_batch = steps_per_epoch, global_batch
        self.precision, self.word_vectors = precision, word_vectors
        self.stages = stages or {}  # the classes of the stages of one's own (`fit(stages=)`), by stage name
        # whether the frozen blocks' features were cached (another model: its weights would not load, the refusal
        # naming stages), and what the run read: its shards and its words (`_shards_record`, `_words_record`), else a
        # resume on other shards trained on them without a word, and a changed vocab.txt was blamed on word vectors
        self.feature_cache, self.data, self.vocabulary = feature_cache, data, vocabulary

    def on_train_begin(self, logs=None):
        pass  # `fit` restored the state already (`restore`)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":
            self._save_model()

    def on_train_end(self, logs=None):
        pass  # kept when every epoch has run: `--resume` trains a finished run further from it

    def _save_model(self):
        if not weights_are_finite(self.model):  # never replace the last good backup with a diverged model
            logger.warning("not backing up optimizer step %d: the weights are not finite",
                           int(self.model.optimizer.iterations.numpy()))
            return
        # Written to temporary names and renamed, so a kill mid-write leaves the previous backup intact.
        tf.io.gfile.makedirs(self.backup_dir)
        artifacts.save_weights(self.model, self._weights_path)
        # with the weights file's digest: HDF5 checks nothing, so a damaged copy would load as weights of 3.4e38 and
        # train to NaN, and the NaN's message would keep it as "the last finite backup"
        files.write_json(self._training_metadata_path, {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                                                        "step": int(self.model.optimizer.iterations.numpy()),
                                                        "steps_per_epoch": self.steps_per_epoch,
                                                        "global_batch": self.global_batch,
                                                        "precision": self.precision,
                                                        "word_vectors": self.word_vectors,
                                                        "stages": self.stages,
                                                        "feature_cache": self.feature_cache,
                                                        "data": self.data, "vocabulary": self.vocabulary,
                                                        "sha256": sha256_file(self._weights_path)})

    def saved_step(self) -> int | None:
        """The optimizer step of the backup on disk, or None when there is none."""
        return _backup_step(self.backup_dir)

    def save_on_stop(self, started_at: int) -> None:
        """Writes a backup at the step training stopped at (Ctrl-C), where this command has trained past
        `started_at` (the step it began from) and the one on disk is older: a stop lost the steps since the last
        backup, up to `backup_every` (100 by default). A stop lands between steps (Python raises it after
        TensorFlow's call returns), so the weights and the optimizer are those of a whole step. Nothing is written
        for a stop before this command's first step (a backup of step 0 tied the folder to the settings of a run
        that never trained: a corrected command was refused, a reviewer's)."""
        if getattr(self, "model", None) is None or getattr(self.model, "optimizer", None) is None:
            return
        try:
            step = int(self.model.optimizer.iterations.numpy())
            if step > started_at and self.saved_step() != step:
                self._save_model()
        except Exception as e:  # (never hides what stopped the run; under JAX, its state purged mid-compile)
            logger.warning("no backup written at the stop (%s)", error_message(e))

    def restore(self) -> bool:
        """Loads the backup into the model and its optimizer; returns whether there was one.

        Raises:
            ValueError: the weights file cannot be loaded (truncated, say), its metadata is not JSON, it records
                other steps per epoch or another global batch than this run's, or the optimizer state did not load
                (Keras skips it, with a warning, when the optimizer's variables differ: another model or optimizer);
                the message names the file.
        """
        if not tf.io.gfile.exists(self._weights_path):
            return False
        metadata = read_backup_metadata(self._training_metadata_path)
        recorded_steps = (metadata or {}).get("steps_per_epoch")  # absent from backups written before it was recorded
        if recorded_steps is not None and self.steps_per_epoch is not None and recorded_steps != self.steps_per_epoch:
            raise ValueError(f"{self._training_metadata_path}: the run's epochs have {recorded_steps} optimizer steps, "
                             f"this command's {self.steps_per_epoch} ({option(*STEPS_PER_EPOCH)}, or the samples over "
                             "the global batch on this many devices); pass "
                             f"{option(*_set(STEPS_PER_EPOCH, recorded_steps))} to resume it, {_start_over()}")
        recorded_batch = (metadata or {}).get("global_batch")
        if recorded_batch is not None and self.global_batch is not None and recorded_batch != self.global_batch:
            raise ValueError(f"{self._training_metadata_path}: the run trained on batches of {recorded_batch} clips "
                             f"({option('--batch-size', BATCH_SIZE_KEYWORD)} x devices), this command's are "
                             f"{self.global_batch}: resumed, it would "
                             "skip and train on other samples; resume it on as many devices as it trained on, "
                             f"{_start_over()}")
        recorded_precision = (metadata or {}).get("precision")
        if recorded_precision is not None and self.precision is not None and recorded_precision != self.precision:
            flag = (option("no --mixed-precision", 'mixed_precision="float32"') if recorded_precision == "float32"
                    else option(*_set(("--mixed-precision", "mixed_precision"), f'"{recorded_precision}"')))
            raise ValueError(f"{self._training_metadata_path}: the run trained in {recorded_precision}, this command "
                             f"in {self.precision}: resume it with {flag}, {_start_over()}")
        recorded_data = (metadata or {}).get("data")
        if recorded_data is not None and self.data is not None and recorded_data["digest"] != self.data["digest"]:
            provenance_path = os.path.join(os.path.dirname(self.backup_dir), artifacts.PROVENANCE_FILE)
            raise ValueError(f"{self._training_metadata_path}: the run trained on {recorded_data['shards']} shard(s) "
                             f"of other contents than the {self.data['shards']} {self.data['pattern']} matches: "
                             f"resume it on the shards it trained on ({provenance_path} names them), or fine-tune a "
                             f"new run from it ({option('--init-weights RUN --output NEW', 'init_weights=RUN')}), "
                             f"{_start_over()}")
        recorded_words = (metadata or {}).get("vocabulary")
        if (recorded_words is not None and self.vocabulary is not None
                and recorded_words["digest"] != self.vocabulary["digest"]):
            raise ValueError(f"{self._training_metadata_path}: the run read its sentences with a vocabulary of "
                             f"{recorded_words['words']} words, this command with another of "
                             f"{self.vocabulary['words']} ({self.vocabulary['file']} changed since the run "
                             f"began?): resume it with the words it trained with, {_start_over()}")
        recorded_cache = (metadata or {}).get("feature_cache")
        if recorded_cache is not None and self.feature_cache is not None and recorded_cache != self.feature_cache:
            flag = option("--feature-cache", "feature_cache=True")
            said = "with" if recorded_cache else "without"
            raise ValueError(f"{self._training_metadata_path}: the run trained {said} {flag}, this command "
                             f"{'with' if self.feature_cache else 'without'}: resume it {said} {flag}, "
                             f"{_start_over()}")
        recorded_vectors = (metadata or {}).get("word_vectors")
        if recorded_vectors is not None and self.word_vectors is not None and recorded_vectors != self.word_vectors:
            raise ValueError(f"{self._training_metadata_path}: the run read its sentences with other word vectors than "
                             f"this command's: resume it with the {option('--word-vectors', 'vectors_path')} file it "
                             f"trained with (none, if it had none; and the same seed and "
                             f"{option('--init-weights', 'init_weights')}), {_start_over()}")
        recorded_stages = None if metadata is None else metadata.get("stages") or {}  # (not recorded: the model's
        # own stages; no metadata at all, a kill between the backup's two writes: nothing to compare)
        if recorded_stages is not None and recorded_stages != self.stages:
            def named(stages):
                return ", ".join(f"{name}: {cls}" for name, cls in sorted(stages.items()))

            if not recorded_stages:
                raise ValueError(f"{self._training_metadata_path}: the run trained with the model's own stages, this "
                                 f"command with stages of its own ({named(self.stages)}): resume it without them, "
                                 f"{_start_over()}")
            how = option("from Python, with fit(..., stages=)", "with stages=")
            given = named(self.stages) or "the model's own"
            raise ValueError(f"{self._training_metadata_path}: the run trained with stages of its own "
                             f"({named(recorded_stages)}), this command with {given}: resume it {how} giving the "
                             f"same, {_start_over()}")
        if recorded_steps is None or recorded_batch is None:  # a backup an earlier acga-tf wrote
            logger.warning("%s records no %s (a backup written by an earlier acga-tf): resume it with the settings it "
                           "was trained with (%s, %s, devices), which cannot be checked; other ones train on other "
                           "samples without an error", self._training_metadata_path,
                           " or ".join(name for name, value in (("steps per epoch", recorded_steps),
                                                               ("global batch", recorded_batch)) if value is None),
                           option("--batch-size", BATCH_SIZE_KEYWORD), option(*STEPS_PER_EPOCH))
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        recorded = (metadata or {}).get("step")
        changed = (metadata or {}).get("sha256") not in (None, sha256_file(self._weights_path))
        damaged = (f"{self._weights_path}: damaged: its bytes are not those written at optimizer step {recorded} "
                   f"(their SHA-256 differs from the one {self._training_metadata_path} records); restore the file "
                   f"from a copy, pass {_start_over()}")
        try:
            self.model.load_weights(self._weights_path)
        except (OSError, ValueError, KeyError) as e:  # h5py's errors for a truncated or foreign file
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if (metadata or {}).get("sha256") is not None and not changed:  # the file is whole: the model differs
                # (a researcher's GRU stage made 32 wide for a run of 64 was "restore the file")
                raise ValueError(f"{self._weights_path}: the backup is whole (its SHA-256 is the one recorded) but "
                                 f"does not fit this model ({reason.rstrip(':')}): the model is built otherwise than "
                                 "the run's (a stage of your own made otherwise?); resume it as it trained, "
                                 f"{_start_over()}") from None
            raise ValueError(f"{self._weights_path}: cannot load the backup ({reason}); restore the file, pass "
                             f"{_start_over()}") from None
        step = int(self.model.optimizer.iterations.numpy())
        # The weights are renamed into place before the metadata is written: they are never behind it, and are ahead
        # of it (another digest) only where a run was killed between the two writes.
        if changed and (not isinstance(recorded, int) or step <= recorded):
            raise ValueError(damaged)
        if isinstance(recorded, int) and step < recorded:
            raise ValueError(f"{self._weights_path}: the optimizer state did not load into this model (optimizer step "
                             f"{step}; {self._training_metadata_path} records {recorded}): the backup was made with "
                             f"other settings (another model or optimizer); pass the run's, {_start_over()}")
        return True


def read_backup_metadata(path: str) -> dict | None:
    """The backup's `training_metadata.json` (`{"epoch", "batch", "step", "steps_per_epoch", "global_batch",
    "precision", "word_vectors", "sha256"}`: the last three absent from older backups), None when there is none.

    Raises:
        ValueError: the file is not a JSON object (truncated, say); the message names it.
    """
    if not tf.io.gfile.exists(path):
        return None
    try:
        metadata = files.read_json(path)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: the backup's metadata is not valid JSON (line {e.lineno}: {e.msg}); restore the "
                         f"file, pass {_start_over()}") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: the backup's metadata is not a JSON object; restore the file, pass "
                         f"{_start_over()}")
    return metadata


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run's last finite backup and checkpoints are kept."""


def weights_are_finite(model: keras.Model) -> bool:
    """Whether every weight of `model` is finite."""
    return all(np.isfinite(w).all() for w in model.get_weights())


class _StopWhenAsked(keras.callbacks.Callback):
    """Raises a stop (Ctrl-C, SIGTERM) that was lost again after each step (`errors.check_stop`): under JAX, a
    SIGTERM during a run of several epochs was dropped by Python inside a finalizer, and the run went on to its end."""

    def on_train_batch_end(self, batch, logs=None):
        check_stop()

    def on_epoch_end(self, epoch, logs=None):
        check_stop()


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite and remembers it (`TerminateOnNaN`, plus
    the step and the loss for the error message)."""

    def __init__(self):
        super().__init__()
        self.diverged_at: tuple[int, float] | None = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.diverged_at = (int(self.model.optimizer.iterations.numpy()), float(loss))
            self.model.stop_training = True


@dataclasses.dataclass
class _Run:
    """What the named steps of `fit` share."""
    experiment: ExperimentConfig
    train_pattern: str
    work_dir: str
    strategy: tf.distribute.Strategy | None  # None: another Keras backend
    distribution: keras.distribution.Distribution | None  # JAX on several devices (`data_parallel`), else None
    replicas: int
    global_batch: int
    steps_per_epoch: int
    epochs: int
    vectorizer: object = None
    vocabulary: object = None


def fit(experiment: ExperimentConfig, train_pattern: str, output_dir: str, *, val_pattern: str | None = None,
        vectors_path: str | None = None, epochs: int | None = None, steps_per_epoch: int | None = None,
        mixed_precision: bool | str = False, feature_cache: bool = False,
        strategy: tf.distribute.Strategy | None = None, backup_every: int = DEFAULT_BACKUP_EVERY,
        resume: bool = False, overwrite: bool = False, init_weights: str | None = None,
        stages: Mapping[str, Callable[[], keras.layers.Layer]] | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int = 1) -> keras.callbacks.History:
    """Trains ACGA with the experiment's schedule (docs/training.md#schedule) and saves the run
    (`acga_tf.training.artifacts` layout).

    Args:
        experiment: the model, data and training configs (`ExperimentConfig.preset("paper")`, ...).
        train_pattern: glob of training shards (`acga prepare` output); the vocabulary beside them is the model's.
        output_dir: where the run, checkpoints, backup and logs go (see the module docstring).
        val_pattern: optional glob of validation shards, evaluated after every epoch.
        vectors_path: word vectors (word2vec / GloVe); None gives deterministic random vectors (a warning).
        epochs: overrides `experiment.training.epochs`.
        steps_per_epoch: optimizer steps per epoch; default: `experiment.training.steps_per_epoch`, or where that is
            0, training samples // global batch.
        mixed_precision: True or "auto": the precision `mixed_precision_policy()` picks (mixed_float16 with loss
            scaling on a GPU; on a CPU mixed_bfloat16_head where it convolves faster in bfloat16, else float32;
            logged with its reason, which on a CPU gives the measured bfloat16 speed); or a key of `PRECISIONS`.
        feature_cache: run the frozen I3D blocks once over the training samples into `feature_cache/` (and over
            `val_pattern`'s into `feature_cache/validation/`) and train only the rest
            (`acga_tf.training.feature_cache`; needs frozen blocks, e.g. the paper's Mixed_4f-only training; no flip
            augmentation).
        strategy: a `tf.distribute.Strategy`; default `make_strategy()`. Under JAX training runs on all the
            devices JAX sees, under `keras.distribution.DataParallel` (`data_parallel`), under PyTorch on one
            device; neither takes a strategy (docs/training.md#distribution).
        backup_every: optimizer steps between backups (a backup is also written at each epoch's end).
        resume: go on training a finished run in `output_dir` from its backup, up to `epochs` in all.
        overwrite: remove the run files already in `output_dir` and start over (see `claim_run_dir`).
        init_weights: the weights a new run starts from (`load_initial_weights`): DeepMind's Kinetics I3D checkpoint,
            a `.weights.h5` file, or a trained run to fine-tune; not read when the run resumes from its backup.
        stages: stages of your own, by name (`ACGA(config, stages=)`, docs/model.md#extending), each given as what
            makes the layer (its class, or a function of no argument): the model is built where the strategy wants
            its variables, and again for a resume. A run trained with them is resumed by `fit` with the same ones
            (the backup records their classes; `acga train --resume` refuses it).
        callbacks: Keras callbacks of your own, called after the run's (learning-rate schedule, backup,
            checkpoints): they see the model that trains (the head alone, with the feature cache).
        verbose: Keras progress output (0, 1 or 2).

    Returns:
        The `History` of the epochs run by this call (all of them when the run did not resume).

    Raises:
        FileNotFoundError: no shard matches `train_pattern`, no manifest beside them, or no `vectors_path` file.
        ValueError: bad arguments (the message names the argument and its value), word vectors of another
            dimension than the model's, or a resume refused: another experiment than the run's, a damaged backup
            (`claim_run_dir`, `_ResumableBackup.restore`; the message names the file).
        FileNotFoundError: also, the backup weights of a run that has trained are missing (`claim_run_dir`).

    The messages name this function's arguments (`overwrite=True`); run by `acga train`, its options (`--overwrite`).
    """
    train_pattern = shard_pattern(train_pattern)
    val_pattern = None if val_pattern is None else shard_pattern(val_pattern)
    if steps_per_epoch is None and experiment.training.steps_per_epoch:  # --set steps_per_epoch=N, or a run's config
        steps_per_epoch = experiment.training.steps_per_epoch
    run = _plan(experiment, train_pattern, output_dir, val_pattern, epochs, steps_per_epoch, backup_every, strategy,
                (resume, overwrite))
    if (hint := onednn_hint()) is not None:
        logger.warning(hint)
    if vectors_path is not None:  # a missing or mismatched file is named before the run's folder is created
        check_word_vectors(vectors_path, experiment.data.word_dim)
    if init_weights is not None and not (os.path.exists(init_weights) or os.path.isfile(init_weights + ".index")):
        raise FileNotFoundError(f"{init_weights}: not found ({option('--init-weights', 'init_weights')} takes "
                                "DeepMind's I3D checkpoint, e.g. "
                                "rgb_imagenet/model.ckpt, a .weights.h5 file, or a run directory or .keras file)")
    emptied = next((folder for folder in (run.work_dir, output_dir)  # (every cluster worker alike)
                    if _emptied_by_overwrite(init_weights, folder)), None) if overwrite and init_weights else None
    if emptied is not None:
        raise ValueError(f"{option('--init-weights', 'init_weights')} {init_weights}: lies in the run that "
                         f"{option(*OVERWRITE)} removes ({emptied}) before its weights would be read; copy it out "
                         f"of {emptied} first, or choose another {option(*OUTPUT)}")
    stages, callbacks = _checked_stages(stages), _checked_callbacks(callbacks)  # before the folder
    policy = resolve_policy(mixed_precision)  # a policy this machine cannot train in is refused before the folder
    if isinstance(run.strategy, tf.distribute.MultiWorkerMirroredStrategy):  # before any worker writes
        with _cluster_losses(run):
            check_same_settings(run.strategy, {
                **{f"{part}.{name}": value for part, fields in experiment.to_dict().items()
                   for name, value in fields.items()},
                "epochs": run.epochs, "steps_per_epoch": run.steps_per_epoch, "backup_every": backup_every,
                "mixed_precision": policy, "feature_cache": feature_cache, "resume": resume, "overwrite": overwrite,
                "init_weights": init_weights is not None, "word_vectors": vectors_path is not None,
                "stages": sorted(stages),
                "init_words": _parent_run(init_weights) is not None,
                **_data_settings(train_pattern, val_pattern)})
            finishing = not overwrite and _finishing_with_the_cluster(run)
    else:
        finishing = False
    if feature_cache and run.strategy is None:  # before the folder too (it was left empty)
        raise ValueError(f"{option('--feature-cache', 'feature_cache')}: the feature cache needs "
                         f"KERAS_BACKEND=tensorflow (the default), not {keras.backend.backend()}: it reads the frozen "
                         "blocks' features through tf.data; train under TensorFlow, or without the cache "
                         "(docs/training.md#backends)")
    if feature_cache:  # nothing frozen to cache: before the folder too (each worker's was left empty)
        check_feature_cache(experiment.model)
        if experiment.data.horizontal_flip:  # (experiment.json still says it: a reviewer's)
            logger.warning("%s: the cached samples are not flipped (horizontal_flip, on in the experiment, is not "
                           "applied)", option("--feature-cache", "feature_cache"))
    for pattern in (train_pattern, val_pattern):  # shards the model cannot read: before the folder too
        if pattern is not None:
            check_shards(pattern, experiment.data)
    if val_pattern is not None and all(tf.io.gfile.stat(f).length == 0 for f in tf.io.gfile.glob(val_pattern)):
        raise ValueError(f"{option('--val-data', 'val_pattern')} {val_pattern}: no sample to score, every shard it "
                         "matches is empty (0 bytes)")  # (a StopIteration traceback after the first epoch: a diff
        # reviewer's)
    _check_one_vocabulary(train_pattern)
    # Under JAX on several devices the model, its training and its save run in the DataParallel scope.
    with (files.locked_folder(run.work_dir, option(*OUTPUT)),
          run.distribution.scope() if run.distribution is not None else contextlib.nullcontext(),
          seeded(experiment.training.seed), _cluster_losses(run)):
        claim_run_dir(run.work_dir, resume=resume or finishing, overwrite=overwrite, experiment=experiment,
                      # (the chief's --overwrite removed the other workers' folders as they wrote them: with a shared
                      # output every try failed; each worker starts its own over)
                      keep=(WORKERS_DIR,) if isinstance(run.strategy, tf.distribute.MultiWorkerMirroredStrategy)
                      else ())
        _load_words(run, vectors_path, init_weights)
        if (resume or finishing) and _parent_run(init_weights) is not None:
            _words_as_backed_up(run, vectors_path, init_weights)
        model, task, prefix = _build_model(run, policy, feature_cache, stages)
        train_shards = shard_records(sorted(tf.io.gfile.glob(run.train_pattern)))
        backup = _ResumableBackup(os.path.join(run.work_dir, BACKUP_DIR), save_freq=backup_every,
                                  steps_per_epoch=run.steps_per_epoch, global_batch=run.global_batch,
                                  precision=policy or "float32",
                                  word_vectors=artifacts.arrays_digest([run.vectorizer.matrix]),
                                  stages=_stage_classes(model, stages), feature_cache=bool(feature_cache),
                                  data=_shards_record(run.train_pattern, train_shards),
                                  vocabulary=_words_record(run, init_weights,
                                                           os.path.dirname(train_shards[0]["file"])))
        start_step = _resume(run, task, backup, verbose, finishing=finishing)
        if resume and start_step == 0:  # (it said nothing: a run killed before its first backup starts over)
            logger.warning("%s: %s holds no backup yet (the run stopped before its first, written every %d optimizer "
                           "steps and at each epoch's end): it starts at step 0", option(*RESUME), run.work_dir,
                           backup_every)
        if init_weights is not None and start_step == 0:
            logger.warning("starting weights: %s", load_initial_weights(model, init_weights))
        elif init_weights is not None:  # a resumed run goes on from its backup's weights
            logger.warning("%s: its weights are not read: the run resumes from its backup (optimizer step %d)%s",
                           option(*_set(("--init-weights", "init_weights"), init_weights)), start_step,
                           "; the word vectors it was trained with are, as at the run's start"
                           if vectors_path is None and _parent_run(init_weights) is not None else "")
        artifacts.record_session(run.work_dir, _session(run, model, start_step, (train_shards, val_pattern),
                                                        (vectors_path, backup.word_vectors),
                                                        init_weights if start_step == 0 else None, policy,
                                                        feature_cache, _stage_classes(model, stages)))
        # before the first backup: what a resume is checked against; with the epochs the run trains (--epochs) and
        # the steps per epoch given (--steps-per-epoch), so that `--config run/experiment.json` trains the same run.
        # A finished run trained further keeps the experiment.json of its model.keras until it saves the new one:
        # stopped after its last step, `_resume` tells by it that only the save is left (it was refused as finished).
        recorded = experiment.override(epochs=run.epochs, steps_per_epoch=steps_per_epoch or 0)
        if not tf.io.gfile.exists(os.path.join(run.work_dir, artifacts.MODEL_FILE)):
            artifacts.save_experiment(run.work_dir, recorded)
        try:
            batches = _build_inputs(run, prefix)  # (with the feature cache, the caches are written here)
            validation = None if val_pattern is None else _build_validation(run, val_pattern, prefix)
        except tf.errors.DataLossError as e:  # a shard damaged while the cache read it (named after training only)
            raise damaged_shard_error([run.train_pattern, val_pattern], e) from None
        callbacks = [*_build_callbacks(run, model, backup), *callbacks]
        if start_step and start_step % run.steps_per_epoch == 0:  # stopped after an epoch's last step: its end's
            ended, checkpoint = start_step // run.steps_per_epoch, next(  # checkpoint may not have been written
                c for c in callbacks if isinstance(c, _FullModelCheckpoint))
            if not tf.io.gfile.exists(checkpoint.pattern.format(epoch=ended)):
                checkpoint.on_epoch_end(ended - 1)  # the backup's weights are those after that epoch
        try:
            history = _train(run, task, batches, validation, callbacks, start_step, verbose)
        except tf.errors.DataLossError as e:  # "corrupted record at N", naming no shard: find it
            if not _several_workers(run.strategy):  # the steps trained so far kept, as at a stop (a damaged
                backup.save_on_stop(start_step)  # validation cache lost the epoch's steps: a diff reviewer's)
            if prefix is not None and (damaged := _damaged_cache_shard(run.work_dir)) is not None:
                saved = backup.saved_step()
                raise ValueError(f"{damaged}: damaged ({error_message(e).splitlines()[0]}); the same command writes "
                                 "the feature cache again" + (f" and resumes the run from its backup (optimizer step "
                                                              f"{saved})" if saved is not None else "")) from None
            raise damaged_shard_error([run.train_pattern, val_pattern], e) from None
        except (KeyboardInterrupt, OSError) as e:  # Ctrl-C, or a full disk: what a second try would do
            # (not in a cluster: the other workers keep their last backup, and a worker's newer one could not
            # resume with theirs: `_finishing_with_the_cluster`)
            if isinstance(e, KeyboardInterrupt) and not _several_workers(run.strategy):  # (a one-worker TF_CONFIG's
                backup.save_on_stop(start_step)  # stop wrote none: a cluster reviewer's)
            saved = backup.saved_step()
            earlier = (f" ({artifacts.MODEL_FILE} holds the run as it was before this command)"
                       if tf.io.gfile.exists(os.path.join(run.work_dir, artifacts.MODEL_FILE)) else "")
            kept = (f"no model was saved{earlier}; the same command resumes the run from its backup (optimizer step "
                    f"{saved}) in {backup.backup_dir}" if saved is not None else
                    "no model and no backup were saved; the same command starts the run over")
            if isinstance(e, KeyboardInterrupt):
                raise KeyboardInterrupt(kept) from None
            e.add_note(kept)
            raise
        diverged = next(c for c in callbacks if isinstance(c, _StopOnNonFiniteLoss)).diverged_at
        if diverged is not None:
            step, loss = diverged
            saved = backup.saved_step()
            kept = (f"the last finite backup (step {saved}) is kept in {backup.backup_dir}" if saved is not None
                    else "no backup was written")
            raise TrainingDiverged(f"the training loss became {loss} at optimizer step {step}: training stopped and no "
                                   f"model was saved; {kept}. Lower the learning rate "
                                   f"({run.experiment.training.learning_rate}) or check the data")
        made = int(task.optimizer.iterations.numpy())  # the run's optimizer steps, this command's and before
        stopped_early = bool(getattr(task, "stop_training", False) and made < run.epochs * run.steps_per_epoch)
        if stopped_early:  # a callback of one's own stopped it (EarlyStopping): saved as it is, which said nothing
            # (a researcher's); a callback may stop it inside an epoch (a reviewer's time budget), which Keras'
            # history counts as a whole epoch
            epoch, step = divmod(made, run.steps_per_epoch)
            where = (f"after epoch {epoch} of {run.epochs}" if not step else
                     f"at optimizer step {made} (step {step} of epoch {epoch + 1}'s {run.steps_per_epoch}; of "
                     f"{run.epochs} epochs)")
            logger.warning("training stopped %s (a callback set stop_training): the run is saved as trained so far; "
                           "%s trains the rest", where,
                           option(f"--resume --epochs {run.epochs}", f"resume=True, epochs={run.epochs}"))
            # the whole epochs its model holds: a resume trains the rest, and one stopped before its save is saved
            # by the same command (`_saved_steps`)
            recorded = recorded.override(epochs=max(epoch, 1))
        artifacts.save_trained(run.work_dir, _inference_copy(model), run.vocabulary, run.vectorizer.matrix.numpy(),
                               experiment=recorded, overwrite=True)  # (its own run: claim_run_dir checked it)
        logger.info("saved the trained run to %s", run.work_dir)
        # (a run started from trained weights starts from their moving averages, not from a fresh layer's)
        if init_weights is None and (note := moving_statistics_note(model, made)):
            logger.warning(note)
        return history


@contextlib.contextmanager
def _cluster_losses(run: _Run):
    """Under `TF_CONFIG`, TensorFlow's errors of a task that stopped (a killed worker, one that refused to start: a
    collective aborted, gRPC's "Additional GRPC error information ...", after about nine lines of its own) become
    one line saying so and where the same command resumes from."""
    try:
        yield
    except CLUSTER_LOSSES as e:
        if not isinstance(run.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        saved = _backup_step(os.path.join(run.work_dir, BACKUP_DIR))
        message = error_message(e)
        said = re.search(r'grpc_message:"([^"]+)"', message) or re.search(r"(Socket closed|unhealthy)", message)
        kept = (f"the same command on every worker resumes the run from its backup (optimizer step {saved})"
                if saved is not None else "no backup was saved; the same command on every worker starts over")
        raise ConnectionError(f"TF_CONFIG: a task of the cluster stopped or cannot be reached (TensorFlow's "
                              f"{type(e).__name__}{': ' + said.group(1) if said else ''}; its own log says why); "
                              f"{kept}") from None


def _finishing_with_the_cluster(run: _Run) -> bool:
    """Whether this worker's run is finished while another worker's stopped during its final save (its backup at the
    same last step, its `model.keras` not written): the same command on every worker then saves every worker's run
    again, with no step left to train (with `--resume` and more epochs, they all train on as usual). Else the
    finished worker would refuse ("holds a finished run") and the other wait for it: the run could not be finished by
    the command that started it. (Every worker calls this: one all-gather of each one's state, from which each
    decides alike.)

    Raises:
        ValueError: on every worker, where a finished run and a stopped one are at other steps: they cannot train
            together.
    """
    damaged = False
    try:
        step = _backup_step(os.path.join(run.work_dir, BACKUP_DIR))
    except ValueError:  # a damaged backup: `claim_run_dir` names it
        step, damaged = None, True
    # finished: its model.keras holds its backup's step (a run trained further keeps its earlier one until it saves)
    saved = _saved_steps(run)
    finished = saved is not None and (step is None or saved == step)
    states = gather_rows(run.strategy, [int(finished), -2 if damaged else -1 if step is None else step])  # (replicas,
    # 2): -1 no backup, -2 a damaged one
    done = sorted({int(s) for d, s in states if d and s >= 0})  # the finished runs' steps
    stopped = sorted({int(s) for d, s in states if not d and s >= 0})  # the stopped runs' backups' steps
    unfinished = sorted({int(s) for d, s in states if not d})  # (-1: no backup)
    # (they resumed at their own steps, all-reducing each other's gradients of other steps until a collective's
    # "expected type 0 and data_type 9": a cluster reviewer's, after a Ctrl-C between a step and its backup on one
    # worker; a damaged backup is left to `claim_run_dir`, which names it)
    if -2 in unfinished and not damaged:  # (the damaged worker's `claim_run_dir` names its file; the others
        # waited for it in their collectives)
        raise ValueError(f"{run.work_dir}: another worker of the cluster holds a damaged backup (its own line names "
                         "the file): the workers cannot resume together; mend or remove it there, then run the same "
                         "command on every worker")
    if not done and len(unfinished) > 1 and -2 not in unfinished:
        at = ", ".join("none" if s < 0 else str(s) for s in unfinished)
        raise ValueError(f"{run.work_dir}: the cluster's workers hold backups of other optimizer steps ({at}): they "
                         "cannot train together; copy the backup folder of the latest one (OUTPUT/backup for the "
                         "chief, OUTPUT/workers/worker-K/backup for the others) over the others' and run the same "
                         f"command on every worker, or pass {option(*OVERWRITE)} on every worker to start over")
    if not done or not stopped:
        return False
    if len(done) > 1 or stopped != done:  # decided alike on every worker, from the same gathered states
        raise ValueError(f"{run.work_dir}: the cluster's workers hold runs at different steps (finished at "
                         f"{', '.join(map(str, done))}, a backup at {', '.join(map(str, stopped))}): they cannot "
                         f"train together; pass {option(*OVERWRITE)} on every worker to start over")
    if not finished:
        return False
    logger.warning("%s: this worker's run is finished, another's stopped during its final save: every worker saves "
                   "its run again (no step left to train)", run.work_dir)
    return True


def _backup_step(backup_dir: str) -> int | None:
    """The optimizer step of the backup in `backup_dir`, or None where there is none.

    Raises:
        ValueError: as `read_backup_metadata`.
    """
    if not tf.io.gfile.exists(os.path.join(backup_dir, BACKUP_WEIGHTS_FILE)):
        return None
    return int(read_backup_metadata(os.path.join(backup_dir, BACKUP_METADATA_FILE))["step"])


@contextlib.contextmanager
def seeded(seed: int):
    """`keras.utils.set_random_seed(seed)` for the block (the run's weights and stream follow from its seed), then the
    caller's random state back: Python's and NumPy's generators, TensorFlow's global seed, Keras' global seed and
    seed generator, and PyTorch's under its backend. Else a notebook's draws after `fit` start from the run's
    seed (2019) every time."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf_seed = tf.compat.v1.get_seed(None)[0]
    keras_state = {name: global_state.get_global_attribute(name) for name in KERAS_SEED_ATTRIBUTES}
    torch = sys.modules.get("torch") if keras.backend.backend() == "torch" else None
    torch_state = torch.random.get_rng_state() if torch is not None else None
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        tf.random.set_seed(tf_seed)
        for name, value in keras_state.items():
            global_state.set_global_attribute(name, value)
        if torch is not None:
            torch.random.set_rng_state(torch_state)


# The share of their starting values the BatchNorm moving averages may still hold when a run ends before `fit` says so
MOVING_STATISTICS_LEFT = 0.05


def moving_statistics_note(model: keras.Model, steps: int) -> str | None:
    """What to tell the user of a run too short for its BatchNorm moving averages (docs/training.md#schedule), or None.

    Training normalises each batch by its own statistics, so the scores logged during training are those; evaluation,
    export and prediction normalise by the moving averages, which after n steps still hold momentum^n of their starting
    values (0.99^75: 47%). A 75-step run on 10 videos logged a mean IoU of 0.97 and scored 0.32 in
    `acga evaluate`, on the same training samples."""
    norms = [unit.batch_norm for unit in i3d_units(model) if unit.batch_norm.trainable]
    if not norms or steps < 1:
        return None
    momentum = float(norms[0].momentum)
    left = momentum ** steps
    if left < MOVING_STATISTICS_LEFT:
        return None
    enough = math.ceil(math.log(0.01) / math.log(momentum))
    return (f"after {steps} optimizer steps, the moving averages of the {len(norms)} trained I3D BatchNorms (momentum "
            f"{momentum:g}), which evaluation, export and prediction use, still hold {left:.0%} of their starting "
            f"values: the scores logged during training (each batch's own statistics) overstate the saved model's. "
            f"Train {enough} steps or more for under 1%, and judge the run by {option('--val-data', 'val_pattern')} "
            "or `acga evaluate` "
            "(docs/training.md#schedule)")


def claim_run_dir(work_dir: str, *, resume: bool = False, overwrite: bool = False,
                  experiment: ExperimentConfig | None = None, keep: Collection[str] = ()) -> None:
    """The output-folder policy of `fit` (docs/training.md#resume): a new or empty folder is used; an interrupted
    run (a backup, no `model.keras`) is resumed; a finished run is refused unless `resume` (go on from its backup
    to more epochs) or `overwrite` (remove the run's files and start over); a folder holding files that are not a
    run's is refused unless `overwrite` (which then removes only the run's own files). Without `overwrite`, a run
    that has trained (its backup's metadata records a step, it is finished, or it has checkpoints) but whose backup
    weights are missing is refused, and so, given `experiment`, is a backup of another experiment than the run's
    `experiment.json` (any field but those of `RESUMABLE_CHANGES`): training would start over at step 0, or Keras
    would skip loading the optimizer state, and replace the run's files. `keep`: entries `overwrite` leaves (a
    cluster chief's: the other workers' folders, which they start over themselves).

    Raises:
        ValueError: the folder holds a finished run, files that are not a run's, a run of another experiment, a
            damaged backup metadata file (the message says what to pass, or names the file), or shards (their
            `manifest.json`: `overwrite` removed their `vocab.txt` as the run's own), with `overwrite` too.
        FileNotFoundError: the backup weights of a run that has trained are missing (the message names the file).
    """
    _check_exclusive(resume, overwrite)
    entries = set(tf.io.gfile.listdir(work_dir)) if tf.io.gfile.isdir(work_dir) else set()
    entries = {e.rstrip("/") for e in entries}
    if resume and not entries & set(RUN_ENTRIES):  # a misspelt --output made a resume a new run, without a word
        raise ValueError(f"{option(*RESUME)}: {work_dir} holds no run to resume; check {option(*OUTPUT)}, or drop "
                         f"{option(*RESUME)} to start a run there")
    if MANIFEST_NAME in entries:  # even with --overwrite, which removed the shards' vocab.txt as the run's own (and
        # the run then failed on "No such file or directory: 'data/vocab.txt'")
        raise ValueError(f"{work_dir}: holds shards that acga prepare wrote ({MANIFEST_NAME}), whose "
                         f"{artifacts.VOCAB_FILE} a run's would replace; choose another {option(*OUTPUT)} for the run")
    finished = artifacts.MODEL_FILE in entries
    own = {e for e in entries if e in RUN_ENTRIES or artifacts.DAMAGED_PROVENANCE.fullmatch(e)}
    foreign = sorted(e for e in entries - own if not e.endswith(TEMPORARY_ENDINGS))
    if overwrite:
        removed = sorted(own - set(keep))
        for entry in removed:
            path = os.path.join(work_dir, entry)
            (tf.io.gfile.rmtree if tf.io.gfile.isdir(path) else tf.io.gfile.remove)(path)
        if removed:
            logger.warning("%s: removed the previous run's files in %s (%s)", option(*OVERWRITE), work_dir,
                           ", ".join(removed))
    elif foreign:
        raise ValueError(f"{work_dir}: holds files that are not a training run's ({', '.join(foreign[:5])}); choose "
                         f"an empty or new {option(*OUTPUT)}, or pass {option(*OVERWRITE)} to train there anyway")
    elif finished and not resume:
        raise ValueError(f"{work_dir}: holds a finished run ({artifacts.MODEL_FILE}); pass {option(*RESUME)} to train "
                         f"it for more epochs ({option('--epochs', 'epochs')} is the new total), {_start_over()}")
    elif finished and not tf.io.gfile.exists(os.path.join(work_dir, BACKUP_DIR)):
        raise ValueError(f"{work_dir}: the finished run has no {BACKUP_DIR}/ to resume from; pass "
                         f"{option(*OVERWRITE)} to "
                         "start over")
    if not overwrite:
        _check_resumable(work_dir, finished, experiment)
    if "://" not in work_dir:  # a local folder: one line naming it where it cannot be written (a read-only folder)
        files.check_writable(work_dir, folder=True, flag=option(*OUTPUT))
        for sub in (BACKUP_DIR, CHECKPOINT_DIR, LOG_DIR):  # a resumed run's (a read-only checkpoints/ would fail
            if os.path.isdir(os.path.join(work_dir, sub)):  # at the epoch's end, naming a temporary file)
                files.check_writable(os.path.join(work_dir, sub), folder=True, flag=option(*OUTPUT))
    tf.io.gfile.makedirs(work_dir)


def _check_exclusive(resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise ValueError(f"{option(*RESUME)} and {option(*OVERWRITE)} exclude each other")


def _check_resumable(work_dir: str, finished: bool, experiment: ExperimentConfig | None) -> None:
    """Refuses a run whose backup cannot be resumed from, or whose experiment is not `experiment` (`claim_run_dir`)."""
    weights = os.path.join(work_dir, BACKUP_DIR, BACKUP_WEIGHTS_FILE)
    metadata_path = os.path.join(work_dir, BACKUP_DIR, BACKUP_METADATA_FILE)
    metadata = read_backup_metadata(metadata_path)
    if not tf.io.gfile.exists(weights):
        checkpoints = sorted(tf.io.gfile.glob(os.path.join(glob.escape(work_dir), CHECKPOINT_DIR, "epoch-*.keras")))
        if metadata is not None and "step" in metadata:
            trained = f"{metadata_path} records optimizer step {metadata['step']}"
        elif finished:
            trained = f"the run is finished ({artifacts.MODEL_FILE})"
        elif checkpoints:
            trained = f"the run has trained ({checkpoints[-1]})"
        else:
            return  # killed before its first backup: nothing trained to lose, the run starts (over)
        raise FileNotFoundError(f"{weights}: missing, though {trained}; without it training would start over at step 0 "
                                f"and replace the run's files: restore the file, pass {_start_over()}")
    stored_path = os.path.join(work_dir, artifacts.EXPERIMENT_FILE)
    if experiment is None or not tf.io.gfile.exists(stored_path):
        return  # a run from before experiment.json was written at the start: `restore` checks the optimizer state
    try:
        stored = ExperimentConfig.from_dict(files.read_json(stored_path), source=stored_path)
    except json.JSONDecodeError as e:
        raise ValueError(f"{stored_path}: not valid JSON (line {e.lineno}: {e.msg}); restore the file, pass "
                         f"{_start_over()}") from None
    differences = experiment_differences(stored, experiment)
    if differences:
        shown = ", ".join(differences[:6]) + (f" and {len(differences) - 6} more" if len(differences) > 6 else "")
        raise ValueError(f"{stored_path}: the run was trained with another experiment ({shown}); a resumed run keeps "
                         "its experiment, only its epochs may change: pass the run's settings (e.g. "
                         f"{option(f'--config {stored_path}', f'ExperimentConfig.from_json({stored_path!r})')}), "
                         f"{_start_over()}")


def _run_refused_first(work_dir: str, experiment: ExperimentConfig, resume: bool, overwrite: bool) -> None:
    """Where `claim_run_dir` would refuse the folder's run (another experiment than the run's, `resume` with
    `overwrite`), says so: a set too small for this command's batch is then the run's other batch, which a tester
    was told of ("fewer than one global batch of 8") for a run trained at batch 1, resumed without its settings."""
    _check_exclusive(resume, overwrite)
    if not overwrite and tf.io.gfile.isdir(work_dir):
        _check_resumable(work_dir, tf.io.gfile.exists(os.path.join(work_dir, artifacts.MODEL_FILE)), experiment)


def experiment_differences(run: ExperimentConfig, new: ExperimentConfig) -> list[str]:
    """The fields `new` changes in the `run`'s experiment, other than `RESUMABLE_CHANGES`, as
    "name: <the run's value> -> <the new value>" (a field of several parts, such as image_size, once)."""
    differences = []
    stored, given = run.to_dict(), new.to_dict()
    for part in stored:
        for name, value in stored[part].items():
            if (part, name) not in RESUMABLE_CHANGES and value != given[part].get(name):
                line = f"{name}: {value!r} -> {given[part].get(name)!r}"
                if line not in differences:
                    differences.append(line)
    return differences


def _session(run: _Run, model: keras.Model, start_step: int, data: tuple[list[dict], str | None],
             vectors: tuple[str | None, str],
             init_weights: str | None, policy: str | None, feature_cache: bool,
             stages: dict[str, str] | None = None) -> dict:
    """This command's record in the run's `provenance.json` (`artifacts.record_session`): what `experiment.json`
    does not hold (the shards read, the starting weights and their digest, the word vectors' file and digest as the
    backup records it: `vectors`, the precision, the feature cache), the software and the host; the command line as
    the process got it."""
    vectors_path, vectors_digest = vectors
    train_shards, val_pattern = data
    val_shards = None if val_pattern is None else {"pattern": as_given(val_pattern),
                                                   "shards": shard_records(sorted(tf.io.gfile.glob(val_pattern)))}
    return {"started": provenance.now(), "start_step": start_step, "argv": list(sys.argv), "cwd": os.getcwd(),
            "data": {"pattern": as_given(run.train_pattern), "shards": train_shards}, "val_data": val_shards,
            "init_weights": None if init_weights is None else {
                "source": os.path.abspath(init_weights), "digest": artifacts.arrays_digest(model.get_weights())},
            "word_vectors": {"file": None if vectors_path is None else os.path.abspath(vectors_path),
                             "digest": vectors_digest},
            "precision": policy or "float32", "feature_cache": feature_cache, "stages": stages or {},
            "software": provenance.software(),
            "host": provenance.host(gpu=gpu_description(), onednn=onednn_enabled(), replicas=run.replicas)}


def _plan(experiment, train_pattern, output_dir, val_pattern, epochs, steps_per_epoch, backup_every,
          strategy, folder_policy: tuple[bool, bool]) -> _Run:
    """Checks the arguments and the shards, picks the strategy and the work folder. `folder_policy`: (resume,
    overwrite), for a set too small for the batch where the folder's run is refused anyway (`_run_refused_first`)."""
    if not isinstance(experiment, ExperimentConfig):
        raise ValueError(f"fit needs an ExperimentConfig (e.g. ExperimentConfig.preset('paper')), got "
                         f"{type(experiment).__name__}")
    if experiment.model.modality != "rgb":  # else Keras' shape error on the first batch, an empty run folder left
        raise ValueError(f"modality={experiment.model.modality!r}: training reads the RGB frames of the shards "
                         "(acga prepare writes no optical flow); train with modality='rgb' (docs/data.md#pipeline)")
    epochs = experiment.training.epochs if epochs is None else int(epochs)
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch), ("backup_every", backup_every)):
        if value is not None and value < 1:
            raise ValueError(f"{name}={value}: must be positive")
    matching_shards(train_pattern, " (run `acga prepare` first)")
    if val_pattern is not None:
        matching_shards(val_pattern, " (the validation pattern)")
    distribution = None
    if keras.backend.backend() != "tensorflow":
        # JAX splits each batch over its devices (keras.distribution), PyTorch trains on one device; tf.distribute,
        # TF_CONFIG's workers and the feature cache are TensorFlow's.
        if strategy is not None or os.environ.get("TF_CONFIG"):
            raise ValueError(f"KERAS_BACKEND={keras.backend.backend()}: distribution strategies and TF_CONFIG need "
                             "KERAS_BACKEND=tensorflow; under JAX one process trains on all its devices, under "
                             "PyTorch on one")
        distribution = data_parallel()
        replicas = distribution.num_model_replicas if distribution is not None else 1
        where = (f"DataParallel over {', '.join(keras.distribution.list_devices())}" if distribution is not None
                 else f"one {keras.backend.backend()} device")
    else:
        strategy = strategy or make_strategy()
        replicas = strategy.num_replicas_in_sync
        where = f"{type(strategy).__name__} over {', '.join(getattr(strategy.extended, 'worker_devices', ()))}"
    global_batch = experiment.training.batch_size * replicas
    held_out = known_sample_count(val_pattern) if distribution is not None and val_pattern is not None else None
    if held_out is not None and held_out < replicas:
        raise ValueError(f"{val_pattern}: {held_out} validation sample(s), fewer than the {replicas} devices JAX "
                         f"splits each batch over; give more, or leave {option('--val-data', 'val_pattern')} out "
                         "and run acga evaluate")
    # (with the steps given too: each pass of the training stream drops its last partial batch, so a set smaller than
    # one batch made a stream that never yielded one, and `acga train --steps-per-epoch 1` spun in TensorFlow, deaf to
    # Ctrl-C and SIGTERM: a tester's)
    samples = count_samples(train_pattern) if steps_per_epoch is None else known_sample_count(train_pattern)
    work_dir = run_folder(output_dir)
    if samples is not None and samples < global_batch:
        _run_refused_first(work_dir, experiment, *folder_policy)
        raise ValueError(f"{train_pattern}: {samples} training samples, fewer than one global batch of "
                         f"{global_batch} (batch_size={experiment.training.batch_size} x {replicas} replicas): "
                         f"give {option('--batch-size', 'batch_size')} {max(1, samples // replicas)} or less, or "
                         "more samples")
    if steps_per_epoch is None:
        steps_per_epoch = samples // global_batch
    logger.info("training with %s: global batch %d (%d per replica x %d)", where, global_batch,
                experiment.training.batch_size, replicas)
    return _Run(experiment, train_pattern, work_dir, strategy, distribution, replicas, global_batch, steps_per_epoch,
                epochs)


def _load_words(run: _Run, vectors_path: str | None, init_weights: str | None = None, *,
                parent_words: bool = True) -> None:
    """The vocabulary beside the shards and its word vectors (outside the strategy scope: not mirrored); a trained
    run given as `init_weights` keeps its own (`_inherited_words`) and, where `parent_words`, every word it knows
    (`_fine_tune_vocabulary`)."""
    data_dir = os.path.dirname(sorted(tf.io.gfile.glob(run.train_pattern))[0])
    shards = load_vocabulary(data_dir)
    run.vocabulary = _fine_tune_vocabulary(shards, _parent_run(init_weights)) if parent_words else shards
    # (a fine-tune of a run keeps its vectors and says so: "no word vectors given: using random ..." misled a tester)
    run.vectorizer = load_vectorizer(data_dir, run.experiment.data, vectors_path, vocabulary=run.vocabulary,
                                     warn_random=_parent_run(init_weights) is None)
    if init_weights is not None and _is_run(init_weights):
        _inherited_words(run, init_weights, vectors_path, shards)
    elif init_weights is not None and init_weights.endswith(".weights.h5") and vectors_path is None:
        logger.warning("%s holds no word vectors: the sentences are read with random ones (seed %d); a model trained "
                       "with a word2vec file (the authors' converted checkpoint) reads them with %s and that file",
                       init_weights, run.experiment.data.seed, option("--word-vectors", "vectors_path"))


def _words_as_backed_up(run: _Run, vectors_path: str | None, init_weights: str) -> None:
    """A fine-tune begun before 2026-12-06 (night) read the shards' words alone (`_fine_tune_vocabulary` did not
    exist): where its backup's record of the word vectors is those, its resume reads them so (a reviewer's: refused,
    "resume it with the --word-vectors file it trained with", of a run that had none)."""
    metadata = read_backup_metadata(os.path.join(run.work_dir, BACKUP_DIR, BACKUP_METADATA_FILE)) or {}
    recorded = metadata.get("word_vectors")
    if recorded is None or recorded == artifacts.arrays_digest([run.vectorizer.matrix]):
        return
    merged = run.vocabulary, run.vectorizer
    logger.disabled = True  # (its notes of the words were given once)
    try:
        _load_words(run, vectors_path, init_weights, parent_words=False)
    finally:
        logger.disabled = False
    if artifacts.arrays_digest([run.vectorizer.matrix]) != recorded:  # the backup's refusal says what differs
        run.vocabulary, run.vectorizer = merged
    else:
        logger.warning("word vectors: the run began before a fine-tune kept the words of the run it starts from: it "
                       "resumes with the %d words of its shards, as it began", len(run.vocabulary.words) - 1)


def _is_run(init_weights: str) -> bool:
    """Whether `--init-weights` names a trained run (its folder or a `.keras` file), whose words are fine-tuned."""
    return init_weights.endswith(".keras") or os.path.isfile(os.path.join(init_weights, artifacts.MODEL_FILE))


def _parent_run(init_weights: str | None) -> str | None:
    """The folder of the trained run `init_weights` names, whose words (`vocab.txt`, `embeddings.npy`) a fine-tune
    keeps (`_inherited_words`); None for anything else."""
    return artifacts.run_directory(init_weights) if init_weights is not None and _is_run(init_weights) else None


def _fine_tune_vocabulary(shards: Vocabulary, parent: str | None) -> Vocabulary:
    """The words of a fine-tune of the run `parent`: the run's, in its order, then the shards' words it lacks (their
    counts added); the shards' alone where there is no parent run or no `vocab.txt` in it. A fine-tune on shards of
    fewer words dropped the others: an own-data tester's model forgot 'yellow' and 'triangle', 82 of 109 of the
    demo's test sentences then read with unknown words."""
    path = None if parent is None else os.path.join(parent, artifacts.VOCAB_FILE)
    if path is None or not os.path.isfile(path):
        return shards
    theirs = Vocabulary.load(path)
    counts = dict(zip(shards.words, shards.counts))
    words = [*theirs.words[1:], *(word for word in shards.words[1:] if not theirs.index(word))]
    return Vocabulary(words, [(theirs.counts[theirs.index(word)] if theirs.index(word) else 0) + counts.get(word, 0)
                              for word in words])


def _inherited_words(run: _Run, init_weights: str, vectors_path: str | None, shards: Vocabulary | None = None
                     ) -> None:
    """A trained run fine-tuned (`init_weights`) has learnt its words' vectors (its `embeddings.npy`): another seed's
    random vectors, or none where it read a word2vec file, made the fine-tuned model read every word as another
    (a researcher's demo run fell from 48 to 21 mean IoU with seed 7's vectors, its weights unchanged). Without
    `vectors_path`, each word the run knows gets its vector (those the shards lack too: `_fine_tune_vocabulary`), new
    words random ones; with it, a warning says how many words the file gives other vectors than the run's."""
    parent = _parent_run(init_weights)
    if parent is None:
        logger.warning("%s: no %s and %s beside it: the word vectors it was trained with are not known, so the "
                       "sentences are read with this run's (%s)", init_weights, artifacts.VOCAB_FILE,
                       artifacts.EMBEDDINGS_FILE, vectors_path or f"random, seed {run.experiment.data.seed}")
        return
    words = Vocabulary.load(os.path.join(parent, artifacts.VOCAB_FILE))
    vectors = load_embedding_matrix(os.path.join(parent, artifacts.EMBEDDINGS_FILE), words,
                                    os.path.join(parent, artifacts.VOCAB_FILE))
    matrix = run.vectorizer.matrix.numpy()
    if vectors.shape[1] != matrix.shape[1]:  # another word_dim: the weights' shapes refuse it (`load_initial_weights`)
        return
    shared = {row: words.index(word) for row, word in enumerate(run.vocabulary.words[1:], start=1)
              if words.index(word)}
    other = [row for row, theirs in shared.items() if not np.array_equal(matrix[row], vectors[theirs])]
    source = os.path.join(parent, artifacts.EMBEDDINGS_FILE)
    new = len(run.vocabulary.words) - 1 - len(shared)
    shards = run.vocabulary if shards is None else shards
    disjoint = vectors_path is None and not any(words.index(word) for word in shards.words[1:])
    if disjoint:  # (no word in common: random vectors, which load_vectorizer did not say for a fine-tune: a reviewer's)
        logger.warning("word vectors: the shards' %d words are none of those %s knows: they get random vectors (seed "
                       "%d)", len(shards.words) - 1, parent, run.experiment.data.seed)
    if not other:  # (the same seed's random vectors, or the same file: nothing to keep)
        if vectors_path is None:
            logger.info("word vectors: the %d words %s knows read as it was trained to (%s)", len(shared), parent,
                        source)
            if new and not disjoint:
                logger.warning("word vectors: %d new words get random vectors (seed %d)", new,
                               run.experiment.data.seed)
        return
    if vectors_path is not None:
        logger.warning("%s gives %d of the %d words the fine-tuned run knows other vectors than it was trained with "
                       "(%s): the model starts out reading them as other words; without %s the run's own are kept",
                       vectors_path, len(other), len(shared), source, option("--word-vectors", "vectors_path"))
        return
    for row in other:
        matrix[row] = vectors[shared[row]]
    logger.warning("word vectors: the %d words %s knows keep the vectors it was trained with (%s), not the random "
                   "ones of seed %d%s", len(shared), parent, source, run.experiment.data.seed,
                   f"; {new} new words keep theirs" if new and not disjoint else "")
    run.vectorizer = SentenceVectorizer.from_vocabulary(run.vocabulary, matrix, run.vectorizer.sentence_length)


def _checked_stages(stages) -> dict[str, Callable[[], keras.layers.Layer]]:
    """`fit`'s `stages`, checked before the run's folder: {stage name: what makes its layer}, or {}."""
    if stages is None:
        return {}
    check_stage_names(stages, "what makes each layer", "MyTextEncoder")
    for name, make in stages.items():
        if isinstance(make, keras.layers.Layer) or not callable(make):
            raise TypeError(f"stages[{name!r}] is a {type(make).__name__}: fit builds the model where the strategy "
                            "wants its variables, and again to resume it, so give what makes the layer (its class, "
                            f"or a function of no argument: stages={{{name!r}: lambda: MyLayer(...)}})")
    return dict(stages)


def _made_stage(name: str, make: Callable[[], keras.layers.Layer]) -> keras.layers.Layer:
    if isinstance(make, type):  # a class whose layer takes arguments (a researcher's: the bare `__init__` message);
        try:  # an error inside it is its own, raised as it is
            inspect.signature(make).bind()
        except TypeError as e:
            raise TypeError(f"stages[{name!r}]: {make.__name__}() cannot be made without arguments ({e}): give a "
                            f"function of no argument that makes the layer, e.g. lambda: {make.__name__}(...)"
                            ) from None
    layer = make()
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"stages[{name!r}] made a {type(layer).__name__}, not a Keras layer")
    return layer


def _stage_classes(model: ACGA, stages: Mapping[str, object]) -> dict[str, str]:
    """{stage name: the registered name of its layer's class (`package>Class`)} of the stages of one's own, which the
    backup and the provenance record."""
    return {name: keras.saving.get_registered_name(type(model.stage(name))) for name in stages}


def _checked_callbacks(callbacks) -> list[keras.callbacks.Callback]:
    """`fit`'s `callbacks`: a list of Keras callbacks, or one."""
    callbacks = [callbacks] if isinstance(callbacks, (keras.callbacks.Callback, type)) else list(callbacks or ())
    for callback in callbacks:
        if isinstance(callback, type):
            raise TypeError(f"callbacks: {callback.__name__} is a class: give the callback, "
                            f"{callback.__name__}(...)")
        if not isinstance(callback, keras.callbacks.Callback):
            raise TypeError(f"callbacks: {type(callback).__name__} is not a Keras callback (keras.callbacks.Callback)")
    return callbacks



def _several_workers(strategy) -> bool:
    """Whether `strategy` trains over several workers: a MultiWorkerMirroredStrategy in multi-worker mode, as Keras
    reads it (a one-worker TF_CONFIG, a scheduler's "replicas: 1", is not: it trains as one machine does)."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and getattr(strategy.extended, "_in_multi_worker_mode", lambda: True)())


def _build_model(run: _Run, policy: str | None, feature_cache: bool,
                 stages: Mapping[str, Callable[[], keras.layers.Layer]] | None = None):
    """`(model, task, prefix)`: the `ACGA` (with the stages `stages` makes), the `TrainingTask` that trains it (the
    head after the cut with the feature cache), and the frozen prefix (None without the cache)."""
    experiment = run.experiment
    dtypes = PRECISIONS.get(policy, {})  # ACGA's dtype arguments; {} for the default (`resolve_policy`)

    def made():
        return {name: _made_stage(name, make) for name, make in (stages or {}).items()} or None

    def checked(model):  # a stage class Keras cannot find by name is refused now, not at the first checkpoint's save
        if stages:
            model.get_config()
        return model

    if run.strategy is None:  # JAX / PyTorch: the model is its own task (SegmentationTask's compile defaults)
        model = checked(ACGA(experiment.model, stages=made(), **dtypes))
        model.compile(learning_rate=experiment.training.learning_rate,
                      foreground_weight=experiment.training.foreground_weight)
        model.optimizer.build(model.trainable_variables)
        return model, model, None
    # Keras reduces a step's logs across workers (`strategy.reduce(..., axis=0)`, see `TrainingTask`) where the
    # strategy is in multi-worker mode, as its own check reads it: a one-worker TF_CONFIG (a scheduler's replicas: 1)
    # is not, and its logs kept the axis (a traceback after the first step: a cluster reviewer's)
    multi_worker = _several_workers(run.strategy)
    with run.strategy.scope():
        model = checked(ACGA(experiment.model, stages=made(), **dtypes))
        if feature_cache:
            prefix, task = split_model(model, task_class=TrainingTask)
            task.scalar_logs_with_axis = multi_worker
        else:
            prefix, task = None, TrainingTask.over(model, scalar_logs_with_axis=multi_worker)
        task.trains(model)  # what callbacks of one's own reach, save and ask for stages by
        task.compile(learning_rate=experiment.training.learning_rate,
                     foreground_weight=experiment.training.foreground_weight)
        task.optimizer.build(task.trainable_variables)
    return model, task, prefix


def _resume(run: _Run, task: keras.Model, backup: "_ResumableBackup", verbose: int = 0, *,
            finishing: bool = False) -> int:
    """Restores the backup into the task and its optimizer; returns the optimizer step to go on from. Says so on
    stdout where `verbose` (beside Keras' progress, which does not say the run resumed). `finishing`: a
    finished worker's run saved again beside the cluster's others (`_finishing_with_the_cluster`)."""
    backup.set_model(task)
    if not backup.restore():
        return 0
    start_step = int(task.optimizer.iterations.numpy())
    total_steps = run.epochs * run.steps_per_epoch
    line = (f"resuming from {backup.backup_dir} at optimizer step {start_step} (epoch "
            f"{start_step // run.steps_per_epoch + 1}, step {start_step % run.steps_per_epoch} of "
            f"{run.steps_per_epoch}); the scores of the epoch it resumes in cover the steps from here"
            if start_step < total_steps else
            f"resuming from {backup.backup_dir} at optimizer step {start_step}, the run's last: only its save is left")
    # A run stopped after its last step but before its model was saved has only the save left: also a finished run
    # trained further, whose model.keras is still the earlier one.
    finished = _saved_steps(run) == total_steps
    if start_step > total_steps or (start_step == total_steps and finished and not finishing):
        raise ValueError(f"{backup.backup_dir}: the run has already made {start_step} optimizer steps, at or past the "
                         f"{total_steps} of {run.epochs} epochs x {run.steps_per_epoch}; pass a larger "
                         f"{option('--epochs', 'epochs')} to train it further")
    print(line) if verbose else logger.info(line)  # once the resume is not refused
    return start_step


def _saved_steps(run: _Run) -> int | None:
    """The optimizer steps the run's `model.keras` was trained for, by the `experiment.json` saved with it (a finished
    run trained further keeps it until its new model is saved: `fit`); None where there is no `model.keras`. Where
    `experiment.json` cannot be read, the model is taken to hold the run's steps (as before it was consulted)."""
    if not tf.io.gfile.exists(os.path.join(run.work_dir, artifacts.MODEL_FILE)):
        return None
    try:
        saved = ExperimentConfig.from_json(os.path.join(run.work_dir, artifacts.EXPERIMENT_FILE))
    except (OSError, ValueError, TypeError, KeyError):
        return run.epochs * run.steps_per_epoch
    return saved.training.epochs * run.steps_per_epoch


def _shards_record(pattern: str, shards: list[dict]) -> dict:
    """What the backup records of the shards a run trains on (`shard_records`): their count and a digest of their
    contents (each one's sha256 from its manifest, else its name and size), so that moved shards still match."""
    digest = hashlib.sha256()
    for shard in sorted(s["sha256"] or f"{os.path.basename(s['file'])}:{s['bytes']}" for s in shards):
        digest.update(shard.encode() + b"\n")
    return {"pattern": as_given(pattern), "shards": len(shards), "digest": digest.hexdigest()[:16]}


def _check_one_vocabulary(train_pattern: str) -> None:
    """Refuses training shards of several folders whose vocabularies differ: a run reads its sentences with one, the
    first folder's (the other folders' sentences read with words that are not theirs, without a word: a mends
    reviewer's glob over two conversions). Folders without a manifest are read with the first's, as before.

    Raises:
        ValueError: naming the two folders.
    """
    folders = list(dict.fromkeys(os.path.dirname(path) for path in matching_shards(train_pattern)))
    if len(folders) < 2:
        return
    first = load_vocabulary(folders[0]).words
    for folder in folders[1:]:
        if read_manifest(folder, missing_ok=True) is not None and load_vocabulary(folder).words != first:
            raise ValueError(f"{folder}: its shards' vocabulary differs from {folders[0]}'s, and a run reads its "
                             f"sentences with one ({option('--data', 'train_pattern')} matches both folders): "
                             "convert the data into one folder, or each with the same --vocabulary (the first "
                             "folder's vocab.txt)")


def _data_settings(train_pattern: str, val_pattern: str | None) -> dict[str, object]:
    """What the workers of a cluster compare of their data (`check_same_settings`), whose paths may differ from
    machine to machine: the samples of each split's shards and the vocabulary's words (a worker given other shards
    trained beside the others before, its sentences read with other words: a cluster reviewer's). Shards that cannot
    be read are said so (where every worker's alike, the checks after say why)."""
    try:
        words = load_vocabulary(os.path.dirname(sorted(tf.io.gfile.glob(train_pattern))[0])).words
        vocabulary = f"{len(words) - 1} words, digest {artifacts.arrays_digest([np.asarray(words, dtype=str)])}"
    except IndexError:
        vocabulary = "no shards"
    except (OSError, ValueError, KeyError, tf.errors.OpError) as e:
        vocabulary = f"unreadable: {error_message(e)}"
    return {"shards.training_samples": known_sample_count(train_pattern),
            "shards.held_out_samples": known_sample_count(val_pattern) if val_pattern is not None else None,
            "shards.vocabulary": vocabulary}


def _words_record(run: _Run, init_weights: str | None, data_dir: str) -> dict:
    """What the backup records of the vocabulary the run reads its sentences with: its size, where its words come from
    (the `vocab.txt` of the shards in `data_dir`, and a fine-tune's parent run's: `_fine_tune_vocabulary`) and a
    digest of its words in order."""
    words = run.vocabulary.words
    sources = [os.path.join(data_dir, artifacts.VOCAB_FILE)]
    if (parent := _parent_run(init_weights)) is not None:
        sources.append(os.path.join(parent, artifacts.VOCAB_FILE))
    return {"words": len(words) - 1, "file": " or ".join(sources),
            "digest": artifacts.arrays_digest([np.asarray(words, dtype=str)])}


def _emptied_by_overwrite(path: str, work_dir: str) -> bool:
    """Whether `--overwrite` of the run in `work_dir` removes `path` (the run folder itself, or what lies in one of
    the run's own entries: its model.keras, checkpoints/, ...)."""
    if "://" in path or "://" in work_dir:
        return False
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(work_dir))
    return relative == "." or relative.split(os.sep)[0] in RUN_ENTRIES


def _build_inputs(run: _Run, prefix: keras.Model | None):
    """`batches(skip)`: one endless stream of training batches shared by every epoch, skipping what a resumed
    run has trained on; with the feature cache, over the cached features (written once here)."""
    experiment, global_batch = run.experiment, run.global_batch
    if prefix is None:
        shard = _worker_shard(run.strategy, run.train_pattern)

        def batches(skip: int) -> tf.data.Dataset:
            ds = make_dataset(run.train_pattern, experiment.data, training=True, batch_size=global_batch,
                              vectorizer=run.vectorizer, shard=shard, endless=True)
            if shard is not None and skip:
                # Each worker reads its own files, and a step takes global_batch / workers of its samples
                # (tf.distribute splits each batch over the replicas): skip that many a step, not a global batch
                # (a resumed multi-worker run skipped `workers` times too many, so trained on other samples).
                workers = shard[0]
                if skip % workers:  # a part of a batch: skipped by samples
                    return ds.unbatch().skip(skip * global_batch // workers).batch(global_batch, drop_remainder=True)
                return ds.skip(skip // workers)
            return ds.skip(skip) if skip else ds
        return batches
    unflipped = make_dataset(run.train_pattern, experiment.data.replace(horizontal_flip=False), training=False,
                             batch_size=global_batch, vectorizer=run.vectorizer)
    cache_paths = _feature_cache(prefix, unflipped, os.path.join(run.work_dir, FEATURE_CACHE_DIR),
                                 *_cache_fingerprint(run, prefix, run.train_pattern))

    def cached(skip: int) -> tf.data.Dataset:
        ds = cached_dataset(cache_paths, batch_size=global_batch, seed=experiment.data.seed,
                            shuffle_buffer=experiment.data.shuffle_buffer)
        return ds.skip(skip) if skip else ds
    return cached


def _worker_shard(strategy, pattern: str) -> tuple[int, int] | None:
    """(workers, this worker's index) under `MultiWorkerMirroredStrategy` where the training shards are several
    files: each worker then reads its own (`make_dataset(shard=)`; TensorFlow's file-based auto-sharding stopped with
    "Did not find a shardable source" on the training pipeline). None otherwise: one file is split by records."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    if len(tf.io.gfile.glob(pattern)) < 2:
        return None
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec().as_dict()
    tasks = [(kind, i) for kind in ("chief", "worker") for i in range(len(spec.get(kind, ())))]
    return len(tasks), tasks.index((resolver.task_type, resolver.task_id))


def _build_validation(run: _Run, val_pattern: str, prefix: keras.Model | None = None) -> tf.data.Dataset:
    """The validation batches `fit` evaluates after every epoch, of the length `make_dataset` gives them where the
    manifest knows it (Keras warns "Your input ran out of data" after a dataset of unknown length ends; several
    workers' auto-shard drops that length, each reading a part). Under JAX's DataParallel every batch is a whole number
    of slices, one per device (JAX cannot split a batch unevenly): the last `samples % devices` samples are left out,
    a warning says so, and the length is set again after that trim. With the feature cache (`prefix`), the frozen
    blocks' features of the validation samples, cached as the training samples' are (`feature_cache/validation/`):
    the model that trains takes features (the full model's batches stopped the first epoch's end: a reviewer's)."""
    ds = make_dataset(val_pattern, run.experiment.data, training=False, batch_size=run.global_batch,
                      vectorizer=run.vectorizer)
    if prefix is not None:
        paths = _feature_cache(prefix, ds, os.path.join(run.work_dir, FEATURE_CACHE_DIR, VALIDATION_CACHE_DIR),
                               *_cache_fingerprint(run, prefix, val_pattern))
        cached = cached_dataset(paths, batch_size=run.global_batch, seed=run.experiment.data.seed,
                                shuffle_buffer=1, training=False)
        length = int(ds.cardinality())  # (unknown: -2)
        return cached.apply(tf.data.experimental.assert_cardinality(length)) if length >= 0 else cached
    if run.distribution is None:
        return ds
    samples = known_sample_count(val_pattern)  # None: shards without a manifest
    replicas = run.replicas
    ds = ds.map(lambda x, y: tf.nest.map_structure(lambda t: t[:tf.shape(t)[0] // replicas * replicas], (x, y)))
    ds = ds.filter(lambda x, y: tf.shape(x["video"])[0] > 0)
    if samples is not None and samples % replicas:
        logger.warning("validation leaves out the last %d of the %d samples of %s: JAX splits every batch evenly "
                       "over the %d devices (`acga evaluate` scores them all)", samples % replicas, samples,
                       val_pattern, replicas)
        samples -= samples % replicas
    return ds if samples is None else ds.apply(tf.data.experimental.assert_cardinality(-(-samples //
                                                                                           run.global_batch)))


def _build_callbacks(run: _Run, model: keras.Model, backup: "_ResumableBackup") -> list:
    """Learning-rate schedule, NaN stop, backup, per-epoch checkpoints of the full model, TensorBoard."""
    pattern = os.path.join(run.work_dir, CHECKPOINT_DIR, CHECKPOINT_PATTERN)
    tf.io.gfile.makedirs(os.path.dirname(pattern))
    callbacks = [
        keras.callbacks.LearningRateScheduler(run.experiment.training.learning_rate_at),
        _StopOnNonFiniteLoss(),
        backup,
        _FullModelCheckpoint(model, pattern,  # the ACGA, not the task that trains it
                             artifacts.words_digest(run.vocabulary.words, run.vectorizer.matrix.numpy())),
        _StopWhenAsked(),  # (after the backup and the checkpoint a step or an epoch has due)
    ]
    if importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(run.work_dir, LOG_DIR)))
    else:
        logger.warning("tensorboard is not installed: no TensorBoard logs in %s (pip install tensorboard)",
                       os.path.join(run.work_dir, LOG_DIR))
    return callbacks


def _train(run: _Run, task: keras.Model, batches, validation, callbacks, start_step: int,
           verbose: int) -> keras.callbacks.History:
    """`task.fit` from `start_step`: the rest of an interrupted epoch first, then whole epochs.

    `shuffle=False`: `batches` is a `tf.data.Dataset` that shuffles itself (seeded, docs/training.md); Keras ignores
    its `shuffle=True` default for one, but warns about it on every `fit`.
    """
    history = keras.callbacks.History()  # no epoch left: a run stopped between its last step and its save
    history.epoch = []
    epoch, done = divmod(start_step, run.steps_per_epoch)
    if done:  # finish the interrupted epoch first, its line saying the run's epochs ("Epoch 2/3", not "2/2")
        history = task.fit(batches(start_step), initial_epoch=epoch, epochs=epoch + 1,
                           steps_per_epoch=run.steps_per_epoch - done, validation_data=validation,
                           callbacks=[*callbacks, _EpochsOfTheRun(run.epochs)], shuffle=False, verbose=verbose)
        epoch += 1
    if epoch < run.epochs and not task.stop_training:
        rest = task.fit(batches(epoch * run.steps_per_epoch), initial_epoch=epoch, epochs=run.epochs,
                        steps_per_epoch=run.steps_per_epoch, validation_data=validation, callbacks=callbacks,
                        shuffle=False, verbose=verbose)
        history = _merge(history, rest)
    return history


def _cache_fingerprint(run: _Run, prefix: keras.Model, pattern: str) -> tuple[str, dict]:
    """sha256 of everything the cached features depend on: the shards of `pattern` (names and the manifest's
    sha256), the data and model configs, the word vectors, the frozen prefix's weights and the dtype it computes in;
    and those parts, JSON-able (the configs' fields as they are, the rest by their own sha256), which `complete.json`
    records so that a cache written again says which of them changed (docs/training.md#feature-cache)."""
    # each shard by the manifest beside it (a second folder's shards were recorded without their digests)
    shards = shard_records(sorted(tf.io.gfile.glob(pattern)))
    # a shard without a manifest by its size (validation shards swapped on a resume, of the converter's names, were
    # scored from the stale cache: a diff reviewer's); a manifest's sha256 as before (earlier caches stay valid)
    described = {"shards": [(os.path.basename(s["file"]), s["sha256"] or f"{s['bytes']} bytes") for s in shards],
                 "data": run.experiment.data.to_dict(), "model": run.experiment.model.to_dict(),
                 # (a cache of bfloat16 features was reused by a float32 run: a researcher's)
                 "computed_in": compute_dtype(prefix)}
    h = hashlib.sha256(json.dumps(described, sort_keys=True).encode("utf-8"))
    vectors = np.ascontiguousarray(run.vectorizer.matrix.numpy()).tobytes()
    h.update(vectors)
    frozen = hashlib.sha256()
    for weight in prefix.get_weights():
        h.update(np.ascontiguousarray(weight).tobytes())
        frozen.update(np.ascontiguousarray(weight).tobytes())
    parts = {"shards": hashlib.sha256(json.dumps(described["shards"]).encode("utf-8")).hexdigest(),
             "data": described["data"], "model": described["model"], "computed_in": described["computed_in"],
             "word_vectors": hashlib.sha256(vectors).hexdigest(), "frozen_weights": frozen.hexdigest()}
    return h.hexdigest(), json.loads(json.dumps(parts))  # (as `complete.json` gives them back: tuples as lists)


def _feature_cache(prefix: keras.Model, dataset: tf.data.Dataset, directory: str, fingerprint: str,
                   parts: dict | None = None) -> list[str]:
    """The cache's shards: reused when a complete cache of the same inputs is there (`complete.json` records their
    fingerprint, its `parts` from `_cache_fingerprint`, and each shard's size), else written again in an emptied
    folder (a killed write's shards and temporary files went on taking room), the warning naming what changed. The
    shards are recorded by their names in `directory`: recorded as the paths were given (relative to the folder the
    command ran in), a cache was read from the run it was copied from, or called "made from other inputs" and written
    again from another folder."""
    marker = os.path.join(directory, "complete.json")
    if tf.io.gfile.exists(marker):
        paths, why = _recorded_cache(directory, marker, fingerprint, parts)
        if why is None:
            logger.info("reusing the feature cache in %s (%d shards)", directory, len(paths))
            return paths
        logger.warning("the feature cache in %s %s: writing it again", directory, why)
    if tf.io.gfile.exists(directory):
        tf.io.gfile.rmtree(directory)
    paths = write_cache(prefix, dataset, directory)
    record = {"shards": [os.path.basename(p) for p in paths], "fingerprint": fingerprint,
              "sizes": [tf.io.gfile.stat(p).length for p in paths]}
    files.write_json(marker, record if parts is None else {**record, "parts": parts})
    return paths


def _damaged_cache_shard(work_dir: str) -> str | None:
    """The first shard of the run's feature caches (training, validation) that cannot be read through, its cache's
    `complete.json` removed so that the next run writes that cache again; None where every shard reads. A shard
    damaged in place (its size kept) failed every resume with "corrupted record at N", naming no file (a
    reviewer's)."""
    for folder in (os.path.join(work_dir, FEATURE_CACHE_DIR), os.path.join(work_dir, FEATURE_CACHE_DIR,
                                                                            VALIDATION_CACHE_DIR)):
        damaged = first_unreadable(sorted(tf.io.gfile.glob(os.path.join(folder, CACHE_GLOB))))
        if damaged is not None:
            if tf.io.gfile.exists(marker := os.path.join(folder, "complete.json")):
                tf.io.gfile.remove(marker)
            return damaged
    return None


def _recorded_cache(directory: str, marker: str, fingerprint: str, parts: dict | None = None
                    ) -> tuple[list[str], str | None]:
    """The cache's shard paths as `complete.json` records them (by their names in `directory`; earlier records held
    whole paths), and why they cannot be reused (the file unreadable, made from other inputs, named by
    `_changed_inputs`, a shard missing or of another size than written), or None. A damaged shard failed the run at
    every try with TensorFlow's "truncated record at 92688", naming no file (a copy cut short: a reviewer's). The
    record is read once."""
    try:
        recorded = files.read_json(marker)
        shards, sizes = recorded["shards"], recorded.get("sizes")
        paths = [os.path.join(directory, os.path.basename(name)) for name in shards]
    except (ValueError, KeyError, TypeError, OSError) as e:
        what = "not whole JSON" if isinstance(e, ValueError) else f"without {e}" if isinstance(e, KeyError) else e
        return [], f"has an unreadable {os.path.basename(marker)} ({what})"
    if recorded.get("fingerprint") != fingerprint:
        return paths, f"was made from other inputs ({_changed_inputs(recorded.get('parts'), parts)})"
    for k, path in enumerate(paths):
        if not tf.io.gfile.exists(path):
            return paths, f"lacks {os.path.basename(path)}"
        if sizes is not None and (not isinstance(sizes, list) or k >= len(sizes)):  # (caches written before: None)
            return paths, "has a complete.json that records no size of some shards"
        if sizes is not None and (size := tf.io.gfile.stat(path).length) != sizes[k]:
            return paths, f"has {os.path.basename(path)} of {size:,} bytes, written {sizes[k]:,}"
    return paths, None


_ANY_INPUT = "shards, configs, word vectors, frozen weights or precision"
_CHANGED_PART = {"shards": "the data shards changed", "word_vectors": "the word vectors changed",
                 "frozen_weights": "the frozen blocks' weights changed"}


def _changed_inputs(was: object, now: dict | None) -> str:
    """Which parts of a feature cache's fingerprint differ, `was` as its `complete.json` records them and `now` as
    `_cache_fingerprint` gives them: "shuffle_buffer changed: was 256, now 64; the data shards changed". A config
    field by its name (a field of both configs, as `clip_length`, once), the frozen blocks' dtype by its values, the
    rest by the part's name. A cache written before the parts were recorded says so."""
    if now is None:
        return _ANY_INPUT
    if not isinstance(was, dict):
        return f"{_ANY_INPUT}: written by an earlier version, which did not record which"
    value = lambda d, k: ("not recorded" if k not in d else d[k] if isinstance(d[k], str) else json.dumps(d[k]))
    changes = {}  # (a dict: a field of both configs said once)
    for part, current in now.items():
        before = was.get(part)
        if part in was and before == current:
            continue
        if part in _CHANGED_PART:
            changes[_CHANGED_PART[part]] = None
        elif part == "computed_in":
            changes[f"the frozen blocks' precision changed: was {value(was, part)}, now {current}"] = None
        elif isinstance(current, dict) and isinstance(before, dict):
            for name in [*current, *(k for k in before if k not in current)]:
                if name not in before or name not in current or before[name] != current[name]:
                    changes[f"{name} changed: was {value(before, name)}, now {value(current, name)}"] = None
        else:
            changes[f"{part} changed"] = None
    return "; ".join(changes) or f"{_ANY_INPUT}: no recorded part differs"


class _EpochsOfTheRun(keras.callbacks.ProgbarLogger):
    """Keras' progress lines, "Epoch N/`epochs`" with the run's epochs, for the `fit` that finishes an interrupted
    epoch (it runs to that epoch alone: Keras printed "Epoch 2/2" then "Epoch 3/3")."""

    def __init__(self, epochs: int):
        super().__init__()
        self.run_epochs = epochs

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.run_epochs


class _FullModelCheckpoint(keras.callbacks.Callback):
    """Saves the `ACGA` (not the task that trains it) after every epoch, as `ModelCheckpoint` would."""

    def __init__(self, full_model: keras.Model, pattern: str, words_digest: str):
        super().__init__()
        self.full_model, self.pattern = full_model, pattern
        self.words_digest = words_digest  # recorded in each checkpoint (`artifacts.record_words`), computed once

    def on_epoch_end(self, epoch, logs=None):
        if not weights_are_finite(self.full_model):
            logger.warning("no checkpoint after epoch %d: the weights are not finite", epoch + 1)
            return
        with files.atomic_path(self.pattern.format(epoch=epoch + 1), suffix=".partial.keras") as temporary:
            self.full_model.save(temporary)
            artifacts.record_words(temporary, self.words_digest)


def _inference_copy(model: keras.Model) -> keras.Model:
    """An uncompiled copy of `model` with its weights, outside any strategy scope: `model.keras` then loads with
    `keras.saving.load_model` alone (no loss or metric classes, no optimizer state; the backup keeps those). Under
    TensorFlow the ACGA is uncompiled already (its `TrainingTask` trains it) and is saved as it is, as the epoch
    checkpoints save it: a copy built the model a second time and held its weights twice (0.1 to 0.45 s of CPU of a
    tiny run's 11 to 15 s on a 2-core Xeon, 2026-12-07; the files are the same)."""
    if not model.compiled:
        return model
    copy = ACGA.from_config(model.get_config())  # the same config and dtype policies
    copy.set_weights(model.get_weights())
    return copy


def _merge(first: keras.callbacks.History, second: keras.callbacks.History) -> keras.callbacks.History:
    """`second` with `first`'s epochs and logs put in front."""
    second.epoch = list(first.epoch) + list(second.epoch)
    for key, values in first.history.items():
        second.history[key] = list(values) + list(second.history.get(key, []))
    return second
