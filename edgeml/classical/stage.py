"""The classical stage of a run: classical trials, then the ensemble over all trials.

:func:`run_stage` runs after the network search (or alone, when no network is
searched): it searches the classical families (:mod:`.search`) and, unless told
not to, selects an ensemble (:mod:`.ensemble`) over every feasible trained trial
of the run, networks included: a network's validation probabilities are those
of its int8 ``.tflite`` run in the TFLM interpreter, as the firmware runs it.
The pipeline then chooses among the single models and the ensemble.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Dataset
from ..estimate import Estimate, Limits, check_fields
from ..records import Trial, TrialStatus
from ..targets import Target
from .ensemble import DEFAULT_MIN_GAIN, Ensemble, Member, select_ensemble
from .model import CModel
from .search import ClassicalResult, flat, search_classical

__all__ = ["StageResult", "run_stage", "network_proba", "member_proba", "ENSEMBLE_ID",
           "estimate_from_dict"]

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


def network_proba(model: bytes, x: np.ndarray) -> np.ndarray:
    """Class probabilities of an int8 ``.tflite`` on ``x``, run in TFLM (dequantized)."""
    from ..tflite.graph import read_graph
    from ..tflite.tflm import quantize_input, run_tflm

    graph = read_graph(model)
    inp, out = graph.input(0), graph.output(0)
    if inp.dtype in ("int8", "uint8", "int16"):
        xq = quantize_input(x, inp.scale or 1.0, inp.zero_point or 0, inp.dtype)
    else:
        xq = np.asarray(x, np.float32)
    res = run_tflm(model, xq.reshape((len(x), *inp.shape[1:])))
    o = np.asarray(res.outputs, np.float64).reshape(len(x), -1)
    if out.dtype in ("int8", "uint8", "int16"):
        o = (o - float(out.zero_point or 0)) * float(out.scale or 1.0)
    return o


def member_proba(trial: Trial, x: np.ndarray, *, resolve: Callable[[str], Path],
                 models: dict[str, CModel] | None = None) -> np.ndarray:
    """A trial's class probabilities on ``x`` as it runs on the device."""
    if trial.family:
        cm = (models or {}).get(trial.trial_id) or CModel.load(resolve(str(trial.cmodel)))
        return cm.predict_proba(flat(x))
    return network_proba(resolve(str(trial.tflite)).read_bytes(), x)


def run_stage(dataset: Dataset, targets: list[Target], *, network_trials: Sequence[Trial],
              families: tuple[str, ...], trials: int, seed: int, strategy: str,
              limits: Limits | None, run_dir: Path, ensemble: bool = True,
              min_gain: float = DEFAULT_MIN_GAIN, resolve: Callable[[str], Path] | None = None,
              max_train_seconds: float | None = None,
              on_event: Event | None = None) -> StageResult:
    emit = on_event or (lambda kind, rec: None)
    limits = limits or Limits()
    resolve = resolve or Path
    classical = search_classical(dataset, targets, limits=limits, families=families,
                                 trials=trials, seed=seed, strategy=strategy,
                                 directory=run_dir, max_train_seconds=max_train_seconds,
                                 on_event=emit)
    out = StageResult(classical=classical)
    if not ensemble:
        out.reason = "ensembles are off (--no-ensemble)"
        return out
    pool = [t for t in (*network_trials, *classical.trials) if t.deployable]
    if len(pool) < 2:
        out.reason = "fewer than two trained models fit: no ensemble to build"
        return out
    emit("ensemble", {"candidates": len(pool)})
    members = []
    for t in pool:
        proba = member_proba(t, dataset.x_val, resolve=resolve, models=classical.models)
        ests = {name: estimate_from_dict(info["estimate"])
                for name, info in (t.targets or {}).items()}
        members.append(Member(trial_id=t.trial_id, family=t.family or "nn", val_proba=proba,
                              estimates=ests))
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
