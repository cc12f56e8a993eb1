"""The estimate of a model on an Arm Ethos-U target: the NPU part from Vela
(:mod:`.vela`), the operators left on the CPU from the target's latency model."""

from __future__ import annotations

from ..targets import Target
from ..tflite.graph import Graph, read_graph
from .arena import ALIGN, ArenaEstimate, analytic_arena, pointer_adjustment
from .result import Estimate, LayerCost, assemble_estimate
from .vela import run_vela

__all__ = ["estimate_ethos"]


def estimate_ethos(model: bytes, graph: Graph, target: Target) -> Estimate:
    """NPU cycles, SRAM and flash from Vela; CPU-fallback operators from the
    target's (Cortex-M) latency model; TFLM's persistent structs for the
    compiled graph from the analytic tail at the target's pointer width."""
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
    return assemble_estimate(graph, target, arena_bytes=arena_bytes, source="vela",
                             latency_ms=npu_ms + cpu_ms, layers=tuple(layers), arena=arena,
                             model_bytes=res.model_bytes, accelerator=accel, ops=ops_used,
                             runs_on_cpu=res.cpu_ops,
                             latency_model=f"Vela performance model (NPU); CPU operators: "
                                           f"{target.latency.status}",
                             notes=(f"{res.npu_ops} NPU operator(s), {len(res.cpu_ops)} on the CPU",))
