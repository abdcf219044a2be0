"""Parser: decoded record → model `(features, targets)` (docs/data.md#pipeline, docs/evaluation.md#protocol;
docs/architecture.md). Pure TF ops.

The geometry (`letterbox`, `clip_indices`, `preprocess_clip`) comes from `acga_tf.ops.geometry`, which the serving
graph, the evaluator and predict share.

The record-level step `prepare_clip` decodes the clip of one annotated frame once (T frames centred on the
annotated frame, letterboxed to S × S, scaled to [-1, 1]) together with the letterboxed mask of every sentence;
`expand_sentences` turns it into one sample per sentence; `parse_train` / `parse_eval` then make the model's
inputs `{"video", "words"}` and the multi-scale targets `{"logits_res1", "logits_res2", "logits"}`.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from acga_tf.data import schema
from acga_tf.data.config import DataConfig
from acga_tf.data.decode import SOURCE_KEY, decode_images, header_sizes
from acga_tf.ops.geometry import as_4d, clip_indices, letterbox, preprocess_clip

# Keys of the per-sample dict produced by `expand_sentences`.
VIDEO = "video"
WORDS = "words"
SENTENCE = "sentence"
INSTANCE_ID = "instance_id"
CLASS_ID = "class_id"
MASK = "mask"
MASK_PNG = "mask_png"
FRAME_JPEG = "frame_jpeg"  # the annotated frame as stored: JPEG, its original size (`info`, for figures)
SAMPLE_ID = "sample_id"
# Target names = the model's output names (docs/model.md#decoder, docs/data.md#pipeline).
TARGET_RES1 = "logits_res1"  # S/16
TARGET_RES2 = "logits_res2"  # S/4
TARGET_RES3 = "logits"  # S

# docs/data.md#pipeline: targets at S/16 and S/4 are area averages of the S × S mask thresholded at 0.5.
_RES1_FACTOR, _RES2_FACTOR = 16, 4
TARGET_THRESHOLD = 0.5
# Sentences with one of these words are never flipped: a horizontal flip would swap which actor "the man on the
# left" designates, so the flipped frame would no longer match its mask (the referent changes, not just pixels).
LEFT_RIGHT_PATTERN = r".*\b(left|right)(most|hand|side|wards?)?\b.*"


def downsample_mask(mask: tf.Tensor, factor: int) -> tf.Tensor:
    """{0,1} float mask (..., S, S, 1) → (..., S/f, S/f, 1): area average then ≥ 0.5 (docs/data.md#pipeline)."""
    flat, shape = as_4d(mask)
    pooled = tf.nn.avg_pool2d(tf.cast(flat, tf.float32), ksize=factor, strides=factor, padding="VALID")
    out = tf.cast(pooled >= TARGET_THRESHOLD, tf.float32)
    out = tf.reshape(out, tf.concat([shape[:-3], tf.shape(out)[1:]], 0))
    s = mask.shape[-2]
    out.set_shape(mask.shape[:-3].concatenate([None if s is None else s // factor] * 2 + [mask.shape[-1]]))
    return out


def multiscale_targets(mask: tf.Tensor) -> dict[str, tf.Tensor]:
    """Letterboxed mask (S, S, 1) → {"logits_res1": S/16, "logits_res2": S/4, "logits": S} float32 {0,1}."""
    mask = tf.cast(mask, tf.float32)
    return {TARGET_RES1: downsample_mask(mask, _RES1_FACTOR), TARGET_RES2: downsample_mask(mask, _RES2_FACTOR),
            TARGET_RES3: mask}


def mentions_left_or_right(sentence: tf.Tensor) -> tf.Tensor:
    """bool: the sentence contains "left"/"right" (also "leftmost", "right-hand", …), case-insensitive."""
    return tf.strings.regex_full_match(tf.strings.lower(sentence), LEFT_RIGHT_PATTERN)


# === Record level ===
def prepare_clip(decoded: dict[str, tf.Tensor], config: DataConfig) -> dict[str, tf.Tensor]:
    """Decodes the clip and masks of one record (once for all its sentences).

    Args:
        decoded: output of `acga_tf.data.decode.decode`.
        config: T = `clip_length`, S = `image_size`.

    Returns:
        The decoded dict plus `video` float32 (T, S, S, 3) in [-1, 1] and `mask` uint8 (N, S, S, 1) letterboxed
        masks; `masks` keeps the original-resolution PNGs.
    """
    out = dict(decoded)
    idx = clip_indices(decoded[schema.CENTER_KEY], decoded[schema.NUM_FRAMES_KEY], config.clip_length)
    encoded = tf.gather(decoded[schema.FRAMES_KEY], idx)
    # The images' headers must give the record's frame size before anything is decoded: a record whose JPEG declared
    # 16000 x 16000 stopped in TensorFlow's JPEG decoder naming no record, and a 20000 x 20000 mask PNG was decoded
    # (1.3 GB) before a shape error did.
    sizes = header_sizes(tf.concat([encoded, decoded[schema.MASKS_KEY]], 0), "record images")
    size = tf.cast(tf.stack([decoded[schema.HEIGHT_KEY], decoded[schema.WIDTH_KEY]]), tf.int64)
    check = tf.debugging.Assert(tf.reduce_all(sizes == size), [
        "a record that acga prepare did not write: video", decoded[schema.VIDEO_ID_KEY], "frame",
        decoded[schema.FRAME_NUMBER_KEY], "has images of H, W =", sizes, "where it says", size, "in",
        decoded.get(SOURCE_KEY, "")], summarize=80)
    with tf.control_dependencies([check]):
        frames = decode_images(encoded, channels=3)  # (T, H, W, 3)
        masks = decode_images(decoded[schema.MASKS_KEY], channels=1)  # (N, H, W, 1)
    out[VIDEO] = preprocess_clip(frames, config.image_size)
    out[VIDEO].set_shape([config.clip_length, config.image_size, config.image_size, 3])
    out[MASK] = letterbox(masks, config.image_size, method="nearest")
    out[FRAME_JPEG] = decoded[schema.FRAMES_KEY][decoded[schema.CENTER_KEY]]
    del out[schema.FRAMES_KEY]
    return out


def expand_sentences(record: dict[str, tf.Tensor]) -> tf.data.Dataset:
    """One record (output of `prepare_clip`) → a dataset of one sample per sentence; the clip is shared."""
    classes = record.get(schema.CLASS_IDS_KEY)  # (a record decoded by one's own code may have none)
    per_sentence = {SENTENCE: record[schema.SENTENCES_KEY], INSTANCE_ID: record[schema.INSTANCE_IDS_KEY],
                    CLASS_ID: tf.zeros_like(record[schema.INSTANCE_IDS_KEY]) if classes is None else classes,
                    MASK: record[MASK], MASK_PNG: record[schema.MASKS_KEY]}
    shared = {VIDEO: record[VIDEO], schema.VIDEO_ID_KEY: record[schema.VIDEO_ID_KEY],
              schema.FRAME_NUMBER_KEY: record[schema.FRAME_NUMBER_KEY], schema.HEIGHT_KEY: record[schema.HEIGHT_KEY],
              schema.WIDTH_KEY: record[schema.WIDTH_KEY], FRAME_JPEG: record[FRAME_JPEG]}
    n = tf.shape(record[schema.SENTENCES_KEY], out_type=tf.int64)[0]
    pairs = tf.data.Dataset.zip(tf.data.Dataset.from_tensors(shared).repeat(n),
                                tf.data.Dataset.from_tensor_slices(per_sentence))
    return pairs.map(lambda a, b: {**a, **b})


# === Sample level ===
def _words(sentence: tf.Tensor, vectorizer: Any) -> tf.Tensor:
    return vectorizer(tf.reshape(sentence, [1]))[0]  # (L, D)


def parse_train(sample: dict[str, tf.Tensor], config: DataConfig, vectorizer: Any,
                seed: tf.Tensor) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
    """Training sample → `({"video", "words"}, targets)` with a random horizontal flip.

    The flip (probability 0.5, `config.horizontal_flip`) moves the clip and the mask together and is applied only
    when the sentence has no left/right word: flipping changes the referent of "left"/"right".

    Args:
        sample: one element of `expand_sentences`.
        config: the config (S, L, D, horizontal_flip).
        vectorizer: `SentenceVectorizer`: strings (B,) → float32 (B, L, D).
        seed: int (2,) seed of the stateless random flip.
    """
    video, mask = sample[VIDEO], tf.cast(sample[MASK], tf.float32)
    if config.horizontal_flip:
        coin = tf.random.stateless_uniform([], seed=seed) < 0.5
        flip = tf.logical_and(coin, tf.logical_not(mentions_left_or_right(sample[SENTENCE])))
        video = tf.cond(flip, lambda: tf.reverse(video, axis=[-2]), lambda: video)
        mask = tf.cond(flip, lambda: tf.reverse(mask, axis=[-2]), lambda: mask)
    return {VIDEO: video, WORDS: _words(sample[SENTENCE], vectorizer)}, multiscale_targets(mask)


def sample_id(video_id: tf.Tensor, frame_number: tf.Tensor, instance_id: tf.Tensor) -> tf.Tensor:
    """"<video>/<frame:05d>/<instance>" string."""
    return tf.strings.join([video_id, tf.strings.as_string(frame_number, width=5, fill="0"),
                            tf.strings.as_string(instance_id)], separator="/")


def parse_eval(sample: dict[str, tf.Tensor], config: DataConfig, vectorizer: Any, with_info: bool = False):
    """Evaluation sample → `(inputs, targets)` or, with `with_info`, `(inputs, targets, info)`.

    `info`: `sample_id` string "<video>/<frame:05d>/<instance>", `height`, `width` int32 (original size, to
    invert the letterbox, docs/evaluation.md#protocol), `mask_png` (the original-resolution ground-truth PNG),
    `sentence`, `frame_jpeg` (the annotated frame as stored: a JPEG of its original size), `class_id` (A2D's
    actor-action id, 0 where unknown: docs/evaluation.md#by-class).
    """
    inputs = {VIDEO: sample[VIDEO], WORDS: _words(sample[SENTENCE], vectorizer)}
    targets = multiscale_targets(sample[MASK])
    if not with_info:
        return inputs, targets
    info = {SAMPLE_ID: sample_id(sample[schema.VIDEO_ID_KEY], sample[schema.FRAME_NUMBER_KEY],
                                 sample[INSTANCE_ID]),
            schema.HEIGHT_KEY: sample[schema.HEIGHT_KEY], schema.WIDTH_KEY: sample[schema.WIDTH_KEY],
            MASK_PNG: sample[MASK_PNG], SENTENCE: sample[SENTENCE], FRAME_JPEG: sample[FRAME_JPEG],
            CLASS_ID: sample[CLASS_ID]}
    return inputs, targets, info
