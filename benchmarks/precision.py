"""float32 against the bfloat16 precisions on this machine: what `--mixed-precision` picks, and what bfloat16 buys.

    python benchmarks/precision.py                                   # the demo's training step (demo preset, batch 8)
    python benchmarks/precision.py --preset tiny --batch 2 --runs 1 --trainable-from Mixed_4f  # smoke run only

Prints the probe that `--mixed-precision` reads on a CPU (`acga_tf.ops.devices.bfloat16_speedup`: the same
convolutions timed in float32 and bfloat16) and the policy it picks, then times `model.train_on_batch` and
`model.predict_on_batch` of the preset built in float32, mixed_bfloat16 and mixed_bfloat16_head (I3D in float32,
the rest in mixed_bfloat16) with the same weights and batch, under the running Keras backend. Runs are interleaved
(one of each in turn) and the medians printed with their speed-up over float32. The bfloat16 models must still
have finite weights after their training steps (exit 1 otherwise): TensorFlow's
bfloat16 Conv3D kernel gradient is wrong on its CPU for short clips, which `Unit3D` works around
(docs/training.md#mixed-precision).
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse

import keras
from hostinfo import add_trainable_from, environment_lines, on_the_cpu, preset_config  # benchmarks/hostinfo.py
from jit import batch_inputs, interleaved_medians, same_weights  # benchmarks/jit.py

from acga_tf.ops.devices import bfloat16_speedup
from acga_tf.training.train import PRECISIONS, mixed_precision_policy, weights_are_finite

PRESET_NAMES = ("tiny", "small", "demo", "paper")  # ACGAConfig.preset names
POLICIES = ("float32", "mixed_bfloat16", "mixed_bfloat16_head")  # keys of PRECISIONS


def _compare(name: str, calls: dict, runs: int) -> None:
    for fn in calls.values():
        fn()  # trace
    medians = interleaved_medians(calls, runs)
    print(f"{name}: " + ", ".join(f"{p} median {medians[p]:.4g} s" for p in POLICIES) + "; speed-up over float32: "
          + ", ".join(f"{p} {medians['float32'] / medians[p]:.2f}x" for p in POLICIES[1:]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="demo", choices=PRESET_NAMES, help="default: demo")
    parser.add_argument("--batch", type=int, default=8, help="training and inference batch (default 8, the demo's)")
    parser.add_argument("--runs", type=int, default=8, help="timed runs of each policy (after the first call)")
    add_trainable_from(parser)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.batch < 1:
        parser.error(f"--runs {args.runs} and --batch {args.batch} must be positive")
    config = preset_config(args)
    print(f"preset={args.preset} batch={args.batch} runs={args.runs} trainable_from={config.i3d_trainable_from}")
    for line in environment_lines(on_the_cpu()):
        print(line)
    policy, reason = mixed_precision_policy(gpu=None)  # the CPU's choice (`on_the_cpu`: a GPU is listed still)
    print(f"bfloat16 convolution probe: {bfloat16_speedup():.2f}x float32's speed; --mixed-precision picks "
          f"{policy} ({reason})")

    keras.utils.set_random_seed(0)
    x, y = batch_inputs(config, args.batch)
    models = same_weights(config, {policy: (PRECISIONS[policy], {}) for policy in POLICIES})
    _compare(f"{args.preset} training step (batch {args.batch})",
             {p: (lambda m=m: m.train_on_batch(x, y)) for p, m in models.items()}, args.runs)
    for policy in POLICIES[1:]:
        if not weights_are_finite(models[policy]):
            raise SystemExit(f"error: the {policy} {args.preset} model has non-finite weights after "
                             f"{args.runs + 1} training steps")
    _compare(f"{args.preset} forward (batch {args.batch}, inference)",
             {p: (lambda m=m: m.predict_on_batch(x)) for p, m in models.items()}, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
