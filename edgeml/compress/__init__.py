"""Model compression: int8 conversion (PTQ); pruning and QAT build on it."""

from __future__ import annotations

from .ptq import representative_sample, to_int8_tflite

__all__ = ["to_int8_tflite", "representative_sample"]
