"""Decoder: serialized `SequenceExample` (schema in `acga_tf.data.schema`) → dict of tensors (docs/architecture.md).

Pure TF ops, usable inside `tf.data` maps and serving graphs. Frames stay JPEG strings here so that the parser
decodes only the T frames of the clip it selects (`decode_images`).
"""

from __future__ import annotations

import tensorflow as tf

from acga_tf.data import schema
from acga_tf.data.types import MAX_FRAME_PIXELS, MAX_SENTENCE_BYTES

_CONTEXT_FEATURES = {
    **{k: tf.io.FixedLenFeature([], tf.string) for k in schema.CONTEXT_BYTES_KEYS},
    **{k: tf.io.FixedLenFeature([], tf.int64) for k in schema.CONTEXT_INT_KEYS},
    schema.SENTENCES_KEY: tf.io.VarLenFeature(tf.string),
    schema.INSTANCE_IDS_KEY: tf.io.VarLenFeature(tf.int64),
    schema.MASKS_KEY: tf.io.VarLenFeature(tf.string),
    schema.CLASS_IDS_KEY: tf.io.VarLenFeature(tf.int64),
}
_SEQUENCE_FEATURES = {schema.FRAMES_KEY: tf.io.FixedLenSequenceFeature([], tf.string)}


# The key of `decode`'s dict that holds the file a record was read from, where it was given.
SOURCE_KEY = "source"


def decode(serialized: tf.Tensor, source: tf.Tensor | str = "") -> dict[str, tf.Tensor]:
    """Parses one serialized record.

    Args:
        serialized: scalar string, a `SequenceExample` written by `schema.encode_example`.
        source: the shard it was read from, named (as `SOURCE_KEY`) where a record is refused.

    Returns:
        A dict keyed by the schema's keys: `dataset`, `split`, `video_id` (string scalars); `frame_number`,
        `height`, `width`, `center`, `num_frames` (int32 scalars); `sentences` (N,) string; `instance_ids` (N,)
        int32; `masks` (N,) string (PNG); `class_ids` (N,) int32 (zeros where the record has none: written
        before 2026-12-06); `frames` (n,) string (JPEG); `source`.
    """
    context, sequence = tf.io.parse_single_sequence_example(
        serialized, context_features=_CONTEXT_FEATURES, sequence_features=_SEQUENCE_FEATURES)
    context = _checked(context, sequence[schema.FRAMES_KEY], source)
    out = {k: context[k] for k in schema.CONTEXT_BYTES_KEYS}
    out.update({k: tf.cast(context[k], tf.int32) for k in schema.CONTEXT_INT_KEYS})
    out[schema.SENTENCES_KEY] = tf.sparse.to_dense(context[schema.SENTENCES_KEY])
    out[schema.INSTANCE_IDS_KEY] = tf.cast(tf.sparse.to_dense(context[schema.INSTANCE_IDS_KEY]), tf.int32)
    out[schema.MASKS_KEY] = tf.sparse.to_dense(context[schema.MASKS_KEY])
    classes = tf.cast(context[schema.CLASS_IDS_KEY].values, tf.int32)
    out[schema.CLASS_IDS_KEY] = tf.cond(  # none recorded: 0 for each sentence
        tf.size(classes) > 0, lambda: classes, lambda: tf.zeros_like(out[schema.INSTANCE_IDS_KEY]))
    out[schema.FRAMES_KEY] = sequence[schema.FRAMES_KEY]
    out[SOURCE_KEY] = tf.convert_to_tensor(source, tf.string)
    return out


