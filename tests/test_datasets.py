"""acga_tf/data/datasets.py: `make_dataset` over the shards of the synthetic A2D world: shapes, ranges, masks at
the original resolution, determinism, errors (docs/data.md#pipeline, docs/evaluation.md#protocol)."""

import json
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from acga_tf import ACGA
from acga_tf.data import make_dataset
from acga_tf.data.a2d import read_a2d
from acga_tf.data.manifest import as_given, count_samples, matching_shards, shard_pattern
from acga_tf.data.types import MAX_SENTENCE_BYTES
from acga_tf.data.video import load_sample
from acga_tf.models.config import ACGAConfig
from acga_tf.ops.geometry import letterbox

CONFIG = ACGAConfig.preset("tiny")  # T=8, S=64, L=8, D=32


def test_make_dataset_shapes_ranges_and_masks(a2d_world, a2d_shards):
    root, _ = a2d_world
    s, t = CONFIG.image_size, CONFIG.clip_length
    ds = make_dataset(str(a2d_shards / "test-*.tfrecord"), CONFIG, training=False, batch_size=3, with_info=True)
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


def test_training_dataset_is_deterministic_and_drops_remainder(a2d_shards):
    pattern = str(a2d_shards / "train-*.tfrecord")
    manifest = json.load(open(a2d_shards / "manifest.json"))

    def first_batches():
        ds = make_dataset(pattern, CONFIG, training=True, batch_size=4)
        return [(x["video"].numpy(), y["logits"].numpy()) for x, y in ds]

    a, b = first_batches(), first_batches()
    assert len(a) == manifest["splits"]["train"]["samples"] // 4
    for (va, ma), (vb, mb) in zip(a, b):
        np.testing.assert_array_equal(va, vb)
        np.testing.assert_array_equal(ma, mb)


