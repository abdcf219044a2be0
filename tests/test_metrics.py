"""The loss (docs/training.md#loss) and the metrics (docs/evaluation.md#protocol) against hand-computed values."""

import keras
import numpy as np
import pytest

from acga_tf.apps.evaluate import evaluate_masks
from acga_tf.data.parse import letterbox
from acga_tf.models.losses import WeightedBCE
from acga_tf.models.metrics import ReferringIoU, summarize
from acga_tf.ops.threshold import binarize


def test_weighted_bce_matches_the_formula():
    x = np.array([[[[2.0], [-1.0]], [[0.5], [-3.0]]]], "float32")
    y = np.array([[[[1.0], [0.0]], [[1.0], [0.0]]]], "float32")
    s = 1 / (1 + np.exp(-x.astype(np.float64)))
    expected = np.mean(-(1.5 * y * np.log(s) + (1 - y) * np.log(1 - s)))
    assert float(WeightedBCE(1.5)(y, x)) == pytest.approx(expected, rel=1e-6)


def test_summary_matches_hand_computed_values():
    inter, union = np.array([9, 5, 0, 8]), np.array([10, 10, 4, 8])  # IoU 0.9, 0.5, 0, 1
    out = summarize(inter, union)
    assert out["overall_iou"] == pytest.approx(22 / 32)
    assert out["mean_iou"] == pytest.approx((0.9 + 0.5 + 0 + 1) / 4, abs=1e-6)
    assert out["P@0.5"] == 0.75 and out["P@0.9"] == 0.5 and out["P@0.8"] == 0.5
    # mAP over 0.50, 0.55, ..., 0.95: the 0.5 sample counts only at 0.5; 0.9 up to 0.9; 1.0 everywhere
    assert out["mAP@0.5:0.95"] == pytest.approx(np.mean([(1 + (k <= 0.9 + 1e-9) + (k <= 0.5)) / 4
                                                        for k in np.arange(0.5, 0.951, 0.05)]))


