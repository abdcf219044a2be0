"""acga_tf/data/decode.py: a shard's record decodes to the schema's keys and shapes (acga_tf/data/schema.py)."""

import io
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from acga_tf.data import schema
from acga_tf.data.decode import PNG_END, decode, decode_images, ended_images


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
             # a diff reviewer's: a PNG of 212,000 chunks took 2.5 s to walk one by one; walked by runs now
             "png of 1,100 chunks": (many, True), "png of 1,100 chunks, cut": (many[:-20], False)}
    got = ended_images(tf.constant([data for data, _ in cases.values()])).numpy().tolist()
    assert dict(zip(cases, got)) == {name: whole for name, (_, whole) in cases.items()}
    assert tf.io.decode_image(exif).shape == (64, 64, 3)  # (a whole image: the decoders read it)
    assert np.array_equal(tf.io.decode_png(held), np.asarray(image))
    assert np.array_equal(tf.io.decode_png(many), np.asarray(image))


def test_a_png_past_the_walks_bound_cut_after_a_chunk_holding_iends_bytes_is_cut_short():
    """A fixer's brief: past the 1,024 chunks once walked one by one, the rest of a PNG was searched for IEND's 12
    bytes, so a file cut short after a chunk whose data held them passed, and TensorFlow's decoder failed unnamed
    ("Invalid PNG data, size N"). Every chunk is followed to the end now (by runs, then `_png_linked_ended`)."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    png = buffer.getvalue()

    def chunk(kind, data=b""):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    many = png[:33] + chunk(b"prVt") * 1100  # IHDR, then more chunks than were walked one by one
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


def _chunk(kind: bytes, data: bytes = b"") -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _walked_to_iend(data: bytes) -> bool:
    """An independent reading of a PNG's end: its chunks walked one by one from byte 8 by their 4-byte big-endian
    lengths; True at a chunk of type IEND whose 12 + length bytes fit, False at a type byte that is not an ASCII letter
    or at a chunk whose head does not fit."""
    position = 8
    while position + 8 <= len(data):
        length, kind = int.from_bytes(data[position:position + 4], "big"), data[position + 4:position + 8]
        if not all(65 <= c <= 90 or 97 <= c <= 122 for c in kind):
            return False
        if kind == b"IEND":
            return position + 12 + length <= len(data)
        position += 12 + length
    return False


def _random_pngs(rng: np.random.Generator, count: int) -> list[bytes]:
    """PNG-like byte strings: tf.io.encode_png's images of various sizes, contents and compression levels, with
    chunks of varied lengths (or more than 1,024 tiny ones) inserted after IHDR, chunks holding IEND's 12 bytes,
    damaged chunk types, a chunk length made huge, cuts at random places or right after a chunk holding IEND's bytes,
    and bytes after the end."""
    letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(count):
        height, width, channels = int(rng.integers(1, 90)), int(rng.integers(1, 90)), int(rng.choice([1, 3, 4]))
        pixels = (rng.integers(0, 256, (height, width, channels)) if rng.random() < 0.5 else
                  np.broadcast_to(np.arange(width)[None, :, None] * 3, (height, width, channels)))
        png = tf.io.encode_png(pixels.astype(np.uint8), compression=int(rng.integers(-1, 10))).numpy()
        chunks, position = [], 8  # (type, data) of each of its chunks
        while position < len(png):
            length = int.from_bytes(png[position:position + 4], "big")
            chunks.append((png[position + 4:position + 8], png[position + 8:position + 8 + length]))
            position += 12 + length
        inserted = []
        kind = rng.integers(0, 4)
        if kind == 1:  # chunks of varied lengths
            inserted = [(bytes(rng.choice(list(letters), 4).tolist()), rng.bytes(int(rng.integers(0, 40))))
                        for _ in range(int(rng.integers(1, 30)))]
        elif kind == 2:  # more than 1,024 tiny chunks: of one length, or of lengths that vary (linked past the runs)
            lengths = rng.integers(0, 1 if rng.random() < 0.5 else 4, int(rng.integers(1025, 1500)))
            inserted = [(b"prVt", bytes(int(n))) for n in lengths]
        held = None
        if rng.random() < 0.4:  # a chunk whose data holds IEND's 12 bytes
            held = int(rng.integers(0, len(inserted) + 1))
            inserted.insert(held, (b"prVt", rng.bytes(int(rng.integers(0, 9))) + PNG_END * int(rng.integers(1, 3))))
        chunks = chunks[:1] + inserted + chunks[1:]
        if rng.random() < 0.2:  # a damaged type: a byte that is not a letter
            at = int(rng.integers(0, len(chunks)))
            kind_bytes = bytearray(chunks[at][0])
            kind_bytes[int(rng.integers(0, 4))] = int(rng.choice([0, 32, 49, 64, 91, 96, 123, 193, 255]))
            chunks[at] = (bytes(kind_bytes), chunks[at][1])
        data = png[:8] + b"".join(_chunk(kind, chunk) for kind, chunk in chunks)
        if rng.random() < 0.05:  # a chunk's length past the file's end
            at = 8 + sum(12 + len(chunk) for _, chunk in chunks[:int(rng.integers(0, len(chunks)))])
            data = data[:at] + (b"\xff\xff\xff\xff", b"\x7f\x00\x00\x00")[int(rng.integers(0, 2))] + data[at + 4:]
        cut = rng.random()
        if held is not None and cut < 0.5:  # cut right after the chunk holding IEND's bytes
            data = png[:8] + b"".join(_chunk(kind, chunk) for kind, chunk in chunks[:held + 2])
        elif cut < 0.3:
            data = data[:int(rng.integers(8, len(data)))]
        if rng.random() < 0.3:  # bytes after the end (or after the cut)
            data += (rng.bytes(int(rng.integers(1, 50))), b"IEND" * 3, PNG_END[:-1])[int(rng.integers(0, 3))]
        out.append(data)
    return out


def test_ended_images_agrees_with_a_chunk_walker_over_random_pngs():
    """`ended_images` (as served: traced) against `_walked_to_iend`, a plain walk of each chunk, over 300 random
    PNG-like files. Before the walk by runs started at the signature, a damaged type among the first 1,024 chunks
    was not read, and such a file passed."""
    files = _random_pngs(np.random.default_rng(7), 300)
    expected = [_walked_to_iend(data) for data in files]
    assert 60 < sum(expected) < 240  # (both answers well represented)
    got = tf.function(ended_images)(tf.constant(files)).numpy().tolist()
    assert [i for i, (a, b) in enumerate(zip(got, expected)) if a != b] == []


def test_a_png_chunk_type_not_of_letters_is_damage_from_the_first_chunk():
    """A chunk whose type is not four ASCII letters is refused wherever it is, as libpng refuses it: among the first
    1,024 chunks it was not read, and the file passed, for TensorFlow's decoder to fail unnamed."""
    png = tf.io.encode_png(np.zeros((8, 8, 3), np.uint8)).numpy()
    damaged = [png[:33] + _chunk(kind) + png[33:] for kind in (b"pr1t", b"pr t", b"pr\xc1t", b"\x00IDA")]
    damaged.append(png[:-12] + b"\x00\x00\x00\x00IEN\x00" + png[-4:])  # (IEND's own type damaged)
    assert ended_images(tf.constant([png, png[:33] + _chunk(b"prVt") + png[33:], *damaged])).numpy().tolist() == [
        True, True, False, False, False, False, False]
    for data in damaged[:3]:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid PNG"):
            tf.io.decode_png(data)
