"""mixed_float16 training with and without loss scaling, under the Keras backend of `KERAS_BACKEND`.

    KERAS_BACKEND=jax python -m tests.backend_programs.loss_scaling --result RESULT.json

The tiny ACGA built `dtype="mixed_float16"` is compiled with `SegmentationTask.compile`'s defaults and with an
explicit optimizer (the result names the optimizer classes), then trained a few steps on one fixed batch with the
paper's loss multiplied by `LOSS_FACTOR`: its float16 gradients are then below float16's smallest subnormal
(6e-8) and flush to zero unless the loss is scaled up first. Trained once with the loss-scale optimizer that
`compile` puts in (dynamic scaling, initial scale 2^15) and once with `auto_scale_loss=False` (none); the result
holds each run's losses (the paper's loss, the factor divided out) and whether the trainable weights moved.
Under TensorFlow the steps run through XLA: TensorFlow's CPU kernels have no float16 MaxPool3D.
"""

from __future__ import annotations

import argparse

import numpy as np

from tests.backend_programs.common import active_backend, write_result

LOSS_FACTOR = 1e-8  # × the loss: gradients ~1e-8 / pixels, far below float16's 6e-8 smallest subnormal
STEPS = 6
LEARNING_RATE = 1e-2


def _batch(config, batch: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = config.image_size
    x = {"video": rng.uniform(-1, 1, (batch, config.clip_length, s, s, 3)).astype("float32"),
         "words": rng.standard_normal((batch, config.sentence_length, config.word_dim)).astype("float32")}
    mask = np.zeros((batch, s, s, 1), "float32")
    mask[:, : s // 2, : s // 2] = 1.0  # a quarter of the frame is the actor
    return x, {"logits": mask, "logits_res2": mask[:, ::4, ::4], "logits_res1": mask[:, ::16, ::16]}


def _train(config, scaled: bool) -> dict:
    import keras

    from acga_tf.models.acga import ACGA
    from acga_tf.models.losses import OUTPUT_NAMES, WeightedBCE

    class TinyLoss(WeightedBCE):
        def call(self, y_true, y_pred):
            return super().call(y_true, y_pred) * LOSS_FACTOR

    keras.utils.set_random_seed(0)
    model = ACGA(config, dtype="mixed_float16")
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss={n: TinyLoss() for n in OUTPUT_NAMES},
                  metrics={}, auto_scale_loss=scaled,
                  # TensorFlow has no float16 MaxPool3D kernel on a CPU; its XLA compiler has one.
                  jit_compile=keras.backend.backend() == "tensorflow" or "auto")
    x, y = _batch(config)
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    losses = [float(model.train_on_batch(x, y, return_dict=True)["loss"]) / LOSS_FACTOR for _ in range(STEPS)]
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    moved = sum(int(not np.array_equal(a, b)) for a, b in zip(before, after))
    return {"optimizer": type(model.optimizer).__name__, "losses": losses, "weights_moved": moved,
            "trainable_weights": len(before)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", required=True, help="where the JSON result goes")
    args = parser.parse_args(argv)
    backend = active_backend()
    import keras

    from acga_tf.models.acga import ACGA, compute_dtype
    from acga_tf.models.config import ACGAConfig

    config = ACGAConfig.preset("tiny", image_size=32, i3d_trainable_from="Mixed_4f")
    model = ACGA(config, dtype="mixed_float16")
    model.compile()
    default = model.optimizer
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    explicit = model.optimizer
    write_result(args.result, {
        "backend": backend,
        "model_policy": model.dtype_policy.name,
        "compute_dtype": compute_dtype(model),
        "default_optimizer": [type(default).__name__, type(getattr(default, "inner_optimizer", default)).__name__],
        "explicit_optimizer": [type(explicit).__name__, type(getattr(explicit, "inner_optimizer", explicit)).__name__],
        "scaled": _train(config, scaled=True),
        "unscaled": _train(config, scaled=False),
    })


if __name__ == "__main__":
    main()
