"""`TrainingConfig`: the optimisation schedule (docs/training.md#schedule)."""

from __future__ import annotations

import dataclasses

from acga_tf.models.losses import FOREGROUND_WEIGHT
from acga_tf.ops.config import FrozenConfig


@dataclasses.dataclass(frozen=True)
class TrainingConfig(FrozenConfig):
    """The paper's schedule by default: Adam 5e-4, ×0.1 from epoch 9 on, 9 epochs, batch 4 per replica.

    Attributes:
        learning_rate: Adam's learning rate.
        lr_decay_epoch: 0-based epoch from which the rate is multiplied by `lr_decay_factor`.
        lr_decay_factor: the decay.
        epochs: epochs to train.
        batch_size: samples per replica per step.
        foreground_weight: positive-class weight of the loss (docs/training.md#loss).
        seed: seed of the initialisation (and, through the experiment, of the data pipeline).
        steps_per_epoch: optimizer steps per epoch; 0 (the default): the training samples over the global batch.
            `acga train --steps-per-epoch` sets it, and a run's `experiment.json` records it.
    """

    learning_rate: float = 5e-4
    lr_decay_epoch: int = 8
    lr_decay_factor: float = 0.1
    epochs: int = 9
    batch_size: int = 4
    foreground_weight: float = FOREGROUND_WEIGHT
    seed: int = 2019
    steps_per_epoch: int = 0

    def validate(self) -> None:
        self.check(self.learning_rate > 0, "learning_rate", "must be positive")
        self.check(0 < self.lr_decay_factor <= 1, "lr_decay_factor", "must be in (0, 1]")
        self.check(self.lr_decay_epoch >= 0, "lr_decay_epoch", "must be >= 0")
        for name in ("epochs", "batch_size"):
            self.check(getattr(self, name) > 0, name, "must be positive")
        self.check(self.foreground_weight > 0, "foreground_weight", "must be positive")
        self.check(self.steps_per_epoch >= 0, "steps_per_epoch", "must be >= 0 (0: the samples over the batch)")
        self.check(0 <= self.seed < 2**32, "seed", "must be in [0, 2**32 - 1]")

    def learning_rate_at(self, epoch: int) -> float:
        """The rate of 0-based `epoch` (paper: 5e-4 for epochs 1–8, 5e-5 for epoch 9)."""
        return float(self.learning_rate * (self.lr_decay_factor if epoch >= self.lr_decay_epoch else 1.0))
