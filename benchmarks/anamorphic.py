"""What the model loses on an anamorphic video when it sees the frames as stored, and what square pixels give back
(`acga_tf.apps.predict.square_pixels`, docs/data.md#videos).

For each video of an A2D Sentences split (`acga demo`'s synthetic world, or the real dataset), it makes the video's
anamorphic twin: every frame narrowed to 1 / aspect of its width, whose pixels are `--aspect` (4/3: HDV's 1440 × 1080
shown 1920 × 1080), so that players show the twin as the original. It segments each annotated frame's sentences
three ways, through `acga_tf.apps.predict.predict` (frames in memory, so no codec stands between them):

- the original, square pixels;
- the twin as `acga predict` now reads it: the model sees square pixels, the masks are mapped back to the twin's
  stored size;
- the twin as it read it before: the model sees the narrowed frames (`sample_aspect=1`).

The twin's masks are widened back to the original's size (nearest column) and every mask is scored against the
annotation by the paper's protocol (`EvaluationAccumulator`, docs/evaluation.md#protocol): mean IoU (over samples)
and overall IoU.

    python benchmarks/anamorphic.py --model runs/demo/run --root runs/demo/a2d_sentences      # after `acga demo`
    python benchmarks/anamorphic.py --model runs/a2d --root a2d_sentences --videos 50 --aspect 32/27

`--untrained` uses an untrained tiny-preset run instead (the tests' smoke run: its figures mean nothing).
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import collections
import fractions
import time

import keras
import numpy as np
from hostinfo import environment_lines  # benchmarks/hostinfo.py
from PIL import Image

from acga_tf.apps.predict import predict
from acga_tf.apps.predictors import load_predictor
from acga_tf.data.a2d import read_a2d
from acga_tf.data.video import read_a2d_masks, read_video_frames
from acga_tf.data.vocab import Vocabulary
from acga_tf.models.acga import ACGA
from acga_tf.models.config import ACGAConfig
from acga_tf.models.metrics import EvaluationAccumulator
from acga_tf.training.artifacts import TrainedModel

WAYS = ("original, square pixels", "anamorphic, the model sees square pixels (now)",
        "anamorphic, the model sees the stored pixels (before)")


def narrowed(frames: np.ndarray, aspect: fractions.Fraction) -> np.ndarray:
    """uint8 (N, H, W, 3) → the anamorphic twin's stored frames (N, H, round(W / aspect), 3) (PIL's bilinear)."""
    width = max(1, round(frames.shape[2] / aspect))
    return np.stack([np.asarray(Image.fromarray(f).resize((width, f.shape[0]), Image.Resampling.BILINEAR))
                     for f in frames])


def widened(masks: np.ndarray, width: int) -> np.ndarray:
    """Masks (..., H, w) → (..., H, width), each column the nearest one's."""
    return masks[..., np.minimum(((np.arange(width) + 0.5) * masks.shape[-1] / width).astype(int), masks.shape[-1] - 1)]


def untrained(sentences: list[str]) -> TrainedModel:
    """An untrained tiny-preset model whose vocabulary covers `sentences`."""
    keras.utils.set_random_seed(0)
    model = ACGA(ACGAConfig.preset("tiny"))
    vocabulary = Vocabulary.build(sentences)
    matrix, _ = vocabulary.embedding_matrix(dim=model.config.word_dim, seed=0)
    return TrainedModel(model=model, config=model.config, vocabulary=vocabulary, embeddings=matrix,
                        directory="untrained tiny preset")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", help="a run directory, .keras file or SavedModel (`load_predictor`)")
    model.add_argument("--untrained", action="store_true", help="an untrained tiny-preset model (a smoke test)")
    p.add_argument("--root", required=True, help="an a2d_sentences/ folder (A2D Sentences' layout)")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--videos", type=int, default=40, help="videos of the split, in name order (default: 40)")
    p.add_argument("--aspect", type=fractions.Fraction, default=fractions.Fraction(4, 3),
                   help="the twin's pixel aspect (default: 4/3)")
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args(argv)

    for line in environment_lines():
        print(line)
    by_video = collections.defaultdict(list)
    for frame in read_a2d(args.root, args.split):
        by_video[frame.video_id].append(frame)
    videos = sorted(by_video)[:args.videos]
    predictor = load_predictor(untrained(sorted({r.sentence for v in videos for f in by_video[v] for r in f.referrals}))
                               if args.untrained else args.model)
    scores = {way: EvaluationAccumulator() for way in WAYS}
    began, width, stored = time.perf_counter(), None, None
    for video_id in videos:
        annotated = by_video[video_id]
        frames = read_video_frames(annotated[0].frames_path)
        twin = narrowed(frames, args.aspect)
        width, stored = frames.shape[2], twin.shape[2]
        sentences = sorted({r.sentence for f in annotated for r in f.referrals})
        results = {
            WAYS[0]: predict(predictor, frames, queries=sentences, batch_size=args.batch_size),
            WAYS[1]: predict(predictor, twin, queries=sentences, batch_size=args.batch_size,
                             sample_aspect=args.aspect),
            WAYS[2]: predict(predictor, twin, queries=sentences, batch_size=args.batch_size, sample_aspect=1)}
        for frame in annotated:
            truths = read_a2d_masks(frame.mask_path, [r.instance_id for r in frame.referrals])
            for referral, truth in zip(frame.referrals, truths):
                for way, result in results.items():
                    mask = result[sentences.index(referral.sentence)].masks[frame.frame_number - 1]
                    scores[way].add(f"{video_id}/{frame.frame_number}", widened(mask, width), truth)
    samples, plural = len(scores[WAYS[0]].ious()), "s" * (len(videos) != 1)
    print(f"model {args.model or 'untrained tiny preset'}; {args.root}, split {args.split}: {len(videos)} "
          f"video{plural}, {samples} samples; twin's pixel aspect {args.aspect} (the last video stored {stored} "
          f"pixels wide, shown {width}); {time.perf_counter() - began:.0f} s")
    for way in WAYS:
        summary = scores[way].summary()
        print(f"{way}: mean IoU {100 * summary['mean_iou']:.1f}, overall IoU {100 * summary['overall_iou']:.1f}")


if __name__ == "__main__":
    main()
