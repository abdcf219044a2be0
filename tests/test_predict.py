"""acga_tf.apps.predict and `acga predict`: one mask per frame (docs/evaluation.md#protocol) from clips centred on it
(docs/data.md#clips)."""

import errno
import json
import logging
import os
import re
import shutil
import types
from unittest import mock

import av
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from runs import (
    QUERY,
    X264_GOP_8,
    count_decoded,
    dominant_frequency,
    moving_frames,
    read_sound,
    write_music_with_cover,
    write_video,
    write_video_with_tone,
)
from support import assert_one_line_error

import acga_tf
from acga_tf import cli
from acga_tf.apps.predict import (
    OVERLAY_COLOR,
    PredictionResult,
    VideoInfo,
    frames_to_segment,
    iter_masks,
    judge_queries,
    load_video,
    overlay_frames,
    predict,
    predict_to_files,
    quoted,
    video_info,
    write_mask_frames,
    write_overlay,
)
from acga_tf.apps.predictors import load_predictor
from acga_tf.cli import main
from acga_tf.data.types import DataError
from acga_tf.data.video import frame_times, iter_video_frames
from acga_tf.ops.exceptions import InputError, InputTypeError
from acga_tf.serving.client import rest_body
from acga_tf.training import artifacts


def by_hand(trained, frames, query, centres):
    """σ(logits) (S, S) and the evaluated mask at the frame size for each centre, computed without
    acga_tf.apps.predict."""
    import tensorflow as tf

    from acga_tf.ops.geometry import letterbox_geometry, preprocess_clip, unletterbox

    c = trained.config
    n, h, w = frames.shape[:3]
    clips = np.stack([frames[np.clip(i - c.clip_length // 2 + np.arange(c.clip_length), 0, n - 1)] for i in centres])
    words = np.repeat(np.asarray(trained.vectorizer()(tf.constant([query]))), len(centres), axis=0)
    video = np.asarray(preprocess_clip(clips, c.image_size))
    logits = trained.model({"video": video, "words": words})["logits"]
    prob = tf.sigmoid(logits).numpy()[..., 0]  # (b, S, S)
    nh, nw, top, left = (int(v) for v in letterbox_geometry(h, w, c.image_size))
    peak = prob[:, top:top + nh, left:left + nw].max(axis=(1, 2), keepdims=True)  # over the frame's own pixels
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
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
    # 12 fps: 83 ms a frame, in centiseconds 80 or 90 ms, so that the GIF lasts the video's n / 12 s (before: 80 ms
    # each, 4% fast)
    assert set(durations) == {80, 90} and sum(durations) == 10 * round(n / 12 * 100)


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
    from acga_tf.apps import predictors

    path, _ = videos["mp4"]
    decodes, letterboxed = [], []
    real_read, real_pre = module.iter_video_frames, predictors.preprocess_clip
    monkeypatch.setattr(module, "iter_video_frames", lambda *a, **k: decodes.append(a) or real_read(*a, **k))
    monkeypatch.setattr(predictors, "preprocess_clip", lambda x, s: letterboxed.append(len(x)) or real_pre(x, s))
    assert main(["predict", "--model", trained.directory, "--video", path, "--query", QUERY,
                 "--output", str(tmp_path / "o.mp4"), "--no-progress"]) == 0
    assert len(decodes) == 1
    assert sum(letterboxed) == 20


def test_a_phone_video_is_segmented_and_written_upright(run_dir, tmp_path, capsys):
    # A portrait phone video: landscape frames and a display matrix that turns them a quarter clockwise. Its masks
    # and overlay are those of the same frames stored upright, not of the frames lying on their side.
    upright = moving_frames(9, 40, 24, seed=5)  # portrait, H x W = 40 x 24
    lying = np.rot90(upright, 1, axes=(1, 2))  # stored as phones store it: 24 x 40
    runs = {}
    for name, frames, display in (("upright", upright, None), ("phone", lying, (-90, False, False))):
        path = write_video(tmp_path / f"{name}.mkv", frames, "ffv1", "bgr0", display=display)
        out = tmp_path / name
        assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(out / "m"),
                     "--output", str(out / "o.mp4"), "--no-progress"]) == 0
        assert "9 frames (24x40)" in capsys.readouterr().out
        runs[name] = np.stack([np.asarray(Image.open(out / "m" / f"{i:05d}.png")) for i in range(1, 10)])
        assert load_video(str(out / "o.mp4"))[0].shape == (9, 40, 24, 3)
    assert runs["phone"].shape == (9, 40, 24)
    np.testing.assert_array_equal(runs["phone"], runs["upright"])


def test_a_truncated_download_is_segmented_up_to_where_it_ends(run_dir, tmp_path, capsys, caplog):
    # Players show such a file up to the cut; so does predict, with a warning (docs/data.md#videos). A long-video
    # tester's cut file (its index at the front, the cut between packets) gave 26 of 750 frames without a word.
    full = write_video(tmp_path / "full.mp4", moving_frames(30, 48, 64, seed=6), "libx264", "yuv420p",
                       options={"movflags": "faststart"})
    data = open(full, "rb").read()
    cut = tmp_path / "download.mp4"
    cut.write_bytes(data[:len(data) * 3 // 5])
    held = len(list(iter_video_frames(str(cut), damaged="skip")))
    assert main(["predict", "--model", run_dir, "--video", str(cut), "--query", QUERY, "--frames-dir",
                 str(tmp_path / "m"), "--no-progress"]) == 0
    assert f"{held} frames (64x48)" in capsys.readouterr().out
    assert len(os.listdir(tmp_path / "m")) == held
    assert held < 27 and any("of the 30 its container declares" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
    # cut where a packet ends: no packet is damaged, the file just ends
    with av.open(str(full)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size]
    cut.write_bytes(data[:packets[11].pos + packets[11].size])
    caplog.clear()
    held = len(list(iter_video_frames(str(cut), damaged="skip")))
    assert 0 < held < 27 and [r.getMessage() for r in caplog.records] == [
        f"{cut}: the file ends at frame {held} of the 30 its container declares (cut short?): segmented up to where "
        "it ends"]


def _phone_video(tmp_path):
    """A variable frame rate, as phones record: 10 frames 1/30 s apart, then 6 frames 1/10 s apart (0 to 0.3 s, then
    0.4 to 0.9 s). Returns (path, the frames' times in 1/90 s)."""
    import fractions

    import av
    from runs import encode_frames

    frames = moving_frames(16, 32, 48, seed=8)
    ticks = [3 * k for k in range(10)] + [27 + 9 * k for k in range(1, 7)]  # in 1/90 s
    path = str(tmp_path / "phone.mp4")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.codec_context.time_base = fractions.Fraction(1, 90)
        encode_frames(container, stream, frames, ticks)
    return path, ticks


def test_a_part_of_a_variable_frame_rate_video_is_the_frames_shown_then(run_dir, tmp_path, capsys):
    # --start/--end counted frame i at i / (average rate, 17.8 fps here): 0.35 s to 0.75 s picked frames 7 to 13,
    # shown from 0.2 s, and printed times no frame has. Now the frames shown in [0.35, 0.75): 0.4, 0.5, 0.6, 0.7 s.
    path, ticks = _phone_video(tmp_path)
    assert frame_times(path) == pytest.approx([t / 90 for t in ticks])
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--start", "0.35", "--end",
                 "0.75", "--frames-dir", str(tmp_path / "part"), "--no-progress"]) == 0
    assert "4 frames (48x32), frames 11 to 14 of the video (0.40 s to 0.80 s)" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "part")) == [f"{k:05d}.png" for k in range(11, 15)]
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir",
                 str(tmp_path / "whole"), "--no-progress"]) == 0
    for k in range(11, 15):  # each mask is the whole video's
        name = f"{k:05d}.png"
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "part" / name)),
                                      np.asarray(Image.open(tmp_path / "whole" / name)))
    assert frames_to_segment(path, 0.35, 0.75) == 4
    # a start past the end: no frame number from the average rate (a phone tester's read "is frame 15" of 8 frames)
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--start", "5", "--frames-dir",
                 str(tmp_path / "none"), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (f"acga predict: error: {path}: --start 5.0 is past the video's end (16 "
                                               "frames, the last shown from 0.90 s)")


def test_a_part_that_ends_before_a_pause_says_the_end_asked_for(run_dir, tmp_path, capsys):
    """A traffic-camera tester's: `--end 6` before a 5-second pause printed "5.52 s to 11.00 s", the time the frame
    after the pause is shown. The last frame lasts as long as the one before it did (0.75 + 1/12 s)."""
    from runs import encode_frames

    path = str(tmp_path / "paused.mkv")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        encode_frames(container, stream, moving_frames(16, 32, 48, seed=9), [*range(10), *range(70, 76)])
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--start", "0.5", "--end", "0.8",
                 "--frames-dir", str(tmp_path / "part"), "--no-progress"]) == 0
    assert "4 frames (48x32), frames 7 to 10 of the video (0.50 s to 0.83 s)" in capsys.readouterr().out
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--start", "0.7", "--end", "0.8",
                 "--frames-dir", str(tmp_path / "one"), "--no-progress"]) == 0  # one frame (a reviewer's: 5.83 s)
    assert "1 frame (48x32), frames 10 to 10 of the video (0.75 s to 0.83 s)" in capsys.readouterr().out


def test_a_linked_sentence_folder_in_frames_dir_is_refused_its_target_untouched(run_dir, videos, tmp_path, capsys):
    """A security reviewer's: `--frames-dir out` holding `1 -> precious/` (a folder of PNG-named files) with two
    sentences: the target's PNGs were removed as an earlier run's masks, then "[Errno 20] Not a directory"."""
    path, _ = videos["mp4"]
    precious, out = tmp_path / "precious", tmp_path / "out"
    precious.mkdir()
    (precious / "00001.png").write_text("x")
    out.mkdir()
    os.symlink(precious, out / "1")
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--query", "a blue square",
                 "--frames-dir", str(out), "--end", "0.2", "--no-progress"]) == 2
    assert f"{out}: holds files predict did not write (1)" in capsys.readouterr().err
    assert os.listdir(precious) == ["00001.png"] and (out / "1").is_symlink()


def test_an_overlay_through_a_link_is_written_where_it_leads_and_a_pipe_is_refused(run_dir, videos, tmp_path,
                                                                                   capsys):
    """A Unix user's: `--output www/latest.mp4`, a link to a release's file, replaced the link with the new file,
    the release's file unchanged; a FIFO as --output was replaced by a file."""
    path, _ = videos["mp4"]
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "clip.mp4").write_text("old")
    os.symlink("release/clip.mp4", tmp_path / "latest.mp4")
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--output",
                 str(tmp_path / "latest.mp4"), "--end", "0.2", "--no-progress"]) == 0
    assert f"-> {tmp_path / 'latest.mp4'}" in capsys.readouterr().out
    assert (tmp_path / "latest.mp4").is_symlink()
    assert len(list(iter_video_frames(str(tmp_path / "release" / "clip.mp4")))) == 3
    assert sorted(os.listdir(tmp_path / "release")) == ["clip.mp4"]
    os.mkfifo(tmp_path / "out.mp4")
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--output",
                 str(tmp_path / "out.mp4"), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (f"acga predict: error: {tmp_path / 'out.mp4'}: is a pipe or a device; "
                                               "--output names the overlay file to write (FILE.mp4 or FILE.gif), "
                                               "which is finished by seeking back in it")


@pytest.mark.parametrize("error", [
    MemoryError("Unable to allocate 1.05 GiB for an array with shape (5760, 128, 128, 3) and data type float32"),
    tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[720,128,128,32] and type "
                                                 "bfloat16 on /job:localhost/replica:0/task:0/device:CPU:0 by "
                                                 "allocator mklcpu\n\t [[{{node conv_transpose}}]]"),
], ids=["numpy", "tensorflow"])
def test_running_out_of_memory_is_one_line_naming_the_batch_size(tmp_path, monkeypatch, capsys, error):
    """A performance tester's `--batch-size 1024` under a memory limit: NumPy's MemoryError was a Python traceback
    (status 1), TensorFlow's OOM a line that did not say what to change."""
    def out_of_memory(*args, **kwargs):
        raise error

    monkeypatch.setattr(cli, "predict_to_files", out_of_memory)
    assert main(["predict", "--model", str(tmp_path / "run"), "--video", "v.mp4", "--query", QUERY,
                 "--frames-dir", str(tmp_path / "m"), "--batch-size", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acga predict: error: out of memory at --batch-size 1024 (a smaller one needs less): ")
    assert len(err.strip().splitlines()) == 1, err


def test_predict_without_an_output_says_nothing_is_written(run_dir, videos, caplog, capsys):
    """A CLI reviewer's: without --output or --frames-dir every frame was segmented and nothing written, status 0,
    without a word; a phone-app tester's: the warning came once the whole video was segmented. It comes with the
    first frame, once: the inputs were good (a missing video's error stays the only line)."""
    path, _ = videos["mp4"]
    seen = []

    def segmenting(*args, progress, **kwargs):  # what was logged after each frame
        def counted(frames):
            progress(frames)
            seen.append(caplog.text.count("nothing written"))
        return predict_to_files(*args, progress=counted, **kwargs)

    with caplog.at_level("WARNING"), mock.patch.object(cli, "predict_to_files", segmenting):
        assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--end", "0.2",
                     "--no-progress"]) == 0
    assert ("no --output, --frames-dir or --output-json: the masks will only be summed up below, nothing written"
            in caplog.text)
    assert seen == [1, 1, 1]  # from the first of the 3 frames on, said once
    assert capsys.readouterr().out.startswith("3 frames")


def test_a_pipe_given_as_the_video_is_refused_at_once(tmp_path):
    """A Unix user's: a FIFO as --video was read whole for its length, then opened again for its frames, waiting for
    a writer that had gone, for ever (and "video file not found" when stopped); a pipe as /dev/stdin and `-` were
    "video file not found"."""
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)
    pipe = ("a pipe or a device, not a video file: a video is read more than once and seeked in; save the stream to a "
            "file first (`cat > clip.mp4`)")
    with pytest.raises(DataError, match=re.escape(f"{fifo}: {pipe}")):
        next(iter_video_frames(str(fifo)))
    assert frame_times(str(fifo)) is None and video_info(str(fifo)) == VideoInfo()  # not opened: no writer waited for
    with pytest.raises(DataError, match="standard input is not read as a video"):
        next(iter_video_frames("-"))


def test_frames_that_change_size_are_named_by_their_number_from_1(tmp_path):
    """A phone tester's screen recording turned mid-way: "at frame 12" named the 13th frame, whose mask file would be
    `00013.png` (frames are counted from 1 in every other message and file name)."""
    first = write_video(tmp_path / "a.h264", moving_frames(5, 32, 48, seed=1), "libx264", "yuv420p")
    second = write_video(tmp_path / "b.h264", moving_frames(4, 48, 32, seed=2), "libx264", "yuv420p")
    joined = tmp_path / "turned.h264"
    joined.write_bytes(open(first, "rb").read() + open(second, "rb").read())
    with pytest.raises(DataError, match=r"frames of different sizes: 48x32 then 32x48 \(width x height, as stored\) "
                                        r"at frame 6$"):
        list(iter_video_frames(str(joined)))


def test_a_variable_frame_rate_keeps_its_timing_in_the_overlay(run_dir, tmp_path, capsys):
    # As phones record: 10 frames 1/30 s apart, then 6 frames 1/10 s apart. The overlay was written at the average
    # rate, so its first part played slower and its second faster than the video.
    import av

    path, ticks = _phone_video(tmp_path)

    def times(video):
        with av.open(video) as container:
            return [float(f.time) for f in container.decode(video=0)]

    source = times(path)
    np.testing.assert_allclose(source, np.array(ticks) / 90)
    for name in ("o.mp4", "o.gif"):
        assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--output",
                     str(tmp_path / name), "--no-progress"]) == 0
    np.testing.assert_allclose(times(str(tmp_path / "o.mp4")), source, atol=1 / 60000)
    with Image.open(tmp_path / "o.gif") as gif:
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
    # GIF counts centiseconds: each frame starts at its time rounded to them (1/30 s apart: 30, 40, 30 ms, ...), so
    # the rounding does not add up; before, every 1/30 s frame lasted 30 ms and the first part played 11% fast.
    starts = np.cumsum([0] + durations[:-1]) / 1000
    np.testing.assert_allclose(starts, np.array(source) - source[0], atol=0.005)
    assert durations[10:15] == [100] * 5  # 1/10 s apart
    capsys.readouterr()


def test_streams_joined_end_to_end_play_on_in_the_overlay_and_the_json(run_dir, tmp_path, capsys, caplog):
    """`cat a.ts b.ts`: the second stream's times start again. Before: the overlay showed its 8 frames within 1 ms
    after the first stream's (each one tick after the last), the JSON's times went back to 0, and `--start 1`
    picked frames by both streams' times sorted together."""
    import av
    from test_video import _joined_streams

    path, _ = _joined_streams(tmp_path, n=8, fps=12)
    overlay, document = tmp_path / "o.mp4", tmp_path / "masks.json"
    with caplog.at_level("WARNING"):
        assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--output", str(overlay),
                     "--output-json", str(document), "--frames-dir", str(tmp_path / "whole"), "--no-progress"]) == 0
    assert "sound" not in caplog.text  # (it has none: a reviewer's "the sound is left out" for a silent video)
    with av.open(str(overlay)) as container:
        shown = [float(f.time) for f in container.decode(video=0)]
    expected = [k / 12 for k in range(16)]
    np.testing.assert_allclose(np.array(shown) - shown[0], expected, atol=1 / 60000)
    assert [f["time"] for f in json.loads(document.read_text())["frames"]] == pytest.approx(expected, abs=1e-6)
    capsys.readouterr()
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--start", "1", "--frames-dir",
                 str(tmp_path / "part"), "--no-progress"]) == 0
    assert "frames 13 to 16 of the video (1.00 s to 1.33 s)" in capsys.readouterr().out
    for k in range(13, 17):  # each mask is the whole video's
        name = f"{k:05d}.png"
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "part" / name)),
                                      np.asarray(Image.open(tmp_path / "whole" / name)))


def test_the_sound_of_streams_joined_end_to_end_is_left_out_of_the_overlay_with_a_warning(run_dir, tmp_path,
                                                                                            caplog):
    """The overlay had the first stream's sound alone (2 s of a 4 s video): the sound's times start again too."""
    from runs import write_video_with_tone

    parts = [write_video_with_tone(tmp_path / f"part{k}.ts", moving_frames(12, 32, 48, seed=k)) for k in range(2)]
    joined = tmp_path / "joined.ts"
    with open(joined, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                out.write(f.read())
    overlay = tmp_path / "o.mp4"
    with caplog.at_level("WARNING"):
        assert main(["predict", "--model", run_dir, "--video", str(joined), "--query", QUERY, "--output",
                     str(overlay), "--no-progress"]) == 0
    with av.open(str(overlay)) as container:
        assert not container.streams.audio and container.streams.video[0].frames == 24
    assert (f"{overlay}: the sound is left out: the video's times start again at frame 13 (streams joined end to "
            "end), and its sound would not follow the frames") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):  # one stream: its sound, as before
        assert main(["predict", "--model", run_dir, "--video", parts[0], "--query", QUERY, "--output",
                     str(overlay), "--no-progress"]) == 0
    with av.open(str(overlay)) as container:
        assert container.streams.audio
    assert "sound is left out" not in caplog.text


def test_an_anamorphic_videos_overlay_keeps_its_pixel_aspect(run_dir, tmp_path):
    # 720 x 480 shown 16:9 (DVD's 32:27 pixels), here 72 x 48: the overlay used to have square pixels and played
    # narrower than the video. The masks stay at the stored size, as `ffmpeg -i video frame.png` writes the frames.
    import fractions

    from acga_tf.apps.predict import video_info

    path = write_video(tmp_path / "dvd.mp4", moving_frames(6, 48, 72, seed=9), "libx264", "yuv420p",
                       sample_aspect=fractions.Fraction(32, 27))
    assert video_info(path).sample_aspect == fractions.Fraction(32, 27)
    assert video_info(write_video(tmp_path / "square.mp4", moving_frames(2, 48, 72), "libx264",
                                  "yuv420p")).sample_aspect is None
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--output",
                 str(tmp_path / "o.mp4"), "--frames-dir", str(tmp_path / "m"), "--no-progress"]) == 0
    assert video_info(str(tmp_path / "o.mp4")).sample_aspect == fractions.Fraction(32, 27)
    assert np.asarray(Image.open(tmp_path / "m" / "00001.png")).shape == (48, 72)
    written = write_overlay(predict(run_dir, path, QUERY), path, str(tmp_path / "w.mp4"))  # the Python API's
    assert video_info(written).sample_aspect == fractions.Fraction(32, 27)


@pytest.mark.parametrize("argv, said", [
    (["--output", "o.gif"], "none with a .gif overlay"),
    (["--output", "o.png"], "none with a .png overlay"),
    (["--output-json", "m.json"], "no overlay is written (no --output)"),
    (["--output", "o.mp4"], None),
    (["--output", "o.MP4"], None),
    (["--output", "o"], None),  # (a format refused: said there alone)
    (["--list", "l.csv", "--output-dir", "out", "--overlays", "gif"], "none with a .gif overlay"),
    (["--list", "l.csv", "--output-dir", "out"], "no overlay is written (no --overlays)"),
    (["--list", "l.csv", "--output-dir", "out", "--overlays", "mp4"], None),
])
def test_no_audio_where_no_mp4_is_written_is_said_to_be_passed_over(run_dir, tmp_path, caplog, argv, said):
    """A reviewer's: `--no-audio` with a GIF overlay (or none) was taken without a word. Said of a command that runs
    (the next test: a refused one says its refusal alone)."""
    Image.fromarray(moving_frames(1, 40, 56, seed=5)[0]).save(tmp_path / "photo.jpg", quality=95)
    (tmp_path / "l.csv").write_text(f"video,query\nphoto.jpg,{QUERY}\n")
    single = [] if "--list" in argv else ["--video", str(tmp_path / "photo.jpg"), "--query", QUERY]
    with caplog.at_level("WARNING"):
        assert main(["predict", "--model", run_dir, "--no-audio", "--no-progress", *single,
                     *[str(tmp_path / a) if a.endswith((".mp4", ".MP4", ".gif", ".png", ".json", ".csv", "out"))
                       or a == "o" else a for a in argv]]) == (2 if argv[-1] == "o" else 0)
    assert (f"--no-audio: only an MP4 overlay has sound; {said}" in caplog.text) if said else \
        "--no-audio" not in caplog.text, caplog.text


