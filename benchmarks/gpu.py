"""ACGA's throughput on one accelerator under JAX: forward and training clips/s in float32, mixed_bfloat16 and
mixed_float16, against the device's own bfloat16 matrix-multiply rate.

    KERAS_BACKEND=jax python benchmarks/gpu.py                      # paper preset on the GPU
    KERAS_BACKEND=jax python benchmarks/gpu.py --device cpu --preset tiny --batches 1,2 --train-batches 2 --runs 1
                                                                   # smoke run (seconds): checks it works only

Runs under `KERAS_BACKEND=jax` only, and imports no TensorFlow (a GPU machine may have JAX and CUDA but no
TensorFlow): the model comes from `acga_tf.models` (TensorFlow-free), the inputs are numpy arrays put on the device.
The last line says whether `tensorflow` was imported (exit 1 if it was).

Printed, for each dtype policy:
- forward (inference) clips/s at each `--batches` size: one `jax.jit` of `model.stateless_call`, median of `--runs`;
- training clips/s at each `--train-batches` size: `model.train_on_batch` (Keras' jitted train step, Adam, the
  paper's loss; mixed_float16 with its loss-scale optimizer; the training state committed to the device first, so
  that it compiles once), median of `--runs` after one warm-up step; each size's training right after its forward,
  in the order of `--batches` then `--train-batches`, so that a run cut off keeps the first sizes' figures;
- the fraction of the device's bfloat16 matmul rate each reaches.
FLOPs per clip are those of the convolutions and matrix products, 2 per multiply-add, counted on the jaxpr (the
same on every backend; XLA's cost analysis leaves out cuDNN's convolutions on a GPU; a transposed convolution's
multiplies by the zeros of its dilated input are not counted), of the forward and of the forward + backward
(`jax.value_and_grad` of the loss over the trainable weights) at the first batch size, divided by it, in the first
policy of `--policies` (the same operations in every policy). The bfloat16 matmul rate is 2·n³ / time of an n×n
by n×n bfloat16 product (`--matmul-size`), timed in the same run. Peak device memory is
`device.memory_stats()["peak_bytes_in_use"]` (the process's peak so far, read after each figure; "n/a" where the
device has no memory statistics, e.g. the CPU). Each figure also says how many programs JAX lowered (compiled or
fetched from its compilation cache) in its first call and in its timed calls: a figure is a steady state only with
none in the timed calls.
`--from-features` also times the training step from cached features (`acga train --feature-cache`): the model cut at
its first trainable I3D block (`split_model`), inputs of the frozen blocks' output shape; its FLOPs counted likewise.
`--skip-stage` times variants with one stage left out (inference): the video encoder replaced by zeros of its
output's shape, or the decoder by the attention's output, to see where the time goes; each variant's FLOPs (counted as
above) are printed beside it, so a stage's share of the time can be read against its share of the work.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np
from hostinfo import add_trainable_from, jax_start, tensorflow_free_exit  # benchmarks/hostinfo.py

PRESET_NAMES = ("tiny", "small", "paper")  # ACGAConfig.preset names
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def _sizes(text: str, flag: str, parser) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        parser.error(f"{flag} {text!r}: expected comma-separated positive integers, e.g. 1,8,32")
    if not sizes or min(sizes) < 1:
        parser.error(f"{flag} {text!r}: expected comma-separated positive integers, e.g. 1,8,32")
    return sizes


def add_model_arguments(parser, *, one_batch: bool = False) -> None:
    """`--preset` and `--device`, which every JAX benchmark takes; with `one_batch`, also `--batch` (32) and
    `--policy` (mixed_bfloat16), for the scripts that look at one program at one size (gpu_profile.py, gpu_stem.py)."""
    parser.add_argument("--preset", default="paper", choices=PRESET_NAMES, help="default: paper (T=16, S=512)")
    parser.add_argument("--device", default="gpu", choices=("cpu", "gpu"), help="default: gpu")
    if one_batch:
        parser.add_argument("--batch", type=int, default=32, help="clips per call (default 32)")
        parser.add_argument("--policy", default="mixed_bfloat16", help="dtype policy (default mixed_bfloat16)")


# `--upsample`'s forms: (_Upsample.sub_pixel, _Upsample.sub_pixel_patches) but for "default", the model's own
UPSAMPLE_FORMS = ("default", "transposed", "sub-pixel", "sub-pixel-patches")

# `--stem`'s forms of the I3D stem: (Unit3D.fold_time, Unit3D.space_to_depth, Unit3D.paired_frames), as gpu_stem.py
# names them
STEM_FORMS = {"3d": (False, False, False), "folded": (True, False, False), "space-to-depth": (True, True, False),
              "space-to-depth-pairs": (True, True, True)}


def add_form_arguments(parser) -> None:
    """`--stem`, `--upsample`, `--mask-logits`, `--pool` and `--batch-norm`: the forms of operations in the whole
    model (`with_forms`)."""
    parser.add_argument("--stem", default="default", choices=("default",) + tuple(STEM_FORMS),
                        help="the I3D stem's form: the model's own choice for the device (folded with space to depth "
                             "on a GPU, 3D on a CPU; docs/model.md#video-encoder) or one of the others (default: "
                             "default; benchmarks/gpu_stem.py times them)")
    parser.add_argument("--upsample", default="default", choices=UPSAMPLE_FORMS,
                        help="the decoder's 8x8 stride-4 transposed convolutions: the model's own choice for the "
                             "device (sub-pixel on a GPU: one 2x2 convolution with a filter per output phase, "
                             "interleaved; transposed on a CPU; docs/model.md#decoder), either form, or the "
                             "sub-pixel form with its 2x2 convolution as one matrix product over 2x2 patches "
                             "(sub-pixel-patches) (default: default)")
    parser.add_argument("--mask-logits", default="default", choices=("default", "conv", "product"),
                        help="the mask branches' last layer (1x1 convolution to one channel): the model's own form "
                             "(conv) or a matrix product over the channels (product) (default: default)")
    parser.add_argument("--pool", default="default", choices=("default", "3d", "separable"),
                        help="I3D's max-pools: the model's own form (separable: one 1-D pool per axis, "
                             "docs/model.md#video-encoder) or Keras' 3-D pool (default: default)")
    parser.add_argument("--batch-norm", default="default", choices=("default", "folded", "separate"),
                        help="the I3D units' BatchNorm where it uses its moving statistics: the model's own choice "
                             "for the device (separate on a GPU, folded into the conv on a CPU; docs/model.md#video-"
                             "encoder), folded or separate (default: default)")


def with_forms(model, args):
    """`model`, its I3D stem in the form `args.stem` says, its units' BatchNorm as `args.batch_norm` says, its
    max-pools as `args.pool` says, its decoder's transposed convolutions as `args.upsample` says and its mask
    branches' last layer as `args.mask_logits` says (each read when the model is traced)."""
    from acga_tf.models.decoder import mask_branches, upsamplers
    from acga_tf.models.video_encoder import i3d_units, max_pools

    if args.batch_norm != "default":
        for unit in i3d_units(model):  # read when the model is traced
            unit.fold_batch_norm = args.batch_norm == "folded"
    if args.stem != "default":
        stem = model.stage("video_encoder").blocks["Conv3d_1a_7x7"]
        stem.fold_time, stem.space_to_depth, stem.paired_frames = STEM_FORMS[args.stem]
    if args.pool != "default":
        for layer in max_pools(model):
            layer.separable = args.pool == "separable"
    if args.upsample != "default":
        for layer in upsamplers(model):
            layer.sub_pixel = args.upsample.startswith("sub-pixel")
            layer.sub_pixel_patches = args.upsample == "sub-pixel-patches"
    if args.mask_logits != "default":
        for layer in mask_branches(model):
            layer.logits_as_product = args.mask_logits == "product"
    return model


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(parser)
    add_form_arguments(parser)
    parser.add_argument("--batches", default="1,8,32", help="forward batch sizes (default 1,8,32)")
    parser.add_argument("--train-batches", default="8,32", help="training batch sizes (default 8,32; '0' for none)")
    parser.add_argument("--policies", default=",".join(POLICIES), help=f"default: {','.join(POLICIES)}")
    parser.add_argument("--runs", type=int, default=10, help="timed calls per figure (default 10)")
    parser.add_argument("--matmul-size", type=int, default=None,
                        help="n of the bfloat16 n×n matmul (default 8192 on a GPU, 1024 on a CPU)")
    parser.add_argument("--image-size", type=int, default=None, help="override the preset's S (a multiple of 16)")
    add_trainable_from(parser)
    parser.add_argument("--skip-stage", action="store_true",
                        help="also time inference without the video encoder and without the decoder")
    parser.add_argument("--from-features", action="store_true",
                        help="also time the training step from cached features (`acga train --feature-cache`, "
                             "docs/training.md#feature-cache): the model cut at its first trainable I3D block, the "
                             "frozen blocks' output as its input, at each --train-batches size")
    args = parser.parse_args(argv)
    args.batches = _sizes(args.batches, "--batches", parser)
    args.train_batches = () if args.train_batches == "0" else _sizes(args.train_batches, "--train-batches", parser)
    args.policies = tuple(args.policies.split(","))
    unknown = sorted(set(args.policies) - set(POLICIES))
    if unknown:
        parser.error(f"--policies: unknown {unknown}, expected some of {', '.join(POLICIES)}")
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: must be positive")
    if args.from_features and not args.train_batches:
        parser.error("--from-features times training steps: give --train-batches (e.g. 32), not 0")
    if args.matmul_size is None:
        args.matmul_size = 8192 if args.device == "gpu" else 1024
    return args


