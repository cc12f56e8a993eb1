"""What a classical model costs on a target: flash, RAM, latency and energy.

The numbers are an :class:`~edgeml.estimate.Estimate`, checked against the same
constraints table as the networks (:func:`edgeml.estimate.violations`):

- flash: the model's C arrays (exact: :attr:`CModel.data_bytes`) plus its code
  (the predict function, and ``expf`` for the families that output a softmax);
  ``code_bytes`` also carries the target's runtime reservation, as for a network,
  so the flash constraint (model + its code, the runtime being reserved apart)
  reads the same way;
- RAM: the predict function's stack plus the scores buffer (no tensor arena);
- latency: cycles from a linear model per kind (nodes visited, multiply-adds,
  classes), whose coefficients are Cortex-M4 instruction counts of the
  generated C compiled with ``arm-none-eabi-gcc -O2`` and run under
  ``qemu-system-arm -M mps2-an386 -icount shift=0`` (``benchmarks/classical_cycles.py``
  measures them and prints this table). One instruction is taken as one cycle
  (QEMU does not model pipeline stalls or flash wait states) and the same counts
  are used on every core with an FPU, divided by the target's clock; cores
  without one multiply them by the measured software-float factor;
- energy: latency x the target's active power + its per-inference overhead.

Before training, :func:`train_work` predicts how long a point of the space trains
(relative units, :data:`SECONDS_PER_WORK` each; the search rescales them by what its
own trainings took), and :func:`bound_estimate` costs the largest model a point of the
space can grow into (trees: depth and tree count bound the nodes): a point
whose bound fits needs no check after training; one whose bound does not is
trained and checked on its real size.
"""

from __future__ import annotations

import math
from typing import Any

from ..estimate import Estimate
from ..targets import Target
from .families import node_bound
from .model import CModel

__all__ = ["CYCLES", "CODE_BYTES", "STACK_BYTES", "SOFT_FLOAT_FACTOR", "LATENCY_MODEL", "cycles",
           "estimate_cmodel", "bound_estimate", "tree_count", "train_work", "SECONDS_PER_WORK"]

#: cycles per unit, per kind (Cortex-M4 instruction counts: benchmarks/classical_cycles.py)
CYCLES: dict[str, dict[str, float]] = {
    "vote": {"base": 0.0, "node": 12.0, "tree": 0.0, "leaf_class": 9.2, "class": 15.5},
    "boost": {"base": 0.0, "node": 19.2, "tree": 0.0, "class": 124.5},
    "linear": {"base": 0.0, "mac": 5.7, "row": 0.0, "class": 65.2},
    "nb": {"base": 0.0, "term": 8.5, "class": 56.1},
}
#: flash bytes of the predict function per kind (+ expf where the kind uses it)
CODE_BYTES: dict[str, int] = {"vote": 244, "boost": 956, "linear": 864, "nb": 904}
#: stack bytes of the predict function per kind (-fstack-usage)
STACK_BYTES: dict[str, int] = {"vote": 56, "boost": 48, "linear": 56, "nb": 64}
#: cores without a floating-point unit run the float arithmetic in software: instructions
#: of the same C on a Cortex-M3 (soft float, mps2-an385) over the Cortex-M4F's, median per
#: kind (the Cortex-M0+ has fewer instructions than the M3: still an underestimate there)
SOFT_FLOAT_FACTOR: dict[str, float] = {"vote": 3.7, "boost": 5.8, "linear": 14.1, "nb": 18.6}
SOFT_FLOAT_CORES = ("cortex-m0", "cortex-m0plus", "cortex-m3", "riscv32-rv32imc")
LATENCY_MODEL = "Cortex-M4 instruction counts under QEMU (benchmarks/classical_cycles.py)"


def _units(kind: str, *, n_trees: int, visited: float, n_classes: int, rows: int,
           n_features: int) -> dict[str, float]:
    if kind == "vote":
        return {"base": 1, "node": visited, "tree": n_trees, "leaf_class": n_trees * n_classes,
                "class": n_classes}
    if kind == "boost":
        return {"base": 1, "node": visited, "tree": n_trees, "class": n_classes}
    if kind == "linear":
        return {"base": 1, "mac": rows * n_features, "row": rows, "class": n_classes}
    if kind == "nb":
        return {"base": 1, "term": n_classes * n_features, "class": n_classes}
    raise ValueError(kind)


def cycles(kind: str, **units: Any) -> float:
    table = CYCLES[kind]
    return float(sum(table[k] * v for k, v in _units(kind, **units).items()))


def _estimate(target: Target, *, kind: str, family: str, data_bytes: int, cyc: float,
              macs: int, params: int, n_classes: int, note: str) -> Estimate:
    code = CODE_BYTES[kind]
    ram = STACK_BYTES[kind] + 4 * n_classes
    soft = target.core in SOFT_FLOAT_CORES
    if soft:
        cyc *= SOFT_FLOAT_FACTOR[kind]
        note = f"{note}; {target.core} has no FPU: software floats" if note else \
            f"{target.core} has no FPU: software floats"
    latency_ms = cyc / float(target.clock_hz) * 1000.0
    energy = latency_ms * target.active_power_mw + target.energy_overhead_uj
    return Estimate(target=target.name, model_bytes=int(data_bytes),
                    code_bytes=target.runtime_flash_bytes + code,
                    flash_bytes=int(data_bytes) + target.runtime_flash_bytes + code,
                    arena_bytes=ram, ram_bytes=ram, latency_ms=latency_ms, energy_uj=energy,
                    macs=int(macs), params=int(params), ops=(f"classical:{family}",),
                    unsupported_ops=(), unsupported_layers=(), int8=False, source="classical",
                    latency_model=LATENCY_MODEL, notes=(note,) if note else ())


