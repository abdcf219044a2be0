"""What the model loses on videos stored otherwise than players show them, and what reading them as players show
them gives back (docs/data.md#videos): anamorphic pixels (`acga_tf.apps.predict.square_pixels`), interlaced
fields (`acga_tf.data.video.top_field`) and HDR (`acga_tf.data.colour.sdr_from_hdr`).

For each video of an A2D Sentences split (`acga demo`'s synthetic world, or the real dataset), it makes twins that
players show as the original:

- anamorphic: every frame narrowed to 1 / `--aspect` of its width, its pixels `--aspect` wide (4/3: HDV's 1440 × 1080
  shown 1920 × 1080);
- interlaced: each frame's odd rows taken from the next frame, as two fields filmed a moment apart are woven, and
  written as lossless interlaced H.264, which the decoder marks interlaced;
- hdr: every frame carried in HLG, as BT.2408 maps SDR into HDR (`hdr_from_sdr`), and written as 10-bit HEVC tagged
  BT.2020 and HLG (x265 at CRF 20), as phones record video.

It segments each annotated frame's sentences with `acga_tf.apps.predict.predict` on the original, on each twin read
as `acga predict` now reads it (square pixels; the top field; the SDR picture), and on each twin as stored (what it
read before; the HDR twin's signal as FFmpeg converts it to 8-bit RGB).
Masks are taken back to the original's grid (an anamorphic twin's by `nearest_columns`) and scored against the
annotation by the paper's protocol (`EvaluationAccumulator`, docs/evaluation.md#protocol): mean IoU (over samples)
and overall IoU.

    python benchmarks/twins.py --model runs/demo/run --root runs/demo/a2d_sentences      # after `acga demo`
    python benchmarks/twins.py --model runs/a2d --root a2d_sentences --videos 50 --twins anamorphic --aspect 32/27

`--untrained` uses an untrained tiny-preset run instead (`predict_memory.make_run`; the tests' smoke run: its
figures mean nothing).
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import collections
import fractions
import os
import tempfile
import time

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace
from hostinfo import environment_lines  # benchmarks/hostinfo.py
from PIL import Image
from predict_memory import make_run  # benchmarks/predict_memory.py

from acga_tf.apps.predict import nearest_columns, predict
from acga_tf.apps.predictors import load_predictor
from acga_tf.data.a2d import read_a2d
from acga_tf.data.colour import hdr_from_sdr
from acga_tf.data.video import read_a2d_masks, read_video_frames
from acga_tf.models.metrics import EvaluationAccumulator

TWINS = ("anamorphic", "interlaced", "hdr")


def narrowed(frames: np.ndarray, aspect: fractions.Fraction) -> np.ndarray:
    """uint8 (N, H, W, 3) → the anamorphic twin's stored frames (N, H, round(W / aspect), 3) (PIL's bilinear)."""
    width = max(1, round(frames.shape[2] / aspect))
    return np.stack([np.asarray(Image.fromarray(f).resize((width, f.shape[0]), Image.Resampling.BILINEAR))
                     for f in frames])


def woven(frames: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) → the interlaced twin's stored frames: frame t's even rows (its top field) and frame t + 1's
    odd rows (the last frame's own)."""
    out = frames.copy()
    out[:-1, 1::2] = frames[1:, 1::2]
    return out


