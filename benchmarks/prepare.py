"""How long `acga prepare a2d` takes to load its annotated frames: each video decoded once for all its annotated frames
(`load_samples`, what the converter does, docs/data.md#conversion; only the frames of the clip windows converted to RGB)
against each annotated frame's window decoded from the video's start, every frame converted (what the converter did
before), measured in one run.

A2D annotates 3 to 5 frames of each video, spread over it (the test set's are mostly at a quarter, half and three
quarters of the video). The script writes an A2D Sentences tree of such videos with the synthetic world (320 high,
as A2D's `clips320H`), or reads `--root`, and prints the loading time both ways (the minimum of `--repeats`
interleaved runs), whether both give the same samples, and the time of the whole conversion with one worker.

    python benchmarks/prepare.py                           # 12 videos of 120 frames, annotated at 30, 60 and 90
    python benchmarks/prepare.py --root a2d_sentences      # the real A2D Sentences (its first --videos videos)
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import itertools
import os
import tempfile
import time

import numpy as np
from hostinfo import environment_lines  # benchmarks/hostinfo.py

from acga_tf.data.a2d import read_a2d
from acga_tf.data.convert import convert
from acga_tf.data.synthetic import write_a2d_world
from acga_tf.data.video import LoadedSample, load_samples, read_a2d_masks, read_video_frames, window_bounds
from acga_tf.ops.config import count_argument


def one_at_a_time(frames, window):
    """What the converter did before: for each annotated frame, every frame from the video's start to its window's
    end decoded and converted to RGB, then the window taken (`load_sample` before it used `load_samples`)."""
    samples = []
    for frame in frames:
        masks = read_a2d_masks(frame.mask_path, [r.instance_id for r in frame.referrals])
        c = frame.frame_number - 1
        video = read_video_frames(frame.frames_path, max_frames=c + (window + 1) // 2)
        first, last = window_bounds(c, window, len(video))
        samples.append(LoadedSample(video[first:last + 1], c - first, masks, video.shape[1], video.shape[2], first))
    return samples


def together(frames, window):
    return [sample for _, sample in load_samples(frames, window)]


def same(a, b) -> bool:
    return all(x.first_index == y.first_index and x.center == y.center and np.array_equal(x.frames, y.frames)
               and all(np.array_equal(m, n) for m, n in zip(x.masks, y.masks)) for x, y in zip(a, b))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="an A2D Sentences tree (default: a synthetic one, written first)")
    parser.add_argument("--videos", type=count_argument, default=12, help="videos to load (default: 12)")
    parser.add_argument("--frames", type=count_argument, default=120, help="frames of a written video (default: 120)")
    parser.add_argument("--window", type=count_argument, default=16, help="clip window (default: 16, the paper's T)")
    parser.add_argument("--repeats", type=count_argument, default=3, help="runs of each way; the minimum is printed")
    args = parser.parse_args(argv)
    for line in environment_lines():
        print(line)
    with tempfile.TemporaryDirectory() as folder:
        root = args.root
        if root is None:
            root = os.path.join(folder, "a2d_sentences")
            annotated = tuple(round(args.frames * k / 4) for k in (1, 2, 3))
            began = time.perf_counter()
            write_a2d_world(root, n_videos=args.videos, height=320, widths=(568, 424), num_frames=args.frames,
                            annotated=annotated)
            print(f"wrote {args.videos} videos of {args.frames} frames (320 high), annotated at "
                  f"{', '.join(map(str, annotated))}, in {time.perf_counter() - began:.1f} s")
        frames = sorted(read_a2d(root), key=lambda f: (f.video_id, f.frame_number))
        videos = list(dict.fromkeys(f.video_id for f in frames))[:args.videos]
        frames = [f for f in frames if f.video_id in set(videos)]
        times, samples = {one_at_a_time: [], together: []}, {}
        for _, load in itertools.product(range(args.repeats), times):
            began = time.perf_counter()
            samples[load] = load(frames, args.window)
            times[load].append(time.perf_counter() - began)
        alone, joint = min(times[one_at_a_time]), min(times[together])
        print(f"loading {len(frames)} annotated frames of {len(videos)} videos, window {args.window}: one at a time "
              f"{alone:.2f} s, a video's frames together {joint:.2f} s ({alone / joint:.2f}x); the same samples: "
              f"{same(samples[one_at_a_time], samples[together])}")
        began = time.perf_counter()
        convert(frames, os.path.join(folder, "shards"), split_name="train", dataset="a2d", window=args.window,
                vocabulary=[r.sentence for f in frames for r in f.referrals], progress=False)
        took = time.perf_counter() - began
        print(f"converting them (one worker, shards and manifest written): {took:.2f} s, "
              f"{took / len(frames) * 1000:.0f} ms an annotated frame")


if __name__ == "__main__":
    main()
