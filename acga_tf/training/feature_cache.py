"""Frozen-I3D feature cache: run the frozen part of the video encoder once, then train only what trains.

This is how the reference implementation trained (docs/model.md#presets: it precomputes Mixed_4e features and trains
Mixed_4f and the head). `split_model` cuts an `ACGA` at its first trainable I3D block into

    prefix: {"video"} → the frozen endpoint (e.g. Mixed_4e, (B, T/4, S/16, S/16, 528) for the paper preset)
    head:   {"features", "words"} → the model's outputs (logits_res1, logits_res2, logits)

over the *same layer objects*, so training the head trains the full model. `write_cache` runs the prefix over
the (un-augmented) training samples once into TFRecord shards; `cached_dataset` reads them for `model.fit`.
Flip augmentation cannot apply to cached features, so cached training uses none.
"""

from __future__ import annotations

import itertools
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from acga_tf.data.datasets import pass_seeds
from acga_tf.models.acga import wire_head
from acga_tf.ops import files

logger = logging.getLogger(__name__)

CACHE_PATTERN = "features-{index:05d}.tfrecord"
_TARGETS = ("logits_res1", "logits_res2", "logits")


def split_model(model, task_class=keras.Model) -> tuple[keras.Model, keras.Model]:
    """(prefix, head) functional models over `model`'s layers, cut at the first trainable I3D block.

    The prefix runs the frozen blocks (`I3D.run_blocks`); the head runs the trainable blocks, then the rest of the
    model through `acga.wire_head`, the same wiring `ACGA` uses, so nothing of the forward pass is written twice.

    Args:
        model: a single-stream `ACGA`.
        task_class: the class of the head (e.g. the training task of `acga_tf.training.task`).

    Raises:
        ValueError: a two-stream model, or an I3D with nothing frozen (no cache to make).
    """
    config = model.config
    if len(model.streams) != 1:
        raise ValueError("the feature cache supports single-stream models; this one has streams "
                         f"{model.streams}")
    encoder = model.stage("video_encoder")
    names = list(encoder.blocks)
    first = encoder.trainable_from
    if first not in names or names.index(first) == 0:
        raise ValueError(f"i3d_trainable_from={first!r}: no frozen I3D block to cache; the feature cache needs "
                         "frozen layers below the trainable ones (paper: 'Mixed_4f')")
    start = names.index(first)

    video = keras.Input((config.clip_length, config.image_size, config.image_size, config.input_channels),
                        name="video")
    cut = encoder.run_blocks(video, names[:start], training=False)
    prefix = keras.Model({"video": video}, {"features": cut}, name=f"{model.name}_frozen_prefix")

    features = keras.Input(tuple(cut.shape[1:]), name="features")
    words = keras.Input((config.sentence_length, config.word_dim), name="words")
    stages = {name: model.stage(name) for name in ("video_feature", "text_encoder", "attention", "decoder")}
    _, _, _, logits = wire_head(stages, encoder.run_blocks(features, names[start:]), words)
    head = task_class(inputs={"features": features, "words": words}, outputs={k: logits[k] for k in _TARGETS},
                      name=f"{model.name}_head")
    return prefix, head


def _float_feature(array: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.serialize_tensor(array).numpy()]))


def write_cache(prefix: keras.Model, dataset: tf.data.Dataset, directory: str, *, samples_per_shard: int = 256
                ) -> list[str]:
    """Runs `prefix` once over `dataset` (batches of `(inputs, targets)`, un-augmented) and writes one
    `tf.train.Example` per sample (`features`, `words` and the three targets, as serialized tensors).

    Each shard is written through `ops.files.atomic_path` (a temporary name, renamed when complete). Returns the
    shard paths.
    """
    tf.io.gfile.makedirs(directory)
    examples, paths, count = _examples(prefix, dataset), [], 0
    while (first := next(examples, None)) is not None:
        path = os.path.join(directory, CACHE_PATTERN.format(index=len(paths)))
        with files.atomic_path(path) as temporary, tf.io.TFRecordWriter(temporary) as writer:
            for record in itertools.chain([first], itertools.islice(examples, samples_per_shard - 1)):
                writer.write(record)
                count += 1
        paths.append(path)
    logger.info("wrote %d cached samples in %d shards to %s", count, len(paths), directory)
    return paths


def _examples(prefix: keras.Model, dataset: tf.data.Dataset):
    """Yields one serialized `tf.train.Example` per sample of `dataset`, its video replaced by the prefix's output."""
    for inputs, targets in dataset:
        features = prefix({"video": inputs["video"]}, training=False)["features"].numpy()
        words = inputs["words"].numpy()
        targets = {k: v.numpy() for k, v in targets.items()}
        for i in range(features.shape[0]):
            example = {"features": _float_feature(features[i]), "words": _float_feature(words[i]),
                       **{k: _float_feature(targets[k][i]) for k in _TARGETS}}
            yield tf.train.Example(features=tf.train.Features(feature=example)).SerializeToString()


def cached_dataset(paths: list[str], *, batch_size: int, seed: int, shuffle_buffer: int) -> tf.data.Dataset:
    """An endless, shuffled dataset of `({"features", "words"}, targets)` batches from `write_cache` shards."""
    spec = {k: tf.io.FixedLenFeature([], tf.string) for k in ("features", "words", *_TARGETS)}

    def parse(serialized):
        example = tf.io.parse_single_example(serialized, spec)
        tensors = {k: tf.io.parse_tensor(v, tf.float32) for k, v in example.items()}
        return {"features": tensors["features"], "words": tensors["words"]}, {k: tensors[k] for k in _TARGETS}

    def one_pass(number):  # its order fixed by (seed, pass number): `make_dataset(endless=True)`'s reason
        records = tf.data.Dataset.from_tensor_slices(sorted(paths)).interleave(
            tf.data.TFRecordDataset, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return records.shuffle(shuffle_buffer, seed=pass_seeds(seed, number)[1], reshuffle_each_iteration=False)

    ds = tf.data.Dataset.counter().flat_map(one_pass)
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    # shapes are fixed per cache: restore them for Keras (parse_tensor gives unknown shapes)
    first = next(iter(tf.data.TFRecordDataset(sorted(paths)[:1]).map(parse)))
    shapes = tf.nest.map_structure(lambda t: t.shape, first)
    ds = ds.map(lambda x, y: tf.nest.map_structure(lambda t, s: tf.ensure_shape(t, s), (x, y), shapes))
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
