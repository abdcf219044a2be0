"""Tests for acga_tf/apps/evaluate.py and `acga evaluate`: docs/evaluation.md#protocol at the original resolution,
per-sample CSV, the trained run's vocabulary on shards with another vocabulary (J-HMDB), and user errors."""

import csv
import errno
import glob
import json
import os
import re
import shutil
import types
import zipfile

import h5py
import keras
import numpy as np
import pytest
from support import TRAINING_TINY

from acga_tf import cli
from acga_tf.apps import evaluate as evaluate_module
from acga_tf.apps.evaluate import CSV_COLUMNS, evaluate, format_table, score, summary_record
from acga_tf.data.convert import prepare
from acga_tf.data.datasets import load_vectorizer, make_dataset
from acga_tf.data.manifest import read_manifest
from acga_tf.data.synthetic import write_jhmdb_world
from acga_tf.data.vocab import save_word_vectors
from acga_tf.training import artifacts
from acga_tf.training.experiment import ExperimentConfig
from acga_tf.training.train import fit

# Mixed_4f and the head train, not all of I3D: a run to evaluate (TRAINING_TINY in tests/support.py says why).
CONFIG = ExperimentConfig.preset("tiny", **{**TRAINING_TINY, "batch_size": 4})


@pytest.fixture(scope="module")
def trained_run(prepared_a2d, tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("run"))
    fit(CONFIG, prepared_a2d["train"], out, epochs=1, steps_per_epoch=2, verbose=0)
    return out


@pytest.fixture(scope="module")
def run_scores(trained_run, prepared_a2d) -> dict:
    """`evaluate(trained_run, prepared_a2d["test"])`, the plain call's summary, computed once for the tests that
    compare other calls' scores with it."""
    return evaluate(trained_run, prepared_a2d["test"])


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_perfect_prediction_scores_one_at_original_resolution(prepared_a2d):
    # The ground truth at the model's letterboxed resolution, scored by the evaluation loop
    # (docs/evaluation.md#protocol) against the ORIGINAL masks:
    # un-letterboxing must land it back on the original frame. With S at least the frame's size, the nearest-
    # neighbour round trip is exact, so a perfect predictor scores exactly 1.
    config = CONFIG.override(image_size=256).data
    dataset = make_dataset(prepared_a2d["test"], config, training=False, batch_size=5,
                           vectorizer=load_vectorizer(prepared_a2d["data"], config), with_info=True)
    summary, rows = score(dataset, lambda inputs, targets: targets["logits"])
    assert summary["samples"] == len(rows) == read_manifest(prepared_a2d["data"])["splits"]["test"]["samples"]
    assert max(max(r[2], r[3]) for r in rows) <= config.image_size
    assert summary["P@0.9"] == 1.0 and summary["mAP@0.5:0.95"] == 1.0
    assert summary["overall_iou"] == 1.0 and summary["mean_iou"] == 1.0
    assert all(r[4] == r[5] > 0 for r in rows)  # intersection == union, in original-resolution pixels
    heights = {r[2] for r in rows}
    assert heights and all(h != config.image_size for h in heights)  # scored at the frame's size, not S
    # An empty prediction scores 0 wherever the mask is not empty.
    empty, _ = score(dataset, lambda inputs, targets: 0.0 * targets["logits"] - 1.0)
    assert empty["P@0.5"] == 0.0
    # A reviewer's: a model whose output is NaN (weights that diverged) scored as a poor model's, every mask empty.
    first = next(iter(dataset))[2]["sample_id"][0].numpy().decode()
    with pytest.raises(ValueError, match=f"^the model's probabilities for sample {first} are not numbers \\(NaN\\): "
                                         "its weights are not finite"):
        score(dataset, lambda inputs, targets: targets["logits"] * np.nan)


def test_evaluate_writes_table_and_csv(trained_run, prepared_a2d, tmp_path):
    out_csv = str(tmp_path / "per_sample.csv")
    # A run loaded once (as `acga demo` evaluates, exports and draws it); the paths: the checkpoint below, and
    # test_jhmdb_uses_the_trained_vocabulary.
    summary = evaluate(artifacts.load_trained(trained_run), prepared_a2d["test"], batch_size=8, output_csv=out_csv)
    rows = _read_csv(out_csv)
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == summary["samples"] > 0
    ious = np.array([float(r["iou"]) for r in rows])
    inter = np.array([int(r["intersection"]) for r in rows], np.float64)
    union = np.array([int(r["union"]) for r in rows], np.float64)
    assert np.all((ious >= 0) & (ious <= 1)) and np.all(inter <= union)
    np.testing.assert_allclose(ious, (inter + 1e-6) / (union + 1e-6), atol=1e-6)
    assert summary["overall_iou"] == pytest.approx(inter.sum() / union.sum())
    assert summary["mean_iou"] == pytest.approx(ious.mean(), abs=1e-6)
    assert summary["P@0.5"] == pytest.approx(np.mean(ious >= 0.5))
    table = format_table(summary)
    assert "mAP@0.5:0.95" in table and "Overall IoU" in table and f"| {summary['samples']} |" in table
    # A checkpoint of the run (the same weights after one epoch) is evaluated with the run's vocabulary too.
    again = evaluate(os.path.join(trained_run, "checkpoints", "epoch-01.keras"), prepared_a2d["test"])
    assert again == pytest.approx(summary)


