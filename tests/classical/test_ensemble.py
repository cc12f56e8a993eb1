"""Greedy ensemble selection: better than its best member, and never over the budget."""

from __future__ import annotations

import numpy as np
import pytest

from edgeml.estimate import Limits, feasible, violations

pytestmark = pytest.mark.slow  # trains small scikit-learn models


def test_ensemble_weights_and_accuracy(digits_members):
    from edgeml.classical.ensemble import select_ensemble

    members, y, targets = digits_members
    ens = select_ensemble(members, y, targets)
    assert ens is not None
    assert abs(sum(ens.weights.values()) - 1.0) < 1e-9
    assert ens.val_accuracy >= ens.best_single_accuracy
    # the reported accuracy is the weighted average's
    by_id = {m.trial_id: m for m in members}
    avg = sum(w * by_id[i].val_proba for i, w in ens.weights.items())
    assert ens.val_accuracy == pytest.approx(float(np.mean(np.argmax(avg, axis=1) == y)))
    # flash and latency add up, RAM is the peak
    e = ens.estimates["esp32"]
    parts = [by_id[i].estimates["esp32"] for i in ens.weights]
    assert e.model_bytes == sum(p.model_bytes for p in parts)
    assert e.latency_ms == pytest.approx(sum(p.latency_ms for p in parts))
    assert e.arena_bytes == max(p.arena_bytes for p in parts)


def test_an_ensemble_that_does_not_fit_is_never_chosen(digits_members):
    from edgeml.classical.ensemble import combine_estimates, select_ensemble

    members, y, targets = digits_members
    free = select_ensemble(members, y, targets)
    assert free is not None and free.size >= 2
    # a flash limit that each member meets alone but the free ensemble breaks
    biggest = max(m.estimates["esp32"].model_bytes for m in members)
    limit = max(biggest, free.estimates["esp32"].model_bytes - 1)
    limits = Limits(max_model_bytes=limit)
    capped = select_ensemble(members, y, targets, limits=limits)
    assert capped is not None
    assert capped.estimates["esp32"].model_bytes <= limit
    chosen = [m.estimates["esp32"] for m in members if m.trial_id in capped.weights]
    assert feasible(violations(targets[0], combine_estimates(chosen, targets[0]), limits))
    assert set(capped.weights) != set(free.weights)
    # a latency limit below every member's: nothing to choose from
    fastest = min(m.estimates["esp32"].latency_ms for m in members)
    assert select_ensemble(members, y, targets,
                           limits=Limits(max_latency_ms=fastest * 0.5)) is None


def test_a_winning_ensemble_beats_its_best_member_by_more_than_the_minimum_gain(digits_members):
    """What decides whether the best network's retrain starts before the classical stage
    (an ensemble of the networks that wins already makes a single network unlikely)."""
    from edgeml.classical.ensemble import select_ensemble
    from edgeml.classical.stage import winning_ensemble

    members, y, targets = digits_members
    ens = select_ensemble(members, y, targets)
    assert ens is not None and ens.size >= 2 and ens.gain > 0
    won = winning_ensemble(members, y, targets, limits=None, min_gain=ens.gain / 2)
    assert won is not None and won.weights == ens.weights
    assert winning_ensemble(members, y, targets, limits=None, min_gain=ens.gain) is None
    assert winning_ensemble(members[:1], y, targets, limits=None, min_gain=0.0) is None
