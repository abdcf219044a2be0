"""acga-tf: ACGA (Asymmetric Cross-Guided Attention, ICCV 2019) in TensorFlow/Keras 3.

    from acga_tf import ACGA, ACGAConfig, predict

`ACGA` is imported on first use, so that light modules (`acga_tf.serving`, the readers) do not load the model.
"""

from acga_tf.config import ACGAConfig
from acga_tf.predict import predict  # eager: the function shadows its module's name (predict.py imports no TF)

__all__ = ["ACGA", "ACGAConfig", "predict"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "ACGA":
        from acga_tf.model import ACGA

        return ACGA
    raise AttributeError(f"module 'acga_tf' has no attribute {name!r}")
