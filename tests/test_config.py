import json
import os

import numpy as np
import pytest

from acga_tf.models.acga import ACGA, head_parameter_count
from acga_tf.models.config import ACGAConfig
from acga_tf.models.presets import PRESETS
from acga_tf.training.experiment import EXPERIMENTS, ExperimentConfig


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_json_round_trip(name):
    c = ACGAConfig.preset(name)
    assert ACGAConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_paper_preset_matches_the_paper():
    e = ExperimentConfig.preset("paper")
    c, t = e.model, e.training
    assert (c.clip_length, c.image_size, c.sentence_length, c.word_dim) == (16, 512, 20, 300)
    assert (t.learning_rate, t.lr_decay_epoch, t.epochs, t.batch_size, t.seed) == (5e-4, 8, 9, 4, 2019)
    assert t.foreground_weight == 1.5 and c.i3d_trainable_from == "Mixed_4f"
    assert c.bn_scale and c.bn_epsilon == 1e-5


def test_the_model_config_holds_the_architecture_only():
    assert len(ACGAConfig.field_names()) == 19
    assert not {"epochs", "learning_rate", "shuffle_buffer", "seed"} & set(ACGAConfig.field_names())
    model = ACGA(ACGAConfig.preset("tiny"))
    assert set(model.get_config()["config"]) == set(ACGAConfig.field_names())


def test_paper_preset_metadata_records_the_head_parameter_count():
    model = ACGA(ACGAConfig.preset("paper"))
    assert head_parameter_count(model) == PRESETS["paper"]["metadata"]["params"]["head"] == 23_664_391


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_json_round_trip(name):
    e = ExperimentConfig.preset(name)
    assert ExperimentConfig.from_dict(json.loads(json.dumps(e.to_dict()))) == e
    assert e.model == ACGAConfig.preset(name)


def test_every_architecture_preset_has_its_experiment_and_the_docs_name_it():
    """A new contributor's `micro` preset, added to models/presets.py only, passed every test and `acga params`, then
    `acga train --preset micro` said "unknown preset": a preset is in both registries, and the presets table lists
    it (its help text is built from EXPERIMENTS)."""
    assert list(PRESETS) == list(EXPERIMENTS)
    table = open(os.path.join(os.path.dirname(__file__), "..", "docs", "model.md"), encoding="utf-8").read()
    assert all(f"\n| `{name}` |" in table for name in PRESETS), [n for n in PRESETS if f"\n| `{n}` |" not in table]


def test_flat_overrides_reach_every_part_that_has_the_field(tmp_path):
    e = ExperimentConfig.preset("tiny", image_size=128, seed=7, epochs=2, horizontal_flip=False)
    assert e.model.image_size == e.data.image_size == 128
    assert e.data.seed == e.training.seed == 7
    assert e.training.epochs == 2 and e.data.horizontal_flip is False
    path = tmp_path / "e.json"
    e.to_json(str(path))
    assert ExperimentConfig.from_json(str(path)) == e
    (tmp_path / "p.json").write_text('{"preset": "small", "epochs": 2}')
    assert ExperimentConfig.from_json(str(tmp_path / "p.json")) == ExperimentConfig.preset("small", epochs=2)


