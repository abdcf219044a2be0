"""XLA (`jit_compile`) against plain graph mode: ACGA's training step, evaluation step and forward pass.

    python benchmarks/jit.py                                   # tiny training/evaluation steps, paper forward, CPU
    python benchmarks/jit.py --train-preset tiny --forward-preset tiny --runs 1   # smoke run: checks it works only

Times, under the running Keras backend (TensorFlow by default), `model.train_on_batch` and `model.test_on_batch`
of a model compiled with `jit_compile=False` and one compiled with `jit_compile=True` (same weights, same batch),
and the inference forward pass (`model.predict_on_batch`) of each. Runs are interleaved (one of each in turn) and
the medians printed with their ratio; the first call of each (trace and compile) is timed apart. The outputs of
the two forward passes are compared first (exit 1 if they differ by more than 1e-4 of max |logit|). The default
that `SegmentationTask.compile` picks from these figures is documented in docs/training.md#xla.
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import statistics
import time

import keras
import numpy as np
from hostinfo import environment_lines, on_the_cpu  # benchmarks/hostinfo.py

from acga_tf.models.acga import ACGA
from acga_tf.models.config import ACGAConfig

PRESET_NAMES = ("tiny", "small", "paper")  # ACGAConfig.preset names
MAX_RELATIVE_DIFFERENCE = 1e-4  # XLA fuses and reorders float32 sums: ~1e-6 of max |logit| measured


def batch_inputs(config: ACGAConfig, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = config.image_size
    x = {"video": rng.uniform(-1, 1, (batch, config.clip_length, s, s, config.input_channels)).astype("float32"),
         "words": rng.standard_normal((batch, config.sentence_length, config.word_dim)).astype("float32")}
    mask = (rng.uniform(size=(batch, s, s, 1)) < 0.3).astype("float32")
    y = {"logits": mask, "logits_res2": mask[:, ::4, ::4], "logits_res1": mask[:, ::16, ::16]}
    return x, y


def same_weights(config: ACGAConfig, variants: dict) -> dict:
    """`{key: model}`: one ACGA of `config` per key, all with the first one's weights, each compiled. `variants`
    maps a key to `(ACGA keyword arguments, compile keyword arguments)`."""
    models = {}
    for key, (model_kwargs, compile_kwargs) in variants.items():
        model = ACGA(config, **model_kwargs)
        if models:
            model.set_weights(next(iter(models.values())).get_weights())
        model.compile(**compile_kwargs)
        models[key] = model
    return models


def _pair(config: ACGAConfig) -> dict:
    """Two models with the same weights, compiled with jit_compile False and True."""
    return same_weights(config, {jit: ({}, {"jit_compile": jit}) for jit in (False, True)})


def timed(fn) -> float:
    start = time.perf_counter()
    out = fn()
    keras.tree.map_structure(np.asarray, out)
    return time.perf_counter() - start


def interleaved_medians(calls: dict, runs: int) -> dict:
    """`{key: median seconds}` of each call over `runs` rounds, one call of each in turn per round."""
    times = {key: [] for key in calls}
    for _ in range(runs):
        for key, fn in calls.items():
            times[key].append(timed(fn))
    return {key: statistics.median(values) for key, values in times.items()}


def _compare(name: str, calls: dict, runs: int, first: dict | None = None) -> None:
    """Prints the interleaved medians of `calls` (`{jit_compile: fn}`) and their first calls' times: `first`, where
    they were made before (and timed), else timed here."""
    first = first or {jit: timed(fn) for jit, fn in calls.items()}  # trace (+ XLA compile)
    medians = interleaved_medians(calls, runs)
    plain, xla = medians[False], medians[True]
    print(f"{name}: jit_compile=False median {plain:.4g} s, jit_compile=True median {xla:.4g} s, "
          f"ratio xla/plain {xla / plain:.3f} (first calls {first[False]:.3g} s, {first[True]:.3g} s)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-preset", default="tiny", choices=PRESET_NAMES, help="default: tiny")
    parser.add_argument("--forward-preset", default="paper", choices=PRESET_NAMES, help="default: paper")
    parser.add_argument("--batch", type=int, default=2, help="training/evaluation batch (default 2)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each variant (after the first call)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.batch < 1:
        parser.error(f"--runs {args.runs} and --batch {args.batch} must be positive")
    print(f"train_preset={args.train_preset} forward_preset={args.forward_preset} batch={args.batch} "
          f"runs={args.runs}")
    for line in environment_lines(on_the_cpu()):
        print(line)
    keras.utils.set_random_seed(0)
    train_config = ACGAConfig.preset(args.train_preset)
    x, y = batch_inputs(train_config, args.batch)
    models = _pair(train_config)
    _compare(f"{args.train_preset} training step (batch {args.batch})",
             {jit: (lambda m=m: m.train_on_batch(x, y)) for jit, m in models.items()}, args.runs)
    _compare(f"{args.train_preset} evaluation step (batch {args.batch})",
             {jit: (lambda m=m: m.test_on_batch(x, y)) for jit, m in models.items()}, args.runs)

    forward_config = ACGAConfig.preset(args.forward_preset)
    x1, _ = batch_inputs(forward_config, 1)
    models = _pair(forward_config)  # compile() sets jit_compile, which predict_on_batch honours
    outputs, first = {}, {}  # the first calls (trace, XLA's compile) timed here: the comparison makes them (a
    for jit, m in models.items():  # benchmark reviewer's: "first calls" 77 ms, timed after them, of a compile of s)
        began = time.perf_counter()
        outputs[jit] = np.asarray(m.predict_on_batch(x1)["logits"])
        first[jit] = time.perf_counter() - began
    diff = float(np.max(np.abs(outputs[True] - outputs[False])))
    relative = diff / max(float(np.max(np.abs(outputs[False]))), 1e-30)
    print(f"max |xla - plain| on logits: {diff:.2e} ({relative:.1e} of max |logit|)")
    if not relative <= MAX_RELATIVE_DIFFERENCE:
        raise SystemExit(f"error: XLA and plain logits disagree by {relative:.1e} of max |logit| "
                         f"(more than {MAX_RELATIVE_DIFFERENCE:g})")
    _compare(f"{args.forward_preset} forward (batch 1, inference)",
             {jit: (lambda m=m: m.predict_on_batch(x1)) for jit, m in models.items()}, args.runs, first)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