def test_relative_threshold_is_half_of_each_samples_maximum():
    p = np.array([[0.2, 0.1], [0.05, 0.09]])
    np.testing.assert_array_equal(binarize(p), [[True, True], [False, False]])
    # the backend's tensors of rank 2 and 3 alike (a JAX user's `(S, S)` array: "axis 2 is out of bounds")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(binarize(keras.ops.convert_to_tensor(p))),
                                  [[True, True], [False, False]])
    both = np.stack([p, p[::-1]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(binarize(keras.ops.convert_to_tensor(both))),
                                  binarize(both))


def test_a_map_without_a_positive_pixel_is_an_empty_mask():
    """An evaluation auditor's: σ of logits below about -87 is 0.0 in float32, and `>= 0.5 * 0` kept every pixel:
    a model sure of nothing gave a full-frame mask. Now empty, in the NumPy and the Keras paths and through the
    post-processing that predict and serving use."""
    from acga_tf.ops.postprocess import logits_outputs, mask_at_original_size

    zero = np.zeros((1, 4, 4, 1), "float32")
    assert not binarize(zero).any() and not np.asarray(binarize(keras.ops.convert_to_tensor(zero))).any()
    logits = np.full((1, 8, 8, 1), -200.0, "float32")
    for peak in ("letterbox", "frame"):
        outputs = logits_outputs(logits, 6, 8, peak=peak)
        assert not np.asarray(outputs["mask"]).any() and bool(outputs["empty"][0])
    # A metrics tester's: a map of 1e-40 (under float32's smallest normal) was full through NumPy and empty through
    # TensorFlow, whose CPU kernels flush it to 0 (σ of -88 is 0.0 there, of -87 1.6e-38): now empty in both
    subnormal = np.full((1, 4, 4, 1), 1e-40, "float32")
    for mask in (binarize(subnormal), binarize(keras.ops.convert_to_tensor(subnormal)), binarize(subnormal[0, ..., 0]),
                 mask_at_original_size(subnormal[0], 4, 4)):
        assert not np.asarray(mask).any()
    # a reviewer's: in float16 the bound rounds to 0, and a map of zeros was a full mask again
    assert not binarize(np.zeros((1, 4, 4, 1), np.float16)).any()
    tiny = np.full((1, 4, 4, 1), 1.2e-38, "float32")  # a normal number: thresholded as any map
    assert binarize(tiny).all() and np.asarray(binarize(keras.ops.convert_to_tensor(tiny))).all()
    half = np.array([[[[0.0], [0.3]], [[0.15], [0.1]]]], "float32")  # as before wherever the maximum is positive
    np.testing.assert_array_equal(np.asarray(binarize(keras.ops.convert_to_tensor(half)))[0, ..., 0],
                                  [[False, True], [True, False]])


def test_score_is_the_maximum_the_threshold_is_taken_from():
    """The score (docs/serving.md#scores): σ's maximum over the frame's own pixels for predict and serving, over
    the whole output for evaluation; a mask whatever the score (the threshold is relative)."""
    from acga_tf.ops.postprocess import probability_outputs

    probability = np.full((1, 8, 8, 1), 0.1, "float32")  # a 6 x 8 frame letterboxed into 8 x 8: rows 1 to 6
    probability[0, 0, 3] = 0.9  # in the padding
    probability[0, 4, 2] = 0.4  # the frame's highest
    frame = probability_outputs(probability, 6, 8, peak="frame", probabilities=False)
    letterbox = probability_outputs(probability, 6, 8, peak="letterbox", probabilities=False)
    assert np.asarray(frame["score"]).tolist() == pytest.approx([0.4])
    assert np.asarray(letterbox["score"]).tolist() == pytest.approx([0.9])
    assert np.asarray(frame["mask"]).sum() > 0 and not bool(frame["empty"][0])


@pytest.mark.parametrize("call, match", [
    (lambda: summarize([5], [3]), r"sample 0 has intersection 5 and union 3; expected 0 <= intersection <= union"),
    (lambda: summarize([1, -1], [3, 3]), r"sample 1 has intersection -1"),
    (lambda: summarize([1, 2], [3]), r"\(2,\) intersections and \(1,\) unions"),
    (lambda: summarize([1, 1.5], [3, 3.2]), r"^summarize: sample 1 has intersection 1.5 and union 3.2; expected whole "
                                            r"pixel counts \(binarise soft masks first\)$"),
    (lambda: evaluate_masks([np.zeros((8, 8))] * 3, [np.zeros((4, 8))] * 2),
     r"evaluate_masks: 3 probabilities and 2 truths: expected one of each a sample"),
    (lambda: evaluate_masks([np.zeros((8, 8))] * 2, [np.zeros((4, 8))] * 2, sample_ids=["a"]),
     r"2 probabilities and 2 truths, 1 sample_ids"),
    # a metrics auditor's logits passed for probabilities (all -3): an empty mask and IoU 1e-9, without a word
    (lambda: evaluate_masks([np.full((8, 8), 0.5), np.full((8, 8), -3.0)], [np.ones((4, 8))] * 2),
     r"^evaluate_masks: sample 1 has values from -3 to -3; expected probabilities in \[0, 1\], σ\(logits\): pass "
     r"keras\.ops\.sigmoid\(logits\), not the logits$"),
    (lambda: evaluate_masks([np.full((8, 8), np.nan)], [np.ones((4, 8))], sample_ids=["v/00001/0"]),
     r"^evaluate_masks: v/00001/0 has values from nan to nan"),
    # a metrics tester's: "cannot reshape array of size 256 into shape (1,1,16,1)", and TensorFlow's "height must be
    # >= target + offset"
    (lambda: evaluate_masks([np.zeros((1, 16, 16, 1))], [np.ones((4, 8))]),
     r"^evaluate_masks: sample 0's probabilities have the shape \(1, 16, 16, 1\); expected the model's square output, "
     r"\(S, S\) or \(S, S, 1\), one sample at a time$"),
    (lambda: evaluate_masks([np.zeros((16, 20))], [np.ones((4, 8))], sample_ids=["v/1/1"]),
     r"^evaluate_masks: v/1/1's probabilities have the shape \(16, 20\)"),
    (lambda: evaluate_masks([np.zeros((16, 16))], [np.ones((4, 8, 3))]),
     r"^evaluate_masks: sample 0's truth has the shape \(4, 8, 3\); expected the frame's \(H, W\) mask$"),
    # a reviewer's: TensorFlow's multi-line "Cannot compute the max of an empty tensor", and "unletterbox: height=0"
    (lambda: evaluate_masks([np.zeros((0, 0))], [np.ones((4, 8))]),
     r"^evaluate_masks: sample 0's probabilities have the shape \(0, 0\); expected the model's square output"),
    (lambda: evaluate_masks([np.zeros((16, 16))], [np.ones((0, 4))]),
     r"^evaluate_masks: sample 0's truth has the shape \(0, 4\), no pixel; expected the frame's \(H, W\) mask$"),
])
def test_impossible_counts_and_unpaired_samples_are_refused(call, match):
    """An evaluation auditor's: `evaluate_masks` with 3 predictions and 2 truths scored 2 samples (zip), and
    `summarize([5], [3])` an overall IoU of 1.667 (swapped columns read silently); logits for probabilities."""
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("height, width", [(48, 80), (80, 48), (64, 64)])
def test_evaluate_masks_inverts_the_letterbox_exactly(height, width):
    rng = np.random.default_rng(0)
    truth = np.zeros((height, width), np.uint8)
    truth[10:30, 5:40] = 1
    # a perfect prediction at S=128 (≥ the frame): letterboxed truth as probability 0.9 / background 0.1
    boxed = np.asarray(letterbox(truth[..., None], 128, method="nearest"))[..., 0]
    probability = np.where(boxed > 0, 0.9, 0.1) + rng.uniform(0, 0.01, boxed.shape)
    summary, ious = evaluate_masks([probability], [truth])
    assert ious[0] == pytest.approx(1.0) and summary["overall_iou"] == 1.0
    # half the object missed: IoU 0.5 at the original resolution
    wrong = truth.copy()
    wrong[10:30, 5:40] = 0
    wrong[10:30, 5:22] = 1
    _, ious = evaluate_masks([probability], [np.maximum(wrong, truth)])
    assert ious[0] == pytest.approx(1.0)
    # a truth as an image is read, (H, W, 1), is the same mask (a metrics tester's: it was refused)
    assert (evaluate_masks([probability], [truth[..., None]])[1].tolist()
            == evaluate_masks([probability], [truth])[1].tolist())


def test_keras_metric_agrees_with_numpy_summary_at_model_resolution():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((6, 16, 16, 1)).astype("float32")
    truth = (rng.uniform(size=(6, 16, 16, 1)) > 0.6).astype("float32")
    metric = ReferringIoU()
    metric.update_state(truth[:3], logits[:3])
    metric.update_state(truth[3:], logits[3:])  # accumulates across batches exactly
    pred = binarize(1 / (1 + np.exp(-logits)))
    inter = np.logical_and(pred, truth > 0).sum((1, 2, 3))
    union = np.logical_or(pred, truth > 0).sum((1, 2, 3))
    expected = summarize(inter, union)
    result = {k: float(v) for k, v in metric.result().items()}
    assert result["overall_iou"] == pytest.approx(expected["overall_iou"], rel=1e-6)
    assert result["mean_iou"] == pytest.approx(expected["mean_iou"], rel=1e-5)
    assert result["precision_at_0.5"] == pytest.approx(expected["P@0.5"])
    assert result["map"] == pytest.approx(expected["mAP@0.5:0.95"], rel=1e-6)
    metric.reset_state()
    assert float(metric.result()["mean_iou"]) == 0.0


@pytest.mark.parametrize("shape", [(6,), (6, 1), (6, 16, 16, 1)])
def test_the_keras_metric_weighs_samples_by_their_sample_weight(shape):
    # Before, `sample_weight` was ignored without a word: weights [1, 0, ...] scored every sample.
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 16, 16, 1)).astype("float32")
    truth = (rng.uniform(size=(6, 16, 16, 1)) > 0.6).astype("float32")
    logits[:2] = np.where(truth[:2] > 0, 5.0, -5.0)  # two perfect samples
    weight = np.array([1, 1, 0, 0, 0, 0], "float32").reshape((6,) + (1,) * (len(shape) - 1)) * np.ones(shape, "float32")
    weighted, alone = ReferringIoU(), ReferringIoU()
    weighted.update_state(truth, logits, sample_weight=weight)
    alone.update_state(truth[:2], logits[:2])
    assert {k: float(v) for k, v in weighted.result().items()} == {k: float(v) for k, v in alone.result().items()}
    assert float(weighted.result()["mean_iou"]) == pytest.approx(1.0)
    doubled = ReferringIoU()
    doubled.update_state(truth, logits, sample_weight=2 * np.ones(6, "float32"))
    plain = ReferringIoU()
    plain.update_state(truth, logits)
    assert float(doubled.result()["map"]) == pytest.approx(float(plain.result()["map"]))


