"""Runs `acga_tf.training.train.fit` in a fresh process, for tests that need one: `TF_CONFIG` and the logical CPU
devices must be set before TensorFlow starts, and a run can be killed.

    python -m tests.programs.fit '{"train": PATTERN, "logical_cpus": 2,
                                   "runs": {NAME: {"overrides": {...}, "output": DIR, "epochs": 1, "steps": 3,
                                                   "devices": ["/cpu:0"], "backup_every": 1, "resume": false,
                                                   "feature_cache": false}}}'

Each run trains `ExperimentConfig.preset("tiny", **overrides)`, backing up every `backup_every` steps (default 1,
as a run to kill needs); the last line printed is `RESULTS <json>` with, per run, the losses, the number of replicas
and the optimizer step reached.
"""

import json
import sys

import tensorflow as tf


def main(argv: list[str]) -> int:
    args = json.loads(argv[0])
    if args.get("logical_cpus"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()]
                                                   * args["logical_cpus"])
    # Imported after the device setup above: importing the package's training modules may initialise TensorFlow's
    # devices.
    from acga_tf.training.experiment import ExperimentConfig  # noqa: PLC0415
    from acga_tf.training.train import fit  # noqa: PLC0415

    results = {}
    for name, run in args["runs"].items():
        strategy = tf.distribute.MirroredStrategy(run["devices"]) if run.get("devices") else None
        history = fit(ExperimentConfig.preset("tiny", **run["overrides"]), args["train"], run["output"],
                      epochs=run["epochs"], steps_per_epoch=run["steps"],
                      backup_every=run.get("backup_every", 1), strategy=strategy,
                      resume=run.get("resume", False), feature_cache=run.get("feature_cache", False), verbose=0)
        results[name] = {"loss": history.history["loss"],
                         "replicas": history.model.distribute_strategy.num_replicas_in_sync,
                         "iterations": int(history.model.optimizer.iterations.numpy())}
    print("RESULTS " + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
