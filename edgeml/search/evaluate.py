"""Accuracy of an int8 ``.tflite`` model measured in the TFLite Micro interpreter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimate.graph import read_graph
from ..estimate.tflm import TflmResult, quantize_input, run_tflm

__all__ = ["Int8Eval", "evaluate_int8"]


@dataclass(frozen=True)
class Int8Eval:
    accuracy: float
    predictions: np.ndarray
    tflm: TflmResult


def evaluate_int8(model: bytes, x: np.ndarray, y: np.ndarray, *, bisect: bool = True) -> Int8Eval:
    """Quantize ``x`` as firmware would, run every sample in TFLM, score argmax vs ``y``."""
    graph = read_graph(model)
    inp = graph.input(0)
    if inp.dtype in ("int8", "uint8", "int16"):
        xq = quantize_input(x, inp.scale or 1.0, inp.zero_point or 0, inp.dtype)
    else:
        xq = x.astype(np.float32)
    res = run_tflm(model, xq.reshape((len(x), *inp.shape[1:])), bisect=bisect)
    out = res.outputs
    preds = np.argmax(out, axis=1) if out is not None else np.zeros(len(y), dtype=np.int64)
    acc = float(np.mean(preds == y)) if len(y) else 0.0
    return Int8Eval(accuracy=acc, predictions=preds, tflm=res)
