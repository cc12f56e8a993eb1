"""The Pareto front and the final choice under each objective (plain records)."""

from __future__ import annotations

import math

import pytest

from edgeml.records import Trial
from edgeml.search.pareto import choose, dominates, objective_score, pareto_front


def rec(tid, acc, lat, arena=1000, model=2000, energy=None, feasible=True, status="trained"):
    return Trial.from_json(
        {"trial_id": tid, "status": status, "feasible": feasible, "int8_val_accuracy": acc,
         "costs": {"latency_ms": lat, "arena_bytes": arena, "model_bytes": model,
                   "energy_uj": lat * 100 if energy is None else energy}})


def test_dominance_is_strict():
    assert dominates((1, 2), (1, 1)) and not dominates((1, 1), (1, 1))
    assert not dominates((2, 0), (1, 1))


def test_front_keeps_tradeoffs_and_drops_dominated_and_infeasible():
    rs = [rec("a", 0.95, 2.0), rec("b", 0.90, 1.0), rec("c", 0.89, 1.5),   # c: worse than b
          rec("d", 0.99, 0.5, feasible=False), rec("e", 0.97, 9.0, status="infeasible"),
          rec("f", 0.80, 1.0, arena=100)]                                  # f: less RAM
    assert [r.trial_id for r in pareto_front(rs)] == ["a", "b", "f"]


def test_choice_per_objective():
    rs = [rec("a", 0.95, 2.0, model=9000), rec("b", 0.94, 1.0, model=8000),
          rec("c", 0.90, 0.2, model=1000), rec("d", 0.99, 0.1, feasible=False)]
    assert choose(rs, "accuracy").trial_id == "a"
    # latency: cheapest within 0.02 of the best feasible accuracy (0.95) -> b, not c
    assert choose(rs, "latency", 0.02).trial_id == "b"
    assert choose(rs, "latency", 0.10).trial_id == "c"
    assert choose(rs, "size", 0.02).trial_id == "b"
    assert choose(rs, "energy", 0.0).trial_id == "a"
    assert choose([rec("x", 0.9, 1, feasible=False)], "accuracy") is None


def test_accuracy_ties_go_to_the_cheaper_model():
    rs = [rec("slow", 0.95, 3.0), rec("fast", 0.95, 1.0)]
    assert choose(rs, "accuracy").trial_id == "fast"


def test_objective_score():
    costs = {"latency_ms": 4.0, "energy_uj": 1.0, "model_bytes": 2048}
    assert objective_score(0.9, costs, "accuracy") == 0.9
    # halving the latency is worth exactly `tolerance` accuracy
    half = dict(costs, latency_ms=2.0)
    assert objective_score(0.9, half, "latency", 0.02) == pytest.approx(
        objective_score(0.92, costs, "latency", 0.02))
    assert math.isfinite(objective_score(0.0, dict(costs, energy_uj=0.0), "energy"))