def test_a_dataset_has_its_length_and_model_fit_ends_its_epochs_without_running_out(a2d_shards, recwarn):
    # Keras warned "Your input ran out of data; interrupting training" at the end of every epoch of a plain
    # `model.fit(make_dataset(...))`, and of its validation, when the dataset's length was unknown.
    manifest = json.load(open(a2d_shards / "manifest.json"))
    train, test = (manifest["splits"][split]["samples"] for split in ("train", "test"))
    train_ds = make_dataset(str(a2d_shards / "train-*.tfrecord"), CONFIG, training=True, batch_size=4)
    test_ds = make_dataset(str(a2d_shards / "test-*.tfrecord"), CONFIG, training=False, batch_size=4)
    assert int(train_ds.cardinality()) == train // 4 and int(test_ds.cardinality()) == -(-test // 4)
    assert sum(1 for _ in test_ds) == -(-test // 4)  # the length asserted is the one read
    unlisted = make_dataset(str(a2d_shards / "train-00000-*.tfrecord"), CONFIG, training=False, batch_size=2)
    assert int(unlisted.cardinality()) == -(-manifest["splits"]["train"]["shards"][0]["samples"] // 2)
    model = ACGA(CONFIG.replace(i3d_trainable_from="Mixed_4f"))  # the epochs' ends matter here, not what I3D learns
    model.compile()
    model.fit(train_ds, epochs=1, validation_data=test_ds, verbose=0)
    assert not [w for w in recwarn if "ran out of data" in str(w.message)]


def test_keras_scales_each_outputs_loss_by_n_over_n_plus_1_on_a_set_of_unknown_length(recwarn):
    """What docs/training.md says of a validation set without a manifest, pinned to the Keras it was measured with
    (3.15): over 4 batches of unknown count each output's loss tracker counts 5 (the failed fifth step's count does
    not wait for its batch), the total `loss` (counted by samples) is right. Should a Keras release mend it, this
    fails: the docs' sentence then goes."""
    inputs = keras.Input((3,))
    model = keras.Model(inputs, {"a": keras.layers.Dense(1, name="a")(inputs),
                                 "b": keras.layers.Dense(1, name="b")(inputs)})
    model.compile(loss={"a": "mse", "b": "mse"}, optimizer="sgd")
    x = np.arange(120, dtype="float32").reshape(40, 3) / 120
    known = tf.data.Dataset.from_tensor_slices((x, {"a": x[:, :1], "b": -x[:, 1:2]})).batch(10)
    unknown = known.filter(lambda *_: True)
    assert int(unknown.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    right = model.evaluate(known, verbose=0, return_dict=True)
    scaled = model.evaluate(unknown, verbose=0, return_dict=True)
    np.testing.assert_allclose(scaled["loss"], right["loss"], rtol=1e-6)
    np.testing.assert_allclose([scaled["a_loss"], scaled["b_loss"]], [right["a_loss"] * 4 / 5, right["b_loss"] * 4 / 5],
                               rtol=1e-6)


def test_make_dataset_takes_a_path(a2d_shards):
    from_str = next(iter(make_dataset(str(a2d_shards / "test-*.tfrecord"), CONFIG, training=False, batch_size=2)))
    from_path = next(iter(make_dataset(a2d_shards / "test-*.tfrecord", CONFIG, training=False, batch_size=2)))
    np.testing.assert_array_equal(from_str[0]["video"], from_path[0]["video"])


def test_shards_in_a_folder_whose_name_holds_a_glob_character_are_found(a2d_shards, tmp_path):
    """A tester's folder "dados ç [teste]": a shard named as it is, and a glob in that folder, matched nothing (`[`
    is a glob character to TensorFlow's file functions): `acga evaluate` said so, and `acga demo --output
    "demo [2026]"` stopped after converting its data. A folder (or file) that exists as written is taken literally."""
    folder = tmp_path / "dados ç [teste]"
    shutil.copytree(a2d_shards, folder)
    literal = sorted(folder.glob("test-*.tfrecord"))[0]
    assert matching_shards(str(literal)) == [str(literal)]
    assert matching_shards(str(folder / "test-*.tfrecord")) == sorted(str(p) for p in folder.glob("test-*.tfrecord"))
    batches = make_dataset(folder / "test-*.tfrecord", CONFIG, training=False, batch_size=64)
    assert sum(len(x["video"]) for x, _ in batches) == count_samples(str(a2d_shards / "test-*.tfrecord"))
    # a glob below such a folder (a reviewer's "nested [v1]/*/test-*"), and messages as the pattern was given
    shutil.copytree(a2d_shards, folder / "a")
    assert matching_shards(str(folder / "*" / "test-*.tfrecord")) == sorted(
        str(p) for p in (folder / "a").glob("test-*.tfrecord"))
    with pytest.raises(FileNotFoundError, match=re.escape(f"{folder}/nothing-*.tfrecord: no TFRecord file matches")):
        matching_shards(str(folder / "nothing-*.tfrecord"))
    assert as_given(shard_pattern(str(folder / "test-*.tfrecord"))) == str(folder / "test-*.tfrecord")
    # a pattern whose folder does not exist as written is still a glob: data[12] matches data1 and data2
    for digit in "12":
        shutil.copytree(a2d_shards, tmp_path / f"data{digit}")
    assert len(matching_shards(str(tmp_path / "data[12]" / "test-*.tfrecord"))) == 2 * len(
        list(a2d_shards.glob("test-*.tfrecord")))


def test_make_dataset_errors(a2d_shards, tmp_path):
    for size in (0, 1.5):
        with pytest.raises(ValueError, match=rf"batch_size={size}: must be an integer >= 1"):
            make_dataset(str(a2d_shards / "test-*.tfrecord"), CONFIG, training=False, batch_size=size)
    with pytest.raises(TypeError, match="expected a DataConfig or a model's ACGAConfig, got str 'tiny'"):
        make_dataset(str(a2d_shards / "test-*.tfrecord"), "tiny", training=False, batch_size=2)
    with pytest.raises(FileNotFoundError, match="no TFRecord file matches$"):
        make_dataset(str(tmp_path / "nothing-*.tfrecord"), CONFIG, training=False, batch_size=2)
    with pytest.MonkeyPatch.context() as patch:  # a relative pattern typed in another folder (a QA tester's)
        patch.chdir(tmp_path)
        with pytest.raises(FileNotFoundError, match=f"^nosuch/\\*: no TFRecord file matches in {tmp_path}"):
            make_dataset("nosuch/*", CONFIG, training=False, batch_size=2)
    with pytest.raises(ValueError, match="fewer than clip_length=32.*--window 32"):
        make_dataset(str(a2d_shards / "test-*.tfrecord"), CONFIG.replace(clip_length=32), training=False,
                     batch_size=2)
    # a tester's `acga train --steps-per-epoch 1` on a set smaller than its batch: each pass of the endless stream
    # dropped its only, partial batch, and the stream spun without end in TensorFlow, deaf to Ctrl-C
    samples = count_samples(str(a2d_shards / "train-*.tfrecord"))
    with pytest.raises(ValueError, match=rf"train-\*\.tfrecord: {samples} samples, fewer than one batch of "
                                         rf"{samples + 1}: the endless training stream"):
        make_dataset(str(a2d_shards / "train-*.tfrecord"), CONFIG, training=True, batch_size=samples + 1,
                     endless=True)
    one_pass = make_dataset(str(a2d_shards / "train-*.tfrecord"), CONFIG, training=True, batch_size=samples + 1)
    assert one_pass.cardinality() == 0  # (a pass of no batch: Keras' fit ends its epoch at once)


def test_a_pattern_that_also_matches_the_manifest_names_it(a2d_shards, tmp_path):
    """`folder/*` matches manifest.json, vocab.txt and .shards/ beside the shards. Before: TensorFlow's "corrupted
    record at 0", naming no file, once the pipeline ran."""
    with pytest.raises(ValueError, match=r"/prepared\d*/\.shards: a folder, not a TFRecord file"):  # the first, sorted
        make_dataset(str(a2d_shards / "*"), CONFIG, training=False, batch_size=2)


def test_a_file_that_is_not_a_shard_or_ends_in_its_first_record_is_named_with_nothing_else_printed(a2d_shards,
                                                                                                    tmp_path,
                                                                                                    monkeypatch):
    """A docs walker's: a text file named .tfrecord printed TensorFlow's "W0000 ... Local rendezvous is aborting with
    status: DATA_LOSS" before the one-line error, and a shard cut short was called "not a TFRecord file"."""
    from acga_tf.data.manifest import check_tfrecord_files

    shard = sorted(a2d_shards.glob("train-*.tfrecord"))[0]
    (tmp_path / "text.tfrecord").write_text("hello, not a shard\n")
    (tmp_path / "cut.tfrecord").write_bytes(shard.read_bytes()[:5000])
    (tmp_path / "empty.tfrecord").write_bytes(b"")  # a shard of no record, as TFRecordWriter writes it
    # TensorFlow's reader prints its line on file descriptor 2 (unless TF_CPP_MIN_LOG_LEVEL=2, as in these tests)
    monkeypatch.setattr(tf.data, "TFRecordDataset", None)
    with pytest.raises(ValueError, match=r"text.tfrecord: not a TFRecord file \(its first bytes are no record "
                                         r"header\)"):
        check_tfrecord_files([str(tmp_path / "text.tfrecord")])
    with pytest.raises(ValueError, match=r"cut.tfrecord: truncated: its first record is \d+ bytes, but the file ends "
                                         r"4988 bytes after the record's header"):
        check_tfrecord_files([str(tmp_path / "cut.tfrecord")])
    check_tfrecord_files([str(shard), str(tmp_path / "empty.tfrecord")])


def test_shards_of_an_unfinished_prepare_are_refused(a2d_shards, tmp_path):
    """Stopped midway, `acga prepare` leaves shards and its .shards/ progress but no manifest. Before: evaluated as if
    they were the whole split."""
    import shutil

    partial = shutil.copytree(a2d_shards, tmp_path / "partial")
    (partial / "manifest.json").unlink()
    assert (partial / ".shards").is_dir()
    with pytest.raises(ValueError, match=r"/partial: `acga prepare` has not finished writing these shards \(no "
                                         r"manifest.json; .shards/ lists the shards done so far\): run the same"):
        make_dataset(str(partial / "test-*.tfrecord"), CONFIG, training=False, batch_size=2)


def test_under_another_backend_the_gpus_are_hidden_from_tensorflow(a2d_shards, monkeypatch, caplog):
    """TensorFlow only reads the data under KERAS_BACKEND=jax or torch; on a GPU it would first reserve almost all
    of the memory the backend trains in. No GPU here: TensorFlow's device calls are replaced by test doubles."""
    import keras

    from acga_tf.data import datasets

    hidden, devices = [], {"physical": ["GPU:0"], "logical": []}
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: devices["physical"])
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: devices["logical"])
    monkeypatch.setattr(tf.config, "set_visible_devices", lambda found, kind=None: hidden.append((found, kind)))
    datasets.keep_gpus_for_the_backend()
    assert hidden == []  # the TensorFlow backend computes on them
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    vectorizer = datasets.load_vectorizer(str(a2d_shards), CONFIG)  # `fit` under JAX: its first TensorFlow op
    assert hidden == [([], "GPU")]
    make_dataset(str(a2d_shards / "test-*.tfrecord"), CONFIG, training=False, batch_size=1, vectorizer=vectorizer)
    assert hidden == [([], "GPU")] * 2

    def initialised(found, kind=None):
        raise RuntimeError("Visible devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config, "set_visible_devices", initialised)
    devices["logical"] = ["GPU:0"]
    datasets.keep_gpus_for_the_backend()
    assert "TF_FORCE_GPU_ALLOW_GROWTH=true" in caplog.text and "KERAS_BACKEND=jax" in caplog.text
    devices["physical"], hidden[:] = [], []
    datasets.keep_gpus_for_the_backend()
    assert hidden == []  # no GPU: nothing to hide


def _center_far_away(record):  # the int32 cast wrapped it around: `acga evaluate` scored a clip of other frames
    record.context.feature["center"].int64_list.value[0] = 10 ** 12


def _fewer_frames_said(record):
    record.context.feature["num_frames"].int64_list.value[0] = 3


def _frames_of_another_size(record):
    # (a 16000 x 16000 JPEG stopped in TensorFlow's JPEG decoder naming no record, and a 20000 x 20000 mask PNG was
    # decoded, 1.3 GB, before a shape error): the images' headers are read first
    small = tf.io.encode_jpeg(tf.zeros([48, 48, 3], tf.uint8)).numpy()
    for frame in record.feature_lists.feature_list["frames"].feature:
        frame.bytes_list.value[0] = small


def _a_very_long_sentence(record):  # a sentence of 60 MB was scored, at a peak of 2.9 GB (0.9 otherwise)
    record.context.feature["sentences"].bytes_list.value[0] = b"the man " * (MAX_SENTENCE_BYTES // 8 + 1)


def _sides_past_int32(record):  # a reviewer's: 4294967295² is past int64, negative, and passed the size's bound
    record.context.feature["height"].int64_list.value[0] = 2 ** 32 - 1
    record.context.feature["width"].int64_list.value[0] = 2 ** 32 - 1


@pytest.mark.parametrize("change, message", [
    (_center_far_away, r"has center\] \[1000000000000"),
    (_fewer_frames_said, r"and num_frames\] \[3\]"),
    (_frames_of_another_size, r"has images of H, W =\] \[\[48 48\]"),
    (_a_very_long_sentence, rf"\(the longest\] \[{MAX_SENTENCE_BYTES + 8}\] \[bytes\)"),
    (_sides_past_int32, r"size\] \[4294967295\] \[4294967295\]"),
], ids=["center", "num_frames", "image_size", "sentence", "sides"])
def test_a_record_acga_prepare_did_not_write_is_named_not_read_from_the_wrong_frames(a2d_shards, tmp_path, change,
                                                                                     message):
    """A record that breaks what the converter writes (by hand, or by another tool), in a shard whose manifest agrees
    with its bytes: the pipeline stops naming its video and frame."""
    import shutil

    out = tmp_path / "data"
    shutil.copytree(a2d_shards, out)
    (shard,) = sorted(out.glob("test-00000-*.tfrecord"))
    records = [tf.train.SequenceExample.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(shard))]
    change(records[0])
    video = records[0].context.feature["video_id"].bytes_list.value[0].decode()
    with tf.io.TFRecordWriter(str(shard)) as writer:
        for record in records:
            writer.write(record.SerializeToString())
    manifest = json.load(open(out / "manifest.json"))  # the manifest agrees with the new bytes: only the record lies
    for entry in manifest["splits"]["test"]["shards"]:
        if entry["file"] == shard.name:
            import hashlib

            entry["bytes"], entry["sha256"] = shard.stat().st_size, hashlib.sha256(shard.read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"a record that acga prepare did not write: video\] "
                                                             rf"\[{video}\].*{message}.*\[in\] \[{shard}\]"):
        for _ in make_dataset(str(out / "test-*.tfrecord"), CONFIG, training=False, batch_size=2):
            pass


def test_each_worker_reads_its_own_shard_files_and_tensorflow_does_not_shard_again(a2d_shards):
    """Several workers (`acga train` under TF_CONFIG) on several shard files: TensorFlow's file-based auto-sharding
    stopped with "Did not find a shardable source" on the training pipeline (whose flips' seeds come from a second
    source), so every multi-worker run on real data failed. Now each worker reads its own files."""
    pattern = str(a2d_shards / "train-*.tfrecord")
    manifest = json.load(open(a2d_shards / "manifest.json"))
    files = sorted(s["file"] for s in manifest["splits"]["train"]["shards"])
    per_file = {s["file"]: s["samples"] for s in manifest["splits"]["train"]["shards"]}
    assert len(files) >= 2
    counts = []
    for index in range(2):
        ds = make_dataset(pattern, CONFIG, training=True, batch_size=1, shard=(2, index))
        # what MultiWorkerMirroredStrategy applies to a worker's dataset (TensorFlow's private class)
        from tensorflow.python.data.experimental.ops.distribute import _AutoShardDataset

        distributed = _AutoShardDataset(ds, 2, index)
        counts.append(sum(1 for _ in distributed))
    assert counts == [sum(per_file[f] for f in files[0::2]), sum(per_file[f] for f in files[1::2])]
    with pytest.raises(ValueError, match=rf"{len(files)} shard files for {len(files) + 1} workers"):
        make_dataset(pattern, CONFIG, training=True, batch_size=1, shard=(len(files) + 1, 0))
    with pytest.raises(ValueError, match=r"shard=\(1, 5\): expected \(workers, index\) with 0 <= index < workers"):
        make_dataset(pattern, CONFIG, training=True, batch_size=1, shard=(1, 5))


@pytest.mark.parametrize("splits, problem", [
    ([], "\"splits\" is not an object of splits"),
    ({"test": []}, "split 'test' has no list of \"shards\""),
    ({"test": {"shards": ["test-00000.tfrecord"]}}, "a shard of split 'test' is not an object with a \"file\" name"),
])
def test_a_manifest_of_the_wrong_shape_is_one_line(a2d_shards, tmp_path, splits, problem):
    """A security reviewer's `"splits": []` was a traceback (AttributeError: 'list' object has no attribute
    'values') from the shards' size check."""
    folder = tmp_path / "shards"
    shutil.copytree(a2d_shards, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "splits": splits}))
    with pytest.raises(ValueError, match=rf"manifest.json: {problem} \(`acga prepare` writes it"):
        make_dataset(str(folder / "test-*.tfrecord"), ACGAConfig.preset("tiny"), training=False, batch_size=2)


