"""The result of an estimate: one model on one target, in numbers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..targets import Target
from ..tflite.graph import Graph, keras_layer_name
from .arena import ArenaEstimate

__all__ = ["Estimate", "LayerCost", "assemble_estimate"]


@dataclass(frozen=True)
class LayerCost:
    op: str
    layer: str
    output_shape: tuple[int, ...]
    macs: int
    params: int
    cycles: float
    latency_ms: float


@dataclass(frozen=True)
class Estimate:
    target: str
    model_bytes: int          # the .tflite flatbuffer
    code_bytes: int           # TFLM core + kernels' code in flash
    flash_bytes: int          # model_bytes + code_bytes
    arena_bytes: int          # smallest tensor arena that allocates and invokes
    ram_bytes: int            # arena + runtime RAM outside the arena
    latency_ms: float
    energy_uj: float
    macs: int
    params: int
    ops: tuple[str, ...]
    unsupported_ops: tuple[str, ...]
    unsupported_layers: tuple[str, ...]
    int8: bool
    source: str               # "tflm" (measured arena), "analytic" or "vela"
    layers: tuple[LayerCost, ...] = field(default=(), repr=False)
    arena: ArenaEstimate | None = field(default=None, repr=False)  # host/target breakdown
    latency_model: str = ""   # "calibrated", "derived from <target>", "prior (not calibrated)"
    accelerator: dict[str, Any] = field(default_factory=dict, repr=False)  # NPU (Vela) numbers
    notes: tuple[str, ...] = ()

    def as_dict(self, *, layers: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not layers:
            d.pop("layers")
        return d


def assemble_estimate(graph: Graph, target: Target, *, arena_bytes: int, source: str,
                      latency_ms: float, layers: tuple[LayerCost, ...],
                      arena: ArenaEstimate | None, notes: tuple[str, ...] = (),
                      model_bytes: int | None = None, accelerator: dict[str, Any] | None = None,
                      ops: tuple[str, ...] | None = None,
                      runs_on_cpu: tuple[str, ...] | None = None,
                      latency_model: str | None = None) -> Estimate:
    """The :class:`Estimate` of ``graph`` on ``target`` from its arena and latency:
    flash (model + the runtime's and the used kernels' code), RAM, energy and the
    operators the target's runtime lacks."""
    ops = graph.op_names if ops is None else ops
    cpu = graph.op_names if runs_on_cpu is None else runs_on_cpu
    unsupported = tuple(op for op in dict.fromkeys(cpu) if op not in target.ops)
    bad_layers = tuple(dict.fromkeys(keras_layer_name(op.layer, op.op) for op in graph.ops
                                     if op.op in unsupported))
    code = target.runtime_flash_bytes + sum(target.op_code_bytes.get(op, 0) for op in ops)
    energy = latency_ms * target.active_power_mw + target.energy_overhead_uj  # mW*ms = uJ
    size = graph.model_bytes if model_bytes is None else model_bytes
    return Estimate(target=target.name, model_bytes=size, code_bytes=code,
                    flash_bytes=size + code, arena_bytes=int(arena_bytes),
                    ram_bytes=int(arena_bytes) + target.runtime_ram_bytes,
                    latency_ms=latency_ms, energy_uj=energy, macs=graph.macs,
                    params=graph.params, ops=graph.op_names, unsupported_ops=unsupported,
                    unsupported_layers=bad_layers, int8=graph.is_int8, source=source,
                    layers=layers, arena=arena,
                    latency_model=latency_model or target.latency.status,
                    accelerator=accelerator or {}, notes=notes)
