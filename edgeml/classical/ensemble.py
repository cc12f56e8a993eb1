"""Greedy ensemble selection with replacement (Caruana et al., 2004), under a budget.

Every feasible trained trial of a run (networks and classical models) is a
candidate member, with its class probabilities on the validation split
(networks: their int8 model run in TFLM, dequantized; classical models: their
float32 C arithmetic). Starting from the empty ensemble, each round adds the
member (again, if it is already in: with replacement) whose addition gives the
most accurate average of probabilities; a member's weight is the number of times
it was added over the rounds. As auto-sklearn does, the rounds are a fixed
number (``rounds``) and the ensemble kept is the most accurate prefix.

The ensemble must fit the target: its members run one after another, so their
flash (model + its code) and latency add up, and the RAM it needs is the peak of
theirs (:func:`combine_estimates`). A member whose addition would break a limit
on any target is not added. The ensemble is worth shipping only when its
validation accuracy beats the best single model by more than ``min_gain``
(:data:`DEFAULT_MIN_GAIN`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..estimate import Estimate, Limits, feasible, violations
from ..targets import Target

__all__ = ["Member", "Ensemble", "select_ensemble", "combine_estimates", "DEFAULT_MIN_GAIN",
           "DEFAULT_ROUNDS"]

#: 0.5 points: on the default data (270 validation samples) one sample is 0.37 points, so
#: an ensemble must get at least two more validation samples right than the best single
#: model, which it pays for with the sum of its members' flash and latency
DEFAULT_MIN_GAIN = 0.005
DEFAULT_ROUNDS = 25


@dataclass(frozen=True)
class Member:
    trial_id: str
    family: str                          # "nn" or a classical family
    val_proba: np.ndarray                # (n_val, n_classes)
    estimates: dict[str, Estimate]       # per target


@dataclass(frozen=True)
class Ensemble:
    weights: dict[str, float]            # trial_id -> weight (sums to 1)
    val_accuracy: float
    best_single_id: str
    best_single_accuracy: float
    estimates: dict[str, Estimate]       # per target, the members together
    trajectory: tuple[float, ...] = ()   # accuracy after each round

    @property
    def gain(self) -> float:
        return self.val_accuracy - self.best_single_accuracy

    @property
    def size(self) -> int:
        return len(self.weights)


def combine_estimates(ests: Sequence[Estimate], target: Target) -> Estimate:
    """The cost of running ``ests``' models one after another on ``target``: model bytes,
    their own code and latency add up (the runtime's reservation counted once), RAM is
    the peak."""
    runtime = target.runtime_flash_bytes
    model = sum(e.model_bytes for e in ests)
    code = runtime + sum(e.code_bytes - runtime for e in ests)
    latency = sum(e.latency_ms for e in ests)
    return Estimate(
        target=target.name, model_bytes=model, code_bytes=code, flash_bytes=model + code,
        arena_bytes=max(e.arena_bytes for e in ests), ram_bytes=max(e.ram_bytes for e in ests),
        latency_ms=latency,
        energy_uj=latency * target.active_power_mw + target.energy_overhead_uj,
        macs=sum(e.macs for e in ests), params=sum(e.params for e in ests),
        ops=tuple(dict.fromkeys(op for e in ests for op in e.ops)),
        unsupported_ops=tuple(dict.fromkeys(op for e in ests for op in e.unsupported_ops)),
        unsupported_layers=tuple(dict.fromkeys(x for e in ests for x in e.unsupported_layers)),
        int8=all(e.int8 or e.source == "classical" for e in ests),
        source="ensemble", latency_model="sum of the members'",
        notes=tuple(f"member: {e.source} {e.model_bytes} B, {e.latency_ms:.3f} ms" for e in ests))


def _fits(members: Sequence[Member], targets: Sequence[Target], limits: Limits) -> bool:
    return all(feasible(violations(t, combine_estimates([m.estimates[t.name] for m in members],
                                                         t), limits)) for t in targets)


def select_ensemble(members: Sequence[Member], y_val: np.ndarray, targets: Sequence[Target],
                    *, limits: Limits | None = None, rounds: int = DEFAULT_ROUNDS) -> Ensemble | None:
    """Greedy selection with replacement over ``members``; None with fewer than two."""
    limits = limits or Limits()
    y = np.asarray(y_val)
    pool = [m for m in members if _fits([m], targets, limits)]
    if len(pool) < 2:
        return None
    accs = [float(np.mean(np.argmax(m.val_proba, axis=1) == y)) for m in pool]
    best_i = int(np.argmax(accs))
    counts: Counter[int] = Counter()
    total = np.zeros_like(pool[0].val_proba, dtype=np.float64)
    history: list[tuple[float, Counter[int]]] = []
    for r in range(rounds):
        best: tuple[float, float, int] | None = None
        for i, m in enumerate(pool):
            if i not in counts and not _fits([pool[j] for j in (*counts, i)], targets, limits):
                continue
            acc = float(np.mean(np.argmax((total + m.val_proba) / (r + 1), axis=1) == y))
            # ties: a member already in (costs nothing more), then the cheaper one
            cost = 0.0 if i in counts else sum(e.latency_ms for e in m.estimates.values())
            key = (acc, -cost, -i)
            if best is None or key > best:
                best = key
                chosen = i
        if best is None:
            break
        counts[chosen] += 1
        total += pool[chosen].val_proba
        history.append((best[0], Counter(counts)))
    acc, final = max(history, key=lambda h: (h[0], -len(h[1]), -sum(h[1].values())))
    n = sum(final.values())
    chosen_members = [pool[i] for i in final]
    return Ensemble(
        weights={pool[i].trial_id: c / n for i, c in final.items()}, val_accuracy=acc,
        best_single_id=pool[best_i].trial_id, best_single_accuracy=accs[best_i],
        estimates={t.name: combine_estimates([m.estimates[t.name] for m in chosen_members], t)
                   for t in targets},
        trajectory=tuple(h[0] for h in history))