@pytest.mark.parametrize("field", ["sentence_length", "word_dim"])
def test_a_vectorizer_of_another_sentence_length_or_word_dimension_than_the_config_is_named(field, a2d_shards):
    """A researcher's `sentence_length=12` config with a run's vectorizer (L = 8): the dataset yielded (B, 8, 32) words
    without a word, and `model.fit` then said "axis 1 is 8 but the config's sentence_length gives 12", naming no
    vectorizer."""
    from acga_tf.data.datasets import load_vectorizer

    vectorizer = load_vectorizer(str(a2d_shards), CONFIG)  # L = 8, D = 32
    config = ACGAConfig.preset("tiny", **{field: 12 if field == "sentence_length" else 50})
    with pytest.raises(ValueError) as refused:
        make_dataset(str(a2d_shards / "test-*.tfrecord"), config, training=False, batch_size=1, vectorizer=vectorizer)
    assert str(refused.value) == (
        f"vectorizer: reads sentences of 8 words into 32-d vectors; the config's sentence_length and word_dim are "
        f"{config.sentence_length} and {config.word_dim}: give the model's config with its own run's vectorizer, or "
        "build the vectorizer for this config")


def test_shards_whose_vocabulary_is_missing_name_it(a2d_shards, tmp_path):
    """`acga train` on shards whose vocab.txt was gone said "[Errno 2] No such file or directory: 'data/vocab.txt'";
    now what the file is and what to do."""
    from acga_tf.data.datasets import load_vocabulary  # noqa: PLC0415

    data = tmp_path / "data"
    shutil.copytree(a2d_shards, data)
    (data / "vocab.txt").unlink()
    with pytest.raises(FileNotFoundError, match=rf"^{re.escape(str(data / 'vocab.txt'))}: missing: the shards' "
                                                r"vocabulary, which acga prepare writes beside them and manifest.json "
                                                r"names; put it back, or convert the data again$"):
        load_vocabulary(str(data))
