"""acga-tf: ACGA (Asymmetric Cross-Guided Attention, ICCV 2019) in Keras 3 / TensorFlow.

    from acga_tf import ACGA, ACGAConfig, predict

The package is layered (docs/architecture.md): `ops` → `models` → `data` → `training` → `serving` → `apps` →
`cli`. The three names above are resolved on first use, so that `acga_tf.serving`'s request helpers and the
dataset readers load without the model code.
"""

import importlib

__all__ = ["ACGA", "ACGAConfig", "predict"]
__version__ = "0.1.0"

_EXPORTS = {"ACGA": "acga_tf.models.acga", "ACGAConfig": "acga_tf.models.config", "predict": "acga_tf.apps.predict"}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'acga_tf' has no attribute {name!r}")
