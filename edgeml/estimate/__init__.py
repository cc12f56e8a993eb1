"""Hardware estimates: the one place where memory, latency and energy are computed.

``estimate_model(model_bytes, target)`` reads the ``.tflite`` graph, measures the
tensor arena in the real TFLite Micro interpreter (child process), checks the
operators against the target's runtime and applies the target's latency and
power models. ``violations()`` compares an :class:`Estimate` with the target
and the user's :class:`Limits` (optuna's convention: a value ``<= 0`` is met).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..targets import Target
from .graph import Graph, read_graph
from .tflm import run_tflm, tflm_available

__all__ = ["Estimate", "LayerCost", "Limits", "estimate_model", "estimate_graph", "violations",
           "feasible", "describe_violation", "read_graph", "Graph"]


@dataclass(frozen=True)
class Limits:
    """The user's own budget on top of the target's limits (None = no limit)."""

    max_arena_bytes: int | None = None
    max_model_bytes: int | None = None
    max_latency_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    source: str               # "tflm" (measured arena) or "analytic"
    layers: tuple[LayerCost, ...] = field(default=(), repr=False)

    def as_dict(self, *, layers: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not layers:
            d.pop("layers")
        return d


def estimate_model(model: bytes, target: Target, *, where: str = "model") -> Estimate:
    """Estimate ``model`` (``.tflite`` bytes) on ``target``; arena measured in TFLM."""
    graph = read_graph(model, where=where)
    arena = None
    source = "analytic"
    if tflm_available() and not any(op.startswith("CUSTOM") for op in graph.op_names):
        res = run_tflm(model, bisect=True)
        arena = int(res.bisected_bytes or res.arena_bytes)
        source = "tflm"
    if arena is None:
        arena = analytic_arena(graph)
    return estimate_graph(graph, target, arena_bytes=arena, source=source)


def analytic_arena(graph: Graph) -> int:
    """Arena from tensor lifetimes: greedy first-fit of non-constant tensors plus a
    per-operator persistent overhead (used where TFLM cannot run on the host)."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in graph.inputs:
        first[t] = 0
    for op in graph.ops:
        for t in op.outputs:
            first.setdefault(t, op.index)
        for t in op.inputs + op.outputs:
            if not graph.tensors[t].is_constant:
                last[t] = op.index
    for t in graph.outputs:
        last[t] = len(graph.ops)
    items = sorted(((graph.tensors[t].nbytes + 15) // 16 * 16, first.get(t, 0), last[t])
                   for t in last if not graph.tensors[t].is_constant)
    items.sort(key=lambda it: -it[0])
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    head = 0
    for size, a, b in items:
        offset = 0
        for off, sz, pa, pb in sorted(placed):
            if pb < a or pa > b:
                continue
            if offset + size <= off:
                break
            offset = max(offset, off + sz)
        placed.append((offset, size, a, b))
        head = max(head, offset + size)
    tail = 400 + 112 * len(graph.ops) + 64 * len(graph.tensors)
    return head + tail


def estimate_graph(graph: Graph, target: Target, *, arena_bytes: int,
                   source: str = "tflm") -> Estimate:
    lat = target.latency
    hz = float(target.clock_hz)
    layers = []
    total_cycles = float(lat.invoke_overhead)
    for op in graph.ops:
        cycles = lat.op_cost(op.op).cycles(op.macs, op.out_elements)
        total_cycles += cycles
        layers.append(LayerCost(op=op.op, layer=op.layer, output_shape=op.output_shape,
                                macs=op.macs, params=op.params, cycles=cycles,
                                latency_ms=cycles / hz * 1e3))
    latency_ms = total_cycles / hz * 1e3
    ops = graph.op_names
    unsupported = tuple(op for op in ops if op not in target.ops)
    bad_layers = tuple(dict.fromkeys(op.layer for op in graph.ops if op.op in unsupported))
    code = target.runtime_flash_bytes + sum(target.op_code_bytes.get(op, 0) for op in ops)
    energy = latency_ms * target.active_power_mw + target.energy_overhead_uj  # mW*ms = uJ
    return Estimate(target=target.name, model_bytes=graph.model_bytes, code_bytes=code,
                    flash_bytes=graph.model_bytes + code, arena_bytes=int(arena_bytes),
                    ram_bytes=int(arena_bytes) + target.runtime_ram_bytes,
                    latency_ms=latency_ms, energy_uj=energy, macs=graph.macs,
                    params=graph.params, ops=ops, unsupported_ops=unsupported,
                    unsupported_layers=bad_layers, int8=graph.is_int8, source=source,
                    layers=tuple(layers))


def violations(target: Target, est: Estimate, limits: Limits | None = None) -> dict[str, float]:
    """Named constraints; a value ``<= 0`` is met, ``> 0`` is the amount over."""
    limits = limits or Limits()
    out: dict[str, float] = {
        "flash_bytes": float(est.model_bytes + est.code_bytes
                             - target.runtime_flash_bytes - target.model_flash_budget),
        "arena_bytes": float(est.arena_bytes - target.arena_budget),
        "unsupported_ops": float(len(est.unsupported_ops)),
    }
    if target.int8_only:
        out["int8"] = 0.0 if est.int8 else 1.0
    if limits.max_model_bytes is not None:
        out["max_model_bytes"] = float(est.model_bytes - limits.max_model_bytes)
    if limits.max_arena_bytes is not None:
        out["max_arena_bytes"] = float(est.arena_bytes - limits.max_arena_bytes)
    if limits.max_latency_ms is not None:
        out["max_latency_ms"] = float(est.latency_ms - limits.max_latency_ms)
    return out


def feasible(v: dict[str, float]) -> bool:
    return all(value <= 0 for value in v.values())


def describe_violation(name: str, amount: float, est: Estimate) -> str:
    """One human phrase for a broken constraint."""
    kb = 1024.0
    if name == "flash_bytes":
        return f"flash: model + kernels {(est.model_bytes + est.code_bytes) / kb:.1f} KB is {amount / kb:.1f} KB over the target's flash"
    if name == "arena_bytes":
        return f"RAM: arena {est.arena_bytes / kb:.1f} KB is {amount / kb:.1f} KB over the target's RAM"
    if name == "unsupported_ops":
        layers = ", ".join(est.unsupported_layers[:3])
        return f"operators {', '.join(est.unsupported_ops)} (layer {layers}) not in the target's runtime"
    if name == "int8":
        return "model is not fully int8 but the target runs int8 kernels only"
    if name == "max_model_bytes":
        return f"model {est.model_bytes / kb:.1f} KB is {amount / kb:.1f} KB over --max-flash-kb"
    if name == "max_arena_bytes":
        return f"arena {est.arena_bytes / kb:.1f} KB is {amount / kb:.1f} KB over --max-ram-kb"
    if name == "max_latency_ms":
        return f"latency {est.latency_ms:.2f} ms is {amount:.2f} ms over --max-latency-ms"
    return f"{name} over by {amount:g}"