def test_no_audio_beside_a_refused_output_says_the_refusal_alone(run_dir, tmp_path, capsys, caplog):
    """A reviewer's: `--no-audio` beside a PNG overlay of many frames warned "only an MP4 overlay has sound" before
    the refusal of that PNG: the command is checked first, and one refused says that alone."""
    video = write_video(tmp_path / "clip.mkv", moving_frames(6, 40, 56, seed=5), "ffv1", "bgr0")
    with caplog.at_level("WARNING"):
        assert main(["predict", "--model", run_dir, "--video", video, "--query", QUERY, "--output",
                     str(tmp_path / "all.png"), "--no-audio", "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"acga predict: error: {tmp_path / 'all.png'}: a PNG overlay holds one frame; "
                                       "6 frames are to be segmented: give --start and --end around one, or write an "
                                       ".mp4 or .gif\n")
    assert "--no-audio" not in caplog.text, caplog.text
    # a list refused (its file missing) says that alone too
    with caplog.at_level("WARNING"):
        assert main(["predict", "--model", run_dir, "--list", str(tmp_path / "none.csv"), "--output-dir",
                     str(tmp_path / "out"), "--overlays", "gif", "--no-audio"]) == 2
    assert "--no-audio" not in caplog.text and "none.csv" in capsys.readouterr().err, caplog.text


@pytest.mark.parametrize("refused", ["model", "output-dir"])
def test_no_audio_beside_a_list_refused_as_a_whole_says_the_refusal_alone(run_dir, tmp_path, capsys, caplog, refused):
    """`--list --no-audio` warned "only an MP4 overlay has sound" before the list was refused as a whole (its model
    not a model, its --output-dir a file): said once nothing can refuse the whole list, as one video's is."""
    Image.fromarray(moving_frames(1, 40, 56, seed=5)[0]).save(tmp_path / "photo.jpg", quality=95)
    (tmp_path / "l.csv").write_text(f"video,query\nphoto.jpg,{QUERY}\n")
    (tmp_path / "not_a_folder").write_text("a file")
    model, out = (str(tmp_path / "l.csv"), tmp_path / "out") if refused == "model" else \
        (run_dir, tmp_path / "not_a_folder")
    with caplog.at_level("WARNING"):
        assert main(["predict", "--model", model, "--list", str(tmp_path / "l.csv"), "--output-dir", str(out),
                     "--overlays", "gif", "--no-audio", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("acga predict: error: ") and err.count("\n") == 1, err
    assert "--no-audio" not in caplog.text and "--no-audio" not in err, caplog.text


def test_an_mp4_overlay_keeps_the_videos_sound_for_the_frames_segmented(run_dir, tmp_path, caplog, monkeypatch):
    """An overlay was the picture alone: a user reviewing a segmented interview or match heard nothing. Now an MP4
    overlay has the video's sound (as AAC) for the frames it shows, from the same instant: the whole video's, or a
    part's (`--start`/`--end`); `--no-audio` leaves it out; a video without sound, or a GIF, is as before."""
    from acga_tf.apps import predict as module

    video = write_video_with_tone(tmp_path / "talk.mp4", moving_frames(36, 48, 64, seed=2))  # 3 s: 440 Hz, then 880
    out = str(tmp_path / "o.mp4")
    assert main(["predict", "--model", run_dir, "--video", video, "--query", QUERY, "--output", out,
                 "--no-progress"]) == 0
    samples, rate, codec, channels = read_sound(out)
    assert (codec, channels, rate) == ("aac", 2, 48000) and abs(len(samples) / rate - 3.0) < 0.05
    assert dominant_frequency(samples, rate, 0.2, 1.3) == 440 and dominant_frequency(samples, rate, 1.7, 2.8) == 880
    assert len(list(iter_video_frames(out))) == 36
    # a part: 1.0 s to 2.0 s, whose sound turns from 440 to 880 Hz half-way, at the overlay's 0.5 s
    assert main(["predict", "--model", run_dir, "--video", video, "--query", QUERY, "--output", out, "--start", "1",
                 "--end", "2", "--no-progress"]) == 0
    samples, rate, _, _ = read_sound(out)
    assert abs(len(samples) / rate - 1.0) < 0.05 and len(list(iter_video_frames(out))) == 12
    assert dominant_frequency(samples, rate, 0.1, 0.45) == 440 and dominant_frequency(samples, rate, 0.55, 0.9) == 880
    assert main(["predict", "--model", run_dir, "--video", video, "--query", QUERY, "--output", out, "--no-audio",
                 "--no-progress"]) == 0
    assert read_sound(out) is None
    write_overlay(predict(run_dir, video, QUERY), video, out)  # the Python API's overlay: the same sound
    samples, rate, _, _ = read_sound(out)
    assert abs(len(samples) / rate - 3.0) < 0.05 and dominant_frequency(samples, rate, 1.7, 2.8) == 880
    # PCM sound in a .mov (a camera's), mono: AAC mono in the overlay
    mov = write_video_with_tone(tmp_path / "cam.mov", moving_frames(24, 48, 64), codec="pcm_s16le", layout="mono",
                                rate=44100, fmt="s16")
    predict_to_files(run_dir, mov, [QUERY], output=out)
    samples, rate, codec, channels = read_sound(out)
    assert (codec, channels, rate) == ("aac", 1, 44100) and dominant_frequency(samples, rate, 0.2, 0.8) == 440
    # no sound, a GIF: the picture alone, nothing said
    silent = write_video(tmp_path / "silent.mp4", moving_frames(12, 48, 64), "libx264", "yuv420p")
    with caplog.at_level("WARNING"):
        predict_to_files(run_dir, silent, [QUERY], output=out)
        predict_to_files(run_dir, video, [QUERY], output=str(tmp_path / "o.gif"))
    assert read_sound(out) is None and "sound" not in caplog.text
    # sound FFmpeg cannot decode or encode: the overlay is written without it, with a warning
    def damaged(*args):
        raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(module, "add_audio", damaged)
    with caplog.at_level("WARNING"):
        predict_to_files(run_dir, video, [QUERY], output=out)
    assert read_sound(out) is None and len(list(iter_video_frames(out))) == 36
    assert "o.mp4: written without the video's sound, which could not be copied" in caplog.text
    assert sorted(os.listdir(tmp_path)) == ["cam.mov", "o.gif", "o.mp4", "silent.mp4", "talk.mp4"]


def test_an_overlays_sound_stays_in_step_across_a_gap_and_damage(run_dir, tmp_path, caplog):
    """A tester's findings: sound with a gap in its times (a recorder that dropped a second) was closed up, so all
    after it played a second early; one damaged AAC packet, or a stream FFmpeg has no decoder for, lost the whole
    sound (the latter without a word). Now a gap is silence, a damaged packet is skipped (silent there, logged), and
    an undecodable stream is named in a warning."""
    frames = moving_frames(48, 48, 64, seed=1)  # 4 s: 440 Hz until 2 s, then 880 Hz; nothing stored 1 to 2 s
    video = write_video_with_tone(tmp_path / "gap.mp4", frames, gap=(1.0, 2.0))
    out = str(tmp_path / "o.mp4")
    predict_to_files(run_dir, video, [QUERY], output=out)
    samples, rate, _, _ = read_sound(out)
    assert abs(len(samples) / rate - 4.0) < 0.05  # before: 3 s under a 4 s picture
    assert np.abs(samples[round(1.1 * rate):round(1.9 * rate)]).max() < 1e-3  # the gap: silence
    assert dominant_frequency(samples, rate, 0.2, 0.9) == 440 and dominant_frequency(samples, rate, 2.2, 3.8) == 880
    # one damaged packet in the middle: the rest of the sound is kept, in step
    video = write_video_with_tone(tmp_path / "damaged.mp4", frames)
    with av.open(video) as container:
        packet = [p for p in container.demux(container.streams.audio[0]) if p.size][90]  # at about 1.9 s
        position, size = packet.pos, packet.size
    with open(video, "r+b") as f:
        f.seek(position)
        f.write(bytes(size))  # zeros: not an AAC frame
    with caplog.at_level("WARNING"):
        predict_to_files(run_dir, video, [QUERY], output=out)
    samples, rate, _, _ = read_sound(out)
    assert abs(len(samples) / rate - 4.0) < 0.05, len(samples) / rate  # before: no sound at all
    assert dominant_frequency(samples, rate, 0.2, 1.5) == 440 and dominant_frequency(samples, rate, 2.3, 3.8) == 880
    assert "damaged.mp4: 1 damaged audio packet(s) skipped" in caplog.text


def test_a_phone_videos_quarter_turn_turns_its_pixel_aspect_too(run_dir, tmp_path, monkeypatch):
    """A reviewer's 64 x 32 video of 2:1 pixels turned a quarter by its display matrix: players show it 32 wide and
    128 high; the model saw its upright 32 x 64 frames stretched to 64 x 64 (the stored aspect, along the wrong
    side). The aspect as shown is the stored one inverted: the upright frames are narrowed to 16 x 64."""
    import fractions

    from acga_tf.apps.predict import video_info
    from acga_tf.data.video import quarter_turned

    path = write_video(tmp_path / "phone.mp4", moving_frames(4, 32, 64, seed=2), "libx264", "yuv420p",
                       display=(90, False, False), sample_aspect=fractions.Fraction(2, 1))
    assert video_info(path).sample_aspect == fractions.Fraction(1, 2)
    assert quarter_turned(path) and not quarter_turned(str(tmp_path / "nope.mp4"))  # (a missing file: no frame)
    predictor = load_predictor(run_dir)
    seen = []
    prepare_many = predictor.prepare_many
    monkeypatch.setattr(predictor, "prepare_many", lambda frames: seen.extend(f.shape for f in frames) or
                        prepare_many(frames))
    result = predict(predictor, path, QUERY, batch_size=4)
    assert set(seen) == {(64, 16, 3)} and result.masks.shape == (4, 64, 32)  # shown; masks at the upright stored size


@pytest.mark.parametrize("kind", ["run", "saved_model"])
def test_an_anamorphic_video_is_segmented_as_players_show_it(kind, run_dir, exported_run, tmp_path, monkeypatch):
    # HDV's 1440 x 1080 shown 1920 x 1080 (4:3 pixels), here 48 x 60 shown 48 x 80: the model used to see the
    # people a quarter narrower than players show them. It now sees square pixels; the masks keep the stored size.
    import fractions

    path = write_video(tmp_path / "hdv.mp4", moving_frames(7, 48, 60, seed=4), "libx264", "yuv420p",
                       sample_aspect=fractions.Fraction(4, 3))
    stored, _ = load_video(path)  # as decoded
    predictor = load_predictor(exported_run if kind == "saved_model" else run_dir)
    seen = []
    prepare_many = predictor.prepare_many
    monkeypatch.setattr(predictor, "prepare_many", lambda frames: seen.extend(f.shape for f in frames) or
                        prepare_many(frames))
    result = predict(predictor, path, QUERY, batch_size=3)
    assert set(seen) == {(48, 80, 3)}  # the model's input: frames as players show them
    assert result.masks.shape == result.probabilities.shape == (7, 48, 60)  # the stored size, as ffmpeg writes frames
    # The same frames given as square pixels (PIL's resize, as the file's are), their masks taken at every stored
    # column's centre: 0.5, 1.5, ... stored columns are 0.667, 2.0, ... display columns.
    square = np.stack([np.asarray(Image.fromarray(f).resize((80, 48), Image.Resampling.BILINEAR)) for f in stored])
    wide = predict(predictor, square, QUERY, batch_size=3)
    np.testing.assert_array_equal(result.masks, wide.masks[..., ((np.arange(60) + 0.5) * 80 / 60).astype(int)])
    centres = (np.arange(60) + 0.5) * 80 / 60 - 0.5  # probabilities: linear between display columns
    np.testing.assert_allclose(result.probabilities, np.apply_along_axis(
        lambda row: np.interp(centres, np.arange(80), row), -1, wide.probabilities), atol=1e-6)
    assert 0 < result.masks.mean() < 1
    # An array of the stored frames with their pixel aspect given gives the file's masks.
    given = predict(predictor, stored, QUERY, batch_size=3, sample_aspect=fractions.Fraction(4, 3))
    np.testing.assert_array_equal(given.masks, result.masks)
    np.testing.assert_allclose(given.probabilities, result.probabilities, atol=1e-6)
    assert not np.array_equal(predict(predictor, stored, QUERY, batch_size=3).masks, result.masks)
    with pytest.raises(ValueError, match=r"sample_aspect=-4/3: the pixels' width over their height, must be > 0"):
        predict(predictor, stored, QUERY, sample_aspect=fractions.Fraction(-4, 3))


def test_write_overlay_mp4_of_odd_sized_video_and_mask_pngs(tmp_path):
    frames = moving_frames(6, 45, 61)
    masks = np.zeros((6, 45, 61), np.uint8)
    masks[:, 10:20, 5:30] = 1
    result = PredictionResult(masks=masks, probabilities=masks.astype(np.float32), fps=8.0, query="x")
    assert repr(result) == "PredictionResult(query='x', 6 frames of 61x45, fps=8, 6 with a mask)"  # not the arrays
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


def test_write_overlay_takes_the_list_predict_gives_names_colours_and_refuses_what_it_cannot_draw(tmp_path):
    """A Python-API tester's: `write_overlay(predict(..., queries=[a, b]), ...)` was "'list' object has no attribute
    'masks'"; `color="red"` "could not convert string to float: 'r'"; `alpha=1.5` was taken."""
    from acga_tf.apps.predict import OVERLAY_ALPHA, legend, overlay_color, overlay_frame, overlay_rgb

    frames = moving_frames(3, 40, 48, seed=5)
    masks = np.zeros((2, 3, 40, 48), np.uint8)
    masks[0, :, 5:15, 5:15], masks[1, :, 20:30, 25:40] = 1, 1
    results = [PredictionResult(masks=m, probabilities=m.astype(np.float32), fps=8.0, query=q)
               for m, q in zip(masks, ("the man", "the dog"))]
    path = write_overlay(results, frames, str(tmp_path / "two.gif"))
    back = np.stack([np.asarray(f.convert("RGB")) for f in _gif_frames(path)])
    key = legend(["the man", "the dog"], 48, 40)
    expected = overlay_frame(frames[1], masks[:, 1], key, OVERLAY_ALPHA)
    assert np.abs(back[1].astype(int) - expected).mean() < 3  # (a GIF's palette)
    assert np.abs(back[1, 25, 30].astype(int) - expected[25, 30]).max() < 12  # the dog in the palette's second colour
    assert expected[25, 30, 2] > expected[25, 30, 0] and overlay_color(1)[2] > overlay_color(1)[0]
    # a colour by name or #rrggbb, as Pillow reads them
    assert overlay_rgb("red") == (255, 0, 0) and overlay_rgb("#0072b2") == (0, 114, 178)
    np.testing.assert_array_equal(overlay_frames(frames, masks[0], "red"), overlay_frames(frames, masks[0],
                                                                                           (255, 0, 0)))
    for color, message in (("reddish", r"color='reddish': not a colour Pillow knows by name or #rrggbb"),
                           ((255, 0), r"color=\(255, 0\): an \(r, g, b\) of numbers in 0\.\.255"),
                           ((300, 0, 0), r"color=\(300, 0, 0\): an \(r, g, b\)")):
        with pytest.raises(ValueError, match=message):
            write_overlay(results[0], frames, str(tmp_path / "bad.gif"), color=color)
    for alpha in (1.5, -0.1, float("nan"), "0.5"):
        with pytest.raises(ValueError, match=rf"alpha={re.escape(repr(alpha))}: how much of the colour covers a "
                                             r"masked pixel, a number in \[0, 1\]"):
            write_overlay(results[0], frames, str(tmp_path / "bad.gif"), alpha=alpha)
    with pytest.raises(ValueError, match=r"^color= colours one result; several are drawn in the palette's colours"):
        write_overlay(results, frames, str(tmp_path / "bad.gif"), color="red")
    # a diff reviewer's: a colour's opacity dropped, Matplotlib's 0..1 taken as nearly black, results of other rates
    # drawn at the first's, an empty list "result is list"
    for color, message in (("#ff000080", r"color='#ff000080': a colour without its opacity \(#rrggbb\); alpha= "),
                           ((1.0, 0.5, 0.2), r"color=\(1\.0, 0\.5, 0\.2\): an \(r, g, b\) in 0\.\.255, not 0\.\.1 as "
                                             r"Matplotlib's")):
        with pytest.raises(ValueError, match=message):
            write_overlay(results[0], frames, str(tmp_path / "bad.gif"), color=color)
    assert overlay_rgb((1, 0, 0)) == (1, 0, 0) and overlay_rgb(np.array([255, 128, 0])) == (255, 128, 0)
    with pytest.raises(ValueError, match=r"not 0\.\.1 as Matplotlib's"):  # (its red, all 0.0 and 1.0)
        overlay_rgb((1.0, 0.0, 0.0))
    listed = PredictionResult(masks=masks[1], probabilities=None, fps=8.0, query="the dog", times=[0.0, 0.125, 0.25])
    timed = PredictionResult(masks=masks[0], probabilities=None, fps=8.0, query="the man", times=(0.0, 0.125, 0.25))
    assert write_overlay([timed, listed], frames, str(tmp_path / "times.gif"))  # (the same times in a list)
    faster = PredictionResult(masks=masks[1], probabilities=None, fps=24.0, query="the dog")
    with pytest.raises(ValueError, match=r"^the results' rates differ: 8\.0 for 'the man', 24\.0 for 'the dog' "):
        write_overlay([results[0], faster], frames, str(tmp_path / "bad.gif"))
    with pytest.raises(ValueError, match=r"^result is an empty list"):
        write_overlay([], frames, str(tmp_path / "bad.gif"))
    with pytest.raises(InputTypeError, match=r"^result is dict: give what predict returns, a PredictionResult or "):
        write_overlay({"masks": masks[0]}, frames, str(tmp_path / "bad.gif"))
    other = PredictionResult(masks=masks[1, :2], probabilities=masks[1, :2].astype(np.float32), fps=8.0, query="x")
    with pytest.raises(ValueError, match=r"^the results' masks differ: \(3, 40, 48\) for 'the man', \(2, 40, 48\) "
                                         r"for 'x' \(results of one video, from one predict, expected\)$"):
        write_overlay([results[0], other], frames, str(tmp_path / "bad.gif"))
    assert not (tmp_path / "bad.gif").exists()


def test_predict_keeps_the_masks_alone_where_asked(trained, tmp_path):
    """`predict(..., probabilities=False)`: the same masks, scores and JSON without the float32 probabilities (four
    bytes a pixel: a minute of 1080p held 12 GB of them in memory, beside 3 GB of masks)."""
    frames = moving_frames(5, 40, 56, seed=9)
    both, alone = (predict(trained, frames, queries=[QUERY, "the circle"], probabilities=keep) for keep in (True,
                                                                                                           False))
    for full, lean in zip(both, alone):
        assert lean.probabilities is None and full.probabilities.shape == (5, 40, 56)
        np.testing.assert_array_equal(lean.masks, full.masks)
        np.testing.assert_array_equal(lean.scores, full.scores)
        assert lean.to_dict() == full.to_dict()
    assert write_overlay(alone, frames, str(tmp_path / "o.gif")) == str(tmp_path / "o.gif")
    with pytest.raises(TypeError, match=r"^probabilities='no': True or False$"):
        predict(trained, frames, QUERY, probabilities="no")


def _gif_frames(path):
    with Image.open(path) as image:
        for k in range(image.n_frames):
            image.seek(k)
            yield image.copy()


def test_refused_frames_and_a_path_less_video_info_say_what_they_look_like(tmp_path):
    """A Python-API tester's float, greyscale, RGBA and channels-first frames were refused by their shape alone, and
    `video_info(frames)` said "expected str, bytes or os.PathLike object, not ndarray"."""
    for array, hint in ((np.zeros((2, 3, 8, 8), np.uint8), r"channels first \(N, 3, H, W\)\? "
                                                           r"frames\.transpose\(0, 2, 3, 1\)"),
                        (np.zeros((2, 8, 8, 4), np.uint8), r"RGBA\? frames\[\.\.\., :3\]"),
                        (np.zeros((2, 8, 8), np.uint8), r"greyscale \(N, H, W\)\? np\.repeat"),
                        (np.zeros((2, 8, 8, 1), np.uint8), r"greyscale\? np\.repeat\(frames, 3, axis=-1\)"),
                        (np.zeros((8, 8, 3), np.uint8), r"one frame\? frame\[None\]"),
                        (np.zeros((8, 8, 4), np.uint8), r"one RGBA frame\? frame\[None, \.\.\., :3\]"),
                        (np.full((2, 8, 8, 3), 200.0), r"floats in \[0, 255\]\? frames\.round\(\)\.clip\(0, 255\)"),
                        (np.zeros((2, 8, 8, 3), np.float32), r"floats in \[0, 1\]\? \(frames \* 255\)"),
                        (np.zeros((2, 8, 8, 3), bool), r"booleans: pictures, not masks, expected"),
                        (np.zeros((2, 8, 8, 3), np.uint16), r"uint16: 8-bit values\? frames\.astype\(np\.uint8\)")):
        with pytest.raises(InputError, match=r"^video array has dtype \w+ and shape .* expected uint8 \(N, H, W, 3\) "
                                             rf"with N >= 1 \({hint}"):
            load_video(array)
    with pytest.raises(InputTypeError, match=r"^video_info reads a video file or a folder of frames by its path, not "
                                             r"ndarray$"):
        video_info(np.zeros((2, 8, 8, 3), np.uint8))


def test_the_overlay_blends_each_mask_in_order_whatever_it_covers():
    """The overlay's colours (`overlay_frame`), pixel for pixel rint((1 - a) x + a c) in each mask, sentence after
    sentence, whether a mask covers a few pixels (only they are looked up: 15x faster for a mask of 2% of a 1080p
    frame, benchmarks/postprocess.py) or most of the frame (every pixel looked up), in one frame or a stack."""
    from acga_tf.apps.predict import OVERLAY_ALPHA, _blend, overlay_color, overlay_frame

    rng = np.random.default_rng(8)
    for shape in ((48, 64), (3, 20, 30)):
        frames = rng.integers(0, 256, shape + (3,)).astype(np.uint8)
        masks = np.stack([rng.random(shape) < p for p in (0.03, 0.7, 0.0, 1.0, 0.5)])
        expected = frames.astype(np.float64)
        for k, mask in enumerate(masks):
            blended = np.rint((1 - OVERLAY_ALPHA) * np.rint(expected) + OVERLAY_ALPHA * np.array(overlay_color(k)))
            expected = np.where(mask[..., None], blended, expected)
        if len(shape) == 2:
            got = overlay_frame(frames, masks.astype(np.uint8))
        else:
            got = _blend(frames, [(m, overlay_color(k)) for k, m in enumerate(masks)], OVERLAY_ALPHA)
        np.testing.assert_array_equal(got, expected.astype(np.uint8))
        assert got is not frames and not np.shares_memory(got, frames)
    # frames in another memory order (a transposed, turned or Fortran-order array): a reviewer's, whose overlay came
    # back without its colours (the pixels were written into a copy)
    frames = rng.integers(0, 256, (40, 30, 3)).astype(np.uint8)
    masks = (rng.random((1, 30, 40)) < 0.1).astype(np.uint8)
    for turned in (frames.transpose(1, 0, 2), np.rot90(frames.transpose(1, 0, 2), 2),
                   np.asfortranarray(frames.transpose(1, 0, 2))):
        np.testing.assert_array_equal(overlay_frame(turned, masks), overlay_frame(np.ascontiguousarray(turned), masks))
        assert (overlay_frame(turned, masks) != turned).any()


def test_predict_rejects_bad_arrays_and_batch_sizes(trained):
    with pytest.raises(ValueError, match=r"video array has dtype float32 and shape \(2, 8, 8, 3\)"):
        predict(trained, np.zeros((2, 8, 8, 3), np.float32), QUERY)
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    for size in (0, 2.5, "4"):
        with pytest.raises(ValueError, match=rf"batch_size={size!r}: must be an integer >= 1"):
            predict(trained, frames, QUERY, batch_size=size)
    for fps in (0, -5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=rf"fps={fps!r}: frames per second, must be a number > 0"):
            predict(trained, frames, QUERY, fps=fps)
    with pytest.raises(ValueError, match=r"fps=-5"):  # before the first batch is segmented or written
        predict_to_files(trained, frames, QUERY, fps=-5)


def test_frames_too_small_to_show_an_actor_are_segmented_with_a_warning(trained, caplog):
    """A tester's 1x1-pixel frames were segmented without a word."""
    size = trained.config.image_size
    with caplog.at_level("WARNING"):
        assert predict(trained, np.zeros((2, 1, 1, 3), np.uint8), QUERY).masks.shape == (2, 1, 1)
    assert caplog.text.count(f"frames of 1x1 pixels: the masks of frames under 32 pixels a side mean little (the "
                             f"model reads frames scaled to {size}x{size})") == 1  # once, not a frame
    caplog.clear()
    with caplog.at_level("WARNING"):
        predict(trained, np.zeros((2, 32, 40, 3), np.uint8), QUERY)
    assert "pixels a side" not in caplog.text


def test_a_python_users_frames_and_sentences_are_refused_as_input_errors(trained, run_dir):
    """A Python-API tester's: `iter_masks` of a sentence with no known word raised TensorFlow's InvalidArgumentError
    (a service's HTTP 500; `predict` said InputError); frames of two sizes in a list were NumPy's "inhomogeneous
    shape"; a generator, None or a list of paths was "video array has dtype object and shape ()"; a list of shards to
    `evaluate` failed inside `re`."""
    from acga_tf.apps.evaluate import evaluate

    frames = moving_frames(3, 24, 32, seed=3)
    with pytest.raises(InputError, match=r"^query 'zebra' has no known word"):
        list(iter_masks(load_predictor(run_dir), iter(frames), ["zebra"]))
    with pytest.raises(InputError, match=r"^frame 2 has shape \(20, 32, 3\), frame 0 \(24, 32, 3\): frames of one "
                                         r"size, expected$"):
        predict(trained, [*frames[:2], frames[2][:20]], QUERY)
    for video, given in (((f for f in frames), "an iterator of frames"), (None, "None"),
                         (["a.png", "b.png"], "a list of paths")):
        with pytest.raises(InputTypeError, match=rf"^video is {given}: give a video file or a folder of frames by its "
                                                 r"path, or frames as a uint8 \(N, H, W, 3\) array"):
            predict(trained, video, QUERY)
    with pytest.raises(TypeError, match=r"^data_pattern is a list: give the shards as one glob, a str"):
        evaluate(run_dir, ["test-00000-of-00001.tfrecord"])


def test_sentences_of_the_wrong_type_are_named(trained):
    frames = moving_frames(3, 24, 32, seed=3)
    one = predict(trained, frames, queries=QUERY)  # one str is one sentence, not a list of characters
    assert len(one) == 1 and one[0].query == QUERY
    np.testing.assert_array_equal(one[0].masks, predict(trained, frames, QUERY).masks)
    with pytest.raises(TypeError, match=r"query b'the red circle jumping on the left' is bytes: give each sentence"):
        predict(trained, frames, QUERY.encode())
    with pytest.raises(TypeError, match=r"query 5 is int"):
        predict(trained, frames, queries=[QUERY, 5])
    with pytest.raises(ValueError, match=r"is not valid Unicode: character 4 is a lone surrogate"):
        predict(trained, frames, "the \udcff circle")
    # a security reviewer's 30 MB sentence through the web page held 1.5 GB of the server's memory, and came back
    # whole in the page's summary: refused past the records' 64 KiB, quoted by its start
    with pytest.raises(ValueError, match=r"^query 'the red square the red square .*'\.\.\. is 75,000 bytes long in "
                                         r"UTF-8, more than the 65,536 a sentence may have \(the model reads its first "
                                         r"words only\)$"):
        predict(trained, frames, "the red square " * 5000)
    assert predict(trained, frames, ("the red square " * 4369)[:65536]).query.startswith("the red square")
    # an API reader's: no sentence at all was "give query ... or queries ..., not both"; then "..., not neither"
    with pytest.raises(ValueError, match=r"^no sentence: give query \(one sentence\) or queries \(a list of "
                                         r"sentences\)$"):
        predict(trained, frames)
    # a service tester's: frames in memory of 0 pixels a side were TensorFlow's "input image must be of non-zero
    # size", and over 8K (refused from a file's header) were segmented, 3.5 GB through a SavedModel
    for shape in ((3, 24, 0, 3), (3, 0, 32, 3), (1, 4321, 7681, 3)):
        with pytest.raises(InputError, match=rf"^frame 0 has {shape[2]} x {shape[1]} pixels: a frame must have at "
                                             r"least 1 pixel a side and at most 33,177,600 \(8K UHD, 7680 x 4320\)$"):
            predict(trained, np.zeros(shape, np.uint8), QUERY)
    with pytest.raises(ValueError, match=r", not both$"):
        predict(trained, frames, QUERY, queries=[QUERY])


def test_a_model_in_memory_or_a_run_where_the_video_goes_is_named(trained, run_dir, tmp_path):
    """A notebook tester's: `predict(model, ...)` with the `ACGA` model in hand (and `compute_attention`,
    `export_model`; `evaluate`: tests/test_evaluate.py) ended in Python's "expected str, bytes or os.PathLike object,
    not ACGA", and the run given as the video was "video file not found"."""
    from acga_tf.apps.visualize import compute_attention
    from acga_tf.serving.export import export_model

    frames = moving_frames(3, 24, 32, seed=3)
    for call in (lambda: predict(trained.model, frames, QUERY), lambda: compute_attention(trained.model, frames, QUERY),
                 lambda: export_model(trained.model, str(tmp_path / "acga" / "1"))):
        with pytest.raises(TypeError, match=r"^model is ACGA, not a path: give a trained run's folder or its model"):
            call()
    with pytest.raises(ValueError, match=rf"^{re.escape(run_dir)}: a folder with no PNG or JPEG frames in it, not a "
                                         r"video file$"):
        predict(tmp_path, run_dir, QUERY)


def test_an_upload_given_as_bytes_or_a_file_object_is_named(trained, tmp_path):
    """A library integrator's web handler passed the upload's bytes: "video array has dtype |S32044 and shape ()"."""
    path = tmp_path / "a.mp4"
    write_video(str(path), moving_frames(3, 24, 32, seed=3), "libx264", "yuv420p")
    with open(path, "rb") as f:
        for video, kind in ((path.read_bytes(), "bytes"), (f, "a file object")):
            with pytest.raises(TypeError, match=rf"^video is {kind}, not a path or frames: write the upload to a "
                                                "file and give its path"):
                predict(trained, video, QUERY)


def test_a_service_tells_its_clients_mistakes_from_its_own(trained, run_dir, tmp_path, monkeypatch):
    """A service integrator's: a bad video or sentence was a ValueError or a TypeError like any bug's, so a web
    worker could not answer 400 for the client's mistakes and 500 for its own; messages named the command's options
    (`--start`, `(--frames-dir)`, `--model takes`) to a Python caller (docs/serving.md#in-a-service)."""
    from acga_tf.ops.files import OutputInUse, WriteLock

    frames = moving_frames(3, 24, 32, seed=3)
    damaged = tmp_path / "upload.mp4"
    damaged.write_bytes(b"not a video at all" * 64)
    clients = {  # the request's own input
        "missing video": lambda: predict(trained, str(tmp_path / "nope.mp4"), QUERY),
        "damaged video": lambda: predict(trained, str(damaged), QUERY),
        "frames of floats": lambda: predict(trained, frames.astype(np.float32), QUERY),
        "empty sentence": lambda: predict(trained, frames, " ... "),
        "no known word": lambda: predict(trained, frames, "zyzzyva quokka"),
        "bytes sentence": lambda: predict(trained, frames, QUERY.encode()),
        "bytes video": lambda: predict(trained, b"\x00\x00\x00 ftypisom", QUERY),
        "start past the end": lambda: predict_to_files(trained, frames, QUERY, start=10.0),
        "a negative range": lambda: list(iter_masks(load_predictor(trained), frames, [QUERY], first=-1)),
        # a live camera that switches resolution mid-stream (docs/serving.md#live-video)
        "a frame of another size": lambda: list(iter_masks(load_predictor(trained), [*frames, frames[0][::2]],
                                                           [QUERY])),
        # a library tester's: a path as the frames, read a character a frame (and as the predictor, below)
        "a path as the frames": lambda: list(iter_masks(load_predictor(trained), str(damaged), [QUERY])),
    }
    for name, call in clients.items():
        with pytest.raises(acga_tf.InputError) as caught:
            call()
        assert isinstance(caught.value, ValueError), name  # as before
        assert "--" not in str(caught.value), (name, str(caught.value))
    with pytest.raises(TypeError, match=r"^frames is a str, not frames: give open_frames\(path\) for a video's"):
        list(iter_masks(load_predictor(trained), str(damaged), [QUERY]))
    with pytest.raises(TypeError, match=r"^predictor is a str, not a loaded predictor: give load_predictor\(model\)"
                       ) as caught:  # (was "'str' object has no attribute 'prepare_many'")
        list(iter_masks(str(trained), frames, [QUERY]))
    assert not isinstance(caught.value, acga_tf.InputError)  # the service's own code at fault, not its client's
    with pytest.raises(acga_tf.InputError) as caught:
        predict(trained, str(tmp_path / "nope.mp4"), QUERY)
    assert caught.value.message == "video file not found" and str(tmp_path) not in caught.value.message
    # a relative name: the command's hint names the current folder, the server's, which the client's message does not
    monkeypatch.chdir(tmp_path)
    with pytest.raises(acga_tf.InputError) as caught:
        predict(trained, "nope.mp4", QUERY)
    assert str(caught.value) == f"nope.mp4: video file not found (in {tmp_path}, the current folder)"
    assert caught.value.message == "video file not found"
    with pytest.raises(TypeError):  # an input of the wrong kind is still a TypeError too
        predict(trained, frames, QUERY.encode())
    with pytest.raises(acga_tf.InputError, match=r"^the video: start=10.0 is frame 241, past the video's end "):
        predict_to_files(trained, frames, QUERY, start=10.0)
    # `.message`, what a client may see, names no file of the server (an upload's temporary name, the model's words)
    upload = write_video(tmp_path / "tmpUPLOAD.mp4", frames, "libx264", "yuv420p")
    with pytest.raises(acga_tf.InputError) as caught:
        predict_to_files(run_dir, upload, QUERY, start=100.0)
    assert str(caught.value).startswith(f"{upload}: start=100.0 is frame 1201, past the video's end")
    assert caught.value.message.startswith("start=100.0 is frame 1201, past the video's end (3 frames")
    with pytest.raises(acga_tf.InputError) as caught:
        predict(load_predictor(run_dir), frames, "zyzzyva quokka")
    assert "; the model knows 14 words: " in str(caught.value)  # (a model of more words: its vocab.txt's path)
    assert caught.value.message == ("query 'zyzzyva quokka' has no known word: none of its words is in the "
                                    "vocabulary of the model, so the mask would ignore the sentence")
    # several refused: each named in one message, the model's words once at its end (a web-page tester fixed three
    # sentences in three tries)
    with pytest.raises(acga_tf.InputError) as caught:
        predict(load_predictor(run_dir), frames, queries=["zyzzyva quokka", QUERY, "the zebra galloping"])
    assert caught.value.message.startswith("2 of the 3 sentences cannot be segmented: query 'zyzzyva quokka' has no "
                                           "known word: none of its words"), caught.value.message
    assert "; query 'the zebra galloping': the model knows only 'the'" in caught.value.message
    assert str(caught.value).count("; the model knows 14 words: ") == 1, str(caught.value)
    # an empty sentence beside an unknown one: both named (the empty one was named alone, then the other on the retry)
    from acga_tf.apps.predict import check_queries

    with pytest.raises(acga_tf.InputError) as caught:
        check_queries(load_predictor(run_dir), ["  ", "zyzzyva quokka"])
    assert caught.value.message.startswith("2 of the 2 sentences cannot be segmented: query is empty: '  ' has no "
                                           "word (letters or digits); query 'zyzzyva quokka' has no known word")
    assert check_queries(load_predictor(run_dir), [f" {QUERY}\t"]) == [QUERY]
    with pytest.raises(acga_tf.InputError, match=r"^2 of the 3 sentences cannot be segmented"):  # (of a generator:
        check_queries(load_predictor(run_dir), (q for q in ("", QUERY, "zyzzyva")))  # "has no len()")
    # a long-video tester's "the zebra galloping": "the" alone known, segmented and "done" at 2% coverage, the only
    # sign a warning in the list's message column; a sentence of words that name nothing is refused as one of none
    for sentence, named, lacks in (("the zebra galloping", "'the'", " (zebra, galloping are not in its vocabulary)"),
                                   ("The THE", "'the'", ""), ("of the quokka", "'the'", " (of, quokka are not in its "
                                                                                           "vocabulary)")):
        with pytest.raises(acga_tf.InputError) as caught:
            predict(load_predictor(run_dir), frames, sentence)
        assert caught.value.message == (f"query {sentence!r}: the model knows only {named} of it, a word naming no "
                                        f"actor{lacks}, so the mask would ignore the sentence"), caught.value.message
    # its words past the L the model reads are cut, not unknown: said so (a reviewer's)
    predictor = load_predictor(run_dir)
    long = " ".join(["the"] * predictor.sentence_length + ["red", "square"])
    with pytest.raises(acga_tf.InputError) as caught:
        predict(predictor, frames, long)
    assert caught.value.message.endswith(f"the model knows only 'the' of its first {predictor.sentence_length} words "
                                         "(it reads no more), a word naming no actor, so the mask would ignore the "
                                         "sentence"), caught.value.message
    # a word of motion or place tells actors apart ("up": the demo's "moving up"), so it is not one of them
    assert predict(load_predictor(run_dir), frames[:2], "the zebra left").masks.shape[0] == 2
    # a mistyped word: the known word closest to it suggested, in `.message` too (a web-page tester's misspelt
    # sentence got a confident mask with a note naming the word only)
    with pytest.raises(acga_tf.InputError) as caught:
        predict(load_predictor(run_dir), frames, "the sqare")
    assert caught.value.message == ("query 'the sqare': the model knows only 'the' of it, a word naming no actor "
                                    "(sqare is not in its vocabulary), so the mask would ignore the sentence; did you "
                                    "mean 'square' for 'sqare'?")
    # only words a sentence can hold are suggested (a hand-built vocabulary's "Circle" and "don't" are never read)
    from acga_tf.apps.predict import _typable_words

    stub = types.SimpleNamespace(known_words=lambda: ["Circle", "don't", "circle", "x-ray"])
    assert _typable_words(stub) == ["circle"] and stub._typable_words == ["circle"]
    assert acga_tf.InputError("x").message == "x"
    for call in (lambda: predict(trained, frames, QUERY, batch_size=0), lambda: predict(trained, frames)):
        with pytest.raises(ValueError) as caught:  # the service's own call at fault, not the client
            call()
        assert not isinstance(caught.value, acga_tf.InputError)
    with pytest.raises(FileNotFoundError, match=r": not found \(model takes a run directory"):
        load_predictor(str(tmp_path / "no_model"))
    masks = tmp_path / "masks"
    masks.mkdir()
    lock = WriteLock(str(masks))  # another request writing the same folder now
    try:
        with pytest.raises(OutputInUse, match=rf"^{re.escape(str(masks))} \(frames_dir\): another run is writing"):
            predict_to_files(trained, frames, QUERY, frames_dir=str(masks))
    finally:
        lock.release()
    long = predict(trained, frames, "the red circle " * 300)  # its repr is one short line (it printed 4,500 chars)
    assert len(repr(long)) < 160 and "..." in repr(long), repr(long)


def test_emoji_and_symbols_a_sentence_leaves_out_are_named(trained, caplog):
    """A service integrator's "the 🟢 circle" was segmented as "the circle" without a word (a Chinese word
    warned)."""
    frames = moving_frames(3, 24, 32, seed=3)
    with caplog.at_level(logging.WARNING, logger="acga_tf"):
        predict(trained, frames, sentence := "the red \U0001f7e2 circle jumping \u2764\ufe0f \U0001f7e2")
    assert f"query {sentence!r}: \U0001f7e2 \u2764 not read (the model reads words of letters and digits; emoji and " \
           "symbols are left out)" in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="acga_tf"):
        predict(trained, frames, QUERY)
    assert "not read" not in caplog.text


def test_word_vectors_of_another_size_are_named_when_the_run_loads(run_dir, tmp_path):
    """A library integrator's run with another run's embeddings.npy (16 columns for a model reading 32): loading
    passed, and the first prediction failed in tf.function's binding, kilobytes long with the tensor's values."""
    from acga_tf.apps.predictors import load_predictor

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    vectors = np.load(run / "embeddings.npy")
    np.save(run / "embeddings.npy", vectors[:, :16])
    with pytest.raises(ValueError) as refused:
        load_predictor(str(run))
    assert str(refused.value) == (f"{run / 'embeddings.npy'}: word vectors of 16 dimensions; the model reads "
                                  f"{vectors.shape[1]} (its word_dim): the file of another run? Put back the run's own")


def test_a_folder_of_frames_is_segmented_as_the_video_it_was_cut_from(trained, tmp_path, capsys):
    """A researcher's frames folders (J-HMDB's 00001.png, ..., DAVIS, A2D's frames): `--video DIR` was "a folder,
    not a video file". Read in name order at 24 fps, PNG frames give the masks of the same frames as an array; the
    mask PNGs take the frames' numbers (DAVIS numbers from 0: its 00000.jpg's mask was 00001.png, one frame off)."""
    frames = moving_frames(12, 48, 64, seed=5)
    folder = tmp_path / "clip [1]"  # glob's special characters in its name are taken literally
    folder.mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:05d}.png")
    (folder / "notes.txt").write_text("not a frame")
    from_array = predict(trained, frames, QUERY)
    from_folder = predict(trained, str(folder), QUERY)
    np.testing.assert_array_equal(from_folder.masks, from_array.masks)
    assert from_folder.fps == 24 and from_folder.num_frames == 12
    out = tmp_path / "out"
    assert main(["predict", "--model", trained.directory, "--video", str(folder), "--query", QUERY, "--output",
                 str(out / "o.mp4"), "--frames-dir", str(out / "m"), "--start", "0.25", "--no-progress"]) == 0
    assert sorted(os.listdir(out / "m")) == [f"{i:05d}.png" for i in range(6, 12)]  # 00006.png is shown at 0.25 s
    # counted from 1 as the summary counts frames, with the masks' own names (a QA tester's: they seemed one off)
    assert "frames 7 to 12 of the video (0.25 s to 0.50 s; masks 00006.png to 00011.png)" in capsys.readouterr().out
    np.testing.assert_array_equal(np.asarray(Image.open(out / "m" / "00006.png")) // 255, from_array.masks[6])
    # six digits: a second run into the folder takes its masks for an earlier run's; a user's numbered PNGs are not
    # (`\d+.png` removed a QA tester's 2024.png and 7.png as earlier masks)
    six = tmp_path / "six"
    six.mkdir()
    for i, frame in enumerate(frames[:3]):
        Image.fromarray(frame).save(six / f"{i:06d}.png")
    for _ in range(2):
        assert main(["predict", "--model", trained.directory, "--video", str(six), "--query", QUERY, "--frames-dir",
                     str(out / "m6"), "--no-progress"]) == 0
    assert sorted(os.listdir(out / "m6")) == ["000000.png", "000001.png", "000002.png"]
    (out / "m6" / "2024.png").write_bytes(b"a user's picture")
    assert main(["predict", "--model", trained.directory, "--video", str(six), "--query", QUERY, "--frames-dir",
                 str(out / "m6"), "--no-progress"]) == 2
    assert "holds files predict did not write (2024.png)" in capsys.readouterr().err
    assert (out / "m6" / "2024.png").read_bytes() == b"a user's picture"
    capsys.readouterr()
    # a phone's photos: each mask named as its photo (they were 00001.png, ... with nothing to tell which photo each
    # was, a consumer-app engineer's); a second run replaces them
    photos = tmp_path / "photos"
    photos.mkdir()
    names = ["IMG_0998", "IMG_1002", "IMG_1003"]
    for name, frame in zip(names, frames):
        Image.fromarray(frame).save(photos / f"{name}.JPG", quality=95)
    for _ in range(2):
        assert main(["predict", "--model", trained.directory, "--video", str(photos), "--query", QUERY,
                     "--frames-dir", str(out / "photos"), "--no-progress"]) == 0
    assert sorted(os.listdir(out / "photos")) == [f"{name}.png" for name in names]
    assert "masks IMG_0998.png to IMG_1003.png" in capsys.readouterr().out
    expected = predict(trained, str(photos), QUERY).masks
    for name, mask in zip(names, expected):
        np.testing.assert_array_equal(np.asarray(Image.open(out / "photos" / f"{name}.png")) // 255, mask)
    # the masks JSON names each frame's file (a labelling team's COCO `file_name`) and the folder, not its path
    assert main(["predict", "--model", trained.directory, "--video", f"{photos}{os.sep}", "--query", QUERY,
                 "--output-json", str(out / "photos.json"), "--no-progress"]) == 0
    document = json.loads((out / "photos.json").read_text())
    assert document["video"] == "photos" and [f["file"] for f in document["frames"]] == [f"{n}.JPG" for n in names]
    assert list(document["frames"][0])[:2] == ["frame", "file"]
    mixed, unpadded = tmp_path / "mixed", tmp_path / "unpadded"
    cased = tmp_path / "cased"  # a camera's .JPG beside .jpg (FFmpeg's pattern of one case cannot find the other's)
    for bad, names in ((mixed, ["00001.png", "00002.jpg"]), (unpadded, ["1.png", "2.png", "10.png"]),
                       (cased, ["00001.jpg", "00002.JPG"])):
        bad.mkdir()
        for name in names:
            Image.fromarray(frames[0]).save(bad / name)
    assert main(["predict", "--model", trained.directory, "--video", str(mixed), "--query", QUERY]) == 2
    assert main(["predict", "--model", trained.directory, "--video", str(unpadded), "--query", QUERY]) == 2
    assert main(["predict", "--model", trained.directory, "--video", str(cased), "--query", QUERY]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"acga predict: error: {mixed}: a folder of frames mixing .jpg and .png names: FFmpeg reads one extension; "
        "rename them to one",
        f"acga predict: error: {unpadded}: its frames' names do not sort in the order of their numbers: name order "
        "puts 10.png before 2.png; name them with one number of digits: 00001.png, 00002.png, ...",
        f"acga predict: error: {cased}: a folder of frames mixing .JPG and .jpg names: FFmpeg reads one extension, "
        "written in one case; rename them to one"]


def test_a_trained_model_given_again_is_traced_once(trained):
    # a notebook tester's loop of `predict(trained, frames, query)`: a new predictor each call traced the model again,
    # and TensorFlow warned of the retracing from the sixth call
    assert load_predictor(trained) is load_predictor(trained)


def test_models_loaded_one_after_another_do_not_warn_of_retracing(trained):
    """A library integrator loading five models in one process (and `acga evaluate RUN/checkpoints`' fifth
    checkpoint): TensorFlow warned "5 out of the last 5 calls ... triggered tf.function retracing", counting the
    traces of every predictor's function as one function's (each was traced once). Each is now counted apart
    (`own_function`), checked here on a small function made five times, and the predictors use it."""
    import functools
    import logging

    import tensorflow as tf

    from acga_tf.apps.predictors import KerasPredictor, own_function

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("tensorflow").addHandler(handler)
    try:
        for make in (own_function, tf.function):
            for n in range(1, 6):  # five functions from one line of code, each traced once
                make(lambda x: x * 2, autograph=False)(tf.zeros([n]))
            records.append(make.__name__)
    finally:
        logging.getLogger("tensorflow").removeHandler(handler)
    said = [r if isinstance(r, str) else "retracing" in r.getMessage() for r in records]
    assert said == ["own_function", True, "function"], said  # tf.function alone warned at the fifth
    predictor = KerasPredictor(trained)
    assert all(isinstance(f.python_function, functools.partial) for f in (predictor._segment,
                                                                          predictor._checked_words))


def test_iter_masks_refuses_what_the_saved_model_refuses(run_dir, exported_run):
    """`iter_masks` takes sentences checked by `check_queries`, but a Keras run refuses an unchecked one without a
    vocabulary word as the SavedModel does, instead of answering without the sentence (text-blind): as
    `check_queries` refuses it, an InputError (it was TensorFlow's InvalidArgumentError: a service's HTTP 500)."""
    from acga_tf.apps.predict import iter_masks
    from acga_tf.apps.predictors import load_predictor

    frames = moving_frames(2, 24, 32, seed=3)
    for model in (run_dir, exported_run):
        predictor = load_predictor(model)
        for sentence, message in (("zebra xylophone", r"^query 'zebra xylophone' has no known word"),
                                  ("?!", r"^query is empty: '\?!' has no word")):
            with pytest.raises(InputError, match=message):
                list(iter_masks(predictor, frames, [sentence]))


def test_a_loaded_keras_predictor_traces_once_for_every_batch_size_and_sentence_count(run_dir):
    """A web page's predictor serves any number of sentences and batch sizes. Before: one traced function per
    (batch size, sentence count), each keeping 60 to 140 MB for the predictor's life (a tester's page grew from 1.0
    to 1.7 GB over 1 to 12 sentences), and every batch was padded to the largest one seen (after one request of
    batch 16, requests of batch 1 took 6x as long)."""
    from acga_tf.apps.predictors import load_predictor

    predictor = load_predictor(run_dir)
    size, length = predictor.image_size, predictor.clip_length
    clips = np.random.default_rng(0).uniform(-1, 1, (4, length, size, size, 3)).astype("float32")
    sent = []
    segment = predictor._segment
    predictor._segment = lambda video, words: (sent.append(tuple(video.shape)), segment(video, words))[1]
    alone = predictor.segment(clips[:1], [QUERY], 24, 32)["mask"]
    for batch, queries in ((4, 1), (1, 2), (2, 3), (1, 1)):
        out = predictor.segment(clips[:batch], [QUERY] * queries, 24, 32)["mask"]
        assert out.shape == (batch, queries, 24, 32)
        np.testing.assert_array_equal(out[0, 0], alone[0, 0])
    assert segment.experimental_get_tracing_count() == 1
    assert [shape[0] for shape in sent] == [1, 4, 1, 2, 1]  # each batch as it is, not padded


def test_one_keras_predictor_shared_by_two_threads(run_dir, monkeypatch):
    """Each thread gets the masks of its own sentence, even where the other thread changed the predictor's cached
    sentences between its own caching them and using them."""
    import threading

    from acga_tf.apps.predictors import load_predictor

    predictor = load_predictor(run_dir)
    frames = moving_frames(2, 24, 32, seed=4)
    sentences = [QUERY, "a blue square walking"]
    alone = {q: predict(predictor, frames, q).masks for q in sentences}
    # Both threads wait for each other inside `segment` (where it runs the model, after caching its sentences).
    barrier, segment = threading.Barrier(2, timeout=60), predictor._segment

    def segment_together(*args, **kwargs):
        if threading.current_thread().name.startswith("segment-"):
            barrier.wait()
        return segment(*args, **kwargs)

    monkeypatch.setattr(predictor, "_segment", segment_together)
    results, errors = {}, []

    def work(query):
        try:
            results[query] = predict(predictor, frames, query).masks
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(q,), name=f"segment-{k}") for k, q in enumerate(sentences)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for query in sentences:
        np.testing.assert_array_equal(results[query], alone[query])


def test_a_link_to_nothing_as_an_output_is_refused_where_it_would_make_folders(run_dir, videos, tmp_path, capsys):
    """A security tester's: a dangling link given as --frames-dir failed with "[Errno 17] File exists", and one given
    as --output was written at its target, the folders above it made there. A link to a file not yet written in a
    folder that exists is written through, as before."""
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "o.mp4").symlink_to(elsewhere / "a" / "o.mp4")
    (tmp_path / "masks").symlink_to(elsewhere / "masks")
    for flag, path, said in (("--output", tmp_path / "o.mp4", "whose folder does not exist; create it"),
                             ("--frames-dir", tmp_path / "masks", "which does not exist; create that folder")):
        assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, flag, str(path),
                     "--no-progress"]) == 2
        assert capsys.readouterr().err == (f"acga predict: error: {path}: a link to {os.readlink(path)}, {said}, or "
                                           f"name another path ({flag})\n")
    assert not elsewhere.exists()
    elsewhere.mkdir()
    (tmp_path / "ok.mp4").symlink_to(elsewhere / "ok.mp4")
    assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--output",
                 str(tmp_path / "ok.mp4"), "--no-progress"]) == 0
    assert (elsewhere / "ok.mp4").is_file() and (tmp_path / "ok.mp4").is_symlink()


