"""Objectives, the Pareto front and the choice of the final model.

Every trained, feasible trial is a point with five coordinates: int8 validation
accuracy (higher is better) and latency, tensor arena (RAM), model bytes
(flash) and energy (lower is better). With several targets, latency and energy
are the worst case over the targets.

``--objective`` picks what the search optimises *under* the constraints:

* ``accuracy``: the most accurate int8 model (ties: the cheaper one);
* ``latency`` | ``energy`` | ``size``: the cheapest model on the Pareto front
  whose int8 accuracy is within ``tolerance`` of the best feasible accuracy.

The oracle needs one number per trial (:func:`objective_score`). For
``accuracy`` it is the int8 accuracy. For the cost objectives it is
``accuracy - tolerance * log2(cost)``: halving the cost is worth ``tolerance``
accuracy, the same exchange rate the final choice uses. Infeasible candidates
score as if their deployable accuracy were 0, so model-based oracles learn to
avoid them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..records import Trial

__all__ = ["OBJECTIVES", "COST_KEY", "objective_score", "pareto_front", "choose", "dominates",
           "DEFAULT_TOLERANCE"]

OBJECTIVES = ("accuracy", "latency", "energy", "size")
#: the cost that each objective minimises (a key of a trial's ``costs``)
COST_KEY = {"latency": "latency_ms", "energy": "energy_uj", "size": "model_bytes"}
DEFAULT_TOLERANCE = 0.02
#: (key, +1 for larger is better / -1 for smaller is better)
AXES: tuple[tuple[str, int], ...] = (("int8_accuracy", 1), ("latency_ms", -1),
                                     ("arena_bytes", -1), ("model_bytes", -1),
                                     ("energy_uj", -1))


def objective_score(accuracy: float, costs: dict[str, float], objective: str,
                    tolerance: float = DEFAULT_TOLERANCE) -> float:
    """The scalar the oracle maximises for one trial."""
    if objective == "accuracy":
        return float(accuracy)
    cost = max(float(costs[COST_KEY[objective]]), 1e-9)
    return float(accuracy) - tolerance * math.log2(cost)


def _point(t: Trial) -> tuple[float, ...]:
    c = t.costs or {}
    return tuple(sign * float(t.int8_val_accuracy if key == "int8_accuracy" else c[key])
                 for key, sign in AXES)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is at least as good as ``b`` everywhere and better somewhere (all maximised)."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def pareto_front(trials: Iterable[Trial]) -> list[Trial]:
    """The trained, feasible trials no other such trial dominates (input order kept).

    Trials with identical coordinates are all kept.
    """
    pool = [t for t in trials if t.deployable]
    points = [_point(r) for r in pool]
    return [r for r, p in zip(pool, points, strict=True) if not any(dominates(q, p) for q in points)]


def choose(trials: Iterable[Trial], objective: str = "accuracy",
           tolerance: float = DEFAULT_TOLERANCE) -> Trial | None:
    """The final model under ``objective`` (see the module docstring), or None."""
    front = pareto_front(trials)
    if not front:
        return None
    tie = ("latency_ms", "arena_bytes", "model_bytes")

    def acc(t: Trial) -> float:
        return float(t.int8_val_accuracy or 0.0)

    def cost(t: Trial, k: str) -> float:
        return float((t.costs or {})[k])

    if objective == "accuracy":
        return max(front, key=lambda t: (acc(t), *(-cost(t, k) for k in tie)))
    best_acc = max(acc(t) for t in front)
    ok = [t for t in front if acc(t) >= best_acc - tolerance - 1e-12]
    key = COST_KEY[objective]
    return min(ok, key=lambda t: (cost(t, key), -acc(t), *(cost(t, k) for k in tie)))
