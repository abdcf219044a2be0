"""Smoke tests of every script in benchmarks/ and pipelines/: `--help` and a tiny real run, each in a subprocess.

The scripts are found with a glob, and `TINY_RUNS` must name every one of them (and nothing else), so a new
script without a smoke test fails `test_every_script_has_a_tiny_run`, and a script that no longer imports or runs
fails here instead of in someone's terminal. The tiny runs check that a script works and prints what it should,
never its figures (the machines are shared and noisy).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from support import jax_test_env, require

REPO = Path(__file__).resolve().parents[1]
SCRIPT_DIRS = ("benchmarks", "pipelines")
TIMEOUT_S = 300  # per subprocess: a hang fails the test instead of blocking the suite


def discover_scripts() -> list[str]:
    """Every `benchmarks/*.py` and `pipelines/*.py` but `__init__.py`, as repository-relative paths."""
    return sorted(p.relative_to(REPO).as_posix() for d in SCRIPT_DIRS for p in (REPO / d).glob("*.py")
                  if p.name != "__init__.py")


def command(script: str) -> list[str]:
    """How the README starts `script`: benchmarks as files, pipelines as modules (`python -m pipelines.beam`)."""
    if script.startswith("pipelines/"):
        return [sys.executable, "-m", script.removesuffix(".py").replace("/", ".")]
    return [sys.executable, script]


@dataclasses.dataclass(frozen=True)
class TinyRun:
    """A script's tiny run.

    args: after the script; "{root}" is a 4-video synthetic A2D world (seed 0), "{out}" a new empty directory.
    expect: regular expressions, each matching a whole line of stdout ("{root}", "{out}", "{frames}" and
        "{samples}", the world's annotated frames and samples, are replaced first, escaped).
    check: further checks of (stdout, context with root, out, world summary).
    env: environment variables set for the run; `NO_TENSORFLOW` (below) runs the script under JAX with
        `import tensorflow` refused (tests/no_tensorflow/sitecustomize.py), as on a GPU machine without it.
    slow: marks the run @pytest.mark.slow (`pytest -m slow`), for a run whose parts other tiny runs and tests
        exercise (the reason beside it).
    """

    args: tuple[str, ...]
    expect: tuple[str, ...]
    check: Callable[[str, dict], None] | None = None
    env: tuple[tuple[str, str], ...] = ()
    slow: bool = False


NO_TENSORFLOW = (("KERAS_BACKEND", "jax"), ("JAX_PLATFORMS", "cpu"), ("JAX_THREEFRY_PARTITIONABLE", "0"),
                 ("PYTHONPATH_PREPEND", str(REPO / "tests" / "no_tensorflow")))


# Lines every benchmark prints with its figures (benchmarks/hostinfo.py).
ENVIRONMENT = (r"backend: Keras \S+ on tensorflow, TensorFlow \S+, Python \S+; threads: .+; oneDNN CPU "
               r"kernels: (on|off|unknown)",
               r"device: CPU:0 \(the host CPU, \d+ cores?\)",
               r"host: .+, \d+ usable cores? \(of \d+\), .+")
NUMBER = r"[0-9.e+-]+"
JAX_ENVIRONMENT = (r"backend: Keras \S+ on jax, JAX \S+ \(jaxlib \S+\), Python \S+; XLA_FLAGS: .+",
                   r"device: CPU:0 \(the host CPU, \d+ cores?\)",
                   r"host: .+, \d+ usable cores? \(of \d+\), .+")
# What gpu.py prints per policy and batch (inference or training): its first call compiles, its timed call does not
# (a training state left uncommitted would compile again: test_gpu_training_step_compiles_once).
GPU_LINE = (rf"{{policy}} +{{kind}} batch +1: +{NUMBER} clips/s  \({NUMBER} ms per batch, {NUMBER}% of the bf16 "
            rf"matmul rate; first call {NUMBER} s \([1-9][0-9]* programs? compiled\), 0 compiled while timed; peak "
            rf"memory n/a{{optimizer}}\)")


def _gpu_lines(policies: tuple[str, ...]) -> tuple[str, ...]:
    lines = []
    for policy in policies:
        lines.append(GPU_LINE.format(policy=policy, kind="forward", optimizer=""))
        optimizer = "LossScaleOptimizer" if policy == "mixed_float16" else "Adam"
        lines.append(GPU_LINE.format(policy=policy, kind="training", optimizer=f"; optimizer {optimizer}"))
    return tuple(lines)


def _check_learning(stdout: str, context: dict) -> None:
    """Three curve points per policy; the loss fell over the 3 steps under each policy; the smoothed comparison
    compares the means of the three rows printed."""
    means = {}
    for policy in ("float32", "mixed_float16"):
        rows = np.array(re.findall(rf"^  {policy} +step +\d+  loss (\S+)  IoU (\S+)$", stdout, re.M), float)
        assert rows.shape == (3, 2) and rows[-1, 0] < rows[0, 0], (policy, stdout)
        means[policy] = rows.mean(axis=0)
    printed = re.search(r"^mean of the last 3 rows, mixed_float16 vs float32: loss (\S+) vs (\S+) \(\S+\), IoU (\S+) "
                        r"vs (\S+) ", stdout, re.M).groups()
    expected = (means["mixed_float16"][0], means["float32"][0], means["mixed_float16"][1], means["float32"][1])
    np.testing.assert_allclose([float(v) for v in printed], expected, atol=1e-4)


def _check_stage_flops(stdout: str, context: dict) -> None:
    """Leaving a stage out leaves a part of the whole forward's FLOPs, neither none nor all of them."""
    shares = [float(v) for v in re.findall(r"^FLOPs per clip, forward without .*\((\S+)% of the whole", stdout, re.M)]
    assert len(shares) == 2 and all(0 < share < 100 for share in shares), stdout


def _check_profile(stdout: str, context: dict) -> None:
    """Per program: three top operations, each charged to a kind, and the time per layer charged to Keras layers
    (no more than all of the device time)."""
    for program in stdout.split("\n== ")[1:]:
        top, rest = program.split("per layer")
        ops = top.splitlines()[2:]
        assert len(ops) == 3 and all(re.match(r" +\S+ +\S+%  \S+ +\S+ ", op) for op in ops), program
        layers = re.findall(r"^ +\S+ +(\S+)%  (.+)$", rest.split("per kind")[0], re.M)
        assert len(layers) == 3 and sum(float(share) for share, _ in layers) <= 100.5, program
        assert {layer.split("/")[0] for _, layer in layers} & {"video_encoder", "decoder"}, program


def _check_stem_forms(stdout: str, context: dict) -> None:
    """The forms compute the 3D form's output up to bfloat16 rounding; space to depth pads 7 taps to 8 per axis, and
    the paired frames read 9 frames for 2 outputs (9/7 more again)."""
    forms = re.findall(r"^(3d|folded|space-to-depth-pairs|space-to-depth) .* computes (\S+)x that work\); "
                       r"difference from 3d (\S+);", stdout, re.M)
    assert [(form, work) for form, work, _ in forms] == [("3d", "1.00"), ("folded", "1.00"),
                                                         ("space-to-depth", "1.31"),
                                                         ("space-to-depth-pairs", "1.68")], stdout
    assert all(float(difference) < 0.02 for _, _, difference in forms), stdout


def _check_forward(stdout: str, context: dict) -> None:
    diff = float(re.search(r"^max \|keras - raw\| on logits: (\S+)", stdout, re.M).group(1))
    assert diff < 1e-3, stdout
    # a clip's FLOPs whatever the batch (a benchmark reviewer's: at --batch B they were B times too few, as was
    # GFLOP/s): the tiny run's batch of 2 against one clip counted here
    import importlib.util  # noqa: PLC0415

    import tensorflow as tf  # noqa: PLC0415

    from acga_tf import ACGA, ACGAConfig  # noqa: PLC0415

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))  # (forward.py imports hostinfo beside it)
    try:
        spec = importlib.util.spec_from_file_location("forward_bench", Path(__file__).parents[1] / "benchmarks" /
                                                      "forward.py")
        forward = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(forward)
    finally:
        sys.path.pop(0)
    config = ACGAConfig.preset("tiny")
    raw = forward.RawACGA(ACGA(config))
    raw(tf.zeros((1, config.clip_length, config.image_size, config.image_size, 3)),
        tf.zeros((1, config.sentence_length, config.word_dim)))
    printed = float(re.search(r"^FLOPs per clip: (\S+) GFLOP", stdout, re.M).group(1))
    assert printed == pytest.approx(raw.flops / 1e9, rel=1e-3), stdout
    median = float(re.search(r"^keras model  median (\S+) s  \((\d+) spec GFLOP/s\)", stdout, re.M).group(1))
    rate = int(re.search(r"^keras model  median \S+ s  \((\d+) spec GFLOP/s\)", stdout, re.M).group(1))
    assert abs(rate - 2 * raw.flops / median / 1e9) <= 1, stdout


