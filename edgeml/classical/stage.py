"""The classical stage of a run: classical trials, then the ensemble over all trials.

:func:`run_stage` runs after the network search (or alone, when no network is
searched) and the classical search (:mod:`.search`, which the pipeline runs, during
the network search's last trainings when it can): unless told not to, it selects
an ensemble (:mod:`.ensemble`) over every feasible trained trial of the run,
networks included: a network's validation probabilities are those of its int8
``.tflite`` run in the TFLM interpreter, as the firmware runs it (the search keeps
them for each trial).
The pipeline then chooses among the single models and the ensemble.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .._io import cpu_cores
from ..data import Dataset
from ..estimate import Estimate, Limits, check_fields
from ..records import Trial, TrialStatus
from ..targets import Target
from .ensemble import DEFAULT_MIN_GAIN, Ensemble, Member, select_ensemble
from .model import CModel
from .search import ClassicalResult, flat

__all__ = ["StageResult", "run_stage", "network_proba", "member_proba", "member_probas",
           "members_of", "winning_ensemble", "ENSEMBLE_ID", "estimate_from_dict"]

ENSEMBLE_ID = "ensemble"
Event = Callable[[str, Any], None]
_EST_FIELDS = {f.name for f in fields(Estimate)} - {"layers", "arena", "accelerator"}


@dataclass
class StageResult:
    classical: ClassicalResult
    ensemble: Ensemble | None = None
    ensemble_trial: Trial | None = None   # the ensemble as a candidate (Pareto, report)
    reason: str = ""                      # why there is no ensemble, or why it is not chosen


def estimate_from_dict(d: dict[str, Any]) -> Estimate:
    kw = {k: v for k, v in d.items() if k in _EST_FIELDS}
    for key in ("ops", "unsupported_ops", "unsupported_layers", "notes"):
        kw[key] = tuple(kw.get(key) or ())
    return Estimate(**kw)


def network_proba(model: bytes, x: np.ndarray, *, cache: Path | None = None) -> np.ndarray:
    """Class probabilities of an int8 ``.tflite`` on ``x``, run in TFLM (dequantized);
    ``cache``: a file of :func:`~edgeml.tflite.int8.save_proba` that holds them when they
    are this model's on this ``x`` (the search keeps each trial's on the validation split)."""
    from ..tflite.int8 import int8_proba, load_proba

    if cache is not None:
        kept = load_proba(cache, model, x)
        if kept is not None:
            return kept
    return int8_proba(model, x)


def member_proba(trial: Trial, x: np.ndarray, *, resolve: Callable[[str], Path],
                 models: dict[str, CModel] | None = None) -> np.ndarray:
    """A trial's class probabilities on ``x`` as it runs on the device."""
    from ..tflite.int8 import PROBA_FILE

    if trial.family:
        cm = (models or {}).get(trial.trial_id) or CModel.load(resolve(str(trial.cmodel)))
        return cm.predict_proba(flat(x))
    path = resolve(str(trial.tflite))
    return network_proba(path.read_bytes(), x, cache=path.parent / PROBA_FILE)


def member_probas(trials: Sequence[Trial], x: np.ndarray, *, resolve: Callable[[str], Path],
                  models: dict[str, CModel] | None = None) -> list[np.ndarray]:
    """:func:`member_proba` of each trial, several at once (a network runs TFLM in a child
    process)."""
    def one(t: Trial) -> np.ndarray:
        return member_proba(t, x, resolve=resolve, models=models)

    if len(trials) < 2:
        return [one(t) for t in trials]
    with ThreadPoolExecutor(max_workers=min(len(trials), cpu_cores())) as pool:
        return list(pool.map(one, trials))


def members_of(trials: Sequence[Trial], x_val: np.ndarray, *, resolve: Callable[[str], Path],
               models: dict[str, CModel] | None = None) -> list[Member]:
    """``trials`` as ensemble members: their probabilities on ``x_val``, their estimates."""
    out = []
    probas = member_probas(trials, x_val, resolve=resolve, models=models)
    for t, proba in zip(trials, probas, strict=True):
        ests = {name: estimate_from_dict(info["estimate"])
                for name, info in (t.targets or {}).items()}
        out.append(Member(trial_id=t.trial_id, family=t.family or "nn", val_proba=proba,
                          estimates=ests))
    return out


def winning_ensemble(members: Sequence[Member], y_val: np.ndarray, targets: Sequence[Target],
                     *, limits: Limits | None, min_gain: float) -> Ensemble | None:
    """The greedy ensemble of ``members`` when it has two or more and beats the best single
    member by more than ``min_gain``; None otherwise."""
    ens = select_ensemble(members, np.asarray(y_val), targets, limits=limits)
    return ens if ens is not None and ens.size >= 2 and ens.gain > min_gain else None


def run_stage(dataset: Dataset, targets: list[Target], *, network_trials: Sequence[Trial],
              classical: ClassicalResult, limits: Limits | None, ensemble: bool = True,
              min_gain: float = DEFAULT_MIN_GAIN, resolve: Callable[[str], Path] | None = None,
              members: Sequence[Member] = (), on_event: Event | None = None) -> StageResult:
    """The ensemble over ``network_trials`` and the classical search's result
    (:func:`~edgeml.classical.search.search_classical`). ``members``: some trials as
    members already (:func:`members_of`), not computed again."""
    emit = on_event or (lambda kind, rec: None)
    limits = limits or Limits()
    resolve = resolve or Path
    out = StageResult(classical=classical)
    if not ensemble:
        out.reason = "ensembles are off (--no-ensemble)"
        return out
    pool = [t for t in (*network_trials, *classical.trials) if t.deployable]
    if len(pool) < 2:
        out.reason = "fewer than two trained models fit: no ensemble to build"
        return out
    emit("ensemble", {"candidates": len(pool)})
    have = {m.trial_id: m for m in members}
    made = {m.trial_id: m for m in members_of([t for t in pool if t.trial_id not in have],
                                               dataset.x_val, resolve=resolve,
                                               models=classical.models)}
    members = [have.get(t.trial_id) or made[t.trial_id] for t in pool]
    ens = select_ensemble(members, np.asarray(dataset.y_val), targets, limits=limits)
    if ens is None or ens.size < 2:
        out.reason = ("no pair of models fits the target together" if ens is None else
                      "the greedy selection kept a single model")
        return out
    out.ensemble = ens
    fam = {m.trial_id: m.family for m in members}
    checked = check_fields(ens.estimates, targets, limits)
    out.ensemble_trial = Trial(
        trial_id=ENSEMBLE_ID, status=TrialStatus.TRAINED, family="ensemble",
        hyperparameters={"members": {i: round(w, 4) for i, w in ens.weights.items()},
                         "families": {i: fam[i] for i in ens.weights}},
        int8_val_accuracy=ens.val_accuracy, score=ens.val_accuracy,
        **{**checked, "note": f"{ens.size} members, {ens.gain * 100:+.2f} points over the best "
                              f"single model ({ens.best_single_id})"})
    if ens.gain <= min_gain:
        out.reason = (f"the ensemble gains {ens.gain * 100:.2f} points over the best single "
                      f"model, not more than --ensemble-min-gain {min_gain * 100:.2f}")
    return out
