"""Hardware estimates: the one place where memory, latency and energy are computed.

``estimate_model(model_bytes, target)`` reads the ``.tflite`` graph
(:mod:`.graph`), measures the tensor arena in the real TensorFlow Lite Micro
interpreter and converts it to the target's pointer width (:mod:`.arena`),
checks the operators against the target's runtime and applies the target's
latency (:mod:`.latency`, calibrated by :mod:`.profiles`) and power models;
Ethos-U targets go through Vela (:mod:`.vela`). ``violations()`` compares an
:class:`Estimate` with the target and the user's :class:`Limits` (optuna's
convention: a value ``<= 0`` is met). ``edgeml profile`` is :mod:`.profile`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ModelError
from ..targets import Target
from .arena import (
    ArenaEstimate,
    analytic_arena,
    arena_estimate,
    kernel_overhead,
    pointer_adjustment,
)
from .graph import Graph, keras_layer_name, read_graph

__all__ = ["Estimate", "LayerCost", "Limits", "ArenaEstimate", "estimate_model", "estimate_graph",
           "violations", "feasible", "describe_violation", "read_graph", "Graph", "analytic_arena"]


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


def estimate_model(model: bytes, target: Target, *, where: str = "model",
                   measure: bool | None = None, on_tflm_error: str = "raise",
                   graph: Graph | None = None) -> Estimate:
    """Estimate ``model`` (``.tflite`` bytes) on ``target``.

    The arena is the smallest one that allocates and invokes in the real TFLM
    interpreter (child process, cached by model hash under ``$EDGEML_CACHE_DIR``),
    converted to the target's pointer width; where TFLM is not installed (or
    ``measure=False``) it is planned analytically. ``on_tflm_error="analytic"``
    falls back to the analytic arena when TFLM cannot run the model (for
    example an untrained model whose softmax TFLM refuses); ``"raise"`` raises
    :class:`~edgeml.errors.ModelError`. Ethos-U targets go through Vela.
    ``graph`` skips parsing when the caller already has ``read_graph(model)``.
    """
    if graph is None:
        graph = read_graph(model, where=where)
    if target.accelerator.get("type") == "ethos-u":
        return _estimate_ethos(model, graph, target)
    notes: list[str] = []
    unsupported = [op for op in graph.op_names if op not in target.ops]
    if unsupported and measure is None:
        # the model cannot run on the target anyway, and TFLM may not know the operator
        measure = False
        notes.append(f"operators {', '.join(unsupported)} are not in {target.name}'s runtime; "
                     "arena planned analytically")
    try:
        arena = arena_estimate(model, graph, pointer_bytes=target.pointer_bytes,
                               kernels=target.kernels, core=target.core, measure=measure)
    except ModelError as exc:
        if on_tflm_error != "analytic":
            raise
        arena = arena_estimate(model, graph, pointer_bytes=target.pointer_bytes,
                               kernels=target.kernels, core=target.core, measure=False)
        notes.append(f"TFLM could not run the model ({exc.message}); arena planned analytically")
    return estimate_graph(graph, target, arena_bytes=arena.bytes, source=arena.source,
                          arena=arena, notes=tuple(notes))


def estimate_graph(graph: Graph, target: Target, *, arena_bytes: int | None = None,
                   source: str = "tflm", host_arena_bytes: int | None = None,
                   arena: ArenaEstimate | None = None, notes: tuple[str, ...] = ()) -> Estimate:
    """Estimate from a parsed graph and a known arena.

    Pass ``arena_bytes`` (already for the target) or ``host_arena_bytes`` (a
    TFLM measurement on this 64-bit host, converted here with the 32-bit rule).
    """
    if arena_bytes is None:
        if host_arena_bytes is None:
            raise ValueError("estimate_graph needs arena_bytes or host_arena_bytes")
        adjust = pointer_adjustment(graph) if target.pointer_bytes == 4 else 0
        extra = kernel_overhead(graph, target.kernels, core=target.core,
                                pointer_bytes=target.pointer_bytes)
        arena_bytes = int(host_arena_bytes) - adjust + extra
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
    return _assemble(graph, target, arena_bytes=int(arena_bytes), source=source,
                     latency_ms=latency_ms, layers=tuple(layers), arena=arena, notes=notes)


def _assemble(graph: Graph, target: Target, *, arena_bytes: int, source: str, latency_ms: float,
              layers: tuple[LayerCost, ...], arena: ArenaEstimate | None,
              notes: tuple[str, ...] = (), model_bytes: int | None = None,
              accelerator: dict[str, Any] | None = None,
              ops: tuple[str, ...] | None = None,
              runs_on_cpu: tuple[str, ...] | None = None,
              latency_model: str | None = None) -> Estimate:
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


def _estimate_ethos(model: bytes, graph: Graph, target: Target) -> Estimate:
    """NPU cycles, SRAM and flash from Vela; CPU-fallback operators from the
    target's (Cortex-M) latency model; TFLM's persistent structs for the
    compiled graph from the analytic tail at the target's pointer width."""
    from .arena import ALIGN
    from .vela import run_vela

    acc = target.accelerator
    res = run_vela(model, accelerator_config=str(acc.get("config", "ethos-u55-128")),
                   system_config=str(acc.get("system_config", "Ethos_U55_High_End_Embedded")),
                   memory_mode=str(acc.get("memory_mode", "Shared_Sram")),
                   config=acc.get("vela_ini"))
    compiled = read_graph(res.optimized, where="Vela's optimized model")
    cpu_cycles = 0.0
    layers = []
    hz = float(target.clock_hz)
    cpu_names = set(res.cpu_ops)
    for op in graph.ops:  # CPU fallback operators keep their original shapes
        if op.op in cpu_names:
            cycles = target.latency.op_cost(op.op).cycles(op.macs, op.out_elements)
            cpu_cycles += cycles
            layers.append(LayerCost(op=op.op, layer=op.layer, output_shape=op.output_shape,
                                    macs=op.macs, params=op.params, cycles=cycles,
                                    latency_ms=cycles / hz * 1e3))
    npu_ms = res.inference_s * 1e3
    layers.insert(0, LayerCost(op="ETHOS_U", layer="NPU (Vela)", output_shape=(),
                               macs=res.macs, params=graph.params, cycles=res.total_cycles,
                               latency_ms=npu_ms))
    cpu_ms = (cpu_cycles + target.latency.invoke_overhead) / hz * 1e3
    _, _, tail, _ = analytic_arena(compiled)
    tail -= pointer_adjustment(compiled) if target.pointer_bytes == 4 else 0
    arena_bytes = -(-res.sram_bytes // ALIGN) * ALIGN + max(tail, 0)
    arena = ArenaEstimate(bytes=arena_bytes, host_bytes=arena_bytes, head_bytes=res.sram_bytes,
                          tail_bytes=max(tail, 0), recorded_total=arena_bytes,
                          pointer_bytes=target.pointer_bytes, adjustment_bytes=0,
                          source="vela")
    ops_used = ("ETHOS_U",) + tuple(dict.fromkeys(res.cpu_ops))
    accel = {"npu_ms": npu_ms, "cpu_ms": cpu_ms, **res.as_dict()}
    return _assemble(graph, target, arena_bytes=arena_bytes, source="vela",
                     latency_ms=npu_ms + cpu_ms, layers=tuple(layers), arena=arena,
                     model_bytes=res.model_bytes, accelerator=accel, ops=ops_used,
                     runs_on_cpu=res.cpu_ops,
                     latency_model=f"Vela performance model (NPU); CPU operators: "
                                   f"{target.latency.status}",
                     notes=(f"{res.npu_ops} NPU operator(s), {len(res.cpu_ops)} on the CPU",))


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
        return (f"operators {', '.join(est.unsupported_ops)} (layer {layers}) are not in "
                f"{est.target}'s runtime")
    if name == "int8":
        return "model is not fully int8 but the target runs int8 kernels only"
    if name == "max_model_bytes":
        return f"model {est.model_bytes / kb:.1f} KB is {amount / kb:.1f} KB over --max-flash-kb"
    if name == "max_arena_bytes":
        return f"arena {est.arena_bytes / kb:.1f} KB is {amount / kb:.1f} KB over --max-ram-kb"
    if name == "max_latency_ms":
        return f"latency {est.latency_ms:.2f} ms is {amount:.2f} ms over --max-latency-ms"
    return f"{name} over by {amount:g}"
