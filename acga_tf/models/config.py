"""`ACGAConfig`: every architecture and training choice of ACGA, with named presets (spec §1).

One frozen dataclass is the single source of truth for the model, the data pipeline, training, export and the
CLI. Every ablation switch of the paper's Table 2 is a field, so an ablation row is a value, not a class.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

MODALITIES = ("rgb", "flow", "rgb+flow")
TEXT_ENCODERS = ("conv1d", "lstm")
ATTENTIONS = ("acga", "key_word_aware")
I3D_TRAINABLE_FROM = (
    "Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "Mixed_3b", "Mixed_3c",
    "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f", "none",
)
# spec §2: input channels per stream.
MODALITY_CHANNELS = {"rgb": 3, "flow": 2, "rgb+flow": 5}


@dataclasses.dataclass(frozen=True)
class ACGAConfig:
    """ACGA configuration (spec §1–§8).

    Attributes:
        clip_length: T, frames per clip centred on the annotated frame (spec §1). Multiple of 4 (I3D strides).
        image_size: S, letterboxed input size (spec §1, §7). Multiple of 16.
        sentence_length: L, words per sentence; longer sentences are truncated, shorter zero-padded (spec §1).
        word_dim: D, word-vector size (spec §1: 300, word2vec).
        modality: "rgb", "flow" (2 channels) or "rgb+flow" (5 channels: RGB then flow; two I3D streams with
            their own heads, logits averaged: late fusion).
        text_encoder: "conv1d" (spec §4) or "lstm" (Table 2 "LSTM").
        text_dim: text feature width (spec §4: 300 filters).
        mask_padding: mask padded word positions in the attention softmaxes and the word max-pool (spec §4:
            the reference does not).
        vision_guided_attention: F_TA, vision-guided language attention (spec §5).
        language_guided_attention: F_VA, language-guided vision attention (spec §5).
        attention: "acga" (spec §5) or "key_word_aware" (comparison row, Shi et al. 2018).
        attention_init_std: standard deviation of the attention Dense kernels' normal init (spec §5: 0.02, the
            reference's). Small models trained from scratch learn faster with larger values: at 0.02 every pixel
            starts with the same word mix and spatial context. The spatial (F_VA) scores grow as std⁴, so at 1 that
            attention starts saturated, each pixel on one other pixel, and its gradients vanish; 0.2–0.3 learnt
            best in the demo's measurements (`demo.DEMO_OVERRIDES`). Loading weights makes it irrelevant.
        fusion_resolutions: which branch logits the MRF fusion takes, a subset of (1, 2, 3); empty for no fusion
            (then "logits" is res3's logits) (spec §6).
        decoder_filters: widths of the res1, res2 and res3 branches (spec §6: 256, 128, 64).
        i3d_width_multiplier: scales every I3D width (1.0 = DeepMind's I3D; smaller for the CPU presets).
        i3d_trainable_from: first I3D block that trains; earlier blocks are frozen (spec §1: "Mixed_4f"), "none"
            freezes the whole encoder, "Conv3d_1a_7x7" trains all of it.
        bn_scale: I3D BatchNorm has a learned scale (reference checkpoint) or not (DeepMind I3D) (spec §2).
        bn_epsilon: I3D BatchNorm epsilon (1e-5 reference, 1e-3 DeepMind) (spec §2).
        foreground_weight: positive-class weight of the WBCE loss (spec §7).
        return_attention: also output the word attention (B, N, L) and spatial attention (B, N, N).
        learning_rate, lr_decay_epoch, lr_decay_factor, epochs, batch_size: the paper schedule (spec §1);
            batch_size is per replica.
        seed: seed for initialisation, shuffling and augmentation (spec §1: 2019).
        shuffle_buffer: example-level shuffle buffer of the training pipeline.
        horizontal_flip: random left-right flip in training, applied only to sentences without a left/right word.
        deterministic: deterministic `tf.data` order (on by default; evaluation is always deterministic).
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
    decoder_filters: tuple[int, int, int] = (256, 128, 64)
    i3d_width_multiplier: float = 1.0
    i3d_trainable_from: str = "Mixed_4f"
    bn_scale: bool = True
    bn_epsilon: float = 1e-5
    foreground_weight: float = 1.5
    return_attention: bool = False
    learning_rate: float = 5e-4
    lr_decay_epoch: int = 8
    lr_decay_factor: float = 0.1
    epochs: int = 9
    batch_size: int = 4
    seed: int = 2019
    shuffle_buffer: int = 256
    horizontal_flip: bool = True
    deterministic: bool = True

    def __post_init__(self):
        # Normalise JSON lists to tuples so that from_dict(to_dict(c)) == c.
        object.__setattr__(self, "fusion_resolutions", tuple(int(r) for r in self.fusion_resolutions))
        object.__setattr__(self, "decoder_filters", tuple(int(f) for f in self.decoder_filters))
        _check(self.image_size % 16 == 0 and self.image_size >= 16, "image_size", self.image_size,
               "must be a positive multiple of 16 (the head works at S/16, spec §1)")
        _check(self.clip_length % 4 == 0 and self.clip_length >= 4, "clip_length", self.clip_length,
               "must be a positive multiple of 4 (I3D halves time twice, spec §2)")
        for name in ("sentence_length", "word_dim", "text_dim", "epochs", "batch_size", "shuffle_buffer"):
            _check(getattr(self, name) > 0, name, getattr(self, name), "must be positive")
        _check(self.modality in MODALITIES, "modality", self.modality, f"expected one of {MODALITIES}")
        _check(self.text_encoder in TEXT_ENCODERS, "text_encoder", self.text_encoder,
               f"expected one of {TEXT_ENCODERS}")
        _check(self.attention in ATTENTIONS, "attention", self.attention, f"expected one of {ATTENTIONS}")
        _check(set(self.fusion_resolutions) <= {1, 2, 3}
               and len(set(self.fusion_resolutions)) == len(self.fusion_resolutions),
               "fusion_resolutions", self.fusion_resolutions, "expected distinct values from (1, 2, 3)")
        _check(len(self.decoder_filters) == 3 and min(self.decoder_filters) > 0, "decoder_filters",
               self.decoder_filters, "expected three positive widths (res1, res2, res3)")
        _check(0 < self.i3d_width_multiplier <= 1, "i3d_width_multiplier", self.i3d_width_multiplier,
               "must be in (0, 1]")
        _check(self.i3d_trainable_from in I3D_TRAINABLE_FROM, "i3d_trainable_from", self.i3d_trainable_from,
               f"expected one of {I3D_TRAINABLE_FROM}")
        _check(self.attention_init_std > 0, "attention_init_std", self.attention_init_std, "must be positive")
        _check(self.bn_epsilon > 0, "bn_epsilon", self.bn_epsilon, "must be positive")
        _check(self.foreground_weight > 0, "foreground_weight", self.foreground_weight, "must be positive")

    @property
    def input_channels(self) -> int:
        """Channels of the `video` input: 3 (RGB), 2 (flow) or 5 (RGB then flow)."""
        return MODALITY_CHANNELS[self.modality]

    @property
    def feature_size(self) -> int:
        """Side of the head's grid, S/16 (spec §1)."""
        return self.image_size // 16

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        d = dataclasses.asdict(self)
        d["fusion_resolutions"] = list(self.fusion_resolutions)
        d["decoder_filters"] = list(self.decoder_filters)
        return d

    def to_json(self, path: str | None = None) -> str:
        """The config as JSON text; also written to `path` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<dict>") -> "ACGAConfig":
        """Builds a config from `to_dict()` output.

        Raises:
            ValueError: an unknown key or a bad value; the message names `source` and the key.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{source}: unknown ACGAConfig field(s) {unknown}; known fields: {sorted(known)}")
        try:
            return cls(**d)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{source}: {e}") from None

    @classmethod
    def from_json(cls, path: str) -> "ACGAConfig":
        """Reads a config written by `to_json` (a preset name is also accepted as {"preset": name, ...})."""
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except FileNotFoundError:
            raise ValueError(f"{path}: config file not found") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{path}: expected a JSON object of ACGAConfig fields")
        if "preset" in d:
            name = d.pop("preset")
            base = cls.preset(name).to_dict()
            base.update(d)
            d = base
        return cls.from_dict(d, source=path)

    @classmethod
    def preset(cls, name: str, **overrides) -> "ACGAConfig":
        """A named preset ("paper", "small", "tiny") with fields overridden.

        Raises:
            ValueError: unknown preset or field.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
        d = PRESETS[name]["config"].to_dict()
        d.update(overrides)
        return cls.from_dict(d, source=f"preset {name!r}")

    def replace(self, **overrides) -> "ACGAConfig":
        """A copy with fields replaced (validated)."""
        d = self.to_dict()
        d.update(overrides)
        return ACGAConfig.from_dict(d, source="ACGAConfig.replace")


def _check(ok: bool, field: str, value: Any, why: str) -> None:
    if not ok:
        raise ValueError(f"ACGAConfig.{field}={value!r}: {why}")


# keras-hub style presets: a config plus metadata (spec §1, §6).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "config": ACGAConfig(),
        "metadata": {
            "description": "ACGA as published: T=16, S=512, L=20, D=300, I3D to Mixed_4f (only Mixed_4f trains), "
                           "Conv1D text encoder, both attentions, MRF over res1..res3.",
            "head_params": 23_664_391,  # spec §6: text encoder + attention + decoder + fusion
            "fusion_params": 28,  # spec §6: the MRF conv 3x3x3->1
        },
    },
    "small": {
        "config": ACGAConfig(clip_length=8, image_size=128, i3d_width_multiplier=0.5,
                             decoder_filters=(128, 64, 32), i3d_trainable_from="Mixed_4b"),
        "metadata": {"description": "Same topology at T=8, S=128, half-width I3D: CPU experiments."},
    },
    "tiny": {
        "config": ACGAConfig(clip_length=8, image_size=64, sentence_length=8, word_dim=32, text_dim=64,
                             i3d_width_multiplier=0.125, decoder_filters=(64, 32, 16),
                             i3d_trainable_from="Conv3d_1a_7x7", learning_rate=2e-3, epochs=12, lr_decay_epoch=10,
                             batch_size=8, attention_init_std=1.0),
        "metadata": {"description": "Same topology at T=8, S=64, L=8, D=32, 1/8-width I3D trained from "
                                    "scratch (sharper initial attention, attention_init_std=1): tests and, at "
                                    "S=128 with attention_init_std=0.2, the demo on a CPU."},
    },
}
