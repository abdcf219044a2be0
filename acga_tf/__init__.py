"""acga-tf: ACGA (Asymmetric Cross-Guided Attention, ICCV 2019) in Keras 3 / TensorFlow.

    from acga_tf import ACGA, ACGAConfig, InputError, predict

The package is layered (docs/architecture.md): `ops` → `models` → `data` → `training` → `serving` → `apps` →
`cli`. The four names above are resolved on first use, so that `acga_tf.serving`'s request helpers and the
dataset readers load without the model code.
"""

import importlib
import os
import sys

# TensorFlow's oneDNN CPU kernels: on Linux, TensorFlow 2.21 turns them on by itself only on CPUs with AVX512-VNNI,
# AVX512-BF16, AVX-VNNI or AMX (tensorflow/core/util/port.cc), so not on the many AVX2-only ones, and it reads
# TF_ENABLE_ONEDNN_OPTS once, when it loads. On an AVX2-only AMD EPYC the demo's float32 training step took 3.1x as
# long with them off (2.36 s against 0.75 s; docs/training.md#cpu). So they are turned on here, before any module of
# the package loads TensorFlow; a value the user set is kept, and a process that loaded TensorFlow first keeps
# TensorFlow's choice (`fit` then says so: `acga_tf.ops.devices.onednn_hint`).
if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__all__ = ["ACGA", "ACGAConfig", "InputError", "predict"]
__version__ = "0.1.0"

_EXPORTS = {"ACGA": "acga_tf.models.acga", "ACGAConfig": "acga_tf.models.config", "predict": "acga_tf.apps.predict",
            "InputError": "acga_tf.ops.exceptions"}


def __dir__():
    """The package's public names (`dir(acga_tf)` listed only its own imports: the exports load on first use)."""
    return sorted([*__all__, "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'acga_tf' has no attribute {name!r}")
