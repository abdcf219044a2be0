"""`acga predict --list`: many videos from a CSV list with one model load (acga_tf/apps/batch.py,
docs/serving.md#many-videos). A batch tester's findings: a shell loop spent nine tenths of each video starting, one
refused sentence failed the video's other sentences, nothing said which videos were done, a re-run redid all."""

import csv
import dataclasses
import json
import os
import re
import shutil
import signal
import time

import av
import numpy as np
import pytest
from PIL import Image
from runs import QUERY, audio_frame, encode_frames, moving_frames, write_video
from tqdm import tqdm

from acga_tf import cli
from acga_tf.apps import batch
from acga_tf.apps.predict import (
    STARTED_FILE,
    PredictionSummary,
    _count_kept,
    frames_to_segment,
    predict,
    video_info,
    warn_empty,
)
from acga_tf.apps.predictors import KerasPredictor
from acga_tf.cli import main
from acga_tf.ops import progress
from acga_tf.training import artifacts

OTHER = "a blue square walking"  # in the test run's vocabulary, as QUERY is


def _write_list(path, rows, header=("video", "query")):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def _results(out):
    with open(out / batch.RESULTS_NAME, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _masks(folder):
    names = sorted(os.listdir(folder))
    return names, np.stack([np.asarray(Image.open(folder / name)) > 0 for name in names])


@pytest.fixture
def listed(tmp_path):
    """Two videos (one in a subfolder, with the same file name as nothing else) and a list with every kind of row."""
    write_video(tmp_path / "a.mp4", moving_frames(6, 40, 56, seed=1), "libx264", "yuv420p")
    os.makedirs(tmp_path / "clips")
    write_video(tmp_path / "clips" / "b.mp4", moving_frames(5, 48, 64, seed=2), "libx264", "yuv420p")
    rows = [("a.mp4", QUERY), ("a.mp4", "a blue\nsquare  walking"),  # a quoted field with a line break
            ("clips/b.mp4", QUERY), ("missing.mp4", QUERY), ("a.mp4", "purple elephants dancing"), ("a.mp4", "  ?! "),
            ("", QUERY), ("./a.mp4", QUERY.upper() + "!"),  # the same row again (the file and sentence written
            # another way: the same words to the model): segmented once; before, twice
            ("a.mp4", "the red circle dancing")]  # a word the model does not know: a warning on this row
    return tmp_path, _write_list(tmp_path / "list.csv", rows)


def test_a_list_segments_each_video_once_with_its_sentences_and_fails_only_the_bad_rows(run_dir, listed, capsys,
                                                                                       caplog):
    root, listing = listed
    out = root / "out"
    with caplog.at_level("WARNING"):
        code = main(["predict", "--model", run_dir, "--list", listing, "--output-dir", str(out), "--no-progress"])
    assert caplog.text.count("(they get zero vectors): dancing") == 1  # before: twice (the list's check, predict's)
    assert "missing.mp4: video file not found" in caplog.text  # each failed video has its warning line
    said, err = capsys.readouterr()
    assert code == 2, err
    assert "9 rows of 3 videos: 5 done, 4 failed" in said  # a.mp4, clips/b.mp4, missing.mp4
    err = err.strip().splitlines()
    assert err[-1].startswith("acga predict: error: 4 of 9 rows failed (lines 6, 7, 8, 9; the first: "), err
    results = _results(out)
    assert [(r["line"], r["status"], r["masks"]) for r in results] == [
        # the quoted line break's row by the line it starts on, as an editor shows it (a Unix user's: by its end)
        ("2", "done", "a/masks/1"), ("3", "done", "a/masks/2"), ("5", "done", "clips/b/masks/1"),
        ("6", "failed", ""), ("7", "failed", ""), ("8", "failed", ""), ("9", "failed", ""), ("10", "done", "a/masks/1"),
        ("11", "done", "a/masks/3")]
    # no overlay written, so nothing of its legend said (a reviewer's: every row said a.mp4's 56 x 40 legend cut the
    # sentences, with no overlay asked for; tests/test_predict.py checks an overlay's legend warnings)
    assert [r["message"] for r in results if r["status"] == "done"] == [
        "", "", "", "", "query 'the red circle dancing': words not in the model's vocabulary (they get zero "
        "vectors): dancing"]
    messages = [r["message"] for r in results if r["status"] == "failed"]
    assert messages[0].endswith("missing.mp4: video file not found")
    # before (a shell loop), one refused sentence failed its video's other sentences too
    assert messages[1].startswith("query 'purple elephants dancing' has no known word: none of its words is in")
    assert messages[2].startswith("query is empty") and messages[3] == "no video named in the row"
    # one layout for every video: masks/<k>/ and queries.txt, for one sentence too
    assert sorted(os.listdir(out / "clips" / "b" / "masks")) == ["1", "queries.txt"]
    assert (out / "a" / "masks" / "queries.txt").read_text().splitlines() == [
        f"1\t{QUERY}", f"2\t{OTHER}", "3\tthe red circle dancing"]
    for video, folder, sentences in ((root / "a.mp4", out / "a", [QUERY, OTHER, "the red circle dancing"]),
                                     (root / "clips" / "b.mp4", out / "clips" / "b", [QUERY])):
        summary = json.loads((folder / batch.SUMMARY_NAME).read_text())
        assert summary["queries"] == sentences and summary["video"] == str(video)
        assert summary["frames"] == len(os.listdir(folder / "masks" / "1"))
        for k, result in enumerate(predict(run_dir, str(video), queries=sentences)):  # the masks `predict` gives
            names, masks = _masks(folder / "masks" / str(k + 1))
            assert names == [f"{i:05d}.png" for i in range(1, len(masks) + 1)]
            np.testing.assert_array_equal(masks, result.masks)
            assert summary["coverage"][k] == pytest.approx(result.masks.mean())
    assert sorted(os.listdir(out)) == ["a", "clips", "results.csv"]


def test_a_row_that_ends_before_its_sentence_fails_alone_saying_so(run_dir, tmp_path, capsys):
    """A mends reviewer's: a row of one cell (`a.mp4`, its sentence forgotten) failed as "query is empty: '' has no
    word"; it says where the row ended, and fails alone."""
    listing = _write_list(tmp_path / "list.csv", [["a.mp4"]])
    out = tmp_path / "out"
    assert main(["predict", "--model", run_dir, "--list", listing, "--output-dir", str(out), "--no-progress"]) == 2
    capsys.readouterr()
    (row,) = _results(out)
    assert (row["line"], row["status"], row["message"]) == (
        "2", "failed", "1 cell, the header names 2: the row ends before its query column")


def test_ctrl_c_counts_a_failed_video_as_failed_not_done(run_dir, listed, capsys, monkeypatch):
    # a long-video tester's: "3 of 4 videos done, each with its summary.json", one of the three a missing video
    root, _ = listed
    listing = _write_list(root / "three.csv", [("missing.mp4", QUERY), ("a.mp4", QUERY), ("clips/b.mp4", OTHER)])
    out, real = root / "out3", batch.predict_to_files

    def stopped_at_b(model, video, *args, **kwargs):
        if video.endswith("b.mp4"):
            raise KeyboardInterrupt("after 2 frames")
        return real(model, video, *args, **kwargs)

    monkeypatch.setattr(batch, "predict_to_files", stopped_at_b)
    assert main(["predict", "--model", run_dir, "--list", listing, "--output-dir", str(out), "--no-progress"]) == 130
    assert capsys.readouterr().err.strip().endswith(
        f"acga predict: interrupted: 1 of 3 videos done, each with its summary.json, 1 failed; {out / 'results.csv'} "
        "lists every row; the same command segments only the rest")
    assert [r["status"] for r in _results(out)] == ["failed", "done", "stopped"]


def test_a_list_run_again_passes_over_what_is_done_and_goes_on_after_ctrl_c(run_dir, listed, capsys, monkeypatch):
    root, _ = listed
    listing = _write_list(root / "two.csv", [("a.mp4", QUERY), ("clips/b.mp4", OTHER)])
    out, run_dir = root / "out", str(shutil.copytree(run_dir, root / "run"))  # a run of ours, to train "again"
    segmented = []
    real = batch.predict_to_files

    def stopped_at_b(model, video, *args, **kwargs):
        if video.endswith("b.mp4"):  # results.csv is written after each video (before: at the end only)
            assert [r["status"] for r in _results(out)] == ["done", "not started"]
            raise KeyboardInterrupt("after 2 frames")
        segmented.append(os.path.basename(video))
        return real(model, video, *args, **kwargs)

    monkeypatch.setattr(batch, "predict_to_files", stopped_at_b)
    argv = ["predict", "--model", run_dir, "--list", listing, "--output-dir", str(out), "--no-progress"]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"acga predict: interrupted: 1 of 2 videos done, each with its summary.json; "
                        f"{out / 'results.csv'} lists every row; the same command segments only the rest"), err
    assert [r["status"] for r in _results(out)] == ["done", "stopped"]
    assert not (out / "clips" / "b" / batch.SUMMARY_NAME).exists()
    monkeypatch.setattr(batch, "predict_to_files", lambda model, video, *a, **k: segmented.append(
        os.path.basename(video)) or real(model, video, *a, **k))
    assert main(argv) == 0
    assert segmented == ["a.mp4", "b.mp4"]  # a.mp4 once: the second run passed over it
    assert [r["status"] for r in _results(out)] == ["done earlier", "done"]
    assert "2 rows of 2 videos: 1 done, 1 done earlier" in capsys.readouterr().out
    # a video changed since (its time modified), an overlay asked for: segmented again
    os.utime(root / "a.mp4", ns=(1, 1))
    assert main([*argv, "--overlays", "mp4"]) == 0
    assert segmented == ["a.mp4", "b.mp4", "a.mp4", "b.mp4"]
    assert sorted(os.listdir(out / "a")) == ["masks", "overlay.mp4", "summary.json"]
    # a tester's findings: a mask removed since, or a model trained again in place, was passed over as done
    os.remove(out / "a" / "masks" / "1" / "00003.png")
    assert main([*argv, "--overlays", "mp4"]) == 0
    assert segmented[4:] == ["a.mp4"] and len(os.listdir(out / "a" / "masks" / "1")) == 6
    # a long-video reviewer's: a mask emptied or cut short (written without waiting for the disk: a power cut's) was
    # passed over as done, by its name
    whole = (out / "clips" / "b" / "masks" / "1" / "00002.png").read_bytes()
    for damaged in (b"", whole[:-5]):
        (out / "clips" / "b" / "masks" / "1" / "00002.png").write_bytes(damaged)
        assert main([*argv, "--overlays", "mp4"]) == 0
        assert segmented[-1] == "b.mp4" and _results(out)[1]["status"] == "done"
    segmented.clear()
    os.utime(os.path.join(run_dir, "model.keras"), ns=(1, 1))
    assert main([*argv, "--overlays", "mp4"]) == 0
    assert segmented == ["a.mp4", "b.mp4"]
    assert not any("removed" in r["message"] for r in _results(out))  # its own housekeeping is no warning