def median_seconds(fn, runs: int) -> float:
    """Median wall time of `fn()` (which must return once its result is ready)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_memory(device) -> str:
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if not stats or "peak_bytes_in_use" not in stats:
        return "n/a"
    return f"{stats['peak_bytes_in_use'] / 2**30:.2f} GiB"


def flops_of(fn, *args) -> float:
    """FLOPs of `fn(*args)` in its convolutions and matrix products (2 per multiply-add), counted on its jaxpr:
    the same count on every backend. XLA's own cost analysis does not serve: on a GPU the compiled program hands
    its convolutions to cuDNN, which it leaves out, and the lowered program's analysis is missing there."""
    import jax

    return float(_jaxpr_flops(jax.make_jaxpr(fn)(*args).jaxpr))


def _jaxpr_flops(jaxpr) -> int:
    total = 0
    for eqn in jaxpr.eqns:
        out = eqn.outvars[0].aval.shape if eqn.outvars else ()
        if eqn.primitive.name == "conv_general_dilated":
            rhs = eqn.invars[1].aval.shape
            kernel_out = rhs[eqn.params["dimension_numbers"].rhs_spec[0]]
            # Each output: in-features × window, less the zeros a transposed conv's dilated input holds.
            zeros = math.prod(eqn.params["lhs_dilation"])
            total += 2 * math.prod(out) * math.prod(rhs) // kernel_out // zeros
        elif eqn.primitive.name == "dot_general":
            (contracting, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total += 2 * math.prod(out) * math.prod(lhs[d] for d in contracting)
        for param in eqn.params.values():  # nested programs: jit, custom_jvp, remat, cond branches
            for sub in param if isinstance(param, (list, tuple)) else (param,):
                sub = getattr(sub, "jaxpr", sub)
                if hasattr(sub, "eqns"):
                    total += _jaxpr_flops(sub)
    return total


def bfloat16_matmul_rate(n: int, runs: int) -> float:
    """FLOP/s of an n×n by n×n bfloat16 matrix product on the default device, printed."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.bfloat16)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.bfloat16)
    matmul = jax.jit(jnp.matmul)
    matmul(a, b).block_until_ready()
    rate = 2 * n**3 / median_seconds(lambda: matmul(a, b).block_until_ready(), max(runs, 3))
    print(f"bf16 matmul rate: {rate / 1e12:.4g} TFLOP/s ({n}x{n} by {n}x{n}, median of {max(runs, 3)})")
    return rate


def make_batch(config, batch: int, seed: int = 0, video: bool = True):
    """Numpy inputs and targets (a quarter-frame mask at the three resolutions) of `batch` clips; without `video`,
    the words alone as inputs (1.6 GB of clips fewer at the paper preset's batch 32)."""
    rng = np.random.default_rng(seed)
    s = config.image_size
    x = {"words": rng.standard_normal((batch, config.sentence_length, config.word_dim)).astype("float32")}
    if video:
        x["video"] = rng.uniform(-1, 1, (batch, config.clip_length, s, s, config.input_channels)).astype("float32")
    mask = np.zeros((batch, s, s, 1), "float32")
    mask[:, s // 4: 3 * s // 4, s // 4: 3 * s // 4] = 1.0
    return x, {"logits": mask, "logits_res2": mask[:, ::4, ::4], "logits_res1": mask[:, ::16, ::16]}


def forward_fn(model):
    """`jax.jit((trainable, non_trainable, inputs) -> logits)` in inference mode."""
    import jax

    def forward(trainable, non_trainable, inputs):
        return model.stateless_call(trainable, non_trainable, inputs, training=False)[0]["logits"]
    return jax.jit(forward)


def loss_and_grad_fn(model):
    """`jax.jit(value_and_grad)` of the paper's loss over the trainable weights (for the FLOP count)."""
    import jax
    import keras

    from acga_tf.models.losses import acga_losses

    losses = acga_losses()

    def loss(trainable, non_trainable, inputs, targets):
        out = model.stateless_call(trainable, non_trainable, inputs, training=True)[0]
        return sum(keras.ops.mean(losses[k](targets[k], out[k])) for k in losses)
    return jax.jit(jax.value_and_grad(loss))


def stage_variants(model):
    """Inference without one stage: `{name: jitted (trainable, non_trainable, inputs) -> logits}`."""
    import jax
    import keras

    from acga_tf.models.acga import attend, wire_head

    stages = {n: model.stage(n) for n in ("video_feature", "text_encoder", "attention", "decoder")}
    c = model.config
    video_shape = (None, c.clip_length, c.image_size, c.image_size, c.input_channels)
    mixed_4f_shape = model.stage("video_encoder").compute_output_shape(video_shape)["Mixed_4f"][1:]  # (T/4, h, w, C)

    def without_encoder(inputs):
        batch = keras.ops.shape(inputs["words"])[0]
        mixed_4f = keras.ops.zeros((batch, *mixed_4f_shape), model.stage("decoder").compute_dtype)
        return wire_head(stages, mixed_4f, inputs["words"])[3]["logits"]

    def without_decoder(inputs):
        mixed_4f = model.stage("video_encoder")(inputs["video"], training=False)["Mixed_4f"]
        return attend(stages, mixed_4f, inputs["words"])[2]["attended_video"]

    variants = {}
    for name, fn in (("without the video encoder", without_encoder), ("without the decoder", without_decoder)):
        def call(trainable, non_trainable, inputs, fn=fn):
            with keras.StatelessScope(state_mapping=list(zip(model.trainable_variables, trainable))
                                      + list(zip(model.non_trainable_variables, non_trainable))):
                return fn(inputs)
        variants[name] = jax.jit(call)
    return variants


def measure_policy(policy, config, args, device, matmul_rate, flops):
    import jax

    from acga_tf.models.acga import ACGA

    # Fresh random weights, unseeded: keras.utils.set_random_seed would import TensorFlow.
    model = with_forms(ACGA(config, dtype=policy), args)
    forward = forward_fn(model)

    def weights():  # read at each use: a training step donates the arrays it was given and returns new ones
        return [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]

    if "forward" not in flops:  # the first policy's count serves every policy (the same operations)
        x, _ = make_batch(config, args.batches[0])
        flops["forward"] = flops_of(forward, *weights(), jax.device_put(x, device)) / args.batches[0]
        print(f"FLOPs per clip, forward: {flops['forward'] / 1e9:.4g} GFLOP (convolutions and matrix products "
              f"of the forward, batch {args.batches[0]})")
        if args.train_batches:
            x, y = make_batch(config, args.train_batches[0])
            flops["train"] = flops_of(loss_and_grad_fn(model), *weights(), jax.device_put(x, device),
                                      jax.device_put(y, device)) / args.train_batches[0]
            print(f"FLOPs per clip, training: {flops['train'] / 1e9:.4g} GFLOP (convolutions and matrix "
                  f"products of value_and_grad of the loss, batch {args.train_batches[0]})")
    if args.train_batches:
        compile_for_training(model, device)
    # Each size's training step right after its forward, in the order given: a run cut off keeps the first sizes'.
    for batch in dict.fromkeys(args.batches + args.train_batches):
        x, y = (jax.device_put(a, device) for a in make_batch(config, batch))
        if batch in args.batches:
            trainable, non_trainable = weights()
            _report(policy, "forward", batch, lambda: forward(trainable, non_trainable, x).block_until_ready(),
                    args, device, matmul_rate, flops["forward"])
        if batch in args.train_batches:
            _report(policy, "training", batch, lambda: model.train_on_batch(x, y), args, device, matmul_rate,
                    flops.get("train"), optimizer=type(model.optimizer).__name__)
    if args.from_features and args.train_batches:
        measure_from_features(model, policy, config, args, device, matmul_rate, flops)
    if args.skip_stage:
        batch = args.batches[-1]
        x = jax.device_put(make_batch(config, batch)[0], device)
        trainable, non_trainable = weights()
        for name, fn in stage_variants(model).items():
            key = f"forward {name}"
            if key not in flops:  # the first policy's count serves every policy, as for the whole forward
                flops[key] = flops_of(fn, trainable, non_trainable, x) / batch
                print(f"FLOPs per clip, {key}: {flops[key] / 1e9:.4g} GFLOP "
                      f"({flops[key] / flops['forward']:.1%} of the whole forward's)")
            _report(policy, key, batch, lambda fn=fn: jax.block_until_ready(fn(trainable, non_trainable, x)), args,
                    device, matmul_rate, flops[key])


def measure_from_features(model, policy, config, args, device, matmul_rate, flops):
    """The training step of `model`'s head, cut where the feature cache cuts it (`split_model`): the frozen I3D
    blocks run once before training, so a step runs the trainable blocks and the rest. The paper's loss, Adam (with
    dynamic loss scaling in float16, as `ACGA.compile` does), inputs of the cut's shape made on the device."""
    import jax
    import keras

    from acga_tf.models.acga import compute_dtype, split_model
    from acga_tf.models.losses import acga_losses

    prefix, head = split_model(model)
    optimizer = keras.optimizers.Adam(5e-4)
    if compute_dtype(model) == "float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    compile_for_training(head, device, optimizer=optimizer, loss=acga_losses())
    shape = tuple(prefix.outputs[0].shape[1:])  # the frozen endpoint's, e.g. Mixed_4e (T/4, S/16, S/16, 528)

    def batch_of(size):
        x, y = make_batch(config, size, video=False)
        x["features"] = np.random.default_rng(1).standard_normal((size, *shape)).astype("float32")
        return x, y

    for batch in args.train_batches:
        x, y = (jax.device_put(a, device) for a in batch_of(batch))
        if "from features" not in flops:  # at the first size, in the first policy: the same operations in every one
            flops["from features"] = flops_of(loss_and_grad_fn(head), [v.value for v in head.trainable_variables],
                                              [v.value for v in head.non_trainable_variables], x, y) / batch
            print(f"FLOPs per clip, training from cached features: {flops['from features'] / 1e9:.4g} GFLOP "
                  f"(value_and_grad of the loss over the head cut at the first trainable I3D block, batch {batch})")
        _report(policy, "training from cached features", batch, lambda: head.train_on_batch(x, y), args, device,
                matmul_rate, flops["from features"], optimizer=type(head.optimizer).__name__)


def compile_for_training(model, device, **compile_kwargs):
    """`model.compile(jit_compile=True, ...)` with every variable of the training state (the model's, the
    optimizer's, built now, and the metrics') committed to `device`, so that Keras' jitted train step compiles once.
    Left uncommitted, the first step's arguments differ in sharding from the state it returns, and the second step
    compiles the whole program again (minutes for the paper preset on a GPU)."""
    import jax

    model.compile(jit_compile=True, **compile_kwargs)  # mixed_float16: a LossScaleOptimizer (SegmentationTask)
    model.optimizer.build(model.trainable_variables)
    for variable in model.variables + model.optimizer.variables + model.metrics_variables:
        variable.assign(jax.device_put(variable.value, device))


# JAX records this event each time it lowers a program to MLIR (jax/_src/dispatch.py): a new program, or the same one
# for arguments of other shardings (the second step of an uncommitted training state), even where its persistent
# compilation cache then holds the compiled program.
LOWERING_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_lowerings = 0  # counted since count_lowerings() first ran
_listening = False


def _on_event(event, duration_secs, **kwargs):
    global _lowerings
    if event == LOWERING_EVENT:
        _lowerings += 1


def count_lowerings() -> None:
    """Counts JAX's lowerings from now on in `_lowerings` (`_report` prints those of each figure's calls); once."""
    global _listening
    if not _listening:
        import jax

        jax.monitoring.register_event_duration_secs_listener(_on_event)
        _listening = True


def _report(policy, kind, batch, step, args, device, matmul_rate, flops_per_clip, optimizer=None):
    try:
        start, lowered = time.perf_counter(), _lowerings
        step()  # trace, compile, first run
        first, lowered_first = time.perf_counter() - start, _lowerings - lowered
        seconds = median_seconds(step, args.runs)
        lowered_timed = _lowerings - lowered - lowered_first
    except Exception as e:  # noqa: BLE001 - an out-of-memory batch is a result, not a crash
        if "RESOURCE_EXHAUSTED" not in str(e) and "out of memory" not in str(e).lower():
            raise
        print(f"{policy:<15} {kind} batch {batch:>3}: out of device memory ({str(e).splitlines()[0][:120]})")
        return
    clips = batch / seconds
    line = f"{policy:<15} {kind} batch {batch:>3}: {clips:10.4g} clips/s  ({seconds * 1e3:.4g} ms per batch"
    if flops_per_clip and matmul_rate:
        line += f", {clips * flops_per_clip / matmul_rate:.1%} of the bf16 matmul rate"
    line += (f"; first call {first:.3g} s ({lowered_first} program{'s' * (lowered_first != 1)} compiled), "
             f"{lowered_timed} compiled while timed; peak memory {peak_memory(device)}")
    if optimizer:
        line += f"; optimizer {optimizer}"
    print(line + ")")


def main(argv=None) -> int:
    args = parse_args(argv)
    device, config = jax_start(args, "benchmarks/gpu.py", f"batches={','.join(map(str, args.batches))} "
                               f"train_batches={','.join(map(str, args.train_batches))} runs={args.runs} "
                               f"stem={args.stem} batch_norm={args.batch_norm} upsample={args.upsample} "
                               f"pool={args.pool} mask_logits={args.mask_logits}")
    if args.from_features:  # refused before anything compiles: a cut needs frozen blocks below the trainable ones
        from acga_tf.models.video_encoder import VALID_ENDPOINTS

        if config.i3d_trainable_from not in VALID_ENDPOINTS[1:]:
            print(f"benchmarks/gpu.py: --from-features needs frozen I3D blocks to cache, but i3d_trainable_from is "
                  f"{config.i3d_trainable_from!r}: give --trainable-from Mixed_4f (the paper's)")
            return 2
    import jax

    count_lowerings()
    with jax.default_device(device):
        matmul_rate = bfloat16_matmul_rate(args.matmul_size, args.runs)
        flops: dict[str, float] = {}
        for policy in args.policies:
            measure_policy(policy, config, args, device, matmul_rate, flops)
    return tensorflow_free_exit()


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    raise SystemExit(main())
