#!/usr/bin/env bash
# The GPU checks of benchmarks/README.md in one call, most important first, each with its own time limit, so that
# a short loan of a GPU machine returns what it could measure even when a step runs out of time.
#
#   bash benchmarks/gpu_session.sh [OUT_DIR]      # on the GPU machine, from the repository root
#   TINY=1 bash benchmarks/gpu_session.sh DIR     # the same steps at tiny sizes on the CPU (minutes; a slow test)
#
# Steps (limit): hostinfo (15 s, at the top of summary.txt); gpu_stem.py, the I3D stem's three forms at batch 32 with
# the device's own BatchNorm form (35 s: the whole-model steps then run the fastest, `--stem`); gpu.py in
# mixed_bfloat16, the figures to compare with issue 12's table, batch 32 (the targets') first, each size's training
# step right after its forward (240 s); the same forward at batch 32 with the I3D units' BatchNorms folded into their
# convs, as on a CPU (45 s); gpu.py in mixed_float16 and float32 (90 s); gpu_profile.py, where the device time of the
# forward and of forward + backward goes (60 s); tests/backend_programs/bias_gradients.py, whether the device sums
# Keras' own 16-bit bias gradients in 16 bits, as JAX and TensorFlow do on a CPU, and whether acga_tf/models/
# precision.py's layers are right (25 s; its JSON goes into summary.txt); gpu_learning.py, the demo preset at S=64
# (the setting seen to learn in 300 steps on the CPU and on the H200; the small preset did not learn there,
# benchmarks/README.md), the three policies, last because it has run on the H200 once (80 s: the rows it reaches).
# 9 minutes and 50 s in all. Learnt on the H200: in the fourth session every step after hostinfo ran out of its time, as
# gpu.py compiled extra programs for its FLOP count (now counted on the jaxpr, without compiling) and its training step
# twice (the state is now committed to the device first); the learning check compiles without XLA's convolution
# autotuning (--xla_gpu_autotune_level=0: its speed is not what it measures) and prints its compile time; in the sixth
# session, the programs with the BatchNorms separate took over 45 s to compile on a cold cache (with them folded, 14 s).
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
    gpu_one=(--device cpu --preset tiny --image-size 32 --trainable-from Mixed_4f --batches 1 --train-batches 0 --runs 1)
else
    host=(--device GPU)
    gpu=(--runs 5 --batches 32,8,1 --train-batches 32,8)  # the targets' batch size first: what a cut-off step keeps
    learning=(--preset demo --image-size 64 --steps 300 --eval-every 50)
    profile=()
    stem=(--runs 5)
    gpu_one=(--runs 5 --batches 32 --train-batches 0)
fi

step() {  # [LOG_DIR=DIR] step NAME LIMIT_SECONDS COMMAND...: the log goes to ${LOG_DIR:-$out}/NAME.log
    local name=$1 limit=$(( $2 * slack )) log="${LOG_DIR:-$out}/$1.log"
    shift 2
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
step stem 35 python3 benchmarks/gpu_stem.py "${stem[@]}"
# The whole model runs with the stem in the form just measured fastest (gpu_stem.py names it as gpu.py --stem takes it;
# the model's own choice on a GPU is space-to-depth, the fastest on the H200).
form=$(sed -n 's/^fastest form: //p' "$out/stem.log")
[ -n "$form" ] || form=default
echo "whole-model steps: --stem $form"
step gpu_bfloat16 240 python3 benchmarks/gpu.py "${gpu[@]}" --policies mixed_bfloat16 --stem "$form"
# The same forward at the first batch size with the I3D units' BatchNorms folded into their convs (the CPU's form;
# a GPU keeps them separate: measured slower folded on the H200, benchmarks/README.md).
step batch_norm_folded 45 python3 benchmarks/gpu.py "${gpu_one[@]}" --policies mixed_bfloat16 --stem "$form" \
    --batch-norm folded
step gpu_float16_float32 90 python3 benchmarks/gpu.py "${gpu[@]}" --policies mixed_float16,float32 --stem "$form"
step profile 60 python3 benchmarks/gpu_profile.py "${profile[@]}" --stem "$form" --out "$out/profile"
# The bias-gradient check's log stays behind and its JSON goes into summary.txt (few files come back).
LOG_DIR=/tmp step bias_gradients 25 python3 -m tests.backend_programs.bias_gradients --result /tmp/bias_gradients.json
cat /tmp/bias_gradients.json >> "$out/summary.txt" 2>/dev/null
# Last: it ran once on the H200 (sixth session), in 112 s for the three policies with their compilation.
XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_autotune_level=0" step learning 80 python3 benchmarks/gpu_learning.py "${learning[@]}"
tar -czf "$out/profile.tar.gz" -C "$out" profile 2>/dev/null && rm -rf "$out/profile"  # few files come back
! grep -E ": exit [0-9]+$" "$out/summary.txt" | grep -qv ": exit 0$"
