"""TensorFlow's oneDNN CPU kernels off against on (docs/training.md#cpu): a training step and a forward pass.

    python benchmarks/onednn.py                                          # demo preset, batch 8, 3 rounds
    python benchmarks/onednn.py --preset tiny --batch 2 --rounds 1 --runs 1 --trainable-from Mixed_4f  # smoke run

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once, when it loads, so every measurement is a fresh Python process: one
with `TF_ENABLE_ONEDNN_OPTS=0`, one with `=1`, in turn, `--rounds` times (the host's speed drifts; alternating keeps
the two sides comparable). Each process builds the preset in float32 with the same seed, runs two untimed training
steps and forward passes, then times `--runs` of each (`train_on_batch`, `predict_on_batch`) and reports medians.
Prints each process's figures, then the medians over the rounds and the speed-up of oneDNN on.
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import json
import os
import statistics
import subprocess
import sys

from hostinfo import add_trainable_from, environment_lines, on_the_cpu, preset_config  # benchmarks/hostinfo.py

PRESET_NAMES = ("tiny", "small", "demo", "paper")  # ACGAConfig.preset names


def _child(config, batch: int, runs: int) -> dict:
    """The figures of this process (its oneDNN setting is the one TensorFlow read when it loaded)."""
    import keras
    from jit import batch_inputs, interleaved_medians  # benchmarks/jit.py

    from acga_tf.models.acga import ACGA
    from acga_tf.ops.devices import onednn_enabled

    keras.utils.set_random_seed(0)
    model = ACGA(config)
    model.compile()
    x, y = batch_inputs(config, batch)
    for _ in range(2):
        model.train_on_batch(x, y)
        model.predict_on_batch(x)
    calls = {"train": lambda: model.train_on_batch(x, y), "forward": lambda: model.predict_on_batch(x)}
    return {"onednn": onednn_enabled(), **interleaved_medians(calls, runs)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="demo", choices=PRESET_NAMES, help="default: demo")
    parser.add_argument("--batch", type=int, default=8, help="batch of the step and the forward (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of processes, off then on (default 3)")
    parser.add_argument("--runs", type=int, default=8, help="timed calls of each kind per process (default 8)")
    add_trainable_from(parser)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.batch, args.rounds, args.runs) < 1:
        parser.error(f"--batch {args.batch}, --rounds {args.rounds} and --runs {args.runs} must be positive")
    config = preset_config(args)
    if args.child:
        print(json.dumps(_child(config, args.batch, args.runs)))
        return 0
    print(f"preset={args.preset} batch={args.batch} rounds={args.rounds} runs={args.runs} "
          f"trainable_from={config.i3d_trainable_from} float32")
    for line in environment_lines(on_the_cpu(), onednn="off, then on, in processes of their own"):
        print(line)
    command = [sys.executable, os.path.abspath(__file__), "--child", "--preset", args.preset, "--batch",
               str(args.batch), "--runs", str(args.runs), "--trainable-from", config.i3d_trainable_from]
    seen = {"off": [], "on": []}
    for round_ in range(1, args.rounds + 1):
        for side, value in (("off", "0"), ("on", "1")):
            done = subprocess.run(command, env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS=value,
                                                    CUDA_VISIBLE_DEVICES=""),  # (the host CPU's kernels, not a GPU's)
                                  capture_output=True, text=True)
            if done.returncode != 0:
                print(f"error: the oneDNN-{side} process failed: {done.stderr.strip().splitlines()[-1:]}",
                      file=sys.stderr)
                return 1
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            if figures["onednn"] is not (side == "on"):
                print(f"error: TF_ENABLE_ONEDNN_OPTS={value} left oneDNN {figures['onednn']}", file=sys.stderr)
                return 1
            seen[side].append(figures)
            print(f"round {round_} oneDNN {side}: training step {figures['train']:.4g} s, forward "
                  f"{figures['forward']:.4g} s")
    for kind, name in (("train", "training step"), ("forward", "forward")):
        off = statistics.median(f[kind] for f in seen["off"])
        on = statistics.median(f[kind] for f in seen["on"])
        print(f"{args.preset} {name} (batch {args.batch}): oneDNN off median {off:.4g} s, on median {on:.4g} s; "
              f"on runs at {off / on:.2f}x off's speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
