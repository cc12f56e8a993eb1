"""Per-operator latency model and its calibration from measured latencies.

The model (``targets.LatencyModel``): each operator costs

    cycles = mac * MACs + element * output elements + fixed

with coefficients per operator kind, plus ``invoke_overhead`` once per
inference; latency = cycles / clock. Operators that do no multiply-accumulate
(activations, reshapes, element-wise arithmetic) have ``mac = 0``.

Calibration fits the coefficients to measured latencies of known models with
non-negative least squares on relative errors (each row divided by its
measurement). Few measurements cannot determine every coefficient, so the fit
walks a ladder of parameterizations from coarse to fine and keeps the finest
one the data determine (full column rank, no more unknowns than points):

``global``        one scale for the whole prior model;
``groups``        one scale for dense layers (``FULLY_CONNECTED``: weights are
                  streamed once per MAC) and one for everything else (kernels
                  that reuse weights) plus the invoke overhead;
``operators``     one scale per operator kind present in the data (its
                  mac : element : fixed ratios kept from the prior) and one for
                  the invoke overhead;
``coefficients``  every coefficient of every operator kind present, free.

At every level the ratios the data do not determine come from the prior:
operator kinds absent from the measurements inherit the scale of their group
(or the global scale) fitted at the coarser level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import DataError
from ..targets import LatencyModel, OpCost
from ..tflite.graph import Graph

__all__ = ["MAC_OPS", "DENSE_OPS", "LEVELS", "Measurement", "Calibration", "predict_ms",
           "calibrate", "op_features", "scale_model", "total_cycles"]

# Operators whose cost scales with multiply-accumulates (graph.py counts them).
MAC_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV",
                     "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "SUM", "BATCH_MATMUL"})
DENSE_OPS = frozenset({"FULLY_CONNECTED", "BATCH_MATMUL"})
LEVELS = ("global", "groups", "operators", "coefficients")


@dataclass(frozen=True)
class Measurement:
    """One measured inference latency of a known model on the target."""

    name: str
    graph: Graph
    latency_ms: float
    weight: float = 1.0


@dataclass(frozen=True)
class Calibration:
    model: LatencyModel
    level: str
    scales: dict[str, float]               # fitted multipliers (or absolute coefficients)
    points: tuple[dict[str, Any], ...]     # name, measured_ms, predicted_ms, error_pct
    levels_tried: dict[str, str] = field(default_factory=dict)  # level -> outcome

    @property
    def max_abs_error_pct(self) -> float:
        return max((abs(p["error_pct"]) for p in self.points), default=0.0)


def op_features(graph: Graph) -> dict[str, tuple[float, float, float]]:
    """Per operator kind: (MACs, output elements, count), summed over the graph."""
    out: dict[str, list[float]] = {}
    for op in graph.ops:
        f = out.setdefault(op.op, [0.0, 0.0, 0.0])
        f[0] += op.macs
        f[1] += op.out_elements
        f[2] += 1.0
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def predict_ms(model: LatencyModel, graph: Graph, clock_hz: float) -> float:
    cycles = model.invoke_overhead + sum(
        model.op_cost(op.op).cycles(op.macs, op.out_elements) for op in graph.ops)
    return cycles / float(clock_hz) * 1e3


# --------------------------------------------------------------------------- fitting


def _prior_cycles(prior: LatencyModel, kind: str, f: tuple[float, float, float]) -> float:
    c = prior.op_cost(kind)
    return c.mac * f[0] + c.element * f[1] + c.fixed * f[2]


def _columns(level: str, prior: LatencyModel, feats: list[dict[str, tuple[float, float, float]]],
             ) -> tuple[list[str], np.ndarray]:
    """Design matrix (cycles, before the clock) for one level; names of its unknowns."""
    kinds = sorted({k for f in feats for k in f})
    names: list[str] = []
    cols: list[list[float]] = []

    def add(name: str, values: list[float]) -> None:
        names.append(name)
        cols.append(values)

    over = [prior.invoke_overhead] * len(feats)
    if level == "global":
        add("*", [sum(_prior_cycles(prior, k, v) for k, v in f.items()) + prior.invoke_overhead
                  for f in feats])
    elif level == "groups":
        add("group:dense", [sum(_prior_cycles(prior, k, v) for k, v in f.items() if k in DENSE_OPS)
                            for f in feats])
        add("group:other", [sum(_prior_cycles(prior, k, v) for k, v in f.items()
                                if k not in DENSE_OPS) + prior.invoke_overhead for f in feats])
    elif level == "operators":
        for k in kinds:
            add(f"op:{k}", [_prior_cycles(prior, k, f[k]) if k in f else 0.0 for f in feats])
        add("invoke_overhead", over)
    elif level == "coefficients":
        for k in kinds:
            if k in MAC_OPS:
                add(f"{k}.mac", [f[k][0] if k in f else 0.0 for f in feats])
            add(f"{k}.element", [f[k][1] if k in f else 0.0 for f in feats])
            add(f"{k}.fixed", [f[k][2] if k in f else 0.0 for f in feats])
        add("invoke_overhead", [1.0] * len(feats))
    else:  # pragma: no cover - guarded by calibrate()
        raise ValueError(level)
    a = np.array(cols, dtype=float).T if cols else np.zeros((len(feats), 0))
    keep = [i for i in range(a.shape[1]) if np.any(a[:, i] != 0)]
    return [names[i] for i in keep], a[:, keep]


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    # scale columns to unit norm for conditioning, then undo
    norms = np.linalg.norm(a, axis=0)
    norms[norms == 0] = 1.0
    x, _ = nnls(a / norms, b, maxiter=50 * max(1, a.shape[1]))
    return x / norms


def _compose(prior: LatencyModel, fits: dict[str, dict[str, float]]) -> LatencyModel:
    """Apply the fitted levels, coarse to fine, to the prior's coefficients."""
    kinds = set(prior.ops) | {n.split(":", 1)[1] for f in fits.values() for n in f
                              if n.startswith("op:")}
    kinds |= {n.split(".", 1)[0] for f in fits.values() for n in f
              if "." in n and n != "invoke_overhead"}

    def scaled(cost: OpCost, s: float) -> OpCost:
        return OpCost(mac=cost.mac * s, element=cost.element * s, fixed=cost.fixed * s)

    ops = {k: prior.op_cost(k) for k in kinds}
    default = prior.default
    overhead = prior.invoke_overhead
    if "global" in fits:
        s = fits["global"]["*"]
        ops = {k: scaled(c, s) for k, c in ops.items()}
        default, overhead = scaled(default, s), overhead * s
    if "groups" in fits:
        g = fits["groups"]
        dense = g.get("group:dense")
        other = g.get("group:other")
        for k in ops:
            s = dense if k in DENSE_OPS else other
            if s is not None:
                ops[k] = scaled(prior.op_cost(k), s)
        if other is not None:
            default, overhead = scaled(prior.default, other), prior.invoke_overhead * other
    if "operators" in fits:
        o = fits["operators"]
        for k in ops:
            if f"op:{k}" in o:
                ops[k] = scaled(prior.op_cost(k), o[f"op:{k}"])
        if "invoke_overhead" in o:
            overhead = prior.invoke_overhead * o["invoke_overhead"]
    if "coefficients" in fits:
        c = fits["coefficients"]
        for k in ops:
            if f"{k}.fixed" in c or f"{k}.element" in c:
                ops[k] = OpCost(mac=c.get(f"{k}.mac", 0.0), element=c.get(f"{k}.element", 0.0),
                                fixed=c.get(f"{k}.fixed", 0.0))
        if "invoke_overhead" in c:
            overhead = c["invoke_overhead"]
    return LatencyModel(ops=dict(sorted(ops.items())), default=default,
                        invoke_overhead=overhead, source=prior.source,
                        calibrated=prior.calibrated)


