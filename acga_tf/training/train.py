"""Training: `fit(config, train_pattern, output_dir)` runs the paper schedule (spec §1) on prepared shards.

Layout of `output_dir` (the final files are `acga_tf.training.artifacts`' layout of a trained run):

    model.keras, config.json, vocab.txt, embeddings.npy    the trained run (`artifacts.save_trained`)
    checkpoints/epoch-NN.keras                              the model after every epoch
    backup/                                                  `BackupAndRestore` state (removed when training ends)
    logs/                                                    TensorBoard
    workers/<type>-<index>/                                  the same, for the non-chief workers of a multi-worker run

Resuming: run `fit` again with the same arguments. The backup (saved every `backup_every` optimizer steps and at
each epoch's end) restores the weights and the optimizer (its `iterations` included); training goes on from that
exact step, mid-epoch included, over the same stream of batches (the consumed ones are skipped), so a killed
and resumed run makes as many optimizer steps as an uninterrupted one.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import types

import keras
import tensorflow as tf

from acga_tf.data.datasets import load_vectorizer, make_dataset
from acga_tf.data.manifest import count_samples, read_manifest
from acga_tf.data.vocab import Vocabulary
from acga_tf.models.acga import ACGA
from acga_tf.models.config import ACGAConfig
from acga_tf.models.losses import acga_losses
from acga_tf.models.metrics import ReferringIoU
from acga_tf.training import artifacts
from acga_tf.training.feature_cache import cached_dataset, split_model, write_cache

logger = logging.getLogger(__name__)

BACKUP_DIR = "backup"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PATTERN = "epoch-{epoch:02d}.keras"
LOG_DIR = "logs"
WORKERS_DIR = "workers"
FEATURE_CACHE_DIR = "feature_cache"
DEFAULT_BACKUP_EVERY = 100  # optimizer steps between backups (and at every epoch's end)


def make_strategy() -> tf.distribute.Strategy:
    """`MultiWorkerMirroredStrategy` when `TF_CONFIG` is set, else `MirroredStrategy` over every visible GPU
    (one CPU replica when there is none)."""
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy()


def worker_role() -> tuple[str, int, bool]:
    """`(task type, task index, is chief)` from `TF_CONFIG` (`("chief", 0, True)` without it).

    The chief is the `chief` task, or worker 0 when the cluster has no `chief`.

    Raises:
        ValueError: `TF_CONFIG` is not JSON or has no `task`.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return "chief", 0, True
    try:
        tf_config = json.loads(raw)
        task_type, index = tf_config["task"]["type"], int(tf_config["task"]["index"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"TF_CONFIG: expected JSON with task.type and task.index, got {raw!r} ({e})") from None
    has_chief = bool(tf_config.get("cluster", {}).get("chief"))
    return task_type, index, task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief)


def learning_rate_at(config: ACGAConfig, epoch: int) -> float:
    """The paper schedule (spec §1): `learning_rate`, × `lr_decay_factor` from the 0-based epoch `lr_decay_epoch`
    on (paper: 5e-4 for epochs 1–8, 5e-5 for epoch 9)."""
    decayed = epoch >= config.lr_decay_epoch
    return float(config.learning_rate * (config.lr_decay_factor if decayed else 1.0))


def mixed_precision_policy() -> str:
    """"mixed_float16" with a GPU, "mixed_bfloat16" on CPU."""
    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


