"""Tests of acga_tf/ops/native_log.py: TensorFlow's start-up lines kept off the `acga` command's stderr."""

import os
import subprocess
import sys

import pytest

from acga_tf.ops import native_log

# Lines as TensorFlow 2.21 printed them on `import tensorflow` and at the first device query (this host, no GPU).
START_UP = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            b"I0000 00:00:1796205421.690931    5688 port.cc:153] oneDNN custom operations are on. You may see ...\n"
            b"I0000 00:00:1796205421.691245    5688 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n")
CUINIT = (b"E0000 00:00:1796205537.740736    8085 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
          b"Failed call to cuInit: UNKNOWN ERROR (303)\n")
KEPT = (b"W0000 00:00:1796205537.740736    8085 some_op.cc:12] a warning stays\n"
        b"a Python warning stays\n"
        b"I said: a line that only starts with I stays\n")


def test_the_filter_drops_only_the_start_up_lines_and_holds_the_cuda_one(capfd):
    held = len(native_log.held_lines())
    with native_log.filtered_stderr():
        os.write(2, START_UP + KEPT[:40])
        os.write(2, KEPT[40:] + CUINIT + b"no newline at the end")
    out, err = capfd.readouterr()
    assert err.encode() == KEPT + b"no newline at the end"
    # without Abseil's prefix (`acga -v` logged "no usable GPU, running on the CPU: E0000 00:00:1796205537.740736 ...")
    assert native_log.held_lines()[held:] == ["failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: "
                                              "UNKNOWN ERROR (303)"]
    os.write(2, START_UP)  # outside the block nothing is filtered
    assert capfd.readouterr().err.encode() == START_UP



def test_a_closed_stderr_is_left_alone():
    """`acga ... 2>&-`: before, the import itself failed (os.dup of a closed descriptor)."""
    program = ("import os; os.close(2)\n"
               "from acga_tf.ops import native_log\n"
               "native_log.import_tensorflow_quietly(); print('imported')")
    env = {k: v for k, v in os.environ.items() if k != native_log.LEVEL_VARIABLE}
    proc = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout == "imported\n", proc


_WARNS = r"""
import os, sys
sys.argv = ["acga", *sys.argv[2:]]  # the command line the module reads as it loads
bad = os.environ["BAD_SHARD"]
import acga_tf.cli  # noqa: F401  (imports TensorFlow as the command does)
import tensorflow as tf
try:
    list(tf.data.TFRecordDataset(bad))
except tf.errors.DataLossError:
    print("refused")
"""


@pytest.mark.slow  # (24 s in the suite): the default suite checks that a user error is a fresh command's only stderr
# line (tests/reliability) and the filter's lines here
def test_the_command_keeps_tensorflows_warnings_off_stderr_unless_asked(tmp_path):
    """A Unix user's and a shard reader's: a user error's one line came after TensorFlow's "W0000 ...
    local_rendezvous.cc:412] Local rendezvous is aborting with status: ..." (on a full disk, naming TensorFlow's own
    temporary file). `acga -v` and `--debug` show them; `TF_CPP_MIN_LOG_LEVEL` set by the user is kept."""
    (tmp_path / "text.tfrecord").write_text("not a record\n")
    env = {k: v for k, v in os.environ.items() if k != native_log.LEVEL_VARIABLE}
    env.update(BAD_SHARD=str(tmp_path / "text.tfrecord"), CUDA_VISIBLE_DEVICES="")
    for extra, level in (({}, None), ({}, "-v"), ({native_log.LEVEL_VARIABLE: "1"}, None),
                         ({native_log.LEVEL_VARIABLE: "abc"}, None)):  # not a level: as unset (TensorFlow read 0)
        argv = [sys.executable, "-c", _WARNS, "-", *([level, "predict"] if level else ["predict"])]
        proc = subprocess.run(argv, env={**env, **extra}, capture_output=True, text=True, timeout=300)
        assert proc.stdout == "refused\n", proc.stderr
        shown = level or extra.get(native_log.LEVEL_VARIABLE) == "1"
        assert ("Local rendezvous is aborting" in proc.stderr) == bool(shown), (extra, level, proc.stderr)
        assert "To enable the following instructions" not in proc.stderr or shown, proc.stderr
