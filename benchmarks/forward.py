"""Forward-pass speed of ACGA: the Keras model against the same computation written as raw TF ops.

    python benchmarks/forward.py                    # paper preset, batch 1, CPU, from pixels
    python benchmarks/forward.py --preset small --runs 10 --bfloat16
    python benchmarks/forward.py --device GPU --xla --bfloat16
    python benchmarks/forward.py --preset tiny --runs 1 --bfloat16   # smoke run (seconds): checks it works only
    python benchmarks/forward.py --queries 1,4,16     # also the multi-query cost (default; "0" skips it)

Prints the median wall time of `tf.function(model)` and of one `tf.function` of raw TF ops (conv3d,
batch_normalization, max_pool3d, einsum, conv2d, conv2d_transpose, resize) over the same variables, their ratio (Keras
/ raw, measured in one run, interleaved), the Keras model's median with its I3D BatchNorms in the form the device does
not choose (separate on a CPU, where the model folds them into the convs; interleaved too), and the FLOPs per clip
counted from the static shapes of every convolution and matrix product (2 × multiply-adds). The two outputs are
checked to agree (exit 1 if not, before any timing). The backend, the device the outputs were computed on and the host
(CPU model, usable cores) are printed with the figures. With `--bfloat16` the mixed_bfloat16 model's median is printed
as a speed-up over float32, or, where it is slower on the host, as "slower than float32". The multi-query cost is the
median time of `ACGA.segment_queries` (one clip, Q sentences, the video encoder run once) for each Q of `--queries`,
as a ratio to one query (the target: at most 1.1x one query at Q = 16).
"""

from __future__ import annotations

import acga_tf  # noqa: F401  # isort: skip  (first, before TensorFlow loads: it turns on oneDNN, docs/training.md#cpu)
import argparse
import math
import statistics
import time

import numpy as np
import tensorflow as tf
from hostinfo import environment_lines, require_device  # benchmarks/hostinfo.py

from acga_tf import ACGAConfig
from acga_tf.models.acga import ACGA

PRESET_NAMES = ("tiny", "small", "paper")  # ACGAConfig.preset names
# Keras and raw logits must agree to this share of max |logit| (float32 differs ~1e-6; TF32 matmuls on a GPU more).
MAX_RELATIVE_DIFFERENCE = 1e-2