class _ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that also saves at every epoch's end, records the optimizer step in its metadata and
    leaves restoring to `fit` (which restores once, before training, so that a resumed run can start mid-epoch;
    Keras itself would restart the epoch). Writes are atomic (temporary name, then rename)."""

    def on_train_begin(self, logs=None):
        pass  # `fit` restored the state already (`restore`)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.save_freq != "epoch":
            self._save_model()

    def on_train_end(self, logs=None):
        pass  # removed by `fit` once every epoch has run

    def _save_model(self):
        # Written to temporary names and renamed, so a kill mid-write leaves the previous backup intact.
        tf.io.gfile.makedirs(self.backup_dir)
        staging = os.path.join(self.backup_dir, "staging.weights.h5")
        self.model.save_weights(staging, overwrite=True)
        tf.io.gfile.rename(staging, self._weights_path, overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                    "step": int(self.model.optimizer.iterations.numpy())}
        with tf.io.gfile.GFile(self._training_metadata_path + ".tmp", "w") as f:
            f.write(json.dumps(metadata))
        tf.io.gfile.rename(self._training_metadata_path + ".tmp", self._training_metadata_path, overwrite=True)

    def restore(self) -> bool:
        """Loads the backup into the model and its optimizer; returns whether there was one."""
        if not tf.io.gfile.exists(self._weights_path):
            return False
        self._load_model()
        self.model._initial_epoch = None  # `fit` passes the epoch to start from itself
        return True

    def remove(self) -> None:
        if tf.io.gfile.exists(self.backup_dir):
            tf.io.gfile.rmtree(self.backup_dir)


def fit(config: ACGAConfig, train_pattern: str, output_dir: str, *, val_pattern: str | None = None,
        vectors_path: str | None = None, epochs: int | None = None, steps_per_epoch: int | None = None,
        mixed_precision: bool = False, feature_cache: bool = False,
        strategy: tf.distribute.Strategy | None = None,
        backup_every: int = DEFAULT_BACKUP_EVERY, verbose: int = 1) -> keras.callbacks.History:
    """Trains ACGA with the paper schedule (spec §1) and saves the run (`acga_tf.training.artifacts` layout).

    Args:
        config: the model and schedule (learning_rate, lr_decay_epoch, lr_decay_factor, epochs, batch_size per
            replica, seed).
        train_pattern: glob of training shards (`acga prepare` output); the vocabulary beside them is the model's.
        output_dir: where the run, checkpoints, backup and logs go (see the module docstring).
        val_pattern: optional glob of validation shards, evaluated after every epoch.
        vectors_path: word vectors (word2vec / GloVe); None gives deterministic random vectors (a warning).
        epochs: overrides `config.epochs`.
        steps_per_epoch: optimizer steps per epoch; default: training samples // global batch.
        mixed_precision: compute in bfloat16 (CPU) or float16 (GPU) through the model's dtype policy.
        feature_cache: run the frozen I3D blocks once over the training samples into `feature_cache/` and train
            only the rest (`acga_tf.training.feature_cache`; needs frozen blocks, e.g. the paper's Mixed_4f-only
            training; no flip augmentation).
        strategy: a `tf.distribute.Strategy`; default `make_strategy()`.
        backup_every: optimizer steps between backups (a backup is also written at each epoch's end).
        verbose: Keras progress output (0, 1 or 2).

    Returns:
        The `History` of the epochs run by this call (all of them when the run did not resume).

    Raises:
        FileNotFoundError: no shard matches `train_pattern`, or no manifest beside them.
        ValueError: bad arguments (the message names the argument and its value).
    """
    epochs = config.epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise ValueError(f"epochs={epochs}: must be positive")
    if steps_per_epoch is not None and steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch={steps_per_epoch}: must be positive")
    if backup_every < 1:
        raise ValueError(f"backup_every={backup_every}: must be positive")
    files = sorted(tf.io.gfile.glob(train_pattern))
    if not files:
        raise FileNotFoundError(f"{train_pattern}: no TFRecord file matches (run `acga prepare` first)")
    if val_pattern is not None and not tf.io.gfile.glob(val_pattern):
        raise FileNotFoundError(f"{val_pattern}: no TFRecord file matches the validation pattern")

    keras.utils.set_random_seed(config.seed)  # spec §1: seed 2019; once, here
    strategy = strategy or make_strategy()
    replicas = strategy.num_replicas_in_sync
    global_batch = config.batch_size * replicas
    if steps_per_epoch is None:
        samples = count_samples(train_pattern)
        steps_per_epoch = samples // global_batch
        if steps_per_epoch < 1:
            raise ValueError(f"{train_pattern}: {samples} training samples, fewer than one global batch of "
                             f"{global_batch} (batch_size={config.batch_size} x {replicas} replicas)")
    task_type, task_index, is_chief = worker_role()
    work_dir = output_dir if is_chief else os.path.join(output_dir, WORKERS_DIR, f"{task_type}-{task_index}")
    tf.io.gfile.makedirs(work_dir)

    data_dir = os.path.dirname(files[0])
    vectorizer = load_vectorizer(data_dir, config, vectors_path)  # outside the scope: not a mirrored variable
    vocabulary = Vocabulary.load(os.path.join(data_dir, read_manifest(data_dir)["vocabulary"]))
    embeddings = vectorizer.matrix.numpy()

    policy = mixed_precision_policy() if mixed_precision else None
    if policy == "mixed_bfloat16" and config.i3d_trainable_from != "none":
        logger.warning("mixed_bfloat16 with trainable I3D blocks (from %s): measured on the tiny preset trained from "
                       "scratch, this did not learn (README, Status); train in float32 if the loss does not fall",
                       config.i3d_trainable_from)
    with strategy.scope():
        model = ACGA(config, dtype=policy)
        # With the feature cache, `fit_model` is the head over the same layers (training it trains `model`).
        prefix, fit_model = split_model(model) if feature_cache else (None, model)
        fit_model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=acga_losses(config),
                          metrics={"logits": [ReferringIoU()]})
        fit_model.optimizer.build(fit_model.trainable_variables)
    if replicas > 1:
        _work_around_nested_distributed_build(fit_model)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _work_around_multi_worker_scalar_logs(fit_model)

    backup = _ResumableBackup(os.path.join(work_dir, BACKUP_DIR), save_freq=backup_every)
    backup.set_model(fit_model)
    start_step = 0
    if backup.restore():
        start_step = int(fit_model.optimizer.iterations.numpy())
        logger.info("resuming from %s at optimizer step %d (epoch %d, step %d of %d)", backup.backup_dir,
                    start_step, start_step // steps_per_epoch + 1, start_step % steps_per_epoch, steps_per_epoch)
    total_steps = epochs * steps_per_epoch
    if start_step >= total_steps:
        raise ValueError(f"{backup.backup_dir}: the backup is at step {start_step}, at or past the "
                         f"{total_steps} steps of {epochs} epochs x {steps_per_epoch}; remove it or train longer")

    cache_paths = None
    if feature_cache:
        cache_paths = _feature_cache(prefix, make_dataset(train_pattern, config.replace(horizontal_flip=False),
                                                          training=False, batch_size=global_batch,
                                                          vectorizer=vectorizer),
                                     os.path.join(work_dir, FEATURE_CACHE_DIR))

    def batches(skip: int) -> tf.data.Dataset:
        # One endless stream shared by every epoch; a resumed run skips what the backup has trained on.
        if cache_paths is not None:
            ds = cached_dataset(cache_paths, batch_size=global_batch, seed=config.seed,
                                shuffle_buffer=config.shuffle_buffer)
            return ds.skip(skip) if skip else ds
        ds = make_dataset(train_pattern, config, training=True, batch_size=global_batch, vectorizer=vectorizer)
        return ds.repeat().skip(skip) if skip else ds.repeat()

    validation = None
    if val_pattern is not None:
        validation = make_dataset(val_pattern, config, training=False, batch_size=global_batch,
                                  vectorizer=vectorizer)
    tf.io.gfile.makedirs(os.path.join(work_dir, CHECKPOINT_DIR))
    callbacks = [
        keras.callbacks.LearningRateScheduler(lambda epoch: learning_rate_at(config, epoch)),
        keras.callbacks.TerminateOnNaN(),
        backup,
        _FullModelCheckpoint(model, os.path.join(work_dir, CHECKPOINT_DIR, CHECKPOINT_PATTERN)) if feature_cache
        else keras.callbacks.ModelCheckpoint(os.path.join(work_dir, CHECKPOINT_DIR, CHECKPOINT_PATTERN)),
    ]
    if _tensorboard_installed():
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(work_dir, LOG_DIR)))
    else:
        logger.warning("tensorboard is not installed: no TensorBoard logs in %s (pip install tensorboard)",
                       os.path.join(work_dir, LOG_DIR))
    history = None
    epoch, done = divmod(start_step, steps_per_epoch)
    if done:  # finish the interrupted epoch first
        history = fit_model.fit(batches(start_step), initial_epoch=epoch, epochs=epoch + 1,
                            steps_per_epoch=steps_per_epoch - done, validation_data=validation,
                            callbacks=callbacks, verbose=verbose)
        epoch += 1
    if epoch < epochs and not fit_model.stop_training:
        rest = fit_model.fit(batches(epoch * steps_per_epoch), initial_epoch=epoch, epochs=epochs,
                         steps_per_epoch=steps_per_epoch, validation_data=validation, callbacks=callbacks,
                         verbose=verbose)
        history = _merge(history, rest)
    if fit_model.stop_training:
        logger.warning("training stopped early (TerminateOnNaN) at optimizer step %d; the backup in %s is kept",
                       int(fit_model.optimizer.iterations.numpy()), backup.backup_dir)
    else:
        backup.remove()
    artifacts.save_trained(work_dir, _inference_copy(model), vocabulary, embeddings)
    logger.info("saved the trained run to %s", work_dir)
    return history


def _feature_cache(prefix: keras.Model, dataset: tf.data.Dataset, directory: str) -> list[str]:
    """The cache's shards: reused when a complete cache is there (`complete.json`), else written once."""
    marker = os.path.join(directory, "complete.json")
    if tf.io.gfile.exists(marker):
        with tf.io.gfile.GFile(marker) as f:
            paths = json.load(f)["shards"]
        if all(tf.io.gfile.exists(p) for p in paths):
            logger.info("reusing the feature cache in %s (%d shards)", directory, len(paths))
            return paths
    paths = write_cache(prefix, dataset, directory)
    with tf.io.gfile.GFile(marker + ".tmp", "w") as f:
        f.write(json.dumps({"shards": paths}))
    tf.io.gfile.rename(marker + ".tmp", marker, overwrite=True)
    return paths


class _FullModelCheckpoint(keras.callbacks.Callback):
    """Saves the full model (not the head being fitted) after every epoch, as `ModelCheckpoint` would."""

    def __init__(self, full_model: keras.Model, pattern: str):
        super().__init__()
        self.full_model, self.pattern = full_model, pattern

    def on_epoch_end(self, epoch, logs=None):
        self.full_model.save(self.pattern.format(epoch=epoch + 1))


def _work_around_nested_distributed_build(model: keras.Model) -> None:
    """Keras' TF trainer builds the compiled metrics at the start of `fit` from a `strategy.reduce("MEAN", batch)` of
    the first distributed batch, which fails for dict inputs across replicas (keras-team/keras#20329: "Attempt to
    convert a value ({'video': PerReplica...}) ... to a Tensor"). The build only needs shapes and dtypes, so this
    model builds from the first replica's local batch instead (an instance attribute: nothing is saved with it)."""
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = keras.tree.map_structure(
                    lambda v: (self.distribute_strategy.experimental_local_results(v)[0]
                               if isinstance(v, tf.distribute.DistributedValues) else v), next(it))
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = types.MethodType(_maybe_symbolic_build, model)


def _work_around_multi_worker_scalar_logs(model: keras.Model) -> None:
    """Keras 3's TF trainer reduces each step's logs across workers with `strategy.reduce("MEAN", v, axis=0)`, which
    fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388).
    This model's steps give every scalar log a leading axis of length 1, which that reduction then removes
    (an instance attribute: nothing is saved with it)."""
    def with_axis(step):
        def wrapped(self, data):
            return keras.tree.map_structure(lambda v: tf.reshape(v, [1]) if v.shape.rank == 0 else v, step(data))
        return wrapped

    model.train_step = types.MethodType(with_axis(model.train_step), model)
    model.test_step = types.MethodType(with_axis(model.test_step), model)


def _inference_copy(model: keras.Model) -> keras.Model:
    """An uncompiled copy of `model` with its weights, outside any strategy scope: `model.keras` then loads with
    `keras.saving.load_model` alone (no loss or metric classes, no optimizer state; checkpoints keep those)."""
    # The layers carry the dtype policy (ACGA's own `dtype_policy` reads float32 even when built mixed).
    copy = ACGA(model.config, dtype=model.stage("decoder").dtype_policy.name)
    copy.set_weights(model.get_weights())
    return copy


def _tensorboard_installed() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def _merge(first: keras.callbacks.History | None, second: keras.callbacks.History) -> keras.callbacks.History:
    """`second` with `first`'s epochs and logs put in front."""
    if first is None:
        return second
    second.epoch = list(first.epoch) + list(second.epoch)
    for key, values in first.history.items():
        second.history[key] = list(values) + list(second.history.get(key, []))
    return second
