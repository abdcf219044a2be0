"""Peak memory and speed of `acga predict` on long and large videos: memory must not grow with the length.

Writes, with PyAV, videos of moving coloured squares (by default 1 and 10 minutes at 1280 × 720 and 24 fps, and
10 seconds at 3840 × 2160), saves an untrained tiny-preset run (prediction costs the same trained or not), then
runs `acga predict --output overlay.mp4 --frames-dir masks/` on each video in a fresh child process and prints that
process's peak resident memory (`ru_maxrss`, read by the child itself when predict returns) and frames per second
(over the command's whole time: the model's load and tracing, a few seconds, are in it).
Targets (docs/serving.md#predict): the longest video's peak within 10% of the shortest's, every peak under 2 GB.

    python benchmarks/predict_memory.py                                   # 1 and 10 min at 720p, 10 s at 4K
    python benchmarks/predict_memory.py --seconds 60 300                  # 1 and 5 min
    python benchmarks/predict_memory.py --seconds 2 4 --height 72 --uhd-seconds 0 --fps 12   # tiny: seconds
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import keras
import numpy as np
from hostinfo import environment_lines  # benchmarks/hostinfo.py

from acga_tf.cli import main as acga_main
from acga_tf.data.video import Mp4Writer
from acga_tf.data.vocab import Vocabulary
from acga_tf.models.acga import ACGA
from acga_tf.models.config import ACGAConfig
from acga_tf.training.artifacts import save_trained

QUERY = "the red square moving left"
TARGET_RATIO = 1.10
TARGET_PEAK_MB = 2048


def video_frames(seconds: float, height: int, fps: float, seed: int = 0):
    """Yields uint8 (height, width 16:9, 3) frames: a fixed noisy background and two squares moving across it."""
    width = 2 * round(height * 16 / 9 / 2)
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 90, (height, width, 3), dtype=np.uint8)
    side = max(height // 5, 2)
    for t in range(int(round(seconds * fps))):
        frame = background.copy()
        x = (t * max(width // 200, 1)) % max(width - side, 1)
        y = (t * max(height // 300, 1)) % max(height - side, 1)
        frame[y:y + side, x:x + side] = (230, 40, 40)
        frame[height - side - y:height - y, width - side - x:width - x] = (40, 80, 230)
        yield frame


def write_video(path: str, seconds: float, height: int, fps: float) -> int:
    """Encodes `video_frames` to an H.264 mp4 (ultrafast); returns the frame count."""
    count = 0
    with Mp4Writer(path, fps, {"preset": "ultrafast", "crf": "20"}) as writer:
        for frame in video_frames(seconds, height, fps):
            writer.write(frame)
            count += 1
    return count


def make_run(directory: str, sentences: tuple[str, ...] = (QUERY,)) -> str:
    """An untrained tiny-preset run (random weights, a vocabulary covering `sentences`), as `acga train` writes one."""
    keras.utils.set_random_seed(0)
    model = ACGA(ACGAConfig.preset("tiny"))
    vocabulary = Vocabulary.build(list(sentences))
    matrix, _ = vocabulary.embedding_matrix(dim=model.config.word_dim, seed=0)
    save_trained(directory, model, vocabulary, matrix, overwrite=True)  # (--workdir: this script's own run)
    return directory


@contextlib.contextmanager
def workspace(workdir: str | None) -> Iterator[tuple[str, str]]:
    """Prints the environment's lines, then yields (the folder to work in: `workdir`, or a temporary one removed
    after, and an untrained tiny run saved in it)."""
    for line in environment_lines():
        print(line)
    with tempfile.TemporaryDirectory() as temporary:
        work = workdir or temporary
        os.makedirs(work, exist_ok=True)
        yield work, make_run(os.path.join(work, "run"))


def measure(run: str, video: str, out: str, batch_size: int, pngs: bool) -> dict:
    """Runs `acga predict` in a fresh child process; returns its peak RSS (MB), seconds and exit status."""
    argv = ["predict", "--model", run, "--video", video, "--query", QUERY, "--output", os.path.join(out, "overlay.mp4"),
            "--batch-size", str(batch_size), "--no-progress"]
    if pngs:
        argv += ["--frames-dir", os.path.join(out, "masks")]
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(argv)],
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"error: acga predict failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n"
                         f"{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def child(argv: list[str]) -> int:
    """In the child: `acga predict ARGV`, then one JSON line with this process's peak RSS and the seconds."""
    start = time.perf_counter()
    status = acga_main(argv)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"status": status, "seconds": seconds, "peak_mb": peak_kb / 1024}))
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[60, 600], help="video lengths (default: 60 600)")
    parser.add_argument("--height", type=int, default=720, help="frame height, 16:9 (default: 720)")
    parser.add_argument("--uhd-seconds", type=float, default=10, help="length of a 3840 x 2160 run (0: none; "
                        "default: 10)")
    parser.add_argument("--fps", type=float, default=24, help="frame rate (default: 24)")
    parser.add_argument("--batch-size", type=int, default=4, help="clips per forward pass (default: 4)")
    parser.add_argument("--no-pngs", action="store_true", help="write the overlay only, not the mask PNGs")
    parser.add_argument("--workdir", help="keep the videos and outputs here (default: a temporary folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    if not all(s > 0 for s in args.seconds) or args.uhd_seconds < 0 or not args.fps > 0 or args.batch_size < 1 \
            or args.height < 16:  # (a video of no frame was "acga predict: error: video file not found")
        parser.error("--seconds and --fps must be > 0, --uhd-seconds >= 0, --batch-size >= 1, --height >= 16")
    with workspace(args.workdir) as (work, run):
        print(f"acga predict, untrained tiny preset (T=8, S=64), batch {args.batch_size}, query {QUERY!r}, writing "
              f"overlay.mp4{'' if args.no_pngs else ' and one mask PNG per frame'}:")
        specs = [(s, args.height) for s in args.seconds] + ([(args.uhd_seconds, 2160)] if args.uhd_seconds else [])
        results = []
        for k, (seconds, height) in enumerate(specs):
            video = os.path.join(work, f"video{k}.mp4")
            start = time.perf_counter()
            frames = write_video(video, seconds, height, args.fps)
            written = time.perf_counter() - start
            out = os.path.join(work, f"out{k}")
            result = measure(run, video, out, args.batch_size, not args.no_pngs)
            width = 2 * round(height * 16 / 9 / 2)
            # (the command's whole time: the model's load and tracing are in it, which a short video's rate shows)
            print(f"  {width}x{height} {args.fps:g} fps {seconds:g} s ({frames} frames): peak RSS "
                  f"{result['peak_mb']:.1f} MB, {frames / result['seconds']:.1f} frames/s, start-up included "
                  f"({result['seconds']:.1f} s; video written in {written:.1f} s)")
            results.append((seconds, height, result["peak_mb"]))
            if not args.workdir:
                os.remove(video)
    same = sorted((r for r in results if r[1] == args.height), key=lambda r: r[0])  # by length, whatever the order
    ratio = same[-1][2] / same[0][2]  # (given "--seconds 2 1", it was the shortest's over the longest's)
    peak = max(r[2] for r in results)
    print(f"peak RSS, longest / shortest at {args.height}p: {ratio:.3f} (target <= {TARGET_RATIO:.2f}): "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    print(f"largest peak RSS: {peak:.1f} MB (target < {TARGET_PEAK_MB} MB): "
          f"{'met' if peak < TARGET_PEAK_MB else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