@pytest.mark.parametrize("name", ["00003.png", "overlay.png", "00003.PNG", "link.png"])
def test_an_output_among_the_frames_being_read_is_refused_the_frames_untouched(name, run_dir, tmp_path, capsys):
    """A security tester's `--output frames/00003.png` (one frame: a PNG overlay) replaced input frame 3 with frame
    1's overlay, without a word; a new PNG there would have been read as a frame by the next run. A reviewer's link
    outside the folder to a frame in it (an output is written through its link) too."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(moving_frames(5, 32, 48, seed=3), start=1):
        Image.fromarray(frame).save(folder / f"{k:05d}.png")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    output = folder / name
    if name == "link.png":
        output = tmp_path / name
        output.symlink_to(folder / "00003.png")
    assert main(["predict", "--model", run_dir, "--video", str(folder), "--query", QUERY, "--start", "0", "--end",
                 "0.04", "--output", str(output), "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"acga predict: error: {output}: is in the folder of frames being read "
                                       f"({folder}), where it would replace or add a frame; --output must name a path "
                                       "outside it\n")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.parametrize("flag, target", [("--output-json", "run/model.keras"), ("--output-json", "run/vocab.txt"),
                                          ("--output", "link.mp4"), ("--output-json", "run/checkpoints/epoch-01.keras"),
                                          ("--output-json", "run/config.json")])
def test_an_output_naming_a_file_of_the_model_is_refused_before_the_work(flag, target, run_dir, videos, tmp_path,
                                                                         monkeypatch, capsys):
    """A tester's `acga predict --model RUN --output-json RUN/model.keras` replaced the model with the masks, exit 0.
    Refused as the input video is (`check_outputs`' `inputs`, `files.check_not_input`), an output that is a link
    to one of the model's files too, before the video or the model is read; nothing changed."""
    from acga_tf.apps import predict as module

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "checkpoints").mkdir(exist_ok=True)
    shutil.copy(run / "model.keras", run / "checkpoints" / "epoch-01.keras")
    (tmp_path / "link.mp4").symlink_to(run / "model.keras")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(module, "open_frames", lambda *a: pytest.fail("the video was read"))
    monkeypatch.setattr(module, "load_predictor", lambda *a: pytest.fail("the model was loaded"))
    before = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["predict", "--model", "run", "--video", videos["mp4"][0], "--query", QUERY, flag, target,
                 "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"acga predict: error: {target}: is a file of the model (run); {flag} must "
                                       "name another path\n")
    assert {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_loaded_predictor_keeps_its_files_and_one_frame_is_counted_in_the_singular(run_dir, videos, tmp_path,
                                                                                     capsys):
    """`predict_to_files` given a loaded predictor checks the outputs against the files it was loaded from (its
    `source`); the summary of one frame says "1 frame" (a tester's "1 frames (64x48)")."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    predictor = load_predictor(str(run))
    with pytest.raises(ValueError, match=f"^{re.escape(str(run / 'embeddings.npy'))}: is a file of the model "):
        predict_to_files(predictor, videos["mp4"][0], [QUERY], output_json=str(run / "embeddings.npy"))
    assert main(["predict", "--model", str(run), "--video", videos["mp4"][0], "--query", QUERY, "--end", "0.04",
                 "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("1 frame (100x72), frames 1 to 1 of the video")


def test_an_error_in_a_deleted_folder_or_on_a_very_long_path_still_says_why(run_dir, videos, tmp_path, capsys,
                                                                             monkeypatch):
    """A tester's: in a current folder that was deleted, `--frames-dir out` failed with "[Errno 2] No such file or
    directory", naming nothing; an output name too long in a 3,783-byte folder gave a line cut at 2,000 characters,
    mid-path, without its reason."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--frames-dir", "out",
                 "--no-progress"]) == 2
    assert_one_line_error(capsys.readouterr().err, "; the current folder no longer exists (deleted?): cd into one that "
                                                   "does, or give absolute paths")
    monkeypatch.chdir(tmp_path)
    deep = tmp_path.joinpath(*["pasta_ç" * 25] * 17)  # 17 folders of 200 bytes
    deep.mkdir(parents=True)
    assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--output",
                 str(deep / ("n" * 251 + ".mp4")), "--no-progress"]) == 2
    line = assert_one_line_error(capsys.readouterr().err, " [...] ", "over the 255 this file system takes: shorten it "
                                                                     "(--output)")
    assert len(line) < 2100 and line.startswith(f"acga predict: error: {tmp_path}")


