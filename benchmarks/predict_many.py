"""Many videos: `acga predict --list` (one process, the model loaded once) against a shell loop of `acga predict`
(a process, TensorFlow's import and a model load per video), on the same videos, in one run.

Writes, with PyAV, short videos of moving coloured squares, saves an untrained tiny-preset run (prediction costs the
same trained or not), then times `acga predict --video V --frames-dir ...` once per video, each in a fresh process
as a shell loop runs it, and `acga predict --list LIST --output-dir ...` once for all of them; prints seconds per
video for each, their ratio, and whether the masks are the same (docs/serving.md#many-videos).

    python benchmarks/predict_many.py                                            # 12 videos of 2 s at 320 x 180
    python benchmarks/predict_many.py --videos 3 --seconds 1 --height 72 --fps 12   # tiny: a minute
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import csv
import filecmp
import os
import subprocess
import sys
import time

from predict_memory import QUERY, workspace, write_video  # benchmarks/predict_memory.py


def acga(*argv: str) -> float:
    """Runs `acga ARGV` in a fresh process, as a shell does; returns its seconds (start-up included)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "acga_tf.cli", *argv, "--no-progress"], capture_output=True,
                          text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"error: acga {' '.join(argv[:1])} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def same_masks(one: str, other: str) -> bool:
    """Whether two folders hold the same PNG files, byte for byte."""
    names = sorted(os.listdir(one))
    _, different, unreadable = filecmp.cmpfiles(one, other, names, shallow=False)
    return names == sorted(os.listdir(other)) and not different and not unreadable


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=12, help="how many videos (default: 12)")
    parser.add_argument("--seconds", type=float, default=2, help="each video's length (default: 2)")
    parser.add_argument("--height", type=int, default=180, help="frame height, 16:9 (default: 180)")
    parser.add_argument("--fps", type=float, default=24, help="frame rate (default: 24)")
    parser.add_argument("--workdir", help="keep the videos and outputs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.videos < 1:
        parser.error(f"--videos {args.videos}: give at least 1")
    if not (args.seconds > 0 and args.fps > 0 and args.height >= 16):  # (a video of no frame: "video file not found")
        parser.error(f"--seconds {args.seconds:g} and --fps {args.fps:g} must be > 0, --height {args.height} >= 16")
    with workspace(args.workdir) as (work, run):
        videos = [os.path.join(work, f"video{k:03d}.mp4") for k in range(args.videos)]
        frames = [write_video(video, args.seconds, args.height, args.fps) for video in videos]
        listing = os.path.join(work, "list.csv")
        with open(listing, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["video", "query"])
            writer.writerows([os.path.basename(video), QUERY] for video in videos)
        print(f"{args.videos} videos of {args.seconds:g} s ({sum(frames)} frames, {args.height} high, {args.fps:g} "
              f"fps), untrained tiny preset (T=8, S=64), query {QUERY!r}, mask PNGs:")
        loop = sum(acga("predict", "--model", run, "--video", video, "--query", QUERY, "--frames-dir",
                        os.path.join(work, "loop", f"video{k:03d}")) for k, video in enumerate(videos))
        listed = acga("predict", "--model", run, "--list", listing, "--output-dir", os.path.join(work, "list"))
        equal = all(same_masks(os.path.join(work, "loop", f"video{k:03d}"),
                               os.path.join(work, "list", f"video{k:03d}", "masks", "1")) for k in range(args.videos))
        n = args.videos
        print(f"  a process per video (a shell loop): {loop / n:.2f} s a video ({loop:.1f} s in all)")
        print(f"  acga predict --list (one process): {listed / n:.2f} s a video ({listed:.1f} s in all)")
        print(f"  the list is {loop / listed:.2f}x as fast; masks the same: {'yes' if equal else 'NO'}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
