"""How long the masks take to go back to the frame's size, and into its overlay: the post-processing every
prediction ends with (`acga_tf.ops.postprocess`, docs/evaluation.md#protocol) and the overlay's colour blend
(`acga predict --output`), at 720p, 1080p and 4K UHD.

The masks are thresholded at the model's S x S and un-letterboxed by nearest neighbour. It prints, for each frame
size, the time to bring a batch of masks to it with TensorFlow's resize kernel (`tf.image.resize(..., "nearest")`,
what acga-tf used until 2026-12-06) and with acga-tf's two gathers (`acga_tf.ops.geometry`), their ratio, and a check
that both give the same pixels; then the whole post-processing (`logits_outputs`, masks and scores, no probability
maps) per frame; then the overlay's blend of one mask (a disc covering 2%, 20% or 100% of the frame) by looking up
every pixel of each channel (until 2026-12-06) and as acga-tf does now (`overlay_frame`: the masked pixels alone,
every pixel where they are most of the frame), with the same check.

    python benchmarks/postprocess.py                    # S = 128 (the demo's), batches of 4 (acga predict's)
    python benchmarks/postprocess.py --size 512 --repeats 20
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import statistics
import time

import numpy as np
import tensorflow as tf
from hostinfo import environment_lines  # benchmarks/hostinfo.py

from acga_tf.apps.predict import _blend, _blend_table, overlay_color
from acga_tf.ops import geometry
from acga_tf.ops.config import count_argument
from acga_tf.ops.geometry import letterbox_geometry
from acga_tf.ops.postprocess import PEAK_FRAME, logits_outputs

FRAME_SIZES = {"720p": (720, 1280), "1080p": (1080, 1920), "4K UHD": (2160, 3840)}
COVERAGES = (0.02, 0.2, 1.0)
ALPHA = 0.45


def whole_frame_blend(frames: np.ndarray, layers, alpha: float) -> np.ndarray:
    """The overlay's blend as acga-tf did it until 2026-12-06: every pixel of each channel looked up, then kept
    where the mask is not."""
    out = np.empty_like(frames)
    for c in range(3):
        channel = frames[..., c]
        for mask, color in layers:
            channel = np.where(mask, _blend_table(float(color[c]), alpha)[channel], channel)
        out[..., c] = channel
    return out


def disc(height: int, width: int, coverage: float) -> np.ndarray:
    """A bool (H, W) disc in the frame's centre covering about `coverage` of it (all of it at 1)."""
    if coverage >= 1:
        return np.ones((height, width), bool)
    y, x = np.mgrid[0:height, 0:width]
    return (y - height / 2) ** 2 + (x - width / 2) ** 2 <= coverage * height * width / np.pi


def timed(function, repeats: int) -> float:
    """The median seconds of `repeats` calls, after one to warm up."""
    function()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=count_argument, default=128, help="S, the model's output size (default: 128)")
    parser.add_argument("--batch", type=count_argument, default=4, help="masks at a time (default: 4, acga predict's)")
    parser.add_argument("--repeats", type=count_argument, default=10,
                        help="timed calls per figure, their median (default: 10)")
    parser.add_argument("--frames", default=",".join(FRAME_SIZES),
                        help=f"frame sizes, comma-separated, of {', '.join(FRAME_SIZES)} or HxW (default: all)")
    args = parser.parse_args(argv)
    sizes = {}
    for name in args.frames.split(","):
        if name in FRAME_SIZES:
            sizes[name] = FRAME_SIZES[name]
        else:
            try:
                height, width = (int(v) for v in name.split("x"))
            except ValueError:
                height = width = 0
            if height < 1 or width < 1:  # ("0x0" was letterbox_geometry's traceback)
                parser.error(f"--frames: {name!r} is none of {', '.join(FRAME_SIZES)}, nor HxW of positive sizes")
            sizes[name] = (height, width)
    for line in environment_lines():
        print(line)
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(0.0, 3.0, (args.batch, args.size, args.size, 1)).astype(np.float32))
    print(f"{args.batch} masks from S = {args.size}, median of {args.repeats} calls:")
    for name, (height, width) in sizes.items():
        new_h, new_w, top, left = (int(v) for v in letterbox_geometry(height, width, args.size))
        crop = tf.constant(rng.integers(0, 2, (args.batch, new_h, new_w, 1)).astype(np.uint8))
        target = tf.constant([height, width])
        kernel = timed(lambda: tf.image.resize(crop, target, method="nearest"), args.repeats)
        gathers = timed(lambda: geometry._nearest(crop, target), args.repeats)
        same = np.array_equal(tf.image.resize(crop, target, method="nearest").numpy(),
                              geometry._nearest(crop, target).numpy())
        whole = timed(lambda: logits_outputs(logits, height, width, PEAK_FRAME, probabilities=False), args.repeats)
        print(f"  {name} ({width}x{height}): TensorFlow's kernel {1000 * kernel:.1f} ms, two gathers "
              f"{1000 * gathers:.1f} ms ({kernel / gathers:.1f}x); the same pixels: {same}; the whole "
              f"post-processing {1000 * whole / args.batch:.1f} ms a frame")
    print(f"the overlay's blend of one mask into a frame (alpha {ALPHA}), median of {args.repeats} calls:")
    for name, (height, width) in sizes.items():
        frame = rng.integers(0, 256, (height, width, 3)).astype(np.uint8)
        for coverage in COVERAGES:
            layers = [(disc(height, width, coverage), overlay_color(0))]
            before = timed(lambda: whole_frame_blend(frame, layers, ALPHA), args.repeats)
            after = timed(lambda: _blend(frame, layers, ALPHA), args.repeats)
            same = np.array_equal(whole_frame_blend(frame, layers, ALPHA), _blend(frame, layers, ALPHA))
            print(f"  {name}, the mask {100 * coverage:g}% of it: every pixel {1000 * before:.1f} ms, acga-tf's "
                  f"{1000 * after:.1f} ms ({before / after:.1f}x); the same pixels: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