@pytest.mark.parametrize("case", ["missing", "corrupt", "empty_query", "bad_output", "missing_model", "video_as_model",
                                  "output_folder", "output_folder_no_extension", "output_is_video",
                                  "output_links_to_video", "output_under_file", "bad_url", "server_down",
                                  "bad_grpc_url", "grpc_server_down", "music_file", "empty_file",
                                  "text_file", "cut_short", "cut_in_index"])
def test_cli_predict_user_errors_are_one_line(case, run_dir, videos, tmp_path, capsys, monkeypatch):
    from acga_tf.apps import predict as module

    video, query, model, output = videos["mp4"][0], QUERY, run_dir, str(tmp_path / "o.gif")
    expected = {"missing": "nope.mp4: video file not found", "corrupt": "broken.mp4: ",
                "empty_query": "query is empty", "bad_output": "unsupported overlay format '.webp'",
                "missing_model": "model.keras: missing", "video_as_model": ".mp4: not a .keras file",
                "output_folder": "out.mp4: is an existing folder",
                "output_folder_no_extension": "out: is an existing folder",  # before: "unsupported overlay format"
                "output_is_video": "is the input video", "output_under_file": "is a file, not a folder",
                # an output link is written through, so a link to the video would have replaced the video
                "output_links_to_video": "latest.mp4: is the input video",
                "bad_url": "not a TF Serving model URL", "server_down": "cannot reach the server",
                "bad_grpc_url": "grpc://localhost:8500: not a TF Serving gRPC URL; expected grpc://HOST:PORT/NAME",
                "grpc_server_down": "grpc://127.0.0.1:9/acga: UNAVAILABLE: ",
                # before: its cover picture was segmented as a video of one frame
                "music_file": "song.mp3: no video in the file: its only picture is a cover picture",
                # before: "cannot decode the video (InvalidDataError: [Errno 1094995529] Invalid data found ...)"
                "empty_file": "clip.mp4: the file is empty (0 bytes)",
                "text_file": "clip.mp4: not a video FFmpeg can read (FFmpeg: Invalid data found when processing input)",
                "cut_short": "clip.mp4: an MP4 cut short before its index (no 'moov' box",
                # before: `AttributeError: 'NoneType' object has no attribute 'width'` and a traceback
                "cut_in_index": "clip.mp4: an MP4 cut short inside its index (the 'moov' box"}[case]
    if case.startswith("output"):  # refused before the model or the video is read
        monkeypatch.setattr(module, "open_frames", lambda *a: pytest.fail("the video was read"))
        output = {"output_folder": str(tmp_path / "out.mp4"), "output_folder_no_extension": str(tmp_path / "out"),
                  "output_is_video": video, "output_links_to_video": str(tmp_path / "latest.mp4"),
                  "output_under_file": str(tmp_path / "o.gif" / "x.mp4")}[case]
        if case == "output_links_to_video":
            os.symlink(video, output)
        if case.startswith("output_folder"):
            os.makedirs(output)
        if case == "output_under_file":
            (tmp_path / "o.gif").write_text("x")
    elif case == "bad_url":
        model = "http://localhost:8501/acga"
    elif case == "server_down":
        model = "http://127.0.0.1:9/v1/models/acga"  # nothing listens on the discard port
    elif case == "bad_grpc_url":
        model = "grpc://localhost:8500"
    elif case == "grpc_server_down":
        model = "grpc://127.0.0.1:9/acga"
    if case == "missing":
        video = str(tmp_path / "nope.mp4")
    elif case == "corrupt":
        video = str(tmp_path / "broken.mp4")
        with open(video, "wb") as f:
            f.write(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    elif case in ("empty_file", "text_file", "cut_short", "cut_in_index"):
        whole = open(video, "rb").read()
        video = str(tmp_path / "clip.mp4")
        with open(video, "wb") as f:
            f.write({"empty_file": b"", "text_file": b"Shopping list:\nmilk, eggs\n",
                     "cut_short": whole[:len(whole) // 2],
                     "cut_in_index": whole[:(whole.rfind(b"moov") + len(whole)) // 2]}[case])
    elif case == "music_file":
        video = write_music_with_cover(tmp_path / "song.mp3")
    elif case == "empty_query":
        query = "  ?! "
    elif case == "bad_output":
        output = str(tmp_path / "o.webp")
    elif case == "missing_model":
        model = str(tmp_path / "no_run")
        os.makedirs(model)
    elif case == "video_as_model":  # --model and --video swapped
        model = video
    # With the progress bar: it used to be drawn at 0% before the error line
    code = main(["predict", "--model", model, "--video", video, "--query", query, "--output", output])
    err = capsys.readouterr().err.strip().splitlines()
    # a server that cannot be reached (retry later) exits 69, every mistake 2: before, both were 2
    assert code == (69 if case.endswith("server_down") else 2), (code, err)
    assert len(err) == 1 and err[0].startswith("acga predict: error:"), err
    assert expected in err[0]


@pytest.mark.parametrize("what", ["frames_dir", "output"])
def test_a_second_run_writing_the_same_output_at_once_is_refused(what, run_dir, videos, tmp_path, capsys):
    """A batch tester's finding: two runs with one --frames-dir at once both exited 0; the second removed the
    first's masks as "an earlier run's" and the folder ended mixed; two with one --output wrote into one temporary
    file. The output is locked while a run writes it (here by another process, as a second run would hold it)."""
    import subprocess
    import sys
    import textwrap

    masks, out = tmp_path / "masks", tmp_path / "o.mp4"
    assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--frames-dir",
                 str(masks), "--output", str(out), "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in [*masks.iterdir(), out]}
    held = str(masks) if what == "frames_dir" else str(out) + ".tmp"  # what a run writing it locks
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({held!r}, os.O_RDONLY | (0 if os.path.isdir({held!r}) else os.O_CREAT))
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        capsys.readouterr()
        assert main(["predict", "--model", run_dir, "--video", videos["mkv"][0], "--query", QUERY, "--frames-dir",
                     str(masks), "--output", str(out), "--no-progress"]) == 75  # EX_TEMPFAIL; before: 0
        err = capsys.readouterr().err.strip().splitlines()
        name = f"{masks} (--frames-dir)" if what == "frames_dir" else str(out)
        assert len(err) == 1 and err[0].startswith(f"acga predict: error: {name}: another run is writing it now"), err
        assert {p.name: p.read_bytes() for p in [*masks.iterdir(), out]} == before  # nothing removed or replaced
    finally:
        holder.communicate("")
    # the lock ends with the process that held it: the next run writes (and takes over a leftover temporary file)
    assert main(["predict", "--model", run_dir, "--video", videos["mkv"][0], "--query", QUERY, "--frames-dir",
                 str(masks), "--output", str(out), "--no-progress"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["masks", "o.mp4"] and len(os.listdir(masks)) == 13


def _json_masks(document, k=0):
    """A masks JSON's frames' numbers and sentence k's masks (N, H, W), decoded."""
    from acga_tf.ops import rle

    return ([frame["frame"] for frame in document["frames"]],
            np.stack([rle.decode(frame["masks"][k]["rle"]) for frame in document["frames"]]))


def test_output_json_holds_each_frames_masks_as_the_pngs_with_box_area_and_time(run_dir, videos, tmp_path, capsys):
    """A service integrator's: masks only as PNG folders or arrays, nothing a JSON answer could carry."""
    from acga_tf.ops import rle

    path = videos["mp4"][0]  # 20 frames at 12 fps, 72x100
    out, masks = tmp_path / "masks.json", tmp_path / "masks"
    queries = ["--query", QUERY, "--query", "a blue square walking"]
    assert main(["predict", "--model", run_dir, "--video", path, *queries, "--frames-dir", str(masks),
                 "--output-json", str(out), "--start", "0.5", "--no-progress"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(f"-> {masks}, {out}")
    document = json.loads(out.read_text())
    assert {k: document[k] for k in ("video", "queries", "width", "height", "fps")} == {  # the file's name alone
        "video": "clip.mp4", "queries": [QUERY, "a blue square walking"], "width": 100, "height": 72, "fps": 12.0}
    # What it is and which model made it (a labelling team's): the weights' digest, as `acga evaluate` records it
    assert list(document)[:3] == ["format", "format_version", "model"] and document["format_version"] == 1
    assert document["model"] == {"weights": artifacts.arrays_digest(artifacts.load_trained(run_dir).model.weights)}
    for k in range(2):
        numbers, decoded = _json_masks(document, k)
        assert numbers == list(range(6, 20))  # zero-based: the PNGs' 00007.png ... 00020.png
        np.testing.assert_array_equal(decoded, _pngs(masks / str(k + 1))[1])
        for frame, mask in zip(document["frames"], decoded):
            assert frame["masks"][k]["area"] == mask.sum() and frame["masks"][k]["box"] == rle.box(mask)
    assert [f["time"] for f in document["frames"]] == pytest.approx([i / 12 for i in range(6, 20)], abs=1e-6)
    assert 0 < sum(f["masks"][0]["area"] for f in document["frames"]) < 14 * 72 * 100  # a real segmentation
    # Python: the same masks from `predict`'s result and `iter_masks`' frames
    result = predict(run_dir, path, QUERY)
    whole = result.to_dict()
    assert {k: whole[k] for k in ("query", "width", "height", "fps")} == {
        "query": QUERY, "width": 100, "height": 72, "fps": 12.0}
    assert [f["frame"] for f in whole["frames"]] == list(range(20)) and whole["frames"][6]["time"] == 0.5
    np.testing.assert_array_equal(np.stack([rle.decode(f["rle"]) for f in whole["frames"][6:]]),
                                  _json_masks(document)[1])
    assert json.loads(json.dumps(whole)) == whole  # JSON values only
    item = next(iter_masks(load_predictor(run_dir), load_video(path)[0], [QUERY]))
    assert item.to_dict(time=0.0) == {"frame": 0, "time": 0.0,
                                      "masks": [{**rle.record(item.masks[0]), "score": pytest.approx(item.scores[0])}]}
    with pytest.raises(ValueError, match=r"time=nan: a frame's time must be a finite number of seconds"):
        item.to_dict(time=float("nan"))  # JSON has no NaN
    # Each mask's score (docs/serving.md#scores): the highest probability in the frame, at the model's cells
    assert [f["score"] for f in whole["frames"]] == pytest.approx(result.scores.tolist(), abs=1e-6)
    assert [f["masks"][0]["score"] for f in document["frames"]] == pytest.approx(result.scores[6:].tolist(), abs=1e-6)
    highest = result.probabilities.max(axis=(1, 2))  # bilinear between the cells: never above their maximum
    assert np.all(highest <= result.scores + 1e-6) and np.all(result.scores - highest < 0.05), (highest, result.scores)
    # FILE.jsonl: JSON Lines, the header then a frame a line (a streaming client reads each as it comes)
    lines = tmp_path / "masks.jsonl"
    assert main(["predict", "--model", run_dir, "--video", path, *queries, "--output-json", str(lines), "--start",
                 "0.5", "--no-progress"]) == 0
    header, *frames = [json.loads(line) for line in lines.read_text().splitlines()]
    assert header == {k: v for k, v in document.items() if k != "frames"} and frames == document["frames"]


def test_smooth_edges_threshold_the_probabilities_at_the_frames_size(run_dir, tmp_path, capsys):
    """A VFX user's mattes of a 1280x720 video followed the model's 128x128 cells: every edge on a 10-pixel grid.
    `--smooth-edges`: the relative threshold on the bilinear probabilities at the frame's size."""
    from acga_tf.ops.postprocess import smooth_masks

    frames = moving_frames(6, 150, 200, seed=4)  # the run's S is smaller: its cells span several pixels
    path = write_video(tmp_path / "clip.mkv", frames, "ffv1", "bgr0")
    blocky, smooth = tmp_path / "blocky", tmp_path / "smooth"
    for folder, extra in ((blocky, []), (smooth, ["--smooth-edges"])):
        assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(folder),
                     "--no-progress", *extra]) == 0
    (_, steps), (_, edges) = _pngs(blocky), _pngs(smooth)
    result = predict(run_dir, path, QUERY)
    np.testing.assert_array_equal(steps, result.masks)  # the protocol's, by default
    expected, empty = smooth_masks(result.probabilities)
    np.testing.assert_array_equal(edges, expected)
    np.testing.assert_array_equal(predict(run_dir, path, QUERY, smooth_edges=True).masks, expected)
    assert not empty.any() and (edges & steps).sum() / (edges | steps).sum() > 0.7  # the same regions
    scale = 200 / load_predictor(run_dir).image_size
    columns = {c for c in np.nonzero(np.diff(steps.astype(int), axis=2))[2]}
    smooth_columns = {c for c in np.nonzero(np.diff(edges.astype(int), axis=2))[2]}
    assert len(smooth_columns) > 2 * len(columns) and scale > 2, (columns, smooth_columns)
    peak = result.probabilities.max(axis=(1, 2), keepdims=True)  # ≥ 0.5 × each map's maximum, at the frame's size
    np.testing.assert_array_equal(expected, (result.probabilities >= 0.5 * peak).astype(np.uint8))
    assert smooth_masks(np.zeros((2, 4, 4)))[1].all()  # a map of zeros: empty, not full


def test_soft_masks_hold_the_probabilities_as_grey_levels(run_dir, tmp_path, capsys):
    """A VFX artist's: the mattes were binary, no soft alpha from the command. `--soft-masks`: each PNG the
    probabilities at the frame's size, 0 to 255; the overlay, the JSON and the summary keep the masks."""
    from acga_tf.apps.predict import soft_mask

    frames = moving_frames(6, 40, 56, seed=4)
    path = write_video(tmp_path / "clip.mkv", frames, "ffv1", "bgr0")
    soft, out = tmp_path / "soft", tmp_path / "masks.json"
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--query", "a blue square walking",
                 "--frames-dir", str(soft), "--soft-masks", "--output-json", str(out), "--no-progress"]) == 0
    results = predict(run_dir, path, queries=[QUERY, "a blue square walking"])
    for k, result in enumerate(results):
        names = sorted(os.listdir(soft / str(k + 1)))
        levels = np.stack([np.asarray(Image.open(soft / str(k + 1) / name)) for name in names])
        assert names == [f"{i:05d}.png" for i in range(1, 7)] and levels.dtype == np.uint8
        np.testing.assert_array_equal(levels, np.round(result.probabilities * 255).astype(np.uint8))
        np.testing.assert_array_equal(levels, soft_mask(result.probabilities))
        assert len(np.unique(levels)) > 10  # grey levels, not 0 and 255
        np.testing.assert_array_equal(_json_masks(json.loads(out.read_text()), k)[1], result.masks)  # the masks
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--soft-masks",
                 "--output-json", str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith("--soft-masks: goes with --frames-dir, the folder of the PNGs it "
                                                    "makes soft")


def test_output_json_dash_is_standard_output_and_the_summary_goes_to_stderr(run_dir, videos, tmp_path, monkeypatch,
                                                                            capfd):
    """For `acga predict ... --output-json - | jq`: stdout holds the JSON alone."""
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--output-json", "-",
                 "--start", "0.5", "--no-progress"]) == 0
    out, err = capfd.readouterr()
    document = json.loads(out)
    assert [f["frame"] for f in document["frames"]] == list(range(6, 20)) and document["queries"] == [QUERY]
    assert "14 frames (100x72), frames 7 to 20 of the video (0.50 s to 1.67 s) -> standard output" in err
    assert os.listdir(tmp_path) == []  # no file named "-"


def test_output_json_to_standard_output_that_fails_says_what_it_got(run_dir, videos, tmp_path, monkeypatch, capfd):
    """A QA tester's Ctrl-C with `--output-json -` said "/dev/stdout was not written (the earlier file is kept)"
    after 268 frames had gone there; and a run refused for another's JSON said "after 0 frames"."""
    from acga_tf.apps import predict as module
    from acga_tf.ops.files import WriteLock

    real = module.MasksJsonWriter.write

    def write(self, item, time=None, file=None):
        if self.count == 3:
            raise KeyboardInterrupt
        real(self, item, time, file)

    monkeypatch.setattr(module.MasksJsonWriter, "write", write)
    assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--output-json", "-",
                 "--no-progress"]) == 130
    out, err = capfd.readouterr()
    assert err.strip().endswith("after 3 frames; /dev/stdout got the first 3 frames' masks, not a whole JSON "
                                "document"), err
    assert out.count('{"frame":') == 3
    lock = WriteLock(str(tmp_path / "m.json.tmp"))  # another run writing it now
    try:
        assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--output-json",
                     str(tmp_path / "m.json"), "--no-progress"]) == 75
    finally:
        lock.release()
    assert capfd.readouterr().err.strip().endswith("m.json: another run is writing it now; wait for it to end, or "
                                                   "write elsewhere")


