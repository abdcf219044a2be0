"""`DataConfig`: what the input pipeline makes of the shards (docs/data.md#pipeline).

The clip, size and sentence length must match the model's (`DataConfig.for_model`); `ExperimentConfig` checks it.
"""

from __future__ import annotations

import dataclasses

from acga_tf.ops.config import FrozenConfig


@dataclasses.dataclass(frozen=True)
class DataConfig(FrozenConfig):
    """Input pipeline settings.

    Attributes:
        clip_length: T, frames per clip centred on the annotated frame (docs/data.md#clips).
        image_size: S, the letterboxed frame size (docs/data.md#letterbox).
        sentence_length: L, words per sentence (truncated or zero-padded).
        word_dim: D, word-vector size.
        horizontal_flip: random left-right flip in training, applied only to sentences without a left/right word.
        shuffle_buffer: example-level shuffle buffer of the training pipeline.
        deterministic: deterministic `tf.data` order (evaluation is always deterministic).
        seed: seed of shuffling, flips and the random word vectors used when no vectors file is given.
    """

    clip_length: int = 16
    image_size: int = 512
    sentence_length: int = 20
    word_dim: int = 300
    horizontal_flip: bool = True
    shuffle_buffer: int = 256
    deterministic: bool = True
    seed: int = 2019

    def validate(self) -> None:
        for name in ("clip_length", "image_size", "sentence_length", "word_dim", "shuffle_buffer"):
            self.check(getattr(self, name) > 0, name, "must be positive")
        self.check(0 <= self.seed < 2**32, "seed", "must be in [0, 2**32 - 1]")

    @classmethod
    def for_model(cls, model_config, **overrides) -> "DataConfig":
        """The pipeline for a model: T, S, L and D from its `ACGAConfig`, the rest default or `overrides`."""
        shapes = {name: getattr(model_config, name) for name in SHAPE_FIELDS}
        return cls.from_dict({**shapes, **overrides}, source="DataConfig.for_model")


SHAPE_FIELDS = ("clip_length", "image_size", "sentence_length", "word_dim")  # shared with the model's config
