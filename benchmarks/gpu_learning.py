"""Does ACGA learn as well in mixed_bfloat16 and mixed_float16 as in float32? Trains the same initial weights under
each policy on in-memory synthetic clips and prints the loss and IoU curves, under JAX.

    KERAS_BACKEND=jax python benchmarks/gpu_learning.py                  # small preset, 300 steps, on the GPU
    KERAS_BACKEND=jax python benchmarks/gpu_learning.py --device cpu --preset tiny --steps 3 --image-size 32
                                                                        # smoke run: checks it works only

Imports no TensorFlow (like benchmarks/gpu.py; the last line says whether it was imported, exit 1 if so).

The clips (a numpy generator here, no video files): two actors per clip, each a coloured square, circle or triangle
moving in a straight line over a noisy background; the two differ in colour and in shape, and the sentence names
one of them ("the red circle"), so the model must read it. Word vectors are random, fixed per word (seed 0). The
target is the named actor's mask on the clip's centre frame (docs/data.md#pipeline) at S, S/4 and S/16.

Each policy trains a model built with `dtype=policy` from the same float32 initial weights, with
`SegmentationTask.compile`'s defaults (Adam, the paper's loss; mixed_float16 with its loss-scale optimizer) at
`--learning-rate`, on the same batches. Every `--eval-every` steps the curves get the mean training loss since
the last point and the mean IoU (σ(logit) > 0.5 against the mask, per clip) over `--eval-clips` held-out clips.
At the end each mixed policy's final loss and IoU are compared with float32's: "agree" when both are within 10%
(relative) of float32's; a line says so first when float32 itself did not learn (final IoU below 0.2). The same
comparison follows on the mean of the last 3 rows (the last 100 steps at the session's settings): one run's IoU moves
a lot from row to row (on the H200, float32's read 0.241, 0.171 and 0.332 at steps 200, 250 and 300).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from gpu import compile_for_training  # benchmarks/gpu.py
from hostinfo import add_trainable_from, jax_start, tensorflow_free_exit  # benchmarks/hostinfo.py

PRESET_NAMES = ("tiny", "small", "demo", "paper")  # ACGAConfig.preset names
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
COLOURS = {"red": (1.0, -0.8, -0.8), "green": (-0.8, 1.0, -0.8), "blue": (-0.8, -0.8, 1.0), "yellow": (1.0, 1.0, -0.8)}
SHAPES = ("square", "circle", "triangle")
AGREEMENT = 0.10  # relative difference to float32 within which a mixed policy "agrees"
SMOOTHED_ROWS = 3  # the rows averaged for the second comparison
LEARNED_IOU = 0.2  # float32's final held-out IoU below this: it did not learn, a comparison would be empty


class SyntheticClips:
    """Clips of two moving coloured shapes and a sentence naming one: `batch(rng, n) -> (inputs, targets)`."""

    def __init__(self, config, seed: int = 0):
        self.config = config
        words = ["the", *COLOURS, *SHAPES]
        vectors = np.random.default_rng(seed).standard_normal((len(words), config.word_dim)).astype("float32")
        self.vectors = dict(zip(words, vectors))  # random, fixed per word

    def _mask(self, shape: str, cy: float, cx: float, r: float) -> np.ndarray:
        s = self.config.image_size
        yy, xx = np.mgrid[0:s, 0:s].astype("float32")
        if shape == "square":
            return (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
        if shape == "circle":
            return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        return (yy - cy <= r) & (yy - cy >= -r) & (np.abs(xx - cx) <= (yy - cy + r) / 2)  # triangle, apex up

    def clip(self, rng: np.random.Generator):
        c = self.config
        s, t = c.image_size, c.clip_length
        colours = rng.choice(list(COLOURS), 2, replace=False)
        shapes = rng.choice(SHAPES, 2, replace=False)
        video = rng.normal(0.0, 0.2, (t, s, s, 3)).astype("float32")
        r = s / 6  # actors a third of the frame wide
        masks = []
        for colour, shape in zip(colours, shapes):
            start, velocity = rng.uniform(r, s - r, 2), rng.uniform(-s / 4, s / 4, 2) / t
            frames = []
            for i in range(t):
                cy, cx = np.clip(start + velocity * i, r, s - r)
                mask = self._mask(shape, cy, cx, r)
                video[i][mask] = COLOURS[colour]
                frames.append(mask)
            masks.append(frames[t // 2])  # the centre frame's mask
        target = int(rng.integers(2))
        occluded = masks[target] & ~masks[1] if target == 0 else masks[target]  # actor 1 is drawn over actor 0
        words = np.zeros((c.sentence_length, c.word_dim), "float32")
        for i, word in enumerate(("the", colours[target], shapes[target])):
            words[i] = self.vectors[word]
        return np.clip(video, -1, 1), words, occluded.astype("float32")[..., None]

    def batch(self, rng: np.random.Generator, n: int):
        clips = [self.clip(rng) for _ in range(n)]
        mask = np.stack([m for _, _, m in clips])
        x = {"video": np.stack([v for v, _, _ in clips]), "words": np.stack([w for _, w, _ in clips])}
        y = {"logits": mask, "logits_res2": _pool(mask, 4), "logits_res1": _pool(mask, 16)}
        return x, y


def _pool(mask: np.ndarray, k: int) -> np.ndarray:
    """`(B, S, S, 1)` → `(B, S/k, S/k, 1)`: a cell is foreground when at least half its pixels are."""
    b, s, _, _ = mask.shape
    return (mask.reshape(b, s // k, k, s // k, k, 1).mean(axis=(2, 4)) >= 0.5).astype("float32")


def mean_iou(logits: np.ndarray, mask: np.ndarray) -> float:
    pred = logits > 0.0  # σ(logit) > 0.5
    truth = mask > 0.5
    inter = (pred & truth).sum(axis=(1, 2, 3))
    union = (pred | truth).sum(axis=(1, 2, 3))
    return float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="small", choices=PRESET_NAMES, help="default: small (T=8, S=128); "
                        "demo is the tiny preset at S=128 with attention init std 0.2")
    parser.add_argument("--device", default="gpu", choices=("cpu", "gpu"), help="default: gpu")
    parser.add_argument("--steps", type=int, default=300, help="training steps per policy (default 300)")
    parser.add_argument("--batch", type=int, default=8, help="clips per step (default 8)")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="Adam's (default 2e-3, the tiny "
                        "experiment's; docs/training.md)")
    parser.add_argument("--eval-every", type=int, default=None, help="steps between curve points (default steps/10)")
    parser.add_argument("--eval-clips", type=int, default=32, help="held-out clips for the IoU (default 32)")
    parser.add_argument("--policies", default=",".join(POLICIES), help=f"default: {','.join(POLICIES)}")
    parser.add_argument("--image-size", type=int, default=None, help="override the preset's S (a multiple of 16)")
    add_trainable_from(parser)
    parser.add_argument("--attention-init-std", type=float, default=0.2,
                        help="default 0.2, the demo's (the paper's 0.02 learns far more slowly: README); "
                             "0 keeps the preset's")
    args = parser.parse_args(argv)
    for name in ("steps", "batch", "eval_clips"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)}: must be positive")
    args.eval_every = args.eval_every or max(1, args.steps // 10)
    args.attention_init_std = args.attention_init_std or None  # 0: the preset's own
    args.policies = tuple(args.policies.split(","))
    if set(args.policies) - set(POLICIES) or "float32" not in args.policies:
        parser.error(f"--policies {','.join(args.policies)}: some of {', '.join(POLICIES)}, float32 included")
    return args


class TrainingBatches:
    """The same `steps` training batches for every policy (seed 1): made once and kept when they take at most
    `KEEP_BYTES` (the small preset's 300 batches of 8: about 1 GB), else made again for each policy."""

    KEEP_BYTES = 2**31

    def __init__(self, clips, steps: int, batch: int):
        c = clips.config
        self.clips, self.steps, self.batch = clips, steps, batch
        clip_bytes = 4 * c.clip_length * c.image_size**2 * (c.input_channels + 1)
        self.kept = [] if steps * batch * clip_bytes <= self.KEEP_BYTES else None

    def __iter__(self):
        if self.kept and len(self.kept) == self.steps:
            yield from self.kept
            return
        rng = np.random.default_rng(1)
        for _ in range(self.steps):
            batch = self.clips.batch(rng, self.batch)
            if self.kept is not None:
                self.kept.append(batch)
            yield batch


def train(policy, config, weights, batches, args, device, held_out):
    """Trains one policy, printing each curve row `(step, mean training loss since the last row, held-out mean IoU)`
    as it is made (a run cut off keeps its rows); returns the curve."""
    import jax

    from acga_tf.models.acga import ACGA

    model = ACGA(config, dtype=policy)
    model.set_weights(weights)
    compile_for_training(model, device, learning_rate=args.learning_rate)
    print(f"{policy} (optimizer {type(model.optimizer).__name__}): step, loss, IoU:", flush=True)
    curve, losses, start, first = [], [], time.perf_counter(), 0.0
    for step, batch in enumerate(batches, 1):
        x, y = (jax.device_put(a, device) for a in batch)
        losses.append(float(model.train_on_batch(x, y, return_dict=True)["loss"]))
        first = first or time.perf_counter() - start
        if step % args.eval_every == 0 or step == args.steps:
            logits = np.asarray(model.predict_on_batch(held_out[0])["logits"])
            curve.append((step, float(np.mean(losses)), mean_iou(logits, held_out[1]["logits"])))
            print(f"  {policy:<15} step {step:>5}  loss {curve[-1][1]:.4f}  IoU {curve[-1][2]:.4f}", flush=True)
            losses = []
    print(f"{policy}: {args.steps} steps in {time.perf_counter() - start:.1f} s (the first, compiling, {first:.1f} s)")
    return curve


def main(argv=None) -> int:
    args = parse_args(argv)
    device, config = jax_start(args, "benchmarks/gpu_learning.py", f"steps={args.steps} batch={args.batch} "
                               f"learning_rate={args.learning_rate:g}")
    import jax

    from acga_tf.models.acga import ACGA

    clips = SyntheticClips(config)
    held_out = clips.batch(np.random.default_rng(2), args.eval_clips)
    batches = TrainingBatches(clips, args.steps, args.batch)
    results = {}
    with jax.default_device(device):
        weights = ACGA(config).get_weights()  # one initialisation for every policy
        for policy in args.policies:
            results[policy] = train(policy, config, weights, batches, args, device, held_out)
    reference = results["float32"][-1]
    if reference[2] < LEARNED_IOU:
        print(f"float32 did not learn (final IoU {reference[2]:.4f} < {LEARNED_IOU}): the comparison below says "
              "nothing about learning; train longer")
    last = min(SMOOTHED_ROWS, len(results["float32"]))
    for label, rows in (("final", 1), (f"mean of the last {last} rows,", last)):
        if label != "final" and last < 2:
            break
        reference = np.mean([row[1:] for row in results["float32"][-rows:]], axis=0)
        for policy in args.policies:
            if policy == "float32":
                continue
            loss, iou = np.mean([row[1:] for row in results[policy][-rows:]], axis=0)
            d_loss = abs(loss - reference[0]) / max(abs(reference[0]), 1e-12)
            d_iou = abs(iou - reference[1]) / max(abs(reference[1]), 1e-12)
            verdict = "agree" if max(d_loss, d_iou) <= AGREEMENT else "disagree"
            print(f"{label} {policy} vs float32: loss {loss:.4f} vs {reference[0]:.4f} ({d_loss:.1%}), IoU "
                  f"{iou:.4f} vs {reference[1]:.4f} ({d_iou:.1%}): {verdict} within {AGREEMENT:.0%}")
    return tensorflow_free_exit()


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    raise SystemExit(main())