def test_output_json_times_are_a_variable_frame_rates_own(run_dir, tmp_path):
    path, ticks = _phone_video(tmp_path)
    out = tmp_path / "masks.json"
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--output-json", str(out),
                 "--no-progress"]) == 0
    document = json.loads(out.read_text())
    times = [f["time"] for f in document["frames"]]
    assert times == pytest.approx([t / 90 for t in ticks], abs=1e-6)  # not i / 17.8 fps
    # `PredictionResult.to_dict` the same (a service integrator's had i / fps)
    assert [f["time"] for f in predict(run_dir, path, QUERY).to_dict()["frames"]] == times


@pytest.mark.parametrize("case", ["folder", "same_as_frames_dir", "write_protected", "folder_name"])
def test_output_json_refusals_are_one_line_before_the_video_is_read(case, run_dir, videos, tmp_path, capsys,
                                                                     monkeypatch):
    from acga_tf.apps import predict as module

    monkeypatch.setattr(module, "open_frames", lambda *a, **k: pytest.fail("the video was read"))
    out, argv = tmp_path / "masks.json", []
    if case == "folder":
        out.mkdir()
    elif case == "same_as_frames_dir":
        argv = ["--frames-dir", str(out)]
    elif case == "folder_name":  # a QA tester's `newdir/`: "[Errno 2] No such file or directory", a folder left
        out, argv = tmp_path / "new", ["--frames-dir", str(tmp_path / "masks")]
    else:
        out.write_text("{}")
        out.chmod(0o444)  # (root could write it: refused by its permission bits)
    given = str(out) + "/" * (case == "folder_name")
    assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--output-json",
                 given, *argv, "--no-progress"]) == 2
    if case == "folder_name":
        assert sorted(os.listdir(tmp_path)) == []  # nothing made
    expected = {"folder": f"{out}: is an existing folder; --output-json names the JSON file to write",
                "folder_name": f"{given}: names a folder; --output-json names the JSON file to write",
                "same_as_frames_dir": f"{out}: --frames-dir and --output-json name the same path",
                "write_protected": f"{out}: exists and is write-protected (mode -r--r--r--): not replaced"}[case]
    assert capsys.readouterr().err.strip().startswith(f"acga predict: error: {expected}")


