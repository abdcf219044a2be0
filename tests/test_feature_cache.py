"""The frozen-I3D feature cache (how the reference trained, docs/model.md#presets)."""

import json
import os
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import random_inputs

from acga_tf import ACGAConfig
from acga_tf.models.acga import ACGA
from acga_tf.models.losses import acga_losses
from acga_tf.training.experiment import ExperimentConfig
from acga_tf.training.feature_cache import cached_dataset, split_model, write_cache

FROZEN = ACGAConfig.preset("tiny", i3d_trainable_from="Mixed_4e")


@pytest.mark.parametrize("trainable_from", ["Mixed_4e", "none"])
def test_prefix_then_head_equals_the_model_and_its_loss(trainable_from):
    """"none" (all of I3D frozen, the most natural cache) was "'none' is not in list" (a reviewer's)."""
    config = FROZEN.replace(i3d_trainable_from=trainable_from)
    model = ACGA(config)
    prefix, head = split_model(model)
    inputs = random_inputs(config)
    features = prefix({"video": inputs["video"]})["features"]
    # Mixed_4d or Mixed_4f: T/4, S/16, S/16
    assert tuple(features.shape[1:4]) == (2, 4, 4) and (trainable_from == "none") == (features.shape[-1] == 104)
    split = head({"features": features, "words": tf.constant(inputs["words"])})
    full = model(inputs)
    assert (trainable_from == "none") == (not head.trainable_weights[0].path.startswith("video_encoder"))
    for key in ("logits_res1", "logits_res2", "logits"):
        np.testing.assert_allclose(split[key], full[key], atol=1e-5)
    # the head trains exactly the model's trainable weights (shared objects)
    assert {id(w) for w in head.trainable_weights} == {id(w) for w in model.trainable_weights}
    losses = acga_losses()
    targets = {k: (np.asarray(v) > 0).astype("float32") for k, v in full.items()}
    total = lambda out: sum(float(losses[k](targets[k], out[k])) for k in losses)
    assert total(split) == pytest.approx(total(full), rel=1e-5)


def test_the_head_that_trains_keeps_its_own_weights_and_saves_the_model(tmp_path):
    """`fit` records the ACGA a task trains (callbacks reach its stages, and `save` writes it): out of Keras' sight,
    or the head's weights, and so its backups, took in the frozen blocks (70 arrays became 265: a reviewer's)."""
    from acga_tf.training.task import TrainingTask

    model = ACGA(FROZEN)
    _, head = split_model(model, task_class=TrainingTask)
    before = [w.path for w in head.weights]
    head.trains(model)
    assert [w.path for w in head.weights] == before and len(before) < len(model.weights)
    assert head.acga is model and head.stage("decoder") is model.stage("decoder")
    head.save(tmp_path / "saved.keras")  # the ACGA, which loads anywhere, not the head
    assert isinstance(keras.saving.load_model(tmp_path / "saved.keras"), ACGA)
    # its weights alone too (`ModelCheckpoint(save_weights_only=True)`: the head's loaded nowhere, a researcher's);
    # the run's backup keeps the head's own (`artifacts.save_weights`)
    head.save_weights(tmp_path / "saved.weights.h5")
    ACGA(FROZEN).load_weights(tmp_path / "saved.weights.h5")
    from acga_tf.training import artifacts

    artifacts.save_weights(head, str(tmp_path / "backup.weights.h5"))
    head.load_weights(tmp_path / "backup.weights.h5")


def test_cache_round_trip(tmp_path):
    model = ACGA(FROZEN)
    prefix, _ = split_model(model)
    inputs = random_inputs(FROZEN, batch=3)
    targets = {"logits_res1": np.zeros((3, 4, 4, 1), "float32"), "logits_res2": np.ones((3, 16, 16, 1), "float32"),
               "logits": np.zeros((3, 64, 64, 1), "float32")}
    data = tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(2)
    paths = write_cache(prefix, data, str(tmp_path), samples_per_shard=2)
    assert [os.path.basename(p) for p in paths] == ["features-00000.tfrecord", "features-00001.tfrecord"]
    keras.utils.set_random_seed(0)  # a global seed of 0: TensorFlow's get_seed failed on the pass's tensor seed
    x, y = next(iter(cached_dataset(paths, batch_size=3, seed=0, shuffle_buffer=1)))
    expected = prefix({"video": inputs["video"]})["features"].numpy()
    order = [int(np.argmin([np.abs(w - ref).sum() for ref in inputs["words"]])) for w in x["words"].numpy()]
    np.testing.assert_allclose(x["features"].numpy(), expected[order], atol=1e-6)
    np.testing.assert_array_equal(y["logits_res2"].numpy(), targets["logits_res2"][order])


