"""acga-tf: ACGA (Asymmetric Cross-Guided Attention, ICCV 2019) in TensorFlow/Keras 3.

    from acga_tf import ACGA, ACGAConfig, predict
"""

from acga_tf.config import ACGAConfig
from acga_tf.model import ACGA
from acga_tf.predict import predict

__all__ = ["ACGA", "ACGAConfig", "predict"]
__version__ = "0.1.0"
