"""Model compression: structured and unstructured pruning, QAT and PTQ int8.

``to_int8_tflite`` (PTQ) is light and used by the search; the rest load
tensorflow-model-optimization only when they run.
"""

from __future__ import annotations

from .ptq import representative_sample, to_int8_tflite

__all__ = ["to_int8_tflite", "representative_sample", "CompressOptions", "CompressResult",
           "StageResult", "AccuracyDropError", "compress_model"]


def __getattr__(name: str):  # keep `import edgeml.compress` free of tfmot
    if name in ("CompressOptions", "CompressResult", "StageResult", "AccuracyDropError",
                "compress_model"):
        from . import chain

        return getattr(chain, name)
    raise AttributeError(f"module 'edgeml.compress' has no attribute {name!r}")