def test_fit_with_the_feature_cache_trains_only_the_unfrozen_part(prepared_a2d, tmp_path, capsys, caplog):
    """With `--val-data` too: its batches were the full model's, and the first epoch's end stopped the run
    ("Missing data for input 'features'"), its checkpoint and backup unwritten (a reviewer's). The validation
    samples' features are cached as the training samples' are."""
    from acga_tf.cli import main

    out = str(tmp_path / "run")
    keras.utils.set_random_seed(ExperimentConfig.preset("tiny").training.seed)
    initial = ACGA(FROZEN)
    command = ["train", "--preset", "tiny", "--set", "i3d_trainable_from=Mixed_4e", "--data", prepared_a2d["train"],
               "--val-data", prepared_a2d["test"], "--output", out, "--steps-per-epoch", "3", "--feature-cache"]
    with caplog.at_level("WARNING"):
        assert main([*command, "--epochs", "1"]) == 0
    logged = capsys.readouterr().out
    assert re.search(r" - val_loss: \d+\.\d+", logged) and "nan" not in logged, logged
    # the flips the experiment asks for (its default) are said not to apply (experiment.json still records them)
    assert "--feature-cache: the cached samples are not flipped (horizontal_flip, on in the experiment, is not " \
           "applied)" in caplog.messages
    assert os.path.exists(os.path.join(out, "feature_cache", "complete.json"))
    validation = json.load(open(os.path.join(out, "feature_cache", "validation", "complete.json")))
    samples = sum(1 for _ in tf.data.TFRecordDataset([os.path.join(out, "feature_cache", "validation", name)
                                                      for name in validation["shards"]]))
    assert samples == json.load(open(os.path.join(os.path.dirname(prepared_a2d["test"]), "manifest.json"))
                                )["splits"]["test"]["samples"]
    assert os.path.exists(os.path.join(out, "checkpoints", "epoch-01.keras"))
    trained = keras.saving.load_model(os.path.join(out, "model.keras"))
    before = {w.path: w.numpy() for w in initial.weights}
    frozen = trained.stage("video_encoder").blocks["Conv3d_1a_7x7"].conv_3d.kernel
    np.testing.assert_array_equal(frozen.numpy(), before[frozen.path])  # never trained
    mixed_4e = trained.stage("video_encoder").blocks["Mixed_4e"].branch_0.units[0].conv_3d.kernel
    assert not np.allclose(mixed_4e.numpy(), before[mixed_4e.path])  # trained
    decoder = trained.stage("decoder").conv_fusion.kernel
    assert not np.allclose(decoder.numpy(), before[decoder.path])
    # a cache shard damaged in place (its size kept): "corrupted record at N" at every resume, naming no file (a
    # reviewer's); named now, and its cache written again by the same command
    shard = os.path.join(out, "feature_cache", "features-00000.tfrecord")
    data = bytearray(open(shard, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(shard, "wb").write(bytes(data))
    assert main([*command, "--epochs", "2", "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(rf"acga train: error: {re.escape(shard)}: damaged \(corrupted record at \d+\); the same "
                        r"command writes the feature cache again and resumes the run from its backup \(optimizer "
                        r"step 3\)", err), err
    assert not os.path.exists(os.path.join(out, "feature_cache", "complete.json"))


def test_a_validation_shard_damaged_while_its_features_are_cached_is_named(prepared_a2d, tmp_path, capsys):
    """A diff reviewer's: the caches are written before training, where a damaged shard's "corrupted record at N"
    was said without the shard (the run without the cache named it)."""
    from acga_tf.cli import main

    source = os.path.dirname(prepared_a2d["test"])
    damaged = tmp_path / "val"
    damaged.mkdir()
    for name in os.listdir(source):
        if name.startswith("test-") or name in ("manifest.json", "vocab.txt"):
            shutil.copy(os.path.join(source, name), damaged / name)
    shard = sorted(damaged.glob("test-*.tfrecord"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2: len(data) // 2 + 8] = bytes(b ^ 0xFF for b in data[len(data) // 2: len(data) // 2 + 8])
    shard.write_bytes(bytes(data))  # (its size kept: the manifest's size check passes)
    assert main(["train", "--preset", "tiny", "--set", "i3d_trainable_from=Mixed_4e", "--data", prepared_a2d["train"],
                 "--val-data", str(damaged / "test-*.tfrecord"), "--output", str(tmp_path / "run"), "--epochs", "1",
                 "--steps-per-epoch", "1", "--feature-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"acga train: error: {shard}: damaged (corrupted record at ") and "\n" not in err, err
    # nothing of the validation cache is left; the training cache, written whole, is kept
    cache = tmp_path / "run" / "feature_cache"
    assert not (cache / "validation").exists() and (cache / "complete.json").exists()


@pytest.mark.parametrize("cache", [[], ["--feature-cache"]])
def test_validation_shards_that_are_all_empty_are_refused_before_the_run(cache, prepared_a2d, tmp_path, capsys):
    """A diff reviewer's: an empty validation shard (0 bytes, no manifest) ended the first epoch with a StopIteration
    traceback, the run's folder left."""
    from acga_tf.cli import main

    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "test-00000-of-00001.tfrecord").write_bytes(b"")
    pattern = str(tmp_path / "val" / "test-*.tfrecord")
    assert main(["train", "--preset", "tiny", "--set", "i3d_trainable_from=Mixed_4e", "--data", prepared_a2d["train"],
                 "--val-data", pattern, "--output", str(tmp_path / "run"), *cache]) == 2
    assert capsys.readouterr().err == (f"acga train: error: --val-data {pattern}: no sample to score, every shard it "
                                       "matches is empty (0 bytes)\n")
    assert not (tmp_path / "run").exists()


def test_the_caches_fingerprint_knows_shards_without_a_manifest_by_their_size(tmp_path):
    """A diff reviewer's: validation shards without a manifest, swapped on a resume for others of the same name, were
    scored from the stale cache (only the name counted where no manifest gave a sha256)."""
    import types

    from acga_tf.training import train

    prefix, _ = split_model(ACGA(FROZEN))
    experiment = ExperimentConfig.preset("tiny", i3d_trainable_from="Mixed_4e")
    run = types.SimpleNamespace(experiment=experiment, vectorizer=types.SimpleNamespace(matrix=tf.zeros((3, 4))))
    prints = []
    for folder, size in (("a", 10), ("b", 10), ("c", 11)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "test-00000-of-00001.tfrecord").write_bytes(bytes(size))
        prints.append(train._cache_fingerprint(run, prefix, str(tmp_path / folder / "test-*.tfrecord")))
    assert prints[0] == prints[1] != prints[2]  # (a copied run's cache stays valid: the folder is not in it)
    # several workers split the cache's samples, not its files (one file could not be split over two workers)
    write_cache(prefix, tf.data.Dataset.from_tensors(({"video": tf.zeros((1, 8, 64, 64, 3)),
                                                       "words": tf.zeros((1, 8, 32))},
                                                      {k: tf.zeros((1, 1)) for k in ("logits_res1", "logits_res2",
                                                                                     "logits")})), str(tmp_path / "w"))
    for training in (True, False):
        options = cached_dataset([str(tmp_path / "w" / "features-00000.tfrecord")], batch_size=1, seed=0,
                                 shuffle_buffer=1, training=training).options()
        assert options.experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA


@pytest.mark.slow  # (22 s on a 2-core AMD host: two runs) the default suite trains with the cache in float32 and
# reads a moved run's cache by its fingerprint (the next test but one)
def test_the_feature_cache_of_a_bfloat16_prefix_is_read_and_known_by_its_dtype(prepared_a2d, tmp_path):
    """A researcher's `fit(feature_cache=True, mixed_precision="mixed_bfloat16")`: the cache held bfloat16 features
    and was read as float32 ("Type mismatch between parsed tensor (bfloat16) and dtype (float)"), and a float32 run
    into the same folder reused it (its fingerprint did not hold the dtype)."""
    from acga_tf.training import train

    experiment = ExperimentConfig.preset("tiny", image_size=32, i3d_trainable_from="Mixed_4f")
    out = str(tmp_path / "run")
    train.fit(experiment, prepared_a2d["train"], out, epochs=1, steps_per_epoch=1, feature_cache=True,
              mixed_precision="mixed_bfloat16", verbose=0)
    bfloat16 = json.load(open(os.path.join(out, "feature_cache", "complete.json")))["fingerprint"]
    train.fit(experiment, prepared_a2d["train"], str(tmp_path / "f32"), epochs=1, steps_per_epoch=1,
              feature_cache=True, verbose=0)
    assert json.load(open(os.path.join(tmp_path / "f32", "feature_cache", "complete.json")))["fingerprint"] != bfloat16


def test_nothing_frozen_means_no_cache(prepared_a2d, tmp_path):
    with pytest.raises(ValueError, match="i3d_trainable_from='Conv3d_1a_7x7': no frozen I3D block"):
        split_model(ACGA(ACGAConfig.preset("tiny")))
    from acga_tf.training.experiment import ExperimentConfig
    from acga_tf.training.train import fit

    # a cluster operator's: refused after the run's folder was made (an empty one per worker)
    with pytest.raises(ValueError, match="i3d_trainable_from='Conv3d_1a_7x7': no frozen I3D block"):
        fit(ExperimentConfig.preset("tiny"), prepared_a2d["train"], str(tmp_path / "run"), feature_cache=True)
    assert not (tmp_path / "run").exists()


def test_a_copied_or_moved_run_reads_its_own_cache(tmp_path, monkeypatch, caplog):
    """`complete.json` recorded the shards as their paths were given (relative to the folder the command ran in): a
    copied run read the original's cache, and from another folder the cache was called "made from other inputs" and
    written again. It now records names in the cache folder (and reads earlier records by their names)."""
    from acga_tf.training import train

    written = []

    def write_cache(prefix, dataset, directory):
        path = os.path.join(directory, "features-00000.tfrecord")
        os.makedirs(directory, exist_ok=True)
        open(path, "wb").close()
        written.append(directory)
        return [path]

    monkeypatch.setattr(train, "write_cache", write_cache)
    monkeypatch.chdir(tmp_path)
    first = os.path.join("runfc", "feature_cache")
    assert train._feature_cache(None, None, first, "abc") == [os.path.join(first, "features-00000.tfrecord")]
    assert json.load(open(os.path.join(first, "complete.json")))["shards"] == ["features-00000.tfrecord"]
    shutil.copytree("runfc", "copy")
    with open(os.path.join("copy", "feature_cache", "complete.json"), "w") as f:  # as earlier versions recorded it
        json.dump({"shards": [os.path.join(first, "features-00000.tfrecord")], "fingerprint": "abc"}, f)
    shutil.rmtree("runfc")  # the original is gone: the copy's own shards are read, not written again
    copy = str(tmp_path / "copy" / "feature_cache")
    with caplog.at_level("WARNING"):
        assert train._feature_cache(None, None, copy, "abc") == [os.path.join(copy, "features-00000.tfrecord")]
    assert written == [first] and "other inputs" not in caplog.text


def test_a_damaged_cache_is_written_again_in_an_emptied_folder(tmp_path, monkeypatch, caplog):
    """A reviewer's copy of a run cut short: a cache shard truncated failed every try with TensorFlow's "truncated
    record at 92688" (no file named), a half-written `complete.json` with a JSON error naming no file, one without its
    "shards" with a bare KeyError; a killed write's shards and temporary files stayed beside the next one's."""
    from acga_tf.training import train

    written = []

    def write_cache(prefix, dataset, directory):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "features-00000.tfrecord")
        with open(path, "wb") as f:
            f.write(b"x" * 1000)
        written.append(sorted(os.listdir(directory)))
        return [path]

    monkeypatch.setattr(train, "write_cache", write_cache)
    cache = str(tmp_path / "run" / "feature_cache")
    marker = os.path.join(cache, "complete.json")
    shard = os.path.join(cache, "features-00000.tfrecord")
    train._feature_cache(None, None, cache, "abc")
    assert json.load(open(marker))["sizes"] == [1000]
    for damage, why in ((lambda: open(shard, "r+b").truncate(100), "has features-00000.tfrecord of 100 bytes, "
                                                                      "written 1,000"),
                        (lambda: open(marker, "w").write('{"shards": ["feat'), "has an unreadable complete.json "
                                                                               "(not whole JSON)"),
                        (lambda: open(marker, "w").write('{"fingerprint": "abc"}'), "has an unreadable complete.json "
                                                                                   "(without 'shards')"),
                        (lambda: os.remove(shard), "lacks features-00000.tfrecord"),
                        (lambda: None, "was made from other inputs (shards, configs, word vectors, frozen weights or "
                                       "precision)")):
        damage()
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert train._feature_cache(None, None, cache, "abc" if why[0] != "w" else "def") == [shard]
        assert f"the feature cache in {cache} {why}: writing it again" in caplog.text, caplog.text
        train._feature_cache(None, None, cache, "abc")  # (back to "abc" for the next damage)
    # a killed write's leftovers are gone before the next write
    os.remove(marker)
    for name in ("features-00007.tfrecord", "features-00001.tfrecord.tmp"):
        open(os.path.join(cache, name), "wb").close()
    train._feature_cache(None, None, cache, "abc")
    assert written[-1] == ["features-00000.tfrecord"]
    assert sorted(os.listdir(cache)) == ["complete.json", "features-00000.tfrecord"]


def test_a_cache_written_again_says_which_input_changed(tmp_path, monkeypatch, caplog):
    """A reviewer's: a cache written again said "made from other inputs (shards, configs, word vectors, frozen weights
    or precision)", not which. `complete.json` records the fingerprint's parts now; a cache of an earlier version,
    which recorded none, is named as such."""
    import types

    from acga_tf.training import train

    monkeypatch.setattr(train, "write_cache", lambda prefix, dataset, directory: (
        os.makedirs(directory, exist_ok=True), open(os.path.join(directory, "features-00000.tfrecord"), "wb").close(),
        [os.path.join(directory, "features-00000.tfrecord")])[-1])
    prefix, _ = split_model(ACGA(FROZEN))
    (tmp_path / "data").mkdir()
    shard = tmp_path / "data" / "train-00000-of-00001.tfrecord"
    shard.write_bytes(bytes(10))
    pattern = str(tmp_path / "data" / "train-*.tfrecord")

    def fingerprint(shuffle_buffer, vectors=0.0):
        experiment = ExperimentConfig.preset("tiny", i3d_trainable_from="Mixed_4e", shuffle_buffer=shuffle_buffer)
        run = types.SimpleNamespace(experiment=experiment,
                                    vectorizer=types.SimpleNamespace(matrix=tf.fill((3, 4), vectors)))
        return train._cache_fingerprint(run, prefix, pattern)

    cache = str(tmp_path / "run" / "feature_cache")
    train._feature_cache(None, None, cache, *fingerprint(64))
    assert json.load(open(os.path.join(cache, "complete.json")))["parts"]["data"]["shuffle_buffer"] == 64
    shard.write_bytes(bytes(11))  # (no manifest: known by its size)
    for changed, why in (((128,), "the data shards changed; shuffle_buffer changed: was 64, now 128"),
                         ((128, 1.0), "the word vectors changed")):
        caplog.clear()
        with caplog.at_level("WARNING"):
            train._feature_cache(None, None, cache, *fingerprint(*changed))
        assert caplog.messages == [f"the feature cache in {cache} was made from other inputs ({why}): writing it "
                                   "again"], caplog.messages
    # a cache written before the parts were recorded (its fingerprint as this version computes it: reused)
    digest, parts = fingerprint(128, 1.0)
    with open(os.path.join(cache, "complete.json"), "w") as f:
        json.dump({"shards": ["features-00000.tfrecord"], "fingerprint": digest, "sizes": [0]}, f)
    caplog.clear()
    with caplog.at_level("INFO"):
        train._feature_cache(None, None, cache, digest, parts)
    assert caplog.messages == [f"reusing the feature cache in {cache} (1 shards)"], caplog.messages
    with open(os.path.join(cache, "complete.json"), "w") as f:
        json.dump({"shards": ["features-00000.tfrecord"], "fingerprint": "0" * 64, "sizes": [0]}, f)
    caplog.clear()
    with caplog.at_level("WARNING"):
        train._feature_cache(None, None, cache, digest, parts)
    assert caplog.messages == [f"the feature cache in {cache} was made from other inputs (shards, configs, word "
                               "vectors, frozen weights or precision: written by an earlier version, which did not "
                               "record which): writing it again"], caplog.messages
    # the frozen blocks' dtype by its values, a model field by its name
    changed = {**parts, "computed_in": "bfloat16", "model": {**parts["model"], "decoder_filters": [8, 4, 2]}}
    assert train._changed_inputs(parts, changed) == ("decoder_filters changed: was [64, 32, 16], now [8, 4, 2]; "
                                                     "the frozen blocks' precision changed: was float32, now "
                                                     "bfloat16")


@pytest.mark.parametrize("stop", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_cache_write_that_fails_part_way_leaves_none_of_its_shards(stop, tmp_path):
    """A reviewer's: a write stopped part-way (a damaged data shard, a full disk, Ctrl-C) left the shards it had
    written until the next run. Only they go: not the folder's other files, and a folder it made goes too."""
    prefix, _ = split_model(ACGA(FROZEN))
    batch = ({"video": tf.zeros((1, 8, 64, 64, 3)), "words": tf.zeros((1, 8, 32))},
             {k: tf.zeros((1, 1)) for k in ("logits_res1", "logits_res2", "logits")})

    def batches():
        yield batch
        yield batch
        raise stop

    for folder in ("made", "there"):
        directory = tmp_path / "run" / folder
        if folder == "there":
            directory.mkdir()
            (directory / "epoch-01.keras").write_bytes(b"a checkpoint")
        with pytest.raises(type(stop)) as raised:
            write_cache(prefix, batches(), str(directory), samples_per_shard=1)
        assert raised.value is stop
        assert (sorted(os.listdir(directory)) == ["epoch-01.keras"]) if folder == "there" else not directory.exists()