def test_a_checkpoint_copied_away_from_its_run_is_scored_with_its_own_words_or_refused(trained_run, run_scores,
                                                                                       prepared_a2d, tmp_path,
                                                                                       caplog):
    """A training monitor's: `cp run/checkpoints/epoch-02.keras picked/best.keras`, then `acga evaluate --model
    picked/best.keras` scored it with the vocabulary beside the shards and random word vectors, where the run had
    read word2vec's: mean IoU 3.6 against 4.1, with a warning only. Each `.keras` file a run writes now records its
    words' digest: other words are refused, the same words are used (no warning)."""
    picked = tmp_path / "picked"
    picked.mkdir()
    best = str(picked / "best.keras")
    shutil.copy(os.path.join(trained_run, "checkpoints", "epoch-01.keras"), best)
    run = artifacts.load_trained(trained_run)
    assert artifacts.recorded_words(best) == artifacts.recorded_words(os.path.join(trained_run, "model.keras")) == (
        artifacts.words_digest(run.vocabulary.words, run.embeddings))
    # as the archive's comment: a fourth entry made Keras unpack the whole file into a temporary folder at every load
    # (and leave it there where a full disk stopped it, a chaos tester's)
    with zipfile.ZipFile(best) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    with caplog.at_level("WARNING"):  # this run read the random vectors the shards' vocabulary gives: the same words
        assert evaluate(best, prepared_a2d["test"]) == pytest.approx(run_scores)
    assert "beside it" not in caplog.text
    vectors = str(tmp_path / "vectors.txt")  # other words: vectors the run never read
    save_word_vectors(vectors, {w: np.ones(CONFIG.data.word_dim) for w in run.vocabulary.words[1:]}, "glove")
    with pytest.raises(ValueError, match=r"best.keras: was trained with other words than the vocabulary beside the "
                                         r"shards in .* \(and .*vectors.txt\): put its run's vocab.txt and "
                                         r"embeddings.npy beside it, or score it in its run's folder"):
        evaluate(best, prepared_a2d["test"], vectors_path=vectors)
    # a model saved by Keras alone (a notebook's `model.save`) records nothing: scored with a warning, as before
    bare = str(picked / "notebook.keras")
    run.model.save(bare)
    assert artifacts.recorded_words(bare) is None
    older = str(picked / "older.keras")  # a file of 2026-12-05, its digest in an entry of its own
    shutil.copy(bare, older)
    with zipfile.ZipFile(older, "a") as archive:
        archive.writestr(artifacts.WORDS_ENTRY, json.dumps({"words": "d1g3st"}))
    assert artifacts.recorded_words(older) == "d1g3st"
    caplog.clear()
    with caplog.at_level("WARNING"):
        evaluate(bare, prepared_a2d["test"])
    assert ("notebook.keras has no vocab.txt beside it and records no digest of its words (a file saved by Keras "
            "alone, or by acga-tf before 2026-12-05), so they cannot be checked: using the vocabulary beside the "
            "shards") in caplog.text