class RawACGA:
    """ACGA's forward pass as raw TF ops over an `ACGA` model's variables (single stream, default switches)."""

    def __init__(self, model: ACGA):
        c = model.config
        if len(model.streams) != 1 or not (c.vision_guided_attention and c.language_guided_attention) \
                or c.attention != "acga" or c.text_encoder != "conv1d" or c.mask_padding:
            raise ValueError("RawACGA covers the paper configuration only")
        self.model, self.config = model, c
        self.flops = 0
        from acga_tf.models.coords import coordinate_map

        s16 = c.image_size // 16
        self.coords = {k: tf.constant(coordinate_map(k, k)[None]) for k in (s16, s16 * 4, s16 * 16)}

    def _count(self, n: int) -> None:
        self.flops += int(n)

    def _unit(self, unit, x):
        k = unit.conv_3d.kernel
        y = tf.nn.conv3d(x, k, [1, *unit.strides, 1], "SAME")
        self._count(2 * np.prod(y.shape[1:]) * np.prod(k.shape[:-1]))
        bn = unit.batch_norm
        return tf.nn.relu(tf.nn.batch_normalization(y, bn.moving_mean, bn.moving_variance, bn.beta,
                                                    bn.gamma if bn.scale else None, bn.epsilon))

    def _pool(self, layer, x):
        return tf.nn.max_pool3d(x, [1, *layer.pool_size, 1], [1, *layer.strides, 1], "SAME")

    def _dense(self, layer, x):
        self._count(2 * np.prod(x.shape[1:-1]) * np.prod(layer.kernel.shape))
        return tf.einsum("...i,io->...o", x, layer.kernel) + layer.bias

    def _conv2d(self, layer, x, relu=False):
        k = layer.kernel
        y = tf.nn.conv2d(x, k, 1, "SAME") + layer.bias
        self._count(2 * np.prod(y.shape[1:]) * np.prod(k.shape[:-1]))
        return tf.nn.relu(y) if relu else y

    def _deconv(self, layer, x):
        k = layer.kernel  # (8, 8, out, in)
        b, h, w, _ = x.shape
        y = tf.nn.conv2d_transpose(x, k, [b, h * 4, w * 4, k.shape[2]], 4, "SAME") + layer.bias
        self._count(2 * np.prod(x.shape[1:]) * np.prod(k.shape[:-1]))
        return y

    def _branch(self, branch, x):
        return self._conv2d(branch.conv_4, self._conv2d(branch.conv_2, self._conv2d(branch.conv_0, x, True), True))

    def __call__(self, video, words):
        self.flops = 0
        m = self.model
        x = video
        for name, layer in m.stage("video_encoder").blocks.items():
            if name.startswith("MaxPool"):
                x = self._pool(layer, x)
            elif name.startswith("Conv3d"):
                x = self._unit(layer, x)
            else:
                b0 = self._unit(layer.branch_0.units[0], x)
                b1 = self._unit(layer.branch_1.units[1], self._unit(layer.branch_1.units[0], x))
                b2 = self._unit(layer.branch_2.units[1], self._unit(layer.branch_2.units[0], x))
                b3 = self._unit(layer.branch_3.units[0], tf.nn.max_pool3d(x, [1, 3, 3, 3, 1], [1] * 5, "SAME"))
                x = tf.concat([b0, b1, b2, b3], -1)
        feature = tf.math.l2_normalize(tf.reduce_mean(x, 1), -1, epsilon=1e-24)  # (B, h, w, 832)
        batch, h, w, cv = feature.shape
        conv = m.stage("text_encoder").encoder
        text = tf.tanh(tf.nn.conv1d(words, conv.kernel, 1, "SAME") + conv.bias)  # (B, L, 300)
        self._count(2 * np.prod(text.shape[1:]) * np.prod(conv.kernel.shape[:-1]))
        att = m.stage("attention")
        v = tf.reshape(tf.concat([feature, tf.tile(self.coords[h], [batch, 1, 1, 1])], -1), [batch, h * w, cv + 8])
        dt = text.shape[-1]
        scores = tf.einsum("bnd,bld->bnl", self._dense(att.video_reduce, v), text) / math.sqrt(dt)
        a = tf.nn.softmax(scores, -1)
        attended_text = tf.einsum("bnl,bld->bnd", a, text)
        g = self._dense(att.txt_increase, tf.reduce_max(text, 1))[:, None]
        k = self._dense(att.video_linear_k, v) * g
        q = self._dense(att.video_linear_q, v) * g
        u = self._dense(att.video_linear_v, v)
        bmat = tf.nn.softmax(tf.einsum("bic,bjc->bij", k, q) / math.sqrt(cv + 8), -1)
        attended_video = tf.einsum("bij,bjc->bic", bmat, u)[..., :cv]
        n, length = h * w, text.shape[1]
        self._count(2 * n * length * dt * 2 + 2 * n * n * (cv + 8) * 2)
        attended_video = tf.reshape(attended_video, [batch, h, w, cv])
        attended_text = tf.reshape(attended_text, [batch, h, w, dt])
        dec = m.stage("decoder")
        s2, s3 = h * 4, h * 16
        r1 = self._branch(dec.conv_mask_small, tf.concat([attended_video, attended_text,
                                                          tf.tile(self.coords[h], [batch, 1, 1, 1])], -1))
        med = self._conv2d(dec.deconv_small.conv_1, self._deconv(dec.deconv_small.deconv_0, attended_video))
        r2 = self._branch(dec.conv_mask_medium, tf.concat([med, tf.image.resize(attended_text, [s2, s2]),
                                                           tf.tile(self.coords[s2], [batch, 1, 1, 1])], -1))
        large = self._conv2d(dec.deconv_medium.conv_1, self._deconv(dec.deconv_medium.deconv_0, med))
        r3 = self._branch(dec.conv_mask_large, tf.concat([large, tf.image.resize(attended_text, [s3, s3]),
                                                          tf.tile(self.coords[s3], [batch, 1, 1, 1])], -1))
        fused = tf.concat([tf.image.resize(r1, [s3, s3]), tf.image.resize(r2, [s3, s3]), r3], -1)
        return self._conv2d(dec.conv_fusion, fused)