def write_twin(frames: np.ndarray, path: str, pix_fmt: str, options: dict, tags: tuple[int, int, int] | None = None
               ) -> str:
    """Encodes (N, H, W, 3) RGB frames, uint8 or (for 10-bit HDR) uint16 signal, at 24 fps.

    Args:
        frames: the pictures.
        path: where (.mp4 for H.264, .mov for HEVC).
        pix_fmt: "yuv444p" (H.264, lossless at `{"qp": "0"}`) or "yuv420p10le" (HEVC).
        options: the encoder's.
        tags: (matrix, primaries, transfer) where not BT.709 SDR's (FFmpeg's numbers: BT.2020 HLG is (9, 9, 18)).
    """
    with av.open(path, "w") as container:
        stream = container.add_stream("libx265" if tags else "libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        stream.options = options
        if tags:
            context = stream.codec_context
            context.colorspace, context.color_primaries, context.color_trc = tags
            context.color_range = int(ColorRange.MPEG)
        for t, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb48le" if image.dtype == np.uint16 else "rgb24")
            if tags:
                frame = frame.reformat(format=pix_fmt, dst_colorspace=Colorspace.BT2020,
                                       dst_color_range=ColorRange.MPEG)
            frame.pts = t
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def stored_signal(path: str) -> np.ndarray:
    """uint8 (N, H, W, 3): a video's frames as FFmpeg converts them to RGB, whatever their transfer (what the reader
    handed out for HDR video before `sdr_from_hdr`)."""
    with av.open(path) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", help="a run directory, .keras file or SavedModel (`load_predictor`)")
    model.add_argument("--untrained", action="store_true", help="an untrained tiny-preset model (a smoke test)")
    p.add_argument("--root", required=True, help="an a2d_sentences/ folder (A2D Sentences' layout)")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--videos", type=int, default=40, help="videos of the split, in name order (default: 40)")
    p.add_argument("--twins", nargs="+", choices=TWINS, default=list(TWINS), help="default: both")
    p.add_argument("--aspect", type=fractions.Fraction, default=fractions.Fraction(4, 3),
                   help="the anamorphic twin's pixel aspect (default: 4/3)")
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)

    for line in environment_lines():
        print(line)
    by_video = collections.defaultdict(list)
    for frame in read_a2d(args.root, args.split):
        by_video[frame.video_id].append(frame)
    videos = sorted(by_video)[:args.videos]
    ways = ["original"] + [f"{twin} twin, {how}" for twin in args.twins
                           for how in ("read as players show it (now)", "read as stored (before)")]
    scores = {way: EvaluationAccumulator() for way in ways}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        every = tuple(sorted({r.sentence for v in videos for f in by_video[v] for r in f.referrals}))
        predictor = load_predictor(make_run(os.path.join(work, "run"), every) if args.untrained else args.model)
        for video_id in videos:
            annotated = by_video[video_id]
            frames = read_video_frames(annotated[0].frames_path)
            width = frames.shape[2]
            sentences = sorted({r.sentence for f in annotated for r in f.referrals})
            segment = dict(queries=sentences, batch_size=args.batch_size)
            results = {"original": predict(predictor, frames, **segment)}
            if "anamorphic" in args.twins:
                twin = narrowed(frames, args.aspect)
                results["anamorphic twin, read as players show it (now)"] = predict(
                    predictor, twin, sample_aspect=args.aspect, **segment)
                results["anamorphic twin, read as stored (before)"] = predict(predictor, twin, sample_aspect=1,
                                                                               **segment)
            if "interlaced" in args.twins:
                twin = woven(frames)
                path = write_twin(twin, os.path.join(work, f"{video_id}.mp4"), "yuv444p",
                                  {"qp": "0", "x264-params": "interlaced=1"})
                results["interlaced twin, read as players show it (now)"] = predict(predictor, path, **segment)
                results["interlaced twin, read as stored (before)"] = predict(predictor, twin, **segment)
            if "hdr" in args.twins:
                signal = np.round(hdr_from_sdr(frames, "hlg") * 65535).astype(np.uint16)
                path = write_twin(signal, os.path.join(work, f"{video_id}.mov"), "yuv420p10le",
                                  {"x265-params": "log-level=error:crf=20"}, tags=(9, 9, 18))
                results["hdr twin, read as players show it (now)"] = predict(predictor, path, **segment)
                results["hdr twin, read as stored (before)"] = predict(predictor, stored_signal(path), **segment)
            for frame in annotated:
                truths = read_a2d_masks(frame.mask_path, [r.instance_id for r in frame.referrals])
                for referral, truth in zip(frame.referrals, truths):
                    for way, result in results.items():
                        mask = result[sentences.index(referral.sentence)].masks[frame.frame_number - 1]
                        scores[way].add(f"{video_id}/{frame.frame_number}", nearest_columns(mask, width), truth)
    samples, plural = len(scores["original"].ious()), "s" * (len(videos) != 1)
    print(f"model {args.model or 'untrained tiny preset'}; {args.root}, split {args.split}: {len(videos)} "
          f"video{plural}, {samples} samples; "
          f"{f'anamorphic pixels {args.aspect}; ' if 'anamorphic' in args.twins else ''}"
          f"{time.perf_counter() - began:.0f} s")
    for way in ways:
        summary = scores[way].summary()
        print(f"{way}: mean IoU {100 * summary['mean_iou']:.1f}, overall IoU {100 * summary['overall_iou']:.1f}")


if __name__ == "__main__":
    main()
