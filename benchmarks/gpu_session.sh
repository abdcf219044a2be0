#!/usr/bin/env bash
# The GPU checks of benchmarks/README.md in one or two calls, most important first, each with its own time limit, so
# that a short loan of a GPU machine returns what it could measure even when a step runs out of time.
#
#   bash benchmarks/gpu_session.sh [OUT_DIR]      # on the GPU machine, from the repository root
#   STEPS="profile learning" bash benchmarks/gpu_session.sh [OUT_DIR]   # some steps only (hostinfo always runs)
#   TINY=1 bash benchmarks/gpu_session.sh DIR     # the same steps at tiny sizes on the CPU (minutes; a slow test)
#
# Steps (limit): hostinfo (15 s, at the top of summary.txt); gpu_float16: gpu.py in mixed_float16 (the policy
# `--mixed-precision` picks on a GPU) at batch 32, the forward and the training step of issue 12's targets in the
# model's own forms, then the training step from cached features (`--from-features`: `acga train --feature-cache`,
# whose steps skip the frozen I3D blocks) (240 s: its first calls compile with a cold cache; at 150 s a process that
# had printed every figure of the whole model was cut off before it ended); patches: the whole model with the
# sub-pixel upsampling's 2x2 convolution as one matrix product over 2x2 patches (`--upsample sub-pixel-patches`,
# 140 s: the kernel gradient of that convolution ran at about 280 TFLOP/s, 8 ms of a 115 ms training step);
# mask_product: the same with the mask branches' 1x1 convolutions to one channel as matrix products
# (`--mask-logits product`, 140 s); profile: gpu_profile.py in mixed_float16, where the device time of the forward
# and of forward + backward goes (60 s); learning: gpu_learning.py, the demo preset at S=64 in float32 and
# mixed_float16 (110 s: 95 s with its start on the H200); stem: gpu_stem.py, the stem alone in each form, the new one
# computing two output frames at once (`space-to-depth-pairs`, 60 s; the stem is a third of the forward's device
# time; in mixed_bfloat16, as its earlier figures). 12 minutes and 45 s in all, over one call's 10 minutes: run them
# in two calls, STEPS="gpu_float16 patches mask_product" (9 min 10 s with the kills' grace: under 10), then, on the
# machine still warm (its compilation cache kept), STEPS="profile learning stem" (4 min 5 s). gpu_bfloat16 (gpu.py
# in mixed_bfloat16, 150 s) runs only when STEPS names it; a name that is no step is refused. Settled on the H200 and
# left out since (benchmarks/README.md, 2026-12-04): the stem's form (gpu_stem.py: space to depth), the BatchNorms
# separate, Keras' 16-bit bias gradients (summed in float32 there:
# tests/backend_programs/bias_gradients.py), the sub-pixel upsampling (`--upsample`: 1.08x forward, 1.05x
# training), the separable max-pools (`--pool`: 1.04x forward), float32's and mixed_bfloat16's figures.
# Learnt on the H200: a cold compilation of the paper preset's training step at batch 32 takes 70 to 80 s with XLA's
# autotuning, its forward 30 to 60 s; gpu.py counts FLOPs on the jaxpr (compiling nothing more) and commits the
# training state to the device first (or the step compiles twice); the learning check compiles without autotuning
# (--xla_gpu_autotune_level=0: its speed is not what it measures) and prints its compile time.
# A step cut off keeps the lines it printed. Each step's output goes to OUT_DIR/<step>.log (default: $OUT where it is
# set, else gpu_session_out), the profiler's traces and HLO texts to OUT_DIR/profile.tar.gz, and summary.txt lists each
# step's exit status (124: out of time). The steps share JAX's persistent compilation cache (/tmp/jax_cache), so a
# program one step compiled is not compiled again by the next (its "first call" time then measures a cache hit).
#
# Runs under JAX without TensorFlow (see benchmarks/README.md). A machine that cannot reach a package registry gets
# Keras' pure-Python wheels from a folder: WHEELS=DIR (default: .whl when it exists) is installed into /tmp/site
# first. Download them where pip works, for the GPU machine's Python (3.12 here):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl keras==3.15.1 namex optree
set -uo pipefail