def _checked(context: dict[str, tf.Tensor], frames: tf.Tensor, source) -> dict[str, tf.Tensor]:
    """The context, once it holds what `schema.encode_example` writes: `num_frames` the stored frames, `center` one
    of them, a mask and an instance id per sentence (and a class id, where any), a frame size of at most
    `MAX_FRAME_PIXELS`, sentences of at most `MAX_SENTENCE_BYTES`. A record that breaks these (written by hand, or
    by another tool) stops the pipeline with its shard (`source`), video and frame named; else a `center` of 10**12
    wraps around in the int32 cast and the clip is taken from the wrong frames without a word."""
    stored = tf.shape(frames, out_type=tf.int64)[0]
    sentences = tf.shape(context[schema.SENTENCES_KEY].values, out_type=tf.int64)[0]
    center, num_frames = context[schema.CENTER_KEY], context[schema.NUM_FRAMES_KEY]
    height, width = context[schema.HEIGHT_KEY], context[schema.WIDTH_KEY]
    longest = tf.reduce_max(tf.concat([[0], tf.strings.length(context[schema.SENTENCES_KEY].values)], 0))
    ok = tf.reduce_all([
        longest <= MAX_SENTENCE_BYTES,
        tf.equal(num_frames, stored), center >= 0, center < stored, sentences > 0,
        tf.equal(tf.shape(context[schema.MASKS_KEY].values, out_type=tf.int64)[0], sentences),
        tf.equal(tf.shape(context[schema.INSTANCE_IDS_KEY].values, out_type=tf.int64)[0], sentences),
        tf.reduce_any([tf.equal(tf.size(context[schema.CLASS_IDS_KEY].values, out_type=tf.int64), sentences),
                       tf.equal(tf.size(context[schema.CLASS_IDS_KEY].values), 0)]),
        height > 0, width > 0, height <= MAX_FRAME_PIXELS, width <= MAX_FRAME_PIXELS,  # (each side first: a
        height * width <= MAX_FRAME_PIXELS])  # product past int64 is negative, and passed)
    check = tf.debugging.Assert(ok, [
        "a record that acga prepare did not write: video", context[schema.VIDEO_ID_KEY], "frame",
        context[schema.FRAME_NUMBER_KEY], "has center", center, "and num_frames", num_frames, "for", stored,
        "stored frames,", sentences, "sentences (the longest", longest, "bytes), size", height, width, "in",
        source], summarize=8)
    with tf.control_dependencies([check]):
        return {k: tf.identity(v) if isinstance(v, tf.Tensor) else v for k, v in context.items()}


PNG_SIGNATURE, JPEG_SIGNATURE = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


def header_sizes(encoded: tf.Tensor, what: str) -> tf.Tensor:
    """(H, W) int64 of each PNG or JPEG image of a string vector (k,) → (k, 2), read from the headers: nothing is
    decoded. An image of another kind fails the graph, `what` naming the images ("frames", "record images")."""
    return tf.map_fn(lambda data: _header_size(data, what), encoded, fn_output_signature=tf.TensorSpec([2], tf.int64))


def _header_size(data: tf.Tensor, what: str) -> tf.Tensor:
    """(H, W) int64 of one PNG or JPEG image (a string scalar), read from its header."""
    signed_png = tf.strings.substr(data, 0, 8) == PNG_SIGNATURE
    is_png = tf.logical_and(signed_png, tf.strings.length(data) >= 24)
    is_jpeg = tf.strings.substr(data, 0, 3) == JPEG_SIGNATURE
    # The first bytes as text (a GIF's "GIF89a", a WebP's "RIFF"), what is not UTF-8 as U+FFFD: an error message
    # must be text, or the client fails to read it.
    start = tf.strings.unicode_transcode(tf.strings.substr(data, 0, 8), "UTF-8", "UTF-8", errors="replace")
    cut = tf.debugging.Assert(tf.logical_or(is_png, tf.logical_not(signed_png)), [  # (was "not PNG or JPEG")
        f"{what} must be whole images; got a PNG {what.rstrip('s')} cut short, of", tf.strings.length(data), "bytes"])
    with tf.control_dependencies([cut]):
        kind = tf.debugging.Assert(tf.logical_or(is_png, is_jpeg), [
            f"{what} must be PNG or JPEG images; got a {what.rstrip('s')} that starts with", start])
    with tf.control_dependencies([kind]):
        height_width = tf.cond(  # PNG: IHDR's big-endian width and height; JPEG: its SOF marker
            is_png, lambda: tf.reverse(tf.io.decode_raw(tf.strings.substr(data, 16, 8), tf.int32, little_endian=False),
                                       [0]),
            lambda: tf.image.extract_jpeg_shape(data)[:2])
    height_width = tf.cast(tf.reshape(height_width, [2]), tf.int64)
    # IHDR's fields are unsigned: a size past 2^31 read as int32 is negative, and was called "at least 1 x 1"
    return tf.where(height_width < 0, height_width + 2 ** 32, height_width)


PNG_END_TYPE = b"IEND"  # a PNG's last chunk: length 0, this type, its CRC (12 bytes)
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # that chunk, whole: its length (0), type and CRC


def ended_images(encoded: tf.Tensor) -> tf.Tensor:
    """Whether each PNG or JPEG image of a string vector (k,) holds its end → bool (k,) (docs/serving.md): a PNG its
    whole IEND chunk, found by walking its chunks by their lengths (12 bytes of IDAT data that read as an IEND chunk
    are data, a text chunk's word "IEND" is text, a chunk type not of four letters is damage); a JPEG an end-of-image
    marker after its first start-of-scan, found by walking its header's segments by their lengths (a camera's EXIF
    thumbnail, inside the header, has an end marker of its own; a header it cannot walk is left to the decoder). Bytes
    after the end are allowed, as the decoders allow them (a phone's motion photo appends a video). A file cut short
    fails here, where TensorFlow's decoder said "Invalid PNG data, size N" of one image, unnamed."""
    def ended(data):
        png = tf.strings.substr(data, 0, 8) == PNG_SIGNATURE
        return tf.cond(png, lambda: _png_ended(data), lambda: _jpeg_ended(data))
    return tf.map_fn(ended, encoded, fn_output_signature=tf.TensorSpec([], tf.bool))


