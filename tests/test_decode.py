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


def test_images_cut_short_are_told_from_whole_ones():
    """What the SavedModel refuses as frames cut short (naming them) before TensorFlow's decoder fails unnamed: a
    PNG without its whole IEND chunk (a reviewer's lacked the CRC alone), a JPEG without an end-of-image marker after
    its first scan (a camera's EXIF thumbnail has a marker of its own: a reviewer's passed); bytes after the end are
    allowed, as the decoders allow them."""
    import io
    import zlib

    import numpy as np
    from PIL import Image

    from acga_tf.data.decode import ended_images

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))

    def encoded(picture, fmt, **options):
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **options)
        return buffer.getvalue()

    png, jpeg, thumb = encoded(image, "PNG"), encoded(image, "JPEG"), encoded(image.resize((16, 16)), "JPEG")
    exif = jpeg[:2] + b"\xff\xe1" + (len(thumb) + 8).to_bytes(2, "big") + b"Exif\x00\x00" + thumb + jpeg[2:]
    progressive = encoded(image, "JPEG", progressive=True)
    iend = b"\x00\x00\x00\x00IEND\xaeB`\x82"
    chunk = b"prVt" + iend * 3  # a private chunk after IHDR (8 + 25 bytes), with its CRC
    held = png[:33] + (len(chunk) - 4).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big") + png[33:]
    many = png[:33] + (bytes(4) + b"prVt" + zlib.crc32(b"prVt").to_bytes(4, "big")) * 1100 + png[33:]
    cases = {"png": (png, True), "png without its CRC": (png[:-4], False), "png cut": (png[:-20], False),
             "png and bytes after": (png + b"xyz", True), "jpeg": (jpeg, True),
             "jpeg cut": (jpeg[:len(jpeg) // 2], False),
             "exif thumbnail": (exif, True), "exif thumbnail cut": (exif[:-300], False),
             "progressive": (progressive, True), "progressive cut": (progressive[:-200], False),
             "jpeg and bytes after": (jpeg + b"zz", True),
             # the mends reviewer's: a motion photo's video after the end (holding FFDA) was refused, a text "IEND"
             # after a PNG's too, and a JPEG cut inside its header after an EXIF thumbnail passed
             "motion photo": (jpeg + b"\x00\x00\x00\x18ftypmp42\xff\xda" + bytes(range(256)) * 64, True),
             "png and text IEND after": (png + b"xxIEND", True),
             "exif thumbnail, cut before the scan": (exif[:len(thumb) + 60], False),
             # an earlier session's: a chunk whose data holds an IEND chunk's 12 bytes, then the file cut: the chunks
             # are walked now (the bytes were searched for anywhere, and passed)
             "png cut after a chunk holding IEND's bytes": (held[:len(png) // 2], False),
             "png with a chunk holding IEND's bytes": (held, True),
             "png with a chunk length past its end": (png[:33] + b"\xff\xff\xff\xffIDAT" + png[41:], False),
             # a diff reviewer's: a PNG of 212,000 chunks took 2.5 s to walk; past 1,024 the rest is searched
             "png of 1,100 chunks": (many, True), "png of 1,100 chunks, cut": (many[:-20], False)}
    got = ended_images(tf.constant([data for data, _ in cases.values()])).numpy().tolist()
    assert dict(zip(cases, got)) == {name: whole for name, (_, whole) in cases.items()}
    assert tf.io.decode_image(exif).shape == (64, 64, 3)  # (a whole image: the decoders read it)
    assert np.array_equal(tf.io.decode_png(held), np.asarray(image))
    assert np.array_equal(tf.io.decode_png(many), np.asarray(image))
