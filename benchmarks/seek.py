"""How long the video reader takes to reach frame k of a long video: seeking to the keyframe before it
(`iter_video_frames(path, start=k)`, what `acga predict --start` and the web page use, docs/data.md#videos) against
decoding every frame from the start and passing over the first k (what the reader did before it could seek).

It writes an H.264 MP4 of a moving square on a gradient with PyAV (libx264, a keyframe every 250 frames: x264's
default), or reads `--video`, and prints, for frames at 10%, 50% and 98% of the video, the time to that frame both
ways and the ratio, with a check that both give the same frame.

    python benchmarks/seek.py                                   # 10 minutes of 1280 x 720 at 30 fps (written first)
    python benchmarks/seek.py --seconds 60                      # 1 minute
    python benchmarks/seek.py --video match.mp4
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import itertools
import os
import tempfile
import time

import av
import numpy as np
from hostinfo import environment_lines  # benchmarks/hostinfo.py

from acga_tf.apps.predict import video_info
from acga_tf.data.video import iter_video_frames
from acga_tf.ops.config import count_argument

POSITIONS = (0.1, 0.5, 0.98)


def write_long_video(path: str, seconds: float, height: int, width: int, fps: int = 30) -> str:
    """An H.264 MP4 (yuv420p, x264's ultrafast preset, its default keyframe interval of 250) of a smooth gradient
    and a square that moves, so that every frame differs (82 s for the default 10 minutes of 720p on a 2-core
    CPU)."""
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 128)],
                        -1).astype(np.uint8)
        side = max(height // 6, 2)
        for t in range(int(seconds * fps)):
            image = base.copy()
            top, left = (7 * t) % max(height - side, 1), (11 * t) % max(width - side, 1)
            image[top:top + side, left:left + side] = (255, t % 256, 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def time_to_frame(path: str, k: int, seek: bool) -> tuple[float, np.ndarray]:
    """Seconds until frame k is in hand, and frame k."""
    began = time.perf_counter()
    if seek:
        frame = next(iter_video_frames(path, damaged="skip", start=k))
    else:
        frame = next(itertools.islice(iter_video_frames(path, damaged="skip"), k, None))
    return time.perf_counter() - began, frame


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", help="a video file (default: one written first, see --seconds)")
    parser.add_argument("--seconds", type=float, default=600, help="the written video's length (default: 600)")
    parser.add_argument("--height", type=count_argument, default=720)
    parser.add_argument("--width", type=count_argument, default=1280)
    args = parser.parse_args(argv)
    if args.video is None and (args.height % 2 or args.width % 2 or not args.seconds > 0):  # (libx264's own error)
        parser.error(f"--height {args.height} and --width {args.width} must be even (H.264's 4:2:0), --seconds "
                     f"{args.seconds:g} > 0")
    if args.video is not None and not os.path.isfile(args.video):  # (was "its container declares no frame count")
        parser.error(f"--video {args.video}: no such file")
    for line in environment_lines():
        print(line)
    with tempfile.TemporaryDirectory() as folder:
        path = args.video
        if path is None:
            began = time.perf_counter()
            path = write_long_video(os.path.join(folder, "long.mp4"), args.seconds, args.height, args.width)
            print(f"wrote {args.seconds:g} s of {args.width}x{args.height} H.264 at 30 fps in "
                  f"{time.perf_counter() - began:.1f} s")
        info = video_info(path)
        if not info.frames:
            raise SystemExit(f"{path}: its container declares no frame count")
        print(f"video: {info.frames} frames at {info.fps:g} fps")
        for position in POSITIONS:
            k = min(int(position * info.frames), info.frames - 1)
            seeking, frame = time_to_frame(path, k, seek=True)
            passing, same = time_to_frame(path, k, seek=False)
            print(f"frame {k} ({k / info.fps:.1f} s): seeking {seeking:.3f} s, decoding from the start {passing:.3f} s "
                  f"({passing / seeking:.1f}x); the same frame: {np.array_equal(frame, same)}")


if __name__ == "__main__":
    main()