def test_output_json_of_a_run_that_fails_is_not_written_and_an_earlier_one_kept(run_dir, videos, tmp_path, capsys,
                                                                                 monkeypatch):
    from acga_tf.apps import predict as module

    out = tmp_path / "masks.json"
    out.write_text("an earlier file")
    real = module.MasksJsonWriter.write

    def write(self, item, time=None, file=None):
        if self.count == 3:  # as a full disk fails a write: an OSError naming no file
            with module._naming(self.path):
                raise OSError(errno.ENOSPC, "No space left on device")
        real(self, item, time, file)

    monkeypatch.setattr(module.MasksJsonWriter, "write", write)
    assert main(["predict", "--model", run_dir, "--video", videos["mp4"][0], "--query", QUERY, "--output-json",
                 str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (f"acga predict: error: [Errno 28] No space left on device: '{out}'; "
                                               f"after 3 frames; {out} was not written (the earlier file is kept)")
    assert out.read_text() == "an earlier file" and os.listdir(tmp_path) == ["masks.json"]  # no masks.json.tmp


# === Any artifact, several sentences, streaming (docs/serving.md#predict) ===
SENTENCES = [QUERY, "a blue square walking", "the green triangle rolling right"]  # all in the run's vocabulary


def test_every_artifact_gives_the_same_masks(run_dir, exported_run, tmp_path):
    """Run directory, its .keras file, the SavedModel (version folder and its parent) and TF Serving REST and gRPC
    URLs (stand-in servers over the SavedModel) give the same masks and scores for the same video and sentences, and
    name the same weights (the masks JSON's `model`) where the files are here."""
    from tf_serving_stand_in import GrpcStandIn, TFServingStandIn

    from acga_tf.apps.predictors import KerasPredictor, ServingPredictor, load_predictor
    from acga_tf.ops.postprocess import smooth_masks

    frames = moving_frames(10, 40, 56, seed=3)
    queries = SENTENCES[:2]
    with TFServingStandIn(exported_run, "acga") as server, GrpcStandIn(exported_run, "acga") as grpc_server:
        models = {"run": run_dir, "keras": os.path.join(run_dir, "model.keras"), "saved_model": exported_run,
                  "saved_models_name": os.path.dirname(exported_run), "rest": server.url, "grpc": grpc_server.url}
        results, weights = {}, {}
        for kind, model in models.items():
            predictor = load_predictor(model)
            assert isinstance(predictor, KerasPredictor if kind in ("run", "keras") else ServingPredictor), kind
            assert getattr(predictor, "encoded", False) == (kind == "rest")  # PNG frames to segment_encoded
            results[kind] = predict(predictor, frames, queries=queries, batch_size=3)
            weights[kind] = predictor.weights()
        # describe_queries twice (the model's T and L; the sentences), then one segment_* request per frame.
        assert server.requests == grpc_server.requests == 2 + len(frames)
    reference = np.stack([r.masks for r in results["run"]])  # (Q, N, H, W)
    assert reference.shape == (2, 10, 40, 56) and 0 < reference.mean() < 1
    assert not np.array_equal(reference[0], reference[1]), "the sentences should change the masks"
    for kind, result in results.items():
        masks = np.stack([r.masks for r in result])
        if kind in ("keras", "saved_models_name", "rest", "grpc"):  # same code (or same graph) as another
            other = {"keras": "run", "saved_models_name": "saved_model", "rest": "saved_model",
                     "grpc": "saved_model"}[kind]
            np.testing.assert_array_equal(masks, np.stack([r.masks for r in results[other]]))
        # The SavedModel's graph letterboxes each clip itself: float round-off may flip a pixel on the threshold.
        assert np.mean(masks != reference) <= 1e-3, (kind, np.mean(masks != reference))
        np.testing.assert_allclose(np.stack([r.probabilities for r in result]),
                                   np.stack([r.probabilities for r in results["run"]]), atol=2e-5)
        np.testing.assert_allclose(np.stack([r.scores for r in result]),
                                   np.stack([r.scores for r in results["run"]]), atol=2e-5)
        # `smooth_edges` masks come from these probabilities (test_smooth_edges_threshold_...): each artifact's too
        smooth = smooth_masks(np.stack([r.probabilities for r in result]))[0]
        assert np.mean(smooth != smooth_masks(np.stack([r.probabilities for r in results["run"]]))[0]) <= 1e-3, kind
    digest = artifacts.arrays_digest(artifacts.load_trained(run_dir).model.weights)  # as the export recorded it
    assert weights == {"run": digest, "keras": digest, "saved_model": digest, "saved_models_name": digest,
                       "rest": None, "grpc": None}


def test_sentences_whose_answer_would_pass_the_clients_bound_go_in_several_requests(exported_run, monkeypatch):
    """A serving reviewer's: a 4K clip's probabilities are about 200 MB of JSON a sentence, so 11 sentences in one
    request made an answer past `MAX_ANSWER_BYTES` (refused, on every frame); over gRPC past its message bound.
    Each request now carries the sentences whose answer fits: the same masks, probabilities and scores."""
    from tf_serving_stand_in import GrpcStandIn, TFServingStandIn

    from acga_tf.apps import predictors

    frames = moving_frames(4, 40, 56, seed=5)
    local = predict(load_predictor(exported_run), frames, queries=SENTENCES)
    monkeypatch.setattr(predictors, "ANSWER_JSON_BYTES", predictors.MAX_ANSWER_BYTES // (40 * 56 * 2))
    monkeypatch.setattr(predictors, "ANSWER_PROTO_BYTES", predictors.GrpcClient.MESSAGE_BYTES // (40 * 56 * 2))
    with TFServingStandIn(exported_run, "acga") as server, GrpcStandIn(exported_run, "acga") as grpc_server:
        for url in (server.url, grpc_server.url):
            split = predict(load_predictor(url), frames, queries=SENTENCES)
            for got, want in zip(split, local, strict=True):  # (Q sentences a batch or fewer: float round-off)
                assert np.mean(got.masks != want.masks) <= 1e-3
                np.testing.assert_allclose(got.probabilities, want.probabilities, atol=2e-5)
                np.testing.assert_allclose(got.scores, want.scores, atol=2e-5)
        assert server.requests == grpc_server.requests == 2 + 2 * len(frames)  # 2 sentences, then 1, a frame


def test_a_saved_model_takes_a_batch_of_clips_in_one_request_for_one_sentence(exported_run):
    """An edge deployer's: `--batch-size` changed nothing for a SavedModel, one clip a request (`segment_queries`);
    `serving_default` takes a batch in process: one call for `batch_size` clips where there is one sentence, the same
    masks. A server still gets one clip a request (a reviewer's: 4 clips passed gRPC's 4 MB bound where 1 did)."""
    from tf_serving_stand_in import GrpcStandIn

    frames = moving_frames(10, 40, 56, seed=3)
    predictor = load_predictor(exported_run)
    calls = []
    run = predictor.server.run
    predictor.server.run = lambda inputs, signature: (calls.append(signature), run(inputs, signature))[1]
    try:
        local = predict(predictor, frames, QUERY, batch_size=4)
    finally:
        predictor.server.run = run
    assert calls == ["describe_queries"] + ["serving_default"] * 3  # 10 clips in 4 + 4 + 2
    with GrpcStandIn(exported_run, "acga") as server:
        batched = predict(load_predictor(server.url), frames, QUERY, batch_size=4)
        assert server.requests == 2 + 10  # describe_queries twice; a clip a request
    one = predict(predictor, frames, QUERY, batch_size=1)
    for result in (one, local):
        np.testing.assert_array_equal(batched.masks, result.masks)
        np.testing.assert_allclose(batched.probabilities, result.probabilities, atol=1e-6)
        np.testing.assert_allclose(batched.scores, result.scores, atol=1e-6)


def test_grpc_client_answers_refusals_and_signatures_as_the_rest_one(exported_run):
    import tensorflow as tf
    from tf_serving_stand_in import GrpcStandIn

    from acga_tf.serving import SIGNATURES, GrpcClient, ServiceUnavailable

    clip = moving_frames(8, 24, 32, seed=6)
    with GrpcStandIn(exported_run, "acga") as server:
        client = GrpcClient(server.url)
        assert client.signature_names() == sorted(SIGNATURES)
        answer = client.run({"video": clip, "queries": np.array([QUERY], object)}, "segment_queries")
        assert answer["mask"].shape == (1, 24, 32) and answer["mask"].dtype == np.uint8
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"grpc://127\.0\.0\.1:\d+/acga: .*video must have T"):
            client.run({"video": clip[:3], "queries": np.array([QUERY], object)}, "segment_queries")
        with pytest.raises(OSError, match=r"/zebra: NOT_FOUND: Servable not found") as error:
            GrpcClient(server.url.replace("/acga", "/zebra")).signature_names()
        assert not isinstance(error.value, ServiceUnavailable)  # a model it does not serve: retrying cannot help
        small = GrpcClient(server.url)  # a serving reviewer's: a clip past gRPC's bound was "retry later" (exit 69)
        small.channel = client._grpc.insecure_channel(server.url.split("/")[2], options=[
            ("grpc.max_send_message_length", clip.nbytes // 2)])
        small.stub = type(client.stub)(small.channel)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"larger than max.*: the request or its answer "
                                                                 r"is larger than gRPC carries"):
            small.run({"video": clip, "queries": np.array([QUERY], object)}, "segment_queries")


def _stand_in_predictors(exported_run, older_without: str):
    """Yields (old, predictor, requests) for a REST predictor of the stand-in server over `exported_run`, then of the
    same server described as an export made before the signature `older_without` existed; `requests` collects each
    request's (signature, JSON body size)."""
    from tf_serving_stand_in import TFServingStandIn

    from acga_tf.apps.predictors import load_predictor

    with TFServingStandIn(exported_run, "acga") as server:
        for old in (False, True):
            if old:
                metadata = server.metadata()
                del metadata["metadata"]["signature_def"]["signature_def"][older_without]
                server.metadata = lambda: metadata
            predictor = load_predictor(server.url)
            real_run, requests = predictor.server.run, []
            predictor.server.run = lambda inputs, name: requests.append(
                (name, len(json.dumps(rest_body(inputs, name))))) or real_run(inputs, name)
            yield old, predictor, requests


def test_over_rest_frames_go_as_png_and_a_model_exported_before_gets_numbers_with_a_warning(exported_run, caplog):


    frames = moving_frames(5, 40, 56, seed=4)
    bodies = {}
    for old, predictor, requests in _stand_in_predictors(exported_run, "segment_encoded"):
        with caplog.at_level("WARNING"):
            bodies[old] = (predict(predictor, frames, QUERY).masks, max(size for _, size in requests))
    np.testing.assert_array_equal(bodies[True][0], bodies[False][0])
    assert bodies[True][1] > 3 * bodies[False][1], bodies  # noisy 40 x 56 frames: PNG barely compresses them
    assert caplog.text.count("no segment_encoded signature (its signatures are describe_queries, segment_encoded_png, "
                             "segment_queries, serving_default): each frame is sent as JSON numbers, 7 to 40 times "
                             "more bytes") == 1


def test_over_rest_masks_without_probabilities_come_back_as_png(exported_run):
    """`acga predict` over REST writes masks and an overlay, no probability: its answers were JSON numbers, 23.6 MB
    a 1280 x 720 frame. Now `segment_encoded_png` where served (each mask a PNG), the same masks; a model exported
    before it gets `segment_encoded`."""

    from acga_tf.apps.predict import iter_masks
    from acga_tf.apps.predictors import load_predictor

    frames = moving_frames(5, 40, 56, seed=4)
    results = {}
    for old, predictor, requests in _stand_in_predictors(exported_run, "segment_encoded_png"):
        masks = np.stack([item.masks for item in iter_masks(predictor, frames, SENTENCES[:2])])
        results[old] = masks, sorted({name for name, _ in requests} - {"describe_queries"})
    reference = np.stack([r.masks for r in predict(load_predictor(exported_run), frames, queries=SENTENCES[:2])])
    assert results[False][1] == ["segment_encoded_png"] and results[True][1] == ["segment_encoded"]
    np.testing.assert_array_equal(results[False][0], results[True][0])
    np.testing.assert_array_equal(results[False][0], reference.transpose(1, 0, 2, 3))  # (N, Q, H, W)


def test_the_last_artifact_loaded_is_loaded_once_until_its_files_change(run_dir, exported_run, tmp_path):
    """A loop of `predict(path, ...)` loads the model once (TensorFlow keeps ~100 MB of every SavedModel loaded)."""
    import shutil

    from acga_tf.apps.predictors import load_predictor

    copy = shutil.copytree(exported_run, tmp_path / "1")
    first = load_predictor(str(copy))
    assert load_predictor(copy) is first and load_predictor(str(copy) + "/") is first
    os.utime(copy / "saved_model.pb", ns=(0, 0))  # written again (an export over it)
    second = load_predictor(copy)
    assert second is not first and load_predictor(copy) is second
    run = load_predictor(run_dir)  # another artifact: only the last one is kept
    assert load_predictor(run_dir) is run and load_predictor(copy) is not second


@pytest.mark.parametrize("answer, message", [
    ({"outputs": {"mask": [1]}}, "the answer to describe_queries has no clip_length, sentence_length, words, "
                                 "known_words, unknown_words (it has mask)"),
    ({"outputs": {"clip_length": "x", "sentence_length": 8, "words": [1], "known_words": [1], "unknown_words": [""]}},
     "the answer to describe_queries gives clip_length 'x' and sentence_length 8, not integers"),
])
def test_a_server_that_is_not_an_acga_model_is_named(answer, message):
    """Before: a bare KeyError ('clip_length'), or int()'s message, naming no server."""
    import http.server
    import threading

    from acga_tf.apps.predictors import load_predictor

    class Stub(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/models/acga"
    try:
        with pytest.raises(ValueError, match=f"^{url}: " + __import__("re").escape(message)):
            load_predictor(url)
    finally:
        server.shutdown()
        server.server_close()


def test_a_saved_models_name_folder_gives_its_highest_integer_version(tmp_path):
    from acga_tf.apps.predictors import saved_model_version

    for name in ("2", "10", "9", "11", "x1", "10.partial"):
        (tmp_path / name).mkdir()
        if name != "11":  # a version folder still being written has no saved_model.pb yet
            (tmp_path / name / "saved_model.pb").write_bytes(b"")
    assert saved_model_version(str(tmp_path)) == str(tmp_path / "10")  # 10 > 9 > 2, as integers
    assert saved_model_version(str(tmp_path / "9")) == str(tmp_path / "9")
    assert saved_model_version(str(tmp_path / "11")) is None


def test_a_saved_models_name_folder_says_which_version_it_uses(exported_run, caplog):
    """A newcomer's `acga -v predict --model saved_models/acga` named no version."""
    with caplog.at_level("INFO", logger="acga_tf.apps.predictors"):
        load_predictor(os.path.dirname(exported_run))
    assert f"{os.path.dirname(exported_run)}: using its version 1, the highest" in caplog.text


def test_a_relative_path_not_found_names_the_current_folder(tmp_path, monkeypatch, capsys):
    """A workshop tester's `--model demo_output/run` typed in another folder: "demo_output/run: not found"."""
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "--model", "m", "--video", "nope.mp4", "--query", QUERY]) == 2
    assert capsys.readouterr().err.startswith(f"acga predict: error: nope.mp4: video file not found (in {tmp_path}, "
                                              "the current folder)")
    with pytest.raises(FileNotFoundError, match=f"^demo/run: not found in {re.escape(str(tmp_path))}, the current "):
        load_predictor("demo/run")
    assert main(["predict", "--model", "m", "--list", "nosuch.csv", "--output-dir", "o"]) == 2
    assert f"nosuch.csv: list file not found (in {tmp_path}, the current folder)" in capsys.readouterr().err


def test_a_still_image_is_segmented_with_a_warning(run_dir, tmp_path, caplog):
    """A workshop tester's photo as --video: "1 frames (890x1810)", without a word that nothing could move in it; a
    service's upload through `iter_masks` got no word either."""
    warning = "one frame (a still image?): segmented as a clip of that frame repeated 8 times, in which nothing moves"
    photo = moving_frames(1, 40, 56)[0]
    Image.fromarray(photo).save(tmp_path / "photo.png")
    assert main(["predict", "--model", run_dir, "--video", str(tmp_path / "photo.png"), "--query", QUERY,
                 "--frames-dir", str(tmp_path / "m"), "--no-progress"]) == 0
    assert caplog.text.count(warning) == 1
    assert os.listdir(tmp_path / "m") == ["00001.png"]
    caplog.clear()
    predictor = load_predictor(run_dir)
    assert len(list(iter_masks(predictor, [photo], [QUERY]))) == 1 and caplog.text.count(warning) == 1
    caplog.clear()
    assert len(list(iter_masks(predictor, [photo, photo], [QUERY], first=1))) == 1 and warning not in caplog.text
    with pytest.raises(acga_tf.InputError, match=r"^first=5: past the end of the frames \(2\)$"):
        list(iter_masks(predictor, [photo, photo], [QUERY], first=5))  # before: no mask and no word
    assert list(iter_masks(predictor, [], [QUERY])) == []  # an empty stream


def test_messages_quote_a_long_sentence_by_its_start():
    """A workshop tester's 423-word sentence was printed whole three times (the summary and two warnings)."""
    assert quoted("the red circle") == "'the red circle'"
    long = "the red circle " * 30
    assert quoted(long) == repr(long[:80]) + "..." and len(quoted(long)) == 85


def test_a_folder_above_models_names_the_models_in_it(tmp_path, capsys):
    """A workshop tester's `--model demo_output` (the demo's folder) and `--model demo_output/saved_models`: "...
    /model.keras: missing", not where the models were."""
    demo = tmp_path / "demo"
    (demo / "run").mkdir(parents=True)
    (demo / "run" / "model.keras").write_bytes(b"")
    (demo / "saved_models" / "acga" / "1").mkdir(parents=True)
    (demo / "saved_models" / "acga" / "1" / "saved_model.pb").write_bytes(b"")
    (demo / "a2d_sentences" / "Release").mkdir(parents=True)
    video = write_video(tmp_path / "v.mp4", moving_frames(3, 24, 32), "libx264", "yuv420p")
    for model, inside in ((demo, ["run", "saved_models/acga"]), (demo / "saved_models", ["acga"])):
        assert main(["predict", "--model", str(model), "--video", video, "--query", QUERY]) == 2
        assert capsys.readouterr().err == (f"acga predict: error: {model}: holds no model itself; models in it: "
                                           f"{', '.join(str(model / name) for name in inside)}: give one of them\n")
    assert main(["predict", "--model", str(demo / "a2d_sentences"), "--video", video, "--query", QUERY]) == 2
    assert ": missing (a trained run holds" in capsys.readouterr().err
    # evaluate reads runs only: the SavedModel is not offered (a QA tester followed the hint, then was refused)
    assert main(["evaluate", "--model", str(demo), "--data", "x"]) == 2
    assert capsys.readouterr().err == (f"acga evaluate: error: {demo}: holds no model itself; models in it: "
                                       f"{demo / 'run'}: give one of them\n")


def test_a_runs_checkpoints_folder_is_named_as_such(tmp_path, capsys):
    """A tester's `acga export --model RUN/checkpoints` was told to put vocab.txt and embeddings.npy beside the
    folder's model.keras, which a checkpoints folder never holds (`acga evaluate` scores it checkpoint by
    checkpoint)."""
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    for name in ("epoch-01.keras", "epoch-02.keras"):
        (checkpoints / name).write_bytes(b"")
    video = write_video(tmp_path / "v.mp4", moving_frames(3, 24, 32), "libx264", "yuv420p")
    for command in (["export", "--output", str(tmp_path / "out" / "1")], ["predict", "--video", video, "--query",
                                                                          QUERY]):
        assert main([command[0], "--model", str(checkpoints), *command[1:]]) == 2
        assert capsys.readouterr().err == (f"acga {command[0]}: error: {checkpoints}: a run's checkpoints folder "
                                           "(epoch-01.keras, epoch-02.keras): give one of its checkpoints, or the "
                                           f"run's folder {tmp_path / 'run'} for its final model\n")


def test_a_keras_file_without_its_vocabulary_is_a_clear_error(run_dir, tmp_path, capsys):
    import shutil

    lone = tmp_path / "lone" / "acga.keras"
    lone.parent.mkdir()
    shutil.copy(os.path.join(run_dir, "model.keras"), lone)
    path = write_video(tmp_path / "v.mp4", moving_frames(3, 24, 32), "libx264", "yuv420p")
    assert main(["predict", "--model", str(lone), "--video", path, "--query", QUERY, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("acga predict: error:") and "vocab.txt: missing" in err and "\n" not in err


def test_three_sentences_in_one_call_equal_three_single_calls_and_encode_each_clip_once(run_dir, monkeypatch):
    import tensorflow as tf

    from acga_tf.apps.predictors import KerasPredictor
    from acga_tf.training.artifacts import load_trained

    trained = load_trained(run_dir)
    encoder = trained.model.stage("video_encoder")
    clips = tf.Variable(0, dtype=tf.int32)  # clips through the I3D encoder, counted in the traced graph too
    real_call = encoder.call

    def counting_call(video, *args, **kwargs):
        clips.assign_add(tf.shape(video)[0])
        return real_call(video, *args, **kwargs)

    monkeypatch.setattr(encoder, "call", counting_call)
    frames = moving_frames(10, 40, 56, seed=4)
    together = predict(KerasPredictor(trained), frames, queries=SENTENCES, batch_size=4)
    encoded_together = int(clips.numpy())
    singles = []
    for sentence in SENTENCES:
        clips.assign(0)
        singles.append(predict(KerasPredictor(trained), frames, sentence, batch_size=4))
        assert int(clips.numpy()) == encoded_together  # the same clips, whatever the number of sentences
    assert encoded_together == 10  # 10 frames in batches of 4, each as it is (until 2026-12-03 the last was padded: 12)
    for result, single in zip(together, singles):
        assert result.query == single.query
        np.testing.assert_array_equal(result.masks, single.masks)
        # the head runs b·Q pairs at once, 6 against 2 in the last batch of 2 clips: oneDNN's kernels for another
        # batch round differently (1.5e-6 measured; with that batch padded to 4 clips, under 1e-6)
        np.testing.assert_allclose(result.probabilities, single.probabilities, atol=1e-5)


def test_frames_prepared_together_are_those_prepared_one_by_one(trained):
    """A performance tester's: each frame letterboxed in its own eager call cost 8% of `acga predict`'s time; the
    window now prepares the frames pending at once, with the same values to the bit and so the same masks."""
    from acga_tf.apps.predict import iter_masks
    from acga_tf.apps.predictors import KerasPredictor

    frames = moving_frames(13, 30, 44, seed=7)
    predictor = KerasPredictor(trained)
    together = np.stack(predictor.prepare_many(list(frames)))
    np.testing.assert_array_equal(together, np.stack([predictor.prepare(frame) for frame in frames]))
    calls = []
    real = predictor.prepare_many
    predictor.prepare_many = lambda batch: calls.append(len(batch)) or real(batch)
    masks = np.stack([item.masks for item in iter_masks(predictor, frames, [QUERY], batch_size=4)])
    assert sum(calls) == 13 and len(calls) < 13, calls  # each frame once, several at a time
    np.testing.assert_array_equal(masks[:, 0], predict(trained, frames, QUERY, batch_size=1).masks)


def test_iter_masks_streams_with_a_bounded_frame_window(trained):
    from acga_tf.apps.predict import FrameWindow, iter_masks
    from acga_tf.apps.predictors import load_predictor

    frames = moving_frames(41, 24, 32, seed=5)
    pulled = []

    def source():  # a lazy source that records how many frames were read when each mask came out
        for frame in frames:
            pulled.append(1)
            yield frame

    window, t, batch = FrameWindow(), trained.config.clip_length, 3
    lags = []
    items = []
    for item in iter_masks(load_predictor(trained), source(), [QUERY], batch_size=batch, window=window):
        lags.append(len(pulled) - item.index)
        items.append(item)
        assert item.probabilities is None  # only when asked for
    assert [i.index for i in items] == list(range(41))
    assert window.longest <= t + batch - 1, window.longest  # never the whole video
    assert max(lags) <= t + batch, max(lags)  # each mask comes out a bounded number of frames after its frame
    whole = predict(trained, frames, QUERY, batch_size=batch)
    np.testing.assert_array_equal(np.stack([i.masks[0] for i in items]), whole.masks)
    np.testing.assert_array_equal(np.stack([i.frame for i in items]), frames)


def test_a_live_streams_clips_can_take_past_frames_only(trained):
    """A robotics tester's camera got each frame's mask (T+1)//2 - 1 frames late (3 for the demo's T = 8): a clip
    centred on its frame needs the frames after it. `lookahead=0` makes each clip the frame and the T - 1 before it:
    the mask comes as soon as the frame does (docs/serving.md#live-video)."""
    from acga_tf.apps.predict import iter_masks
    from acga_tf.apps.predictors import load_predictor

    frames, t = moving_frames(20, 24, 32, seed=5), trained.config.clip_length
    predictor = load_predictor(trained)
    for lookahead in (0, 2):
        pulled = []

        def source():
            for frame in frames:
                pulled.append(1)
                yield frame

        lags, items = [], []
        for item in iter_masks(predictor, source(), [QUERY], batch_size=1, lookahead=lookahead):
            lags.append(len(pulled) - 1 - item.index)
            items.append(item)
        assert [i.index for i in items] == list(range(20))
        assert max(lags[:-lookahead or None]) == lookahead  # the frames after it that each mask waited for
        offsets = np.arange(t) - (t - 1 - lookahead)  # the clip: the frame, `lookahead` after it, the rest before
        clips = np.stack(predictor.prepare_many(list(frames)))[np.clip(np.arange(20)[:, None] + offsets, 0, 19)]
        expected = predictor.segment(clips, [QUERY], 24, 32)["mask"][:, 0]
        np.testing.assert_array_equal(np.stack([i.masks[0] for i in items]), expected)
    centred = [i.masks for i in iter_masks(predictor, frames, [QUERY], lookahead=(t + 1) // 2 - 1)]
    np.testing.assert_array_equal(np.stack(centred), np.stack([i.masks for i in iter_masks(predictor, frames,
                                                                                            [QUERY])]))
    for bad in (t, -1, 1.5, True):
        with pytest.raises(ValueError, match=rf"lookahead={bad!r}: must be an integer from 0 to {t - 1} \(the "
                                             rf"model's clips are {t} frames\)"):
            next(iter_masks(predictor, frames, [QUERY], lookahead=bad))


@pytest.mark.parametrize("first, stop, batch", [(0, 5, 3), (1, 2, 4), (6, 17, 3), (30, None, 4), (40, None, 1),
                                                 (0, None, 2)])
def test_a_range_of_frames_gets_the_masks_of_the_whole_video_and_reads_only_what_its_clips_need(trained, first, stop,
                                                                                              batch):
    from acga_tf.apps.predict import iter_masks
    from acga_tf.apps.predictors import load_predictor

    frames = moving_frames(41, 24, 32, seed=5)
    pulled = []

    def source():
        for frame in frames:
            pulled.append(1)
            yield frame

    items = list(iter_masks(load_predictor(trained), source(), [QUERY], batch_size=batch, first=first, stop=stop))
    t = trained.config.clip_length
    assert [i.index for i in items] == list(range(first, stop or 41))
    whole = predict(trained, frames, QUERY, batch_size=batch)
    np.testing.assert_array_equal(np.stack([i.masks[0] for i in items]), whole.masks[first:stop])
    # Decoding stops one frame past the last clip's reach (stop - 1 + after), or at the video's end.
    assert len(pulled) == (41 if stop is None else min(41, stop - 1 + (t + 1) // 2 + 1))


def test_a_mistyped_option_value_is_one_line(capsys):
    # a long-video tester's `--start abc`: argparse's six-line usage block came before the error
    with pytest.raises(SystemExit) as stopped:
        main(["predict", "--model", "m", "--video", "v.mp4", "--query", QUERY, "--start", "abc"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == ("acga predict: error: argument --start: 'abc' is not a time: give seconds "
                                       "(90.5) or [HH:]MM:SS[.fff] (1:30.5) (`acga predict --help` lists the "
                                       "options)\n")
    # a QA tester's `1:60` read as 120 s and `1_0` (Python's float) as 10 s
    for value, message in (("1:60", "'1:60': minutes and seconds after a ':' must be under 60"),
                           ("99:99:99", "'99:99:99': minutes and seconds after a ':' must be under 60"),
                           ("1_0", "'1_0' is not a time"), ("0x10", "'0x10' is not a time")):
        with pytest.raises(SystemExit):
            main(["predict", "--model", "m", "--video", "v.mp4", "--query", QUERY, "--start", value])
        assert capsys.readouterr().err.startswith(f"acga predict: error: argument --start: {message}")


def test_cli_predict_start_and_end_in_seconds(run_dir, videos, tmp_path, capsys):
    path, _ = videos["mp4"]  # 20 frames at 12 fps
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(whole),
                 "--no-progress"]) == 0
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(part),
                 "--output", str(tmp_path / "part.mp4"), "--start", "0.5", "--end", "00:00:01", "--no-progress"]) == 0
    out = capsys.readouterr().out  # (a time as editors write it, [HH:]MM:SS[.fff], as well as seconds)
    assert "6 frames (100x72), frames 7 to 12 of the video (0.50 s to 1.00 s)" in out  # frame i is shown at i / 12 s
    assert sorted(os.listdir(part)) == [f"{i:05d}.png" for i in range(7, 13)]  # the video's frame numbers
    for name in os.listdir(part):
        np.testing.assert_array_equal(np.asarray(Image.open(part / name)), np.asarray(Image.open(whole / name)))
    assert load_video(str(tmp_path / "part.mp4"))[0].shape[0] == 6
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir",
                 str(tmp_path / "end"), "--start", "1", "--end", "inf", "--no-progress"]) == 0  # to the video's end
    assert sorted(os.listdir(tmp_path / "end")) == [f"{i:05d}.png" for i in range(13, 21)]
    for argv, message in (
            (["--start", "2"], f"{path}: --start 2.0 is frame 25, past the video's end (20 frames, 1.67 s at 12 fps)"),
            (["--start", "1", "--end", "1"], "--end 1.0: must be a time in seconds after --start (1.0)"),
            # a long-video tester's: a range in which no frame is shown segmented the frame after it
            (["--start", "0.51", "--end", "0.52"], "--start 0.51 --end 0.52: no frame is shown in that time (the next, "
                                                   "frame 8, at 0.583 s); widen the range"),
            (["--start", "nan"], "--start nan: must be a time in seconds, 0 or more"),
            (["--start", "inf"], "--start inf: must be a time in seconds, 0 or more"),
            (["--start", "1e308"], f"{path}: --start 1e+308 is past the video's end (20 frames, 1.67 s at 12 fps)"),
            # within the video's length, after its last frame is shown; before: "--start 1.62 is frame 21, past the
            # video's end (20 frames, 1.67 s at 12 fps)", a time before the end said to be past it
            (["--start", "1.62"], f"{path}: no frame is shown from --start 1.62 on: the last, frame 20, is shown from "
                                  "1.58 s (20 frames, 1.67 s at 12 fps)")):
        assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir",
                     str(tmp_path / "none"), "--no-progress", *argv]) == 2
        assert capsys.readouterr().err.strip() == f"acga predict: error: {message}"
        assert not (tmp_path / "none").exists()
    # WebM declares no frame count: the start is found past the end by reading (the same line; the reader seeks)
    webm = write_video(tmp_path / "clip.webm", moving_frames(20, 48, 64, seed=2), "libvpx-vp9", "yuv420p")
    assert main(["predict", "--model", run_dir, "--video", webm, "--query", QUERY, "--frames-dir",
                 str(tmp_path / "webm"), "--no-progress", "--start", "5"]) == 2
    assert capsys.readouterr().err.strip() == (f"acga predict: error: {webm}: --start 5.0 is frame 61, past the "
                                               "video's end (12 fps)")


def test_cli_predict_progress_into_a_log_is_redrawn_rarely(run_dir, tmp_path, capsys):
    # stderr is not a terminal here (`2> log`): a redraw every 30 s at most, not one every 0.1 s (15 here before);
    # and the bar's last state, its frames and speed, at the end (a performance tester's log of a 27 s run had none)
    path = write_video(tmp_path / "clip.mp4", moving_frames(60, 48, 64, seed=12), "libx264", "yuv420p")
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--batch-size", "1",
                 "--frames-dir", str(tmp_path / "m")]) == 0
    out, err = capsys.readouterr()
    # each redraw a line of its own in plain ASCII (a documentation reviewer's log held carriage returns and tqdm's
    # block characters, though the README said it did not)
    draws = err.splitlines()
    assert len(draws) <= 2 and "\r" not in err and err.isascii(), draws
    assert re.fullmatch(r"predict: 60/60 frames \[\d\d:\d\d<00:00, +[\d.]+(frames?/s|s/frame)\]", draws[-1]), draws
    assert "60 frames (64x48)" in out


def test_cli_predict_start_decodes_from_the_keyframe_before_the_part(run_dir, tmp_path, capsys, monkeypatch):
    """A part of a long video: the reader seeks to the keyframe before the first frame the part's clips take
    (docs/data.md#videos), and the masks are still the whole video's."""
    frames = moving_frames(48, 48, 64, seed=11)  # 4 s at 12 fps, a keyframe every 8 frames
    path = write_video(tmp_path / "long.mp4", frames, "libx264", "yuv420p", codec_options=X264_GOP_8)
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(whole),
                 "--no-progress"]) == 0
    decoded = count_decoded(monkeypatch)
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(part),
                 "--output", str(tmp_path / "part.mp4"), "--start", "3", "--end", "3.5", "--no-progress"]) == 0
    assert "6 frames (64x48), frames 37 to 42 of the video (3.00 s to 3.50 s)" in capsys.readouterr().out
    assert sorted(os.listdir(part)) == [f"{i:05d}.png" for i in range(37, 43)]
    for name in os.listdir(part):
        np.testing.assert_array_equal(np.asarray(Image.open(part / name)), np.asarray(Image.open(whole / name)))
    # The clips of frames 36 to 41 (T = 8) take frames 32 to 44; frame 32 is a keyframe. Decoded: the first frame
    # (the video is checked before the model loads), then frames 32 to 45 (decoding stops one past the clips' reach).
    assert len(decoded) == 1 + 14, decoded