def test_every_checkpoint_of_a_run_is_scored_to_pick_an_epoch(trained_run, prepared_a2d, tmp_path, capsys):
    """A training monitor's: `acga evaluate --model RUN/checkpoints` said "checkpoints/model.keras: missing", and the
    docs call the checkpoints "for picking an epoch" with no way to score them but a loop. Now one row a checkpoint,
    the best named, and the records of all of them in --output-json."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    shutil.copy(run / "checkpoints" / "epoch-01.keras", run / "checkpoints" / "epoch-02.keras")
    out_json = str(tmp_path / "scores" / "epochs.json")
    assert cli.main(["evaluate", "--model", str(run / "checkpoints"), "--data", prepared_a2d["test"],
                     "--output-json", out_json]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    # each checkpoint's bar named (a documentation reviewer's log: five "235/235 - 22s - 22ms/sample" alike)
    said = err.splitlines()
    assert said[0] == "epoch-01.keras (1 of 2)" and said[2] == "epoch-02.keras (2 of 2)", said
    one = evaluate(str(run / "checkpoints" / "epoch-01.keras"), prepared_a2d["test"])
    row = " | ".join(f"{100 * one[k]:.1f}" for k in ("P@0.5", "P@0.6", "P@0.7", "P@0.8", "P@0.9", "mAP@0.5:0.95",
                                                        "overall_iou", "mean_iou"))
    assert lines[0].startswith("| model | P@0.5 |") and lines[2:4] == [
        f"| epoch-01.keras | {row} | {one['samples']} |", f"| epoch-02.keras | {row} | {one['samples']} |"], lines
    assert lines[4] == f"best mean IoU: epoch-01.keras ({100 * one['mean_iou']:.1f})"
    records = json.load(open(out_json))
    assert [os.path.basename(r["model"]) for r in records] == ["epoch-01.keras", "epoch-02.keras"]
    assert records[1]["scores"] == pytest.approx(one)
    assert [r["epoch"] for r in records] == [1, 2]  # a sweep engineer's: the path alone told the epoch
    assert records[0]["weights"] == records[1]["weights"]  # the same weights (one file, copied)
    assert records[0]["experiment"] == json.load(open(run / artifacts.EXPERIMENT_FILE))
    assert cli.main(["evaluate", "--model", str(run / "checkpoints"), "--data", prepared_a2d["test"],
                     "--output-csv", str(tmp_path / "rows.csv")]) == 2
    assert "--output-csv: one model's rows, sample by sample; " in capsys.readouterr().err


def test_shards_given_twice_are_refused_and_training_shards_named(trained_run, prepared_a2d, tmp_path, caplog):
    """An evaluation auditor's: a test shard copied under a second name and matched by the pattern was scored twice
    (470 samples of 235, no word), and the training split's shards were scored without a word either."""
    shards = sorted(glob.glob(prepared_a2d["test"]))
    for shard in shards:
        shutil.copy(shard, tmp_path / os.path.basename(shard))
        shutil.copy(shard, tmp_path / os.path.basename(shard).replace("test-", "test-copy-"))
    with pytest.raises(ValueError, match=r"test-copy-.*tfrecord and .*test-.*tfrecord are the same shard \(identical "
                                         r"bytes\): its samples would be scored twice; give each shard once"):
        evaluate(trained_run, str(tmp_path / "test-*.tfrecord"))
    # the same samples in shards that differ (here: one stream read twice) are refused by their ids
    config = CONFIG.data
    dataset = make_dataset(prepared_a2d["test"], config, training=False, batch_size=4,
                           vectorizer=load_vectorizer(prepared_a2d["data"], config), with_info=True)
    with pytest.raises(ValueError, match=r"sample .*/\d{5}/\d+ \('.+'\) is read a second time: the shards given hold "
                                         r"it twice"):
        score(dataset.repeat(2), lambda inputs, targets: targets["logits"])
    # stopped (Ctrl-C, SIGTERM) mid-way: how far it got, and that no score was written (an HPC tester's
    # "acga evaluate: terminated", alone)
    batches = []

    def stopped_at_the_second(inputs, targets):
        batches.append(1)
        if len(batches) == 2:
            raise KeyboardInterrupt
        return targets["logits"]

    with pytest.raises(KeyboardInterrupt, match=r"^after 4 of 10 samples; no score was written$"):
        score(dataset, stopped_at_the_second, total=10)
    caplog.clear()
    evaluate(trained_run, prepared_a2d["train"])
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("a training split's shard (train-*): a score on what the model may have trained on" in m
               for m in warned), warned
    caplog.clear()
    evaluate(trained_run, prepared_a2d["test"])
    assert not any("training split" in r.getMessage() or "split's" in r.getMessage() for r in caplog.records)
    # part of a split (a metrics auditor's pattern that matched one shard of five): scored, and said so
    prepare("a2d", prepared_a2d["root"], str(tmp_path / "small"), "test", progress=False, shard_size=1)
    shards = sorted(glob.glob(str(tmp_path / "small" / "test-*.tfrecord")))
    total = read_manifest(str(tmp_path / "small"))["splits"]["test"]["samples"]
    caplog.clear()
    part = evaluate(trained_run, shards[0])
    assert 0 < part["samples"] < total and len(shards) > 1
    assert [r.getMessage() for r in caplog.records if "split's" in r.getMessage()] == [
        f"{tmp_path / 'small'}: 1 of the test split's {len(shards)} shards matched: the scores are of "
        f"{part['samples']} of its {total} samples"]


