"""acga_tf/data/decode.py: a shard's record decodes to the schema's keys and shapes (acga_tf/data/schema.py)."""

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
