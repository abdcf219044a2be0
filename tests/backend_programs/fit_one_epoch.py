"""One `model.fit` epoch of the tiny ACGA on prepared synthetic shards, under the Keras backend of `KERAS_BACKEND`.

    KERAS_BACKEND=torch python -m tests.backend_programs.fit_one_epoch "DATA/train-*.tfrecord" --result RESULT.json

The batches come from `acga_tf.data.make_dataset` (a `tf.data.Dataset`, which Keras feeds to any backend). The
result holds every step's training loss (recovered from the running mean that Keras logs after each batch), so a
test can check that the epoch lowered the loss.
"""

from __future__ import annotations

import argparse
import math
import time

from tests.backend_programs.common import active_backend, write_result


# --- Data and training settings: the only code here that touches the data / training configs. ---------------------
def training_setup(model_config, batch_size: int, seed: int):
    """`(losses, learning_rate, dataset_fn)` for `model_config`: the compiled loss dict, Adam's learning rate (the
    tiny experiment's schedule) and `dataset_fn(pattern)`, the training `tf.data` batches of one epoch."""
    from acga_tf.data import make_dataset
    from acga_tf.data.config import DataConfig
    from acga_tf.models.losses import acga_losses
    from acga_tf.training.experiment import ExperimentConfig

    schedule = ExperimentConfig.preset("tiny").training  # Adam 2e-3; the loss's foreground weight
    data_config = DataConfig.for_model(model_config, seed=seed)

    def dataset_fn(pattern: str):
        return make_dataset(pattern, data_config, training=True, batch_size=batch_size)

    return acga_losses(schedule.foreground_weight), schedule.learning_rate, dataset_fn
# -------------------------------------------------------------------------------------------------------------------


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train_pattern")
    parser.add_argument("--result", required=True, help="where the JSON result goes")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--trainable-from", default="Conv3d_1a_7x7", help="the model's i3d_trainable_from")
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    backend = active_backend()
    import keras

    from acga_tf import ACGA, ACGAConfig
    from acga_tf.models.metrics import ReferringIoU

    keras.utils.set_random_seed(args.seed)
    config = ACGAConfig.preset("tiny", image_size=args.image_size, i3d_trainable_from=args.trainable_from)
    losses, learning_rate, dataset_fn = training_setup(config, args.batch_size, args.seed)
    model = ACGA(config)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=losses, metrics={"logits": [ReferringIoU()]})

    running_means = []

    class RecordLoss(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            running_means.append(float(logs["loss"]))

    built = time.perf_counter()
    history = model.fit(dataset_fn(args.train_pattern), epochs=1, callbacks=[RecordLoss()], verbose=0)
    # Keras logs the epoch's running mean; every training batch has `batch_size` samples (drop_remainder).
    step_losses = [k * m - (k - 1) * prev for k, (m, prev) in
                   enumerate(zip(running_means, [0.0] + running_means[:-1]), start=1)]
    write_result(args.result, {
        "backend": backend,
        "steps": len(step_losses),
        "optimizer_iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "step_losses": step_losses,
        "finite": all(math.isfinite(x) for x in step_losses),
        "history": {k: float(v[-1]) for k, v in history.history.items()},
        "build_seconds": round(built - start, 2),
        "fit_seconds": round(time.perf_counter() - built, 2),
    })


if __name__ == "__main__":
    main()
