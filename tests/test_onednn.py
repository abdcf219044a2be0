"""TensorFlow's oneDNN CPU kernels (docs/training.md#cpu): `import acga_tf` turns them on where TensorFlow leaves
them off, keeps a user's choice, and `onednn_hint` says so where TensorFlow was loaded first.

Each case runs in a fresh Python: TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once, when it loads.
"""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os, sys
{first}
import acga_tf
from acga_tf.ops.devices import onednn_enabled, onednn_hint
seen = {{"env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"), "enabled": onednn_enabled(), "hint": onednn_hint()}}
print(json.dumps(seen))
"""


def _probe(first: str = "", env_value: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env.update({"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""})
    if env_value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = env_value
    done = subprocess.run([sys.executable, "-c", PROBE.format(first=first)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_acga_tf_first_turns_onednn_on():
    seen = _probe()
    assert seen == {"env": "1", "enabled": True, "hint": None}


def test_a_users_choice_is_kept_and_not_argued_with():
    seen = _probe(env_value="0")
    assert seen == {"env": "0", "enabled": False, "hint": None}


@pytest.mark.parametrize("value", ["0", "false", " False "])
def test_the_hint_reads_each_spelling_of_a_users_no(value, monkeypatch):
    """In-process (a fresh Python each would import TensorFlow again): TensorFlow reads "false" as "0" too."""
    from acga_tf.ops import devices

    monkeypatch.setattr(devices, "onednn_enabled", lambda: False)
    monkeypatch.setattr(devices, "gpu_description", lambda: None)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert "TF_ENABLE_ONEDNN_OPTS=1" in devices.onednn_hint()  # off, and not the user's choice: the hint
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", value)
    assert devices.onednn_hint() is None


def test_tensorflow_loaded_first_keeps_its_choice_and_the_hint_says_what_to_do():
    seen = _probe(first="import tensorflow")
    assert seen["env"] is None  # too late to change: acga_tf leaves the environment alone
    if seen["enabled"]:  # a CPU where TensorFlow turns oneDNN on by itself (AVX512 VNNI/BF16, AMX): nothing to say
        assert seen["hint"] is None
    else:  # e.g. an AVX2-only CPU: one line naming both fixes
        assert "oneDNN CPU kernels are off" in seen["hint"] and "TF_ENABLE_ONEDNN_OPTS=1" in seen["hint"]
        assert "import acga_tf before tensorflow" in seen["hint"] and "\n" not in seen["hint"]