def _median_time(fn, inputs, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn(*inputs)
        np.asarray(out)  # wait for the result
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="paper", choices=PRESET_NAMES,
                        help="model size (default: paper, T=16 S=512; tiny and small are for quick checks)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each version (after one warm-up)")
    parser.add_argument("--device", default="CPU", choices=("CPU", "GPU"), help="default: CPU")
    parser.add_argument("--bfloat16", action="store_true", help="also time the model under mixed_bfloat16")
    parser.add_argument("--xla", action="store_true", help="compile both functions with XLA (jit_compile)")
    parser.add_argument("--queries", default="1,4,16",
                        help="sentence counts for the multi-query cost on one clip (default 1,4,16; 0: skip)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.batch < 1:
        parser.error(f"--runs {args.runs} and --batch {args.batch} must be positive")
    given = args.queries
    try:
        args.queries = () if given == "0" else tuple(int(q) for q in given.split(","))
    except ValueError:
        args.queries = (0,)
    if any(q < 1 for q in args.queries) or (args.queries and args.queries[0] != 1):  # (as typed: it showed "(0,)")
        parser.error(f"--queries {given!r}: comma-separated positive counts starting with 1, e.g. 1,4,16")

    config = ACGAConfig.preset(args.preset)
    device = require_device(args.device)  # without it, TF would run a GPU request on the CPU silently
    rng = np.random.default_rng(0)
    with tf.device(f"/{device}"):
        video = tf.constant(rng.uniform(-1, 1, (args.batch, config.clip_length, config.image_size, config.image_size,
                                                config.input_channels)).astype("float32"))
        words = tf.constant(rng.standard_normal((args.batch, config.sentence_length, config.word_dim))
                            .astype("float32"))
        model = ACGA(config)
        raw = RawACGA(model)
        keras_fn = tf.function(lambda v, w: model({"video": v, "words": w}, training=False)["logits"],
                               jit_compile=args.xla)
        raw_fn = tf.function(raw.__call__, jit_compile=args.xla)
        keras_out, raw_out = keras_fn(video, words), raw_fn(video, words)  # trace + warm up
        ran_on = {t.device.split("device:")[-1] for t in (keras_out, raw_out)}
        if ran_on != {device}:
            raise SystemExit(f"error: asked for {device}, the outputs are on {sorted(ran_on)}")
        flops = raw.flops
        diff = float(tf.reduce_max(tf.abs(keras_out - raw_out)))
        relative = diff / max(float(tf.reduce_max(tf.abs(raw_out))), 1e-30)
        print(f"preset={args.preset} T={config.clip_length} S={config.image_size} batch={args.batch} "
              f"device={device} xla={args.xla} runs={args.runs}")
        for line in environment_lines(device):
            print(line)
        # (`RawACGA` counts a clip's: its shapes without the batch axis; divided by the batch again, a batch of B gave
        # B times too few FLOPs a clip and GFLOP/s: a benchmark reviewer's)
        print(f"FLOPs per clip: {flops / 1e9:.4g} GFLOP (convolutions and matrix products, 2 x MACs)")
        print(f"max |keras - raw| on logits: {diff:.2e} ({relative:.1e} of max |logit|)")
        if not relative <= MAX_RELATIVE_DIFFERENCE:
            raise SystemExit(f"error: the Keras model and the raw ops disagree (more than {MAX_RELATIVE_DIFFERENCE:g} "
                             "of max |logit|): their times would not compare the same computation")
        other_fn, folded = _other_batch_norm_form(model, args.xla, video, words)
        other_fn(video, words)  # warm up
        mixed_fn = None
        if args.bfloat16:  # built and warmed up before the timed runs, which it joins (interleaved, as the others)
            mixed = ACGA(config, dtype="mixed_bfloat16")
            mixed.set_weights(model.get_weights())
            mixed_fn = tf.function(lambda v, w: mixed({"video": v, "words": w}, training=False)["logits"],
                                   jit_compile=args.xla)
            mixed_out = mixed_fn(video, words)
        keras_times, raw_times, other_times, mixed_times = [], [], [], []
        for _ in range(args.runs):  # interleaved, so machine noise hits them alike
            keras_times.append(_median_time(keras_fn, (video, words), 1))
            raw_times.append(_median_time(raw_fn, (video, words), 1))
            other_times.append(_median_time(other_fn, (video, words), 1))
            if mixed_fn is not None:
                mixed_times.append(_median_time(mixed_fn, (video, words), 1))
        k_med, r_med = statistics.median(keras_times), statistics.median(raw_times)
        o_med = statistics.median(other_times)
        clip_flops = flops * args.batch  # a batch's
        # The Keras decoder skips the resized-text concatenation (decoder.py), so its GFLOP/s is per spec FLOP.
        print(f"keras model  median {k_med:.4g} s  ({clip_flops / k_med / 1e9:.0f} spec GFLOP/s)  runs: "
              + ", ".join(f"{t:.4g}" for t in keras_times))
        print(f"raw TF ops   median {r_med:.4g} s  ({clip_flops / r_med / 1e9:.0f} GFLOP/s)  runs: "
              + ", ".join(f"{t:.4g}" for t in raw_times))
        print(f"ratio keras/raw: {k_med / r_med:.3f}")
        print(f"keras model with the I3D BatchNorms {'separate' if folded else 'folded'}: median {o_med:.4g} s; "
              f"this device's choice ({'folded into the convs' if folded else 'separate'}) runs at "
              f"{o_med / k_med:.2f}x its speed")
        if mixed_fn is not None:
            b_med = statistics.median(mixed_times)
            agree = float(tf.reduce_mean(tf.cast((mixed_out > 0) == (keras_out > 0), tf.float32)))
            versus = (f"speed-up {k_med / b_med:.2f}x over float32" if b_med < k_med else
                      f"slower than float32 on this host: {k_med / b_med:.2f}x float32's speed")
            print(f"keras mixed_bfloat16 median {b_med:.4g} s  ({versus}; "
                  f"sign agreement of logits with float32: {agree:.4f})")
        if args.queries:
            _multi_query(model, video[:1], config, args)
    return 0


def _other_batch_norm_form(model: ACGA, xla: bool, video, words):
    """`(tf.function, folded)`: the model's forward with each I3D unit's BatchNorm in the form the device does not
    choose (separate where the model folds it into the conv, docs/model.md#video-encoder), traced now on `video`
    and `words`; and whether the device's own choice is the folded form."""
    from acga_tf.models.video_encoder import i3d_units

    units = i3d_units(model)
    chosen = units[0].fold_batch_norm
    fn = tf.function(lambda v, w: model({"video": v, "words": w}, training=False)["logits"], jit_compile=xla)
    for unit in units:  # read while tracing
        unit.fold_batch_norm = not chosen
    try:
        fn.get_concrete_function(video, words)
    finally:
        for unit in units:
            unit.fold_batch_norm = chosen
    return fn, chosen


def _multi_query(model: ACGA, video, config, args) -> None:
    """Median time of `segment_queries` on one clip with Q sentences, for each Q, and its ratio to Q = 1."""
    rng = np.random.default_rng(1)
    queries_fn = tf.function(lambda v, w: model.segment_queries(v, w)["logits"], jit_compile=args.xla)
    medians = {}
    for q in args.queries:
        words = tf.constant(rng.standard_normal((q, config.sentence_length, config.word_dim)).astype("float32"))
        queries_fn(video, words)  # trace + warm up
        medians[q] = _median_time(queries_fn, (video, words), args.runs)
    print("multi-query (segment_queries, one clip): " + ", ".join(
        f"{q} {'query' if q == 1 else 'queries'} {m:.4g} s ({m / medians[1]:.2f}x one query)"
        for q, m in medians.items()))


if __name__ == "__main__":
    raise SystemExit(main())
