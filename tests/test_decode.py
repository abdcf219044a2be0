"""acga_tf/data/decode.py: a shard's record decodes to the schema's keys and shapes (acga_tf/data/schema.py)."""

import io
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from acga_tf.data import schema
from acga_tf.data.decode import PNG_CHUNKS_WALKED, PNG_END, decode, decode_images, ended_images


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


def test_a_png_past_the_walks_bound_cut_after_a_chunk_holding_iends_bytes_is_cut_short():
    """A fixer's brief: past the 1,024 chunks walked one by one, the rest of a PNG was searched for IEND's 12 bytes,
    so a file cut short after a chunk whose data held them passed, and TensorFlow's decoder failed unnamed ("Invalid
    PNG data, size N"). The rest's chunks are followed to its end now (`_png_rest_ended`, then `_png_linked_ended`)."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    png = buffer.getvalue()

    def chunk(kind, data=b""):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    many = png[:33] + chunk(b"prVt") * (PNG_CHUNKS_WALKED + 76)  # IHDR, then more chunks than are walked
    held = many + png[33:-12] + chunk(b"prVt", PNG_END * 3)  # the image's data, then IEND's bytes as data
    cases = {"cut after a chunk holding IEND's bytes": (held, False), "its IEND after it": (held + PNG_END, True),
             "cut inside that chunk": (held[:-3], False), "whole": (many + png[33:], True),
             "whole, text IEND after": (many + png[33:] + b"IEND" * 3, True),
             "a chunk type of a digit": (many + chunk(b"pr1t") + png[33:], False),  # (no decoder reads it)
             "a chunk length past the end": (many + b"\xff\xff\xff\xffIDAT" + png[41:], False),
             "IEND cut": (many + png[33:-4], False)}
    # chunks of lengths that vary (0, 1, 0, ...: each step of the walk by runs passes one), followed by their links
    varied = many + (chunk(b"prVt") + chunk(b"prVt", b"x")) * 300
    cases.update({"varied lengths, cut after a chunk holding IEND's bytes": (varied + held[len(many):], False),
                  "varied lengths, its IEND after it": (varied + held[len(many):] + PNG_END, True),
                  "varied lengths, whole": (varied + png[33:], True),
                  "varied lengths, a chunk type of a digit": (varied + chunk(b"pr1t") + png[33:], False)})
    got = tf.function(ended_images)(tf.constant([data for data, _ in cases.values()])).numpy().tolist()  # (as served:
    # eagerly, each of the walk's steps is Python's, 45 s)
    assert dict(zip(cases, got)) == {name: whole for name, (_, whole) in cases.items()}
    assert np.array_equal(tf.io.decode_png(held + PNG_END), np.asarray(Image.open(io.BytesIO(png))))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid PNG"):  # (what the check is there for)
        tf.io.decode_png(held)
