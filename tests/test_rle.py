"""acga_tf.ops.rle: masks as COCO's uncompressed run-length encoding, box and area (docs/serving.md#masks-as-json)."""

import numpy as np
import pytest

from acga_tf.ops import rle


def test_counts_run_down_each_column_starting_with_the_zeros():
    mask = np.array([[0, 1], [1, 1], [0, 0]], np.uint8)  # read column by column: 0 1 0 | 1 1 0
    assert rle.encode(mask) == {"size": [3, 2], "counts": [1, 1, 1, 2, 1]}
    assert rle.encode(np.array([[1, 0]])) == {"size": [1, 2], "counts": [0, 1, 1]}  # a first pixel of 1: 0 zeros first
    assert rle.encode(np.zeros((2, 3), bool)) == {"size": [2, 3], "counts": [6]}
    assert rle.encode(np.full((2, 3), 255, np.uint8)) == {"size": [2, 3], "counts": [0, 6]}  # nonzero is foreground
    assert rle.box(mask) == [0, 0, 2, 2] and rle.box(np.zeros((4, 4))) is None
    assert rle.record(mask) == {"area": 3, "box": [0, 0, 2, 2], "rle": {"size": [3, 2], "counts": [1, 1, 1, 2, 1]}}


def test_masks_come_back_from_their_encoding_with_their_box():
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (5, 7), (40, 56), (0, 3)]:
        for density in (0.0, 0.1, 0.6, 1.0):
            mask = (rng.random(shape) < density).astype(np.uint8)
            decoded = rle.decode(rle.encode(mask))
            assert decoded.dtype == np.uint8 and decoded.shape == shape
            np.testing.assert_array_equal(decoded, mask)
            if mask.any():
                ys, xs = np.nonzero(mask)
                assert rle.box(mask) == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


def test_pycocotools_reads_the_encoding_as_the_same_mask_area_and_box():
    coco = pytest.importorskip("pycocotools.mask")  # in the test extra; COCO's own reader
    rng = np.random.default_rng(1)
    for shape in [(1, 1), (7, 5), (48, 64)]:
        mask = (rng.random(shape) < 0.3).astype(np.uint8)
        mask[0, 0] = 1  # a first run of 1s
        record = rle.record(mask)
        compressed = coco.frPyObjects(record["rle"], *record["rle"]["size"])
        np.testing.assert_array_equal(coco.decode(compressed), mask)
        assert coco.area(compressed) == record["area"]
        np.testing.assert_array_equal(coco.toBbox(compressed), record["box"])


def test_an_encoding_whose_counts_do_not_fill_the_size_is_refused():
    with pytest.raises(ValueError, match="an RLE of size 2x2 whose counts add up to 3, not 4"):
        rle.decode({"size": [2, 2], "counts": [1, 2]})
    with pytest.raises(ValueError, match=r"^an RLE with a negative count \(-1\)$"):  # (it said "add up to 4, not 4")
        rle.decode({"size": [2, 2], "counts": [5, -1]})
    with pytest.raises(ValueError, match=r"^a compressed RLE \(counts as a string"):
        rle.decode({"size": [3, 3], "counts": "52203"})
    with pytest.raises(ValueError, match=r"a mask of shape \(2, 2, 1\): expected \(H, W\)"):
        rle.encode(np.zeros((2, 2, 1)))
