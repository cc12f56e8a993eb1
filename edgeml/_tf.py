"""Lazy, correctly configured TensorFlow imports.

tensorflow-model-optimization needs Keras 2 (``tf_keras``), so the legacy-Keras
switch must be set before TensorFlow is first imported. Everything in edgeml
that needs TensorFlow goes through these two functions; nothing imports it at
module import time (``edgeml --help`` stays fast).
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

__all__ = ["tf", "keras", "set_seed"]


def _configure() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


def tf() -> Any:
    _configure()
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # TensorFlow's C++ start-up writes CUDA probing and CPU-feature lines straight
    # to fd 2 before any log level applies; keep them off the user's terminal
    # unless the import fails.
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            import tensorflow
        except BaseException:
            os.dup2(saved, 2)
            tmp.seek(0)
            sys.stderr.write(tmp.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    tensorflow.get_logger().setLevel("ERROR")
    return tensorflow


def keras() -> Any:
    _configure()
    tf()
    import tf_keras

    return tf_keras


def set_seed(seed: int) -> None:
    keras().utils.set_random_seed(int(seed))
