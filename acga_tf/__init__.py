"""acga-tf: ACGA (Asymmetric Cross-Guided Attention, ICCV 2019) in TensorFlow/Keras 3."""

from acga_tf.config import ACGAConfig

__all__ = ["ACGAConfig"]
__version__ = "0.1.0"