def _check_memory_ratio(stdout: str, context: dict) -> None:
    """The longest video's peak over the shortest's, whatever the order of --seconds (a benchmark reviewer's "2 1"
    printed the shortest's over the longest's as "longest / shortest")."""
    peaks = {float(s): float(p) for s, p in re.findall(r"^  \S+ \S+ fps (\S+) s \(\d+ frames\): peak RSS (\S+) MB",
                                                        stdout, re.M)}
    ratio = float(re.search(r"^peak RSS, longest / shortest at \d+p: (\S+)", stdout, re.M).group(1))
    assert ratio == pytest.approx(peaks[max(peaks)] / peaks[min(peaks)], abs=2e-3), stdout


def _check_converted(stdout: str, context: dict) -> None:
    """Both splits' summary lines add up to the world, and the output directory holds manifest and shards."""
    counts = [(int(s), int(f)) for s, f in re.findall(r"^a2d \w+: (\d+) samples \((\d+) annotated frames\)", stdout,
                                                       re.M)]
    world = context["world"]
    assert (sum(s for s, _ in counts), sum(f for _, f in counts)) == (world["samples"], world["frames"]), stdout
    out = Path(context["out"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["splits"]) == ["test", "train"]
    assert manifest["samples"] == world["samples"]
    for split in manifest["splits"].values():
        for shard in split["shards"]:
            assert (out / shard["file"]).is_file(), shard


CONVERTED = (r"a2d train: \d+ samples \(\d+ annotated frames\) in 1 shard, 0 skipped -> {out}",
             r"a2d test: \d+ samples \(\d+ annotated frames\) in 1 shard, 0 skipped -> {out}")

TINY_RUNS: dict[str, TinyRun] = {
    "benchmarks/twins.py": TinyRun(
        ("--untrained", "--root", "{root}", "--videos", "2", "--batch-size", "4"),
        (*ENVIRONMENT,
         rf"model untrained tiny preset; {{root}}, split test: \d+ videos?, \d+ samples; anamorphic pixels 4/3; "
         rf"{NUMBER} s",
         *(rf"{re.escape(way)}: mean IoU {NUMBER}, overall IoU {NUMBER}"
           for way in ("original", "anamorphic twin, read as players show it (now)",
                       "anamorphic twin, read as stored (before)", "interlaced twin, read as players show it (now)",
                       "interlaced twin, read as stored (before)", "hdr twin, read as players show it (now)",
                       "hdr twin, read as stored (before)"))),
        # 25 s on a 2-core AMD EPYC. The default suite segments anamorphic videos and arrays the two ways it compares
        # (tests/test_predict.py::test_an_anamorphic_video_is_segmented_as_players_show_it), reads interlaced H.264
        # (tests/test_video.py::test_an_interlaced_video_is_deinterlaced_as_players_show_it) and HLG HEVC
        # (tests/test_video.py::test_colours_are_decoded_as_players_show_them).
        slow=True),
    "benchmarks/forward.py": TinyRun(
        ("--preset", "tiny", "--runs", "1", "--bfloat16", "--batch", "2"),
        (r"preset=tiny T=8 S=64 batch=2 device=CPU:0 xla=False runs=1", *ENVIRONMENT,
         rf"FLOPs per clip: {NUMBER} GFLOP \(.*\)",
         rf"max \|keras - raw\| on logits: {NUMBER} \({NUMBER} of max \|logit\|\)",
         rf"keras model  median {NUMBER} s  \(\d+ spec GFLOP/s\)  runs: {NUMBER}",
         rf"raw TF ops   median {NUMBER} s  \(\d+ GFLOP/s\)  runs: {NUMBER}",
         rf"ratio keras/raw: {NUMBER}",
         rf"keras model with the I3D BatchNorms separate: median {NUMBER} s; this device's choice \(folded into the "
         rf"convs\) runs at {NUMBER}x its speed",
         rf"keras mixed_bfloat16 median {NUMBER} s  \((speed-up {NUMBER}x over float32|slower than float32 on this "
         rf"host: {NUMBER}x float32's speed); sign agreement of logits with float32: {NUMBER}\)",
         rf"multi-query \(segment_queries, one clip\): 1 query {NUMBER} s \(1.00x one query\), 4 queries {NUMBER} s "
         rf"\({NUMBER}x one query\), 16 queries {NUMBER} s \({NUMBER}x one query\)"),
        _check_forward),
    "benchmarks/gpu.py": TinyRun(
        ("--device", "cpu", "--preset", "tiny", "--image-size", "32", "--trainable-from", "Mixed_4f",
         "--batches", "1", "--train-batches", "1", "--runs", "1", "--policies", "mixed_float16",
         "--skip-stage", "--batch-norm", "separate", "--upsample", "sub-pixel-patches", "--pool", "3d",
         "--mask-logits", "product"),
        (r"preset=tiny T=8 S=32 device=cpu:0 batches=1 train_batches=1 runs=1 stem=default "
         r"batch_norm=separate upsample=sub-pixel-patches pool=3d mask_logits=product trainable_from=Mixed_4f "
         r"attention_init_std=1",
         *JAX_ENVIRONMENT,
         rf"bf16 matmul rate: {NUMBER} TFLOP/s \(1024x1024 by 1024x1024, median of 3\)",
         rf"FLOPs per clip, forward: {NUMBER} GFLOP \(convolutions and matrix products of the forward, batch 1\)",
         rf"FLOPs per clip, training: {NUMBER} GFLOP \(convolutions and matrix products of value_and_grad of the loss, "
         r"batch 1\)",
         *_gpu_lines(("mixed_float16",)),  # float32's lines: gpu_session.sh's tiny run (slow)
         *(rf"FLOPs per clip, forward without the {stage}: {NUMBER} GFLOP \({NUMBER}% of the whole forward's\)"
           for stage in ("video encoder", "decoder")),
         *(GPU_LINE.format(policy="mixed_float16", kind=f"forward without the {stage}", optimizer="")
           for stage in ("video encoder", "decoder")),
         r"tensorflow imported: no"),
        _check_stage_flops, env=NO_TENSORFLOW),
    "benchmarks/gpu_learning.py": TinyRun(
        ("--device", "cpu", "--preset", "tiny", "--steps", "3", "--eval-every", "1", "--image-size", "32",
         "--trainable-from", "Mixed_4f", "--batch", "2", "--eval-clips", "4", "--policies", "float32,mixed_float16"),
        (r"preset=tiny T=8 S=32 device=cpu:0 steps=3 batch=2 learning_rate=0.002 trainable_from=Mixed_4f "
         r"attention_init_std=0.2",
         *JAX_ENVIRONMENT,
         r"mixed_float16 \(optimizer LossScaleOptimizer\): step, loss, IoU:",
         rf"mixed_float16: 3 steps in {NUMBER} s \(the first, compiling, {NUMBER} s\)",
         rf"final mixed_float16 vs float32: loss {NUMBER} vs {NUMBER} \({NUMBER}%\), IoU {NUMBER} vs {NUMBER} "
         rf"\({NUMBER}%\): (agree|disagree) within 10%",
         rf"mean of the last 3 rows, mixed_float16 vs float32: loss {NUMBER} vs {NUMBER} \({NUMBER}%\), IoU {NUMBER} "
         rf"vs {NUMBER} \({NUMBER}%\): (agree|disagree) within 10%",
         r"tensorflow imported: no"),
        _check_learning, env=NO_TENSORFLOW,
        # About a minute on a 2-core AVX2 host; it runs again in test_gpu_session_runs_every_step_without_tensorflow
        # (slow). The default suite trains under JAX in tests/test_backends.py (the loss falls) and checks the
        # loss-scale optimizer of mixed_float16 under JAX in gpu.py's tiny run.
        slow=True),
    "benchmarks/gpu_profile.py": TinyRun(
        ("--device", "cpu", "--preset", "tiny", "--image-size", "32", "--trainable-from", "Mixed_4f", "--batch", "2",
         "--steps", "1", "--top", "3", "--stem", "space-to-depth"),
        (r"preset=tiny T=8 S=32 device=cpu:0 batch=2 policy=mixed_bfloat16 steps=1 stem=space-to-depth "
         r"batch_norm=default upsample=default pool=default mask_logits=default trainable_from=Mixed_4f "
         r"attention_init_std=1",
         *JAX_ENVIRONMENT,
         *(rf"== {program}: mixed_bfloat16, batch 2: {NUMBER} ms per call \(wall, traced\), {NUMBER} ms of device "
           rf"time per call \(\d+ operations; from .+\)" for program in ("forward", "gradient")),
         r"tensorflow imported: no"),
        _check_profile, env=NO_TENSORFLOW,
        # 40 s on a 2-core AVX2 host; it runs again in test_gpu_session_runs_every_step_without_tensorflow (slow).
        slow=True),
    "benchmarks/gpu_stem.py": TinyRun(
        ("--device", "cpu", "--preset", "tiny", "--image-size", "32", "--batch", "2", "--runs", "1"),
        (r"preset=tiny T=8 S=32 device=cpu:0 batch=2 policy=mixed_bfloat16 runs=1 trainable_from=Conv3d_1a_7x7 "
         r"attention_init_std=1",
         *JAX_ENVIRONMENT,
         rf"stem: 8 filters, kernel \(7, 7, 7\), strides \(2, 2, 2\), input \(2, 8, 32, 32, 3\), BatchNorm folded "
         rf"into the conv \(the device.s choice\): {NUMBER} GFLOP "
         r"per clip",
         *(rf"{form} +{NUMBER} ms per batch +{NUMBER} TFLOP/s of the stem's work \({NUMBER}% of the bf16 matmul "
           rf"rate; this form computes {NUMBER}x that work\); difference from 3d {NUMBER}; peak memory n/a"
           for form in ("3d", "folded", "space-to-depth", "space-to-depth-pairs")),
         r"fastest form: (3d|folded|space-to-depth|space-to-depth-pairs)",
         r"tensorflow imported: no"),
        # 6 s on a 2-core AMD host: the default suite runs gpu.py's tiny run under JAX (its stem among the rest)
        _check_stem_forms, env=NO_TENSORFLOW, slow=True),
    # 11 s on a 2-core AVX2 host, importing TensorFlow to print the lines every benchmark's tiny run prints
    # (forward.py's and gpu.py's in the default suite); test_gpu_session_runs_every_step_without_tensorflow (slow)
    # runs it too.
    "benchmarks/hostinfo.py": TinyRun((), ENVIRONMENT, slow=True),
    "benchmarks/jit.py": TinyRun(
        ("--train-preset", "tiny", "--forward-preset", "tiny", "--runs", "1"),
        (r"train_preset=tiny forward_preset=tiny batch=2 runs=1", *ENVIRONMENT,
         *(rf"tiny {kind}: jit_compile=False median {NUMBER} s, jit_compile=True median {NUMBER} s, ratio xla/plain "
           rf"{NUMBER} \(first calls {NUMBER} s, {NUMBER} s\)"
           for kind in (r"training step \(batch 2\)", r"evaluation step \(batch 2\)",
                        r"forward \(batch 1, inference\)")),
         rf"max \|xla - plain\| on logits: {NUMBER} \({NUMBER} of max \|logit\|\)"),
        # About 3 minutes on a 2-core AVX2 host, mostly XLA compiling the tiny training step on the CPU. XLA against
        # eager: tests/test_mixed_precision.py.
        slow=True),
    "benchmarks/onednn.py": TinyRun(
        ("--preset", "tiny", "--batch", "2", "--rounds", "1", "--runs", "1", "--trainable-from", "Mixed_4f"),
        (r"preset=tiny batch=2 rounds=1 runs=1 trainable_from=Mixed_4f float32",
         ENVIRONMENT[0].replace("(on|off|unknown)", "off, then on, in processes of their own"), *ENVIRONMENT[1:],
         *(rf"round 1 oneDNN {side}: training step {NUMBER} s, forward {NUMBER} s" for side in ("off", "on")),
         *(rf"tiny {kind} \(batch 2\): oneDNN off median {NUMBER} s, on median {NUMBER} s; on runs at {NUMBER}x "
           r"off's speed" for kind in ("training step", "forward"))),
        # About a minute on a 2-core AVX2 host (two processes). The default suite checks the oneDNN switch it
        # flips (tests/test_onednn.py).
        slow=True),
    "benchmarks/precision.py": TinyRun(
        ("--preset", "tiny", "--batch", "2", "--runs", "1", "--trainable-from", "Mixed_4f"),
        (r"preset=tiny batch=2 runs=1 trainable_from=Mixed_4f", *ENVIRONMENT,
         rf"bfloat16 convolution probe: {NUMBER}x float32's speed; --mixed-precision picks "
         rf"(float32|mixed_bfloat16_head) \(no GPU; this CPU convolves in bfloat16 at {NUMBER}x float32's speed .*\)",
         *(rf"tiny {kind}: float32 median {NUMBER} s, mixed_bfloat16 median {NUMBER} s, mixed_bfloat16_head median "
           rf"{NUMBER} s; speed-up over float32: mixed_bfloat16 {NUMBER}x, mixed_bfloat16_head {NUMBER}x"
           for kind in (r"training step \(batch 2\)", r"forward \(batch 2, inference\)"))),
        # A minute on a 2-core AVX2 host (three policies, each traced twice). The default suite checks the choice
        # it reports, `--mixed-precision`'s (tests/test_train.py, tests/test_demo.py), and the probe behind it
        # (tests/test_mixed_precision.py); forward.py's tiny run times the model in float32 and mixed_bfloat16.
        slow=True),
    "benchmarks/input_pipeline.py": TinyRun(
        ("--videos", "4", "--min-seconds", "0.2", "--presets", "tiny"),
        (*ENVIRONMENT,
         r"synthetic A2D world: 4 videos, {frames} annotated frames, {samples} samples, frames 160 x [0-9|]+",
         r"converter \(window 24, JPEG q95, shards of 16\), both splits:",
         rf"  workers=1: +{NUMBER} clips/s  \({{frames}} clips in {NUMBER} s, first run in this process\)",
         rf"  workers=1: +{NUMBER} clips/s  \({{frames}} clips in {NUMBER} s, steady state\)",
         rf"  workers=2: +{NUMBER} clips/s  \({{frames}} clips in {NUMBER} s, new pool: worker start \+ TF import "
         r"included\)",
         rf"  workers=2: +{NUMBER} clips/s  \({{frames}} clips in {NUMBER} s, steady state\)",
         r"make_dataset \(batch 4, at least 0.2 s each\), samples/s:",
         rf"  tiny  T= 8 S= 64 train: +{NUMBER} clips/s over the \d+ cores?, +{NUMBER} clips/s a core on average  "
         r"\(\d+ samples\)",
         rf"  tiny  T= 8 S= 64 test : +{NUMBER} clips/s over the \d+ cores?, +{NUMBER} clips/s a core on average  "
         r"\(\d+ samples\)"),
        # 40 s on a 2-core AVX2 host. The default suite converts with two workers (tests/test_convert.py, and
        # pipelines/convert.py's tiny run) and reads the shards with make_dataset (tests/test_datasets.py).
        slow=True),
    "benchmarks/prepare.py": TinyRun(
        ("--videos", "2", "--frames", "24", "--window", "4", "--repeats", "1"),
        (*ENVIRONMENT,
         rf"wrote 2 videos of 24 frames \(320 high\), annotated at 6, 12, 18, in {NUMBER} s",
         rf"loading 6 annotated frames of 2 videos, window 4: one at a time {NUMBER} s, a video's frames together "
         rf"{NUMBER} s \({NUMBER}x\); the same samples: True",
         rf"converting them \(one worker, shards and manifest written\): {NUMBER} s, {NUMBER} ms an annotated frame"),
        # 8 s on a 2-core AMD host: the default suite converts with `acga prepare` and pipelines/convert.py
        slow=True),
    "benchmarks/predict_many.py": TinyRun(
        ("--videos", "2", "--seconds", "1", "--height", "72", "--fps", "12"),
        (*ENVIRONMENT,
         r"2 videos of 1 s \(24 frames, 72 high, 12 fps\), untrained tiny preset \(T=8, S=64\), query 'the red square "
         r"moving left', mask PNGs:",
         rf"  a process per video \(a shell loop\): {NUMBER} s a video \({NUMBER} s in all\)",
         rf"  acga predict --list \(one process\): {NUMBER} s a video \({NUMBER} s in all\)",
         rf"  the list is {NUMBER}x as fast; masks the same: yes"),
        # 40 s on a 2-core AVX2 host (three processes that load TensorFlow). The default suite runs acga predict
        # --list end to end (tests/test_batch.py).
        slow=True),
    "benchmarks/predict_memory.py": TinyRun(
        ("--seconds", "2", "1", "--height", "72", "--uhd-seconds", "0", "--fps", "12"),  # (the longest first)
        (*ENVIRONMENT,
         r"acga predict, untrained tiny preset \(T=8, S=64\), batch 4, query 'the red square moving left', writing "
         r"overlay\.mp4 and one mask PNG per frame:",
         rf"  128x72 12 fps 2 s \(24 frames\): peak RSS {NUMBER} MB, {NUMBER} frames/s, start-up included "
         rf"\({NUMBER} s; video written in {NUMBER} s\)",
         rf"  128x72 12 fps 1 s \(12 frames\): peak RSS {NUMBER} MB, {NUMBER} frames/s, start-up included "
         rf"\({NUMBER} s; video written in {NUMBER} s\)",
         rf"peak RSS, longest / shortest at 72p: {NUMBER} \(target <= 1\.10\): (met|NOT met)",
         rf"largest peak RSS: {NUMBER} MB \(target < 2048 MB\): (met|NOT met)"),
        _check_memory_ratio,
        # 50 s on a 2-core AVX2 host (a process per video). The default suite checks acga predict's bounded frame
        # window (tests/test_predict.py::test_iter_masks_streams_with_a_bounded_frame_window).
        slow=True),
    "benchmarks/postprocess.py": TinyRun(
        ("--size", "32", "--repeats", "1", "--frames", "720p,36x52"),
        (*ENVIRONMENT,
         r"4 masks from S = 32, median of 1 calls:",
         *(rf"  {name} \({size}\): TensorFlow's kernel {NUMBER} ms, two gathers {NUMBER} ms \({NUMBER}x\); the same "
           rf"pixels: True; the whole post-processing {NUMBER} ms a frame"
           for name, size in (("720p", "1280x720"), ("36x52", "52x36"))),
         r"the overlay's blend of one mask into a frame \(alpha 0\.45\), median of 1 calls:",
         *(rf"  {name}, the mask {coverage}% of it: every pixel {NUMBER} ms, acga-tf's {NUMBER} ms "
           rf"\({NUMBER}x\); the same pixels: True" for name in ("720p", "36x52") for coverage in (2, 20, 100))),
        # 8 s on a 2-core AMD host: the default suite compares the post-processing with TensorFlow's resize
        # (tests/test_geometry.py) and writes overlays (tests/test_predict.py)
        slow=True),
    "benchmarks/rest_payload.py": TinyRun(
        ("--height", "24", "--width", "40", "--clip-length", "4", "--repeats", "1"),
        (*ENVIRONMENT,
         r"one request per frame: its clip of T = 4 frames at 40x24, synthetic frames \(gradient, moving squares, "
         r"noise σ = 3\)",
         rf"  segment_queries, JSON numbers: {NUMBER} MB a request, built in {NUMBER} s",
         rf"  segment_encoded, PNG frames:   {NUMBER} MB a request, built in {NUMBER} s \(\+ {NUMBER} s to encode "
         r"each frame once\)",
         rf"  bytes, numbers / PNG: {NUMBER}x",
         rf"  gRPC segment_queries, binary tensor: {NUMBER} MB a request"),
        # 6 s on a 2-core AMD host: the default suite sends PNG frames over REST and gRPC (tests/test_predict.py)
        slow=True),
    "benchmarks/seek.py": TinyRun(
        ("--seconds", "4", "--height", "48", "--width", "64"),
        (*ENVIRONMENT,
         rf"wrote 4 s of 64x48 H.264 at 30 fps in {NUMBER} s",
         r"video: 120 frames at 30 fps",
         *(rf"frame {k} \({t} s\): seeking {NUMBER} s, decoding from the start {NUMBER} s \({NUMBER}x\); the same "
           r"frame: True" for k, t in ((12, "0.4"), (60, "2.0"), (117, "3.9")))),
        # 7 s on a 2-core AMD host: the default suite seeks to frames and compares them with a decode from the start
        # (tests/test_video.py)
        slow=True),
    "pipelines/convert.py": TinyRun(("a2d", "--root", "{root}", "--output", "{out}", "--no-progress"), CONVERTED,
                                    _check_converted),
    # 16 s on a 2-core AVX2 host. The default suite runs the same Beam pipeline on the DirectRunner in its own process
    # (tests/test_convert.py::test_beam_runner_gives_identical_shards).
    "pipelines/beam.py": TinyRun(("a2d", "--root", "{root}", "--output", "{out}", "--no-progress",
                                  "--beam-option=--runner=DirectRunner"), CONVERTED, _check_converted, slow=True),
}

SCRIPTS = discover_scripts()


# This module's JAX runs share the test process' persistent compilation cache (`jax_cache` in tests/conftest.py) and
# compile at LLVM optimisation level 0 (tests/support.py): on a CPU, building the model compiles each initializer
# shape, and the scripts build the same tiny model. Measured on a 2-core AVX2 host: gpu.py's tiny run takes 100 s cold
# and 25 s from its own cache, gpu_learning.py's 89 s cold and 69 s after gpu.py's (before level 0).
_JAX_ENV: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def jax_env(jax_cache):
    _JAX_ENV.update(jax_test_env(jax_cache))
    yield
    _JAX_ENV.clear()


def _env(extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env.update(extra)
    if env.get("KERAS_BACKEND") == "jax":
        env.update(_JAX_ENV)
    prepend = env.pop("PYTHONPATH_PREPEND", None)
    env["PYTHONPATH"] = os.pathsep.join([*filter(None, [prepend]), str(REPO),  # this checkout
                                         *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _start(args: list[str], extra_env: tuple[tuple[str, str], ...] = ()) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=REPO, env=_env(extra_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(proc.args)} ran past {TIMEOUT_S} s\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}")
    return proc.returncode, out, err


def _report(args, rc, out, err) -> str:
    return f"{' '.join(map(str, args))} -> exit {rc}\nstdout:\n{out[-4000:]}\nstderr:\n{err[-4000:]}"


def test_scripts_are_discovered():
    assert {"benchmarks/forward.py", "benchmarks/input_pipeline.py", "pipelines/convert.py",
            "pipelines/beam.py"} <= set(SCRIPTS)


def test_no_tensorflow_refuses_the_import():
    """The guard the JAX benchmarks' tiny runs are under (NO_TENSORFLOW) does refuse TensorFlow."""
    proc = subprocess.run([sys.executable, "-c", "import tensorflow"], cwd=REPO, env=_env(NO_TENSORFLOW),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "this run must not import TensorFlow" in proc.stderr, proc.stderr[-2000:]


def test_every_script_has_a_tiny_run():
    """A new script in benchmarks/ or pipelines/ needs an entry in TINY_RUNS (and a removed one loses its entry)."""
    missing = sorted(set(SCRIPTS) - set(TINY_RUNS))
    stale = sorted(set(TINY_RUNS) - set(SCRIPTS))
    assert not missing, f"scripts without a smoke test: add them to TINY_RUNS in {__file__}: {missing}"
    assert not stale, f"TINY_RUNS names scripts that no longer exist: {stale}"


_HELP_ALL = """
import contextlib, io, json, runpy, sys, traceback
sys.path.insert(0, "benchmarks")  # as `python benchmarks/X.py` puts the script's folder first
results = {}
for script in sys.argv[1:]:
    sys.argv, out, code, error = [script, "--help"], io.StringIO(), 0, ""
    with contextlib.redirect_stdout(out):
        try:
            if script.startswith("pipelines/"):
                runpy.run_module(script.removesuffix(".py").replace("/", "."), run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(script, run_name="__main__")
        except SystemExit as exit:
            code = exit.code
        except Exception:  # this script's test fails with its traceback; the others still run
            code, error = 1, traceback.format_exc()
    results[script] = [code, out.getvalue(), error]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def help_runs() -> dict[str, tuple[int, str, str]]:
    """`SCRIPT --help` of every script, each run as `python SCRIPT` runs it (as `__main__`), all in one Python: a
    process each would import TensorFlow once per script (about 10 s of CPU each on a 2-core AVX2 host)."""
    proc = subprocess.run([sys.executable, "-c", _HELP_ALL, *SCRIPTS], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {script: tuple(result) for script, result in json.loads(proc.stdout.splitlines()[-1]).items()}


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script, help_runs):
    rc, out, err = help_runs[script]
    assert rc == 0, _report([*command(script), "--help"], rc, out, err)
    assert out.startswith("usage: "), out
    assert "-h, --help" in out


@pytest.fixture(scope="module")
def a2d_world(tmp_path_factory) -> dict:
    """The tiny synthetic A2D Sentences world the pipelines convert (and the input benchmark writes itself)."""
    from acga_tf.data.synthetic import write_a2d_world

    root = tmp_path_factory.mktemp("scripts_world") / "a2d_sentences"
    return write_a2d_world(str(root), n_videos=4, seed=0)


@pytest.mark.parametrize("script", [pytest.param(s, marks=[pytest.mark.slow] if s in TINY_RUNS and TINY_RUNS[s].slow
                                                 else []) for s in SCRIPTS])
def test_tiny_run(script, request, tmp_path):
    if script not in TINY_RUNS:
        pytest.fail(f"{script} has no tiny run in TINY_RUNS")
    run = TINY_RUNS[script]
    if dict(run.env).get("KERAS_BACKEND") == "jax":
        require("jax")
    a2d_world = request.getfixturevalue("a2d_world")
    out_dir = tmp_path / "out"
    context = {"root": a2d_world["root"], "out": str(out_dir), "world": a2d_world}
    args = [*command(script), *(a.replace("{root}", context["root"]).replace("{out}", context["out"])
                                for a in run.args)]
    start = time.perf_counter()
    rc, out, err = _finish(_start(args, run.env))
    report = _report(args, rc, out, err) + f"\n({time.perf_counter() - start:.1f} s)"
    assert rc == 0, report
    lines = out.splitlines()
    for pattern in run.expect:
        for key in ("root", "out"):
            pattern = pattern.replace("{%s}" % key, re.escape(context[key]))
        for key in ("frames", "samples"):
            pattern = pattern.replace("{%s}" % key, str(a2d_world[key]))
        assert any(re.fullmatch(pattern, line) for line in lines), f"no line matches {pattern!r}\n{report}"
    if run.check is not None:
        run.check(out, context)


# About 15 s on a 2-core AMD host (the export is shared): the default suite segments through the stand-in both ways
# (tests/test_predict.py)
@pytest.mark.slow
def test_rest_payload_times_both_bodies_in_turn_through_a_server(exported_run):
    """A benchmark reviewer's: `--url` timed JSON numbers, then PNG frames, once each: a server's or a host's drift
    went to one side. Each way is now run `--repeats` times, in turn, and the medians compared."""
    from tf_serving_stand_in import TFServingStandIn

    with TFServingStandIn(exported_run, "acga") as server:
        args = [*command("benchmarks/rest_payload.py"), "--height", "24", "--width", "40", "--clip-length", "4",
                "--repeats", "2", "--frames", "2", "--url", server.url]
        rc, out, err = _finish(_start(args))
        assert rc == 0, _report(args, rc, out, err)
        # the model's T and L once, a warm-up of one frame each way, then 2 runs each way of the sentence's
        # describe_queries and a request a frame
        assert server.requests == 1 + 2 * (1 + 1) + 2 * 2 * (1 + 2)
    assert re.search(rf"acga predict through {re.escape(server.url)}, 2 frames, median of 2 interleaved runs each "
                     rf"way: JSON numbers {NUMBER} frames/s, PNG frames {NUMBER} frames/s \({NUMBER}x\)\n", out), out


@pytest.mark.slow  # about 4 minutes on 2 cores: seven tiny runs of JAX scripts, one after the other
def test_gpu_session_runs_every_step_without_tensorflow(tmp_path):
    """benchmarks/gpu_session.sh (the GPU checks in two calls, as on the GPU machine) at tiny sizes on the CPU,
    `import tensorflow` refused."""
    calls = {"first": ("gpu_float16", "patches", "mask_product", "gpu_bfloat16"),  # gpu_bfloat16: when named
             "second": ("profile", "learning", "stem")}
    logs = {}
    for call, steps in calls.items():
        env = _env(NO_TENSORFLOW)
        env.update(TINY="1", WHEELS=str(tmp_path / "no_wheels"), STEPS=" ".join(steps))
        out = tmp_path / call
        proc = subprocess.run(["bash", "benchmarks/gpu_session.sh", str(out)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        summary = (out / "summary.txt").read_text()
        assert re.findall(r"^(\w+): exit (\d+)$", summary, re.M) == [(s, "0") for s in ("hostinfo", *steps)], summary
        assert re.search(r"^backend: Keras \S+ on jax", summary, re.M), summary  # hostinfo's lines open the summary
        assert len(list(out.iterdir())) <= 8  # at most 8 files come back from the GPU machine
        logs.update({step: (out / f"{step}.log").read_text() for step in steps})
    for step, log in logs.items():
        assert log.rstrip().endswith("tensorflow imported: no"), log[-2000:]
    for step, policy, forms in (("gpu_float16", "mixed_float16", "upsample=default pool=default mask_logits=default"),
                                ("patches", "mixed_float16", "upsample=sub-pixel-patches"),
                                ("mask_product", "mixed_float16", "mask_logits=product"),
                                ("gpu_bfloat16", "mixed_bfloat16", "upsample=default")):
        assert forms in logs[step], step
        assert re.search(rf"^{policy} +training batch +1: ", logs[step], re.M), logs[step]
    assert "policy=mixed_float16" in logs["profile"]
    assert re.search(r"^mixed_float16 +training from cached features batch +1: ", logs["gpu_float16"], re.M)
    assert re.search(r"^space-to-depth-pairs +\S+ ms per batch", logs["stem"], re.M), logs["stem"]
    with tarfile.open(tmp_path / "second" / "profile.tar.gz") as bundle:  # traces and HLO texts, one file back
        names = sorted(Path(n).name for n in bundle.getnames() if "." in Path(n).name)
    assert names == ["forward.hlo.txt", "forward.xplane.pb", "gradient.hlo.txt", "gradient.xplane.pb"], names


_TRAIN_TWICE = """
import sys
sys.path.insert(0, "benchmarks")
import jax
from gpu import compile_for_training, make_batch
from acga_tf.models.acga import ACGA
from acga_tf.models.config import ACGAConfig
config = ACGAConfig.preset("tiny", image_size=32, i3d_trainable_from="Mixed_4f")
model, device = ACGA(config, dtype=sys.argv[1]), jax.devices("cpu")[0]
if sys.argv[2] == "committed":
    compile_for_training(model, device)
else:
    model.compile(jit_compile=True)
x, y = (jax.device_put(a, device) for a in make_batch(config, 2))
for _ in range(3):
    model.train_on_batch(x, y)
"""


# About a minute on a 2-core AVX2 host (two processes). The default suite's gpu.py tiny run checks that its timed
# training step compiles nothing (its lines count the programs JAX lowers); this also shows the control.
@pytest.mark.slow
def test_gpu_training_step_compiles_once():
    """benchmarks/gpu.py commits the training state to the device first (`compile_for_training`), so Keras' jitted
    train step compiles once; left uncommitted, the second step compiles it again (minutes on a GPU). In
    mixed_float16: the loss-scale optimizer's variables too."""
    counts = {}
    for state in ("committed", "uncommitted"):
        proc = subprocess.run([sys.executable, "-c", _TRAIN_TWICE, "mixed_float16", state], cwd=REPO,
                              capture_output=True, text=True, timeout=TIMEOUT_S,
                              env=_env((*NO_TENSORFLOW, ("JAX_LOG_COMPILES", "1"))))
        assert proc.returncode == 0, proc.stderr[-3000:]
        counts[state] = proc.stderr.count("Compiling jit(train_step)")
    assert counts == {"committed": 1, "uncommitted": 2}, counts


def test_gpu_flop_count(monkeypatch):
    """benchmarks/gpu.py's FLOPs (the fraction of the matmul rate it prints): 2 per multiply-add of the matrix
    products and convolutions, a transposed convolution's zeros left out, nested programs included."""
    jax = pytest.importorskip("jax")
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from gpu import flops_of

    x, w = jax.numpy.ones((1, 4, 4, 2)), jax.numpy.ones((3, 3, 2, 3))
    nhwc = ("NHWC", "HWIO", "NHWC")
    assert flops_of(lambda a, b: a @ b, jax.numpy.ones((4, 5)), jax.numpy.ones((5, 6))) == 2 * 4 * 6 * 5
    conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=nhwc))
    assert flops_of(conv, x, w) == 2 * (4 * 4 * 3) * (3 * 3 * 2)  # inside a jit: a nested program
    transposed = jax.lax.conv_transpose(x, w, (2, 2), "SAME", dimension_numbers=nhwc)
    assert transposed.shape == (1, 8, 8, 3)
    assert flops_of(lambda x, w: jax.lax.conv_transpose(x, w, (2, 2), "SAME", dimension_numbers=nhwc), x, w) == \
        2 * (4 * 4 * 2) * (3 * 3) * 3  # each input pixel meets the whole kernel once


def test_gpu_session_refuses_a_step_it_does_not_have(tmp_path):
    """A performance tester's `STEPS="profil"` ran nothing, exited 0 and left an empty profile.tar.gz: on a
    15-minute GPU loan a misspelt step passed silently. Now refused before anything runs."""
    env = _env(NO_TENSORFLOW)
    env.update(STEPS="profile profil", WHEELS=str(tmp_path / "no_wheels"))
    proc = subprocess.run(["bash", "benchmarks/gpu_session.sh", str(tmp_path / "out")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "STEPS: no step named 'profil'" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, said", [
    (("--train-batches", "1"), "--from-features needs frozen I3D blocks to cache, but i3d_trainable_from is "
                               "'Conv3d_1a_7x7': give --trainable-from Mixed_4f"),
    (("--train-batches", "0", "--trainable-from", "Mixed_4f"), "--from-features times training steps: give "
                                                               "--train-batches"),
], ids=["nothing frozen", "no training batch"])
def test_gpu_from_features_is_refused_before_anything_compiles(args, said):
    """The same tester's `--from-features` on the tiny preset (I3D trains from its first block) timed the whole model
    for a minute, then ended in a traceback from split_model; with `--train-batches 0` it was ignored silently."""
    require("jax")
    proc = subprocess.run([*command("benchmarks/gpu.py"), "--device", "cpu", "--preset", "tiny", "--image-size", "32",
                           "--batches", "1", "--runs", "1", "--from-features", *args], cwd=REPO,
                          env=_env(NO_TENSORFLOW), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert said in proc.stdout + proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "forward batch" not in proc.stdout  # nothing timed


def test_the_environment_lines_say_the_thread_settings_and_the_cpus_instructions():
    """A performance tester's: with TF_NUM_INTRAOP_THREADS=1 (which TensorFlow obeys: 1.5x slower) the header said
    "intra-op threads: TF default (one per core)" (it read `tf.config` only); "1 usable cores" under `taskset -c 0`;
    and "host: AMD EPYC" could not tell the README's AVX512-BF16 host (a 7-minute demo) from its AVX2-only one (32)."""
    run = subprocess.run([sys.executable, "benchmarks/hostinfo.py"], cwd=REPO, capture_output=True, text=True,
                         env=_env((("TF_NUM_INTRAOP_THREADS", "1"), ("OMP_NUM_THREADS", "1"))), timeout=300)
    assert run.returncode == 0, run.stderr
    backend, device, host = run.stdout.splitlines()
    assert "; threads: TF_NUM_INTRAOP_THREADS=1, OMP_NUM_THREADS=1; " in backend, backend
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if "avx512_bf16" in flags:
        assert "(AVX512-BF16" in host, host
    elif " avx2" in flags:
        assert "(AVX2 only)" in host or "(AVX512F)" in host, host


@pytest.mark.parametrize("script, argv, message", [
    ("postprocess", ["--repeats", "0"], "argument --repeats: '0' is not a whole number of at least 1"),
    ("postprocess", ["--frames", "0x0"], "--frames: '0x0' is none of 720p, 1080p, 4K UHD, nor HxW of positive sizes"),
    ("rest_payload", ["--clip-length", "0"], "argument --clip-length: '0' is not a whole number of at least 1"),
    ("rest_payload", ["--video", "/nonexistent.mp4"], "--video /nonexistent.mp4: no such file"),
    ("seek", ["--height", "47"], "--height 47 and --width 1280 must be even (H.264's 4:2:0), --seconds 600 > 0"),
    ("seek", ["--video", "/nonexistent.mp4"], "--video /nonexistent.mp4: no such file"),
    ("prepare", ["--window", "0"], "argument --window: '0' is not a whole number of at least 1"),
    ("forward", ["--queries", "2,4"], "--queries '2,4': comma-separated positive counts starting with 1"),
    ("predict_memory", ["--seconds", "0"], "--seconds and --fps must be > 0, --uhd-seconds >= 0"),
    ("predict_many", ["--fps", "0"], "--seconds 2 and --fps 0 must be > 0, --height 180 >= 16"),
])
def test_a_benchmarks_bad_option_is_one_line(script, argv, message, monkeypatch, capsys):
    """A benchmark reviewer's: `--repeats 0` was StatisticsError's traceback, `--frames 0x0` letterbox_geometry's,
    `--height 47` libx264's, a missing `--video` "its container declares no frame count" or load_video's traceback,
    `--seconds 0` "video file not found", `--queries 2,4` shown as "(2, 4)"."""
    import importlib.util  # noqa: PLC0415

    folder = Path(__file__).parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(folder))
    spec = importlib.util.spec_from_file_location(f"bench_{script}", folder / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *argv])
    with pytest.raises(SystemExit) as stopped:
        module.main() if script == "rest_payload" else module.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"{script}.py: error: {message}"), err