def test_cli_several_queries_write_one_mask_track_and_colour_each_with_a_legend(run_dir, videos, tmp_path, capsys):
    from acga_tf.apps.predict import OVERLAY_COLORS, legend

    path, _ = videos["mp4"]
    decoded, _ = load_video(path)
    n, h, w = decoded.shape[:3]
    out = tmp_path / "masks"
    argv = ["predict", "--model", run_dir, "--video", path, "--frames-dir", str(out), "--output",
            str(tmp_path / "overlay.gif"), "--no-progress"]
    assert main(argv + sum((["--query", q] for q in SENTENCES), [])) == 0
    printed = capsys.readouterr().out
    assert f"{n} frames ({w}x{h})" in printed
    for k, (q, colour) in enumerate(zip(SENTENCES, ("vermillion", "blue", "bluish green"))):
        # numbered as the legend and the folders, the colour named (a screen-reader user could not pair them)
        assert f"  {k + 1}. {q!r} ({colour} in the overlay): mask covers " in printed
    assert (out / "queries.txt").read_text().splitlines() == [f"{k + 1}\t{q}" for k, q in enumerate(SENTENCES)]
    tracks = [np.stack([np.asarray(Image.open(out / str(k + 1) / f"{i:05d}.png")) // 255 for i in range(1, n + 1)])
              for k in range(3)]
    expected = predict(run_dir, path, queries=SENTENCES)
    for track, result in zip(tracks, expected):
        np.testing.assert_array_equal(track, result.masks)
    with Image.open(tmp_path / "overlay.gif") as gif:
        assert (gif.n_frames, gif.size) == (n, (w, h))
        first = np.asarray(gif.convert("RGB"))
    pixels, opacity = legend(SENTENCES, w, h)  # (too low for longer lines: a line each)
    assert pixels.shape[0] == 4 + 14 * 3 and pixels.shape[1] <= w
    # The legend's swatches are the overlay colours, in order (GIF palette: within a few levels).
    for k in range(3):
        swatch = first[3 + 14 * k + 6, 8].astype(int)
        assert np.abs(swatch - np.array(OVERLAY_COLORS[k])).max() <= 24, (k, swatch)


def test_the_legend_draws_each_sentence_in_a_font_that_has_its_letters(caplog):
    """A multilingual tester's overlay legend drew every letter outside ASCII as a box, Spanish "í" included, without
    a word (Pillow's default font); `acga visualize` drew them. Now a font with the letters (Matplotlib's DejaVu
    Sans: Latin, Cyrillic, Arabic, ...), and a warning naming the characters no font here has."""
    from acga_tf.apps.predict import legend, legend_font

    for sentence in ("el círculo rojo", "Красный квадрат", "الدائرة الحمراء"):
        path, lacking = legend_font(sentence)
        assert os.path.basename(path) == "DejaVuSans.ttf" and lacking == [], (sentence, path, lacking)
    unknown = "\U0010fffd"  # a private-use character: no font has it
    with caplog.at_level("WARNING"):
        drawn, _ = legend(["í"], 100)
        boxed, _ = legend([unknown], 100)
    assert caplog.text.count("legend has no font with a glyph for") == 1
    assert "glyph for U+10FFFD: drawn as a box" in caplog.text  # an invisible character named by its code point
    assert not np.array_equal(drawn, boxed)  # "í" is a letter, not the box of a missing glyph
    caplog.clear()
    with caplog.at_level("WARNING"):  # more sentences than the frame has lines (a QA tester's 9 on a 64-pixel video)
        pixels, _ = legend(["a", "b", "c"], 100, 20)
    assert "legend shows 1 of the 3 sentences whole: the frame is 20 pixels high" in caplog.text


def test_a_png_overlay_is_one_frames_and_more_frames_are_refused(run_dir, tmp_path, capsys):
    """A figure-making tester had only .mp4 and .gif overlays, even for a photo: `--output x.png` writes one frame's
    overlay (a photo, or a part of a video of one frame); more frames are refused before any work (a raw stream,
    which declares no length: the next test)."""
    from acga_tf.apps.predict import legend, overlay_frame

    frames = moving_frames(6, 40, 56, seed=5)
    video = write_video(tmp_path / "clip.mkv", frames, "ffv1", "bgr0")  # lossless: the frames as written
    queries = ["--query", QUERY, "--query", "a blue square walking"]
    assert main(["predict", "--model", run_dir, "--video", video, *queries, "--start", str(2 / 12), "--end",
                 str(2.5 / 12), "--output", str(tmp_path / "still.png"), "--frames-dir", str(tmp_path / "m"),
                 "--no-progress"]) == 0
    assert "1 frame (56x40), frames 3 to 3 of the video" in capsys.readouterr().out
    masks = np.stack([np.asarray(Image.open(tmp_path / "m" / str(k) / "00003.png")) // 255 for k in (1, 2)])
    expected = overlay_frame(frames[2], masks, legend([QUERY, "a blue square walking"], 56, 40))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "still.png")), expected)
    Image.fromarray(frames[0]).save(tmp_path / "photo.jpg", quality=95)
    assert main(["predict", "--model", run_dir, "--video", str(tmp_path / "photo.jpg"), "--query", QUERY, "--output",
                 str(tmp_path / "photo_overlay.png"), "--no-progress"]) == 0
    assert Image.open(tmp_path / "photo_overlay.png").size == (56, 40)
    capsys.readouterr()
    assert main(["predict", "--model", run_dir, "--video", video, "--query", QUERY, "--output",
                 str(tmp_path / "all.png"), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (f"acga predict: error: {tmp_path / 'all.png'}: a PNG overlay holds one "
                                               "frame; 6 frames are to be segmented: give --start and --end around "
                                               "one, or write an .mp4 or .gif")


def test_a_raw_h264_stream_into_a_png_overlay_is_refused_before_any_model_work(run_dir, tmp_path, capsys,
                                                                                  monkeypatch):
    """A raw H.264 stream tells neither its frame count nor its frames' times: a PNG overlay (one frame) of more was
    refused at the second frame, once the model was loaded and had segmented the first. It is now decoded up to its
    second frame first, and refused before the model is loaded; one frame of it (the stream's only one, or a part)
    is still written."""
    from acga_tf.apps import predict as module

    loaded = []
    load = module.load_predictor
    monkeypatch.setattr(module, "load_predictor", lambda *args, **kwargs: loaded.append(args) or load(*args, **kwargs))
    raw = write_video(tmp_path / "clip.h264", moving_frames(6, 40, 56, seed=5), "libx264", "yuv420p")
    assert module.video_info(raw).frames is None and module.frame_times(raw) is None  # (neither count nor times)
    out = tmp_path / "w.png"
    assert main(["predict", "--model", run_dir, "--video", raw, "--query", QUERY, "--output", str(out),
                 "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"acga predict: error: {out}: a PNG overlay holds one frame, and the video has "
                                       "more: segment one frame (--start and --end), or write an .mp4 or .gif\n")
    assert loaded == [] and not out.exists() and not (tmp_path / "w.png.tmp").exists()
    # --start alone: the frames from there are counted (frame 5 on: two)
    assert main(["predict", "--model", run_dir, "--video", raw, "--query", QUERY, "--output", str(out), "--start",
                 str(4 / 25), "--no-progress"]) == 2
    assert "a PNG overlay holds one frame, and the video has more" in capsys.readouterr().err and loaded == []
    # one frame: a part (raw H.264's frame i is at i / 25 s), the last frame, a stream of one
    single = write_video(tmp_path / "one.h264", moving_frames(1, 40, 56, seed=6), "libx264", "yuv420p")
    for video, part in ((raw, ["--start", str(2 / 25), "--end", str(3 / 25)]), (raw, ["--start", str(5 / 25)]),
                        (single, [])):
        assert main(["predict", "--model", run_dir, "--video", video, "--query", QUERY, "--output", str(out), *part,
                     "--no-progress"]) == 0, capsys.readouterr().err
        assert capsys.readouterr().out.startswith("1 frame (56x40)") and Image.open(out).size == (56, 40)
        out.unlink()
    assert len(loaded) == 3


def test_the_legend_grows_with_the_frame():
    """A VFX user's 1080x1920 overlay had the 11-pixel legend of a 320x240 one, unreadable at a phone's preview size:
    it is drawn `legend_scale` times larger, one step a 360 pixels of the frame's shorter side."""
    from acga_tf.apps.predict import legend, legend_scale

    sentences = ["the yellow circle moving right", "a blue square walking"]
    assert [legend_scale(w, h) for w, h in ((320, 240), (1280, 720), (1080, 1920), (3840, 2160))] == [1, 2, 3, 6]
    small, _ = legend(sentences, 320, 240)
    assert small.shape[0] == 4 + 14 * 2  # as before: two lines of 14 pixels
    for width, height in ((1280, 720), (1080, 1920)):
        scale = legend_scale(width, height)
        pixels, opacity = legend(sentences, width, height)
        assert pixels.shape[0] == scale * small.shape[0] and pixels.shape[1] >= 0.9 * scale * small.shape[1]
        swatch = pixels[3 * scale + scale + 1, 3 * scale + 1]  # inside sentence 1's swatch
        assert tuple(swatch) == (213, 94, 0) and opacity[3 * scale + scale + 1, 3 * scale + 1, 0] == 1.0


def test_sentences_past_the_palettes_colours_are_said_to_share_them(caplog):
    """A ninth sentence's masks were drawn in the first's vermillion, the second's blue, without a word: the legend
    says which sentences share a colour; seven sentences, one colour each, say nothing."""
    from acga_tf.apps.predict import OVERLAY_PALETTE, legend

    with caplog.at_level(logging.WARNING, logger="acga_tf"):
        legend([f"person {k}" for k in range(len(OVERLAY_PALETTE))], 640, 480)
    assert "share" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="acga_tf"):
        pixels, _ = legend([f"person {k}" for k in range(9)], 640, 480)
    assert "9 sentences and 7 colours: sentences share colours (8 with 1, 9 with 2)" in caplog.text
    assert tuple(pixels[3 + 1 + 14 * 7, 4]) == (213, 94, 0)  # sentence 8's swatch: the first's colour


def test_a_legend_sentence_wider_than_the_frame_goes_on_over_more_lines(caplog):
    """A tester's long sentence was cut at the frame's edge without a word: it is broken at spaces (inside a word only
    where the word alone is wider: Chinese has no spaces), each line within the frame; on a frame too narrow for a
    line of a few letters the legend says it cuts them."""
    from PIL import ImageFont

    from acga_tf.apps.predict import _cut, _wrapped, legend, legend_font

    long = "the man in the blue shirt on the left is shooting the basketball at the hoop"
    with caplog.at_level("WARNING"):
        pixels, _ = legend(["the dog", long], 160, 120)
    assert caplog.text == ""
    assert pixels.shape[1] <= 160 and pixels.shape[0] > 4 + 14 * 2  # more lines than sentences
    font = ImageFont.truetype(legend_font(long)[0], 11)
    lines = _wrapped(long, font, 120)
    assert " ".join(lines) == long and len(lines) > 1 and all(font.getlength(text) <= 120 for text in lines)
    chinese = "穿蓝色衬衫的男人正在投篮球" * 3
    lines = _wrapped(chinese, ImageFont.truetype(legend_font(chinese)[0], 11), 60)
    assert "".join(lines) == chinese and len(lines) > 1
    with caplog.at_level("WARNING"):  # too low for its lines: one line each, the long one cut, with "…"
        pixels, _ = legend(["the dog", long], 160, 40)
    assert pixels.shape[0] == 4 + 14 * 2 and pixels.shape[1] <= 160
    assert ("legend cuts sentence 2 to a line: the frame is 40 pixels high, too low for more lines (the summary "
            "gives it whole)") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        pixels, _ = legend(["the dog", long, "the cat on the sofa"], 48)
    assert pixels.shape[1] <= 48
    assert "legend cuts sentences 1, 2, 3 to a line: the frame is 48 pixels wide (the summary gives them whole)" in \
        caplog.text
    assert _cut(long, font, 100).endswith("…") and font.getlength(_cut(long, font, 100)) <= 100


# === A full disk midway; a --frames-dir used again (docs/serving.md#predict) ===
def _saves_fail_at(monkeypatch, call):
    """From now on, the `call`-th save of a Pillow image (1-based: mask PNGs as they are written, a GIF overlay at its
    end) writes a few bytes, as a disk that fills up mid-file takes them, then fails as Pillow does on a full disk:
    ENOSPC, naming no file."""
    real, calls = Image.Image.save, []

    def save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == call:
            with open(fp, "wb") as f:
                f.write(b"\x89PNG\r\n")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)


def _mp4_close_fails(monkeypatch):
    """From now on, the first MP4 finished fails as PyAV does on a full disk: ENOSPC, naming the file it writes (the
    overlay's temporary one), once its bytes are in that file."""
    import av

    from acga_tf.data import video

    real, failed = video.Mp4Writer.close, []

    def close(self):
        real(self)
        if not failed:
            failed.append(self.container.name)
            raise av.error.OSError(errno.ENOSPC, "No space left on device", self.container.name)

    monkeypatch.setattr(video.Mp4Writer, "close", close)


def test_masks_past_frame_99999_are_a_runs_own_and_a_part_stopped_says_which_it_holds(run_dir, tmp_path):
    """A reviewer's: frame 100,000's mask, `100000.png`, was "a file predict did not write", so a rerun into the
    folder of a video past 55 minutes at 30 fps was refused (six digits are a mask's, to frame 999,999; then seven,
    to frame 9,999,999: past 9 hours at 30 fps, `1000000.png` was refused alike); a part
    (`start`) stopped 3 frames in said the folder held "the masks of the first 15 frames" (before, "the first 3")."""
    from acga_tf.apps.predict import _is_mask, check_outputs

    video = write_video(tmp_path / "clip.mp4", moving_frames(24, 40, 56, seed=7), "libx264", "yuv420p")
    assert _is_mask("100000.png", ()) and _is_mask("999999.png.tmp", ()) and not _is_mask("1234.png", ())
    assert _is_mask("1000000.png", ()) and _is_mask("9999999.png.tmp", ()) and not _is_mask("0123456.png", ())
    # a user's dated picture is not taken for a mask, which a rerun would remove (a reviewer's `20240101.png`)
    assert not _is_mask("20240101.png", ()) and not _is_mask("012345.png", ())
    folder = tmp_path / "masks"
    folder.mkdir()
    for name in ("00001.png", "99999.png", "100000.png", "1000000.png"):
        (folder / name).write_bytes(b"an earlier run's")
    check_outputs(video, None, str(folder))  # (refused before: "holds files predict did not write (100000.png)")
    written = []

    def stop_after_3(count):
        written.append(count)
        if len(written) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match=rf"^after 3 frames; {re.escape(str(tmp_path / 'part'))} holds the "
                                                r"masks of frames 13 to 15$"):
        predict_to_files(run_dir, video, QUERY, frames_dir=str(tmp_path / "part"), start=1.0, progress=stop_after_3)
    assert sorted(os.listdir(tmp_path / "part")) == ["00013.png", "00014.png", "00015.png"]


@pytest.mark.parametrize("sentences", [1, 2])
def test_a_video_stopped_mid_way_goes_on_where_it_stopped(sentences, run_dir, tmp_path, monkeypatch, capfd, caplog):
    """`acga predict --video --frames-dir` stopped 13 frames into a 30-frame video segmented it again from frame 1
    (a long video's hours; only a one-row `--list` went on). The same command now goes on from the last frame every
    sentence has (segmented again), the masks and summary as an uninterrupted run's; another job's run into the folder,
    stopped, puts the stopped job's masks and record back, so that job still goes on; an overlay asked for starts
    over (a stopped run kept none)."""
    from acga_tf.apps import predict as predict_module
    from acga_tf.apps.predict import STARTED_FILE
    from acga_tf.ops import files, progress

    video = write_video(tmp_path / "long.mp4", moving_frames(30, 40, 56, seed=5), "libx264", "yuv420p")
    queries = SENTENCES[:sentences]
    real, counted = cli.predict_to_files, []

    def stopping_after(frames):
        def run(*args, progress=None, **kwargs):
            def step(count):
                progress(count)
                counted.append(count)
                if frames and sum(counted) >= frames:
                    raise KeyboardInterrupt
            return real(*args, progress=step, **kwargs)
        counted.clear()
        monkeypatch.setattr(cli, "predict_to_files", run)

    def predict_into(folder, *more, query=queries):
        argv = ["predict", "--model", run_dir, "--video", video, "--frames-dir", str(folder), "--no-progress",
                *sum((["--query", q] for q in query), []), *more]
        caplog.clear()
        with caplog.at_level("WARNING"):
            code = main(argv)
        said = capfd.readouterr()
        return code, said.out, said.err + caplog.text

    def stopped_at(frames):
        """A fresh run of the job into `out`, stopped `frames` frames in."""
        shutil.rmtree(out, ignore_errors=True)
        stopping_after(frames)
        assert predict_into(out)[0] == 130

    def goes_on_from(frame):
        """The job run again to its end: it goes on from `frame`."""
        stopping_after(0)
        code, _, said = predict_into(out)
        assert code == 0 and f"going on from frame {frame}," in said, said

    def masks(folder):
        layout = [folder / str(k + 1) for k in range(sentences)] if sentences > 1 else [folder]
        return [(sorted(os.listdir(f)), [np.asarray(Image.open(f / n)) for n in sorted(os.listdir(f))])
                for f in layout]

    stopping_after(0)
    code, whole_printed, _ = predict_into(tmp_path / "whole")
    assert code == 0
    whole = masks(tmp_path / "whole")
    out = tmp_path / "out"
    stopping_after(13)
    code, _, said = predict_into(out)
    assert code == 130 and "holds the masks of the first 13 frames; the same command goes on from there\n" in said
    assert (out / STARTED_FILE).exists()
    stopping_after(5)  # stopped again, going on: its message counts both
    code, _, said = predict_into(out)
    assert code == 130 and "after 5 frames (from frame 13); " in said and "the first 17 frames;" in said, said
    os.symlink(video, tmp_path / "link.mp4")  # the same file through a link: the same job (a tester's)
    video = str(tmp_path / "link.mp4")
    os.symlink(out, tmp_path / "out_link")  # the folder through a link too (a reviewer's: its masks were removed)
    if sentences > 1:  # a kill while `queries.txt` was written again left its temporary file (a reviewer's: refused)
        (out / "queries.txt.tmp").write_text("1\tthe")
    totals = []

    class Bar(progress.tqdm):  # the bar's totals, as the command sets them
        def __setattr__(self, name, value):
            if name == "total":
                totals.append(value)
            super().__setattr__(name, value)

    monkeypatch.setattr(progress, "tqdm", Bar)
    stopping_after(0)
    code, printed, said = predict_into(tmp_path / "out_link")
    assert totals[:2] == [30, 30 - 16]  # the bar counts the frames left
    assert code == 0, said
    assert f"{video}: going on from frame 17, where a stopped run of the same job left it (its first 16 frames' " \
           "masks are kept)" in said
    assert sum(counted) == 30 - 16 and printed.startswith(f"30 frames (56x40) -> {tmp_path / 'out_link'}\n")
    assert printed.splitlines()[1:] == whole_printed.splitlines()[1:]  # each sentence's coverage and empty frames
    for (names, arrays), (expected_names, expected) in zip(masks(out), whole):
        assert names == expected_names
        np.testing.assert_array_equal(arrays, expected)
    assert not (out / STARTED_FILE).exists()

    # a run with an overlay into a stopped job's folder, stopped in turn (or killed: its set-aside folder left): the
    # stopped job's masks and record are put back, and that job goes on from them
    real_write, real_restore = predict_module._write_frame_masks, predict_module._restore_earlier

    def stop_at_5(folders, index, *args, **kwargs):
        if index == 5:
            raise KeyboardInterrupt
        real_write(folders, index, *args, **kwargs)

    for killed in (False, True):
        shutil.rmtree(out)
        stopping_after(11)
        assert predict_into(out)[0] == 130
        monkeypatch.setattr(predict_module, "_write_frame_masks", stop_at_5)
        if killed:  # as a kill: nothing put back, the set-aside folder left as it is
            monkeypatch.setattr(predict_module, "_restore_earlier", lambda *args, **kwargs: None)
        stopping_after(0)
        assert predict_into(out, "--output", str(tmp_path / "o.mp4"))[0] == 130
        monkeypatch.setattr(predict_module, "_write_frame_masks", real_write)
        monkeypatch.setattr(predict_module, "_restore_earlier", real_restore)
        assert (predict_module.EARLIER_FOLDER in os.listdir(out)) == killed
        code, _, said = predict_into(out)
        assert code == 0 and "going on from frame 11," in said, said
        assert [names for names, _ in masks(out)] == [names for names, _ in whole]
    # another job's run writing masks alone (another sentence, the video touched since) is refused, nothing changed
    # (a reviewer's: a typed sentence removed hours of a stopped job's masks; before that, they were set aside and put
    # back, the new job's work lost at each stop); the stopped job then goes on
    stopped_at(11)
    before = sorted(os.listdir(out))
    code, _, said = predict_into(out, query=SENTENCES[2:])
    assert code == 2 and said.strip().endswith(
        f"{out}: holds the masks of a stopped run of another job (other sentences ({', '.join(map(repr, queries))})): "
        "its own command goes on with them; to segment this job there, remove the folder first, or choose another "
        "--frames-dir"), said
    assert sorted(os.listdir(out)) == before
    mtime = os.stat(video).st_mtime_ns
    os.utime(video, ns=(1, 1))
    code, _, said = predict_into(out)
    assert code == 2 and "(the video has changed since (its size or time modified)): no run can go on with them " \
                         "now; to segment this job there, remove the folder first" in said, said
    os.utime(video, ns=(mtime, mtime))
    goes_on_from(11)
    # a run stopped before its first mask (its record alone there): another job is not refused (a tester's: "no mask
    # was written", then refused for masks that were not there)
    shutil.rmtree(out)

    def stop_at_first(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(predict_module, "_write_frame_masks", stop_at_first)
    stopping_after(0)
    assert predict_into(out)[0] == 130
    monkeypatch.setattr(predict_module, "_write_frame_masks", real_write)
    assert STARTED_FILE in os.listdir(out) and not list(out.rglob("*.png"))
    code, _, said = predict_into(out, query=SENTENCES[2:])
    assert code == 0 and "removed the" not in said, said
    # the same job whose masks cannot be gone on from (one frame kept; the first mask a power cut's empty PNG): cleared,
    # with a warning; stopped while it cleared them (a reviewer's: the record went first, and the masks left were then
    # taken for a finished result, set aside and put back at every stop), the record goes last
    stopped_at(1)
    stopping_after(7)
    code, _, said = predict_into(out)
    assert code == 130 and "going on from" not in said and "keeps the earlier" not in said, said
    assert f"removed the {sentences} mask PNGs of a stopped run that this one cannot go on from: the same job, but " \
           "its masks cannot be gone on from" in said, said
    goes_on_from(7)
    stopped_at(11)
    (out / "1" / "00001.png" if sentences > 1 else out / "00001.png").write_bytes(b"")
    removed = []

    def remove_4(path, *args, **kwargs):
        if not str(path).startswith(str(out)):  # (os's own, for anything else: a finalizer's file)
            return real_remove(path, *args, **kwargs)
        if len(removed) == 4:
            raise KeyboardInterrupt
        removed.append(os.path.basename(path))
        real_remove(path)

    real_remove = predict_module.os.remove
    monkeypatch.setattr(predict_module.os, "remove", remove_4)
    stopping_after(0)
    assert predict_into(out)[0] == 130
    monkeypatch.setattr(predict_module.os, "remove", real_remove)
    assert (out / STARTED_FILE).exists() and STARTED_FILE not in removed and len(removed) == 4
    stopping_after(6)
    code, _, said = predict_into(out)
    assert code == 130 and f"removed the {11 * sentences - 4} mask PNGs" in said and "keeps the earlier" not in said
    goes_on_from(6)
    # a mask in the middle that cannot be read (the kept masks are read on every core, in order): the frames before
    # it are kept, the last of them segmented again (as after any stop)
    stopped_at(11)
    (out / str(sentences) / "00007.png" if sentences > 1 else out / "00007.png").write_bytes(b"\x89PNG half")
    goes_on_from(6)
    # a second run while one writes the folder is refused before it looks at it: nothing removed, no "going on"
    stopped_at(11)
    (out / "00012.png.tmp").write_bytes(b"half a PNG being written")
    lock = files.WriteLock(str(out), "a running run")
    try:
        code, _, said = predict_into(out)
    finally:
        lock.release()
    assert code == 75 and "going on from" not in said and (out / "00012.png.tmp").exists(), said
    # an overlay asked for: segmented from the start, the stopped run's masks replaced
    stopped_at(11)
    stopping_after(0)
    code, _, said = predict_into(out, "--output", str(tmp_path / "o.mp4"))
    assert code == 0 and "going on from" not in said and sum(counted) == 30
    assert not (out / STARTED_FILE).exists()
    # a kill while the record was written left its temporary file: not "holds files predict did not write"
    (out / (STARTED_FILE + ".tmp")).write_text("{")
    assert predict_into(out)[0] == 0 and not (out / (STARTED_FILE + ".tmp")).exists()
    # a tester's: the same job written otherwise (capitals, a full stop), the model through a link, macOS's `._` files
    # beside the masks: gone on with; a file of the user's: refused, saying that the job goes on once it is moved out
    stopped_at(11)
    for name in ("._00001.png", "._.DS_Store"):
        (out / name).write_bytes(b"\0" * 64)
    (out / "notes.txt").write_text("frame 7 looks off")
    reworded = [q[0].upper() + q[1:] + "." for q in queries]
    stopping_after(0)
    code, _, said = predict_into(out, query=reworded)
    assert code == 2 and "holds files predict did not write (notes.txt); move them out and run again, or choose an " \
                         "empty or new --frames-dir" in said, said
    (out / "notes.txt").unlink()
    os.symlink(run_dir, tmp_path / "model_link")
    code, _, said = predict_into(out, "--model", str(tmp_path / "model_link"), query=reworded)
    assert code == 0 and "going on from frame 11," in said and not any(n.startswith("._") for n in os.listdir(out))
    for (names, arrays), (expected_names, expected) in zip(masks(out), whole):
        assert names == expected_names
        np.testing.assert_array_equal(arrays, expected)


def test_a_path_that_is_no_model_is_refused_before_its_files_are_fingerprinted(tmp_path, monkeypatch, capsys):
    """A reviewer's: the job record of a masks-alone run fingerprinted `--model`'s files before the model was checked,
    so a mistaken `--model ~` walked the whole home folder before its "not a model" line."""
    from acga_tf.apps import batch

    (tmp_path / "notes" / "sub").mkdir(parents=True)
    (tmp_path / "notes" / "sub" / "a.txt").write_text("not a model")
    video = write_video(tmp_path / "v.mp4", moving_frames(4, 40, 56, seed=1), "libx264", "yuv420p")
    fingerprinted = []
    monkeypatch.setattr(batch, "model_identity", lambda model: fingerprinted.append(model))
    assert main(["predict", "--model", str(tmp_path / "notes"), "--video", video, "--query", QUERY, "--frames-dir",
                 str(tmp_path / "out"), "--no-progress"]) == 2
    assert "model.keras: missing" in capsys.readouterr().err and fingerprinted == []


@pytest.mark.parametrize("case", ["gif", "mp4", "png", "png_two_sentences"])
def test_a_full_disk_names_the_file_says_what_was_kept_and_leaves_no_partial_file(case, run_dir, tmp_path, capsys,
                                                                                   monkeypatch):
    """Before (a tester's 12 KB tmpfs): the overlay was finished after the error handling, so a failure there (always
    a GIF's case: it is saved at its end) left `o.gif.tmp` (`o.mp4.tmp`) behind and the line did not say what was
    kept; a GIF's error named no file, an MP4's its `.tmp`; a mask PNG's named no file and left a partial
    `00004.png` (with two sentences, sentence 1's whole `00004.png` too, while the line said 3 frames were kept)."""
    video = write_video(tmp_path / "clip.mp4", moving_frames(6, 40, 56, seed=7), "libx264", "yuv420p")
    queries = SENTENCES[:2] if case == "png_two_sentences" else [QUERY]
    argv = ["predict", "--model", run_dir, "--video", video, "--no-progress", *sum((["--query", q] for q in queries),
                                                                                    [])]
    output, frames = tmp_path / f"o.{case}", tmp_path / "masks"
    if case in ("gif", "mp4"):
        output.write_bytes(b"an earlier overlay")
        argv += ["--output", str(output)]
        failed, kept = output, f"after 6 frames; {output} was not written (the earlier file is kept)"
    else:
        argv += ["--frames-dir", str(frames)]
        failed = frames / "2" / "00004.png" if len(queries) == 2 else frames / "00004.png"
        kept = f"after 3 frames; {frames} holds the masks of the first 3 frames; the same command goes on from there"
    if case == "mp4":
        _mp4_close_fails(monkeypatch)
    else:
        _saves_fail_at(monkeypatch, 1 if case == "gif" else 4 * len(queries))  # frame 4's (last) PNG
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == (f"acga predict: error: [Errno 28] No space left on device: "
                                               f"'{failed}'; {kept}")
    if case in ("gif", "mp4"):
        assert output.read_bytes() == b"an earlier overlay"
        assert sorted(os.listdir(tmp_path)) == ["clip.mp4", output.name]  # no o.gif.tmp
    else:
        folders = [frames] if len(queries) == 1 else [frames / "1", frames / "2"]
        assert (frames / ".acga-started.json").exists()  # what the same command goes on from
        for folder in folders:
            assert sorted(set(os.listdir(folder)) - {".acga-started.json"}) == ["00001.png", "00002.png", "00003.png"]
            for name in ["00001.png", "00002.png", "00003.png"]:
                assert np.asarray(Image.open(folder / name)).shape == (40, 56)  # whole PNGs


def _predict_into(run_dir, video, frames, queries, *argv):
    assert main(["predict", "--model", run_dir, "--video", video, "--frames-dir", str(frames), "--no-progress",
                 *sum((["--query", q] for q in queries), []), *argv]) == 0


def _pngs(folder):
    """(the mask PNGs' names, their masks (N, H, W) in {0, 1})."""
    names = sorted(os.listdir(folder))
    return names, np.stack([np.asarray(Image.open(os.path.join(folder, n))) // 255 for n in names])


def test_a_frames_dir_used_again_holds_only_the_last_runs_masks(run_dir, tmp_path, capsys, caplog):
    """Before: a second run over fewer frames (a part of the video, a shorter video) overwrote only its own frames'
    PNGs: the folder held 00001-00006 of the first sentence and 00007-00012 of the second, without a word."""
    path = write_video(tmp_path / "clip.mp4", moving_frames(12, 40, 56, seed=3), "libx264", "yuv420p")  # 1 s, 12 fps
    short = write_video(tmp_path / "short.mp4", moving_frames(5, 40, 56, seed=4), "libx264", "yuv420p")
    frames, other = tmp_path / "masks", "a blue square walking"
    _predict_into(run_dir, path, frames, [QUERY])
    assert _pngs(frames)[0] == [f"{i:05d}.png" for i in range(1, 13)]
    caplog.clear()
    _predict_into(run_dir, path, frames, [other], "--start", "0.5")  # frames 7 to 12
    names, masks = _pngs(frames)
    assert names == [f"{i:05d}.png" for i in range(7, 13)]
    np.testing.assert_array_equal(masks, predict(run_dir, path, other).masks[6:])
    assert f"{frames}: replaced the 12 mask PNGs of an earlier run" in caplog.text
    _predict_into(run_dir, short, frames, [QUERY])
    names, masks = _pngs(frames)
    assert names == [f"{i:05d}.png" for i in range(1, 6)]
    np.testing.assert_array_equal(masks, predict(run_dir, short, QUERY).masks)
    assert f"{frames}: replaced the 6 mask PNGs of an earlier run" in caplog.text
    capsys.readouterr()


@pytest.mark.parametrize("stop", ["full_disk", "killed"])
def test_a_run_that_does_not_finish_keeps_the_earlier_runs_masks(stop, run_dir, tmp_path, capsys, caplog,
                                                                  monkeypatch):
    """An HPC tester's: a re-run into a complete result's --frames-dir, stopped by the scheduler after 220 of 960
    frames, had removed the other 740 masks at its start (the overlay was kept). Now the earlier masks are put aside
    until the run ends, and put back where it fails or is stopped; a run killed outright (SIGKILL: nothing put back)
    leaves them aside, and the next run puts them back before it starts."""
    path = write_video(tmp_path / "clip.mp4", moving_frames(8, 40, 56, seed=3), "libx264", "yuv420p")
    frames = tmp_path / "masks"
    _predict_into(run_dir, path, frames, SENTENCES[:2])
    before = {name: (frames / name).read_bytes() for name in ("1/00001.png", "2/00008.png", "queries.txt")}
    listing = sorted(str(p.relative_to(frames)) for p in frames.rglob("*"))
    if stop == "full_disk":
        _saves_fail_at(monkeypatch, 3)  # frame 2's second sentence
        assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(frames),
                     "--no-progress"]) == 2
        assert capsys.readouterr().err.strip().endswith(f"after 2 frames; {frames} keeps the earlier run's 16 masks")
    else:  # what a SIGKILL mid-run leaves: the earlier masks aside (their list first), this run's first frames
        aside = frames / ".acga-earlier"
        aside.mkdir()
        (aside / "set-aside.txt").write_text("".join(f"{n}\n" for n in listing if n.endswith((".png", ".txt"))))
        for name in ("1", "2", "queries.txt"):
            os.replace(frames / name, aside / name)
        (frames / "00001.png").write_bytes(b"a killed run's mask")
    if stop == "killed":
        caplog.clear()
        _predict_into(run_dir, path, frames, [SENTENCES[2]])  # puts them back, then replaces them
        assert f"{frames}: replaced the 16 mask PNGs of an earlier run" in caplog.text
        names, masks = _pngs(frames)
        assert names == [f"{i:05d}.png" for i in range(1, 9)]
        np.testing.assert_array_equal(masks, predict(run_dir, path, SENTENCES[2]).masks)
        return
    assert sorted(str(p.relative_to(frames)) for p in frames.rglob("*")) == listing  # nothing of this run's
    assert {name: (frames / name).read_bytes() for name in before} == before


def test_a_set_aside_folder_not_of_a_run_is_refused_and_a_run_stopped_before_a_mask_sets_nothing_aside(
        run_dir, tmp_path, capsys):
    """A QA engineer's: (1) a run stopped before its first mask left `queries.txt`; the next, complete run set it
    aside and never removed it, and a third run, stopped, then took the complete masks for a killed run's and removed
    them. (2) A `.acga-earlier` folder made by hand (a note in it) had its files and every mask removed, status 0."""
    path = write_video(tmp_path / "clip.mp4", moving_frames(6, 40, 56, seed=3), "libx264", "yuv420p")
    frames = tmp_path / "masks"
    frames.mkdir()
    (frames / "queries.txt").write_text("1\tthe red circle\n2\tthe blue square\n")  # what (1)'s first run left
    (frames / "1").mkdir()
    _predict_into(run_dir, path, frames, SENTENCES[:2])
    assert sorted(os.listdir(frames)) == ["1", "2", "queries.txt"]  # nothing set aside, none left behind
    (frames / ".acga-earlier").mkdir()
    (frames / ".acga-earlier" / "notes.txt").write_text("mine")
    before = sorted(str(p.relative_to(frames)) for p in frames.rglob("*"))
    capsys.readouterr()
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(frames),
                 "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (f"acga predict: error: {frames}: holds files predict did not write "
                                               "(.acga-earlier); move them out and run again, or choose an empty or "
                                               "new --frames-dir")
    assert sorted(str(p.relative_to(frames)) for p in frames.rglob("*")) == before


def test_a_frames_dir_used_again_with_other_sentences_holds_only_the_last_runs_masks(run_dir, tmp_path, capsys,
                                                                                      caplog):
    """Before: a run with 2 sentences after one with 3 left the first run's `3/`; a run with one sentence after them
    was refused ("holds files predict did not write (1, 2, queries.txt)"); a numbered folder's other files were not
    looked at. A sentence with a line break or a tab (a quoted CSV field) broke `queries.txt`'s lines: it is written
    on one line, its whitespace made single spaces."""
    path = write_video(tmp_path / "clip.mp4", moving_frames(4, 40, 56, seed=5), "libx264", "yuv420p")
    frames, two = tmp_path / "masks", [SENTENCES[1].replace(" ", "\n", 1), SENTENCES[0].replace(" ", "\t ", 1)]
    _predict_into(run_dir, path, frames, SENTENCES)
    assert sorted(os.listdir(frames)) == ["1", "2", "3", "queries.txt"]
    caplog.clear()
    _predict_into(run_dir, path, frames, two)
    assert sorted(os.listdir(frames)) == ["1", "2", "queries.txt"]
    assert (frames / "queries.txt").read_text().splitlines() == [f"{k + 1}\t{q}" for k, q in
                                                                 enumerate([SENTENCES[1], SENTENCES[0]])]
    for k, result in enumerate(predict(run_dir, path, queries=two)):
        names, masks = _pngs(frames / str(k + 1))
        assert names == [f"{i:05d}.png" for i in range(1, 5)]
        np.testing.assert_array_equal(masks, result.masks)
    assert f"{frames}: replaced the 12 mask PNGs of an earlier run" in caplog.text
    _predict_into(run_dir, path, frames, [QUERY])  # numbered folders, then one sentence's PNGs
    names, masks = _pngs(frames)
    assert names == [f"{i:05d}.png" for i in range(1, 5)]
    np.testing.assert_array_equal(masks, predict(run_dir, path, QUERY).masks)
    assert f"{frames}: replaced the 8 mask PNGs of an earlier run" in caplog.text
    capsys.readouterr()
    (frames / "2").mkdir()
    (frames / "2" / "notes.txt").write_text("mine")
    assert main(["predict", "--model", run_dir, "--video", path, "--query", QUERY, "--frames-dir", str(frames),
                 "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (f"acga predict: error: {frames}: holds files predict did not write "
                                               "(2/notes.txt); move them out and run again, or choose an empty or "
                                               "new --frames-dir")
    assert sorted(os.listdir(frames)) == ["00001.png", "00002.png", "00003.png", "00004.png", "2"]


def test_check_outputs_takes_an_earlier_runs_masks_of_any_sentences_and_refuses_other_files(tmp_path):
    """Before: a folder of one sentence's PNGs was refused for several sentences ("holds files predict did not write
    (00001.png)"), numbered folders for one, and a numbered folder's own files were not looked at."""
    from acga_tf.apps.predict import check_outputs

    frames = tmp_path / "masks"
    (frames / "2").mkdir(parents=True)
    for name in ("00001.png", "00002.png.tmp", "queries.txt", "2/00001.png"):  # .tmp: a PNG a killed run was writing
        (frames / name).write_bytes(b"")
    for queries in (1, 2, 5):
        check_outputs(str(tmp_path / "clip.mp4"), None, str(frames), queries)
    for foreign in ("notes.txt", "2/notes.txt", "3", "2/00003.png/", "x/"):  # a file, or a folder (/)
        path = frames / foreign
        if foreign.endswith("/"):
            path.mkdir()
        else:
            path.write_text("mine")
        message = f"{frames}: holds files predict did not write ({path.relative_to(frames)})"
        for queries in (1, 3):
            with pytest.raises(ValueError, match=re.escape(message)):
                check_outputs(str(tmp_path / "clip.mp4"), None, str(frames), queries)
        if foreign.endswith("/"):
            path.rmdir()
        else:
            path.unlink()


def test_loading_a_run_says_what_it_computes_in(run_dir, caplog):
    """A performance tester's: `acga -v predict` said nothing of the precision the run computes in (its own)."""
    with caplog.at_level("INFO", logger="acga_tf.training.artifacts"):
        trained = artifacts.load_trained(run_dir)
    assert (f"loaded {os.path.join(run_dir, 'model.keras')} (T={trained.config.clip_length}, "
            f"S={trained.config.image_size}): the video encoder computes in float32, the decoder in float32, as the "
            "run trained") in caplog.text


def test_loading_a_run_leaves_python_s_random_stream_as_it_was(run_dir):
    """Keras draws a seed from Python's `random` for each initializer it rebuilds without one: loading a run moved a
    script's seeded stream (its next draws were other numbers than without the load)."""
    import random

    random.seed(7)
    expected = [random.random() for _ in range(3)]
    random.seed(7)
    artifacts.load_trained(run_dir)
    assert [random.random() for _ in range(3)] == expected


def test_judge_queries_refuses_what_predict_refuses_in_its_words(trained):
    """A service tester asked `judge_queries` first, as docs/serving.md says, "the same lines": its empty sentence
    was "has no known word ... the model knows 16 words" there and "query is empty" from `predict`."""
    frames = moving_frames(3, 24, 32, seed=3)
    predictor = load_predictor(trained)
    sentences = ["", QUERY, "?!", 5]
    judged = judge_queries(predictor, sentences)
    assert judged[1] == (None, [])
    for sentence, (refusal, notes) in zip(sentences, judged):
        if sentence == QUERY:
            continue
        with pytest.raises(InputError) as said:
            predict(predictor, frames, sentence)
        assert refusal == str(said.value) and notes == [], (refusal, str(said.value))
