"""`TrainingTask`: the model `fit` trains under a `tf.distribute` strategy (docs/training.md#distribution).

A functional model over an `ACGA`'s own layers (the whole model, or the head after the feature-cache cut), with
`SegmentationTask`'s compile defaults and its build before the first step (which holds the multi-replica
work-around), and the multi-worker work-around as a method of this subclass. Training it trains the `ACGA` whose
layers it shares; it is never saved itself (checkpoints and `model.keras` hold the `ACGA`, as `save` does: a
callback's `self.model.save`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from acga_tf.models.acga import SegmentationTask


class TrainingTask(SegmentationTask, keras.Model):
    """A functional model trained with the paper's loss under a `tf.distribute` strategy.

    Args:
        inputs, outputs: as for a functional `keras.Model` (over an `ACGA`'s layers).
        scalar_logs_with_axis: give every scalar log of a step a leading axis of length 1 (multi-worker
            training, see `train_step`).
    """

    def __init__(self, inputs, outputs, *, scalar_logs_with_axis: bool = False, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.scalar_logs_with_axis = scalar_logs_with_axis

    @property
    def acga(self) -> keras.Model | None:
        """The `ACGA` whose layers it trains (`trains`), or None."""
        return self.__dict__.get("_trained_acga")

    def trains(self, model: keras.Model) -> None:
        """Records `model`, the `ACGA` whose layers this task trains, out of Keras' sight: as an attribute Keras
        tracks, the whole ACGA became part of the task, and a feature-cache head's backup held the frozen blocks too
        (70 arrays became 265; a backup of the version before no longer loaded: a reviewer's)."""
        self.__dict__["_trained_acga"] = model

    def stage(self, name: str, stream: str | None = None) -> keras.layers.Layer:
        """The trained `ACGA`'s stage `name` (`ACGA.stage`): a callback of one's own finds it here."""
        return self.acga.stage(name, stream)

    def save(self, filepath, *args, **kwargs):
        """Saves the trained `ACGA`, which loads anywhere (`keras.saving.load_model`, `acga evaluate`), not this
        task: Keras' `ModelCheckpoint` given to `fit(callbacks=)` wrote files that nothing could load (a researcher's
        "Could not locate class 'TrainingTask'")."""
        if self.acga is None:
            return super().save(filepath, *args, **kwargs)
        return self.acga.save(filepath, *args, **kwargs)

    def save_weights(self, filepath, *args, **kwargs):
        """Saves the trained `ACGA`'s weights, which load into it (`ModelCheckpoint(save_weights_only=True)`): with
        the feature cache this task is the head alone, whose weights loaded nowhere (a researcher's). The run's backup
        saves the task's own (`artifacts.save_weights`)."""
        if self.acga is None:
            return super().save_weights(filepath, *args, **kwargs)
        return self.acga.save_weights(filepath, *args, **kwargs)

    @classmethod
    def over(cls, model: keras.Model, **kwargs) -> "TrainingTask":
        """The task over all of `model`'s layers, inputs and outputs."""
        return cls(inputs=model.input, outputs=model.output, name=f"{model.name}_task", **kwargs)

    def train_step(self, data):
        return self._with_axis(super().train_step(data))

    def test_step(self, data):
        return self._with_axis(super().test_step(data))

    def _with_axis(self, logs):
        # Keras 3's TF trainer reduces each step's logs across workers with `strategy.reduce("MEAN", v, axis=0)`,
        # which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
        # tensorflow/tensorflow#72388); with a leading axis of length 1 that reduction removes it again.
        if not self.scalar_logs_with_axis:
            return logs
        return keras.tree.map_structure(lambda v: tf.reshape(v, [1]) if v.shape.rank == 0 else v, logs)
