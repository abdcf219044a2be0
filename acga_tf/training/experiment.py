"""`ExperimentConfig`: the model, data and training configs of one run, with named presets (tensorflow/models'
experiment factories; docs/training.md#schedule).

    experiment = ExperimentConfig.preset("tiny", image_size=128, epochs=3)   # flat overrides, routed by name
    experiment.model     # ACGAConfig: what `ACGA` builds and `model.keras` stores
    experiment.data      # DataConfig: what `make_dataset` makes of the shards
    experiment.training  # TrainingConfig: the schedule

A flat override goes to every sub-config that has the field: `image_size` sets the model's and the data's, `seed`
the data's and the training's, so the parts cannot disagree.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from acga_tf.data.config import SHAPE_FIELDS, DataConfig
from acga_tf.models.config import ACGAConfig, json_source, read_json_object
from acga_tf.ops.config import closest_fields, config_json
from acga_tf.training.config import TrainingConfig
from acga_tf.training.defaults import EXPERIMENTS

PARTS = {"model": ACGAConfig, "data": DataConfig, "training": TrainingConfig}


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One run's model, data and training configs.

    Attributes:
        model: the architecture.
        data: the input pipeline; its clip_length, image_size, sentence_length and word_dim equal the model's.
        training: the schedule; its seed equals the data's.
    """

    model: ACGAConfig = dataclasses.field(default_factory=ACGAConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)

    def __post_init__(self):
        for name, kind in PARTS.items():
            if not isinstance(getattr(self, name), kind):
                raise ValueError(f"ExperimentConfig.{name}: expected a {kind.__name__}, got "
                                 f"{type(getattr(self, name)).__name__}")
        for field in SHAPE_FIELDS:
            if getattr(self.model, field) != getattr(self.data, field):
                raise ValueError(f"ExperimentConfig: data.{field}={getattr(self.data, field)} differs from "
                                 f"model.{field}={getattr(self.model, field)}")
        if self.data.seed != self.training.seed:
            raise ValueError(f"ExperimentConfig: data.seed={self.data.seed} differs from "
                             f"training.seed={self.training.seed}")

    @classmethod
    def preset(cls, name: str, **overrides) -> "ExperimentConfig":
        """A named experiment ("paper", "small", "tiny", "demo") with flat field overrides (see `override`).

        Raises:
            ValueError: unknown preset or field, or a bad value (the message names it).
        """
        if not isinstance(name, str) or name not in EXPERIMENTS:
            raise ValueError(f"unknown preset {name!r}; expected one of {sorted(EXPERIMENTS)}")
        spec = EXPERIMENTS[name]
        model = ACGAConfig.preset(name)
        experiment = cls(model=model, data=DataConfig.for_model(model, **spec["data"]),
                         training=TrainingConfig.from_dict(spec["training"], source=f"preset {name!r}"))
        return experiment.override(**overrides)

    def override(self, **fields) -> "ExperimentConfig":
        """A copy with flat fields replaced in every sub-config that has them.

        Raises:
            ValueError: a field no sub-config has, or a bad value.
        """
        unknown = sorted(k for k in fields if not any(k in kind.field_names() for kind in PARTS.values()))
        if unknown:
            known = sorted({f for kind in PARTS.values() for f in kind.field_names()})
            raise ValueError(f"unknown config field(s) {unknown}{closest_fields(unknown, known)}; known fields: "
                             f"{known}")
        parts = {}
        for name, kind in PARTS.items():
            mine = {k: v for k, v in fields.items() if k in kind.field_names()}
            parts[name] = getattr(self, name).replace(**mine) if mine else getattr(self, name)
        return ExperimentConfig(**parts)

    def to_dict(self) -> dict[str, Any]:
        """`{"model": {...}, "data": {...}, "training": {...}}`, JSON-able."""
        return {name: getattr(self, name).to_dict() for name in PARTS}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "<dict>") -> "ExperimentConfig":
        """Reads `to_dict()` output, `{"preset": NAME, <flat overrides>}`, or flat fields (overrides of "paper").

        Raises:
            ValueError: unknown keys or bad values; the message names `source` and the key.
        """
        if not isinstance(d, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(d).__name__}")
        if "preset" in d:
            d = dict(d)
            name = d.pop("preset")
            if not isinstance(name, str):
                raise ValueError(f"{source}: \"preset\" must be a name, one of {sorted(EXPERIMENTS)}; got {name!r}")
            try:
                return cls.preset(name, **d)
            except ValueError as e:
                raise ValueError(f"{source}: {e}") from None
        if d and not set(d) & set(PARTS):  # flat fields (e.g. a run's config.json): overrides of the paper
            return cls.from_dict({"preset": "paper", **d}, source=source)
        unknown = sorted(set(d) - set(PARTS))
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown}; expected \"model\", \"data\", \"training\", "
                             "flat config fields, or {\"preset\": NAME, ...}")
        parts = {name: kind.from_dict(d.get(name, {}), source=f"{source} [{name}]") for name, kind in PARTS.items()}
        try:
            return cls(**parts)
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    @classmethod
    def from_json(cls, path: str) -> "ExperimentConfig":
        """Reads a file written by `to_json(path)`, or the text `to_json()` returns, or `{"preset": NAME, <flat
        overrides>}`."""
        return cls.from_dict(read_json_object(path), source=json_source(path))

    def to_json(self, path: str | None = None) -> str:
        """The experiment as JSON text; also written to `path` when given."""
        return config_json(self.to_dict(), path)
