"""Search the classical families with a keras-tuner oracle, under a target's budget.

The space (:func:`~.families.define_space`) is handed to a keras-tuner oracle
through keras-tuner's public API, as the network search does: a ``BaseTuner``
gives the oracle its project folder and space, then ``create_trial``,
``update_trial`` and ``end_trial`` drive it. For each point the oracle draws:

1. before training, the largest model the point can grow into is costed on every
   target (:func:`~.cost.bound_estimate`); linear models and naive Bayes are
   costed exactly, so one that breaks a limit is recorded infeasible untrained;
2. the model is trained on the flattened training split, exported to C arrays
   (:class:`~.model.CModel`) and costed on its real size and on the nodes its
   trees visit on the validation split; its accuracy is the C model's (float32,
   the arithmetic of the generated C) on the validation split;
3. the oracle gets the accuracy (0 if the model breaks a limit).

With ``max_train_seconds`` (the pipeline passes the network trials' mean training
time, so that one classical candidate costs at most what one network trial did), a
point whose predicted training time (:func:`~.cost.train_work`, scaled by the ratio
of measured to predicted time of this search's trainings so far) is longer is
recorded failed, untrained, and another is drawn: an exact boosted model on
thousands of images can otherwise train for longer than the whole network search.

Trials are :class:`~edgeml.records.Trial` records with ``family`` set and the
same check fields (per-target estimates, violations, Pareto costs) as the
networks', so they join the networks' Pareto front and report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import dump_json
from ..data import Dataset
from ..estimate import Limits, check_fields
from ..records import Trial, TrialStatus
from ..targets import Target
from .cost import SECONDS_PER_WORK, bound_estimate, estimate_cmodel, train_work, tree_count
from .families import FAMILIES, build_estimator, define_space
from .model import CModel, to_cmodel

__all__ = ["ClassicalResult", "search_classical", "flat", "CLASSICAL_DIR"]

CLASSICAL_DIR = "classical"
Event = Callable[[str, Any], None]


@dataclass
class ClassicalResult:
    trials: list[Trial] = field(default_factory=list)
    models: dict[str, CModel] = field(default_factory=dict)   # trial_id -> trained model
    seconds: float = 0.0
    replayed: int = 0   # candidates read back from an earlier run of this search

    @property
    def best(self) -> Trial | None:
        ok = [t for t in self.trials if t.deployable]
        return max(ok, key=lambda t: (t.int8_val_accuracy or 0.0,
                                      -(t.costs or {}).get("latency_ms", 0.0))) if ok else None


def flat(x: np.ndarray) -> np.ndarray:
    """Samples as float32 vectors (images and time series flattened)."""
    x = np.asarray(x, np.float32)
    return x.reshape(len(x), -1)


def _oracle(strategy: str, *, max_draws: int, seed: int, families: tuple[str, ...],
            directory: Path) -> tuple[Any, str]:
    import keras_tuner as kt
    from keras_tuner.engine.base_tuner import BaseTuner

    common = dict(objective=kt.Objective("score", "max"), seed=1 + abs(int(seed)) % (2**31 - 2),
                  max_consecutive_failed_trials=max_draws + 1, max_trials=max_draws)
    if strategy == "bayesian":
        oracle = kt.oracles.BayesianOptimizationOracle(num_initial_points=3, **common)
    else:  # random; Hyperband's epochs mean nothing to these models: random draws
        oracle = kt.oracles.RandomSearchOracle(**common)

    def build(hp: Any) -> None:
        define_space(hp, families)

    host = BaseTuner(oracle=oracle, hypermodel=build, directory=str(directory),
                     project_name="classical_oracle", overwrite=True)
    oracle.verbose = 0
    return oracle, str(host.tuner_id)


def _active(values: dict[str, Any]) -> dict[str, Any]:
    family = values["family"]
    return {"family": family, **{k: v for k, v in values.items()
                                 if k.startswith(f"{family}_")}}


def search_classical(dataset: Dataset, targets: list[Target], *, limits: Limits | None = None,
                     families: tuple[str, ...] = FAMILIES, trials: int = 10, seed: int = 0,
                     strategy: str = "random", directory: str | Path,
                     max_train_seconds: float | None = None,
                     on_event: Event | None = None) -> ClassicalResult:
    """Train up to ``trials`` classical models of ``families`` and cost them on ``targets``;
    none predicted to train longer than ``max_train_seconds`` (see the module docstring)."""
    emit = on_event or (lambda kind, rec: None)
    limits = limits or Limits()
    out = ClassicalResult()
    if not families or trials < 1:
        return out
    t0 = time.perf_counter()
    directory = Path(directory)
    x_train, x_val = flat(dataset.x_train), flat(dataset.x_val)
    y_train, y_val = np.asarray(dataset.y_train), np.asarray(dataset.y_val)
    k, n_features = int(dataset.num_classes), int(x_train.shape[1])
    max_draws = 4 * trials + 10
    oracle, tuner_id = _oracle(strategy, max_draws=max_draws, seed=seed, families=families,
                               directory=directory / ".oracle")
    trained = 0
    ratios: list[float] = []  # measured / predicted training seconds of this search

    def predicted_seconds(values: dict[str, Any], cap: int | None) -> float:
        work = train_work(values, n_train=len(x_train), n_features=n_features, n_classes=k,
                          max_leaves=cap)
        scale = float(np.median(ratios)) if ratios else 1.0
        return work * SECONDS_PER_WORK * scale

    for n in range(1, max_draws + 1):
        if trained >= trials:
            break
        kt_trial = oracle.create_trial(tuner_id)
        if kt_trial.status == "STOPPED":
            break
        values = _active(dict(kt_trial.hyperparameters.values))
        tid = f"c{n:03d}"
        stored = _stored(directory, tid, values)
        if stored is not None:  # a resumed run: this candidate was trained (or rejected)
            trial, cm = stored
            if cm is not None:
                out.models[tid] = cm
                trained += 1
                if trial.train_seconds and trial.screen:
                    ratios.append(trial.train_seconds / max(trial.screen["predicted_s"], 1e-6))
            oracle.update_trial(kt_trial.trial_id, {"score": float(trial.score or 0.0)})
            kt_trial.status = "COMPLETED"
            oracle.end_trial(kt_trial)
            out.trials.append(trial)
            out.replayed += 1
            emit("classical_trial", trial.to_json())
            continue

        def checked(cap: int | None, values: dict[str, Any] = values) -> dict[str, Any]:
            bound = {t.name: bound_estimate(values, t, n_features=n_features, n_classes=k,
                                            n_train=len(x_train), max_leaves=cap)
                     for t in targets}
            return check_fields(bound, targets, limits)

        pre = checked(None)
        exact = values["family"] in ("linear", "nb")
        cap = None
        if not exact and not pre["feasible"]:
            # trees: cap each tree's leaves so that the size bound fits, rather than train a
            # model that cannot (too many trees even as stumps: costed before training)
            cap = _leaf_cap(checked, values, n_classes=k, n_train=len(x_train))
            if cap is not None:
                pre = checked(cap)
            else:
                pre = {**checked(2), "note": "breaks a limit even with one split per tree; "
                                              "costed before training"}
        guess = predicted_seconds(values, cap)
        if not pre["feasible"]:
            trial = Trial(trial_id=tid, status=TrialStatus.INFEASIBLE, hyperparameters=values,
                          family=values["family"],
                          **{**pre, "note": pre.get("note") or "costed before training"})
            score = 0.0
        elif max_train_seconds is not None and guess > max_train_seconds:
            trial = Trial(trial_id=tid, status=TrialStatus.FAILED, hyperparameters=values,
                          family=values["family"], stage="time",
                          screen={"predicted_s": round(guess, 3)},
                          error=f"predicted to train for {guess:.2f} s, longer than a network "
                                f"trial ({max_train_seconds:.2f} s): not trained")
            score = 0.0
        else:
            ts = time.perf_counter()
            est = build_estimator(values, seed=seed, max_leaves=cap).fit(x_train, y_train)
            cm = to_cmodel(est, family=values["family"], n_classes=k)
            train_s = time.perf_counter() - ts
            ratios.append(train_s / max(guess, 1e-6))
            visited = cm.nodes_visited(x_val)
            ests = {t.name: estimate_cmodel(cm, t, visited=visited) for t in targets}
            post = check_fields(ests, targets, limits)
            acc = float(np.mean(cm.predict(x_val) == y_val))
            float_acc = float(np.mean(est.predict(x_val) == y_val))
            path = cm.save(directory / CLASSICAL_DIR / f"{tid}.npz")
            note = ("fits by its size bound before training" if cap is None else
                    f"leaves capped at {cap} per tree so that its size bound fits")
            trial = Trial(trial_id=tid, status=TrialStatus.TRAINED, hyperparameters=values,
                          family=values["family"], int8_val_accuracy=acc,
                          float_val_accuracy=float_acc, train_seconds=round(train_s, 3),
                          screen={"predicted_s": round(guess, 3)},
                          cmodel=str(path), **{**post, "note": note})
            out.models[tid] = cm
            trained += 1
            score = acc if trial.feasible else 0.0
        trial = trial.with_(score=score)
        dump_json(directory / CLASSICAL_DIR / f"{tid}.json", trial.to_json())
        oracle.update_trial(kt_trial.trial_id, {"score": float(score)})
        kt_trial.status = "COMPLETED"
        oracle.end_trial(kt_trial)
        out.trials.append(trial)
        emit("classical_trial", trial.to_json())
    out.seconds = time.perf_counter() - t0
    return out


def _leaf_cap(checked: Callable[[int | None], dict[str, Any]], values: dict[str, Any], *,
              n_classes: int, n_train: int) -> int | None:
    """The most leaves per tree (2 or more) with which the size bound of ``values`` meets
    every limit (``checked(cap)``: the check fields of the bound), None if even 2 do not."""
    from .families import node_bound

    _, leaves, _ = node_bound(values, n_classes=n_classes, n_train=n_train)
    per_tree = max(2, leaves // max(1, tree_count(values, n_classes)))
    if not checked(2)["feasible"]:
        return None
    lo, hi = 2, per_tree  # feasible at lo; the bound grows with the cap
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if checked(mid)["feasible"]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _stored(directory: Path, tid: str, values: dict[str, Any]
            ) -> tuple[Trial, CModel | None] | None:
    """The record of candidate ``tid`` left by an earlier run of this search in
    ``directory`` (and its trained model), if it was drawn with the same values; an
    unreadable or different record is trained again."""
    folder = directory / CLASSICAL_DIR
    try:
        trial = Trial.from_json(json.loads((folder / f"{tid}.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if json.dumps(trial.hyperparameters, sort_keys=True) != json.dumps(values, sort_keys=True):
        return None
    if not trial.trained:
        return trial, None
    npz = folder / f"{tid}.npz"  # here, even if the run directory was moved
    try:
        return trial.with_(cmodel=str(npz)), CModel.load(npz)
    except Exception:  # a damaged model file: the candidate is trained again
        return None