def test_shards_of_several_conversions_pooled_are_warned_of(tmp_path, caplog):
    """A tester's: one pattern (`data/*/test-*.tfrecord`) matched J-HMDB's uniform-frame and metadata-frame
    conversions, and one score counted their videos twice, without a word (the same frames twice are refused as the
    same samples read twice; other frames of the same videos were not). And A2D pooled with J-HMDB."""
    from acga_tf.apps import evaluate as evaluate_module  # noqa: PLC0415

    for name, dataset, videos in (("uniform", "jhmdb", ["a", "b", "c"]), ("metadata", "jhmdb", ["b", "c", "d"]),
                                  ("other", "jhmdb", ["e"])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "test-00000-of-00001.tfrecord").write_bytes(name.encode())
        (tmp_path / name / "manifest.json").write_text(json.dumps({"dataset": dataset, "splits": {"test": {
            "shards": [{"file": "test-00000-of-00001.tfrecord"}], "videos": videos}}}))
    with caplog.at_level("WARNING"):
        evaluate_module._checked(str(tmp_path / "*" / "test-*.tfrecord"), 1, None, None)
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'metadata'} and {tmp_path / 'uniform'} hold the same videos (2 of them, b first): one score "
        "counts those videos once for each folder; give one folder's shards"]
    (tmp_path / "other" / "manifest.json").write_text(json.dumps({"dataset": "a2d", "splits": {"test": {
        "shards": [{"file": "test-00000-of-00001.tfrecord"}], "videos": ["b"]}}}))
    caplog.clear()
    with caplog.at_level("WARNING"):
        evaluate_module._checked(str(tmp_path / "*" / "test-*.tfrecord"), 1, None, None)
    warned = [r.getMessage() for r in caplog.records]
    assert warned[0] == (f"the shards are of 3 conversions of a2d and jhmdb ({tmp_path / 'metadata'}, "
                         f"{tmp_path / 'other'}, {tmp_path / 'uniform'}): one score pools them, where the published "
                         "tables score each dataset alone") and len(warned) == 2, warned
    caplog.clear()
    with caplog.at_level("WARNING"):
        evaluate_module._checked(str(tmp_path / "uniform" / "test-*.tfrecord"), 1, None, None)
    assert not caplog.records


def test_a_model_in_memory_is_named_as_what_it_is(prepared_a2d):
    # a notebook tester's `evaluate(model, ...)` with the ACGA model in hand: "stat: path should be string, bytes,
    # os.PathLike or integer, not ACGA" (tests/test_predict.py: predict, the attention, the export)
    model = types.SimpleNamespace()
    with pytest.raises(TypeError, match=r"^model is SimpleNamespace, not a path: give a trained run.s folder or its"):
        evaluate(model, prepared_a2d["test"])


def test_scores_by_a2d_actor_and_action(trained_run, run_scores, prepared_a2d, tmp_path, capsys, caplog):
    """`acga evaluate --by-class` (docs/evaluation.md#by-class): each sample's A2D actor-action id, read from its
    frame's `.h5` at conversion, in the CSV's `class_id` column, and the benchmark's table by actor and by action,
    each row the metrics of its samples alone; the JSON holds them too."""
    out_csv, out_json = str(tmp_path / "rows.csv"), str(tmp_path / "scores.json")
    summary = evaluate(trained_run, prepared_a2d["test"], output_csv=out_csv, output_json=out_json, by_class=True)
    rows = _read_csv(out_csv)
    for row in rows:  # the synthetic world's ids: 10 x (shape + 1) + motion + 1 (acga_tf.data.synthetic)
        video, frame, instance = row["sample_id"].split("/")
        h5 = os.path.join(prepared_a2d["root"], "text_annotations", "a2d_annotation_with_instances", video,
                          f"{frame}.h5")
        with h5py.File(h5, "r") as f:
            ids = list(np.asarray(f["instance"]).reshape(-1))
            assert int(row["class_id"]) == int(np.asarray(f["id"]).reshape(-1)[ids.index(int(instance))]) > 0
    by_class = summary["by_class"]
    assert by_class["unknown"] == 0 and by_class == json.load(open(out_json))["by_class"]
    for kind, position in (("actor", 0), ("action", 1)):
        assert sum(s["samples"] for s in by_class[kind].values()) == summary["samples"] == len(rows)
        for name, scores in by_class[kind].items():
            members = [r for r in rows if evaluate_module.class_name(int(r["class_id"]))[position] == name]
            ious = np.array([float(r["iou"]) for r in members])
            assert scores["samples"] == len(members) and scores["mean_iou"] == pytest.approx(ious.mean(), abs=1e-6)
            assert scores["overall_iou"] == pytest.approx(sum(int(r["intersection"]) for r in members)
                                                          / sum(int(r["union"]) for r in members))
    assert list(by_class["actor"]) == [a for a in evaluate_module.A2D_ACTORS if a in by_class["actor"]]
    assert len(by_class["actor"]) > 1 and len(by_class["action"]) > 1
    assert {k: v for k, v in summary.items() if k != "by_class"} == run_scores
    with caplog.at_level("WARNING"):  # (the warning named `vectors_path=` under the command: a reviewer's)
        assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--by-class",
                         "--no-progress", "--word-vectors", "nope.bin"]) == 0
    assert f"{trained_run} has its own word vectors (embeddings.npy): --word-vectors nope.bin is ignored" in \
        caplog.text
    printed = capsys.readouterr().out
    assert "By actor (A2D's actor classes" in printed and "| actor | P@0.5 |" in printed
    assert "By action (A2D's action classes" in printed and "| action | P@0.5 |" in printed
    for name, scores in by_class["actor"].items():
        assert f"| {name} | {100 * scores['P@0.5']:.1f} |" in printed and f" | {scores['samples']} |" in printed
    # one model's breakdown: a run's checkpoints folder scores each checkpoint, with no breakdown
    assert cli.main(["evaluate", "--model", os.path.join(trained_run, "checkpoints"), "--data", prepared_a2d["test"],
                     "--by-class", "--no-progress"]) == 2
    assert "--by-class: one model's scores by class" in capsys.readouterr().err


