"""Input-pipeline benchmark: converter and `make_dataset` throughput on the synthetic A2D world.

Prints
- converter clips/s (annotated frames written per second, each a stored clip with all its sentences) with 1 and
  2 worker processes, with and without the start of the worker processes (spawn + TensorFlow import);
- `make_dataset` clips/s (samples = (clip, sentence) pairs per second) for the tiny and paper presets' T and S,
  in total and per CPU core, training and evaluation paths.

Usage: python benchmarks/input_pipeline.py [--videos 48] [--batch-size 4] [--min-seconds 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time

import tensorflow as tf

from acga_tf.data import make_dataset
from acga_tf.data.synthetic import write_a2d_world
from acga_tf.models.config import ACGAConfig
from pipelines.convert import make_pool, prepare


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_WORKER_IMPORTS = "import time, tensorflow, acga_tf.data.schema, acga_tf.data.video; time.sleep(1)"


def bench_converter(root: str, work: str, workers: int, warm: bool) -> tuple[float, int, float]:
    """(clips/s, clips, seconds) of a full conversion of both splits; `warm`: worker processes already started
    and TensorFlow imported in them (steady state), else the pool start is timed too."""
    out = os.path.join(work, f"out-w{workers}-{warm}")
    shutil.rmtree(out, ignore_errors=True)
    pool = make_pool(workers) if workers > 1 else None
    if pool is not None and warm:
        for future in [pool.submit(exec, _WORKER_IMPORTS) for _ in range(workers)]:
            future.result()
    if pool is None and warm:
        exec(_WORKER_IMPORTS.replace("time.sleep(1)", "0"))
    start = time.perf_counter()
    summaries = prepare("a2d", root, out, "all", workers=workers, shard_size=16, progress=False, executor=pool)
    seconds = time.perf_counter() - start
    if pool is not None:
        pool.shutdown()
    clips = sum(s["frames"] for s in summaries)
    return clips / seconds, clips, seconds


def bench_dataset(pattern: str, config: ACGAConfig, training: bool, batch_size: int,
                  min_seconds: float) -> tuple[float, int]:
    """(samples/s, samples) after one warm-up batch, over whole epochs for at least `min_seconds`."""
    ds = make_dataset(pattern, config, training=training, batch_size=batch_size)
    next(iter(ds))  # trace and warm up
    samples, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for inputs, _ in ds:
            samples += int(inputs["video"].shape[0])
    return samples / (time.perf_counter() - start), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--min-seconds", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    cores = _cores()
    with tempfile.TemporaryDirectory() as work:
        root = os.path.join(work, "a2d_sentences")
        world = write_a2d_world(root, n_videos=args.videos, seed=0)
        print(f"synthetic A2D world: {args.videos} videos, {world['frames']} annotated frames, "
              f"{world['samples']} samples, frames 160 x (192|224|256); {cores} CPU cores; TF {tf.__version__}")
        print("\nconverter (window 24, JPEG q95), both splits:")
        for workers in (1, 2):
            for warm in (False, True):
                rate, clips, seconds = bench_converter(root, work, workers, warm)
                what = "steady state" if warm else ("pool start + TF import in workers included" if workers > 1
                                                    else "first run, imports included")
                print(f"  workers={workers}: {rate:6.1f} clips/s  ({clips} clips in {seconds:.1f} s, {what})")
        out = os.path.join(work, "out-w1-True")
        print(f"\nmake_dataset (batch {args.batch_size}), samples/s:")
        for preset in ("tiny", "paper"):
            config = ACGAConfig.preset(preset)
            for training in (True, False):
                split = "train" if training else "test"
                rate, n = bench_dataset(os.path.join(out, f"{split}-*.tfrecord"), config, training, args.batch_size,
                                        args.min_seconds)
                print(f"  {preset:5s} T={config.clip_length:2d} S={config.image_size:3d} {split:5s}: {rate:7.1f} "
                      f"clips/s total, {rate / cores:7.1f} clips/s per core  ({n} samples)")


if __name__ == "__main__":
    main()
