"""The I3D stem (`Conv3d_1a_7x7`: 7×7×7 convolution, stride 2, over the RGB clip, then BatchNorm and ReLU) in each
of its forms, timed on one accelerator under JAX, to choose the form a GPU runs (docs/model.md#video-encoder).

    KERAS_BACKEND=jax python benchmarks/gpu_stem.py                 # paper preset (T=16, S=512), batch 32, on the GPU
    KERAS_BACKEND=jax python benchmarks/gpu_stem.py --device cpu --preset tiny --image-size 32 --batch 2 --runs 1
                                                                   # smoke run (seconds): checks it works only

The forms, all the same sum (`tests/test_video_encoder.py`, and the parity fixture under every backend):
- `3d`: the 3D convolution, over 3 input channels (what a CPU runs);
- `folded`: a 1×7×7 convolution over the 7 frames each output step spans, stacked as 21 channels (on an H200 it took
  the forward at batch 32 from 260 to 383 clips/s, benchmarks/README.md);
- `space-to-depth`: the folded one with each 2×2 block of pixels stacked as channels too: a stride-1 4×4
  convolution over 84 channels, with 31% more multiply-adds (the kernel padded from 7 to 8 taps per axis); what a
  GPU runs, the fastest of the three on the H200 (21.7 ms per batch of 32, against 31.1 and 69.5);
- `space-to-depth-pairs`: that one computing two consecutive output frames per position (`Unit3D.paired_frames`):
  the 9 frames they read stacked (108 channels after space to depth), 128 filters, 29% more multiply-adds again;
  fewer stacked frames to write (9 per 2 outputs, not 7 per 1) and wider outputs; not yet measured on a GPU.

For each form: milliseconds per call (`jax.jit` of the layer's `stateless_call` in inference mode, median of `--runs`
after one compiling call), the stem's own work per second (FLOPs of the `3d` form's convolution counted on its jaxpr,
2 per multiply-add) and as a share of the bfloat16 matmul rate measured in the same run, and the largest difference
from the `3d` form's output over that output's largest value (bfloat16 rounding only, about 1e-2, under
mixed_bfloat16), then the fastest form, named as `gpu.py --stem` takes it (`gpu.py --stem FORM --train-batches 0`
times the whole model's forward with it). Only the forward pass is timed: the paper trains I3D from Mixed_4f on, so
the stem never back-propagates there. Runs under `KERAS_BACKEND=jax` without TensorFlow, as `gpu.py` does.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from gpu import (  # benchmarks/gpu.py
    STEM_FORMS,
    add_model_arguments,
    bfloat16_matmul_rate,
    flops_of,
    median_seconds,
    peak_memory,
)
from hostinfo import jax_start, tensorflow_free_exit  # benchmarks/hostinfo.py


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(parser, one_batch=True)
    parser.add_argument("--runs", type=int, default=10, help="timed calls per form (default 10)")
    parser.add_argument("--matmul-size", type=int, default=None,
                        help="n of the bfloat16 n×n matmul (default 8192 on a GPU, 1024 on a CPU)")
    parser.add_argument("--image-size", type=int, default=None, help="override the preset's S (a multiple of 16)")
    args = parser.parse_args(argv)
    args.trainable_from = None  # jax_start's override, not used here
    if args.batch < 1 or args.runs < 1:
        parser.error("--batch and --runs must be positive")
    if args.matmul_size is None:
        args.matmul_size = 8192 if args.device == "gpu" else 1024
    return args


def stem_forms(config, policy: str) -> tuple:
    """`(unit, {form: jitted (trainable, non_trainable, video) -> output})`: the preset's stem `Unit3D` with random
    weights and random BatchNorm statistics, and its call in each form of `STEM_FORMS`."""
    import jax

    from acga_tf.models.video_encoder import I3D

    unit = I3D("Conv3d_1a_7x7", config.i3d_width_multiplier, bn_scale=config.bn_scale, bn_epsilon=config.bn_epsilon,
               dtype=policy).blocks["Conv3d_1a_7x7"]
    unit.build((None, config.clip_length, config.image_size, config.image_size, config.input_channels))
    rng = np.random.default_rng(0)
    for variable in unit.weights:  # random, with positive BatchNorm scales and variances
        values = (rng.normal(0, 0.05, variable.shape) if "kernel" in variable.path
                  else rng.uniform(0.5, 1.5, variable.shape) if variable.name in ("gamma", "moving_variance")
                  else rng.normal(0, 0.1, variable.shape))
        variable.assign(values.astype("float32"))

    def form(fold: bool, space_to_depth: bool, paired: bool):
        def call(trainable, non_trainable, video):
            unit.fold_time, unit.space_to_depth, unit.paired_frames = fold, space_to_depth, paired  # read when traced
            return unit.stateless_call(trainable, non_trainable, video, training=False)[0]
        return jax.jit(call)
    return unit, {name: form(*flags) for name, flags in STEM_FORMS.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    device, config = jax_start(args, "benchmarks/gpu_stem.py", f"batch={args.batch} policy={args.policy} "
                               f"runs={args.runs}")
    import jax

    with jax.default_device(device):
        matmul_rate = bfloat16_matmul_rate(args.matmul_size, args.runs)
        unit, forms = stem_forms(config, args.policy)
        trainable = [v.value for v in unit.trainable_variables]
        non_trainable = [v.value for v in unit.non_trainable_variables]
        shape = (args.batch, config.clip_length, config.image_size, config.image_size, config.input_channels)
        video = jax.random.uniform(jax.random.key(1), shape, minval=-1.0, maxval=1.0)  # made on the device
        flops = {name: flops_of(call, trainable, non_trainable, video) for name, call in forms.items()}
        work = flops["3d"]  # the stem's own work; the other forms' counts are compared with it
        print(f"stem: {unit.filters} filters, kernel {unit.kernel_size}, strides {unit.strides}, input {shape}, "
              f"BatchNorm {'folded into the conv' if unit.fold_batch_norm else 'separate'} (the device's choice): "
              f"{work / args.batch / 1e9:.4g} GFLOP per clip")
        reference, scale, times = None, None, {}
        for name, call in forms.items():  # "3d" first: the reference
            out = call(trainable, non_trainable, video).astype("float32")  # trace, compile, first run
            if reference is None:
                reference, scale = out, jax.numpy.maximum(abs(out).max(), 1e-30)
            difference = float(abs(out - reference).max() / scale)
            del out
            seconds = times[name] = median_seconds(
                lambda call=call: call(trainable, non_trainable, video).block_until_ready(), args.runs)
            print(f"{name:<24} {seconds * 1e3:9.4g} ms per batch  {work / seconds / 1e12:8.4g} TFLOP/s of the stem's "
                  f"work ({work / seconds / matmul_rate:.1%} of the bf16 matmul rate; this form computes "
                  f"{flops[name] / work:.2f}x that work); difference from 3d {difference:.2g}; peak memory "
                  f"{peak_memory(device)}")
        print(f"fastest form: {min(times, key=times.get)}")
    return tensorflow_free_exit()


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    raise SystemExit(main())