def test_a_video_stopped_mid_way_goes_on_where_it_stopped(run_dir, tmp_path, caplog, monkeypatch):
    """A long-video tester's overnight batch: stopped 2,420 frames into a 7,200-frame video, the same command segmented
    it again from frame 1 (a SIGKILL's 1,200 PNGs removed too). Where the list writes masks alone, the next run of the
    same job goes on from the last frame every sentence has (that one segmented again), keeping the masks before it;
    the masks, frame count, coverage and empty frames come out as an uninterrupted run's."""
    write_video(tmp_path / "long.mp4", moving_frames(30, 40, 56, seed=5), "libx264", "yuv420p")
    listing = _write_list(tmp_path / "list.csv", [("long.mp4", QUERY), ("long.mp4", OTHER)])
    rows = batch.read_list(listing)
    whole = batch.predict_list(run_dir, rows, str(tmp_path / "whole"), batch_size=2)
    assert [r.status for r in whole] == ["done", "done"]
    segmented = []
    started = _stopping_after(13, segmented)  # Ctrl-C 13 frames in
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        batch.predict_list(run_dir, rows, str(out), batch_size=2, frames=started)
    kept = sorted(os.listdir(out / "long" / "masks" / "1"))
    assert len(kept) == 13 and not (out / "long" / batch.SUMMARY_NAME).exists()
    assert (out / "long" / "masks" / STARTED_FILE).exists()
    (out / "long" / "masks" / "2" / "00013.png").unlink()  # a kill between two sentences' PNGs of a frame
    (out / "long" / "masks" / "1" / "00014.png.tmp").write_bytes(b"half a PNG")  # and one half written
    totals = []
    with caplog.at_level("WARNING"):
        again = batch.predict_list(run_dir, rows, str(out), batch_size=2,
                                   frames=lambda row, number, frames: totals.append(frames))
    assert [r.status for r in again] == ["done", "done"]
    assert "long.mp4: going on from frame 12, where a stopped run of the same job left it (its first 11 frames' " \
           "masks are kept)" in caplog.text
    assert totals == [30 - 11]  # the bar counts what is left
    for k in (1, 2):
        names, masks = _masks(out / "long" / "masks" / str(k))
        expected_names, expected = _masks(tmp_path / "whole" / "long" / "masks" / str(k))
        assert names == expected_names and not any(n.endswith(".tmp") for n in os.listdir(out / "long" / "masks"
                                                                                          / str(k)))
        np.testing.assert_array_equal(masks, expected)
    summary, expected = (json.loads((folder / "long" / batch.SUMMARY_NAME).read_text()) for folder in (out, tmp_path
                                                                                                      / "whole"))
    assert summary["frames"] == expected["frames"] == 30 and summary["empty_frames"] == expected["empty_frames"]
    assert summary["coverage"] == pytest.approx(expected["coverage"], abs=1e-9)
    assert not (out / "long" / "masks" / STARTED_FILE).exists()
    # its own housekeeping is no warning of the video's (a reviewer's: it was in every later row's message), nor is
    # the legend of an overlay that is not written
    assert summary["warnings"] == expected["warnings"] and not any("legend" in w for w in summary["warnings"])

    # stopped after its last mask, before its summary.json (a reviewer's: the whole video segmented again)
    shutil.rmtree(out)

    def stop_at_summary(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(batch.json, "dump", stop_at_summary)
        batch.predict_list(run_dir, rows, str(out), batch_size=2)
    totals.clear()
    with caplog.at_level("WARNING"):
        assert [r.status for r in batch.predict_list(run_dir, rows, str(out), batch_size=2, frames=lambda row, number,
                frames: totals.append(frames))] == ["done", "done"]
    assert "going on from frame 30," in caplog.text and totals == [1]

    def stop_then_spoil(spoil, after):
        """A run of the job stopped `after` frames in, `spoil(masks folder)`, then run again: (the warnings, the
        folder's PNGs of sentence 1 before the second run)."""
        shutil.rmtree(out, ignore_errors=True)
        with pytest.raises(KeyboardInterrupt):
            batch.predict_list(run_dir, rows, str(out), batch_size=2, frames=_stopping_after(after))
        spoil(out / "long" / "masks")
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert [r.status for r in batch.predict_list(run_dir, rows, str(out), batch_size=2)] == ["done", "done"]
        for k in (1, 2):
            np.testing.assert_array_equal(_masks(out / "long" / "masks" / str(k))[1],
                                          _masks(tmp_path / "whole" / "long" / "masks" / str(k))[1])
        return caplog.text

    # a power cut's empty PNG among the kept ones: gone on with from before it (it stopped the whole list)
    said = stop_then_spoil(lambda masks: (masks / "1" / "00005.png").write_bytes(b""), 11)
    assert "going on from frame 4," in said
    # a file manager's .DS_Store is removed; a file of the user's makes the folder segmented from the start, as
    # before, not failed ("holds files predict did not write")
    said = stop_then_spoil(lambda masks: (masks / ".DS_Store").write_bytes(b"x"), 11)
    assert "going on from frame 11," in said  # (11 kept, the 11th segmented again)
    said = stop_then_spoil(lambda masks: (masks / "notes.txt").write_text("checked up to 8"), 11)
    assert "going on from" not in said and "predict did not write" not in said
    # (a reviewer's: the user's file was removed with the folder, the warning saying "of another job")
    assert "masks: held files that are not a run's (notes.txt): the folder is kept as " in said, said
    assert (out / "long" / "masks.kept-1" / "notes.txt").read_text() == "checked up to 8"
    # a folder of the user's there (a reviewer's: it failed every rerun), or another job's masks written there by hand
    said = stop_then_spoil(lambda masks: (masks / "checked").mkdir(), 11)
    assert "going on from" not in said and "predict did not write" not in said
    assert (out / "long" / "masks.kept-1" / "checked").is_dir()
    said = stop_then_spoil(lambda masks: (masks / "queries.txt").write_text(f"1\tthe green circle\n2\t{OTHER}\n"), 11)
    assert "going on from" not in said
    # one frame kept: segmented from the start, the folder cleared first (not its masks "replaced" with a warning)
    said = stop_then_spoil(lambda masks: None, 1)
    assert "going on from" not in said and "replaced the" not in said
    # another job in the folder (an overlay asked for, another sentence): cleared and segmented from the start (a
    # reviewer's: stopped after one frame, this could not fail)
    for again, kwargs in ((rows[:1], {"overlay": "mp4"}), (rows[1:], {})):
        shutil.rmtree(out / "other", ignore_errors=True)
        with pytest.raises(KeyboardInterrupt):
            batch.predict_list(run_dir, rows[:1], str(out / "other"), batch_size=2, frames=_stopping_after(11))
        caplog.clear()
        with caplog.at_level("WARNING"):
            batch.predict_list(run_dir, again, str(out / "other"), batch_size=2, **kwargs)
        assert "going on from" not in caplog.text and len(os.listdir(out / "other" / "long" / "masks" / "1")) == 30
        # said (a tester's: an edited sentence's list removed a stopped video's masks without a word)
        assert "masks: removed the 11 mask PNGs of a stopped run of another job (" in caplog.text, caplog.text


def test_a_video_declaring_fewer_frames_than_it_has_is_gone_on_with_past_them(run_dir, tmp_path, monkeypatch):
    """A reviewer's: the past-the-end check of the container's declared count refused a resume at frame 26 of a video
    declaring 20 of its 30 ("start=None is frame 26, past the video's end"), where the stopped run had read 25."""
    from acga_tf.apps import predict as predict_module

    write_video(tmp_path / "v.mp4", moving_frames(30, 40, 56, seed=6), "libx264", "yuv420p")
    rows = batch.read_list(_write_list(tmp_path / "list.csv", [("v.mp4", QUERY)]))
    real = predict_module.video_info
    monkeypatch.setattr(predict_module, "video_info", lambda path: dataclasses.replace(real(path), frames=20))
    with pytest.raises(KeyboardInterrupt):
        batch.predict_list(run_dir, rows, str(tmp_path / "out"), batch_size=2, frames=_stopping_after(25))
    results = batch.predict_list(run_dir, rows, str(tmp_path / "out"), batch_size=2)
    assert [(r.status, r.frames) for r in results] == [("done", 30)], results[0].message


def test_the_kept_frames_count_in_the_summary_and_its_empty_mask_warning(caplog):
    """A resumed video's summary counts its kept frames (`_count_kept`, before the coverage is averaged): coverage
    summed over every frame, empty frames numbered in the whole video, and the warning of empty masks is of the whole
    video (a reviewer's: "empty in 18 of 18 frames (first: frame 13)" beside `empty_frames` 30)."""
    summary = PredictionSummary(["a", "b"], num_frames=2, height=4, width=4, fps=12.0, coverage=[2 * 0.5, 0.0],
                                empty_frames=[[], [3, 4]], paths=[], first=3)
    _count_kept(summary, [[(0.25, False), (0.0, True)], [(0.75, False), (0.0, True)], [(0.5, False), (0.5, False)]])
    assert summary.num_frames == 5 and summary.first == 0
    assert summary.coverage == pytest.approx([0.25 + 0.75 + 0.5 + 2 * 0.5, 0.5])
    assert summary.empty_frames == [[], [0, 1, 3, 4]]
    with caplog.at_level("WARNING"):
        warn_empty(summary)
    assert caplog.messages == ["query 'b': the mask is empty in 4 of 5 frames (first: frame 1)"]


def test_a_model_given_as_an_object_is_known_by_its_weights_so_a_rerun_passes_over_its_videos(run_dir, tmp_path):
    """A Python user's loop: `predict_list(trained, ...)` again segmented every video again (no model was recorded);
    now a `TrainedModel` (or its predictor) is known by its weights, and one trained further is another model."""
    write_video(tmp_path / "a.mp4", moving_frames(4, 40, 56, seed=1), "libx264", "yuv420p")
    listing, out = _write_list(tmp_path / "list.csv", [(str(tmp_path / "a.mp4"), QUERY)]), str(tmp_path / "out")
    trained = artifacts.load_trained(run_dir)
    assert [r.status for r in batch.predict_list(trained, listing, out)] == ["done"]
    assert [r.status for r in batch.predict_list(KerasPredictor(trained), listing, out)] == ["done earlier"]
    weight = trained.model.trainable_weights[-1]
    weight.assign(weight + 1e-3)  # trained further in memory
    assert [r.status for r in batch.predict_list(trained, listing, out)] == ["done"]


def test_a_list_takes_smooth_edges_and_a_rerun_with_other_edges_segments_again(run_dir, tmp_path, capsys):
    """A QA tester's `--list ... --smooth-edges` was refused as an option of one video."""
    write_video(tmp_path / "a.mp4", moving_frames(4, 40, 56, seed=1), "libx264", "yuv420p")
    listing, out = _write_list(tmp_path / "list.csv", [("a.mp4", QUERY)]), tmp_path / "out"
    argv = ["predict", "--model", run_dir, "--list", listing, "--output-dir", str(out), "--no-progress"]
    assert main([*argv, "--smooth-edges"]) == 0
    _, masks = _masks(out / "a" / "masks" / "1")
    np.testing.assert_array_equal(masks, predict(run_dir, str(tmp_path / "a.mp4"), QUERY, smooth_edges=True).masks)
    assert json.loads((out / "a" / batch.SUMMARY_NAME).read_text())["smooth_edges"] is True
    assert main([*argv, "--smooth-edges"]) == 0 and _results(out)[0]["status"] == "done earlier"
    assert main(argv) == 0 and _results(out)[0]["status"] == "done"  # the protocol's masks: segmented again
    np.testing.assert_array_equal(_masks(out / "a" / "masks" / "1")[1],
                                  predict(run_dir, str(tmp_path / "a.mp4"), QUERY).masks)
    assert main(argv) == 0 and _results(out)[0]["status"] == "done earlier"


def test_a_list_writes_each_videos_masks_as_json_where_asked(run_dir, tmp_path, capsys):
    """`--list ... --json`: each video's `masks.json` (as `--output-json` writes it), its masks the PNGs'; a rerun
    without it segments again and removes the JSON of the earlier run."""
    from acga_tf.ops import rle

    write_video(tmp_path / "a.mp4", moving_frames(4, 40, 56, seed=1), "libx264", "yuv420p")
    listing, out = _write_list(tmp_path / "list.csv", [("a.mp4", QUERY), ("a.mp4", OTHER)]), tmp_path / "out"
    argv = ["predict", "--model", run_dir, "--list", listing, "--output-dir", str(out), "--no-progress"]
    assert main([*argv, "--json"]) == 0
    document = json.loads((out / "a" / batch.MASKS_JSON_NAME).read_text())
    assert document["queries"] == [QUERY, OTHER] and [f["frame"] for f in document["frames"]] == [0, 1, 2, 3]
    for k in range(2):
        np.testing.assert_array_equal(np.stack([rle.decode(f["masks"][k]["rle"]) for f in document["frames"]]),
                                      _masks(out / "a" / "masks" / str(k + 1))[1])
    assert main([*argv, "--json"]) == 0 and {r["status"] for r in _results(out)} == {"done earlier"}
    (out / "a" / batch.MASKS_JSON_NAME).unlink()  # removed since: segmented again
    assert main([*argv, "--json"]) == 0 and {r["status"] for r in _results(out)} == {"done"}
    assert main(argv) == 0 and {r["status"] for r in _results(out)} == {"done"}
    assert not (out / "a" / batch.MASKS_JSON_NAME).exists()
    capsys.readouterr()
    assert main(["predict", "--model", run_dir, "--video", "a.mp4", "--query", QUERY, "--json"]) == 2
    err = capsys.readouterr().err
    assert "--json: goes with --list; for one video, --output, --frames-dir and --output-json" in err


def test_a_list_writes_soft_masks_where_asked_and_segments_again_for_the_other_kind(run_dir, tmp_path):
    from acga_tf.apps.predict import predict, soft_mask

    write_video(tmp_path / "a.mp4", moving_frames(4, 40, 56, seed=1), "libx264", "yuv420p")
    listing, out = _write_list(tmp_path / "list.csv", [("a.mp4", QUERY)]), tmp_path / "out"
    argv = ["predict", "--model", run_dir, "--list", listing, "--output-dir", str(out), "--no-progress"]
    assert main([*argv, "--soft-masks"]) == 0
    folder = out / "a" / "masks" / "1"
    levels = np.stack([np.asarray(Image.open(folder / name)) for name in sorted(os.listdir(folder))])
    np.testing.assert_array_equal(levels, soft_mask(predict(run_dir, str(tmp_path / "a.mp4"), QUERY).probabilities))
    assert main([*argv, "--soft-masks"]) == 0 and {r["status"] for r in _results(out)} == {"done earlier"}
    assert main(argv) == 0 and {r["status"] for r in _results(out)} == {"done"}  # the other kind: again
    assert {int(v) for name in os.listdir(folder) for v in np.unique(np.asarray(Image.open(folder / name)))} <= {0, 255}


def test_a_frames_folder_in_a_list_is_segmented_and_a_frame_replaced_since_is_noticed(run_dir, tmp_path):
    """A folder of frames as a list's video (docs/serving.md#predict); a frame replaced in place changes no folder's
    time, so the folder was to be judged by its frames' (`source_stamp`), or the rerun would pass over it."""
    frames = moving_frames(4, 40, 56, seed=1)
    (folder := tmp_path / "clip").mkdir()
    for i, frame in enumerate(frames):  # numbered from 0, as DAVIS's: the masks take the frames' numbers
        Image.fromarray(frame).save(folder / f"{i:05d}.png")
    listing, out = _write_list(tmp_path / "list.csv", [("clip", QUERY)]), str(tmp_path / "out")
    trained = artifacts.load_trained(run_dir)
    assert [r.status for r in batch.predict_list(trained, listing, out)] == ["done"]
    assert sorted(os.listdir(os.path.join(out, "clip", "masks", "1"))) == [f"{i:05d}.png" for i in range(4)]
    assert [r.status for r in batch.predict_list(trained, listing, out)] == ["done earlier"]
    Image.fromarray(frames[0]).save(folder / "00001.png")
    os.utime(folder / "00001.png", ns=(2 * 10**18, 2 * 10**18))
    assert [r.status for r in batch.predict_list(trained, listing, out)] == ["done"]


def test_a_videos_folder_too_deep_to_write_names_output_dir(run_dir, tmp_path):
    """An operations tester's `--list` into a 3.8 KB deep --output-dir: the row's message named --frames-dir, an
    option of single-video predict that the command did not take."""
    video = write_video(tmp_path / "clip.mp4", moving_frames(2, 24, 32), "libx264", "yuv420p")
    listing = _write_list(tmp_path / "list.csv", [(video, QUERY)])
    out = str(tmp_path)
    while len(os.fsencode(out)) < 4072:  # the masks' deepest path then goes past Linux's 4,096 bytes
        out = os.path.join(out, "d" * min(200, 4072 - len(os.fsencode(out))))
    results = batch.predict_list(artifacts.load_trained(run_dir), listing, out)
    assert [r.status for r in results] == ["failed"]
    # named as the caller named it: `output_dir` from Python (`--output-dir` under the command)
    assert "this system takes: choose a shorter one (output_dir)" in results[0].message, results[0].message


def test_every_option_of_one_video_is_refused_with_a_list(run_dir, tmp_path, capsys):
    """A contributor's new `acga predict` option (`--legend`) was ignored under `--list` without a word: the
    options `predict_list` does not take are now every option but those it names
    (`command_options.PREDICT_LIST_OPTIONS`, `PREDICT_SHARED_OPTIONS`), so a new one is refused until it is wired in
    and listed there."""
    from acga_tf import cli  # noqa: PLC0415

    args = cli._build_parser().parse_args(["predict", "--model", "m", "--list", "l.csv"])
    assert [flag for _, flag, _ in args.single_video_options] == ["--video", "--query", "--output", "--frames-dir",
                                                                   "--output-json", "--start", "--end"]
    listing = _write_list(tmp_path / "list.csv", [("a.mp4", QUERY)])
    for extra in (["--start", "0"], ["--end", "2.5"], ["--frames-dir", "m"], ["--output-json", "m.json"]):
        assert main(["predict", "--model", run_dir, "--list", str(listing), "--output-dir", str(tmp_path / "o"),
                     *extra]) == 2
        assert capsys.readouterr().err.strip().endswith(f"--list: {extra[0]} cannot go with it (the list names the "
                                                        "videos and sentences; --output-dir the folder)")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("case", ["no_file", "no_header", "not_utf8", "same_folder", "with_video", "no_output_dir",
                                  "output_dir_alone", "unclosed_quote", "nested", "results_name", "unquoted_comma",
                                  "video_twice"])
def test_a_list_that_cannot_run_is_one_line_before_anything_is_written(case, run_dir, tmp_path, capsys):
    listing, extra = str(tmp_path / "list.csv"), []
    expected = {"no_file": "list.csv: list file not found",
                "no_header": "list.csv: line 1: no column query in the header (video,sentence); expected a CSV list "
                             "with the columns video,query",
                "not_utf8": "list.csv: line 2: not UTF-8 text; save the list as UTF-8 CSV",
                "same_folder": "list.csv: lines 2 and 3: a.mp4 and a.mkv would share the folder a; give the videos "
                               "distinct names",
                "with_video": "--list: --video, --query cannot go with it",
                "no_output_dir": "--list: give --output-dir, the folder to write",
                "output_dir_alone": "--output-dir: goes with --list; for one video, --output, --frames-dir and "
                                    "--output-json",
                # before: the rows after it read as one sentence, without a word
                "unclosed_quote": "list.csv: line 3: not CSV (unexpected end of data: a quoted sentence must end with "
                                  "a quote",
                # before: x/masks.mp4's folder inside x's; results.csv.mp4's folder where results.csv goes
                "nested": "list.csv: lines 2 and 3: the folder of x/masks.mp4 would lie inside that of x.mp4",
                "results_name": "list.csv: line 2: results.csv.mp4 would write the folder results.csv; give the "
                                "videos distinct names",
                # an i18n tester's: before, "the blue square" segmented, ", moving left" gone without a word
                "unquoted_comma": "list.csv: line 3: 3 cells, the header names 2: a cell with a comma in it (a "
                                  "sentence) must be quoted",
                # a tester's: the second video column was ignored without a word
                "video_twice": "list.csv: line 1: the header names the column video more than once (columns 1 and "
                               "3); expected a CSV list with the columns video,query"}[case]
    if case == "no_header":
        _write_list(listing, [("a.mp4", QUERY)], header=("video", "sentence"))
    elif case == "not_utf8":
        with open(listing, "wb") as f:
            f.write(b"video,query\na.mp4,caf\xe9 owner\n")
    elif case == "same_folder":
        _write_list(listing, [("a.mp4", QUERY), ("a.mkv", QUERY)])
    elif case == "unclosed_quote":
        with open(listing, "w", encoding="utf-8") as f:
            f.write(f'video,query\na.mp4,{QUERY}\nb.mp4,"the red circle\nc.mp4,{QUERY}\n')
    elif case == "nested":
        _write_list(listing, [("x.mp4", QUERY), ("x/masks.mp4", QUERY)])
    elif case == "results_name":
        _write_list(listing, [("results.csv.mp4", QUERY)])
    elif case == "unquoted_comma":
        with open(listing, "w", encoding="utf-8") as f:
            f.write(f"video,query\r\na.mp4,{QUERY}\r\nb.mp4,the blue square, moving left\r\n")
    elif case == "video_twice":
        with open(listing, "w", encoding="utf-8") as f:
            f.write(f"video,query,Video\na.mp4,{QUERY},b.mp4\n")
    elif case != "no_file":
        _write_list(listing, [("a.mp4", QUERY)])
    if case == "with_video":
        extra = ["--video", "a.mp4", "--query", QUERY]
    argv = ["predict", "--model", run_dir, "--list", listing, "--output-dir", str(tmp_path / "out"), *extra]
    if case == "no_output_dir":
        argv = argv[:-2]
    elif case == "output_dir_alone":
        argv = ["predict", "--model", run_dir, "--video", "a.mp4", "--query", QUERY, "--output-dir", "out"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("acga predict: error: ") and expected in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_list_whose_run_would_replace_the_list_or_a_video_is_refused(run_dir, tmp_path, capsys):
    """A tester's: `--list OUT/results.csv --output-dir OUT` replaced the list with the run's table (status 0); an
    earlier run's overlay listed again in a folder the run writes was removed. Refused before the model loads."""
    out = tmp_path / "out"
    out.mkdir()
    write_video(out / "a.mp4", moving_frames(4, 24, 32), "libx264", "yuv420p")
    listing = out / "results.csv"
    _write_list(listing, [("a.mp4", QUERY)])
    before = listing.read_bytes()
    argv = ["predict", "--model", run_dir, "--list", str(listing), "--output-dir", str(out), "--no-progress"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (f"acga predict: error: {listing}: is the list (--list), which the run would "
                                       "replace or remove; give another --output-dir\n")
    assert listing.read_bytes() == before and sorted(os.listdir(out)) == ["a.mp4", "results.csv"]
    # a video of the list in a folder of the run's: a.mp4's earlier overlay, listed again from another folder
    (out / "a").mkdir()
    shutil.copy(out / "a.mp4", out / "a" / "overlay.mp4")
    other = tmp_path / "other"
    other.mkdir()
    _write_list(other / "list.csv", [(str(out / "a.mp4"), QUERY), (str(out / "a" / "overlay.mp4"), QUERY)])
    assert main(["predict", "--model", run_dir, "--list", str(other / "list.csv"), "--output-dir", str(out),
                 "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"acga predict: error: {out / 'a' / 'overlay.mp4'}: is the video of line 3 of "
                                       "the list, which the run would replace or remove; give another --output-dir\n")
    assert sorted(os.listdir(out / "a")) == ["overlay.mp4"]


def test_sighup_stops_a_job_as_ctrl_c_does_unless_ignored():
    """An SSH session that drops sends SIGHUP: before, a list of videos ended at once, without its results.csv. It now
    stops the job as SIGTERM does (what was kept said, the shell's status 129); `nohup` (SIGHUP ignored) still
    protects it."""
    from acga_tf.ops.errors import sigterm_as_interrupt

    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt() as stopped:
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(5)  # the handler raises in the main thread, at once
    assert stopped.signum == signal.SIGHUP
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with sigterm_as_interrupt() as stopped:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.2)
        assert stopped.signum is None
    finally:
        signal.signal(signal.SIGHUP, before)


def test_a_stop_that_was_dropped_is_raised_again_in_the_main_thread_alone():
    """`check_stop` raises a stop that came (its KeyboardInterrupt may have been dropped by Python in a finalizer),
    in the main thread only (`acga app`'s request threads go on while the server closes), and only within the
    block that handles the signals: the next command in the process starts clean."""
    import threading

    from acga_tf.ops.errors import check_stop, sigterm_as_interrupt

    raised = []
    with sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:
            pass  # (as a finalizer drops it)
        worker = threading.Thread(target=lambda: raised.append(check_stop()))
        worker.start()
        worker.join()
        with pytest.raises(KeyboardInterrupt):
            check_stop()
    assert raised == [None]
    check_stop()  # after the block: nothing
    with sigterm_as_interrupt():
        check_stop()


def _recorded_bars(monkeypatch) -> list:
    """The progress bars the command makes from now on, as it made them (a log's: stderr is not a terminal here)."""
    bars = []

    class Bar(tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(progress, "tqdm", Bar)
    return bars


def _stopping_after(frames: int, counted: list | None = None):
    """A `predict_list(..., frames=)` callback whose steps stop the run (Ctrl-C) once `frames` frames are segmented,
    counted in `counted` (kept across runs where given)."""
    counted = [] if counted is None else counted

    def started(row, number, total):
        def step(count):
            counted.append(count)
            if sum(counted) >= frames:
                raise KeyboardInterrupt
        return step

    return started


def test_a_list_shows_the_frames_of_the_video_being_segmented(run_dir, listed, capsys, monkeypatch):
    """A long-video tester's: `--list`'s bar counted whole videos, so a minutes-long video showed nothing for minutes.
    Its bar now counts the frames of the video being segmented, named by its number in the list."""
    root, _ = listed
    listing = _write_list(root / "two.csv", [("a.mp4", QUERY), ("missing.mp4", QUERY), ("clips/b.mp4", OTHER),
                                             ("a.mp4", OTHER)])
    calls, steps = [], {}

    def started(row, number, frames):
        calls.append((os.path.basename(row.path), number, frames))
        steps[number] = []
        return steps[number].append

    results = batch.predict_list(run_dir, batch.read_list(listing), str(root / "out"), frames=started, batch_size=2)
    assert [r.status for r in results] == ["done", "failed", "done", "done"]
    assert calls == [("a.mp4", 1, 6), ("b.mp4", 3, 5)]  # missing.mp4, video 2, never started
    assert {number: sum(counts) for number, counts in steps.items()} == {1: 6, 3: 5}
    assert all(len(counts) > 1 for counts in steps.values())  # during the video, not once at its end

    bars = _recorded_bars(monkeypatch)
    assert main(["predict", "--model", run_dir, "--list", listing, "--output-dir", str(root / "again")]) == 2
    assert [(bar.desc, bar.total, bar.n) for bar in bars] == [("predict video 1 of 3", 6, 6),
                                                             ("predict video 3 of 3", 5, 5)]
    err = capsys.readouterr().err
    assert err.startswith("acga predict: error: 1 of 4 rows failed") or "\nacga predict: error: 1 of 4" in err, err
    # into a log (stderr here), each video's bar ends with a line of its frames (a QA engineer's log was empty)
    assert re.search(r"^predict video 1 of 3: 6/6 frames \[", err, re.M) and re.search(
        r"^predict video 3 of 3: 5/5 frames \[", err, re.M), err


def test_a_lists_bars_say_how_long_the_whole_list_has_left_once_a_video_is_done(run_dir, listed, capsys,
                                                                                monkeypatch):
    """A batch user's overnight list said only how long the video being segmented had left. From the second video
    on, each bar also says how long the list has: the time a frame has taken so far, times the frames left (this
    video's, and the mean of the videos done for each video after it)."""
    root, _ = listed
    listing = _write_list(root / "three.csv", [("a.mp4", QUERY), ("clips/b.mp4", OTHER), ("a2.mp4", QUERY)])
    shutil.copy(root / "a.mp4", root / "a2.mp4")
    clock = iter(range(1000, 20_000, 2))  # each look at the clock 2 s after the one before
    monkeypatch.setattr(cli.time, "monotonic", lambda: float(next(clock)))
    bars = _recorded_bars(monkeypatch)
    assert main(["predict", "--model", run_dir, "--list", listing, "--output-dir", str(root / "out")]) == 0
    assert [bar.desc for bar in bars] == [f"predict video {k} of 3" for k in (1, 2, 3)]
    assert bars[0].postfix is None
    left = [re.fullmatch(r"about (\d+) s left in all", bar.postfix or "") for bar in bars[1:2]]
    assert all(left), [bar.postfix for bar in bars]
    assert int(left[0][1]) > 0 and bars[2].postfix == ""  # (the list's last frame: nothing left, nothing said; a
    # tester's "about 1 s left in all" at the end of every list)
    err = capsys.readouterr().err
    assert re.search(r"^predict video 2 of 3: 5/5 frames \[.*, about \d+ s left in all\]$", err, re.M), err
    assert [cli._duration(s) for s in (0.2, 40, 89.4, 600, 5399, 11100)] == [
        "1 s", "40 s", "89 s", "10 min", "90 min", "3 h 05 min"]
    # a reviewer's: a video of 100 frames done, then one of 1,000, at 1 s a frame: the time a frame takes counts the
    # frames of the video being segmented (it counted its time alone: "about 50 min left" at frame 500, for 500 s)
    assert [cli._time_left(100 + n, 100, 1, n, 1000, 0) for n in (1, 500, 900)] == [999, 500, 100]
    assert cli._time_left(150, 100, 1, 50, None, 2) == 50 + 200  # (no count: the mean of the videos done)
    assert cli._time_left(10, 0, 0, 10, 100, 3) is None


def test_a_matroska_video_has_a_total_and_a_refused_video_no_empty_bar(run_dir, tmp_path, capsys, monkeypatch):
    """A long-video tester's overnight log: a Matroska archive's bar was "1440/?" for its whole hour (MKV and WebM
    declare no frame count; their duration is estimated from), and a video refused before its first frame drew an
    empty "0/? frames" bar after its warning."""
    write_video(tmp_path / "c.mkv", moving_frames(9, 40, 56, seed=4), "libx264", "yuv420p")
    (tmp_path / "notes.mp4").write_text("not a video\n")
    assert video_info(str(tmp_path / "c.mkv")).frames is None  # what the container declares
    assert frames_to_segment(str(tmp_path / "c.mkv")) == 9  # 0.75 s at 12 fps
    listing = _write_list(tmp_path / "list.csv", [("c.mkv", QUERY), ("notes.mp4", QUERY)])
    bars = _recorded_bars(monkeypatch)
    assert main(["predict", "--model", run_dir, "--list", listing, "--output-dir", str(tmp_path / "out")]) == 2
    assert [(bar.desc, bar.total, bar.n) for bar in bars] == [("predict video 1 of 2", 9, 9)]  # video 2's: none
    err = capsys.readouterr().err
    assert re.search(r"^predict video 1 of 2: 9/9 frames \[", err, re.M), err
    assert "predict video 2 of 2" not in err and "notes.mp4: not a video FFmpeg can read" in err, err
    # a total estimated wrong (a duration longer than the frames): the bar ends at the frames segmented, not "9/12"
    monkeypatch.setattr(batch, "frames_to_segment", lambda path: 12)
    monkeypatch.setattr(cli, "frames_to_segment", lambda path, start, end: 12)
    bars.clear()
    assert main(["predict", "--model", run_dir, "--list", listing, "--output-dir", str(tmp_path / "again")]) == 2
    assert main(["predict", "--model", run_dir, "--video", str(tmp_path / "c.mkv"), "--query", QUERY]) == 0
    assert [(bar.total, bar.n) for bar in bars] == [(9, 9), (9, 9)]  # (the refused video: no bar)
    err = capsys.readouterr().err
    assert re.search(r"^predict video 1 of 2: 9/9 frames \[", err, re.M) and re.search(r"^predict: 9/9 frames \[",
                                                                                       err, re.M), err


def test_a_matroska_video_whose_times_start_late_has_its_frames_as_total_and_the_list_ends_with_no_time_left(
        run_dir, listed, capsys, monkeypatch):
    """A long-video reviewer's: a Matroska file cut from a stream (timestamps from 5 s) declares the 5 s in its
    duration, so its estimated total was 69 for 9 frames, and the list's last bar ended "about 4 s left in all"
    (the time left came from that total; the bar's total was set to its frames at the end, its time left kept)."""
    root, _ = listed
    write_video(root / "late.mkv", moving_frames(9, 40, 56, seed=4), "libx264", "yuv420p", pts=range(60, 69))
    assert frames_to_segment(str(root / "late.mkv")) == 9
    # sound from 0 s, frames from 5 s: the video's start taken off, not the container's (a mends reviewer's: 86)
    with av.open(str(root / "sound.mkv"), "w") as container:
        sound = container.add_stream("aac", rate=8000)
        sound.layout = "mono"
        video = container.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = 56, 40, "yuv420p"
        encode_frames(container, video, moving_frames(24, 40, 56, seed=4), range(60, 84))
        for start in range(0, 52_000, 1024):
            for packet in sound.encode(audio_frame(np.zeros((1, 1024), np.float32), "fltp", "mono", 8000, start)):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    assert frames_to_segment(str(root / "sound.mkv")) == 24
    clock = iter(range(1000, 20_000, 2))
    monkeypatch.setattr(cli.time, "monotonic", lambda: float(next(clock)))
    real = batch.frames_to_segment  # (a total still too large, from another cause: the time left is said again)
    monkeypatch.setattr(batch, "frames_to_segment", lambda path: 12 if path.endswith(".mkv") else real(path))
    listing = _write_list(root / "two.csv", [("a.mp4", QUERY), ("late.mkv", QUERY)])
    bars = _recorded_bars(monkeypatch)
    assert main(["predict", "--model", run_dir, "--list", listing, "--output-dir", str(root / "out")]) == 0
    assert [(bar.total, bar.n, bar.postfix) for bar in bars[1:]] == [(9, 9, "")]
    assert re.search(r"^predict video 2 of 2: 9/9 frames \[[^,\]]*, [^,\]]*\]$", capsys.readouterr().err, re.M)


def test_a_sentence_typed_in_full_width_or_with_decomposed_accents_is_segmented_once(run_dir, listed):
    """An i18n tester's: "the yéllow object" with "é" as one character and as "e" then an accent was segmented twice
    (serving.md: a sentence with the same words is segmented once); a full-width sentence had no known word."""
    root, _ = listed
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in QUERY)
    listing = _write_list(root / "forms.csv", [("a.mp4", QUERY + " caf\u00e9"), ("a.mp4", QUERY + " cafe\u0301"),
                                               ("a.mp4", full_width), ("a.mp4", QUERY)])
    results = batch.predict_list(run_dir, batch.read_list(listing), str(root / "out"))
    assert [(r.status, r.masks) for r in results] == [("done", "a/masks/1")] * 2 + [("done", "a/masks/2")] * 2
    assert (root / "out" / "a" / "masks" / "queries.txt").read_text(encoding="utf-8").splitlines() == [
        f"1\t{QUERY} caf\u00e9", f"2\t{' '.join(full_width.split())}"]  # its ideographic spaces made spaces


def test_a_path_written_with_the_other_form_of_its_accents_finds_the_file(run_dir, listed):
    """An i18n tester's: a list written on a Mac names "été.mp4" as "e" and an accent (NFD), and Linux, which keeps
    names as their bytes, had "video file not found" for a path that looked exactly like the file's."""
    root, _ = listed
    shutil.copy(root / "a.mp4", root / "\u00e9t\u00e9.mp4")  # stored composed (NFC)
    (root / "vid\u00e9os").mkdir()  # a second tester's: a folder made on Linux (NFC), a file copied from a Mac (NFD)
    shutil.copy(root / "a.mp4", root / "vid\u00e9os" / "Noe\u0308l.mp4")
    listing = _write_list(root / "mac.csv", [("e\u0301te\u0301.mp4", QUERY), ("vid\u00e9os/No\u00ebl.mp4", QUERY)])
    results = batch.predict_list(run_dir, batch.read_list(listing), str(root / "out"))
    assert [(r.status, r.masks) for r in results] == [("done", "\u00e9t\u00e9/masks/1"),
                                                      ("done", "vid\u00e9os/Noe\u0308l/masks/1")]


def test_links_in_the_output_folder_are_never_written_or_emptied_through(run_dir, tmp_path, capsys):
    """A security reviewer's: a `masks` link in a video's output folder (to a folder of PNGs) had its target's PNGs
    replaced and 48 more written there (rmtree refused the link silently); a leftover `results.csv.tmp` link to a
    folder had that folder emptied (TensorFlow's rmtree followed it). Now the links go, their targets untouched."""
    write_video(tmp_path / "v.mp4", moving_frames(4, 40, 56, seed=1), "libx264", "yuv420p")
    listed = _write_list(tmp_path / "list.csv", [("v.mp4", QUERY), ("v.mp4", OTHER)])
    precious, kept = tmp_path / "precious", tmp_path / "kept"
    (precious / "1").mkdir(parents=True)
    (precious / "1" / "00001.png").write_text("a photo")
    (kept / "sub").mkdir(parents=True)
    (kept / "keep.txt").write_text("a")
    (kept / "sub" / "keep2.txt").write_text("b")
    out = tmp_path / "out"
    (out / "v").mkdir(parents=True)
    os.symlink(precious, out / "v" / "masks")
    os.symlink(kept, out / (batch.RESULTS_NAME + ".tmp"))
    assert main(["predict", "--model", run_dir, "--list", listed, "--output-dir", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert sorted(os.listdir(precious)) == ["1"] and (precious / "1" / "00001.png").read_text() == "a photo"
    assert os.listdir(precious / "1") == ["00001.png"]
    assert (kept / "keep.txt").read_text() == "a" and (kept / "sub" / "keep2.txt").read_text() == "b"
    masks = out / "v" / "masks"
    assert not masks.is_symlink() and sorted(os.listdir(masks / "1")) == [f"{k:05d}.png" for k in range(1, 5)]
    assert _results(out)[0]["status"] == "done"


def test_a_list_given_as_a_pipe_takes_relative_paths_from_the_current_folder(tmp_path, monkeypatch):
    """A Unix user's: `--list <(cat pairs.csv)` looked for `v.mp4` as /dev/fd/v.mp4, `--list /dev/stdin` as
    /dev/v.mp4 ("video file not found"); a list file's own folder is still the base for its relative paths."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lists").mkdir()
    text = "video,query\nv.mp4,the red square\nclips/w.mp4,a man\n"
    (tmp_path / "lists" / "pairs.csv").write_text(text)
    assert [r.path for r in batch.read_list(str(tmp_path / "lists" / "pairs.csv"))] == [
        str(tmp_path / "lists" / "v.mp4"), str(tmp_path / "lists" / "clips" / "w.mp4")]
    read, write = os.pipe()
    os.write(write, text.encode())
    os.close(write)
    try:
        rows = batch.read_list(f"/dev/fd/{read}")
    finally:
        os.close(read)
    assert [(r.path, r.relative) for r in rows] == [(str(tmp_path / "v.mp4"), "v.mp4"),
                                                   (str(tmp_path / "clips" / "w.mp4"), "clips/w.mp4")]
    read, write = os.pipe()  # `--list -` ("-: list file not found"): standard input
    os.write(write, text.encode())
    os.close(write)
    saved = os.dup(0)
    os.dup2(read, 0)
    try:
        assert [r.path for r in batch.read_list("-")] == [str(tmp_path / "v.mp4"), str(tmp_path / "clips" / "w.mp4")]
        # an HPC tester's `--list - </dev/null`: "/dev/stdin: is empty"; named as the user gave it
        with open(os.devnull) as nothing:
            os.dup2(nothing.fileno(), 0)
        with pytest.raises(ValueError, match=r"^standard input \(--list -\): is empty; expected a CSV list"):
            batch.read_list("-")
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read)


def test_results_csv_is_written_a_twentieth_of_the_time_at_most(tmp_path, monkeypatch):
    """Each write is the whole table, twice a video: a list of 10,000 rows spent 86 ms a write, 29 minutes of a run
    (growing as the square of the rows). It is written as the run starts, then after a video once the time since the
    last write is 20 times what that write took."""
    clock, writes = [100.0], []

    def slow_write(path, results):  # a write of 10 ms, on a clock of the test's own (a loaded host's sleeps vary)
        writes.append([r.status for r in results])
        clock[0] += 0.01

    monkeypatch.setattr(batch, "write_results", slow_write)
    monkeypatch.setattr(batch.time, "monotonic", lambda: clock[0])
    results = [batch.RowResult(batch.ListRow(2, "a.mp4", "/x/a.mp4", "the man"))]
    table = batch._TableWrites(str(tmp_path / "results.csv"), results)
    assert writes == [["not started"]]
    results[0].status = "done"
    for _ in range(5):  # videos of 30 ms each, done faster than 20 writes' time: the table waits
        clock[0] += 0.03
        table.after_a_video()
    assert len(writes) == 1
    clock[0] += 0.1  # 0.25 s since the last write, 20 times its 10 ms and more
    table.after_a_video()
    assert writes == [["not started"], ["done"]]


def test_results_csv_keeps_a_spreadsheet_from_running_a_sentence_as_a_formula(tmp_path):
    """A security tester's: a list's sentence `=HYPERLINK(...)` went into results.csv as written, a formula when the
    file is opened in a spreadsheet. A cell starting as a formula does gets a `'` before it, but for a path starting
    with `-`; the rest is kept."""
    rows = [batch.ListRow(2, "-0dqW6Y9tY8.mp4", "/x/-0dqW6Y9tY8.mp4", '=HYPERLINK("http://x.example","click")'),
            batch.ListRow(7, "=cmd.mp4", "/x/=cmd.mp4", "the man"),
            batch.ListRow(3, "a.mp4", "/x/a.mp4", "+1 the man"), batch.ListRow(4, "b.mp4", "/x/b.mp4", "@here the man"),
            batch.ListRow(5, "c.mp4", "/x/c.mp4", "the man - running"),
            batch.ListRow(6, "d.mp4", "/x/d.mp4", "-2+3")]
    path = tmp_path / "results.csv"
    results = [batch.RowResult(row, "done", masks=row.video[:-4]) for row in rows]
    results[2].message = "-1 frames?"
    batch.write_results(str(path), results)
    with open(path, newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    # a path starting with `-` as it is (a reviewer's: A2D's clips, named by YouTube ids, often do; a script reads
    # the masks' folder back), any other cell that starts as a formula escaped
    assert [(r["video"], r["query"], r["masks"], r["message"]) for r in table] == [
        ("-0dqW6Y9tY8.mp4", '\'=HYPERLINK("http://x.example","click")', "-0dqW6Y9tY8", ""),
        ("'=cmd.mp4", "the man", "'=cmd", ""), ("a.mp4", "'+1 the man", "a", "'-1 frames?"),
        ("b.mp4", "'@here the man", "b", ""), ("c.mp4", "the man - running", "c", ""), ("d.mp4", "'-2+3", "d", "")]
    assert [r["line"] for r in table] == ["2", "7", "3", "4", "5", "6"]  # numbers are not text cells


def test_a_list_never_replaces_another_videos_result_and_says_its_own_options(run_dir, tmp_path, caplog,
                                                                              monkeypatch):
    """A batch reviewer's: (1) a list's `a.mp4` into the folder where an earlier list wrote `a/masks.mp4`'s result
    removed that result without a word (`a`'s masks folder is its folder); (2) results.csv was written after each
    video only, so a run killed outright in its first video left the last run's "done" of masks it had removed; (3)
    a stopped run of another job was named by `--masks-json`, not the list's `--json`; (4) a run again with
    `--no-audio` passed over an overlay made with sound as done earlier."""
    os.makedirs(tmp_path / "a")
    for name in ("a/masks.mp4", "a.mp4"):
        write_video(tmp_path / name, moving_frames(4, 40, 56, seed=1), "libx264", "yuv420p")
    out = tmp_path / "out"
    first = _write_list(tmp_path / "first.csv", [("a/masks.mp4", QUERY)])
    assert [r.status for r in batch.predict_list(run_dir, first, str(out))] == ["done"]
    before = sorted(p.relative_to(out) for p in (out / "a").rglob("*"))
    second = _write_list(tmp_path / "second.csv", [("a.mp4", QUERY)])
    (result,) = batch.predict_list(run_dir, second, str(out))
    assert result.status == "failed" and ("its masks would be written in the folder of another video's result "
                                          f"({out / 'a' / 'masks' / batch.SUMMARY_NAME}), which it would replace") \
        in result.message, result.message
    assert sorted(p.relative_to(out) for p in (out / "a").rglob("*")) == before
    # the other way round: a.mp4 done first, then a/masks.mp4 would write into its masks folder; a result beside
    # (clips/b.mp4's folder holding clips/b/c.mp4's) is left alone, and passed over when done (a reviewer's)
    (reverse,) = batch.predict_list(run_dir, second, str(tmp_path / "reverse"))
    assert reverse.status == "done"
    (result,) = batch.predict_list(run_dir, first, str(tmp_path / "reverse"))
    assert result.status == "failed" and "its masks would be written in the folder of another video's result" \
        in result.message
    os.rename(tmp_path / "a" / "masks.mp4", tmp_path / "a" / "c.mp4")
    inner = _write_list(tmp_path / "inner.csv", [("a/c.mp4", QUERY)])
    for listing, status in ((inner, "done"), (second, "done"), (inner, "done earlier")):
        assert [r.status for r in batch.predict_list(run_dir, listing, str(tmp_path / "beside"))] == [status]
    os.rename(tmp_path / "a" / "c.mp4", tmp_path / "a" / "masks.mp4")
    # (2) the list's table as each video starts: its rows "not started", not an earlier run's "done"
    seen = []
    real = batch._segment_video
    monkeypatch.setattr(batch, "_segment_video", lambda *args, **kwargs: (
        seen.append([row["status"] for row in _results(out)]), real(*args, **kwargs))[1])
    batch.predict_list(run_dir, first, str(out), overlay="mp4")
    assert seen == [["not started"]]
    monkeypatch.undo()
    # (4) an overlay with sound, then asked without: segmented again; a GIF has no sound, and a summary from before
    # `audio` was recorded is taken as asked (a reviewer's: whole lists segmented again)
    assert [r.status for r in batch.predict_list(run_dir, first, str(out), overlay="mp4")] == ["done earlier"]
    assert [r.status for r in batch.predict_list(run_dir, first, str(out), overlay="mp4", audio=False)] == ["done"]
    summary = out / "a" / "masks" / batch.SUMMARY_NAME
    assert json.loads(summary.read_text())["audio"] is False
    summary.write_text(json.dumps({k: v for k, v in json.loads(summary.read_text()).items() if k != "audio"}))
    assert [r.status for r in batch.predict_list(run_dir, first, str(out), overlay="mp4")] == ["done earlier"]
    assert [r.status for r in batch.predict_list(run_dir, first, str(out), overlay="gif")] == ["done"]
    assert [r.status for r in batch.predict_list(run_dir, first, str(out), overlay="gif", audio=False)] == [
        "done earlier"]
    # (3) a stopped masks-alone run, then the same list with --json: the stopped run's options by the list's flags
    with pytest.raises(KeyboardInterrupt):
        batch.predict_list(run_dir, second, str(tmp_path / "stopped"), batch_size=1, frames=_stopping_after(2))
    with caplog.at_level("WARNING"):
        assert main(["predict", "--model", run_dir, "--list", second, "--output-dir", str(tmp_path / "stopped"),
                     "--json", "--no-progress"]) == 0
    assert "of a stopped run of another job (other options (--json: the stopped run's False, this run's True))" \
        in caplog.text, caplog.text


def test_a_list_from_a_pipe_names_its_bad_line_and_a_header_quote_left_open_is_line_1(tmp_path):
    """An ops reviewer's: a list given through a pipe (`--list -`, `<(...)`) with a byte that is not UTF-8 on line
    20,002 was "line 1" (the file was read again to find the line, and a pipe cannot be); an unclosed quote in the
    header was "line 2"."""
    from acga_tf.ops.tables import TableError, read_csv_rows

    reader, writer = os.pipe()
    with os.fdopen(writer, "wb") as pipe:
        pipe.write(b"video,query\n" + b"a.mp4,the red square\n" * 200 + b"b.mp4,caf\xe9\n")
    try:
        with pytest.raises(TableError, match=r"line 202: not UTF-8 text"):
            read_csv_rows(f"/dev/fd/{reader}", ("video", "query"), expected="a list")
    finally:
        os.close(reader)
    for name, data, line in (("bom.csv", b"\xef\xbb\xbfvideo,query\na.mp4,x\n\xff.mp4,y\n", 3),  # (a reviewer's:
                             ("mac.csv", b"video,query\ra.mp4,x\rb.mp4,caf\x8e\r", 3)):  # line 2; CR: line 1)
        (tmp_path / name).write_bytes(data)
        with pytest.raises(TableError, match=rf"{name}: line {line}: not UTF-8 text"):
            read_csv_rows(str(tmp_path / name), ("video", "query"), expected="a list")
    (tmp_path / "open.csv").write_text('"video,query\na.mp4,the red square\n')
    with pytest.raises(TableError, match=r"open.csv: line 1: not CSV"):
        read_csv_rows(str(tmp_path / "open.csv"), ("video", "query"), expected="a list")
