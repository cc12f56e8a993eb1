"""Run models in the real TFLite Micro interpreter, in a child process.

Two services: the exact tensor-arena size of a model (the smallest arena that
allocates and invokes) and the model's int8 outputs for a batch of inputs
(for accuracy measured exactly as the firmware will compute it).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, RuntimeFailure

__all__ = ["TflmResult", "tflm_available", "run_tflm", "run_tflm_batch", "quantize_input",
           "probe_arenas", "SOFTMAX_INT8_MAX_CLASSES", "crash_detail"]

TIMEOUT_S = 600
#: TFLM's int8 SOFTMAX (reference kernel) aborts (TFLITE_CHECK on its output exponent)
#: when the exponentials of one row sum to 512 or more. Each is below 1, so a row of at
#: most 512 classes never aborts; with more, a row where many classes score alike (an
#: untrained or unsure model, or an unusual input on the device) kills the program.
SOFTMAX_INT8_MAX_CLASSES = 512


@dataclass(frozen=True)
class TflmResult:
    arena_bytes: int                 # recorded allocation total (host, 64-bit pointers)
    head_bytes: int                  # activations (non-persistent), same on any target
    tail_bytes: int                  # persistent structures (pointer-size dependent)
    parts: dict[str, dict[str, int]]
    input: dict[str, Any]
    output: dict[str, Any]
    outputs: np.ndarray | None       # raw output tensor per input sample
    bisected_bytes: int | None = None  # smallest working arena (16-byte units)
    invoke_seconds: float | None = None  # host CPU time per invoke (when timed)
    probes: dict[int, bool] | None = None  # arena size -> allocates and invokes


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


def _require() -> None:
    if not tflm_available():
        raise RuntimeFailure("the tflite-micro interpreter is not installed on this host",
                             hint="pip install tflite-micro (Linux x86-64, CPython 3.10-3.13)")


def _worker(work: Path, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return subprocess.run([sys.executable, "-m", "edgeml.tflite._tflm_worker", str(work)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def _result(result: dict[str, Any], outputs: np.ndarray | None = None) -> TflmResult:
    rec = result["recorded"]
    return TflmResult(arena_bytes=int(rec["total"]), head_bytes=int(rec.get("head", 0)),
                      tail_bytes=int(rec.get("tail", 0)), parts=rec.get("parts", {}),
                      input=result["input"], output=result["output"], outputs=outputs,
                      bisected_bytes=result.get("bisected"),
                      invoke_seconds=result.get("invoke_seconds"),
                      probes={int(k): bool(v) for k, v in result.get("probe", {}).items()} or None)


def run_tflm(model: bytes, inputs: np.ndarray | None = None, *, bisect: bool = False,
             arena_bytes: int | None = None, time_invokes: int = 0,
             probe: list[int] | None = None) -> TflmResult:
    """Run ``model`` in TFLM in a child process.

    ``inputs`` are already in the model's input dtype (see :func:`quantize_input`),
    samples first. ``bisect`` additionally searches the smallest working arena
    by probing (each probe in a fork of the child). ``time_invokes`` > 0 times
    that many invocations (best of 5 rounds, CPU time) on the host; ``probe``
    checks whether each given arena size allocates and invokes.
    """
    _require()
    with tempfile.TemporaryDirectory(prefix="edgeml-tflm-") as tmp:
        work = Path(tmp)
        with _temp_writes(work):
            (work / "model.tflite").write_bytes(model)
            if inputs is not None:
                np.save(work / "inputs.npy", np.ascontiguousarray(inputs))
            (work / "request.json").write_text(json.dumps({
                "bisect": bisect, "arena": arena_bytes or 0, "time": int(time_invokes),
                "probe": [int(n) for n in probe or []]}))
        proc = _worker(work, TIMEOUT_S)
        if proc.returncode < 0:
            raise ModelError(f"TFLite Micro crashed running the model "
                             f"({crash_detail(model, -proc.returncode)})",
                             hint="change the model to avoid that operator or size")
        if proc.returncode != 0:
            detail = _last_line(proc.stderr) or f"exit status {proc.returncode}"
            raise ModelError(f"TFLite Micro could not run the model ({detail})",
                             hint="check that the model is a valid int8 .tflite using TFLM kernels")
        result = json.loads((work / "result.json").read_text())
        outputs = np.load(work / "outputs.npy") if (work / "outputs.npy").exists() else None
    return _result(result, outputs)


def run_tflm_batch(models: list[bytes], *, bisect: bool = True,
                   probe_around: tuple[int, ...] = ()) -> list[TflmResult | ModelError]:
    """Measure several models in one child process (each in its own fork there).

    Returns one :class:`TflmResult` per model, or the :class:`ModelError` that
    model raised. ``probe_around`` also probes the smallest arena plus each offset.
    """
    _require()
    if not models:
        return []
    with tempfile.TemporaryDirectory(prefix="edgeml-tflm-") as tmp:
        work = Path(tmp)
        with _temp_writes(work):
            for i, m in enumerate(models):
                (work / f"model_{i}.tflite").write_bytes(m)
            (work / "request.json").write_text(json.dumps({
                "batch": len(models), "bisect": bisect,
                "probe_around": [int(d) for d in probe_around]}))
        proc = _worker(work, TIMEOUT_S * 4)
        if proc.returncode != 0:
            raise ModelError(f"TFLite Micro batch failed ({_last_line(proc.stderr)})",
                             hint="measure the models one by one to find the culprit")
        out: list[TflmResult | ModelError] = []
        for i in range(len(models)):
            res = json.loads((work / f"result_{i}.json").read_text())
            if res.get("signal"):
                out.append(ModelError(f"TFLite Micro crashed running the model "
                                      f"({crash_detail(models[i], int(res['signal']))})",
                                      hint="change the model to avoid that operator or size"))
            elif "error" in res:
                out.append(ModelError(f"TFLite Micro could not run the model ({res['error']})",
                                      hint="check that the model is a valid int8 .tflite "
                                           "using TFLM kernels"))
            else:
                out.append(_result(res))
    return out


def probe_arenas(model: bytes, sizes: list[int]) -> dict[int, bool]:
    """Does ``model`` allocate and invoke with each arena size? (one child process)"""
    return dict(run_tflm(model, probe=sizes).probes or {})


@contextlib.contextmanager
def _temp_writes(work: Path) -> Iterator[None]:
    """The model and its inputs go to a temporary folder for the child: a full disk there
    is the user's to fix, and says so in one line."""
    try:
        yield
    except OSError as exc:
        from .._io import output_error

        raise output_error(exc, work, hint="free some space in the temporary folder "
                                           "(or point TMPDIR elsewhere)") from exc


def crash_detail(model: bytes, signum: int) -> str:
    """What killed TFLM (the signal by name) and, where the model shows it, the operator
    or size that did: ``SIGABRT (signal 6) in SOFTMAX over 1000 classes: ...``."""
    import signal

    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = "signal"
    what = f"{name} (signal {signum})"
    try:
        from .graph import read_graph

        graph = read_graph(model)
    except Exception:  # not even readable: the signal is all there is to say
        return what
    for op in graph.ops:
        depth = op.output_shape[-1] if op.output_shape else 0
        if op.op == "SOFTMAX" and depth > SOFTMAX_INT8_MAX_CLASSES and graph.is_int8:
            return (f"{what} in {op.op} over {depth} classes: TFLite Micro's int8 SOFTMAX "
                    f"aborts when a row's exponentials sum to 512 or more, which more than "
                    f"{SOFTMAX_INT8_MAX_CLASSES} classes can reach")
    biggest = max(graph.ops, key=lambda o: o.out_elements, default=None)
    ops = ", ".join(dict.fromkeys(graph.op_names))
    size = (f"; largest output {'x'.join(map(str, biggest.output_shape))} from "
            f"{biggest.op}" if biggest is not None else "")
    return f"{what}; operators {ops}{size}"


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
