"""acga_tf/data/decode.py: a shard's record decodes to the schema's keys and shapes (acga_tf/data/schema.py)."""

import pytest
import tensorflow as tf

from acga_tf.data import schema
from acga_tf.data.decode import decode, decode_images


def test_decode_matches_schema(a2d_shards):
    record = next(iter(tf.data.TFRecordDataset(sorted(str(p) for p in a2d_shards.glob("test-*.tfrecord")))))
    d = decode(record)
    n = int(d[schema.NUM_FRAMES_KEY])
    assert d[schema.FRAMES_KEY].shape == (n,) and 0 <= int(d[schema.CENTER_KEY]) < n
    assert d[schema.SENTENCES_KEY].shape == d[schema.INSTANCE_IDS_KEY].shape == d[schema.MASKS_KEY].shape
    frames = decode_images(d[schema.FRAMES_KEY], channels=3)
    assert frames.shape == (n, int(d[schema.HEIGHT_KEY]), int(d[schema.WIDTH_KEY]), 3)


def test_class_ids_decode_and_a_record_without_them_reads_zeros(a2d_shards):
    """A record keeps each sentence's A2D actor-action id (docs/evaluation.md#by-class); one written before they were
    recorded (2026-12-06) reads 0 for each sentence, and one with another count than its sentences is refused."""
    record = next(iter(tf.data.TFRecordDataset(sorted(str(p) for p in a2d_shards.glob("test-*.tfrecord")))))
    written = decode(record)[schema.CLASS_IDS_KEY].numpy()
    sentences = decode(record)[schema.SENTENCES_KEY].shape[0]
    assert written.shape == (sentences,) and written.min() > 0
    example = tf.train.SequenceExample.FromString(record.numpy())
    del example.context.feature[schema.CLASS_IDS_KEY]
    assert decode(example.SerializeToString())[schema.CLASS_IDS_KEY].numpy().tolist() == [0] * sentences
    example.context.feature[schema.CLASS_IDS_KEY].int64_list.value.extend([11] * (sentences + 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="a record that acga prepare did not write"):
        decode(example.SerializeToString())
