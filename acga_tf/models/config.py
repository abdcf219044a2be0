"""`ACGAConfig`: the architecture of ACGA, the one config a model and its saved files carry (docs/model.md#presets).

Every ablation switch of the paper's Table 2 is a field (docs/model.md#ablations), so an ablation row is a value,
not a class. Data, training and experiment settings live in their own configs (`acga_tf.data.config`,
`acga_tf.training.config`, `acga_tf.training.experiment`), composed by `ExperimentConfig`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Any

from acga_tf.models.presets import PRESETS
from acga_tf.ops.config import FrozenConfig

MODALITIES = ("rgb", "flow", "rgb+flow")
TEXT_ENCODERS = ("conv1d", "lstm")
ATTENTIONS = ("acga", "key_word_aware")
I3D_TRAINABLE_FROM = (
    "Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "Mixed_3b", "Mixed_3c",
    "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f", "none",
)
# Input channels per stream (docs/model.md#video-encoder).
MODALITY_CHANNELS = {"rgb": 3, "flow": 2, "rgb+flow": 5}
# Upper bounds, far above any published setting, so that a config from a file, a model or a server cannot ask for
# memory no machine has (image_size 100000 is 2.9 TB a float clip): (bound, what the paper uses).
LIMITS = {"image_size": (2048, 512), "clip_length": (256, 16), "sentence_length": (1024, 20),
          "word_dim": (4096, 300), "text_dim": (4096, 300)}
MAX_DECODER_FILTERS = 4096
# Fields that older saved models stored in their config but that never shaped the network (data and training
# settings, now in their own configs): dropped when such a model is loaded.
FORMER_FIELDS = ("foreground_weight", "learning_rate", "lr_decay_epoch", "lr_decay_factor", "epochs", "batch_size",
                 "seed", "shuffle_buffer", "horizontal_flip", "deterministic")


@dataclasses.dataclass(frozen=True)
class ACGAConfig(FrozenConfig):
    """ACGA architecture.

    Attributes:
        clip_length: T, frames per clip centred on the annotated frame. Multiple of 4 (I3D strides).
        image_size: S, letterboxed input size. Multiple of 16 (the head works at S/16).
        sentence_length: L, words per sentence; longer sentences are truncated, shorter zero-padded.
        word_dim: D, word-vector size (300 for word2vec).
        modality: "rgb", "flow" (2 channels) or "rgb+flow" (5 channels: RGB then flow; two I3D streams with
            their own heads, logits averaged: late fusion).
        text_encoder: "conv1d" (docs/model.md#text-encoder) or "lstm" (Table 2 "LSTM").
        text_dim: text feature width (300 filters).
        mask_padding: mask padded word positions in the attention softmaxes and the word max-pool (the
            reference does not).
        vision_guided_attention: F_TA, vision-guided language attention (docs/model.md#attention).
        language_guided_attention: F_VA, language-guided vision attention (docs/model.md#attention).
        attention: "acga" or "key_word_aware" (comparison row, Shi et al. 2018).
        attention_init_std: standard deviation of the attention Dense kernels' normal init (0.02, the
            reference's). Small models trained from scratch learn faster with larger values: at 0.02 every pixel
            starts with the same word mix and spatial context. The spatial (F_VA) scores grow as std⁴, so at 1 that
            attention starts saturated, each pixel on one other pixel, and its gradients vanish; 0.2–0.3 learnt
            best in the demo's measurements (docs/model.md#initialisation). Loading weights makes it irrelevant.
        fusion_resolutions: which branch logits the MRF fusion takes, a subset of (1, 2, 3); empty for no fusion
            (then "logits" is res3's logits) (docs/model.md#decoder).
        decoder_filters: widths of the res1, res2 and res3 branches (256, 128, 64).
        i3d_width_multiplier: scales every I3D width (1.0 = DeepMind's I3D; smaller for the CPU presets).
        i3d_trainable_from: first I3D block that trains; earlier blocks are frozen ("Mixed_4f" in the paper),
            "none" freezes the whole encoder, "Conv3d_1a_7x7" trains all of it.
        bn_scale: I3D BatchNorm has a learned scale (reference checkpoint) or not (DeepMind I3D).
        bn_epsilon: I3D BatchNorm epsilon (1e-5 reference, 1e-3 DeepMind).
        return_attention: also output the word attention (B, N, L) and spatial attention (B, N, N).
    """

    clip_length: int = 16
    image_size: int = 512
    sentence_length: int = 20
    word_dim: int = 300
    modality: str = "rgb"
    text_encoder: str = "conv1d"
    text_dim: int = 300
    mask_padding: bool = False
    vision_guided_attention: bool = True
    language_guided_attention: bool = True
    attention: str = "acga"
    attention_init_std: float = 0.02
    fusion_resolutions: tuple[int, ...] = (1, 2, 3)
    decoder_filters: tuple[int, ...] = (256, 128, 64)
    i3d_width_multiplier: float = 1.0
    i3d_trainable_from: str = "Mixed_4f"
    bn_scale: bool = True
    bn_epsilon: float = 1e-5
    return_attention: bool = False

    def validate(self) -> None:
        check = self.check
        check(self.image_size % 16 == 0 and self.image_size >= 16, "image_size",
              "must be a positive multiple of 16 (the head works at S/16)")
        check(self.clip_length % 4 == 0 and self.clip_length >= 4, "clip_length",
              "must be a positive multiple of 4 (I3D halves time twice)")
        for name in ("sentence_length", "word_dim", "text_dim"):
            check(getattr(self, name) > 0, name, "must be positive")
        for name, (bound, paper) in LIMITS.items():
            check(getattr(self, name) <= bound, name, f"must be at most {bound} (the paper uses {paper})")
        check(self.modality in MODALITIES, "modality", f"expected one of {MODALITIES}")
        check(self.text_encoder in TEXT_ENCODERS, "text_encoder", f"expected one of {TEXT_ENCODERS}")
        check(self.attention in ATTENTIONS, "attention", f"expected one of {ATTENTIONS}")
        check(set(self.fusion_resolutions) <= {1, 2, 3}
              and len(set(self.fusion_resolutions)) == len(self.fusion_resolutions),
              "fusion_resolutions", "expected distinct values from (1, 2, 3)")
        # The fusion conv reads its inputs in this order: [3, 1] would be another model than [1, 3], by its order alone.
        check(list(self.fusion_resolutions) == sorted(self.fusion_resolutions), "fusion_resolutions",
              f"list them in the order res1, res2, res3: {sorted(self.fusion_resolutions)}")
        # The key-word-aware attention builds neither guided attention: switching one off would change nothing.
        for name in ("vision_guided_attention", "language_guided_attention"):
            check(self.attention != "key_word_aware" or getattr(self, name), name,
                  "has no effect with attention='key_word_aware', which builds neither guided attention")
        check(len(self.decoder_filters) == 3 and 0 < min(self.decoder_filters)
              and max(self.decoder_filters) <= MAX_DECODER_FILTERS, "decoder_filters",
              f"expected three positive widths (res1, res2, res3), at most {MAX_DECODER_FILTERS}")
        check(0 < self.i3d_width_multiplier <= 1, "i3d_width_multiplier", "must be in (0, 1]")
        check(self.i3d_trainable_from in I3D_TRAINABLE_FROM, "i3d_trainable_from",
              f"expected one of {I3D_TRAINABLE_FROM}")
        check(self.attention_init_std > 0, "attention_init_std", "must be positive")
        check(self.bn_epsilon > 0, "bn_epsilon", "must be positive")

    @property
    def input_channels(self) -> int:
        """Channels of the `video` input: 3 (RGB), 2 (flow) or 5 (RGB then flow)."""
        return MODALITY_CHANNELS[self.modality]

    @property
    def feature_size(self) -> int:
        """Side of the head's grid, S/16."""
        return self.image_size // 16

    @classmethod
    def from_json(cls, path: str) -> "ACGAConfig":
        """Reads a config file written by `to_json(path)`, or the text `to_json()` returns (a preset name is also
        accepted as {"preset": name, ...}).

        Raises:
            ValueError: unknown preset or field, or a bad value; the message names the file.
        """
        d, source = read_json_object(path), json_source(path)
        if "preset" not in d:
            return cls.from_dict(d, source=source)
        name = d.pop("preset")
        try:
            return cls.preset(name, **d)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    @classmethod
    def unknown_fields_hint(cls, unknown: list[str]) -> str:
        """`epochs`, `batch_size`, ... are the data's and the schedule's (`ACGAConfig.preset("tiny",
        epochs=3)` otherwise lists the model's fields only)."""
        if settings := [name for name in unknown if name in FORMER_FIELDS]:
            return (f" ({', '.join(settings)}: the data's or the schedule's, not the model's; "
                    f"ExperimentConfig.preset(name, {settings[0]}=...) of acga_tf.training.experiment takes the "
                    "model's, the data's and the schedule's fields)")
        return ""

    @classmethod
    def preset(cls, name: str, **overrides) -> "ACGAConfig":
        """A named architecture ("paper", "small", "tiny", "demo") with fields overridden.

        Raises:
            ValueError: unknown preset or field.
        """
        if not isinstance(name, str) or name not in PRESETS:  # (each preset is in models/presets.py's PRESETS and
            # training/defaults.py's EXPERIMENTS: tests/test_config.py checks they name the same)
            raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
        return cls.from_dict({**PRESETS[name]["config"], **overrides}, source=f"preset {name!r}")


def is_json_text(path_or_text) -> bool:
    """Whether a `from_json` argument is the JSON text itself (`to_json()`'s), not a file's path (a file named
    `{...}` is read as the file)."""
    return (isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{")
            and not os.path.isfile(path_or_text))


def json_source(path_or_text) -> str:
    """What a message calls a `from_json` argument: its path, or "JSON text"."""
    return "JSON text" if is_json_text(path_or_text) else str(path_or_text)


def read_json_object(path: str) -> dict[str, Any]:
    """A JSON object from the file `path`, or from `path` itself where it is JSON text (`is_json_text`: what
    `to_json()` returns).

    Raises:
        ValueError: missing or unreadable file, invalid JSON, a field given twice in one object (JSON takes the last
            silently: an edit that added `"batch_size": 16` below the old `8` ran at 16 unseen) or not an object (the
            message names the file, and the line or the field).
    """
    if is_json_text(path):
        try:
            return json.loads(path, object_pairs_hook=functools.partial(_fields_once, "JSON text"))
        except json.JSONDecodeError as e:
            raise ValueError(f"JSON text:{e.lineno}: not valid JSON ({e.msg})") from None
    try:
        with open(path, encoding="utf-8-sig") as f:  # (Windows' Notepad saves "UTF-8 with BOM")
            d = json.load(f, object_pairs_hook=functools.partial(_fields_once, path))
    except FileNotFoundError:
        raise ValueError(f"{path}: config file not found") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start} is {e.object[e.start:e.start + 1]!r})") from None
    except OSError as e:  # a folder, a name too long, no permission
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a JSON object of config fields")
    return d


def _fields_once(source: str, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's fields as a dict, refusing a field named twice (`json`'s `object_pairs_hook`)."""
    d = {}
    for key, value in pairs:
        if key in d:
            raise ValueError(f"{source}: field {key!r} is given twice ({json.dumps(d[key])} and then "
                             f"{json.dumps(value)}); keep one")
        d[key] = value
    return d
