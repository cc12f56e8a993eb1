"""How failed trials end a search and its resume (no training: plain records)."""

from __future__ import annotations

from edgeml.estimate import Limits
from edgeml.pipeline import _complete
from edgeml.records import Trial
from edgeml.search.tuner import no_feasible_message
from edgeml.targets import load_target

CHECKED = {"targets": {"esp32": {"fits": True, "estimate": {}, "violations": {"x": -1.0}}},
           "violations": {"x": -1.0}, "feasible": False, "broken": []}


def test_only_failed_trainings_is_said_so():
    died = "WorkerDied: the trial worker process died while training a candidate"
    trials = [Trial.from_json({"trial_id": str(i), "status": "failed", "stage": "train",
                               "error": f"{died} ({i})", **CHECKED}) for i in range(3)]
    err = no_feasible_message(trials, load_target("esp32"), Limits())
    assert err.message == f"no candidate could be trained (3 trainings failed; the last: " \
                          f"{died} (2))"
    trained = Trial.from_json({"trial_id": "3", "status": "trained", "int8_val_accuracy": 0.1,
                               **CHECKED})
    assert "fits after training" in no_feasible_message(trials + [trained],
                                                        load_target("esp32"), Limits()).message


def test_a_finished_run_that_lost_trials_to_failures_is_not_complete():
    assert _complete({"trials": 2, "trained": 2, "failed": 1}, 2)
    assert not _complete({"trials": 2, "trained": 1, "failed": 1}, 2)   # --resume makes it up
    assert _complete({"trials": 2, "trained": 1, "failed": 0}, 2)       # the space ran out
    assert not _complete({"trials": 2, "trained": 2, "failed": 0}, 3)   # --trials 3 extends it
