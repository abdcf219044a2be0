"""Makes `import tensorflow` fail in a process that has this folder on `PYTHONPATH` (Python imports
`sitecustomize` at start-up), the way it fails on a machine without TensorFlow: tests/test_scripts.py runs the JAX
benchmarks with it, so a TensorFlow import anywhere on their path is an error, not a silent success."""

import sys


class _NoTensorFlow:
    """A `sys.meta_path` finder that refuses `tensorflow` and its submodules."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError(f"import {name}: refused (tests/no_tensorflow: this run must not import TensorFlow)")
        return None


sys.meta_path.insert(0, _NoTensorFlow())