@pytest.mark.parametrize("overrides, match", [
    ({"horizontal_flip": "False"}, "horizontal_flip='False': expected true or false"),
    ({"epochs": 1.5}, "epochs=1.5: expected an integer"),
    ({"learning_rate": float("inf")}, "learning_rate=inf: expected a finite number"),
    ({"learning_rate": -0.001}, "learning_rate=-0.001: must be positive"),
    ({"deterministic": 0}, "deterministic=0: expected true or false"),
    ({"no_such_field": 1}, "unknown config field"),
])
def test_experiment_overrides_are_type_checked(overrides, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig.preset("tiny", **overrides)


def test_numpy_numbers_are_stored_as_python_ones():
    e = ExperimentConfig.preset("tiny", epochs=np.int64(3), learning_rate=np.float32(0.5), image_size=np.int32(32))
    assert type(e.training.epochs) is int and e.training.epochs == 3 and type(e.model.image_size) is int
    assert type(e.training.learning_rate) is float and e.training.learning_rate == 0.5
    assert ExperimentConfig.from_dict(json.loads(json.dumps(e.to_dict()))) == e  # JSON has no NumPy numbers


def test_parts_that_disagree_are_refused():
    e = ExperimentConfig.preset("tiny")
    with pytest.raises(ValueError, match="data.image_size=128 differs from model.image_size=64"):
        ExperimentConfig(model=e.model, data=e.data.replace(image_size=128), training=e.training)
    with pytest.raises(ValueError, match="preset\" must be a name"):
        ExperimentConfig.from_dict({"preset": ["tiny"]})


def test_overrides_and_file_round_trip(tmp_path):
    c = ACGAConfig.preset("tiny", fusion_resolutions=[1, 3], text_encoder="lstm")
    assert c.fusion_resolutions == (1, 3)
    path = tmp_path / "c.json"
    c.to_json(str(path))
    assert ACGAConfig.from_json(str(path)) == c
    (tmp_path / "p.json").write_text('{"preset": "small", "text_dim": 32}')
    assert ACGAConfig.from_json(str(tmp_path / "p.json")) == ACGAConfig.preset("small", text_dim=32)
    # a researcher's `ACGAConfig.from_json(c.to_json())`: "OSError: [Errno 36] File name too long: '{..."
    assert ACGAConfig.from_json(c.to_json()) == c
    experiment = ExperimentConfig.preset("tiny", epochs=3)
    assert ExperimentConfig.from_json(experiment.to_json()) == experiment
    with pytest.raises(ValueError, match=r"^JSON text: unknown ACGAConfig field\(s\) \['nope'\]; known fields"):
        ACGAConfig.from_json('{"nope": 1}')
    # a researcher's: the schedule's field given to the model's config is said to be the schedule's
    with pytest.raises(ValueError, match=r"unknown ACGAConfig field\(s\) \['epochs'\] \(epochs: the data's or the "
                                         r"schedule's, not the model's; ExperimentConfig.preset\(name, epochs=...\)"):
        ACGAConfig.preset("tiny", epochs=3)
    with pytest.raises(ValueError, match=r"^JSON text:1: not valid JSON"):
        ACGAConfig.from_json('{"image_size": }')
    with pytest.raises(ValueError, match=r"c.json/x.json: cannot be read \(Not a directory\)"):
        ACGAConfig.from_json(str(path / "x.json"))


def test_a_field_given_twice_is_refused_naming_it(tmp_path, capsys):
    """A config file holding a field twice ran with the last value, unseen (an edit that added `"text_dim": 16`
    below the old `8`): JSON allows it, `json.load` keeps the last one. Refused in one line naming the file and the
    field, for the model's config, the experiment's, the command line's `--config`, and an object inside one."""
    from acga_tf import cli  # noqa: PLC0415

    path = tmp_path / "c.json"
    path.write_text('{"preset": "tiny",\n  "text_dim": 8,\n  "text_dim": 16}')
    with pytest.raises(ValueError, match=r"c.json: field 'text_dim' is given twice \(8 and then 16\); keep one$"):
        ACGAConfig.from_json(str(path))
    with pytest.raises(ValueError, match=r"c.json: field 'text_dim' is given twice"):
        ExperimentConfig.from_json(str(path))
    with pytest.raises(ValueError, match=r"^JSON text: field 'epochs' is given twice \(1 and then 2\); keep one$"):
        ExperimentConfig.from_json('{"preset": "tiny", "model": {}, "epochs": 1, "epochs": 2}')
    with pytest.raises(ValueError, match=r"^JSON text: field 'image_size' is given twice"):
        ExperimentConfig.from_json('{"model": {"image_size": 32, "image_size": 64}}')
    assert cli.main(["params", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.json: field 'text_dim' is given twice (8 and then 16); keep one" in err


@pytest.mark.parametrize("overrides, match", [
    ({"image_size": 500}, "image_size=500.*multiple of 16"),
    ({"clip_length": 6}, "clip_length=6"),
    ({"modality": "depth"}, "modality='depth'"),
    ({"fusion_resolutions": (1, 4)}, "fusion_resolutions"),
    ({"text_encoder": "gru"}, "text_encoder='gru'"),
    ({"imagesize": 64}, r"unknown ACGAConfig field\(s\) \['imagesize'\] \(did you mean 'image_size' for "
                        r"'imagesize'\?\); known fields"),  # (the closest named: a command-line reviewer's)
    # a config read from a model file or a server: values no machine can run (before: 732 GiB asked for, or killed)
    ({"image_size": 100000}, r"image_size=100000: must be at most 2048 \(the paper uses 512\)"),
    ({"clip_length": 10 ** 6}, r"clip_length=1000000: must be at most 256"),
    ({"sentence_length": 10 ** 9}, r"sentence_length=1000000000: must be at most 1024"),
    ({"word_dim": 10 ** 6}, r"word_dim=1000000: must be at most 4096"),
    ({"decoder_filters": (10 ** 6, 128, 64)}, r"decoder_filters=.*at most 4096"),
    # an ablation researcher's: [3, 1] trained as another model than [1, 3] (the fusion reads its inputs in order),
    # and the key-word-aware attention ignored both switches without a word
    ({"fusion_resolutions": (3, 1)}, r"fusion_resolutions=\(3, 1\): list them in the order res1, res2, res3: \[1, 3\]"),
    ({"attention": "key_word_aware", "vision_guided_attention": False},
     r"vision_guided_attention=False: has no effect with attention='key_word_aware', which builds neither"),
    ({"attention": "key_word_aware", "language_guided_attention": False}, r"language_guided_attention=False: has no"),
    # the docs' table read as Python on the command line (`--set fusion_resolutions=(1, 3)`): say it is JSON
    ({"fusion_resolutions": "(1, 3)"}, r"ACGAConfig.fusion_resolutions='\(1, 3\)': expected a list of int \(JSON, "
                                       r"e.g. \[1, 3\] or \[\]\)$"),
    ({"vision_guided_attention": "False"}, r"ACGAConfig.vision_guided_attention='False': expected true or false "
                                           r"\(JSON's, lowercase\)$"),
])
def test_bad_values_name_the_field(overrides, match):
    with pytest.raises(ValueError, match=match):
        ACGAConfig.preset("tiny", **overrides)


def test_bad_json_file_names_path_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n "clip_length": 8,\n oops\n}')
    with pytest.raises(ValueError, match=r"bad.json:3"):
        ACGAConfig.from_json(str(path))
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        ACGAConfig.preset("huge")


def test_a_replaced_field_is_named_once():
    """`replace` (what `--set` goes through) named the class twice: "ACGAConfig.replace: ACGAConfig.image_size=..."."""
    with pytest.raises(ValueError, match=r"^ACGAConfig.image_size=500: must be a positive multiple of 16"):
        ACGAConfig.preset("tiny").replace(image_size=500)