def test_the_keras_metric_scores_nan_logits_nan_and_names_a_mistaken_target():
    """A models reviewer's: a sample with one NaN logit scored as an empty mask (plausible scores beside a NaN loss);
    a scalar `sample_weight` and a (B, S, S) target were TensorFlow's raw reshape and broadcast errors."""
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2, 8, 8, 1)).astype("float32")
    truth = np.ones((2, 8, 8, 1), "float32")
    logits[0, 3, 3, 0] = np.nan
    metric = ReferringIoU()
    metric.update_state(truth, logits)
    assert all(np.isnan(float(v)) for v in metric.result().values()), metric.result()
    unweighted, second = ReferringIoU(), ReferringIoU()  # the NaN sample weighted 0 adds nothing (it was NaN still)
    unweighted.update_state(truth, logits, sample_weight=np.array([0.0, 1.0], "float32"))
    second.update_state(truth[1:], logits[1:])
    assert {k: float(v) for k, v in unweighted.result().items()} == {k: float(v) for k, v in second.result().items()}
    scalar, plain = ReferringIoU(), ReferringIoU()
    scalar.update_state(truth[1:], logits[1:], sample_weight=2.0)
    plain.update_state(truth[1:], logits[1:])
    assert {k: float(v) for k, v in scalar.result().items()} == {k: float(v) for k, v in plain.result().items()}
    with pytest.raises(ValueError, match=r"^referring_iou: the target's shape \(2, 8, 8\) and the output's \(2, 8, 8, "
                                         r"1\) differ in rank: give targets as \(B, h, w, 1\) masks"):
        ReferringIoU().update_state(truth[..., 0], logits)