steps=" ${STEPS:-gpu_float16 patches mask_product profile learning stem} "
known=" gpu_float16 patches mask_product profile learning stem gpu_bfloat16 "
for name in $steps; do  # a misspelt step would run nothing and pass: refused before anything runs
    [[ "$known" == *" $name "* ]] || { echo "STEPS: no step named '$name' (the steps:$known)" >&2; exit 2; }
done
out=${1:-${OUT:-gpu_session_out}}
mkdir -p "$out"
wheels=${WHEELS:-.whl}
if [ -d "$wheels" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$wheels"/*.whl || { echo "installing the wheels of $wheels failed" >&2; exit 1; }
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD/benchmarks:$PWD:${PYTHONPATH:-} KERAS_BACKEND=jax PYTHONUNBUFFERED=1
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/jax_cache} JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
    JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0

slack=1
if [ "${TINY:-0}" = 1 ]; then  # the tiny runs of benchmarks/README.md, on the CPU (a shared CPU: 4x the limits)
    slack=4
    host=(--device CPU)
    gpu=(--device cpu --preset tiny --image-size 32 --trainable-from Mixed_4f --batches 1 --train-batches 1 --runs 1)
    learning=(--device cpu --preset tiny --steps 3 --eval-every 1 --image-size 32 --trainable-from Mixed_4f
              --batch 2 --eval-clips 4)
    profile=(--device cpu --preset tiny --image-size 32 --trainable-from Mixed_4f --batch 2 --steps 1)
    stem=(--device cpu --preset tiny --image-size 32 --batch 2 --runs 1)
else
    host=(--device GPU)
    gpu=(--runs 5 --batches 32 --train-batches 32)  # issue 12's targets are at batch 32
    learning=(--preset demo --image-size 64 --steps 300 --eval-every 50 --policies float32,mixed_float16)
    profile=()
    stem=(--runs 5)
fi

step() {  # step NAME LIMIT_SECONDS COMMAND...: the log goes to $out/NAME.log; a step STEPS leaves out does not run
    local name=$1 limit=$(( $2 * slack )) log="$out/$1.log"
    shift 2
    [[ "$steps" == *" $name "* ]] || return 0
    echo "== $name (limit ${limit} s): $*"
    timeout -k 10 "$limit" "$@" > "$log" 2>&1
    local status=$?
    tail -n 40 "$log"
    echo "$name: exit $status" | tee -a "$out/summary.txt"
}

# hostinfo's lines open summary.txt (few files come back from a GPU machine)
echo "== hostinfo (limit $(( 15 * slack )) s)"
timeout -k 5 $(( 15 * slack )) python3 benchmarks/hostinfo.py "${host[@]}" > "$out/summary.txt" 2>&1
echo "hostinfo: exit $?" | tee -a "$out/summary.txt"
cat "$out/summary.txt"
step gpu_float16 240 python3 benchmarks/gpu.py "${gpu[@]}" --policies mixed_float16 --from-features
step patches 140 python3 benchmarks/gpu.py "${gpu[@]}" --policies mixed_float16 --upsample sub-pixel-patches
step mask_product 140 python3 benchmarks/gpu.py "${gpu[@]}" --policies mixed_float16 --mask-logits product
step profile 60 python3 benchmarks/gpu_profile.py "${profile[@]}" --policy mixed_float16 --out "$out/profile"
XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_autotune_level=0" step learning 110 python3 benchmarks/gpu_learning.py "${learning[@]}"
step stem 60 python3 benchmarks/gpu_stem.py "${stem[@]}"
step gpu_bfloat16 150 python3 benchmarks/gpu.py "${gpu[@]}" --policies mixed_bfloat16
[ -d "$out/profile" ] && tar -czf "$out/profile.tar.gz" -C "$out" profile && rm -rf "$out/profile"  # few files back
! grep -E ": exit [0-9]+$" "$out/summary.txt" | grep -qv ": exit 0$"
