"""What `acga predict` sends to TF Serving's REST API per frame: a clip as JSON numbers or as PNG frames.

Each frame is segmented by one request holding its clip's T frames. Sent as the `segment_queries` signature's uint8
`video`, the clip is nested JSON numbers (about 4 bytes a pixel value). Sent to `segment_encoded`, each frame is one
PNG in `{"b64": ...}` (docs/serving.md#signatures), and the client encodes each frame once for the T clips that hold
it. This prints, for frames of moving squares on a gradient with camera-like noise (or `--video`): the body of one
request both ways, the time to build it on the client (`json.dumps`, and the PNG encoding of one frame), and, with
`--url` of a running TF Serving's REST API (or the tests' stand-in), the frames per second of `acga predict` both
ways (`--repeats` runs each, in turn); and the size of the same request over gRPC (binary tensors).

    python benchmarks/rest_payload.py                                  # 1280 x 720, T = 16
    python benchmarks/rest_payload.py --height 240 --width 320 --url http://localhost:8501/v1/models/acga
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import json
import os
import time

import numpy as np
from gpu import median_seconds  # benchmarks/gpu.py (imports neither TensorFlow nor JAX)
from hostinfo import environment_lines  # benchmarks/hostinfo.py

from acga_tf.apps.predict import load_video, predict
from acga_tf.apps.predictors import load_predictor
from acga_tf.ops.config import count_argument
from acga_tf.ops.extras import install_hint
from acga_tf.serving.client import (
    ENCODED_SIGNATURE,
    MULTI_QUERY_SIGNATURE,
    encode_png,
    predict_request,
    rest_body,
)

QUERY = "the red square moving left"


def synthetic_frames(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 (count, H, W, 3): a colour gradient, two moving squares and Gaussian noise of σ = 3 (a camera's)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 128.0)], -1)
    frames = np.empty((count, height, width, 3), np.uint8)
    side = max(height // 5, 1)
    for t in range(count):
        image = base.copy()
        for k, colour in enumerate(((220, 30, 30), (30, 30, 220))):
            top = (t * 7 + k * height // 2) % max(height - side, 1)
            left = (t * 11 + k * width // 3) % max(width - side, 1)
            image[top:top + side, left:left + side] = colour
        frames[t] = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", help="a video file (its first frames); default: synthetic frames")
    parser.add_argument("--height", type=count_argument, default=720)
    parser.add_argument("--width", type=count_argument, default=1280)
    parser.add_argument("--clip-length", type=count_argument, default=16, help="T (16: the paper preset)")
    parser.add_argument("--repeats", type=count_argument, default=3)
    parser.add_argument("--url", help="a served model's REST URL, http://HOST:8501/v1/models/NAME: also time "
                        "acga predict through it, JSON numbers against PNG frames")
    parser.add_argument("--frames", type=count_argument, default=20, help="frames segmented through --url, each way")
    args = parser.parse_args()

    t = args.clip_length
    if args.video and not os.path.isfile(args.video):  # (was load_video's DataError traceback)
        parser.error(f"--video {args.video}: no such file")
    if args.video:
        clip = load_video(args.video)[0][:t]
        source = args.video
    else:
        clip = synthetic_frames(t, args.height, args.width)
        source = "synthetic frames (gradient, moving squares, noise σ = 3)"
    h, w = clip.shape[1:3]
    queries = np.array([QUERY], object)
    print(*environment_lines(), sep="\n")
    print(f"one request per frame: its clip of T = {t} frames at {w}x{h}, {source}")
    numbers = json.dumps(rest_body({"video": clip, "queries": queries}, MULTI_QUERY_SIGNATURE))
    pngs = np.array([encode_png(f) for f in clip], object)
    encoded = json.dumps(rest_body({"frames": pngs, "queries": queries}, ENCODED_SIGNATURE))
    numbers_s = median_seconds(
        lambda: json.dumps(rest_body({"video": clip, "queries": queries}, MULTI_QUERY_SIGNATURE)), args.repeats)
    png_s = median_seconds(lambda: encode_png(clip[0]), args.repeats)
    encoded_s = median_seconds(
        lambda: json.dumps(rest_body({"frames": pngs, "queries": queries}, ENCODED_SIGNATURE)), args.repeats)
    print(f"  segment_queries, JSON numbers: {len(numbers) / 1e6:.2f} MB a request, built in {numbers_s:.3f} s")
    print(f"  segment_encoded, PNG frames:   {len(encoded) / 1e6:.2f} MB a request, built in {encoded_s:.4f} s "
          f"(+ {png_s:.4f} s to encode each frame once)")
    print(f"  bytes, numbers / PNG: {len(numbers) / len(encoded):.1f}x")
    try:  # gRPC, for comparison: the raw frames as one binary uint8 tensor (acga predict --model grpc://...)
        request = predict_request({"video": clip, "queries": queries}, MULTI_QUERY_SIGNATURE)
        print(f"  gRPC segment_queries, binary tensor: {request.ByteSize() / 1e6:.2f} MB a request")
    except ImportError:
        print(f"  gRPC: not measured (needs tensorflow-serving-api: {install_hint('serving')})")
    if args.url:
        frames = load_video(args.video)[0][:args.frames] if args.video else synthetic_frames(args.frames, h, w)
        predictor = load_predictor(args.url)
        seconds = {False: [], True: []}
        for use_png in (False, True):  # a frame each way first, untimed: the first calls' costs on neither side
            predictor.encoded = use_png
            predict(predictor, frames[:1], QUERY)
        for round_ in range(args.repeats):  # interleaved, in turn first (a server's or a host's drift on both)
            for use_png in ((False, True) if round_ % 2 == 0 else (True, False)):
                predictor.encoded = use_png
                start = time.perf_counter()
                predict(predictor, frames, QUERY)
                seconds[use_png].append(time.perf_counter() - start)
        rates = {use_png: len(frames) / float(np.median(taken)) for use_png, taken in seconds.items()}
        print(f"acga predict through {args.url}, {len(frames)} frames, median of {args.repeats} interleaved "
              f"run{'s' * (args.repeats != 1)} each way: JSON numbers {rates[False]:.2f} frames/s, PNG frames "
              f"{rates[True]:.2f} frames/s ({rates[True] / rates[False]:.1f}x)")


if __name__ == "__main__":
    main()
