"""The estimate of one ``.tflite`` model on one target (TFLM on a CPU).

The arena is measured in the real TFLite Micro interpreter and converted to the
target's pointer width (:mod:`.arena`); latency comes from the target's
per-operator cycle model. Ethos-U targets are handed to :mod:`.ethos` (Vela).
"""

from __future__ import annotations

from ..errors import ModelError
from ..targets import Target
from ..tflite.graph import Graph, read_graph
from .arena import ArenaEstimate, arena_estimate, kernel_overhead, pointer_adjustment
from .result import Estimate, LayerCost, assemble_estimate

__all__ = ["estimate_model", "estimate_graph"]


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
        from .ethos import estimate_ethos

        return estimate_ethos(model, graph, target)
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
    return assemble_estimate(graph, target, arena_bytes=int(arena_bytes), source=source,
                             latency_ms=latency_ms, layers=tuple(layers), arena=arena, notes=notes)
