import json

import pytest

from acga_tf.models.config import PRESETS, ACGAConfig


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_json_round_trip(name):
    c = ACGAConfig.preset(name)
    assert ACGAConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_paper_preset_matches_spec_section_1():
    c = ACGAConfig.preset("paper")
    assert (c.clip_length, c.image_size, c.sentence_length, c.word_dim) == (16, 512, 20, 300)
    assert (c.learning_rate, c.lr_decay_epoch, c.epochs, c.batch_size, c.seed) == (5e-4, 8, 9, 4, 2019)
    assert c.foreground_weight == 1.5 and c.i3d_trainable_from == "Mixed_4f"
    assert c.bn_scale and c.bn_epsilon == 1e-5


def test_overrides_and_file_round_trip(tmp_path):
    c = ACGAConfig.preset("tiny", fusion_resolutions=[1, 3], text_encoder="lstm")
    assert c.fusion_resolutions == (1, 3)
    path = tmp_path / "c.json"
    c.to_json(str(path))
    assert ACGAConfig.from_json(str(path)) == c
    (tmp_path / "p.json").write_text('{"preset": "small", "epochs": 2}')
    assert ACGAConfig.from_json(str(tmp_path / "p.json")) == ACGAConfig.preset("small", epochs=2)


@pytest.mark.parametrize("overrides, match", [
    ({"image_size": 500}, "image_size=500.*multiple of 16"),
    ({"clip_length": 6}, "clip_length=6"),
    ({"modality": "depth"}, "modality='depth'"),
    ({"fusion_resolutions": (1, 4)}, "fusion_resolutions"),
    ({"text_encoder": "gru"}, "text_encoder='gru'"),
    ({"imagesize": 64}, "unknown ACGAConfig field.*imagesize"),
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
