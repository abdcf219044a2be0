"""Input-pipeline benchmark: converter and `make_dataset` throughput on the synthetic A2D world.

    python benchmarks/input_pipeline.py                                # full run: 48 videos, >= 5 s per figure
    python benchmarks/input_pipeline.py --videos 4 --min-seconds 0.2 --presets tiny   # smoke run: works, no figures

Prints, with the backend, device and host (CPU model, usable cores):
- converter clips/s (annotated frames written per second, each a stored clip with all its sentences) with 1 and
  2 worker processes: the first run in this process and the steady state; with 2 workers, the first run on a new
  pool includes the start of the worker processes (spawn + TensorFlow import), the steady state reuses that pool;
- `make_dataset` clips/s (samples = (clip, sentence) pairs per second) for the tiny and paper presets' T and S,
  in total and per CPU core, training and evaluation paths.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from hostinfo import cores, environment_lines

from acga_tf.data.convert import DEFAULT_WINDOW, make_pool, prepare
from acga_tf.data.datasets import make_dataset
from acga_tf.data.schema import JPEG_QUALITY
from acga_tf.data.synthetic import write_a2d_world
from acga_tf.models.config import ACGAConfig

SHARD_SIZE = 16
FRAME_HEIGHT = 160  # write_a2d_world's default
PRESETS = ("tiny", "paper")  # the make_dataset figures of a full run


def _warm_worker() -> None:
    """Runs in a pool worker: the shard writer (TensorFlow, PyAV) imported; the sleep keeps this worker busy so
    each worker of the pool gets one call."""
    importlib.import_module("acga_tf.data.shards")
    time.sleep(1)


def bench_converter(root: str, out: str, workers: int, pool: ProcessPoolExecutor | None) -> tuple[float, int, float]:
    """(clips/s, clips, seconds) of a full conversion of both splits into the empty directory `out`, with `pool`
    (`make_pool(workers)`) for `workers` > 1: a new pool's worker start is timed too."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summaries = prepare("a2d", root, out, "all", workers=workers, shard_size=SHARD_SIZE, progress=False,
                        executor=pool)
    seconds = time.perf_counter() - start
    clips = sum(s["frames"] for s in summaries)
    return clips / seconds, clips, seconds


def bench_dataset(pattern: str, config: ACGAConfig, training: bool, batch_size: int,
                  min_seconds: float) -> tuple[float, int]:
    """(samples/s, samples) after one warm-up batch, over whole epochs for at least `min_seconds`."""
    ds = make_dataset(pattern, config, training=training, batch_size=batch_size)
    if next(iter(ds), None) is None:  # trace and warm up
        raise SystemExit(f"error: {pattern} gives no full batch of {batch_size}: use more --videos or a smaller "
                         f"--batch-size")
    samples, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        for inputs, _ in ds:
            samples += int(inputs["video"].shape[0])
    return samples / (time.perf_counter() - start), samples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=48, help="videos in the synthetic world (default: 48)")
    parser.add_argument("--batch-size", type=int, default=4, help="make_dataset batch size (default: 4)")
    parser.add_argument("--min-seconds", type=float, default=5.0,
                        help="time each make_dataset figure over whole epochs for at least this long (default: 5)")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=("tiny", "small", "paper"),
                        help="the presets' T and S for make_dataset (default: tiny paper)")
    args = parser.parse_args(argv)
    if args.videos < 1 or args.batch_size < 1 or args.min_seconds < 0:
        parser.error("--videos and --batch-size must be positive, --min-seconds not negative")
    logging.basicConfig(level=logging.ERROR)
    n_cores = cores()
    with tempfile.TemporaryDirectory() as work:
        root = os.path.join(work, "a2d_sentences")
        world = write_a2d_world(root, n_videos=args.videos, seed=0, height=FRAME_HEIGHT)
        widths = sorted({v["width"] for v in world["videos"].values()})
        for line in environment_lines("CPU:0"):  # the converter and tf.data run on the host CPU
            print(line)
        print(f"synthetic A2D world: {args.videos} videos, {world['frames']} annotated frames, {world['samples']} "
              f"samples, frames {FRAME_HEIGHT} x {'|'.join(map(str, widths))}")

        print(f"\nconverter (window {DEFAULT_WINDOW}, JPEG q{JPEG_QUALITY}, shards of {SHARD_SIZE}), both splits:")
        steady_out = os.path.join(work, "out-w1")
        for workers in (1, 2):
            pool = make_pool(workers) if workers > 1 else None
            try:
                for warm in (False, True):
                    if warm and pool is not None:  # every worker started, its imports done: not timed
                        for future in [pool.submit(_warm_worker) for _ in range(workers)]:
                            future.result()
                    out = steady_out if workers == 1 and warm else os.path.join(work, f"out-w{workers}")
                    rate, clips, seconds = bench_converter(root, out, workers, pool)
                    what = ("steady state" if warm else "new pool: worker start + TF import included"
                            if workers > 1 else "first run in this process")
                    print(f"  workers={workers}: {rate:6.1f} clips/s  ({clips} clips in {seconds:.2f} s, {what})")
            finally:
                if pool is not None:
                    pool.shutdown()

        print(f"\nmake_dataset (batch {args.batch_size}, at least {args.min_seconds:g} s each), samples/s:")
        for preset in args.presets:
            config = ACGAConfig.preset(preset)
            for training in (True, False):
                split = "train" if training else "test"
                rate, n = bench_dataset(os.path.join(steady_out, f"{split}-*.tfrecord"), config, training,
                                        args.batch_size, args.min_seconds)
                print(f"  {preset:5s} T={config.clip_length:2d} S={config.image_size:3d} {split:5s}: {rate:7.1f} "
                      f"clips/s over the {n_cores} core{'s' * (n_cores != 1)}, {rate / n_cores:7.1f} clips/s a core on "
                      f"average  ({n} samples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
