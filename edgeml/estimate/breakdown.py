"""A model's estimate broken down per operator, as a plain dictionary
(what ``edgeml profile`` shows).

The JSON keys other tools read: ``target``, ``fits``, ``flash_bytes``,
``ram_bytes``, ``arena_bytes``, ``latency_ms``, ``energy_uj``, ``macs``,
``ops``, ``unsupported_ops``, ``violations`` (name -> amount over; > 0 is
broken) and ``layers`` (per operator: ``op``, ``layer``, ``output_shape``,
``macs``, ``params``, ``cycles``, ``latency_ms``, ``share``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..targets import Target
from ..tflite.graph import keras_layer_name, read_graph
from .constraints import Limits, describe_violation, feasible, violations
from .model import estimate_model
from .result import Estimate

__all__ = ["model_breakdown", "breakdown_dict"]


def model_breakdown(path: str | Path, target: Target, *, limits: Limits | None = None,
                  measure: bool | None = None) -> dict[str, Any]:
    """Read ``path``, check it can run on ``target`` at all, estimate it, report."""
    p = Path(path)
    if p.is_dir():
        inside = p / "model.tflite"
        raise ModelError(f"model file {str(path)!r} is a folder",
                         hint="pass the path of a .tflite file"
                              + (f" (e.g. {inside})" if inside.is_file() else ""))
    if not p.is_file():
        raise ModelError(f"model file {str(path)!r} does not exist",
                         hint="pass the path of a .tflite file")
    data = p.read_bytes()
    graph = read_graph(data, where=str(p))
    if target.int8_only and not graph.is_int8:
        floats = sorted({t.dtype for t in graph.tensors if t.dtype in ("float32", "float16")})
        io = [graph.input(i).dtype for i in range(len(graph.inputs))]
        raise ModelError(f"{p.name} is not a full-int8 model ({'/'.join(floats) or 'non-int8'} "
                         f"tensors, input {'/'.join(io)}) but {target.name} runs int8 kernels only",
                         hint="convert with full-integer quantization (edgeml's int8 export, or "
                              "TFLiteConverter with a representative dataset and int8 input/output)")
    est = estimate_model(data, target, where=str(p), measure=measure, on_tflm_error="analytic",
                         graph=graph)
    return breakdown_dict(est, target, limits=limits)


def breakdown_dict(est: Estimate, target: Target, *, limits: Limits | None = None) -> dict[str, Any]:
    v = violations(target, est, limits)
    total = sum(layer.latency_ms for layer in est.layers) or 1.0
    layers = [{"index": i, "op": layer.op, "layer": keras_layer_name(layer.layer, layer.op),
               "tensor": layer.layer, "output_shape": list(layer.output_shape),
               "macs": layer.macs, "params": layer.params, "cycles": round(layer.cycles, 1),
               "latency_ms": layer.latency_ms, "share": layer.latency_ms / total}
              for i, layer in enumerate(est.layers)]
    arena = est.arena.as_dict() if est.arena is not None else {}
    return {
        "target": target.name,
        "fits": feasible(v),
        "flash_bytes": est.flash_bytes,
        "ram_bytes": est.ram_bytes,
        "arena_bytes": est.arena_bytes,
        "latency_ms": est.latency_ms,
        "energy_uj": est.energy_uj,
        "macs": est.macs,
        "params": est.params,
        "ops": list(est.ops),
        "unsupported_ops": list(est.unsupported_ops),
        "unsupported_layers": list(est.unsupported_layers),
        "violations": v,
        "broken": [describe_violation(k, a, est, target) for k, a in v.items() if a > 0],
        "layers": layers,
        "model_bytes": est.model_bytes,
        "code_bytes": est.code_bytes,
        "int8": est.int8,
        "source": est.source,
        "arena": arena,
        "latency_model": est.latency_model,
        "budget": {"model_flash_bytes": target.model_flash_budget,
                   "arena_bytes": target.arena_budget,
                   "flash_bytes": target.flash_bytes, "ram_bytes": target.ram_bytes},
        "accelerator": est.accelerator,
        "notes": list(est.notes),
    }
