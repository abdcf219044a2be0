"""`make_dataset`: prepared TFRecord shards → `tf.data.Dataset` of `(inputs, targets)` for `model.fit`
(docs/data.md#pipeline).

Order of operations: sorted file list → file-level shuffle (training) → interleaved `TFRecordDataset`s →
record-level shuffle (training; records are compact JPEG clips, so the buffer stays small) → decode and prepare
each clip once (`decode` + `prepare_clip`, parallel) → one sample per sentence → per-sample parse (words, flip,
multi-scale targets, parallel) → global batch → prefetch. Randomness is seeded from `config.seed`; order is
deterministic when `config.deterministic`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import keras
import tensorflow as tf

from acga_tf.data.config import SHAPE_FIELDS, DataConfig
from acga_tf.data.decode import decode
from acga_tf.data.manifest import (
    MANIFEST_NAME,
    check_shard_sizes,
    check_tfrecord_files,
    known_sample_count,
    matching_shards,
    read_manifest,
    shard_pattern,
)
from acga_tf.data.parse import expand_sentences, parse_eval, parse_train, prepare_clip
from acga_tf.data.shards import MARKER_DIR
from acga_tf.data.vocab import SentenceVectorizer, Vocabulary
from acga_tf.ops import files as file_checks
from acga_tf.ops.config import positive_int

logger = logging.getLogger(__name__)

# Samples of this many clips are interleaved in training so a batch rarely holds two sentences of one frame.
_TRAIN_SENTENCE_MIXING = 4


def keep_gpus_for_the_backend() -> None:
    """Under `KERAS_BACKEND=jax` or `torch`, hides the GPUs from TensorFlow, which then only reads and prepares the
    data (`tf.data`, the sentence vectorizer) on the CPU: TensorFlow reserves almost all of a GPU's memory the first
    time it uses it, and the backend that trains the model would find none left (docs/training.md#backends).

    Called by `make_dataset` and `load_vectorizer`, before their first TensorFlow op; does nothing under the
    TensorFlow backend or without a GPU. Where TensorFlow already runs on the GPUs (it cannot hide them then), logs
    a warning saying how to avoid it.
    """
    if keras.backend.backend() == "tensorflow" or not tf.config.list_physical_devices("GPU"):
        return
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TensorFlow's devices are already made
        if tf.config.list_logical_devices("GPU"):
            logger.warning("TensorFlow already runs on the GPUs and may hold their memory, which KERAS_BACKEND=%s "
                           "needs: make the datasets before any other TensorFlow op, or set "
                           "TF_FORCE_GPU_ALLOW_GROWTH=true", keras.backend.backend())


def as_data_config(config) -> DataConfig:
    """`config` itself if it is a `DataConfig`; for a model's `ACGAConfig`, `DataConfig.for_model(config)`.

    Raises:
        TypeError: anything else.
    """
    if isinstance(config, DataConfig):
        return config
    if not all(hasattr(config, name) for name in SHAPE_FIELDS):
        raise TypeError(f"expected a DataConfig or a model's ACGAConfig, got {type(config).__name__} {config!r}")
    return DataConfig.for_model(config)


def load_vocabulary(directory: str) -> Vocabulary:
    """The vocabulary saved next to the shards (the manifest names its file).

    Raises:
        FileNotFoundError: the file is not there (the message names it and says what it is: before, "[Errno 2] No
            such file or directory", of a vocab.txt a command had removed).
    """
    path = os.path.join(directory, read_manifest(directory)["vocabulary"])
    try:
        return Vocabulary.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing: the shards' vocabulary, which acga prepare writes beside them "
                                f"and {MANIFEST_NAME} names; put it back, or convert the data again") from None


def load_vectorizer(directory: str, config, vectors_path: str | None = None, vocabulary: Vocabulary | None = None,
                    *, warn_random: bool = True):
    """A `SentenceVectorizer` over the vocabulary saved next to the shards (`load_vocabulary`, unless `vocabulary`
    is given).

    Without `vectors_path`, every word gets a deterministic random vector of `config.word_dim` (seed
    `config.seed`), with a warning unless not `warn_random` (a fine-tune, which gives the words it knows the
    trained run's vectors and says so); fine for tests and smoke runs, not for reproducing the paper (which used
    word2vec). `config` is a `DataConfig` or a model's `ACGAConfig`.
    """
    keep_gpus_for_the_backend()
    config = as_data_config(config)
    vocab = vocabulary if vocabulary is not None else load_vocabulary(directory)
    matrix, _ = vocab.embedding_matrix(vectors_path, dim=config.word_dim, seed=config.seed)
    if vectors_path is None and warn_random:  # (words without a vector: `embedding_matrix` names them, once)
        logger.warning("no word vectors given: using deterministic random %d-d vectors for the %d words of %s "
                       "(seed %d)", config.word_dim, len(vocab.words) - 1, directory, config.seed)  # (not PAD)
    return SentenceVectorizer(vocab.words, matrix, config.sentence_length)


def _as_written(fn):
    """`fn` for tf.data to trace as written, without AutoGraph rewriting its source and that of every function it
    calls: the pipeline's functions use no Python control flow on tensors, and the rewriting took 3.5 s of the
    4.4 s that building a training pipeline took, in every process (docs/data.md#pipeline)."""
    return tf.autograph.experimental.do_not_convert(fn)


def check_shards(file_pattern: str, config) -> list[str]:
    """The files `file_pattern` matches, once checked against their `manifest.json` (each shard's size, a window of at
    least `config.clip_length` frames, a finished conversion) or, with no manifest, as TFRecord files: what
    `make_dataset` checks first, for a command to check before it writes anything (`acga train`).

    Raises:
        FileNotFoundError: no file matches.
        ValueError: as `make_dataset`'s shard checks.
    """
    config = as_data_config(config)
    files = matching_shards(file_pattern)
    for path in files:  # before TensorFlow's "Local rendezvous is aborting with status: PERMISSION_DENIED"
        file_checks.check_readable(path)
    for directory in dict.fromkeys(os.path.dirname(path) for path in files):  # each folder by its own manifest
        # (a glob over two folders checked the second's shards against the first's, and blamed the second's)
        inside = [path for path in files if os.path.dirname(path) == directory]
        if tf.io.gfile.exists(os.path.join(directory, MANIFEST_NAME)):
            manifest = read_manifest(directory)
            check_shard_sizes(inside, manifest)
            window = manifest.get("clip", {}).get("window")
            if window is not None and window < config.clip_length:
                raise ValueError(f"{directory}/{MANIFEST_NAME}: the shards store {window} frames around each "
                                 f"annotated frame, fewer than clip_length={config.clip_length}; re-run `acga "
                                 f"prepare` with --window {config.clip_length} or more (from Python: prepare(..., "
                                 f"window={config.clip_length}))")
        elif tf.io.gfile.isdir(os.path.join(directory, MARKER_DIR)):  # the converter's progress, without its manifest
            raise ValueError(f"{directory}: `acga prepare` has not finished writing these shards (no {MANIFEST_NAME}; "
                             f"{MARKER_DIR}/ lists the shards done so far): run the same command again to finish "
                             "them")
        else:
            check_tfrecord_files(inside)
    return files


def make_dataset(file_pattern: str, config, *, training: bool, batch_size: int,
                 vectorizer: Any = None, with_info: bool = False,
                 shard: tuple[int, int] | None = None, endless: bool = False) -> tf.data.Dataset:
    """The input pipeline over prepared shards.

    Args:
        file_pattern: glob of TFRecord shards, e.g. "data/a2d/train-*.tfrecord".
        config: a `DataConfig` (T, S, L, D, seed, shuffle_buffer, horizontal_flip, deterministic), or a model's
            `ACGAConfig` (its T, S, L, D with the default pipeline settings).
        training: shuffle (files, records), random flip, drop the last partial batch.
        batch_size: the global batch size.
        vectorizer: a `SentenceVectorizer`; None loads the vocabulary next to the shards with random vectors
            (a warning is logged).
        with_info: also yield `info` (`sample_id`, `height`, `width`, `mask_png`, `sentence`, `frame_jpeg`) for
            evaluation and figures (`acga_tf.data.parse.parse_eval`).
        shard: (workers, this worker's index): read only this worker's shard files (every `workers`-th from the
            index, in sorted order), for several workers (`acga train` under `TF_CONFIG`). TensorFlow's own
            file-based auto-sharding cannot split a training pipeline (its flips' seeds come from a second source),
            so it is turned off for such a dataset.
        endless: training only: pass after pass over the shards without end, each pass's file and record order and
            flips fixed by (seed, pass number), so the stream skipped by n batches is the same stream from batch n
            however many times it was iterated before (`acga train`'s stream, which a resumed run skips into; Keras'
            `fit` reads a batch from a first iterator to build the model). Without it, each iteration of the
            dataset is one pass in a new order (what `model.fit(dataset, epochs=...)` wants).

    Returns:
        A dataset of `(inputs, targets)` (or `(inputs, targets, info)`): inputs `video` float32 (B, T, S, S, 3) in
        [-1, 1], `words` float32 (B, L, D); targets `logits_res1` (B, S/16, S/16, 1), `logits_res2`
        (B, S/4, S/4, 1), `logits` (B, S, S, 1), float32 {0,1}.

    Raises:
        FileNotFoundError: no file matches `file_pattern`.
        ValueError: batch_size is not positive (or, `endless`, more than the samples the manifest counts),
            with_info with training, the shards' window (manifest) is
            shorter than `config.clip_length`, a shard's size differs from its manifest's (with no manifest: a
            file is not a TFRecord file), a `shard` index outside its workers, fewer shard files than workers, or a
            `vectorizer` of another sentence length or word dimension than the config's.
        TypeError: `config` is neither a `DataConfig` nor a model's `ACGAConfig`.
    """
    keep_gpus_for_the_backend()
    config = as_data_config(config)
    batch_size = positive_int("batch_size", batch_size)
    if training and with_info:
        raise ValueError("with_info=True is for evaluation: use it with training=False")
    if endless and not training:
        raise ValueError("endless=True is the training stream: use it with training=True")
    file_pattern = shard_pattern(file_pattern)
    files = check_shards(file_pattern, config)
    if shard is not None:  # before the vectors' warning (an API reader's: it came, then the refusal)
        workers, index = shard
        if not 0 <= index < workers:
            raise ValueError(f"shard={shard}: expected (workers, index) with 0 <= index < workers")
        if len(files) < workers:
            raise ValueError(f"{file_pattern}: {len(files)} shard files for {workers} workers, each of which reads its "
                             "own: re-run `acga prepare` with a smaller --shard-size")
    directory = os.path.dirname(sorted(files)[0])
    if vectorizer is None:
        vectorizer = load_vectorizer(directory, config)
    elif (vectorizer.sentence_length, vectorizer.dim) != (config.sentence_length, config.word_dim):  # else only the
        # model's input check said so, blaming the config (a researcher's `sentence_length=12` with a run's vectorizer)
        raise ValueError(f"vectorizer: reads sentences of {vectorizer.sentence_length} words into "
                         f"{vectorizer.dim}-d vectors; the config's sentence_length and word_dim are "
                         f"{config.sentence_length} and {config.word_dim}: give the model's config with its own "
                         "run's vectorizer, or build the vectorizer for this config")
    det = config.deterministic
    samples = None if shard is not None else known_sample_count(file_pattern)
    if endless and samples is not None and samples < batch_size:  # (each pass drops its last partial batch: a stream
        # that never yields one, spinning in TensorFlow's C++ where Ctrl-C cannot reach it)
        raise ValueError(f"{file_pattern}: {samples} samples, fewer than one batch of {batch_size}: the endless "
                         "training stream drops each pass's last partial batch, so it would never yield one")

    def one_pass(pass_number) -> tf.data.Dataset:
        """The pipeline: one pass, in an order fixed by `pass_number` (a tf.int64 scalar), or None: a new order on
        each iteration."""
        return _one_pass(file_pattern, files, config, training=training, batch_size=batch_size,
                         vectorizer=vectorizer, with_info=with_info, shard=shard, samples=samples,
                         pass_number=pass_number)

    ds = tf.data.Dataset.counter().flat_map(one_pass) if endless else one_pass(None)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = det
    policy = tf.data.experimental.AutoShardPolicy
    options.experimental_distribute.auto_shard_policy = (
        policy.OFF if shard is not None else policy.FILE if len(files) > 1 and not endless else policy.DATA)
    return ds.with_options(options)


STREAM_GRAPH_SEED = 20191027  # the graph-level seed of a pass's ops (ICCV 2019's first day)


def pass_seeds(seed: int, pass_number: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Two op seeds of one pass of an endless stream (seed × a prime + 2 × pass, and one more), for ops built in the
    pass's function (`Dataset.flat_map`). That function's graph-level seed is set to `STREAM_GRAPH_SEED`: a tensor
    op seed under a global seed of 0 (`keras.utils.set_random_seed(0)`) failed in TensorFlow's `get_seed` ("Using a
    symbolic tf.Tensor as a Python bool"), and the stream then does not depend on the process's global seed."""
    tf.compat.v1.get_default_graph().seed = STREAM_GRAPH_SEED
    base = tf.cast(seed, tf.int64) * 1_000_003 + tf.cast(pass_number, tf.int64) * 2
    return base, base + 1


def _one_pass(file_pattern: str, files: list[str], config: DataConfig, *, training: bool, batch_size: int,
              vectorizer, with_info: bool, shard: tuple[int, int] | None, samples: int | None,
              pass_number: tf.Tensor | None) -> tf.data.Dataset:
    """`make_dataset`'s pipeline over the shards, once (its arguments; `pass_number` as `one_pass`'s)."""
    det = config.deterministic
    reshuffle = pass_number is None
    if reshuffle:
        file_seed = record_seed = config.seed
    else:  # two seeds of this pass, apart from every other pass's (seed × a prime + pass)
        file_seed, record_seed = pass_seeds(config.seed, pass_number)
    ds = tf.data.Dataset.list_files(file_pattern, shuffle=False)  # sorted: the same order every run
    if shard is not None:  # (checked by `make_dataset`)
        ds = ds.shard(*shard)
    if training:
        ds = ds.shuffle(len(files), seed=file_seed, reshuffle_each_iteration=reshuffle)
    # each record with its shard's name, which a record's refusal gives (`decode`)
    ds = ds.interleave(_as_written(lambda name: tf.data.TFRecordDataset(name).map(
        _as_written(lambda record: (record, name)))), cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=det)
    if training:
        ds = ds.shuffle(config.shuffle_buffer, seed=record_seed, reshuffle_each_iteration=reshuffle)
    ds = ds.map(_as_written(lambda s, name: prepare_clip(decode(s, name), config)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=det)
    if training:
        ds = ds.interleave(_as_written(expand_sentences), cycle_length=_TRAIN_SENTENCE_MIXING, block_length=1)
        if reshuffle:
            seeds = tf.data.Dataset.random(seed=config.seed, rerandomize_each_iteration=True)
            first = tf.cast(config.seed, tf.int64)
        else:  # each sample's flip seed: (this pass's, the sample's place in it)
            seeds, first = tf.data.Dataset.counter(), record_seed
        ds = tf.data.Dataset.zip(ds, seeds).map(
            _as_written(lambda sample, r: parse_train(sample, config, vectorizer, tf.stack([first, r]))),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=det)
    else:
        ds = ds.flat_map(_as_written(expand_sentences))
        ds = ds.map(_as_written(lambda sample: parse_eval(sample, config, vectorizer, with_info)),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=det)
    ds = ds.batch(batch_size, drop_remainder=training, num_parallel_calls=tf.data.AUTOTUNE, deterministic=det)
    if samples is not None:  # its length: Keras' fit and evaluate end the epoch there, not on "ran out of data"
        ds = ds.apply(tf.data.experimental.assert_cardinality(samples // batch_size if training
                                                              else -(-samples // batch_size)))
    return ds
