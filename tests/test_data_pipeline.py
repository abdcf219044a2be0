"""Data pipeline: synthetic A2D world → `acga prepare a2d` → `make_dataset` (spec §7, §8; DATASETS.md §2)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from acga_tf.cli import main
from acga_tf.data import make_dataset, schema
from acga_tf.data.a2d import read_a2d
from acga_tf.data.decode import decode, decode_images
from acga_tf.data.parse import VIDEO, mentions_left_or_right, parse_train
from acga_tf.data.synthetic import write_a2d_world
from acga_tf.data.video import load_sample
from acga_tf.data.vocab import Vocabulary
from acga_tf.models.config import ACGAConfig
from acga_tf.ops.geometry import (
    clip_indices,
    letterbox,
    letterbox_geometry,
    unletterbox,
)

CONFIG = ACGAConfig.preset("tiny")  # T=8, S=64, L=8, D=32
SHARD_SIZE = 4


def _prepare(root, out, *extra) -> int:
    return main(["prepare", "a2d", "--root", str(root), "--output", str(out), "--shard-size", str(SHARD_SIZE),
                 "--no-progress", *extra])


def _shard_digests(out) -> dict[str, str]:
    return {n: hashlib.sha256(open(os.path.join(out, n), "rb").read()).hexdigest()
            for n in sorted(os.listdir(out)) if n.endswith(".tfrecord")}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world") / "a2d_sentences"
    summary = write_a2d_world(str(root), n_videos=8, seed=3)
    return root, summary


@pytest.fixture(scope="module")
def prepared(world, tmp_path_factory):
    root, summary = world
    out = tmp_path_factory.mktemp("prepared")
    assert _prepare(root, out) == 0
    return out


# === round trip ===
def test_round_trip_counts_manifest_and_vocabulary(world, prepared):
    root, summary = world
    manifest = json.load(open(prepared / "manifest.json"))
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
            assert shard["sha256"] == hashlib.sha256(open(prepared / shard["file"], "rb").read()).hexdigest()
            assert shard["file"].endswith(f"-of-{entry['num_shards']:05d}.tfrecord")
    train_sentences = [r.sentence for f in frames if f.split == "train" for r in f.referrals]
    assert Vocabulary.load(str(prepared / manifest["vocabulary"])) == Vocabulary.build(train_sentences)
    assert not (prepared / "skipped.csv").exists()


def test_make_dataset_shapes_ranges_and_masks(world, prepared):
    root, _ = world
    s, t = CONFIG.image_size, CONFIG.clip_length
    ds = make_dataset(str(prepared / "test-*.tfrecord"), CONFIG, training=False, batch_size=3, with_info=True)
    sources = {f.key: f for f in read_a2d(str(root), "test")}
    seen = 0
    for inputs, targets, info in ds:
        b = inputs["video"].shape[0]
        assert inputs["video"].shape == (b, t, s, s, 3) and inputs["video"].dtype == tf.float32
        assert inputs["words"].shape == (b, CONFIG.sentence_length, CONFIG.word_dim)
        assert float(tf.reduce_min(inputs["video"])) >= -1.0 and float(tf.reduce_max(inputs["video"])) <= 1.0
        for name, side in (("logits_res1", s // 16), ("logits_res2", s // 4), ("logits", s)):
            assert targets[name].shape == (b, side, side, 1) and targets[name].dtype == tf.float32
            assert set(np.unique(targets[name].numpy())) <= {0.0, 1.0}
        for i in range(b):
            video_id, frame, instance = info["sample_id"][i].numpy().decode().split("/")
            frame_src = sources[f"{video_id}/{frame}"]
            loaded = load_sample(frame_src, 24)
            k = [r.instance_id for r in frame_src.referrals].index(int(instance))
            gt = loaded.masks[k]
            assert (int(info["height"][i]), int(info["width"][i])) == gt.shape
            png = tf.io.decode_png(info["mask_png"][i]).numpy()[..., 0]
            np.testing.assert_array_equal(png, gt)  # lossless at the original resolution
            expected = letterbox(gt[..., None], s, method="nearest").numpy().astype(np.float32)
            np.testing.assert_array_equal(targets["logits"][i].numpy(), expected)
            # The clip's middle frame is the annotated frame (JPEG q95 + resize: small error).
            ref = letterbox(loaded.frames[loaded.center], s).numpy() / 127.5 - 1.0
            assert np.abs(inputs["video"][i, t // 2].numpy() - ref).mean() < 0.03
            seen += 1
    assert seen == sum(len(f.referrals) for f in sources.values())


def test_training_dataset_is_deterministic_and_drops_remainder(prepared):
    pattern = str(prepared / "train-*.tfrecord")
    manifest = json.load(open(prepared / "manifest.json"))

    def first_batches():
        ds = make_dataset(pattern, CONFIG, training=True, batch_size=4)
        return [(x["video"].numpy(), y["logits"].numpy()) for x, y in ds]

    a, b = first_batches(), first_batches()
    assert len(a) == manifest["splits"]["train"]["samples"] // 4
    for (va, ma), (vb, mb) in zip(a, b):
        np.testing.assert_array_equal(va, vb)
        np.testing.assert_array_equal(ma, mb)


def test_make_dataset_errors(prepared, tmp_path):
    with pytest.raises(FileNotFoundError, match="no TFRecord file matches"):
        make_dataset(str(tmp_path / "nothing-*.tfrecord"), CONFIG, training=False, batch_size=2)
    with pytest.raises(ValueError, match="fewer than clip_length=32.*--window 32"):
        make_dataset(str(prepared / "test-*.tfrecord"), CONFIG.replace(clip_length=32), training=False,
                     batch_size=2)


# === geometry ===
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


def test_stored_window_gives_the_clip_of_the_full_video(world):
    # Clamping inside the stored window == clamping in the whole video (schema docstring).
    root, _ = world
    frame = read_a2d(str(root), "train")[0]
    loaded = load_sample(frame, 24)
    c = frame.frame_number - 1
    for t in (4, 8, 16, 24):
        from_window = loaded.first_index + clip_indices(loaded.center, len(loaded.frames), t).numpy()
        np.testing.assert_array_equal(from_window, clip_indices(c, 24, t).numpy())


# === augmentation ===
def test_left_right_words():
    yes = ["the man on the left", "Rightmost dog walking", "a car on the right-hand side", "red square moving left"]
    no = ["a bright red ball", "the upright man", "a dog", "the copyright holder"]
    np.testing.assert_array_equal(mentions_left_or_right(tf.constant(yes + no)), [True] * 4 + [False] * 4)


def test_flip_only_for_sentences_without_left_right():
    video = tf.reshape(tf.range(2 * 8 * 8 * 3, dtype=tf.float32), (2, 8, 8, 3)) / 400.0
    mask = tf.concat([tf.ones((8, 3, 1), tf.uint8), tf.zeros((8, 5, 1), tf.uint8)], axis=1)
    config = CONFIG.replace(image_size=16)

    def vectorizer(strings):
        return tf.zeros((tf.shape(strings)[0], 8, 32))

    def flips(sentence):
        out = []
        for seed in range(20):
            sample = {VIDEO: video, "mask": mask, "sentence": tf.constant(sentence)}
            x, y = parse_train(sample, config, vectorizer, tf.constant([7, seed], tf.int64))
            flipped = bool(tf.reduce_all(x["video"] == tf.reverse(video, axis=[-2])))
            assert flipped or bool(tf.reduce_all(x["video"] == video))
            # The mask moves with the frames.
            np.testing.assert_array_equal(y["logits"].numpy(),
                                          (tf.reverse(mask, [-2]) if flipped else mask).numpy().astype(np.float32))
            out.append(flipped)
        return out

    free = flips("a red square")
    assert any(free) and not all(free)
    assert not any(flips("the square on the left"))
    assert not any(flips("a red square moving right"))
    assert flips("a red square") == free  # stateless: same seeds, same flips


# === converter robustness ===
def test_workers_two_gives_identical_shards(world, prepared, tmp_path):
    root, _ = world
    assert _prepare(root, tmp_path, "--workers", "2") == 0
    assert _shard_digests(tmp_path) == _shard_digests(prepared)


def test_interrupted_run_resumes_to_identical_shards(world, prepared, tmp_path):
    root, _ = world
    out = tmp_path / "out"
    shutil.copytree(prepared, out)
    names = sorted(_shard_digests(out))
    # An interrupted run: one shard never renamed (only a partial .tmp), one shard half-written and no manifest.
    os.remove(out / names[0])
    (out / (names[0] + ".tmp")).write_bytes(b"partial")
    with open(out / names[-1], "r+b") as f:
        f.truncate(100)
    os.remove(out / "manifest.json")
    untouched = out / names[1]
    mtime = os.stat(untouched).st_mtime_ns
    assert _prepare(root, out) == 0
    assert _shard_digests(out) == _shard_digests(prepared)
    assert os.stat(untouched).st_mtime_ns == mtime  # complete shards are kept, not rewritten
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]
    manifest, reference = json.load(open(out / "manifest.json")), json.load(open(prepared / "manifest.json"))
    assert manifest["splits"] == reference["splits"]
    # Another shard size: old shards are replaced, samples never duplicated.
    assert _prepare(root, out, "--shard-size", "100") == 0
    assert sorted(_shard_digests(out)) == ["test-00000-of-00001.tfrecord", "train-00000-of-00001.tfrecord"]
    total = sum(1 for _ in tf.data.TFRecordDataset(str(out / "train-00000-of-00001.tfrecord")))
    assert total == reference["splits"]["train"]["frames"]


def test_bad_inputs_stop_with_message_or_are_skipped(world, tmp_path, capsys):
    root, _ = world
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    frames = read_a2d(str(bad), "train")
    corrupt_video, missing_video = frames[0].frames_path, frames[-1].frames_path
    assert corrupt_video != missing_video
    with open(corrupt_video, "wb") as f:
        f.write(b"not an mp4 file")
    out = tmp_path / "out"

    # A corrupt video (found while converting): the message names the file.
    assert _prepare(bad, out, "--split", "train") == 2
    err = capsys.readouterr().err
    assert "error:" in err and os.path.basename(corrupt_video) in err and "--skip-bad" in err
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]

    # A missing video and a bad annotation row (found by the reader).
    os.remove(missing_video)
    assert _prepare(bad, out, "--split", "train") == 2
    assert os.path.basename(missing_video) in capsys.readouterr().err
    annotation = bad / "text_annotations" / "a2d_annotation.txt"
    lines = annotation.read_text().splitlines()
    lines.append(f"{frames[0].video_id},x,a bad row")
    annotation.write_text("\n".join(lines) + "\n")
    assert _prepare(bad, out, "--split", "train") == 2
    assert f"a2d_annotation.txt:{len(lines)}" in capsys.readouterr().err

    # --skip-bad: every skipped item is listed with its reason.
    assert _prepare(bad, out, "--split", "train", "--skip-bad") == 0
    assert "skipped.csv" in capsys.readouterr().out
    with open(out / "skipped.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_source = {r["source"].split(":")[0]: r for r in rows}
    assert by_source[corrupt_video]["reason"] == "corrupt_video"
    assert by_source[missing_video]["reason"] == "missing_video"
    assert by_source[str(annotation)]["reason"] and "'x'" in by_source[str(annotation)]["message"]
    manifest = json.load(open(out / "manifest.json"))
    good = [f for f in frames if f.frames_path not in (corrupt_video, missing_video)]
    assert manifest["splits"]["train"]["frames"] == len(good)


def test_module_entry_point_and_unknown_split(world, tmp_path, capsys):
    from pipelines.convert import main as convert_main

    root, _ = world
    assert convert_main(["a2d", "--root", str(root), "--output", str(tmp_path), "--split", "test",
                         "--no-progress"]) == 0
    assert "a2d test:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["prepare", "a2d", "--root", str(root), "--output", str(tmp_path), "--split", "val"])


def test_beam_runner_gives_identical_shards(world, prepared, tmp_path):
    pytest.importorskip("apache_beam")
    root, _ = world
    assert _prepare(root, tmp_path, "--runner", "beam") == 0
    assert _shard_digests(tmp_path) == _shard_digests(prepared)


def test_decode_matches_schema(prepared):
    record = next(iter(tf.data.TFRecordDataset(sorted(str(p) for p in prepared.glob("test-*.tfrecord")))))
    d = decode(record)
    n = int(d[schema.NUM_FRAMES_KEY])
    assert d[schema.FRAMES_KEY].shape == (n,) and 0 <= int(d[schema.CENTER_KEY]) < n
    assert d[schema.SENTENCES_KEY].shape == d[schema.INSTANCE_IDS_KEY].shape == d[schema.MASKS_KEY].shape
    frames = decode_images(d[schema.FRAMES_KEY], channels=3)
    assert frames.shape == (n, int(d[schema.HEIGHT_KEY]), int(d[schema.WIDTH_KEY]), 3)


def test_prepare_jhmdb_test_only(tmp_path, prepared, capsys):
    from acga_tf.data.synthetic import write_jhmdb_world

    root = tmp_path / "jhmdb_sentences"
    write_jhmdb_world(str(root), n_videos=2, seed=1)
    out = tmp_path / "out"
    args = ["prepare", "jhmdb", "--root", str(root), "--output", str(out), "--no-progress"]
    assert main(args + ["--split", "train"]) == 2
    assert "J-HMDB Sentences is test-only" in capsys.readouterr().err
    # The A2D vocabulary is shared with the model trained on A2D (spec §8).
    assert main(args + ["--frames", "uniform", "--vocabulary", str(prepared / "vocab.txt")]) == 0
    manifest = json.load(open(out / "manifest.json"))
    assert list(manifest["splits"]) == ["test"] and manifest["splits"]["test"]["samples"] == 2 * 3
    assert (out / "vocab.txt").read_text() == (prepared / "vocab.txt").read_text()
    ds = make_dataset(str(out / "test-*.tfrecord"), CONFIG, training=False, batch_size=6, with_info=True)
    _, targets, info = next(iter(ds))
    assert targets["logits"].shape == (6, 64, 64, 1) and set(info["height"].numpy()) == {120}
