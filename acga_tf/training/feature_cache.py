"""Frozen-I3D feature cache: run the frozen part of the video encoder once, then train only what trains.

This is how the reference implementation trained (docs/model.md#presets: it precomputes Mixed_4e features and trains
Mixed_4f and the head). `split_model` (in acga_tf/models/acga.py, TensorFlow-free) cuts an `ACGA` at its first
trainable I3D block into

    prefix: {"video"} → the frozen endpoint (e.g. Mixed_4e, (B, T/4, S/16, S/16, 528) for the paper preset)
    head:   {"features", "words"} → the model's outputs (logits_res1, logits_res2, logits)

over the *same layer objects*, so training the head trains the full model. `write_cache` runs the prefix over
the (un-augmented) training samples once into TFRecord shards; `cached_dataset` reads them for `model.fit`.
Flip augmentation cannot apply to cached features, so cached training uses none.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from acga_tf.data.datasets import pass_seeds
from acga_tf.models.acga import CACHE_TARGETS, split_model  # noqa: F401  (split_model: this module's API)
from acga_tf.ops import files

logger = logging.getLogger(__name__)

CACHE_PATTERN = "features-{index:05d}.tfrecord"
CACHE_GLOB = "features-*.tfrecord"  # `CACHE_PATTERN`'s files


def _float_feature(array: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.serialize_tensor(array).numpy()]))


def write_cache(prefix: keras.Model, dataset: tf.data.Dataset, directory: str, *, samples_per_shard: int = 256
                ) -> list[str]:
    """Runs `prefix` once over `dataset` (batches of `(inputs, targets)`, un-augmented) and writes one
    `tf.train.Example` per sample (`features`, `words` and the three targets, as serialized tensors).

    Each shard is written through `ops.files.atomic_path` (a temporary name, renamed when complete). A write that
    fails part-way (a damaged data shard, a full disk, Ctrl-C) removes the shards it wrote, and `directory` where it
    made it and nothing else is in it, then raises the same exception (they stayed until the next run: a reviewer's;
    docs/training.md#feature-cache). Returns the shard paths.
    """
    made = not tf.io.gfile.exists(directory)
    tf.io.gfile.makedirs(directory)
    examples, paths, count = _examples(prefix, dataset), [], 0
    try:
        while (first := next(examples, None)) is not None:
            path = os.path.join(directory, CACHE_PATTERN.format(index=len(paths)))
            with files.atomic_path(path) as temporary, tf.io.TFRecordWriter(temporary) as writer:
                for record in itertools.chain([first], itertools.islice(examples, samples_per_shard - 1)):
                    writer.write(record)
                    count += 1
            paths.append(path)
    except BaseException:
        with contextlib.suppress(OSError, tf.errors.OpError):  # (the error raised is the write's, not this one's)
            for path in paths:  # (the shard being written: its temporary file removed by `atomic_path`)
                if tf.io.gfile.exists(path):
                    tf.io.gfile.remove(path)
            if made and tf.io.gfile.exists(directory) and not tf.io.gfile.listdir(directory):
                tf.io.gfile.rmtree(directory)
        raise
    logger.info("wrote %d cached samples in %d shards to %s", count, len(paths), directory)
    return paths


def _examples(prefix: keras.Model, dataset: tf.data.Dataset):
    """Yields one serialized `tf.train.Example` per sample of `dataset`, its video replaced by the prefix's output
    (in a graph: called eagerly it took 5x as long a batch, a reviewer's tiny model on a CPU)."""
    frozen = tf.function(lambda video: prefix({"video": video}, training=False)["features"], reduce_retracing=True)
    for inputs, targets in dataset:
        # float32 whatever the prefix computes in (its bfloat16 features, stored as such, were read back as float32:
        # "Type mismatch between parsed tensor (bfloat16) and dtype (float)", a researcher's mixed_bfloat16 run)
        features = np.asarray(frozen(inputs["video"]).numpy(), np.float32)
        words = inputs["words"].numpy()
        targets = {k: v.numpy() for k, v in targets.items()}
        for i in range(features.shape[0]):
            example = {"features": _float_feature(features[i]), "words": _float_feature(words[i]),
                       **{k: _float_feature(targets[k][i]) for k in CACHE_TARGETS}}
            yield tf.train.Example(features=tf.train.Features(feature=example)).SerializeToString()


def cached_dataset(paths: list[str], *, batch_size: int, seed: int, shuffle_buffer: int, training: bool = True
                   ) -> tf.data.Dataset:
    """An endless, shuffled dataset of `({"features", "words"}, targets)` batches from `write_cache` shards; with
    `training=False` one pass in the order written, its last batch kept whole or not (validation)."""
    spec = {k: tf.io.FixedLenFeature([], tf.string) for k in ("features", "words", *CACHE_TARGETS)}

    def parse(serialized):
        example = tf.io.parse_single_example(serialized, spec)
        tensors = {k: tf.io.parse_tensor(v, tf.float32) for k, v in example.items()}
        return {"features": tensors["features"], "words": tensors["words"]}, {k: tensors[k] for k in CACHE_TARGETS}

    def one_pass(number):  # its order fixed by (seed, pass number): `make_dataset(endless=True)`'s reason
        records = tf.data.Dataset.from_tensor_slices(sorted(paths)).interleave(
            tf.data.TFRecordDataset, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return records.shuffle(shuffle_buffer, seed=pass_seeds(seed, number)[1], reshuffle_each_iteration=False)

    if training:
        ds = tf.data.Dataset.counter().flat_map(one_pass)
    else:
        ds = tf.data.TFRecordDataset(sorted(paths))
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    # shapes are fixed per cache: restore them for Keras (parse_tensor gives unknown shapes)
    first = next(iter(tf.data.TFRecordDataset(sorted(paths)[:1]).map(parse)))
    shapes = tf.nest.map_structure(lambda t: t.shape, first)
    ds = ds.map(lambda x, y: tf.nest.map_structure(lambda t, s: tf.ensure_shape(t, s), (x, y), shapes))
    options = tf.data.Options()  # several workers split the samples, not the files (one validation cache file
    # could not be split over two workers: "Could not apply FILE based sharding", a diff reviewer's)
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE).with_options(options)
