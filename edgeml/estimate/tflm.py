"""Run models in the real TFLite Micro interpreter, in a child process.

Two services: the exact tensor-arena size of a model (the smallest arena that
allocates and invokes) and the model's int8 outputs for a batch of inputs
(for accuracy measured exactly as the firmware will compute it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, RuntimeFailure

__all__ = ["TflmResult", "tflm_available", "run_tflm", "quantize_input"]

TIMEOUT_S = 600


@dataclass(frozen=True)
class TflmResult:
    arena_bytes: int                 # recorded allocation total (host, 64-bit pointers)
    head_bytes: int                  # activations (non-persistent), same on any target
    tail_bytes: int                  # persistent structures (pointer-size dependent)
    parts: dict[str, dict[str, int]]
    input: dict[str, Any]
    output: dict[str, Any]
    outputs: np.ndarray | None       # raw output tensor per input sample
    bisected_bytes: int | None = None


@lru_cache(maxsize=1)
def tflm_available() -> bool:
    try:
        import tflite_micro.python.tflite_micro.runtime  # noqa: F401
    except Exception:
        return False
    return True


def quantize_input(x: np.ndarray, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    """Quantize float model inputs the way firmware does (round, clamp)."""
    info = np.iinfo(np.dtype(dtype))
    q = np.round(np.asarray(x, dtype=np.float64) / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def run_tflm(model: bytes, inputs: np.ndarray | None = None, *, bisect: bool = False,
             arena_bytes: int | None = None) -> TflmResult:
    """Run ``model`` in TFLM in a child process.

    ``inputs`` are already in the model's input dtype (see :func:`quantize_input`),
    samples first. ``bisect`` additionally searches the smallest working arena
    by probing (each probe in a fork of the child).
    """
    if not tflm_available():
        raise RuntimeFailure("the tflite-micro interpreter is not installed on this host",
                             hint="pip install tflite-micro (Linux x86-64, CPython 3.10-3.13)")
    with tempfile.TemporaryDirectory(prefix="edgeml-tflm-") as tmp:
        work = Path(tmp)
        (work / "model.tflite").write_bytes(model)
        if inputs is not None:
            np.save(work / "inputs.npy", np.ascontiguousarray(inputs))
        (work / "request.json").write_text(json.dumps({"bisect": bisect,
                                                       "arena": arena_bytes or 0}))
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        proc = subprocess.run([sys.executable, "-m", "edgeml.estimate._tflm_worker", str(work)],
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
        if proc.returncode != 0:
            detail = _last_line(proc.stderr) or f"exit status {proc.returncode}"
            if proc.returncode < 0:
                detail = f"killed by signal {-proc.returncode}; {detail}"
            raise ModelError(f"TFLite Micro could not run the model ({detail})",
                             hint="check that the model is a valid int8 .tflite using TFLM kernels")
        result = json.loads((work / "result.json").read_text())
        outputs = np.load(work / "outputs.npy") if (work / "outputs.npy").exists() else None
    rec = result["recorded"]
    return TflmResult(arena_bytes=int(rec["total"]), head_bytes=int(rec.get("head", 0)),
                      tail_bytes=int(rec.get("tail", 0)), parts=rec.get("parts", {}),
                      input=result["input"], output=result["output"], outputs=outputs,
                      bisected_bytes=result.get("bisected"))


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
