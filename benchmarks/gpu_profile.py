"""Where ACGA's device time goes, from JAX's profiler: device time per HLO operation, per Keras layer and per kind
of operation (convolution, fusion, pooling, copy, ...), for the forward pass and for forward + backward.

    KERAS_BACKEND=jax python benchmarks/gpu_profile.py                   # paper preset, batch 32, on the GPU
    KERAS_BACKEND=jax python benchmarks/gpu_profile.py --device cpu --preset tiny --image-size 32 --batch 2
                                                                        # smoke run: checks it works only

Imports no TensorFlow (like benchmarks/gpu.py; the last line says whether it was imported, exit 1 if so).

Each program (the jitted forward of `gpu.forward_fn`, and `gpu.loss_and_grad_fn`'s value and gradient of the
paper's loss: a training step without the optimizer's update) is compiled, run once, then traced over `--steps`
calls with `jax.profiler.trace`. The trace is read back with `jax.profiler.ProfileData`: each device event that
names its HLO operation (`hlo_op`) is charged to that operation; the compiled program's HLO text
(`compiled.as_text()`) gives each operation's kind and the `op_name` JAX recorded for it, whose path holds the Keras
layer (`jit(forward)/video_encoder/Mixed_4b/Branch_1/...`). Printed per program: wall time per call, device time per
call (the sum of the charged events: on a GPU, kernel time), the top operations, and the time per layer (the
`--depth` first parts of the path) and per kind. `--out DIR` keeps the trace and the HLO text for a closer look.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import shutil
import tempfile
import time

from gpu import (  # benchmarks/gpu.py
    add_form_arguments,
    add_model_arguments,
    forward_fn,
    loss_and_grad_fn,
    make_batch,
    with_forms,
)
from hostinfo import add_trainable_from, jax_start, tensorflow_free_exit  # benchmarks/hostinfo.py

_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*)$")
_OPCODE = re.compile(r"\s*([\w\-]+)\((.*)$")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(parser, one_batch=True)
    add_form_arguments(parser)
    parser.add_argument("--steps", type=int, default=3, help="traced calls per program (default 3)")
    parser.add_argument("--top", type=int, default=25, help="operations listed per program (default 25)")
    parser.add_argument("--depth", type=int, default=2, help="layer path parts grouped together (default 2)")
    parser.add_argument("--programs", default="forward,gradient", help="default: forward,gradient")
    parser.add_argument("--image-size", type=int, default=None, help="override the preset's S (a multiple of 16)")
    add_trainable_from(parser)
    parser.add_argument("--out", default=None, help="folder for the traces and HLO texts (default: not kept)")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.steps < 1:
        parser.error("--batch and --steps must be positive")
    args.programs = tuple(args.programs.split(","))
    if set(args.programs) - {"forward", "gradient"}:
        parser.error(f"--programs {','.join(args.programs)}: some of forward, gradient")
    return args


def hlo_operations(hlo_text: str) -> dict[str, tuple[str, str]]:
    """`{instruction name: (kind, op_name)}` of a compiled HLO module's text. The kind is the opcode, refined for
    fusions (`fusion:kLoop`) and custom calls (`custom-call:__cudnn$convForward`). An operation without an
    `op_name` of its own (a fusion XLA made of layout copies) takes the first one inside the computation it calls."""
    operations, calls, first_op_name, computation = {}, {}, {}, None
    for line in hlo_text.splitlines():
        header = re.match(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$", line)
        if header:
            computation = header.group(1)
            continue
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        op_name = re.search(r'op_name="([^"]*)"', line)
        if op_name and computation:
            first_op_name.setdefault(computation, op_name.group(1))
        name, rest = match.groups()
        depth, end = 0, 0  # skip the result's type, a tuple `(f32[..], s32[..])` included
        for end, char in enumerate(rest):
            depth += {"(": 1, ")": -1}.get(char, 0) if rest[0] == "(" else 0
            if (depth == 0 and rest[0] == "(" and char == ")") or (rest[0] != "(" and char == " "):
                break
        match = _OPCODE.match(rest[end + 1:])
        if not match:
            continue
        opcode, rest = match.groups()
        kind = opcode
        if opcode == "fusion":
            fusion_kind = re.search(r"kind=(k\w+)", rest)
            kind += f":{fusion_kind.group(1)}" if fusion_kind else ""
        elif opcode == "custom-call":
            target = re.search(r'custom_call_target="([^"]+)"', rest)
            kind += f":{target.group(1)}" if target else ""
        called = re.search(r"calls=%?([\w.\-]+)", rest)
        if called:
            calls[name] = called.group(1)
        operations[name] = (kind, op_name.group(1) if op_name else "")
    for name, (kind, op_name) in operations.items():
        if not op_name and name in calls:
            operations[name] = (kind, first_op_name.get(calls[name], ""))
    return operations


def layer_of(op_name: str, depth: int) -> str:
    """The Keras layer path of an `op_name`: its first `depth` parts after the `jit(...)` ones."""
    parts = []
    for part in op_name.split("/"):
        if part.startswith("jit("):  # the jitted function's name, not a layer
            continue
        while re.fullmatch(r"\w+\(.*\)", part):  # transpose(jvp(decoder)): the backward pass of `decoder`
            part = part[part.index("(") + 1:-1]
        if part:
            parts.append(part)
    return "/".join(parts[:depth]) or "(no layer)"


def device_times(trace_dir: str, module_prefix: str) -> tuple[dict[str, float], str]:
    """Seconds per HLO operation over a trace's device events of modules named `module_prefix*`, and which lines
    they came from. On a GPU, the kernel events of the device plane's stream lines (not its derived "XLA Ops" or
    "XLA Modules" lines, which would count them again); on a CPU, the host threads that ran the program."""
    from jax.profiler import ProfileData

    files = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
    if not files:
        raise SystemExit(f"error: the profiler wrote no trace under {trace_dir}")
    data = ProfileData.from_file(files[0])
    per_line: dict[str, collections.Counter] = {}
    for plane in data.planes:
        if not plane.name.startswith(("/device:", "/host:CPU")):
            continue
        for line in plane.lines:
            times: collections.Counter = collections.Counter()
            for event in line.events:
                stats = dict(event.stats)
                if str(stats.get("hlo_module", "")).startswith(module_prefix) and "hlo_op" in stats:
                    times[str(stats["hlo_op"])] += event.duration_ns * 1e-9
            if times:
                per_line[f"{plane.name} {line.name}"] = times
    device = {k: v for k, v in per_line.items() if k.startswith("/device:")}
    streams = {k: v for k, v in device.items() if " Stream" in k} or {
        k: v for k, v in device.items() if not k.endswith(("XLA Ops", "XLA Modules"))} or device or per_line
    total: collections.Counter = collections.Counter()
    for times in streams.values():
        total.update(times)
    return dict(total), "; ".join(f"{k} ({sum(v.values()):.3g} s)" for k, v in streams.items())


def profile(name, jitted, args_, steps, options):
    """Compiles, runs once, traces `steps` calls of `jitted(*args_)` and prints where its device time went."""
    import jax

    compiled = jitted.lower(*args_).compile()
    hlo_text = compiled.as_text()  # megabytes for the paper preset: made once
    operations = hlo_operations(hlo_text)
    module = re.search(r"HloModule\s+([\w.\-]+)", hlo_text)
    module = module.group(1) if module else ""
    jax.block_until_ready(compiled(*args_))
    trace_dir = tempfile.mkdtemp(prefix=f"profile_{name}_")
    with jax.profiler.trace(trace_dir):
        start = time.perf_counter()
        for _ in range(steps):
            jax.block_until_ready(compiled(*args_))
        wall = (time.perf_counter() - start) / steps
    times, lines = device_times(trace_dir, module.split(".")[0])
    busy = sum(times.values()) / steps
    print(f"\n== {name}: {options.policy}, batch {options.batch}: {wall * 1e3:.4g} ms per call (wall, traced), "
          f"{busy * 1e3:.4g} ms of device time per call ({len(times)} operations; from {lines or 'no events'})")
    if options.out:
        os.makedirs(options.out, exist_ok=True)
        for path in glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True):
            shutil.copy(path, os.path.join(options.out, f"{name}.xplane.pb"))
        with open(os.path.join(options.out, f"{name}.hlo.txt"), "w") as f:
            f.write(hlo_text)
    shutil.rmtree(trace_dir, ignore_errors=True)
    if not times:
        return
    per_call = {op: t / steps for op, t in times.items()}
    print(f"top {options.top} operations (ms per call, share of device time, kind, layer path):")
    for op, t in sorted(per_call.items(), key=lambda kv: -kv[1])[:options.top]:
        kind, op_name = operations.get(op, ("?", ""))
        print(f"  {t * 1e3:9.4g} {t / busy:6.1%}  {op:<28} {kind:<36} {layer_of(op_name, 6)}")
    for title, key in (("layer", lambda op: layer_of(operations.get(op, ("", ""))[1], options.depth)),
                       ("kind", lambda op: operations.get(op, ("?", ""))[0])):
        grouped: collections.Counter = collections.Counter()
        for op, t in per_call.items():
            grouped[key(op)] += t
        print(f"per {title} (ms per call, share):")
        for group, t in grouped.most_common(options.top):
            print(f"  {t * 1e3:9.4g} {t / busy:6.1%}  {group}")


def main(argv=None) -> int:
    args = parse_args(argv)
    device, config = jax_start(args, "benchmarks/gpu_profile.py", f"batch={args.batch} policy={args.policy} "
                               f"steps={args.steps} stem={args.stem} batch_norm={args.batch_norm} "
                               f"upsample={args.upsample} pool={args.pool} mask_logits={args.mask_logits}")
    import jax

    from acga_tf.models.acga import ACGA

    with jax.default_device(device):
        model = with_forms(ACGA(config, dtype=args.policy), args)
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        x, y = (jax.device_put(a, device) for a in make_batch(config, args.batch))
        if "forward" in args.programs:
            profile("forward", forward_fn(model), (trainable, non_trainable, x), args.steps, args)
        if "gradient" in args.programs:
            profile("gradient", loss_and_grad_fn(model), (trainable, non_trainable, x, y), args.steps, args)
    return tensorflow_free_exit()


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    raise SystemExit(main())