def test_jhmdb_uses_the_trained_vocabulary(trained_run, tmp_path, capsys):
    # The same J-HMDB world prepared with its own vocabulary and with the A2D one scores identically: the model's
    # vocabulary is used, not the one beside the shards.
    write_jhmdb_world(str(tmp_path / "jhmdb"), n_videos=2, seed=4)
    prepare("jhmdb", str(tmp_path / "jhmdb"), str(tmp_path / "own"), "test", progress=False)
    prepare("jhmdb", str(tmp_path / "jhmdb"), str(tmp_path / "shared"), "test", progress=False,
            vocabulary=os.path.join(trained_run, "vocab.txt"))
    own = open(tmp_path / "own" / "vocab.txt").read()
    assert own != open(os.path.join(trained_run, "vocab.txt")).read()
    a = evaluate(trained_run, str(tmp_path / "own" / "test-*.tfrecord"), output_csv=str(tmp_path / "a.csv"))
    b = evaluate(trained_run, str(tmp_path / "shared" / "test-*.tfrecord"), output_csv=str(tmp_path / "b.csv"))
    assert a == b and _read_csv(tmp_path / "a.csv") == _read_csv(tmp_path / "b.csv")
    # J-HMDB records no A2D class: `--by-class` says so, in a line, under the table
    assert {row["class_id"] for row in _read_csv(tmp_path / "a.csv")} == {"0"}
    assert cli.main(["evaluate", "--model", trained_run, "--data", str(tmp_path / "own" / "test-*.tfrecord"),
                     "--by-class", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "No sample records its A2D class" in printed and "By actor" not in printed
    # which frames were scored (docs/evaluation.md#protocol: say which; a reviewer's record could not tell)
    assert summary_record(a, trained_run, CONFIG.model, str(tmp_path / "own" / "test-*.tfrecord"),
                          sorted(glob.glob(str(tmp_path / "own" / "test-*.tfrecord"))), 8)["frame_choice"] == {
        f"{tmp_path / 'own'}/test": {"rule": "uniform", "frames_per_video": 3, "sentences": "jhmdb_annotation.txt"}}


def test_cli_evaluate_prints_the_table(trained_run, prepared_a2d, tmp_path, capsys):
    out_csv, out_json = str(tmp_path / "cli.csv"), str(tmp_path / "scores" / "cli.json")
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-csv", out_csv,
                     "--output-json", out_json, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "P@0.5" in printed and "Mean IoU" in printed and os.path.exists(out_csv)
    # the scores with what was scored, for a script comparing runs (a reproducibility tester had the table alone)
    record = json.load(open(out_json))
    assert f"| {100 * record['scores']['mean_iou']:.1f} | {record['scores']['samples']} |" in printed
    assert record["model"] == os.path.abspath(trained_run) and record["data"] == prepared_a2d["test"]
    assert [s["file"] for s in record["shards"]] == sorted(glob.glob(prepared_a2d["test"]))
    assert record["batch_size"] == 8 and record["precision"] == "float32"  # in bfloat16 the batch moves scores
    # which model was scored (an ablation researcher compared variants by opening each run's config.json)
    assert record["config"] == artifacts.load_trained(trained_run).config.to_dict()
    # a sweep engineer's: runs differing only in their schedule (learning rate, seed, epochs) or trained again in
    # place gave records alike but for the path: the run's experiment and a digest of the weights tell them apart
    assert record["experiment"] == json.load(open(os.path.join(trained_run, artifacts.EXPERIMENT_FILE)))
    assert record["experiment"]["training"]["learning_rate"] == CONFIG.training.learning_rate
    assert record["weights"] == artifacts.arrays_digest(artifacts.load_trained(trained_run).model.weights)
    assert record["epoch"] is None and record["frame_choice"] is None  # (A2D's annotated frames: no choice)
    # a metrics tester's: the word vectors scored with, by the digest the run's provenance records
    provenance = json.load(open(os.path.join(trained_run, "provenance.json")))
    assert record["word_vectors"] == provenance["sessions"][-1]["word_vectors"]["digest"]
    # a reproducibility auditor's: the shards were told by name and size only, the code by "0.1.0" (every version)
    manifest = json.load(open(os.path.join(prepared_a2d["data"], "manifest.json")))
    assert [s["sha256"] for s in record["shards"]] == [s["sha256"] for s in manifest["splits"]["test"]["shards"]]
    assert record["software"]["keras"] == keras.__version__ and "source_commit" in record["software"]
    # With its progress bar, into a file or a pipe: one line with the manifest's total, on stderr, and the table alone
    # on stdout (a CLI reviewer's `acga evaluate ... > scores.md` had the bar's line first). Before that, the bar's
    # redrawing (backspaces, carriage returns) never ended its line, and the table's header began on it.
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"]]) == 0
    captured = capsys.readouterr()
    lines, bar = captured.out.splitlines(), captured.err.splitlines()
    assert re.fullmatch(r"24/24 - \d+s - \d+m?s/sample", bar[-1]), bar
    assert lines[0].startswith("| P@0.5 |") and len(lines) == 3, lines
    assert not any("\r" in line or "\b" in line for line in lines + bar), (lines, bar)


def test_cli_evaluate_writes_an_output_named_dash_to_stdout_and_the_table_to_stderr(trained_run, prepared_a2d,
                                                                                      tmp_path, monkeypatch, capfd):
    """A Unix user's `--output-csv -` wrote a file named "-"; `--output-json - | jq` needs stdout to hold the JSON
    alone."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-json", "-",
                     "--no-progress"]) == 0
    out, err = capfd.readouterr()
    assert json.loads(out)["scores"]["samples"] == 24 and "| P@0.5 |" in err and os.listdir(tmp_path) == []
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-csv", "-",
                     "--no-progress"]) == 0
    out, err = capfd.readouterr()
    assert out.splitlines()[0].startswith("sample_id,") and len(out.splitlines()) == 25 and "| P@0.5 |" in err
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-csv", "-",
                     "--output-json", "-"]) == 2
    assert "both '-'" in capfd.readouterr().err
    # `--output-json /dev/stdout > file`: the table was written over the JSON's first bytes
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-json",
                     "/dev/stdout", "--no-progress"]) == 0
    out, err = capfd.readouterr()
    assert json.loads(out)["scores"]["samples"] == 24 and "| P@0.5 |" in err


def test_cli_evaluate_on_a_full_disk_names_the_csv_and_keeps_the_scores(trained_run, prepared_a2d, tmp_path,
                                                                          monkeypatch, capsys, caplog):
    """Before: "acga evaluate: error: [Errno 28] No space left on device" after the whole evaluation: no file named,
    and the scores, a long run's on real data, lost with the table that was never printed."""
    out_csv = str(tmp_path / "scores.csv")

    class FullDisk:
        def __init__(self, f):
            pass

        def writerow(self, row):
            raise OSError(errno.ENOSPC, "No space left on device")  # as Python's own writes raise it: no file name

    monkeypatch.setattr(evaluate_module.csv, "writer", FullDisk)
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-csv", out_csv,
                     "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(rf"acga evaluate: error: \[Errno 28\] No space left on device: '{re.escape(out_csv)}'; the "
                        r"evaluation finished \(24 samples: mean IoU \d+\.\d%, overall IoU \d+\.\d%, mAP \d+\.\d%\) "
                        rf"but {re.escape(out_csv)} was not written", err), err
    assert os.listdir(tmp_path) == []  # nor its temporary file
    # a Unix user's: the JSON asked for too went unwritten, unmentioned; it is written where it can be, or named
    out_json = str(tmp_path / "scores.json")
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-csv", out_csv,
                     "--output-json", out_json, "--no-progress"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"but {out_csv} was not written")
    assert os.listdir(tmp_path) == ["scores.json"]
    monkeypatch.setattr(evaluate_module.files, "write_json", FullDisk.writerow)
    os.remove(out_json)
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-csv", out_csv,
                     "--output-json", out_json, "--no-progress"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"but {out_csv} and {out_json} were not written")


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "--model", "MODEL"], "the following arguments are required: --data"),
    (["evaluate", "--model", "MODEL", "--data", "/nonexistent/test-*.tfrecord"], "no TFRecord file matches"),
    (["evaluate", "--model", "/nonexistent/run", "--data", "DATA"], "/nonexistent/run: no such trained run"),
    (["evaluate", "--model", "MODEL", "--data", "DATA", "--batch-size", "0"],
     "argument --batch-size: '0' is not a whole number of at least 1"),
    # a reviewer's 0-byte shard: "no sample to evaluate: the dataset is empty", naming no file, after the model loaded
    (["evaluate", "--model", "MODEL", "--data", "EMPTY"], "EMPTY: no sample in the shard (an empty file)"),
])
def test_cli_evaluate_errors_are_one_line(argv, message, trained_run, prepared_a2d, capsys, tmp_path):
    empty = tmp_path / "test-00000-of-00001.tfrecord"
    empty.touch()
    argv = [{"MODEL": trained_run, "DATA": prepared_a2d["test"], "EMPTY": str(empty)}.get(a, a) for a in argv]
    message = message.replace("EMPTY", str(empty))
    try:
        status = cli.main(argv)
    except SystemExit as stopped:  # argparse's own errors
        status = stopped.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and err.startswith("acga evaluate: error:")


