"""TFRecord schema of prepared A2D / J-HMDB Sentences data, and its writer (docs/data.md#schema).

One `tf.train.SequenceExample` per **annotated frame**. The frame's clip is stored once, with every sentence that
refers to an actor in it and one mask per sentence; the input pipeline expands a record into one sample per
sentence. Frames are stored at the video's own resolution: the input size S stays a training choice.

Context features (`tf.train.Features`):

| key            | type          | content                                                                   |
| -------------- | ------------- | ------------------------------------------------------------------------- |
| `dataset`      | bytes         | "a2d", "jhmdb" or "custom" (your own data)                                |
| `split`        | bytes         | "train" or "test"                                                         |
| `video_id`     | bytes         | A2D YouTube id / J-HMDB video folder / your video's path (UTF-8)          |
| `frame_number` | int64         | 1-based number of the annotated frame (file name of its .h5 / .png)       |
| `height`       | int64         | original frame height (pixels)                                            |
| `width`        | int64         | original frame width (pixels)                                             |
| `center`       | int64         | index of the annotated frame among the stored frames                      |
| `num_frames`   | int64         | number of stored frames (length of the `frames` feature list)             |
| `sentences`    | bytes list    | normalised sentences (UTF-8), one per referral, annotation-file order     |
| `instance_ids` | int64 list    | referred instance id per sentence (0 for J-HMDB)                          |
| `masks`        | bytes list    | PNG (8-bit grey, values {0,1}) per sentence at the original H × W         |
| `class_ids`    | int64 list    | A2D actor-action id per sentence, 0 if unknown (absent before 2026-12-06) |

Feature list (`tf.train.FeatureLists`):

| key      | type                   | content                                                               |
| -------- | ---------------------- | --------------------------------------------------------------------- |
| `frames` | one bytes per step     | JPEG (quality 95, RGB) of each stored frame, in time order            |

Stored frames: the distinct frames of a window of `window` frames centred on the annotated frame
(zero-based indices `k − window//2 … k + (window+1)//2 − 1`, clamped to the video's range, duplicates removed).
Selecting T ≤ window frames centred on `center` with indices clamped to `[0, num_frames − 1]` therefore gives
exactly the clip of docs/data.md#clips (first/last frame repeated past the video's ends).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import tensorflow as tf
from PIL import Image

from acga_tf.data.types import AnnotatedFrame, DataError

# === Context keys ===
DATASET_KEY = "dataset"
SPLIT_KEY = "split"
VIDEO_ID_KEY = "video_id"
FRAME_NUMBER_KEY = "frame_number"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
CENTER_KEY = "center"
NUM_FRAMES_KEY = "num_frames"
SENTENCES_KEY = "sentences"
INSTANCE_IDS_KEY = "instance_ids"
MASKS_KEY = "masks"
CLASS_IDS_KEY = "class_ids"  # optional: shards written before 2026-12-06 have none (docs/evaluation.md#by-class)
# === Feature-list keys ===
FRAMES_KEY = "frames"

CONTEXT_BYTES_KEYS = (DATASET_KEY, SPLIT_KEY, VIDEO_ID_KEY)
CONTEXT_INT_KEYS = (FRAME_NUMBER_KEY, HEIGHT_KEY, WIDTH_KEY, CENTER_KEY, NUM_FRAMES_KEY)
CONTEXT_LIST_KEYS = (SENTENCES_KEY, INSTANCE_IDS_KEY, MASKS_KEY)  # and CLASS_IDS_KEY, which older records lack

JPEG_QUALITY = 95
SCHEMA_VERSION = 1


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of an RGB uint8 (H, W, 3) image (deterministic: the same pixels give the same bytes)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="RGB").save(buf, format="JPEG",
                                                                                quality=quality)
    return buf.getvalue()


def encode_png_mask(mask: np.ndarray) -> bytes:
    """PNG bytes (8-bit grey) of a {0,1} uint8 (H, W) mask."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def encode_example(frame: AnnotatedFrame, sample: Any) -> bytes:
    """Serializes one annotated frame and its loaded clip as a `tf.train.SequenceExample`.

    Args:
        frame: the annotated frame with its referrals (sentences, instance ids).
        sample: a `LoadedSample` (`acga_tf.data.video`): `.frames` uint8 (n, H, W, 3), `.center`, `.masks`
            (one (H, W) uint8 {0,1} per referral), `.height`, `.width`.

    Returns:
        The serialized `SequenceExample`.

    Raises:
        DataError: the sample disagrees with the frame (mask count, shapes, centre index).
    """
    frames = np.asarray(sample.frames)
    height, width = int(sample.height), int(sample.width)
    src = f"{frame.mask_path} (frame {frame.frame_number})"
    if frames.ndim != 4 or frames.shape[1:] != (height, width, 3) or frames.dtype != np.uint8:
        raise DataError(src, f"frames have shape {frames.shape} {frames.dtype}, expected (n, {height}, {width}, 3)"
                             " uint8", reason="bad_frames")
    if not 0 <= int(sample.center) < len(frames):
        raise DataError(src, f"centre index {sample.center} outside the {len(frames)} loaded frames",
                        reason="bad_frames")
    if len(sample.masks) != len(frame.referrals):
        raise DataError(src, f"{len(sample.masks)} masks for {len(frame.referrals)} sentences", reason="bad_mask")
    for m in sample.masks:
        if np.shape(m) != (height, width):
            raise DataError(src, f"mask of shape {np.shape(m)}, expected ({height}, {width})", reason="bad_mask")

    def _bytes(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))

    def _ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))

    context = {
        DATASET_KEY: _bytes([frame.dataset.encode()]),
        SPLIT_KEY: _bytes([frame.split.encode()]),
        VIDEO_ID_KEY: _bytes([frame.video_id.encode("utf-8")]),
        FRAME_NUMBER_KEY: _ints([frame.frame_number]),
        HEIGHT_KEY: _ints([height]),
        WIDTH_KEY: _ints([width]),
        CENTER_KEY: _ints([sample.center]),
        NUM_FRAMES_KEY: _ints([len(frames)]),
        SENTENCES_KEY: _bytes(r.sentence.encode("utf-8") for r in frame.referrals),
        INSTANCE_IDS_KEY: _ints(r.instance_id for r in frame.referrals),
        MASKS_KEY: _bytes(encode_png_mask((np.asarray(m) > 0).astype(np.uint8)) for m in sample.masks),
        CLASS_IDS_KEY: _ints(r.class_id for r in frame.referrals),
    }
    feature_lists = {FRAMES_KEY: tf.train.FeatureList(feature=[_bytes([encode_jpeg(f)]) for f in frames])}
    example = tf.train.SequenceExample(context=tf.train.Features(feature=context),
                                       feature_lists=tf.train.FeatureLists(feature_list=feature_lists))
    return example.SerializeToString(deterministic=True)
