"""int8 models: a ``tf_keras`` model -> fully int8 ``.tflite`` bytes (post-training
quantization), and the accuracy of those bytes measured in the TFLite Micro interpreter.

The search, the compression stages and the estimate's reference models all
convert the same way, and all score the int8 model the way the firmware runs it.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write
from .._tf import tf as _tf
from ..errors import RuntimeFailure
from .graph import read_graph
from .tflm import TflmResult, quantize_input, run_tflm

__all__ = ["to_int8_tflite", "representative_sample", "Int8Eval", "evaluate_int8", "int8_proba",
           "PROBA_FILE", "save_proba", "load_proba"]

#: a trained trial's dequantized TFLM outputs on the validation split, beside its
#: ``model.tflite`` (the ensemble stage reads them instead of running TFLM again)
PROBA_FILE = "int8_proba.npz"


def representative_sample(x: np.ndarray, *, n: int = 200, seed: int = 0) -> np.ndarray:
    """A fixed, reproducible subset of ``x`` for calibrating activation ranges."""
    if len(x) <= n:
        return x
    idx = np.random.default_rng(seed).choice(len(x), size=n, replace=False)
    return x[np.sort(idx)]


def to_int8_tflite(model: Any, calibration: np.ndarray) -> bytes:
    """Convert ``model`` to a fully int8 TFLite flatbuffer (int8 input and output).

    The model is traced with a fixed batch of 1 so the graph has no dynamic
    shape ops (SHAPE / STRIDED_SLICE / PACK) that MCU runtimes may lack.
    """
    tf = _tf()
    shape = (1, *model.input_shape[1:])
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32))
    # The converter saves its trackable object as a SavedModel first. Handed the Keras
    # model, that export traces every layer's call again (about 80% of a conversion);
    # a plain module that holds the same variables exports the same graph, so the bytes
    # are identical, in a third to a quarter of the time.
    holder = tf.Module()
    holder.variables_of_model = list(model.variables)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    calib = np.asarray(calibration, dtype=np.float32)

    def rep():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    converter.representative_dataset = rep
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        with _quiet_fd2():
            return bytes(converter.convert())
    except Exception as exc:  # converter errors are long MLIR dumps
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise RuntimeFailure(f"int8 conversion failed ({first})",
                             hint="the model uses a layer the TFLite int8 converter cannot map") from exc


@dataclass(frozen=True)
class Int8Eval:
    accuracy: float
    predictions: np.ndarray
    tflm: TflmResult
    proba: np.ndarray | None = None  # dequantized outputs, one row per sample


def _run(model: bytes, x: np.ndarray, *, bisect: bool) -> tuple[np.ndarray | None, TflmResult]:
    """Quantize ``x`` as firmware would, run every sample in TFLM; the dequantized outputs
    (float64, one row per sample) and the run."""
    graph = read_graph(model)
    inp, out = graph.input(0), graph.output(0)
    if inp.dtype in ("int8", "uint8", "int16"):
        xq = quantize_input(x, inp.scale or 1.0, inp.zero_point or 0, inp.dtype)
    else:
        xq = np.asarray(x, np.float32)
    res = run_tflm(model, xq.reshape((len(x), *inp.shape[1:])), bisect=bisect)
    if res.outputs is None:
        return None, res
    o = np.asarray(res.outputs, np.float64).reshape(len(x), -1)
    if out.dtype in ("int8", "uint8", "int16"):
        o = (o - float(out.zero_point or 0)) * float(out.scale or 1.0)
    return o, res


def evaluate_int8(model: bytes, x: np.ndarray, y: np.ndarray, *, bisect: bool = True) -> Int8Eval:
    """Quantize ``x`` as firmware would, run every sample in TFLM, score argmax vs ``y``."""
    proba, res = _run(model, x, bisect=bisect)
    # a positive scale keeps the order (and the ties) of the raw outputs
    preds = np.argmax(proba, axis=1) if proba is not None else np.zeros(len(y), dtype=np.int64)
    acc = float(np.mean(preds == y)) if len(y) else 0.0
    return Int8Eval(accuracy=acc, predictions=preds, tflm=res, proba=proba)


def int8_proba(model: bytes, x: np.ndarray) -> np.ndarray:
    """The dequantized outputs (class probabilities) of an int8 ``.tflite`` on ``x``, run
    in TFLM as the firmware runs it."""
    proba, _ = _run(model, x, bisect=False)
    if proba is None:
        raise RuntimeFailure("TFLite Micro returned no outputs",
                             hint="check that the model has one output tensor")
    return proba


def _proba_key(model: bytes, x: np.ndarray) -> str:
    """What a cached output set belongs to: the model's bytes and the inputs."""
    xc = np.ascontiguousarray(x)
    h = hashlib.sha256(model)
    h.update(repr((xc.shape, xc.dtype.str)).encode())
    h.update(xc.data)
    return h.hexdigest()


def save_proba(path: str | Path, model: bytes, x: np.ndarray, proba: np.ndarray) -> Path:
    """Keep ``proba`` (the outputs of ``model`` on ``x``) in ``path`` (:func:`load_proba`)."""
    buf = io.BytesIO()
    np.savez(buf, key=np.array(_proba_key(model, x)), proba=np.asarray(proba, np.float64))
    return atomic_write(path, buf.getvalue())


def load_proba(path: str | Path, model: bytes, x: np.ndarray) -> np.ndarray | None:
    """The outputs :func:`save_proba` kept in ``path`` if they are those of ``model`` on
    ``x``; None otherwise (no file, an unreadable one, another model or other inputs)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            key, proba = str(data["key"]), np.asarray(data["proba"], np.float64)
    except Exception:  # a cache: whatever is wrong with the file, the outputs are computed
        return None
    if key != _proba_key(model, x) or proba.ndim != 2 or len(proba) != len(x):
        return None
    return proba


class _quiet_fd2:
    """Silence the converter's C++ logging on fd 2 (restored afterwards)."""

    def __enter__(self) -> None:
        import sys

        sys.stderr.flush()
        self._saved = os.dup(2)
        self._tmp = tempfile.TemporaryFile()
        os.dup2(self._tmp.fileno(), 2)

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.close()
