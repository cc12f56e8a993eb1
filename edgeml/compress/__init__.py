"""Model compression: structured and unstructured pruning and QAT, each stage
checked as an int8 model in TFLite Micro.

The stages load tensorflow-model-optimization only when they run. Post-training
int8 conversion lives in :mod:`edgeml.tflite.int8` (the search and the estimates
use it too); its two names stay importable from here.
"""

from __future__ import annotations

from ..tflite.int8 import representative_sample, to_int8_tflite

__all__ = ["to_int8_tflite", "representative_sample", "CompressOptions", "CompressResult",
           "StageResult", "AccuracyDropError", "compress_model"]


def __getattr__(name: str):  # keep `import edgeml.compress` free of tfmot
    if name in ("CompressOptions", "CompressResult", "StageResult", "AccuracyDropError",
                "compress_model"):
        from . import chain

        return getattr(chain, name)
    raise AttributeError(f"module 'edgeml.compress' has no attribute {name!r}")
