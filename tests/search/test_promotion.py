"""Promotion: the best of the fresh candidates continues training with the rest of the
budget while its validation loss still falls (edgeml.search.oracles)."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from edgeml.search.tuner import promotion_plan


def test_the_plan_keeps_a_quarter_of_the_budget_and_at_most_two_trainings():
    assert promotion_plan(8, 5, "random") == {"after": 6, "count": 2, "initial": 5,
                                              "epochs": 10}
    assert promotion_plan(4, 30, "bayesian") == {"after": 3, "count": 1, "initial": 30,
                                                 "epochs": 60}
    assert promotion_plan(20, 10, "random") == {"after": 18, "count": 2, "initial": 10,
                                                "epochs": 20}
    assert promotion_plan(3, 5, "random") is None       # too few trials to keep any
    assert promotion_plan(8, 5, "hyperband") is None    # it promotes by its own schedule


@pytest.fixture()
def oracle(tmp_path):
    import keras_tuner as kt

    from edgeml.search import make_oracle

    o = make_oracle("random", max_draws=50, seed=0)
    hp = kt.HyperParameters()
    hp.Int("units", 1, 512)
    hp.Float("lr", 1e-3, 1e-2, sampling="log")
    o.hyperparameters = hp
    o._set_project_dir(str(tmp_path), "oracle")
    o.set_promotion({"after": 3, "count": 1, "initial": 5, "epochs": 10})
    return o


def _end(oracle: Any, trial: Any, score: float, *, improving: bool | None) -> None:
    oracle.update_trial(trial.trial_id, {"score": score})
    if improving is not None:  # trained (an infeasible candidate is not)
        oracle.note_trained(trial.trial_id, improving=improving)
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def test_the_oracle_waits_for_the_fresh_trainings_then_continues_the_best(oracle):
    a = oracle.create_trial("a")
    b = oracle.create_trial("b")
    _end(oracle, a, 0.90, improving=True)
    rejected = oracle.create_trial("a")
    _end(oracle, rejected, 0.0, improving=None)  # did not fit: does not count
    c = oracle.create_trial("a")
    assert "tuner/trial_id" not in c.hyperparameters.values
    # three fresh drawn: a trained, b and c running: the next slot waits
    assert oracle.create_trial("z").status == "IDLE"
    _end(oracle, b, 0.95, improving=True)
    assert oracle.create_trial("z").status == "IDLE"
    _end(oracle, c, 0.93, improving=False)
    p = oracle.create_trial("z")
    assert p.status == "RUNNING"
    values = p.hyperparameters.values
    assert values["tuner/trial_id"] == b.trial_id  # the best, not the last
    assert (values["tuner/initial_epoch"], values["tuner/epochs"]) == (5, 10)
    assert values["units"] == b.hyperparameters.values["units"]
    _end(oracle, p, 0.97, improving=False)
    # once only: fresh candidates from then on
    for _ in range(3):
        t = oracle.create_trial("z")
        assert t.status == "RUNNING" and "tuner/trial_id" not in t.hyperparameters.values
        _end(oracle, t, 0.5, improving=True)


def test_the_two_best_continue_side_by_side_unless_converged(oracle):
    oracle.set_promotion({"after": 4, "count": 2, "initial": 5, "epochs": 10})
    scores = ((0.90, True), (0.97, True), (0.95, False), (0.93, True))
    fresh = [oracle.create_trial(f"s{i}") for i in range(4)]
    for t, (score, improving) in zip(fresh, scores, strict=True):
        _end(oracle, t, score, improving=improving)
    first = oracle.create_trial("s0")
    # the second best (0.95) converged: the other slot gets a fresh candidate
    second = oracle.create_trial("s1")
    assert first.hyperparameters.values["tuner/trial_id"] == fresh[1].trial_id
    assert "tuner/trial_id" not in second.hyperparameters.values
    _end(oracle, second, 0.99, improving=True)  # a later fresh one is never continued
    _end(oracle, first, 0.98, improving=True)
    t = oracle.create_trial("s0")
    assert "tuner/trial_id" not in t.hyperparameters.values


def test_a_candidate_among_the_best_whatever_the_running_ones_score_continues_at_once(oracle):
    """Several workers: while the last fresh training runs, a slot does not wait for it when
    the best finished candidate is among the `count` best whatever it scores."""
    oracle.set_promotion({"after": 3, "count": 2, "initial": 5, "epochs": 10})
    a, b, c = (oracle.create_trial(f"s{i}") for i in range(3))
    _end(oracle, a, 0.90, improving=True)
    # a finished, b and c running: a could end third of three
    assert oracle.create_trial("z").status == "IDLE"
    _end(oracle, b, 0.95, improving=True)
    # b is first or second of the three, whatever c scores: continued now, c still running
    p = oracle.create_trial("z")
    assert p.status == "RUNNING" and p.hyperparameters.values["tuner/trial_id"] == b.trial_id
    # a may still be overtaken by c: the other slot waits for c
    assert oracle.create_trial("y").status == "IDLE"
    _end(oracle, c, 0.97, improving=True)
    q = oracle.create_trial("y")
    assert q.hyperparameters.values["tuner/trial_id"] == c.trial_id  # not a (third)


def test_a_converged_best_leaves_the_budget_to_fresh_candidates(oracle):
    for score, improving in ((0.9, True), (0.95, False), (0.8, True)):
        _end(oracle, oracle.create_trial("a"), score, improving=improving)
    for _ in range(3):
        t = oracle.create_trial("a")
        assert t.status == "RUNNING" and "tuner/trial_id" not in t.hyperparameters.values
        _end(oracle, t, 0.99, improving=True)


@pytest.mark.slow
def test_a_search_continues_its_best_candidate_and_resumes_it(tmp_path, mlp_space):
    from edgeml.pipeline import SearchConfig, resume_search, run_search

    opts = dict(target="esp32", trials=4, epochs=1, seed=0, models="nn", ensemble=False,
                refit=False, space=str(mlp_space), warm_start=False)
    res = run_search(SearchConfig(out=str(tmp_path / "p"), **opts))
    rep = res.report
    trained = [t for t in rep["trials"] if t["status"] == "trained"]
    # one epoch leaves every candidate improving: three fresh ones, then the best continues
    assert rep["search"]["budget_used"] == pytest.approx(4.0)
    assert len(trained) == 4
    fresh, last = trained[:3], trained[3]
    best = max(fresh, key=lambda t: (t["score"], -int(t["trial_id"])))
    assert last["continues"] == best["trial_id"]
    assert last["hyperparameters"]["tuner/epochs"] == 2
    assert last["checked_as"] == best["trial_id"]  # same architecture: not checked again
    assert rep["search"]["promotion"] == {"enabled": True, "trials": {last["trial_id"]: {
        "continues": best["trial_id"], "from_epoch": 1, "to_epoch": 2}}}
    meta = json.loads((tmp_path / "p" / "run.json").read_text())
    assert meta["promotion"] == {"after": 3, "count": 1, "initial": 1, "epochs": 2}
    assert f"continues trial {best['trial_id']} (epochs 1 to 2)" in \
        (tmp_path / "p" / "report.md").read_text()

    # cut off during the continued training: --resume replays the fresh ones, runs it again
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "p", cut)
    (cut / "trials" / f"trial_{int(last['trial_id']):04d}.json").unlink()
    (cut / "report.json").unlink()
    again = resume_search(cut)
    assert again.report["search"]["replayed"] == len(rep["trials"]) - 1
    assert [t["hyperparameters"] for t in again.report["trials"]] == \
        [t["hyperparameters"] for t in rep["trials"]]
    # a finished run is complete (its budget is spent, with 4 trained records)
    events: list[str] = []
    resume_search(cut, on_event=lambda kind, rec: events.append(kind))
    assert "complete" in events and "train" not in events

    off = run_search(SearchConfig(out=str(tmp_path / "off"), promote=False, **opts)).report
    assert not any(t.get("continues") for t in off["trials"])
    assert off["search"]["promotion"] == {"enabled": False, "trials": {}}
    assert json.loads((tmp_path / "off" / "run.json").read_text())["promotion"] is None


def test_a_continued_trial_is_one_configuration_in_the_knowledge_base(digits):
    from edgeml.estimate import Limits
    from edgeml.records import Trial, TrialStatus
    from edgeml.search.knowledge import entry_for_run
    from edgeml.targets import load_target

    values = {"arch": "conv", "width": 0.5, "lr": 0.004}

    def trained(tid: str, acc: float, **extra: Any) -> Trial:
        return Trial(trial_id=tid, status=TrialStatus.TRAINED, feasible=True,
                     hyperparameters={**values, **extra}, int8_val_accuracy=acc,
                     costs={"model_bytes": 5000, "arena_bytes": 2000})

    other = trained("1", 0.90).with_(hyperparameters={**values, "width": 1.0})
    trials = [trained("0", 0.93), other,
              trained("2", 0.96, **{"tuner/trial_id": "0", "tuner/initial_epoch": 5,
                                    "tuner/epochs": 10})]
    entry = entry_for_run(digits.summary(), [load_target("esp32")], Limits(), "image", trials)
    assert [t["values"] for t in entry["top"]] == [values, other.hyperparameters]
    assert entry["top"][0]["int8_val_accuracy"] == 0.96
