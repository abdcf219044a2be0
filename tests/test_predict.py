"""acga_tf.apps.predict and `acga predict`: one mask per frame (docs/evaluation.md#protocol) from clips centred on it
(docs/data.md#clips)."""

import os

import numpy as np
import pytest
from PIL import Image
from runs import QUERY, moving_frames, write_video

from acga_tf.apps.predict import (
    OVERLAY_COLOR,
    PredictionResult,
    load_video,
    overlay_frames,
    predict,
    write_mask_frames,
    write_overlay,
)
from acga_tf.cli import main


def by_hand(trained, frames, query, centres):
    """σ(logits) (S, S) and the evaluated mask at the frame size for each centre, computed without
    acga_tf.apps.predict."""
    import tensorflow as tf

    from acga_tf.ops.geometry import preprocess_clip, unletterbox

    c = trained.config
    n, h, w = frames.shape[:3]
    clips = np.stack([frames[np.clip(i - c.clip_length // 2 + np.arange(c.clip_length), 0, n - 1)] for i in centres])
    words = np.repeat(np.asarray(trained.vectorizer()(tf.constant([query]))), len(centres), axis=0)
    video = np.asarray(preprocess_clip(clips, c.image_size))
    logits = trained.model({"video": video, "words": words})["logits"]
    prob = tf.sigmoid(logits).numpy()[..., 0]  # (b, S, S)
    peak = prob.max(axis=(1, 2), keepdims=True)
    binary = (prob >= 0.5 * peak).astype(np.uint8)
    masks = np.asarray(unletterbox(binary[..., None], h, w, method="nearest"))[..., 0]
    margin = np.abs(prob - 0.5 * peak)  # pixels this close to the threshold may flip with float round-off
    return prob, masks, np.asarray(unletterbox(margin[..., None], h, w, method="nearest"))[..., 0]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """An H.264 mp4 of 20 frames at 72×100 and a lossless FFV1 mkv of 13 frames at an odd 45×61 (H×W)."""
    d = tmp_path_factory.mktemp("videos")
    even = moving_frames(20, 72, 100, seed=1)
    odd = moving_frames(13, 45, 61, seed=2)
    return {"mp4": (write_video(d / "clip.mp4", even, "libx264", "yuv420p"), even),
            "mkv": (write_video(d / "odd.mkv", odd, "ffv1", "bgr0"), odd)}


@pytest.mark.parametrize("kind", ["mp4", "mkv"])
def test_cli_predict_writes_one_mask_per_frame_equal_to_the_model_on_centred_clips(kind, run_dir, trained, videos,
                                                                                     tmp_path, capsys):
    path, _ = videos[kind]
    decoded, fps = load_video(path)  # what the model sees (H.264 is lossy)
    n, h, w = decoded.shape[:3]
    out = tmp_path / "masks"
    code = main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(out),
                 "--output", str(tmp_path / "overlay.gif"), "--batch-size", "3", "--no-progress"])
    assert code == 0
    assert f"{n} frames ({w}x{h})" in capsys.readouterr().out
    pngs = sorted(os.listdir(out))
    assert pngs == [f"{i:05d}.png" for i in range(1, n + 1)]
    masks = np.stack([np.asarray(Image.open(out / p)) for p in pngs]) // 255
    assert masks.shape == (n, h, w)
    _, expected, margin = by_hand(trained, decoded, QUERY, range(n))
    sure = margin > 1e-4
    np.testing.assert_array_equal(masks[sure], expected[sure])
    assert 0 < masks.mean() < 1  # a real segmentation, not an all-on/all-off map
    with Image.open(tmp_path / "overlay.gif") as gif:
        assert (gif.n_frames, gif.size) == (n, (w, h))
        assert gif.info["duration"] == 80  # 12 fps: 83 ms, stored in centiseconds


def test_predict_matches_the_model_on_each_centred_clip_including_edges(trained, videos):
    frames = videos["mp4"][1]
    result = predict(trained, frames, QUERY, batch_size=4, fps=12)
    n, h, w = frames.shape[:3]
    assert isinstance(result, PredictionResult) and result.fps == 12
    assert result.masks.shape == (n, h, w) and result.masks.dtype == np.uint8
    assert result.probabilities.shape == (n, h, w) and result.probabilities.dtype == np.float32
    prob, expected, margin = by_hand(trained, frames, QUERY, range(n))
    sure = margin > 1e-4
    np.testing.assert_array_equal(result.masks[sure], expected[sure])
    # Probabilities at the frame size are the bilinear un-letterbox of σ: their maximum equals σ's over the frame.
    from acga_tf.ops.geometry import unletterbox

    np.testing.assert_allclose(result.probabilities, np.asarray(unletterbox(prob[..., None], h, w))[..., 0],
                               atol=1e-5)
    # The check can fail: frame 0's clip (frame 0 repeated, then 0..T/2-1) differs from the first T frames' clip.
    c = trained.config
    first_t_frames = by_hand(trained, frames, QUERY, [c.clip_length // 2])[0][0]
    assert np.abs(first_t_frames - prob[0]).max() > 1e-5


def test_each_frame_is_decoded_once_and_letterboxed_once(trained, videos, monkeypatch, tmp_path):
    from acga_tf.apps import predict as module

    path, _ = videos["mp4"]
    decodes, letterboxed = [], []
    real_read, real_pre = module.read_video_frames, module.preprocess_clip
    monkeypatch.setattr(module, "read_video_frames", lambda *a, **k: decodes.append(a) or real_read(*a, **k))
    monkeypatch.setattr(module, "preprocess_clip", lambda x, s: letterboxed.append(len(x)) or real_pre(x, s))
    assert main(["predict", "--model", trained.directory, "--video", path, "--query", QUERY,
                 "--output", str(tmp_path / "o.mp4"), "--no-progress"]) == 0
    assert len(decodes) == 1
    assert sum(letterboxed) == 20


def test_write_overlay_mp4_of_odd_sized_video_and_mask_pngs(tmp_path):
    frames = moving_frames(6, 45, 61)
    masks = np.zeros((6, 45, 61), np.uint8)
    masks[:, 10:20, 5:30] = 1
    result = PredictionResult(masks=masks, probabilities=masks.astype(np.float32), fps=8.0, query="x")
    path = write_overlay(result, frames, str(tmp_path / "sub" / "overlay.mp4"))
    back, fps = load_video(path)
    assert back.shape == (6, 46, 62, 3) and fps == 8.0  # yuv420p: last row/column repeated to even sizes
    blended = overlay_frames(frames, masks)
    on = masks.astype(bool)
    for region in (on, ~on):  # lossy H.264 with 4:2:0 chroma: compare region means, not noisy pixels
        np.testing.assert_allclose(back[:, :45, :61][region].mean(0), blended[region].mean(0), atol=8)
    assert blended[on][:, 0].mean() > frames[on][:, 0].mean() + 50  # the mask is tinted red
    np.testing.assert_array_equal(blended[:, 15, 10], np.rint(0.5 * frames[:, 15, 10] + 0.5 * np.array(OVERLAY_COLOR)))
    np.testing.assert_array_equal(blended[:, 0, 0], frames[:, 0, 0])  # outside the mask: unchanged
    paths = write_mask_frames(result, str(tmp_path / "pngs"))
    assert len(paths) == 6
    np.testing.assert_array_equal(np.asarray(Image.open(paths[2])), masks[2] * 255)
    with pytest.raises(ValueError, match=r"overlay\.avi.*unsupported overlay format '\.avi'"):
        write_overlay(result, frames, str(tmp_path / "overlay.avi"))
    with pytest.raises(ValueError, match=r"frames \(6, 45, 61, 3\) and masks \(5, 45, 61\)"):
        overlay_frames(frames, masks[:5])


def test_predict_rejects_bad_arrays_and_batch_sizes(trained):
    with pytest.raises(ValueError, match=r"video array has dtype float32 and shape \(2, 8, 8, 3\)"):
        predict(trained, np.zeros((2, 8, 8, 3), np.float32), QUERY)
    with pytest.raises(ValueError, match="batch_size=0"):
        predict(trained, np.zeros((2, 8, 8, 3), np.uint8), QUERY, batch_size=0)


@pytest.mark.parametrize("case", ["missing", "corrupt", "empty_query", "bad_output", "missing_model"])
def test_cli_predict_user_errors_are_one_line(case, run_dir, videos, tmp_path, capsys):
    video, query, model, output = videos["mp4"][0], QUERY, run_dir, str(tmp_path / "o.gif")
    expected = {"missing": "nope.mp4: video file not found", "corrupt": "broken.mp4: ",
                "empty_query": "query is empty", "bad_output": "unsupported overlay format '.png'",
                "missing_model": "model.keras: missing"}[case]
    if case == "missing":
        video = str(tmp_path / "nope.mp4")
    elif case == "corrupt":
        video = str(tmp_path / "broken.mp4")
        with open(video, "wb") as f:
            f.write(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    elif case == "empty_query":
        query = "  ?! "
    elif case == "bad_output":
        output = str(tmp_path / "o.png")
    else:
        model = str(tmp_path / "no_run")
        os.makedirs(model)
    code = main(["predict", "--model", model, "--video", video, "--query", query, "--output", output,
                 "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith("acga predict: error:"), err
    assert expected in err[0]