PNG_RUNS_WALKED = 256  # steps of `_png_ended`'s walk (a libpng 1080p frame takes 9, a 4K frame 11) before the
# rest's chunks are linked
PNG_RUN_CHUNKS = 16, 65536  # chunks of one length a step of it checks at first, and at most


def _png_ended(data: tf.Tensor) -> tf.Tensor:
    """Whether a PNG (a string scalar) holds its whole IEND chunk: its chunks (a 4-byte big-endian length, a 4-byte
    type, the data, a 4-byte CRC) walked from the signature on, as a decoder reads them, by runs: an encoder writes
    its image data in chunks of one length (libpng's 8 KiB), so a step reads the length of the chunk it is at, checks
    at once where the chunks that follow would begin were they as long (twice as many as the step before where all
    of those were, up to `PNG_RUN_CHUNKS`), and goes on at the first that is not (or is IEND). A chunk whose type is
    not four ASCII letters is damage, as a decoder finds it, from the first chunk on (the first 1,024 chunks were
    walked one by one before, their types unread). Past `PNG_RUNS_WALKED` steps (chunks of lengths that vary, a file
    made to be slow: a diff reviewer's 2.5 MB PNG of 212,000 chunks took 2.5 s of a server's CPU walked one by one,
    against 0.01 s to decode), `_png_linked_ended` follows the rest at a cost linear in its bytes."""
    size = tf.cast(tf.strings.length(data), tf.int64)
    fewest, most = PNG_RUN_CHUNKS

    def walking(position, ended, reach, steps):
        return tf.logical_and(tf.logical_and(tf.equal(ended, -1), position + 8 <= size), steps < PNG_RUNS_WALKED)

    def step(position, ended, reach, steps):
        length, last, typed = (value[0] for value in _png_heads(data, position[None], size))
        stride = 12 + length
        alike = tf.where(last, tf.constant(0, tf.int64), tf.minimum((size - 8 - position) // stride, reach))
        after = tf.range(1, alike + 1, dtype=tf.int64)  # the chunks after this one, were they as long
        lengths, lasts, types = _png_heads(data, position + after * stride, size)
        differs = tf.concat([tf.not_equal(lengths, length) | lasts | tf.logical_not(types), [True]], 0)
        run = tf.argmax(differs) + 1  # this chunk and those after it as long
        whole = tf.cast(tf.logical_and(typed, position + stride <= size), tf.int64)
        ended = tf.where(tf.logical_or(last, tf.logical_not(typed)), whole, -1)  # (a type not of letters: damaged)
        reach = tf.where(run > reach, tf.minimum(2 * reach, most), fewest)
        return position + run * stride, ended, reach, steps + 1

    position, ended, _, _ = tf.while_loop(walking, step, (tf.constant(8, tf.int64), tf.constant(-1, tf.int64),
                                                          tf.constant(fewest, tf.int64), tf.constant(0)))
    unsettled = tf.logical_and(tf.equal(ended, -1), position + 8 <= size)
    return tf.cond(unsettled, lambda: _png_linked_ended(data, position, size), lambda: tf.equal(ended, 1))


def _png_heads(data: tf.Tensor, at: tf.Tensor, size: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(length, whether IEND, whether a type of four letters) of the chunks of a PNG (a string scalar of `size`
    bytes, int64) whose heads are at `at` (int64 (n,), each 8 bytes inside it; read in place: a copy of a 25 MB
    frame's bytes cost 3 ms); a length of 2 GiB or more is read as the file's size, past any chunk's end. A type of
    other bytes is a damaged file's: a decoder refuses it."""
    bytes_at = tf.strings.substr(data, at, tf.fill(tf.shape(at), tf.constant(8, tf.int64)))
    head = tf.cast(tf.reshape(tf.io.decode_raw(bytes_at, tf.uint8), [-1, 8]), tf.int64)
    length = tf.where(head[:, 0] >= 128, size, ((head[:, 0] * 256 + head[:, 1]) * 256 + head[:, 2]) * 256 + head[:, 3])
    folded = tf.bitwise.bitwise_or(head[:, 4:], 32)  # (ASCII's upper case as its lower)
    typed = tf.reduce_all(tf.logical_and(folded >= ord("a"), folded <= ord("z")), axis=1)
    return length, tf.reduce_all(tf.equal(head[:, 4:], list(PNG_END_TYPE)), axis=1), typed


def _png_linked_ended(data: tf.Tensor, start: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Whether the chunks of a PNG (a string scalar of `size` bytes, int64) from byte `start` on (int64; a chunk's
    head there) lead to a whole IEND chunk, followed all at once: where a chunk begins, four letters name its type (a
    decoder refuses any other) after a length that ends inside the file, so the places whose bytes 4 to 7 are letters
    after such a first byte are the only ones one can begin at (one in 150,000 of compressed data's); each is linked
    to the one its length leads to, and the links from the first are followed by doubling them (log2 of the chunks
    steps)."""
    rest = tf.io.decode_raw(tf.strings.substr(data, start, size), tf.uint8)
    span = tf.size(rest, out_type=tf.int64)  # (8 at least)
    folded = tf.bitwise.bitwise_or(rest, 32)  # (ASCII's upper case as its lower)
    letter = tf.logical_and(folded >= ord("a"), folded <= ord("z"))
    typed = letter[4:span - 3] & letter[5:span - 2] & letter[6:span - 1] & letter[7:]  # at 0 to span - 8
    short = rest[:span - 7] <= tf.cast(tf.minimum(span // 2 ** 24, 255), tf.uint8)  # (a length's first byte, past the
    # rest's end above: a run of text, letters as the types' are, is no chunk's length)
    begins = tf.where(typed & short)[:, 0]  # where a chunk may begin, ascending
    count = tf.size(begins, out_type=tf.int64)
    length, last, _ = _png_heads(data, start + begins, size)
    following = begins + 12 + length  # where the next chunk begins
    ahead = tf.concat([begins, [-1]], 0)
    found = tf.searchsorted(begins, following, out_type=tf.int64)  # its place among `begins`, `count` where none
    found = tf.where(tf.equal(tf.gather(ahead, found), following), found, count)
    links = tf.concat([tf.where(last, tf.range(count), found), [count]], 0)  # IEND and "none" lead to themselves

    def unsettled(links, at):
        return tf.not_equal(tf.gather(links, at), at)

    def double(links, at):
        return tf.gather(links, links), tf.gather(links, at)

    first = tf.where(tf.equal(ahead[0], 0), tf.constant(0, tf.int64), count)  # (no chunk at 0: damaged)
    _, at = tf.while_loop(unsettled, double, (links, first))
    return tf.gather(tf.concat([following, [span + 1]], 0), at) <= span  # (IEND whole; "none" never)


def _holds_after(data: tf.Tensor, start: tf.Tensor, marker: bytes) -> tf.Tensor:
    """Whether `marker` occurs in `data` from byte `start` on: in its last 64 KiB first, where an image's end
    usually is, then in the rest (the bytes after an end, a motion photo's video, can be megabytes)."""
    size = tf.strings.length(data)
    tail = tf.maximum(start, size - 65536)

    def found(begin):
        return tf.size(tf.strings.split(tf.strings.substr(data, begin, size), sep=marker)) > 1

    return tf.cond(found(tail), lambda: tf.constant(True), lambda: found(start))


def _jpeg_ended(data: tf.Tensor) -> tf.Tensor:
    """Whether a JPEG (a string scalar) holds an end-of-image marker after its first start-of-scan (True for bytes
    that are not a JPEG header: `_header_size` names those)."""
    size = tf.strings.length(data)

    def walking(position, scan):
        return tf.logical_and(tf.equal(scan, -1), position + 4 <= size)

    def step(position, scan):  # one segment: FF, its marker, and (but for the markers without one) its length
        head = tf.cast(tf.io.decode_raw(tf.strings.substr(data, position, 4), tf.uint8), tf.int32)
        marker = tf.equal(head[0], 0xFF)
        alone = tf.logical_or(tf.equal(head[1], 0xFF), tf.logical_or(  # padding, or a marker without a length
            tf.logical_and(head[1] >= 0xD0, head[1] <= 0xD8), tf.equal(head[1], 0x01)))
        found = tf.logical_and(marker, tf.equal(head[1], 0xDA))
        scan = tf.where(found, position, tf.where(marker, -1, -2))  # -2: not a segment where one must be
        return tf.where(alone, position + tf.where(tf.equal(head[1], 0xFF), 1, 2), position + 2 + head[2] * 256
                        + head[3]), scan

    _, scan = tf.while_loop(walking, step, (tf.constant(2), tf.constant(-1)))
    return tf.cond(scan >= 0, lambda: _holds_after(data, scan, b"\xff\xd9"), lambda: tf.equal(scan, -2))


def decode_images(encoded: tf.Tensor, channels: int) -> tf.Tensor:
    """Decodes a vector of JPEG/PNG strings of one size.

    Args:
        encoded: (k,) string.
        channels: 3 for frames (RGB), 1 for masks.

    Returns:
        uint8 (k, H, W, channels).
    """
    images = tf.map_fn(lambda s: tf.io.decode_image(s, channels=channels, expand_animations=False), encoded,
                       fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8))
    return tf.ensure_shape(images, [None, None, None, channels])