def calibrate(points: Sequence[Measurement], prior: LatencyModel, clock_hz: float, *,
              level: str | None = None, source: str = "") -> Calibration:
    """Fit ``prior`` to ``points`` (see the module docstring for the levels).

    ``level`` forces a level (an error if the data do not determine it);
    by default the finest determined level is used.
    """
    if not points:
        raise DataError("no measurements to calibrate on",
                        hint="give at least one row: a model and its measured latency_ms")
    if level is not None and level not in LEVELS:
        raise DataError(f"unknown calibration level {level!r}", hint=f"use one of {LEVELS}")
    for p in points:
        if not (p.latency_ms > 0 and math.isfinite(p.latency_ms)):
            raise DataError(f"measurement {p.name!r} has latency {p.latency_ms!r} ms",
                            hint="latencies must be positive numbers of milliseconds")
    feats = [op_features(p.graph) for p in points]
    y = np.array([p.latency_ms * 1e-3 * clock_hz for p in points])  # cycles
    w = np.array([p.weight for p in points]) / y                  # relative errors
    fits: dict[str, dict[str, float]] = {}
    tried: dict[str, str] = {}
    wanted = LEVELS if level is None else LEVELS[: LEVELS.index(level) + 1]
    previous = 0
    for lv in wanted:
        names, a = _columns(lv, prior, feats)
        if a.shape[1] == 0:
            tried[lv] = "no unknowns"
            continue
        if a.shape[1] <= previous and lv != level:
            tried[lv] = "no more unknowns than the coarser level (skipped)"
            continue
        rank = int(np.linalg.matrix_rank(a * w[:, None], tol=1e-9 * np.abs(a * w[:, None]).max()))
        if a.shape[1] > len(points) or rank < a.shape[1]:
            tried[lv] = f"underdetermined ({a.shape[1]} unknowns, rank {rank}, {len(points)} points)"
            if level == lv:
                raise DataError(f"the measurements do not determine the '{lv}' level "
                                f"({a.shape[1]} unknowns, rank {rank}, {len(points)} points)",
                                hint="measure more (and more varied) models, or use a coarser level")
            break
        x = _nnls(a * w[:, None], y * w)
        fits[lv] = dict(zip(names, (float(v) for v in x), strict=True))
        previous = a.shape[1]
        tried[lv] = f"fitted ({a.shape[1]} unknowns, {len(points)} points)"
    if not fits:
        raise DataError("the measurements determine no coefficient",
                        hint="check that the models have operators and the latencies are right")
    chosen = [lv for lv in LEVELS if lv in fits][-1]
    model = _compose(prior, fits)
    model = replace(model, calibrated=True, source=source or prior.source)
    rows = []
    for p in points:
        pred = predict_ms(model, p.graph, clock_hz)
        rows.append({"name": p.name, "measured_ms": p.latency_ms, "predicted_ms": pred,
                     "error_pct": (pred - p.latency_ms) / p.latency_ms * 100.0})
    return Calibration(model=model, level=chosen, scales=fits[chosen], points=tuple(rows),
                       levels_tried=tried)


def scale_model(model: LatencyModel, *, mac: float = 1.0, other: float = 1.0,
                source: str = "", calibrated: bool = False,
                derived_from: str = "") -> LatencyModel:
    """``model`` with MAC coefficients times ``mac`` and the rest times ``other``
    (for deriving a target from a calibrated one with a documented factor)."""
    def f(c: OpCost) -> OpCost:
        return OpCost(mac=c.mac * mac, element=c.element * other, fixed=c.fixed * other)

    return LatencyModel(ops={k: f(c) for k, c in model.ops.items()}, default=f(model.default),
                        invoke_overhead=model.invoke_overhead * other, source=source,
                        calibrated=calibrated, derived_from=derived_from)


def total_cycles(model: LatencyModel, graphs: Iterable[Graph]) -> list[float]:
    return [model.invoke_overhead + sum(model.op_cost(o.op).cycles(o.macs, o.out_elements)
                                        for o in g.ops) for g in graphs]
