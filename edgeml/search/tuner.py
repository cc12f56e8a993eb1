"""EdgeTuner: a Keras Tuner ``BaseTuner`` that trains only candidates that fit.

For every hyperparameter set the oracle proposes, the tuner

1. builds the ``tf_keras`` model and converts it (untrained) to int8;
2. estimates it on the target (TFLM arena, flash, operators, latency, energy);
3. if it breaks any limit: records the candidate as infeasible (FAILED for the
   oracle) without training it, and asks the oracle for another one; such
   candidates do not count towards the trial budget;
4. otherwise trains it, converts it to int8 and scores it by its int8 accuracy
   on the validation split, measured in the TFLM interpreter.

keras-tuner's ``Tuner`` rejects ``tf_keras`` models when Keras 3 is installed;
``BaseTuner`` does not check the model type, hence the subclass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write
from .._tf import keras as _keras
from .._tf import set_seed
from ..compress.ptq import representative_sample, to_int8_tflite
from ..data import Dataset
from ..errors import BudgetError, EdgeMLError, ModelError
from ..estimate import (
    Estimate,
    Limits,
    describe_violation,
    estimate_graph,
    estimate_model,
    feasible,
    read_graph,
    violations,
)
from ..targets import Target
from .evaluate import evaluate_int8

__all__ = ["EdgeTuner", "SearchResult", "make_oracle", "OBJECTIVE"]

OBJECTIVE = "val_int8_accuracy"
Event = Callable[[str, dict[str, Any]], None]


def make_oracle(strategy: str, *, max_draws: int, seed: int, objective: str = OBJECTIVE,
                direction: str = "max") -> Any:
    import keras_tuner as kt

    common = dict(objective=kt.Objective(objective, direction), max_trials=max_draws, seed=seed,
                  max_consecutive_failed_trials=max_draws + 1)
    if strategy == "random":
        return kt.oracles.RandomSearchOracle(**common)
    if strategy == "bayesian":
        return kt.oracles.BayesianOptimizationOracle(num_initial_points=3, **common)
    if strategy == "hyperband":
        common.pop("max_trials")
        return kt.oracles.HyperbandOracle(max_epochs=27, factor=3, hyperband_iterations=1,
                                          **common)
    raise EdgeMLError(f"unknown search strategy {strategy!r}",
                      hint="use --strategy random, bayesian or hyperband")


@dataclass
class SearchResult:
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    seconds: dict[str, float]


def _base_tuner() -> type:
    from keras_tuner.engine.base_tuner import BaseTuner

    return BaseTuner


class EdgeTuner:
    """Factory wrapper so keras_tuner (and TensorFlow) load only when a search runs."""

    def __new__(cls, **kwargs: Any) -> Any:  # noqa: D102
        return _make_tuner_class()(**kwargs)


_TUNER_CLASS: type | None = None


def _make_tuner_class() -> type:
    global _TUNER_CLASS
    if _TUNER_CLASS is not None:
        return _TUNER_CLASS

    class _EdgeTuner(_base_tuner()):
        def __init__(self, *, oracle: Any, hypermodel: Callable[[Any], Any], dataset: Dataset,
                     target: Target, limits: Limits, epochs: int, seed: int,
                     directory: str | Path, project_name: str = "search",
                     overwrite: bool = True, on_event: Event | None = None) -> None:
            self.dataset = dataset
            self.target = target
            self.limits = limits
            self.epochs = int(epochs)
            self.seed = int(seed)
            self.on_event = on_event or (lambda kind, rec: None)
            self.records: dict[str, dict[str, Any]] = {}
            self.seconds = {"build_check": 0.0, "train": 0.0, "convert": 0.0, "tflm": 0.0}
            self._calib = representative_sample(dataset.x_train, n=200, seed=seed)
            super().__init__(oracle=oracle, hypermodel=hypermodel, directory=str(directory),
                             project_name=project_name, overwrite=overwrite)
            self.oracle.verbose = 0

        # -- one candidate -------------------------------------------------
        def check_candidate(self, model: Any) -> tuple[Estimate, dict[str, float], str]:
            """Estimate an untrained model on the target (before any training)."""
            t0 = time.perf_counter()
            model_bytes = to_int8_tflite(model, self._calib)
            t1 = time.perf_counter()
            note = ""
            try:
                est = estimate_model(model_bytes, self.target)
            except ModelError:
                # TFLM can abort in SOFTMAX prepare on untrained weights; measure the
                # logits model (same weights and activations but one tiny tensor).
                keras = _keras()
                logits = keras.Model(model.input, model.get_layer("logits").output)
                est = estimate_model(to_int8_tflite(logits, self._calib), self.target)
                g = read_graph(model_bytes)
                est = estimate_graph(g, self.target, arena_bytes=est.arena_bytes + 16 * 8,
                                     source="tflm")
                note = "arena measured without the final softmax"
            self.seconds["convert"] += t1 - t0
            self.seconds["tflm"] += time.perf_counter() - t1
            return est, violations(self.target, est, self.limits), note

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            """Train a feasible candidate; return its metrics (int8 accuracy first)."""
            keras = _keras()
            ds = self.dataset
            hp = trial.hyperparameters
            rec = self.records[trial.trial_id]
            set_seed(self.seed + int(trial.trial_id))
            model = self.hypermodel.build(hp)
            model.compile(optimizer=keras.optimizers.Adam(hp.get("lr")),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            epochs = int(hp.values.get("tuner/epochs", self.epochs))
            t0 = time.perf_counter()
            hist = model.fit(ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val),
                             epochs=epochs, batch_size=int(hp.get("batch_size")), verbose=0,
                             callbacks=[keras.callbacks.EarlyStopping(
                                 monitor="val_loss", patience=5, restore_best_weights=True)])
            t1 = time.perf_counter()
            float_acc = float(model.evaluate(ds.x_val, ds.y_val, verbose=0)[1])
            model_bytes = to_int8_tflite(model, self._calib)
            t2 = time.perf_counter()
            ev = evaluate_int8(model_bytes, ds.x_val, ds.y_val)
            t3 = time.perf_counter()
            self.seconds["train"] += t1 - t0
            self.seconds["convert"] += t2 - t1
            self.seconds["tflm"] += t3 - t2
            est = estimate_graph(read_graph(model_bytes), self.target,
                                 arena_bytes=int(ev.tflm.bisected_bytes or ev.tflm.arena_bytes))
            v = violations(self.target, est, self.limits)
            trial_dir = Path(self.get_trial_dir(trial.trial_id))
            trial_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(trial_dir / "model.tflite", model_bytes)
            model.save(str(trial_dir / "model.keras"))
            rec.update(status="trained", feasible=feasible(v), estimate=est.as_dict(),
                       violations=v, broken=[describe_violation(k, a, est) for k, a in v.items()
                                             if a > 0],
                       float_val_accuracy=float_acc, int8_val_accuracy=ev.accuracy,
                       epochs_run=len(hist.history["loss"]),
                       train_seconds=round(t1 - t0, 3),
                       tflite=str(trial_dir / "model.tflite"), keras=str(trial_dir / "model.keras"))
            keras.backend.clear_session()
            return {OBJECTIVE: ev.accuracy if feasible(v) else 0.0, "val_float_accuracy": float_acc,
                    "latency_ms": est.latency_ms, "arena_bytes": float(est.arena_bytes),
                    "model_bytes": float(est.model_bytes), "energy_uj": est.energy_uj}

        # -- the loop ------------------------------------------------------
        def search_feasible(self, *, trials: int, max_rejects: int) -> SearchResult:
            import keras_tuner as kt

            Status = kt.engine.trial.TrialStatus
            keras = _keras()
            trained = sum(1 for r in self.records.values() if r.get("status") == "trained")
            rejected_in_row = 0
            while trained < trials:
                trial = self.oracle.create_trial(self.tuner_id)
                if trial.status == Status.STOPPED:
                    break
                if trial.status == Status.IDLE:
                    continue
                hp = trial.hyperparameters
                rec: dict[str, Any] = {"trial_id": trial.trial_id,
                                       "hyperparameters": dict(hp.values)}
                self.records[trial.trial_id] = rec
                t0 = time.perf_counter()
                set_seed(self.seed + int(trial.trial_id))
                try:
                    model = self.hypermodel.build(hp)
                    est, v, note = self.check_candidate(model)
                except EdgeMLError as exc:
                    rec.update(status="failed", error=str(exc))
                    trial.status, trial.message = Status.FAILED, str(exc)
                    self.oracle.end_trial(trial)
                    self.on_event("failed", rec)
                    rejected_in_row += 1
                    if rejected_in_row > max_rejects:
                        break
                    continue
                finally:
                    keras.backend.clear_session()
                    self.seconds["build_check"] += time.perf_counter() - t0
                rec.update(estimate=est.as_dict(), violations=v, note=note)
                if not feasible(v):
                    rec.update(status="infeasible", feasible=False,
                               broken=[describe_violation(k, a, est) for k, a in v.items() if a > 0])
                    trial.status, trial.message = Status.FAILED, "; ".join(rec["broken"])
                    self.oracle.end_trial(trial)
                    self.on_event("infeasible", rec)
                    rejected_in_row += 1
                    if rejected_in_row > max_rejects:
                        break
                    continue
                rejected_in_row = 0
                self.on_event("train", rec)
                self.on_trial_begin(trial)
                self._try_run_and_update_trial(trial)
                self.on_trial_end(trial)
                if rec.get("status") != "trained":
                    rec.update(status="failed", error=(trial.message or "").strip().splitlines()[-1:])
                trained += 1
                self.on_event("trained", rec)
            done = [r for r in self.records.values() if r.get("status") == "trained" and r["feasible"]]
            best = None
            if done:
                best = max(done, key=lambda r: (r["int8_val_accuracy"], -r["estimate"]["latency_ms"]))
            return SearchResult(trials=list(self.records.values()), best=best,
                                seconds=dict(self.seconds))

    _TUNER_CLASS = _EdgeTuner
    return _EdgeTuner


def no_feasible_message(records: list[dict[str, Any]], target: Target, limits: Limits) -> BudgetError:
    """Explain which limit no candidate met, with the smallest value seen."""
    checked = [r for r in records if "violations" in r]
    if not checked:
        errs = [r.get("error") for r in records if r.get("error")]
        return BudgetError("no candidate model could be built and checked" +
                           (f" ({errs[0]})" if errs else ""),
                           hint="run with --debug to see why")
    counts: dict[str, int] = {}
    for r in checked:
        for k, a in r["violations"].items():
            if a > 0:
                counts[k] = counts.get(k, 0) + 1
    worst = max(counts, key=counts.get) if counts else "arena_bytes"
    kb = 1024.0
    fields = {
        "arena_bytes": ("arena_bytes", target.arena_budget, "KB RAM (tensor arena)", "the target's arena budget", kb),
        "max_arena_bytes": ("arena_bytes", limits.max_arena_bytes, "KB RAM (tensor arena)", "--max-ram-kb", kb),
        "flash_bytes": ("model_bytes", target.model_flash_budget - target.runtime_flash_bytes, "KB flash", "the target's flash budget", kb),
        "max_model_bytes": ("model_bytes", limits.max_model_bytes, "KB flash (model)", "--max-flash-kb", kb),
        "max_latency_ms": ("latency_ms", limits.max_latency_ms, "ms latency", "--max-latency-ms", 1.0),
    }
    if worst in fields:
        key, limit, unit, flag, div = fields[worst]
        smallest = min(r["estimate"][key] for r in checked)
        return BudgetError(
            f"no candidate fits {target.name}: smallest candidate needs {smallest / div:.1f} {unit}; "
            f"limit is {limit / div:.1f} ({flag}, {len(checked)} candidates checked)",
            hint="raise the limit, choose a larger target, or reduce the input size")
    if worst == "unsupported_ops":
        ops = sorted({o for r in checked for o in r["estimate"]["unsupported_ops"]})
        return BudgetError(f"every candidate uses operators {', '.join(ops)} that {target.name}'s runtime lacks",
                           hint="add the kernels to the target profile's runtime.ops")
    return BudgetError(f"no candidate fits {target.name} ({worst})", hint="relax the limits")