@pytest.mark.parametrize("flag, target, message", [
    ("--output-csv", "data/SHARD", "data/SHARD: is one of the shards read (--data); --output-csv must name another "
                                   "path"),
    ("--output-json", "run/embeddings.npy", "run/embeddings.npy: is a file of the model (run); --output-json must name "
                                           "another path"),
    ("--output-json", "run/experiment.json", "is a file of the model (run)"),
    ("--output-json", "run/checkpoints/epoch-01.keras", "is a file of the model (run/checkpoints)"),
    ("--output-json", "data/manifest.json", "data/manifest.json: is the shards' manifest.json; --output-json"),
    ("--output-csv", "data/vocab.txt", "data/vocab.txt: is the shards' vocab.txt; --output-csv"),
    ("--output-json", "link.json", "link.json: is a file of the model (run)"),  # a link to run/model.keras
    ("--output-json", "run/../run/config.json", "run/../run/config.json: is a file of the model (run)"),
])
def test_an_output_naming_what_evaluate_reads_is_refused_before_the_work(flag, target, message, trained_run,
                                                                         prepared_a2d, tmp_path, monkeypatch, capsys):
    """A tester's: `--output-csv shards/test-00000-of-00001.tfrecord` replaced the shard with the CSV, and
    `--output-json RUN/embeddings.npy` destroyed the run, both exit 0. Refused in one line, as predict refuses its
    input video (`files.check_not_input`), before the model is loaded; nothing changed."""
    shutil.copytree(trained_run, tmp_path / "run")
    shutil.copytree(prepared_a2d["data"], tmp_path / "data")
    shard = os.path.basename(sorted(glob.glob(prepared_a2d["test"]))[0])
    (tmp_path / "link.json").symlink_to(tmp_path / "run" / "model.keras")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(evaluate_module, "load_for_evaluation", lambda *a: pytest.fail("the model was loaded"))
    before = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    target, message = target.replace("SHARD", shard), message.replace("SHARD", shard)
    model = "run/checkpoints" if "checkpoints" in target else "run"
    argv = ["evaluate", "--model", model, "--data", "data/test-*.tfrecord", flag, target, "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("acga evaluate: error: ") and message in err and len(err.splitlines()) == 1, err
    assert {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_the_csv_and_the_json_named_the_same_path_are_refused(trained_run, prepared_a2d, tmp_path, monkeypatch,
                                                               capsys):
    """A tester's: `--output-csv F --output-json F` was accepted and the CSV silently lost under the JSON."""
    monkeypatch.setattr(evaluate_module, "load_for_evaluation", lambda *a: pytest.fail("the model was loaded"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["evaluate", "--model", trained_run, "--data", prepared_a2d["test"], "--output-csv", "scores",
                     "--output-json", "./scores", "--no-progress"]) == 2
    assert capsys.readouterr().err == ("acga evaluate: error: ./scores: --output-csv and --output-json name the same "
                                       "path\n")
    assert not os.path.exists(tmp_path / "scores")


def test_a_run_with_a_damaged_experiment_record_is_scored_with_a_warning(trained_run, prepared_a2d, tmp_path,
                                                                        capsys, caplog):
    """A tester's `echo nope > RUN/experiment.json`: the whole evaluation ran, then failed with "Expecting value: line
    1 column 1 (char 0)", naming no file, and wrote nothing. The record is informational (predict and export do not
    read it): a warning naming it, before the work, and the scores written with no experiment recorded."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / artifacts.EXPERIMENT_FILE).write_text("nope\n")
    out_json, out_csv = tmp_path / "scores.json", tmp_path / "rows.csv"
    with caplog.at_level("WARNING"):
        assert cli.main(["evaluate", "--model", str(run), "--data", prepared_a2d["test"], "--output-json",
                         str(out_json), "--output-csv", str(out_csv), "--no-progress"]) == 0
    warned = [m for m in caplog.messages if artifacts.EXPERIMENT_FILE in m]
    assert warned == [f"{run / artifacts.EXPERIMENT_FILE}: not JSON (Expecting value: line 1 column 1 (char 0)); the "
                      "scores are written with no experiment recorded"], caplog.messages
    record = json.loads(out_json.read_text())
    assert record["experiment"] is None and record["scores"]["samples"] > 0 and len(_read_csv(out_csv)) > 0
    assert "| Mean IoU |" in capsys.readouterr().out


def test_one_checkpoint_is_counted_in_the_singular(trained_run, prepared_a2d, tmp_path, capsys):
    """"RUN/checkpoints holds 1 checkpoints": the count's noun agrees with it (`counted`)."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(os.path.join(trained_run, "checkpoints", "epoch-01.keras"), folder)
    assert cli.main(["evaluate", "--model", str(folder), "--data", prepared_a2d["test"], "--output-csv",
                     str(tmp_path / "rows.csv"), "--no-progress"]) == 2
    assert f"{folder} holds 1 checkpoint: give one of them" in capsys.readouterr().err


def test_a_folder_above_the_run_is_refused_before_the_shards_are_looked_at(trained_run, prepared_a2d, tmp_path,
                                                                          monkeypatch, capsys, caplog):
    """A QA tester's `acga evaluate --model demo_output --data 'demo_output/tfrecords/*'`: the warning that training
    shards were matched came first, then the refusal of the folder above the run; a relative model path not found
    names the current folder."""
    os.symlink(trained_run, tmp_path / "run")
    with caplog.at_level("WARNING"):
        status = cli.main(["evaluate", "--model", str(tmp_path), "--data", prepared_a2d["train"], "--no-progress"])
    assert "training split" not in caplog.text
    err = capsys.readouterr().err.strip()
    assert status == 2 and err == (f"acga evaluate: error: {tmp_path}: holds no model itself; models in it: "
                                   f"{tmp_path / 'run'}: give one of them"), err
    monkeypatch.chdir(tmp_path)
    assert cli.main(["evaluate", "--model", "nosuch", "--data", prepared_a2d["train"], "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == ("acga evaluate: error: nosuch: no such trained run or .keras model in "
                                               f"{tmp_path}, the current folder")


def test_sentences_with_words_the_model_does_not_know_are_counted_and_named(trained_run):
    """An own-data tester's held-out sentences ("zebra giraffe") scored 0 in `acga evaluate` without a word, where
    `acga predict` warns of unknown words; the evaluation now says how many samples have them, and which."""
    vectorizer = artifacts.load_trained(trained_run).vectorizer()
    known = artifacts.load_trained(trained_run).vocabulary.words[-1]
    assert evaluate_module.unknown_words_note(vectorizer, [known, known]) is None
    assert evaluate_module.unknown_words_note(vectorizer, [known, f"the zebra {known}", "zebra giraffe", known]) == (
        "2 of the 4 samples have words this model does not know, read as zero vectors: 'giraffe', 'zebra' (a "
        "vocabulary or word vectors that lack them; docs/data.md#pipeline)")


def test_a_savedmodel_given_to_evaluate_is_named_as_one(exported_run, prepared_a2d, capsys):
    """A CLI reviewer's: `acga evaluate --model saved_models/acga/1` said ".../1/model.keras: missing (a trained run
    holds ...)", not that a SavedModel serves and evaluation reads a run; its versions' folder alike."""
    for model in (exported_run, os.path.dirname(exported_run)):
        assert cli.main(["evaluate", "--model", model, "--data", prepared_a2d["test"]]) == 2
        assert capsys.readouterr().err == (
            f"acga evaluate: error: {model}: a SavedModel, which serves (TF Serving, `acga predict`, `acga app`); this "
            "reads a trained run: its folder (holding model.keras), model.keras or a checkpoint\n")


def test_standard_output_that_cannot_be_written_is_named_as_such():
    """A QA engineer's `acga evaluate --output-json - > /dev/full`: "No space left on device: '/dev/stdout'; the
    evaluation finished (... mean IoU 1.0 ...) but /dev/stdout was not written" (1.0 read as a perfect score)."""
    def full():
        raise OSError(errno.ENOSPC, "No space left on device", "/dev/stdout")

    with pytest.raises(OSError) as error:
        evaluate_module._write_outputs("24 samples: mean IoU 1.0%", (("/dev/stdout", full),))
    assert str(error.value) == "[Errno 28] No space left on device: 'standard output'"
    assert error.value.__notes__ == ["the evaluation finished (24 samples: mean IoU 1.0%) but standard output was "
                                     "not written"]


def test_the_per_sample_csv_keeps_a_spreadsheet_from_running_a_sentence(tmp_path):
    """A sentence starting as a formula does (`=`, `+`, `-`, `@`) gets a `'` before it in the per-sample CSV; the
    sample ids are kept as the dataset has them (A2D's YouTube ids can start with `-`), to join on."""
    path = tmp_path / "samples.csv"
    evaluate_module.write_csv(str(path), [("-0dqW6Y9tY8/00025/1", "=1+1", 4, 4, 1, 2, 0.5, 11),
                                          ("v/00001/1", "the man", 4, 4, 2, 2, 1.0, 0)])
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["sample_id"], r["sentence"], r["iou"]) for r in rows] == [
        ("-0dqW6Y9tY8/00025/1", "'=1+1", "0.500000"), ("v/00001/1", "the man", "1.000000")]
