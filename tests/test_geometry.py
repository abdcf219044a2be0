"""acga_tf/ops/geometry.py: letterbox and its inverse, clip indices."""

import numpy as np
import pytest
import tensorflow as tf

from acga_tf.ops import geometry
from acga_tf.ops.geometry import (
    clip_indices,
    frame_region,
    letterbox,
    letterbox_geometry,
    unletterbox,
)


@pytest.mark.parametrize("height,width", [(40, 24), (24, 40), (33, 33), (1, 64), (64, 7)])
def test_unletterbox_inverts_letterbox_when_upscaling(height, width):
    mask = (np.random.default_rng(height * width).random((height, width, 1)) > 0.5).astype(np.uint8)
    boxed = letterbox(mask, 64, method="nearest")
    new_h, new_w, top, left = (int(v) for v in letterbox_geometry(height, width, 64))
    assert max(new_h, new_w) == 64
    assert boxed.numpy()[:top].sum() == 0 and boxed.numpy()[:, :left].sum() == 0  # zero padding
    np.testing.assert_array_equal(unletterbox(boxed, height, width, method="nearest").numpy(), mask)


@pytest.mark.parametrize("height,width", [(160, 224), (320, 568), (568, 320), (100, 100), (77, 301)])
def test_letterbox_inverts_unletterbox_when_downscaling(height, width):
    new_h, new_w, top, left = (int(v) for v in letterbox_geometry(height, width, 64))
    pred = np.zeros((64, 64, 1), np.uint8)
    pred[top:top + new_h, left:left + new_w] = np.random.default_rng(width).random((new_h, new_w, 1)) > 0.5
    full = unletterbox(pred, height, width, method="nearest")
    assert full.shape == (height, width, 1)
    np.testing.assert_array_equal(letterbox(full, 64, method="nearest").numpy(), pred)


def test_letterbox_batched_with_dynamic_sizes():
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None, 1], tf.uint8),
                                  tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)])
    def round_trip(x, height, width):
        boxed = letterbox(x, 64, method="nearest")
        return boxed, unletterbox(boxed, height, width, method="nearest")

    clips = (np.random.default_rng(1).random((2, 3, 40, 30, 1)) > 0.5).astype(np.uint8)  # (B, T, H, W, 1)
    boxed, back = round_trip(clips, 40, 30)
    assert boxed.shape == (2, 3, 64, 64, 1)
    np.testing.assert_array_equal(back.numpy(), clips)
    frames = letterbox(np.full((2, 30, 40, 3), 255, np.uint8), 64)  # bilinear → float32, black padding
    assert frames.dtype == tf.float32 and frames.shape == (2, 64, 64, 3)
    assert float(frames[0, 0, 0, 0]) == 0.0 and float(frames[0, 32, 32, 0]) == 255.0


def test_clip_centring_repeats_edges():
    np.testing.assert_array_equal(clip_indices(0, 5, 8), [0, 0, 0, 0, 0, 1, 2, 3])
    np.testing.assert_array_equal(clip_indices(4, 5, 8), [0, 1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(clip_indices(10, 30, 8), [6, 7, 8, 9, 10, 11, 12, 13])
    np.testing.assert_array_equal(clip_indices(2, 30, 5), [0, 1, 2, 3, 4])  # odd T: center − 2 … center + 2
    np.testing.assert_array_equal(clip_indices(0, 1, 4), [0, 0, 0, 0])


@pytest.mark.parametrize("h, w", [(32, 64), (64, 20), (7, 7), (45, 61)])
def test_frame_region_is_where_letterbox_puts_the_frame(h, w):
    size = 64
    region = np.asarray(frame_region(h, w, size))
    assert region.shape == (size, size, 1) and region.dtype == bool
    ones = np.asarray(letterbox(np.full((h, w, 1), 255, np.uint8), size, method="nearest"))
    np.testing.assert_array_equal(region, ones > 0)  # the frame's pixels, not the zero padding


@pytest.mark.parametrize("call, match", [
    (lambda: letterbox(np.zeros((4, 6, 3), "uint8"), 0), r"letterbox: size=0, expected at least 1"),
    (lambda: unletterbox(np.zeros((8, 8, 1), "float32"), 0, 6), r"unletterbox: height=0, expected at least 1"),
    (lambda: unletterbox(np.zeros((8, 8, 1), "float32"), 4.5, 6), r"unletterbox: height=4.5, expected a whole number"),
    (lambda: clip_indices(3, 10, 0), r"clip_indices: clip_length=0, expected at least 1"),
    (lambda: clip_indices(3, 0, 8), r"clip_indices: num_frames=0, expected at least 1"),
    (lambda: clip_indices(10, 10, 8), r"clip_indices: center=10 is not a frame of the 10"),
    (lambda: letterbox_geometry(4, -6, 8), r"letterbox_geometry: width=-6, expected at least 1"),
])
def test_sizes_given_as_numbers_are_checked(call, match):
    """A tester's `letterbox(x, 0)` returned an empty image and `clip_indices(3, 10, 0)` no index, silently (found,
    not fixed, since the thirty-fifth session); sizes given as tensors are read in the graph, as before."""
    with pytest.raises(ValueError, match=match):
        call()
    assert letterbox(np.zeros((4, 6, 3), "uint8"), tf.constant(8)).shape[-3:] == (8, 8, 3)


def test_nearest_neighbour_gives_tensorflows_resize_pixels_for_any_sizes():
    """Masks are resized by two gathers, each source index computed as TensorFlow's kernel computes it (floor((i +
    0.5) x in / out) in float32, at most in - 1; docs/evaluation.md#protocol): the same pixels as `tf.image.resize(...,
    "nearest")` for sizes up and down, eagerly and in a graph of unknown sizes (a SavedModel's), 10x faster at 1080p
    (benchmarks/postprocess.py). A rule in exact arithmetic differs from float32's at some sizes, hence TensorFlow's."""
    rng = np.random.default_rng(3)
    sizes = [tuple(int(v) for v in row) for row in rng.integers(1, 700, (150, 4))]
    sizes += [(72, 128, 1080, 1920), (128, 128, 2160, 3840), (320, 427, 512, 512), (5, 5, 1, 1), (1, 9, 9, 1)]
    unknown = tf.function(geometry._nearest, input_signature=[tf.TensorSpec([None, None, None, None], tf.uint8),
                                                             tf.TensorSpec([2], tf.int32)])
    for in_h, in_w, out_h, out_w in sizes:
        images = rng.integers(0, 256, (2, in_h, in_w, int(rng.integers(1, 4)))).astype(np.uint8)
        expected = tf.image.resize(images, (out_h, out_w), method="nearest").numpy()
        for resize in (geometry._nearest, unknown):
            np.testing.assert_array_equal(resize(tf.constant(images), tf.constant([out_h, out_w])).numpy(), expected,
                                          err_msg=str((in_h, in_w, out_h, out_w)))
    # a 1080p frame's mask from S = 128: the letterbox's region, cropped, then resized
    mask = rng.integers(0, 2, (4, 128, 128, 1)).astype(np.uint8)
    new_h, new_w, top, left = (int(v) for v in letterbox_geometry(1080, 1920, 128))
    np.testing.assert_array_equal(unletterbox(mask, 1080, 1920, method="nearest").numpy(), tf.image.resize(
        mask[:, top:top + new_h, left:left + new_w], (1080, 1920), method="nearest").numpy())