def estimate_cmodel(cm: CModel, target: Target, *, visited: float) -> Estimate:
    """The cost of the trained model ``cm`` on ``target`` (``visited``: mean tree nodes
    one prediction visits, from :meth:`CModel.nodes_visited` on the validation split)."""
    cyc = cycles(cm.kind, n_trees=cm.n_trees, visited=visited, n_classes=cm.n_classes,
                 rows=cm.rows, n_features=cm.n_features)
    macs = cm.rows * cm.n_features if cm.kind == "linear" else (
        cm.n_classes * cm.n_features if cm.kind == "nb" else 0)
    params = int(sum(a.size for a in cm.arrays.values()))
    return _estimate(target, kind=cm.kind, family=cm.family, data_bytes=cm.data_bytes, cyc=cyc,
                     macs=macs, params=params, n_classes=cm.n_classes, note=cm.detail)


def bound_estimate(values: dict[str, Any], target: Target, *, n_features: int,
                   n_classes: int, n_train: int, max_leaves: int | None = None) -> Estimate:
    """The cost of the largest model the point ``values`` of the space can train into
    (with ``max_leaves``: each tree capped at that many leaves)."""
    family = values["family"]
    k, f = int(n_classes), int(n_features)
    if family in ("linear", "nb"):
        rows = 1 if (family == "linear" and k == 2) else k
        kind = family
        if family == "linear":
            data, macs = 4 * (rows * f + rows), rows * f
        else:
            data, macs = 4 * (2 * k * f + k), k * f
        cyc = cycles(kind, n_trees=0, visited=0.0, n_classes=k, rows=rows, n_features=f)
        return _estimate(target, kind=kind, family=family, data_bytes=data, cyc=cyc, macs=macs,
                         params=data // 4, n_classes=k, note="before training (exact)")
    nodes, leaves, depth = node_bound(values, n_classes=k, n_train=n_train,
                                      max_leaves=max_leaves)
    internal = nodes - leaves
    index = 2 if max(internal, leaves) + 1 < 2 ** 15 else 4
    if family == "gbt":
        kind = "boost"
        trees = tree_count(values, k)
        rows = 1 if k == 2 else k
        data = internal * (2 + 4 + 2 * index) + 4 * trees + leaves * 4 + 4 * rows + 2 * trees
    else:
        kind = "vote"
        trees = tree_count(values, k)
        data = internal * (2 + 4 + 2 * index) + 4 * trees + leaves * k * 4
    cyc = cycles(kind, n_trees=trees, visited=float(trees * depth), n_classes=k, rows=k,
                 n_features=f)
    return _estimate(target, kind=kind, family=family, data_bytes=data, cyc=cyc, macs=0,
                     params=nodes, n_classes=k, note="before training (upper bound)")


def tree_count(values: dict[str, Any], k: int) -> int:
    """The trees a point of the space trains (a boosted model: one per class and stage)."""
    family = values["family"]
    if family == "tree":
        return 1
    if family == "forest":
        return int(values["forest_n_estimators"])
    return int(values["gbt_n_estimators"]) * (1 if k == 2 else k)


#: seconds per unit of :func:`train_work` on one core: scikit-learn 1.x's exact tree
#: learners took 1.0e-8 to 1.5e-8 s per sample x feature x tree x level on 3,250 MNIST
#: images (a tree, forests with every feature, 10 x 10 boosted trees of depth 3) on the
#: development machine; the classical search scales this by its own measured trainings
SECONDS_PER_WORK = 1.5e-8


def train_work(values: dict[str, Any], *, n_train: int, n_features: int, n_classes: int,
               max_leaves: int | None = None) -> float:
    """Relative training cost of a point of the space, before training: for trees,
    samples x features searched per split x trees x levels (the exact splitter scans
    every sample of a level once per feature); for a linear model, samples x features x
    score rows x 4 (the solver's passes); for naive Bayes, samples x features."""
    family = values["family"]
    n, f, k = max(int(n_train), 1), max(int(n_features), 1), int(n_classes)
    if family == "nb":
        return float(n * f)
    if family == "linear":
        return float(n * f * (1 if k == 2 else k) * 4)
    _, _, depth = node_bound(values, n_classes=k, n_train=n, max_leaves=max_leaves)
    levels = max(1, min(depth, n.bit_length()))
    searched = float(f)
    if family == "forest":
        mf = values.get("forest_max_features")
        searched = math.sqrt(f) if mf == "sqrt" else (math.log2(f) if mf == "log2" else f)
    return n * max(searched, 1.0) * tree_count(values, k) * levels
