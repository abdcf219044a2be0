"""acga_tf/data/convert.py (`acga prepare`, `python -m pipelines.convert`): synthetic A2D world → shards, manifest
and vocabulary; identical shards with workers, Beam and after an interrupted run; bad inputs; J-HMDB (test only)."""

import csv
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
import tensorflow as tf
from dataset_files import SHARD_SIZE, prepare_a2d
from runs import count_decoded, write_video
from support import REPO

from acga_tf.cli import main
from acga_tf.data import make_dataset
from acga_tf.data.a2d import read_a2d
from acga_tf.data.vocab import Vocabulary
from acga_tf.models.config import ACGAConfig

CONFIG = ACGAConfig.preset("tiny")  # T=8, S=64, L=8, D=32


def _shard_digests(out) -> dict[str, str]:
    return {n: hashlib.sha256(open(os.path.join(out, n), "rb").read()).hexdigest()
            for n in sorted(os.listdir(out)) if n.endswith(".tfrecord")}


def test_round_trip_counts_manifest_and_vocabulary(a2d_world, a2d_shards):
    root, summary = a2d_world
    manifest = json.load(open(a2d_shards / "manifest.json"))
    assert manifest["dataset"] == "a2d" and manifest["clip"]["window"] == 24
    assert manifest["samples"] == summary["samples"] and manifest["frames"] == summary["frames"]
    frames = read_a2d(str(root))
    for split in ("train", "test"):
        entry = manifest["splits"][split]
        split_frames = [f for f in frames if f.split == split]
        assert entry["frames"] == len(split_frames)
        assert entry["samples"] == sum(len(f.referrals) for f in split_frames)
        assert entry["num_shards"] == -(-len(split_frames) // SHARD_SIZE)
        for shard in entry["shards"]:  # sha256 in the manifest is the file's
            assert shard["sha256"] == hashlib.sha256(open(a2d_shards / shard["file"], "rb").read()).hexdigest()
            assert shard["file"].endswith(f"-of-{entry['num_shards']:05d}.tfrecord")
    train_sentences = [r.sentence for f in frames if f.split == "train" for r in f.referrals]
    assert Vocabulary.load(str(a2d_shards / manifest["vocabulary"])) == Vocabulary.build(train_sentences)
    # the words of vocab.txt, one a line (a multilingual tester's manifest said 83 of its 82: the padding entry)
    lines = (a2d_shards / manifest["vocabulary"]).read_text(encoding="utf-8").splitlines()
    assert manifest["vocabulary_size"] == len(lines) == len(Vocabulary.build(train_sentences).words) - 1
    assert not (a2d_shards / "skipped.csv").exists()


def test_workers_two_gives_identical_shards(a2d_world, a2d_shards, tmp_path):
    root, _ = a2d_world
    assert prepare_a2d(root, tmp_path, "--workers", "2") == 0
    assert _shard_digests(tmp_path) == _shard_digests(a2d_shards)


def test_each_video_is_decoded_once_for_all_its_annotated_frames(a2d_world, tmp_path, monkeypatch):
    # 24-frame videos annotated at frames 8, 12 and 16, window 24: decoding each frame's window from the video's start
    # read 19 + 23 + 24 frames of every video; once, up to the end of the last window, it reads 24.
    # (With one shard a split: a video whose frames a shard boundary parts is decoded once for each part.)
    root, _ = a2d_world
    decoded = count_decoded(monkeypatch)
    assert prepare_a2d(root, tmp_path, "--shard-size", "100") == 0  # one worker: in this process
    assert len(decoded) == 24 * len({f.video_id for f in read_a2d(str(root))})


def test_interrupted_run_resumes_to_identical_shards(a2d_world, a2d_shards, tmp_path, capsys):
    root, _ = a2d_world
    out = tmp_path / "out"
    shutil.copytree(a2d_shards, out)
    names = sorted(_shard_digests(out))
    # An interrupted run: one shard never renamed (only a partial .tmp), one shard half-written and no manifest.
    os.remove(out / names[0])
    (out / (names[0] + ".tmp")).write_bytes(b"partial")
    with open(out / names[-1], "r+b") as f:
        f.truncate(100)
    os.remove(out / "manifest.json")
    untouched = out / names[1]
    mtime = os.stat(untouched).st_mtime_ns
    capsys.readouterr()
    assert prepare_a2d(root, out) == 0
    assert _shard_digests(out) == _shard_digests(a2d_shards)
    assert os.stat(untouched).st_mtime_ns == mtime  # complete shards are kept, not rewritten
    # and said to be (a data engineer's re-run said nothing of them without -v)
    kept = sum(n.startswith("train-") for n in names if n not in (names[0], names[-1]))
    assert f" shards ({kept} of them written before, kept), 0 skipped" in capsys.readouterr().out.splitlines()[0]
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
    manifest, reference = json.load(open(out / "manifest.json")), json.load(open(a2d_shards / "manifest.json"))
    assert manifest["splits"] == reference["splits"]
    # Another shard size: old shards are replaced, samples never duplicated.
    assert prepare_a2d(root, out, "--shard-size", "100") == 0
    assert sorted(_shard_digests(out)) == ["test-00000-of-00001.tfrecord", "train-00000-of-00001.tfrecord"]
    total = sum(1 for _ in tf.data.TFRecordDataset(str(out / "train-00000-of-00001.tfrecord")))
    assert total == reference["splits"]["train"]["frames"]


def test_bad_inputs_stop_with_message_or_are_skipped(a2d_world, tmp_path, capsys, caplog):
    root, _ = a2d_world
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    frames = read_a2d(str(bad), "train")
    corrupt_video, missing_video = frames[0].frames_path, frames[-1].frames_path
    assert corrupt_video != missing_video
    with open(corrupt_video, "wb") as f:
        f.write(b"not an mp4 file")
    out = tmp_path / "out"

    # A corrupt video (found while converting): the message names the file.
    assert prepare_a2d(bad, out, "--split", "train") == 2
    err = capsys.readouterr().err
    assert "error:" in err and os.path.basename(corrupt_video) in err and "--skip-bad" in err
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]

    # A missing video and a bad annotation row (found by the reader).
    os.remove(missing_video)
    assert prepare_a2d(bad, out, "--split", "train") == 2
    err = capsys.readouterr().err  # the reader's errors suggest --skip-bad too (a data engineer's: some did not)
    assert os.path.basename(missing_video) in err and err.strip().endswith(
        "; use --skip-bad to leave such items out and list them in skipped.csv"), err
    annotation = bad / "text_annotations" / "a2d_annotation.txt"
    lines = annotation.read_text().splitlines()
    lines.append(f"{frames[0].video_id},x,a bad row")
    annotation.write_text("\n".join(lines) + "\n")
    assert prepare_a2d(bad, out, "--split", "train") == 2
    assert f"a2d_annotation.txt:{len(lines)}" in capsys.readouterr().err

    # --skip-bad: every skipped item is listed with its reason; each split's line counts its own frames, as the
    # manifest does, and the reader's items (a missing video, a bad row) are counted once (before, in every split's).
    caplog.clear()
    assert prepare_a2d(bad, out, "--skip-bad") == 0
    printed = capsys.readouterr().out.strip().splitlines()
    # each item left out is one warning, found by the reader or while converting (before, the reader's only)
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped: ")]
    for item in (corrupt_video, missing_video, f"{annotation}:{len(lines)}"):
        assert sum(item in line for line in warned) == 1, (item, warned)
    corrupt_frames = sum(f.frames_path == corrupt_video for f in frames)
    assert corrupt_frames > 1 and any(line.endswith(f"({corrupt_frames} annotated frames)") for line in warned)
    manifest = json.load(open(out / "manifest.json"))
    counts = {s: manifest["splits"][s]["skipped"] for s in ("train", "test")}
    assert counts["train"] >= 1 and counts["test"] == 0
    assert f"{counts['train']} skipped (listed in " in printed[0] and "a2d train:" in printed[0]
    assert "a2d test:" in printed[1] and "0 skipped ->" in printed[1]
    assert printed[2].startswith("a2d: 2 annotation items left out while reading (listed in ")
    assert len(manifest["reader_skipped_items"]) == 2
    with open(out / "skipped.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_source = {r["source"].split(":")[0]: r for r in rows}
    assert by_source[corrupt_video]["reason"] == "corrupt_video"
    assert by_source[missing_video]["reason"] == "missing_video"
    assert by_source[str(annotation)]["reason"] and "'x'" in by_source[str(annotation)]["message"]
    manifest = json.load(open(out / "manifest.json"))
    good = [f for f in frames if f.frames_path not in (corrupt_video, missing_video)]
    assert manifest["splits"]["train"]["frames"] == len(good)


def test_module_entry_point_and_unknown_split(a2d_world, tmp_path, capsys):
    from pipelines.convert import main as convert_main

    root, _ = a2d_world
    assert convert_main(["a2d", "--root", str(root), "--output", str(tmp_path), "--split", "test",
                         "--no-progress"]) == 0
    assert "a2d test:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["prepare", "a2d", "--root", str(root), "--output", str(tmp_path), "--split", "val"])


@pytest.mark.parametrize("argv, said", [
    ([], "acga: error: the following arguments are required: command (one of: demo, params, prepare, "
         "convert-weights, predict, visualize, export, train, evaluate, app)"),
    (["prepare"], "acga prepare: error: the following arguments are required: dataset (one of: a2d, jhmdb, custom)"),
    (["prepare", "--workers", "2"], "acga prepare: error: argument dataset: invalid choice: '2' (choose from 'a2d', "
                                    "'jhmdb', 'custom') (acga prepare DATASET [options]: the options after the "
                                    "dataset)")])
def test_a_missing_command_or_dataset_names_the_choices(argv, said, capsys):
    """A command-line reviewer's: "required: command" and "required: dataset" named nothing one can type, and the
    options before the dataset blamed their value."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and capsys.readouterr().err.startswith(said + " (`acga")


@pytest.mark.parametrize("option", ["--window", "--shard-size", "--workers"])
def test_a_count_below_one_is_named_alone_before_the_dataset_is_read(tmp_path, capsys, option):
    # a docs tester's `--window 0`: "window=0, shard_size=64, workers=1: must be positive" named three fields, and
    # only after the whole dataset had been read (the root here does not even exist)
    # (and named the field, not the flag: now argparse's, naming the flag)
    with pytest.raises(SystemExit) as stopped:
        main(["prepare", "a2d", "--root", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out"), option, "0"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (f"acga prepare a2d: error: argument {option}: '0' is not a whole "
                                               f"number of at least 1 (`acga prepare a2d --help` lists the options)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dataset, named, not_named", [("a2d", "a2d_sentences/", "annotations.csv"),
                                                        ("jhmdb", "jhmdb_sentences/", "a2d_sentences/"),
                                                        ("custom", "annotations.csv", "a2d_sentences/")])
def test_each_prepare_help_describes_its_own_root(capsys, dataset, named, not_named):
    """A documentation reviewer: `acga prepare a2d --help` described --root for J-HMDB and custom data too."""
    with pytest.raises(SystemExit):
        main(["prepare", dataset, "--help"])
    usage, _, options = capsys.readouterr().out.partition("options:")
    assert usage.split()[:6] == ["usage:", "acga", "prepare", dataset, "[-h]", "--root"]
    root = " ".join(options.split("--root ROOT", 1)[1].split("--output", 1)[0].split())
    assert named in root and not_named not in root, root


def test_prepare_from_python_names_its_arguments_and_the_command_its_options(tmp_path, capsys):
    """`prepare(...)` from Python said "choose an empty or new --output, or pass --overwrite", options of a command
    the caller did not run (as `fit` and `predict` did before them)."""
    from acga_tf.data.convert import claim_output_dir, prepare

    with pytest.raises(ValueError, match=r"nope.txt: vocabulary file not found \(vocabulary: the vocab.txt of"):
        prepare("a2d", str(tmp_path / "nowhere"), str(tmp_path / "out"), vocabulary=str(tmp_path / "nope.txt"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"\(notes.txt\); choose an empty or new output, or pass overwrite=True to "):
        claim_output_dir(str(tmp_path / "mine"), "a2d")
    assert main(["prepare", "a2d", "--root", str(tmp_path / "nowhere"), "--output", str(tmp_path / "mine")]) == 2
    assert "choose an empty or new --output, or pass --overwrite to " in capsys.readouterr().err


def test_a_trained_runs_folder_is_refused_as_the_output_even_with_overwrite(tmp_path, capsys):
    """`acga prepare ... --output RUN --overwrite` ("files the converter did not write are never
    touched") wrote the shards' vocab.txt over the run's (status 0), and the run would read its sentences with
    other words."""
    from acga_tf.data.convert import MODEL_FILES
    from acga_tf.training import artifacts

    assert set(MODEL_FILES) == {artifacts.MODEL_FILE, artifacts.EXPERIMENT_FILE, "saved_model.pb"}
    for name in MODEL_FILES:
        run = tmp_path / name.replace(".", "_")
        run.mkdir()
        (run / name).write_text("a model")
        (run / "vocab.txt").write_text("<pad>\nthe\n")
        argv = ["prepare", "a2d", "--root", str(tmp_path / "nowhere"), "--output", str(run), "--overwrite"]
        assert main(argv) == 2
        assert capsys.readouterr().err == (f"acga prepare a2d: error: {run}: holds a trained model ({name}), whose "
                                           "vocab.txt the shards' vocabulary would replace; choose another --output\n")
        assert (run / "vocab.txt").read_text() == "<pad>\nthe\n"


def test_a_missing_vocabulary_file_is_named_before_the_dataset_is_read(tmp_path, capsys):
    # a docs tester's: "[Errno 2] No such file or directory: 'nope.txt'", after the dataset had been read
    missing = tmp_path / "nope.txt"
    assert main(["prepare", "a2d", "--root", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out"),
                 "--vocabulary", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == (f"acga prepare a2d: error: {missing}: vocabulary file not found "
                                               "(--vocabulary: the vocab.txt of the shards the model was trained on)")


def test_progress_into_a_log_is_redrawn_rarely(a2d_world, tmp_path, capsys):
    # stderr is not a terminal here (`2> log`): a redraw every 30 s at most, so the bar of each split is drawn at its
    # start and end; before, up to once per shard written (5 draws for the 18 train frames here, a frame a shard)
    root, _ = a2d_world
    assert main(["prepare", "a2d", "--root", str(root), "--output", str(tmp_path), "--split", "train",
                 "--shard-size", "1"]) == 0
    err = capsys.readouterr().err
    draws = err.splitlines()  # each a line of its own, in ASCII: before, carriage returns and block characters
    assert len(draws) <= 2 and "\r" not in err and err.isascii(), draws
    assert re.fullmatch(r"a2d train: 18/18 frames \[\S+<00:00, +\S+\]", draws[-1]), draws


def test_bars_redraw_live_on_a_terminal_and_in_a_notebook_and_rarely_into_a_log(monkeypatch):
    import io

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")

    from acga_tf.ops.progress import keras_verbosity, redraw_interval

    terminal = type("Terminal", (io.StringIO,), {"isatty": lambda self: True})()
    notebook = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})()  # tqdm.auto draws a widget
    assert redraw_interval(terminal) == redraw_interval(notebook) == 0.1
    assert redraw_interval(io.StringIO()) == redraw_interval(object()) == 30
    # tqdm's monitor thread redraws a bar idle for `maxinterval` (10 s by default) whatever its `mininterval`: into a
    # log, before, a line every 10 to 20 s (33 in a tester's 8.5-minute `acga predict` log), not every 30 s
    from acga_tf.ops.progress import bar_intervals

    assert bar_intervals(io.StringIO()) == {"mininterval": 30, "maxinterval": 30}
    assert bar_intervals(terminal) == {"mininterval": 0.1, "maxinterval": 10}
    assert keras_verbosity(terminal) == keras_verbosity(notebook) == 1  # the same rule for Keras' bars
    assert keras_verbosity(io.StringIO()) == 2
    # a terminal that asks for no colours: Keras' live bar is drawn in bold and green (a locked-down environment's
    # tester saw its escape codes under NO_COLOR=1 and TERM=dumb): its one line an epoch instead
    monkeypatch.setenv("TERM", "dumb")
    assert keras_verbosity(terminal) == 2
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("NO_COLOR", "1")
    assert keras_verbosity(terminal) == 2


def test_beam_runner_gives_identical_shards(a2d_world, a2d_shards, tmp_path, caplog):
    """... on this machine, without a try at the network: DirectRunner (the default before) downloaded Beam's Prism
    runner from github.com at each run, and ran the pipeline there where it could (a fixer's finding)."""
    pytest.importorskip("apache_beam")
    root, _ = a2d_world
    with caplog.at_level(logging.INFO, logger="apache_beam"):
        assert prepare_a2d(root, tmp_path, "--runner", "beam") == 0
    assert _shard_digests(tmp_path) == _shard_digests(a2d_shards)
    assert not [r.getMessage() for r in caplog.records if "prism" in r.getMessage().lower()]


@pytest.mark.parametrize("extra, said", [
    (["--runner", "beam", "--beam-option=--runer=FlinkRunner", "--beam-option=--flink_master=host:8081"],
     "--beam-option: Apache Beam has no option --runer (did you mean --runner for --runer?)"),
    (["--runner", "beam", "--beam-option=FlinkRunner"],
     "--beam-option: 'FlinkRunner' is not a Beam option: each is --name=value (e.g. "
     "--beam-option=--runner=FlinkRunner)"),
    (["--runner", "beam", "--beam-option=--runner=DataflowRuner"],
     "--beam-option: --runner=DataflowRuner: Unexpected pipeline runner: DataflowRuner. Valid values are "),
    (["--beam-option=--direct_num_workers=2"], "--beam-option: read by the Beam runner only (--runner beam)"),
    # a diff reviewer's: dashes (passed over by Beam), a bad value (Beam's 138 lines of usage, and an exit), a space
    (["--runner", "beam", "--beam-option=--direct-num-workers=2", "--beam-option=--flink-master=host:8081"],
     "--beam-option: Beam's options are written with underscores: --direct_num_workers for --direct-num-workers, "
     "--flink_master for --flink-master"),
    (["--runner", "beam", "--beam-option=--direct_num_workers=two"],
     "--beam-option: argument --direct_num_workers: invalid int value: 'two'"),
    (["--runner", "beam", "--beam-option=--runner FlinkRunner"], "--beam-option: '--runner FlinkRunner' is not a Beam "
                                                                 "option: each is --name=value"),
])
def test_beam_options_beam_would_pass_over_or_refuse_late_are_refused_first(tmp_path, capsys, extra, said):
    """A reviewer's: a misspelled --beam-option was dropped with Beam's warnings (the job ran here, status 0), an
    unknown runner was refused once the dataset was read and marked a complete split as converting; options given to
    the local runner were passed over. Each is refused before the dataset is read (its root does not exist here)."""
    pytest.importorskip("apache_beam")
    out = tmp_path / "out"
    assert main(["prepare", "a2d", "--root", str(tmp_path / "nowhere"), "--output", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"acga prepare a2d: error: {said}") and "\n" not in err, err
    assert not out.exists()


def test_an_output_url_is_refused_before_anything_is_written(a2d_world, tmp_path, capsys, monkeypatch):
    """A reviewer's `--output gs://...`: a libcurl error naming no file, or (a file system TensorFlow reaches) local
    folders named `ram:/bucket/...` and advice to run the same command, which failed the same way."""
    monkeypatch.chdir(tmp_path)
    assert prepare_a2d(a2d_world[0], "ram://bucket/out") == 2
    assert capsys.readouterr().err.strip() == (
        "acga prepare a2d: error: ram://bucket/out: --output must be a folder of this machine's file system (for Beam "
        "workers on other machines, one they all mount: NFS, or a bucket mounted with gcsfuse); the converter writes "
        "no URL")
    assert os.listdir(tmp_path) == []


def test_beam_says_what_is_kept_at_an_error_or_a_stop_as_the_local_runner(a2d_world, a2d_shards, tmp_path, capsys,
                                                                         monkeypatch, caplog):
    """A reviewer's: Beam wraps what a step raises in a RuntimeError of its own; an unwritable shard ended `acga
    prepare --runner beam` with a 157-line traceback (status 1), and a Ctrl-C lost "N of M shards are complete and
    kept". Both are now said as the local runner says them, and the same command then converts the rest."""
    pytest.importorskip("apache_beam")
    from acga_tf.data import beam as beam_module
    from acga_tf.data.convert import prepare

    root, _ = a2d_world
    train = sorted(p.name for p in a2d_shards.glob("train-*.tfrecord"))
    out = tmp_path / "out"
    (out / train[-1]).mkdir(parents=True)  # a folder where a shard must go
    assert prepare_a2d(root, out, "--runner", "beam") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("acga prepare a2d: error: [Errno 21] Is a directory: ") and err.endswith(
        f"; {len(train) - 1} of {len(train)} a2d train shards are complete and kept; the same command converts only "
        "the rest"), err
    (out / train[-1]).rmdir()
    written = beam_module.write_shard

    def stopped(task, **kwargs):
        if task.name == train[0]:
            raise KeyboardInterrupt
        return written(task, **kwargs)

    shutil.rmtree(out)
    monkeypatch.setattr(beam_module, "write_shard", stopped)
    with pytest.raises(KeyboardInterrupt, match=rf"^\d+ of {len(train)} a2d train shards are complete and kept; the "
                                                r"same command converts only the rest$"):
        with caplog.at_level("INFO"):
            prepare("a2d", str(root), str(out), shard_size=SHARD_SIZE, runner="beam", progress=False)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text  # (Beam logged the stop's
    # traceback: a diff reviewer's)
    monkeypatch.setattr(beam_module, "write_shard", written)
    assert prepare_a2d(root, out, "--runner", "beam") == 0
    assert _shard_digests(out) == _shard_digests(a2d_shards)
    assert not list((out / ".shards").glob("*.error.json"))


def test_two_beam_executions_of_one_shard_at_once_leave_a_whole_shard_and_its_marker(a2d_world, a2d_shards,
                                                                                    tmp_path, monkeypatch):
    """A reviewer's: a cluster may run one shard twice at once (a retried bundle); both executions wrote one
    temporary name, and two processes left a marker whose sha256 was not its shard's. Here one execution runs
    whole while the other is writing its first record."""
    pytest.importorskip("apache_beam")
    from acga_tf.data import beam as beam_module
    from acga_tf.data import shards
    from acga_tf.data.shards import completed_marker, plan_shards

    out = tmp_path / "out"
    (out / ".shards").mkdir(parents=True)
    task = plan_shards(read_a2d(str(a2d_world[0]), "train"), str(out), "train", window=8, shard_size=SHARD_SIZE,
                       skip_bad=False)[0]
    encode, inside = shards.encode_example, []

    def encode_while_another_runs(*args):
        if not inside:
            inside.append(True)
            beam_module._write_and_record(task)  # the other execution, whole
        return encode(*args)
    monkeypatch.setattr(shards, "encode_example", encode_while_another_runs)
    beam_module._write_and_record(task)
    assert inside and completed_marker(task) is not None
    assert sorted(os.listdir(out)) == [".shards", task.name] and os.listdir(out / ".shards") == [task.name + ".json"]


def test_what_stopped_executions_left_is_removed_and_other_runners_get_absolute_paths(a2d_world, tmp_path,
                                                                                     monkeypatch):
    """Temporaries of a stopped execution (Beam's each have a name of their own) are removed when the split is next
    converted, by either runner, and whatever the shard count then (a diff reviewer's: Beam's markers' were left
    where the local runner finished the split, and an earlier version's `<shard>.json.tmp` where Beam did); a runner
    other than the direct ones gets absolute paths (its workers do not run in this folder; a reviewer's)."""
    pytest.importorskip("apache_beam")
    from apache_beam.options.pipeline_options import PipelineOptions

    from acga_tf.data.beam import worker_tasks
    from acga_tf.data.shards import plan_shards

    root, out = a2d_world[0], tmp_path / "out"
    assert prepare_a2d(root, out, "--runner", "beam") == 0
    shard = sorted(out.glob("train-*.tfrecord"))[0]
    other = re.sub(r"-of-\d{5}", "-of-00099", shard.name)  # (another shard count's)
    markers = out / ".shards"
    left = [out / (shard.name + ".0123456789abcdef.tmp"), markers / (shard.name + ".json.fedcba9876543210.tmp"),
            markers / (shard.name + ".error.json.00000000ffffffff.tmp"), markers / (shard.name + ".json.tmp"),
            markers / (other + ".json.0123456789abcdef.tmp")]
    for runner in ("beam", "local"):
        for path in left:
            path.write_text("cut short")
        (out / ".shards" / (shard.name + ".json")).unlink()  # (stopped before its marker)
        assert prepare_a2d(root, out, "--runner", runner, "--split", "train") == 0
        assert [path.exists() for path in left] == [False] * len(left), runner
    (out / ".shards" / "test-00000-of-00002.tfrecord.json.tmp").write_text("another split's")
    assert prepare_a2d(root, out, "--split", "train") == 0
    assert (out / ".shards" / "test-00000-of-00002.tfrecord.json.tmp").exists()

    monkeypatch.chdir(root.parent)
    tasks = plan_shards(read_a2d(root.name, "train"), "out", "train", window=8, shard_size=SHARD_SIZE, skip_bad=False)
    assert worker_tasks(tasks, PipelineOptions(["--runner=DirectRunner"])) == tasks
    far = worker_tasks(tasks, PipelineOptions(["--runner=FlinkRunner"]))
    assert [t.output_dir for t in far] == [str(root.parent / "out")] * len(tasks)
    assert {f.frames_path.startswith(str(root) + os.sep) for t in far for f in t.items} == {True}
    assert [t.fingerprint for t in far] == [t.fingerprint for t in tasks]


@pytest.mark.slow  # (about 20 s: two Beam worker processes start, each loading TensorFlow)
def test_beams_multi_processing_mode_leaves_no_temporary_folder(a2d_world, tmp_path, monkeypatch, capfd, caplog):
    """DirectRunner's multi-processing mode left six temporary folders (its job server's, `beam-temp*`, and its
    workers') in /tmp at every run; they now go in a folder of the run's own, removed after it. Its workers printed
    their INFO logs, Beam's and TensorFlow's start-up lines on the command's stderr (116 lines for the two splits of
    a synthetic dataset), and the command logged their warnings again: none now, as the runner in this process."""
    pytest.importorskip("apache_beam")
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    tf.config.list_physical_devices("GPU")  # (this process's CUDA start and its line first: the command's is quiet)
    capfd.readouterr()
    caplog.clear()  # (Beam's import notice, above: the command imports Beam without it)
    assert prepare_a2d(a2d_world[0], tmp_path / "out", "--runner", "beam", "--beam-option=--direct_running_mode="
                       "multi_processing", "--beam-option=--direct_num_workers=2", "--split", "test") == 0
    assert os.listdir(scratch) == [] and os.environ["TMPDIR"] == str(scratch) and tempfile.tempdir == str(scratch)
    assert capfd.readouterr().err == ""
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


@pytest.mark.slow  # (about 20 s): the default suite converts with Beam's default runner; this, its FnApiRunner named
def test_beams_fnapirunner_named_in_multi_processing_mode_converts(a2d_world, a2d_shards, tmp_path, capfd):
    """`--runner=FnApiRunner` in its multi-processing mode: its workers, which do not read `--beam_plugins` at their
    start, first import `acga_tf.data.beam_worker` in one of their threads, unpickling a step, where it may set no
    signal: the run failed ("signal only works in main thread of the main interpreter"). Named so, Beam gave its
    workers no options at all: each warned "No semi_persistent_directory found", and logged at INFO (14 lines on
    stderr); now as quiet as DirectRunner's multi-processing mode (`beam._named_fn_api_runner`)."""
    pytest.importorskip("apache_beam")
    out = tmp_path / "out"
    tf.config.list_physical_devices("GPU")  # (this process's CUDA start and its line first: the command's is quiet)
    capfd.readouterr()
    assert prepare_a2d(a2d_world[0], out, "--runner", "beam", "--beam-option=--runner=FnApiRunner",
                       "--beam-option=--direct_running_mode=multi_processing", "--beam-option=--direct_num_workers=2",
                       "--split", "test") == 0
    assert capfd.readouterr().err == ""
    assert _shard_digests(out) == {name: digest for name, digest in _shard_digests(a2d_shards).items()
                                   if name.startswith("test")}


@pytest.mark.slow  # (about 25 s): the default suite converts with Beam in its default mode, whose warnings are ours
def test_beams_multi_processing_mode_says_the_conversions_own_warnings_once(a2d_world, tmp_path, capfd, caplog):
    """A reviewer's: with its workers at ERROR, a video's warning (a display matrix that turns it 45 degrees) was lost
    in Beam's multi-processing mode, where the other runners say it; at WARNING each came twice (the worker's line,
    then Beam's "Worker: severity: WARN ..." copy) beside Beam's own warnings. Now once a time the video is read, as
    the command writes its own."""
    pytest.importorskip("apache_beam")
    root = tmp_path / "a2d"
    shutil.copytree(a2d_world[0], root)
    clip = sorted((root / "Release" / "clips320H").glob("*.mp4"))[0]
    with av.open(str(clip)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    c, s = round(np.cos(np.pi / 4) * 65536), round(np.sin(np.pi / 4) * 65536)
    write_video(clip, frames, "libx264", "yuv420p", display=[c, s, 0, -s, c, 0, 0, 0, 1 << 30])
    warning = f"{clip}: its display matrix turns it 45.0 degrees clockwise"
    with caplog.at_level(logging.WARNING):  # (in this process the command's log goes to pytest's handler)
        assert prepare_a2d(root, tmp_path / "local", "--split", "train") == 0
    said = [f"WARNING {r.name}: {r.getMessage()}" for r in caplog.records if clip.name in r.getMessage()]
    assert said and all(line.startswith(f"WARNING acga_tf.data.video: {warning}") for line in said), said
    capfd.readouterr()
    assert prepare_a2d(root, tmp_path / "out", "--runner", "beam", "--split", "train",
                       "--beam-option=--direct_running_mode=multi_processing",
                       "--beam-option=--direct_num_workers=2") == 0
    err = capfd.readouterr().err.splitlines()
    assert [line for line in err if clip.name in line] == said, err  # (the local runner's lines, as many)
    assert [line for line in err if clip.name not in line] == [], err


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow  # (about 40 s: Beam's worker processes start twice, each loading TensorFlow)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_in_beams_multi_processing_mode_is_one_line_and_keeps_the_shards(a2d_world, tmp_path, signum):
    """A Ctrl-C (SIGINT to every process of the command, as a terminal sends it), or a SIGTERM to the command (`kill`,
    `timeout`), while DirectRunner's worker processes write shards: each worker printed its Python traceback, and
    Beam's threads one for each worker ended (with 60 to 170 lines of the workers' logs). Now the one line the other
    runners say; the shards it counts are on disk, no worker outlives the command, and the same command converts only
    the rest. (A SIGTERM to every process of the command, which could leave it waiting forever: the next test.)"""
    pytest.importorskip("apache_beam")
    root, out, whole = a2d_world[0], tmp_path / "out", tmp_path / "whole"
    command = [sys.executable, "-m", "acga_tf", "prepare", "a2d", "--root", str(root), "--output", str(out),
               "--shard-size", "1", "--split", "train", "--no-progress", "--runner", "beam",
               "--beam-option=--direct_running_mode=multi_processing", "--beam-option=--direct_num_workers=2"]
    environment = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and not list(out.glob(".shards/*.tfrecord.json")):
            time.sleep(0.05)
        if signum == signal.SIGINT:  # the process group: the command and Beam's workers
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    stopped = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}[signum]
    said = re.fullmatch(rf"acga prepare a2d: {stopped}: (\d+) of 18 a2d train shards are complete and kept; the same "
                        r"command converts only the rest\n", err)
    assert proc.returncode == -signum and said, err[-3000:]
    left = time.monotonic() + 15  # no process of the command is left (a worker that ignored SIGTERM outlived it)
    while time.monotonic() < left and _group_alive(proc.pid):
        time.sleep(0.1)
    assert not _group_alive(proc.pid), subprocess.run(["ps", "-o", "pid,stat,args", "-g", str(proc.pid)],
                                                      capture_output=True, text=True).stdout
    assert int(said.group(1)) == len(list(out.glob(".shards/*.tfrecord.json"))) < 18
    assert prepare_a2d(root, out, "--shard-size", "1", "--split", "train") == 0
    assert prepare_a2d(root, whole, "--shard-size", "1", "--split", "train") == 0
    assert _shard_digests(out) == _shard_digests(whole)


def test_a_stop_that_one_of_beams_threads_takes_wakes_the_main_thread():
    """A SIGTERM sent to every process of a Beam multi-processing run (a scheduler's) ended the workers, and the
    command waited for them forever in 4 runs of 6: the kernel had given the signal to one of Beam's threads, and
    Python raises it in the main thread alone, once it wakes, where Beam waits on a worker's answer without a time
    limit. Here the signal reaches another thread while the main thread waits so (a gate that opens after 20 s): it
    now stops at once, as the command says it ("terminated", docs/data.md#conversion)."""
    from acga_tf.data import beam
    from acga_tf.ops.errors import sigterm_as_interrupt

    gate = threading.Lock()
    gate.acquire()
    opens = threading.Timer(20, gate.release)

    def stop_taken_here():
        time.sleep(0.3)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt(), beam._stops_to_the_main_thread():
            opens.start()
            threading.Thread(target=stop_taken_here).start()
            gate.acquire()  # (as Beam waits on a worker's answer)
    opens.cancel()
    assert time.monotonic() - start < 10
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and signal.set_wakeup_fd(-1) == -1  # put back


def test_a_runner_that_cannot_run_says_why_in_a_line(a2d_world, tmp_path, capsys):
    """The mends reviewer's: PortableRunner without its endpoint was a 60-line traceback (status 1)."""
    pytest.importorskip("apache_beam")
    assert prepare_a2d(a2d_world[0], tmp_path / "out", "--runner", "beam", "--beam-option=--runner=PortableRunner") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("acga prepare a2d: error: Apache Beam's runner did not run the conversion: You must specify "
                          "a --job_endpoint when using --runner=PortableRunner") and "\n" not in err, err


def test_pipelines_beam_without_arguments_asks_for_the_dataset(capsys):
    """A reviewer's: `python -m pipelines.beam` alone said "argument dataset: invalid choice: 'beam'" (the runner it
    adds, taken for the dataset)."""
    from pipelines.beam import run

    with pytest.raises(SystemExit):
        run([])
    assert "the following arguments are required: dataset" in capsys.readouterr().err
    # an option before the dataset (`-v`) kept the local runner, which then refused the Beam option
    assert run(["-v", "a2d", "--root", "nowhere", "--output", "out", "--beam-option=--runer=x"]) == 2
    assert "Apache Beam has no option --runer" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # its help is `acga prepare`'s, whose --runner defaults to local: said first
        run(["a2d", "--help"])
    assert capsys.readouterr().err.startswith("python -m pipelines.beam runs `acga prepare ... --runner beam`: its "
                                              "options follow, --runner beam given")


def test_prepare_jhmdb_test_only(tmp_path, a2d_shards, capsys):
    from acga_tf.data.synthetic import write_jhmdb_world

    root = tmp_path / "jhmdb_sentences"
    write_jhmdb_world(str(root), n_videos=2, seed=1)
    out = tmp_path / "out"
    args = ["prepare", "jhmdb", "--root", str(root), "--output", str(out), "--no-progress"]
    assert main(args + ["--split", "train"]) == 2
    assert "J-HMDB Sentences is test-only" in capsys.readouterr().err
    # The A2D vocabulary is shared with the model trained on A2D (docs/evaluation.md#protocol).
    assert main(args + ["--frames", "uniform", "--vocabulary", str(a2d_shards / "vocab.txt")]) == 0
    manifest = json.load(open(out / "manifest.json"))
    assert list(manifest["splits"]) == ["test"] and manifest["splits"]["test"]["samples"] == 2 * 3
    assert (out / "vocab.txt").read_text() == (a2d_shards / "vocab.txt").read_text()
    ds = make_dataset(str(out / "test-*.tfrecord"), CONFIG, training=False, batch_size=6, with_info=True)
    _, targets, info = next(iter(ds))
    assert targets["logits"].shape == (6, 64, 64, 1) and set(info["height"].numpy()) == {120}
    # A vocabulary the sentences cannot be read with is refused before any shard is written. Before: an empty file was
    # copied (training then failed inside TensorFlow), and one without their words trained text-blind, silently.
    for name, text, message in (("empty.txt", "", "empty.txt: no word (an empty vocabulary)"),
                                ("other.txt", "zzz\t3\nqqq\t1\n", "other.txt: none of the 2 sentences has a word")):
        (tmp_path / name).write_text(text)
        shutil.rmtree(out, ignore_errors=True)
        assert main(args + ["--vocabulary", str(tmp_path / name)]) == 2
        assert message in capsys.readouterr().err
        assert not list(out.glob("*.tfrecord"))


def test_a_dataset_without_a_test_split_says_only_train_shards_are_written(tmp_path, caplog):
    """A notebook reviewer's world of one video: no test video, no test shard, not a word; evaluation then found no
    shard. J-HMDB Sentences, test-only by design, is not warned of (above)."""
    from acga_tf.data.convert import prepare
    from acga_tf.data.synthetic import write_a2d_world

    write_a2d_world(str(tmp_path / "a2d"), n_videos=1, seed=0)
    with caplog.at_level("WARNING"):
        (summary,) = prepare("a2d", str(tmp_path / "a2d"), str(tmp_path / "out"), progress=False)
    assert summary["split"] == "train"
    assert f"{tmp_path / 'a2d'}: no annotated frame in the 'test' split: only train shards are written" in caplog.text


def test_a_dataset_left_with_nothing_to_convert_is_an_error_even_with_skip_bad(a2d_world, tmp_path, capsys):
    """A data engineer's: the clips folder on a mount that was not up, with --skip-bad: every video was skipped as
    bad, and the command ended with status 0, no summary, nothing written (an earlier conversion in the folder left as
    it was, the user believing it refreshed)."""
    root, _ = a2d_world
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    clips = bad / "Release" / "clips320H"
    for video in clips.glob("*.mp4"):
        video.unlink()
    assert prepare_a2d(bad, tmp_path / "out", "--skip-bad") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(rf"acga prepare a2d: error: {re.escape(str(bad))}: no annotated frame of a2d to convert: all "
                        r"\d+ items read were bad \(the warnings above name them; nothing was written\)", err), err
    shutil.rmtree(clips)
    os.symlink(tmp_path / "not_mounted" / "clips", clips)
    assert prepare_a2d(bad, tmp_path / "out", "--skip-bad") == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"acga prepare a2d: error: {clips}: the videos' folder is missing (a link to nowhere)")
    assert not (tmp_path / "out").exists()


def test_a_folder_another_conversion_is_writing_into_is_refused(a2d_world, a2d_shards, tmp_path, capsys):
    """A data engineer's two `acga prepare` into one folder: the first died naming a temporary file of its own the
    second had removed ("conc2/train-00010-of-00036.tfrecord.tmp; No such file or directory"). A conversion holds a
    lock on its folder now (here another process's, as `flock` sees an open file of this one): the second is refused
    in one line, exit 75, nothing touched; a folder it made for the lock is removed."""
    from acga_tf.ops import files

    root, _ = a2d_world
    out = tmp_path / "out"
    shutil.copytree(a2d_shards, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    lock = files.WriteLock(str(out))
    try:
        assert prepare_a2d(root, out) == 75
        assert capsys.readouterr().err.strip() == (f"acga prepare a2d: error: {out} (--output): another run is "
                                                   "writing it now; wait for it to end, or write elsewhere")
    finally:
        lock.release()
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert prepare_a2d(root / "nowhere", tmp_path / "new" / "shards") == 2  # refused after the lock: no folder left
    assert not (tmp_path / "new").exists()


def test_workers_report_each_shard_as_it_is_written_and_stop_at_the_first_bad_one(monkeypatch):
    """A reviewer's `acga prepare --workers 2`: the bar stood at 0 frames while 6 of 18 shards were written (the pool
    was waited on until every shard was done: `write_shard` returns its errors, it raises none), so a bad shard was
    named only after every other had been written."""
    import concurrent.futures  # noqa: PLC0415
    import time  # noqa: PLC0415
    import types  # noqa: PLC0415

    from acga_tf.data import convert  # noqa: PLC0415
    from acga_tf.data.types import DataError  # noqa: PLC0415

    written = []

    def write_shard(task):
        written.append(task.name)
        if task.name == "bad":
            return {"name": "bad", "error": ["clip.mp4", "cannot be decoded", "damaged"]}
        time.sleep(0.3)
        return {"name": task.name}

    monkeypatch.setattr(convert, "write_shard", write_shard)
    tasks = [types.SimpleNamespace(name=name, items=[0]) for name in ("bad", "a", "b", "c", "d")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(DataError, match=r"clip\.mp4: cannot be decoded"):
            convert._run_local(tasks, 1, False, "a2d train", pool)
    assert written[0] == "bad" and len(written) <= 2, written  # the shard running went on; the rest were cancelled


def test_only_a_direct_runner_gets_the_multi_processing_modes_worker_options():
    """A reviewer's: `--direct_running_mode=multi_processing` beside another runner (Flink's, Dataflow's), which
    passes it over, gave that runner's remote workers our plugin and ERROR logging."""
    pytest.importorskip("apache_beam")
    from apache_beam.options.pipeline_options import PipelineOptions

    from acga_tf.data import beam

    assert beam._multi_processing(PipelineOptions(["--direct_running_mode=multi_processing"]))
    assert beam._multi_processing(PipelineOptions(["--runner=DirectRunner", "--direct_running_mode=multi_processing"]))
    assert not beam._multi_processing(PipelineOptions(["--runner=FlinkRunner",
                                                       "--direct_running_mode=multi_processing"]))
    assert not beam._multi_processing(PipelineOptions(["--runner=DirectRunner"]))
