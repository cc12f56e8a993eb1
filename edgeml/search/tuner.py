"""EdgeTuner: a Keras Tuner ``BaseTuner`` that trains only candidates that fit.

For every hyperparameter set the oracle proposes, the tuner

1. builds the ``tf_keras`` model and converts it (untrained) to int8, in the
   trial worker process like every TensorFlow step of a trial (:mod:`.worker`);
2. estimates it on every target (tensor arena measured in TFLM, flash,
   operators, latency, energy);
3. if it breaks any limit on any target: records it as infeasible with the
   limits it broke, without training it, and asks the oracle for another one.
   Rejected candidates do not use the trial budget; they are reported to the
   oracle with the score of a model of accuracy 0, so model-based oracles
   (Bayesian) learn to avoid their region, and Hyperband re-draws the slot;
4. otherwise trains it, converts it to int8 and scores it by its int8 accuracy
   on the validation split, measured in the TFLM interpreter (the float
   accuracy is recorded too).

With Hyperband, a trial carrying ``tuner/trial_id`` continues training the
weights of that earlier trial from ``tuner/initial_epoch`` to ``tuner/epochs``
(as keras-tuner's own Hyperband tuner does); its feasibility is the earlier
trial's, since the architecture is the same. The trial budget is counted in
full trainings of ``epochs`` epochs, so ``trials=10`` gives Hyperband the
epochs of ten full trainings spread over its brackets.

Every finished trial is written to the run directory at once (:class:`TrialStore`).
A new tuner over the same directory replays those records to a fresh oracle
with the same seed: the oracle proposes the same candidates in the same order,
finished ones are not run again, and the one that was cut off runs again,
once. The search thus resumes after any kill, including ``kill -9``.

keras-tuner's ``Tuner`` rejects ``tf_keras`` models when Keras 3 is installed;
``BaseTuner`` does not check the model type, hence the subclass.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import atomic_write
from .._tf import keras as _keras
from ..data import Dataset
from ..errors import BudgetError, EdgeMLError
from ..estimate import (
    CONSTRAINTS,
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
from ..tflite.int8 import evaluate_int8, representative_sample
from .pareto import DEFAULT_TOLERANCE, OBJECTIVES, choose, objective_score
from .spaces import Space, SpaceError
from .store import TrialStore
from .worker import TrialContext, TrialFailure, make_runner, rss_bytes

__all__ = ["EdgeTuner", "SearchResult", "make_oracle", "OBJECTIVE", "no_feasible_message",
           "STRATEGIES"]

OBJECTIVE = "score"
STRATEGIES = ("random", "bayesian", "hyperband")
Event = Callable[[str, dict[str, Any]], None]


def oracle_seed(seed: int) -> int:
    """The keras-tuner seed for ``--seed``.

    keras-tuner replaces a falsy seed (0) by a random one, and seeds each value it
    draws with ``seed + n`` (n counts the values drawn so far), so seeds 0 and 1
    would draw the same stream shifted by one value. Spacing the seeds far apart
    keeps every ``--seed`` reproducible and the streams of different seeds apart.
    """
    return 1 + (abs(int(seed)) * 100_003) % (2**31 - 2)


def make_oracle(strategy: str, *, max_draws: int, seed: int, epochs: int = 30,
                objective: str = OBJECTIVE, direction: str = "max") -> Any:
    """A keras-tuner oracle; ``max_draws`` bounds candidates drawn (trained or not)."""
    import keras_tuner as kt

    common = dict(objective=kt.Objective(objective, direction), seed=oracle_seed(seed),
                  max_consecutive_failed_trials=max_draws + 1)
    if strategy == "random":
        oracle = kt.oracles.RandomSearchOracle(max_trials=max_draws, **common)
    elif strategy == "bayesian":
        oracle = _bayesian_oracle_class()(max_trials=max_draws, num_initial_points=3, **common)
    elif strategy == "hyperband":
        oracle = kt.oracles.HyperbandOracle(max_epochs=max(int(epochs), 1), factor=3,
                                            hyperband_iterations=1, **common)
    else:
        raise EdgeMLError(f"unknown search strategy {strategy!r}",
                          hint="use --strategy random, bayesian or hyperband")
    oracle.verbose = 0
    return oracle


_BAYES: type | None = None


def _bayesian_oracle_class() -> type:
    """keras-tuner's Gaussian-process oracle with a vectorised acquisition step.

    keras-tuner maximises the upper confidence bound with 50 L-BFGS-B restarts
    and finite-difference gradients, one GP prediction per evaluation: tens of
    seconds per candidate on two cores once a few trials are in. Here the same
    bound (same GP, same ``beta``) is evaluated in one batch over random points
    of the unit cube plus jitter around the best trials so far, and the best
    point whose values were not tried yet is proposed. Deterministic for a seed.
    """
    global _BAYES
    if _BAYES is not None:
        return _BAYES
    import numpy as np
    from keras_tuner.oracles import BayesianOptimizationOracle

    class EdgeBayesianOracle(BayesianOptimizationOracle):
        n_random = 2048
        n_local = 512

        def populate_space(self, trial_id: str) -> dict[str, Any]:
            completed = [t for t in self.trials.values() if t.status == "COMPLETED"]
            dims = len(self._nonfixed_space())
            if len(completed) < (self.num_initial_points or max(3 * dims, 3)) or dims == 0:
                return self._random_populate_space()
            x, y = self._vectorize_trials()
            x = np.nan_to_num(x, posinf=0, neginf=0)
            y = np.nan_to_num(y, posinf=0, neginf=0)
            with warnings.catch_warnings():  # GP length-scale convergence notes
                warnings.simplefilter("ignore")
                self.gpr.fit(x, y)
            rs = self._random_state
            pool = [rs.uniform(0.0, 1.0, size=(self.n_random, dims))]
            best = x[np.argsort(y)[:4]]  # y is minimised (scores of "max" are negated)
            for centre in best:
                pool.append(np.clip(centre + rs.normal(0.0, 0.1, size=(self.n_local // 4, dims)),
                                    0.0, 1.0))
            cand = np.concatenate(pool)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mu, sigma = self.gpr.predict(cand, return_std=True)
            ucb = np.asarray(mu).ravel() - self.beta * np.asarray(sigma).ravel()
            for i in np.argsort(ucb, kind="stable"):
                values = self._vector_to_values(cand[i])
                if not self._duplicate(values):
                    return {"status": "RUNNING", "values": values}
            return self._random_populate_space()

    _BAYES = EdgeBayesianOracle
    return _BAYES


@dataclass
class SearchResult:
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    seconds: dict[str, float]
    smallest: list[dict[str, Any]] = field(default_factory=list)  # the space's smallest, if checked
    stop_reason: str = ""
    budget_used: float = 0.0
    replayed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _base_tuner() -> type:
    from keras_tuner.engine.base_tuner import BaseTuner

    return BaseTuner


class EdgeTuner:
    """Factory wrapper so keras_tuner (and TensorFlow) load only when a search runs."""

    def __new__(cls, **kwargs: Any) -> Any:  # noqa: D102
        return _make_tuner_class()(**kwargs)


def _same_values(stored: dict[str, Any], drawn: dict[str, Any]) -> bool:
    if set(stored) != set(drawn):
        return False
    for k, a in stored.items():
        b = drawn[k]
        if isinstance(a, float) or isinstance(b, float):
            try:
                if not math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-12):
                    return False
            except (TypeError, ValueError):
                return False
        elif a != b:
            return False
    return True


def _first_line(exc: BaseException, limit: int) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__


_TUNER_CLASS: type | None = None


def _make_tuner_class() -> type:
    global _TUNER_CLASS
    if _TUNER_CLASS is not None:
        return _TUNER_CLASS

    class _EdgeTuner(_base_tuner()):
        def __init__(self, *, oracle: Any, hypermodel: Callable[[Any], Any] | Space,
                     dataset: Dataset, target: Target | None = None,
                     targets: Sequence[Target] | None = None, limits: Limits | None = None,
                     epochs: int, seed: int, directory: str | Path,
                     project_name: str = ".oracle", objective: str = "accuracy",
                     tolerance: float = DEFAULT_TOLERANCE, patience: int = 5,
                     on_event: Event | None = None, isolate: bool | None = None) -> None:
            if objective not in OBJECTIVES:
                raise EdgeMLError(f"unknown objective {objective!r}",
                                  hint=f"use --objective {', '.join(OBJECTIVES)}")
            ts = tuple(targets or ((target,) if target is not None else ()))
            if not ts:
                raise EdgeMLError("the search needs at least one target", hint="pass --target")
            self.targets: tuple[Target, ...] = ts
            self.target = ts[0]
            self.space = hypermodel if isinstance(hypermodel, Space) else Space(
                build=hypermodel, name=getattr(hypermodel, "__name__", "build"))
            self.dataset = dataset
            self.limits = limits or Limits()
            self.epochs = int(epochs)
            self.seed = int(seed)
            self.objective = objective
            self.tolerance = float(tolerance)
            self.patience = int(patience)
            self.on_event = on_event or (lambda kind, rec: None)
            self.run_dir = Path(directory)
            self.store = TrialStore(self.run_dir)
            self.records: dict[str, dict[str, Any]] = {}
            # check: build + int8 + estimates before training; the others: trained trials
            self.seconds = {"check": 0.0, "train": 0.0, "convert": 0.0, "tflm": 0.0}
            self.fit_calls = 0
            self._calib = representative_sample(dataset.x_train, n=200, seed=seed)
            self._stored = self.store.load()
            # the process that builds, converts and trains candidates (started now, so
            # that its TensorFlow import overlaps the oracle's set-up below)
            self.runner = make_runner(TrialContext(
                space=self.space, x_train=dataset.x_train, y_train=dataset.y_train,
                x_val=dataset.x_val, y_val=dataset.y_val, calib=self._calib, targets=ts,
                seed=self.seed, epochs=self.epochs, patience=self.patience), isolate=isolate)
            try:
                super().__init__(oracle=oracle, hypermodel=self.space.build,
                                 directory=str(directory), project_name=project_name,
                                 overwrite=True)
            except EdgeMLError:
                self.runner.close()
                raise
            except Exception as exc:
                self.runner.close()
                text = str(exc).strip().splitlines()
                raise SpaceError(
                    f"building the search space {self.space.name!r} failed "
                    f"({type(exc).__name__}: {text[0][:200] if text else ''})",
                    hint="build(hp) must build a model for every value of its "
                         "hyperparameters") from exc
            finally:
                _keras().backend.clear_session()
            self.oracle.verbose = 0

        # -- estimates -----------------------------------------------------
        def _trained_estimates(self, model_bytes: bytes, host_arena: int) -> dict[str, Estimate]:
            """Estimates of a trained model, from the arena its accuracy run recorded."""
            graph = read_graph(model_bytes)
            out = {}
            for t in self.targets:
                if (getattr(t, "accelerator", None) or {}).get("type"):
                    out[t.name] = estimate_model(model_bytes, t)  # NPU targets: their compiler
                else:
                    out[t.name] = estimate_graph(graph, t, host_arena_bytes=host_arena,
                                                 source="tflm")
            return out

        def _fill(self, rec: dict[str, Any], ests: dict[str, Estimate]) -> None:
            """Per-target estimates, limits broken and the costs the Pareto front uses."""
            per: dict[str, Any] = {}
            broken: list[str] = []
            multi = len(self.targets) > 1
            for t in self.targets:
                e = ests[t.name]
                v = violations(t, e, self.limits)
                fits = feasible(v)
                per[t.name] = {"fits": fits, "estimate": e.as_dict(), "violations": v}
                for k, a in v.items():
                    if a > 0:
                        text = describe_violation(k, a, e, t)
                        broken.append(f"{t.name}: {text}" if multi else text)
            first = ests[self.target.name]
            rec.update(
                estimate=first.as_dict(), violations=per[self.target.name]["violations"],
                targets=per, feasible=all(p["fits"] for p in per.values()),
                broken=list(dict.fromkeys(broken)),
                costs={"latency_ms": max(e.latency_ms for e in ests.values()),
                       "energy_uj": max(e.energy_uj for e in ests.values()),
                       "arena_bytes": first.arena_bytes, "model_bytes": first.model_bytes,
                       "flash_bytes": max(e.flash_bytes for e in ests.values())})

        def _score(self, rec: dict[str, Any]) -> float:
            acc = rec.get("int8_val_accuracy", 0.0) if rec.get("feasible") else 0.0
            return objective_score(acc, rec["costs"], self.objective, self.tolerance)

        # -- one trained trial ----------------------------------------------
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            """Train a feasible candidate (in the runner); score its int8 model in TFLM.

            Returns the trial's metrics, the oracle's score first.
            """
            ds = self.dataset
            hp = trial.hyperparameters
            tid = trial.trial_id
            rec = self.records[tid]
            number = int(tid)
            parent = hp.values.get("tuner/trial_id")
            parent_keras = None
            if parent is not None:
                prev = self.records.get(str(parent)) or self._stored.get(int(parent)) or {}
                parent_keras = prev.get("keras")
            emit = self.on_event

            def _epoch(epoch: int, epochs: int) -> None:
                emit("epoch", {"trial_id": tid, "epoch": epoch, "epochs": epochs})

            folder = self.store.artifact_dir(number)
            self.fit_calls += 1
            res = self.runner.train(hp.get_config(), self.seed + number,
                                    parent_keras=parent_keras,
                                    parent_id=str(parent) if parent is not None else None,
                                    folder=str(folder), on_epoch=_epoch)
            if res.continues is not None:
                rec["continues"] = res.continues
            t2 = time.perf_counter()
            ev = evaluate_int8(res.model_bytes, ds.x_val, ds.y_val)  # also bisects the arena
            self.seconds["train"] += res.train_seconds
            self.seconds["convert"] += res.convert_seconds
            self.seconds["tflm"] += time.perf_counter() - t2
            host_arena = int(ev.tflm.bisected_bytes or ev.tflm.arena_bytes)
            self._fill(rec, self._trained_estimates(res.model_bytes, host_arena))
            atomic_write(folder / "model.tflite", res.model_bytes)
            rec.update(status="trained", float_val_accuracy=res.float_val_accuracy,
                       int8_val_accuracy=ev.accuracy, epochs_run=res.epochs_run,
                       train_seconds=round(res.train_seconds, 3),
                       tflite=str(folder / "model.tflite"), keras=str(folder / "model.keras"))
            if self.runner.isolated:
                rec["worker_rss_bytes"] = res.rss_bytes
            rec["score"] = self._score(rec)
            return {OBJECTIVE: rec["score"], "val_int8_accuracy": ev.accuracy,
                    "val_float_accuracy": res.float_val_accuracy,
                    "latency_ms": rec["costs"]["latency_ms"],
                    "arena_bytes": float(rec["costs"]["arena_bytes"]),
                    "model_bytes": float(rec["costs"]["model_bytes"]),
                    "energy_uj": rec["costs"]["energy_uj"]}

        # -- the loop ------------------------------------------------------
        def _units(self, rec: dict[str, Any]) -> float:
            """Budget a trained trial uses: 1, or its share of a full training (Hyperband)."""
            hp = rec.get("hyperparameters", {})
            if "tuner/epochs" not in hp:
                return 1.0
            span = int(hp["tuner/epochs"]) - int(hp.get("tuner/initial_epoch", 0))
            return max(span, 0) / max(self.epochs, 1)

        def _end(self, trial: Any, rec: dict[str, Any]) -> None:
            """Report a finished (or replayed) trial to the oracle."""
            import keras_tuner as kt

            Status = kt.engine.trial.TrialStatus
            status = rec.get("status")
            if status in ("trained", "infeasible") and "score" in rec:
                self.oracle.update_trial(trial.trial_id, {OBJECTIVE: float(rec["score"])})
                trial.status = Status.COMPLETED
                trial.message = "; ".join(rec.get("broken", [])) or None
            else:
                trial.status = Status.FAILED
                trial.message = str(rec.get("error", "failed"))
            self.oracle.end_trial(trial)
            if status != "trained" and rec.get("stage") != "train" and hasattr(self.oracle,
                                                                                "_brackets"):
                # Hyperband: a rejected candidate must not take a slot of its bracket.
                for bracket in self.oracle._brackets:
                    rounds = bracket["rounds"]
                    rounds[0][:] = [i for i in rounds[0] if i["id"] != trial.trial_id]

        def _check(self, trial: Any, rec: dict[str, Any]) -> None:
            """Build and estimate a fresh candidate; fills rec (status infeasible/failed)."""
            hp = trial.hyperparameters
            parent = hp.values.get("tuner/trial_id")
            if parent is not None:
                prev = self.records.get(str(parent)) or self._stored.get(int(parent)) or {}
                if "targets" in prev:
                    for key in ("estimate", "violations", "targets", "feasible", "broken", "costs",
                                "note"):
                        if key in prev:
                            rec[key] = prev[key]
                    rec["checked_as"] = str(parent)
                    return
            t0 = time.perf_counter()
            try:
                res = self.runner.check(hp.get_config(), self.seed + int(trial.trial_id))
                self._fill(rec, res.estimates)
                if res.note:
                    rec["note"] = res.note
                if not rec["feasible"]:
                    rec["status"] = "infeasible"
                    rec["score"] = self._score(rec)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # a candidate that cannot be checked is skipped
                rec.update(status="failed", stage="check", feasible=False,
                           error=_first_line(exc, 300))
            finally:
                self.seconds["check"] += time.perf_counter() - t0

        def probe_smallest(self) -> list[dict[str, Any]]:
            """Check the space's smallest candidates (once per run directory)."""
            if not self.space.smallest:
                return []
            import keras_tuner as kt

            out = []
            for i, values in enumerate(self.space.smallest):
                name = f"smallest_{i}"
                stored = self.store.get(name)
                if stored is not None:
                    out.append(stored)
                    continue
                hp = kt.HyperParameters()
                hp.values.update(values)
                rec: dict[str, Any] = {"trial_id": name, "status": "probe"}
                try:
                    res = self.runner.check(hp.get_config(), self.seed)
                    rec["hyperparameters"] = res.hyperparameters
                    self._fill(rec, res.estimates)
                    if res.note:
                        rec["note"] = res.note
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:
                    rec.update(feasible=None, error=_first_line(exc, 300))
                self.store.put(rec, name=name)
                self.on_event("smallest", rec)
                out.append(rec)
            return out

        def search_feasible(self, *, trials: int, max_rejects: int) -> SearchResult:
            """Draw candidates until ``trials`` trainings are done (see the module docstring).

            The runner's worker process is stopped at the end, however the search ends.
            """
            try:
                return self._search(trials=trials, max_rejects=max_rejects)
            finally:
                self.runner.close()

        def close(self) -> None:
            """Stop the worker process (``search_feasible`` does this when it ends)."""
            self.runner.close()

        def _search(self, *, trials: int, max_rejects: int) -> SearchResult:
            import keras_tuner as kt

            Status = kt.engine.trial.TrialStatus
            used = 0.0
            in_row = 0
            idle = 0
            replayed = 0
            smallest: list[dict[str, Any]] | None = None
            stop = ""
            t_loop = time.perf_counter()
            self.on_event("start", {"budget": trials, "targets": [t.name for t in self.targets],
                                    "run_dir": str(self.run_dir),
                                    "stored": len(self._stored), "objective": self.objective})
            while used < trials - 1e-9:
                trial = self.oracle.create_trial(self.tuner_id)
                if trial.status == Status.STOPPED:
                    stop = "the oracle has no more candidates (space exhausted or schedule done)"
                    break
                if trial.status == Status.IDLE:
                    idle += 1
                    if idle > 10:
                        stop = "the oracle is idle"
                        break
                    continue
                idle = 0
                tid = trial.trial_id
                hp = trial.hyperparameters
                stored = self._stored.get(int(tid))
                if stored is not None:
                    if not _same_values(stored.get("hyperparameters", {}), dict(hp.values)):
                        raise EdgeMLError(
                            f"cannot resume in {self.run_dir}: trial {tid} was drawn with other "
                            "hyperparameters than this search draws now (the space, the data, "
                            "the seed or edgeml changed)", hint="start a new run with --out")
                    hp.values = dict(stored["hyperparameters"])
                    rec = stored
                    self.records[tid] = rec
                    self._end(trial, rec)
                    replayed += 1
                    self.on_event("replayed", rec)
                else:
                    rec = {"trial_id": tid, "hyperparameters": dict(hp.values)}
                    self.records[tid] = rec
                    self._check(trial, rec)
                    if rec.get("status") in ("infeasible", "failed"):
                        self.store.put(rec)
                        self._end(trial, rec)
                        self.on_event(rec["status"], rec)
                    else:
                        self.on_event("train", {**rec, "budget_used": used,
                                                "units": self._units(rec)})
                        self.on_trial_begin(trial)
                        t0 = time.perf_counter()
                        try:
                            self.run_trial(trial)
                        except (KeyboardInterrupt, SystemExit, BudgetError):
                            raise
                        except Exception as exc:  # one broken candidate must not end the run
                            kind = exc.kind if isinstance(exc, TrialFailure) else \
                                type(exc).__name__
                            rec.update(status="failed", stage="train", feasible=False,
                                       error=f"{kind}: {_first_line(exc, 300)}")
                        rec["seconds"] = round(time.perf_counter() - t0, 3)
                        rec["rss_bytes"] = rss_bytes()
                        self.store.put(rec)
                        self._end(trial, rec)
                        self.on_event("trained", rec)
                status = rec.get("status")
                if status == "trained" or rec.get("stage") == "train":
                    in_row = 0
                    used += self._units(rec)
                    self.on_event("progress", {"budget_used": used, "budget": trials,
                                               "best": self._best_so_far()})
                    continue
                in_row += 1
                if smallest is None and not any(r.get("status") == "trained"
                                                for r in self.records.values()):
                    t_probe = time.perf_counter()
                    smallest = self.probe_smallest()
                    self.seconds["check"] += time.perf_counter() - t_probe
                    if smallest and all(r.get("feasible") is False for r in smallest):
                        stop = "the space's smallest candidates do not fit"
                        break
                if in_row > max_rejects:
                    stop = f"{in_row} candidates in a row did not fit"
                    break
            self.seconds["loop"] = time.perf_counter() - t_loop
            records = list(self.records.values())
            best = choose(records, self.objective, self.tolerance)
            return SearchResult(trials=records, best=best, seconds=dict(self.seconds),
                                smallest=smallest or [], stop_reason=stop, budget_used=used,
                                replayed=replayed)

        def _best_so_far(self) -> float | None:
            accs = [r["int8_val_accuracy"] for r in self.records.values()
                    if r.get("status") == "trained" and r.get("feasible")]
            return max(accs) if accs else None

    _TUNER_CLASS = _EdgeTuner
    return _EdgeTuner


# --------------------------------------------------------------------------- no fit


def no_feasible_message(records: list[dict[str, Any]], target: Target | Sequence[Target],
                        limits: Limits) -> BudgetError:
    """Explain which limit no candidate met, with the smallest value seen."""
    targets = (target,) if isinstance(target, Target) else tuple(target)
    checked = [r for r in records if "targets" in r or "violations" in r]
    if not checked:
        errs = [r.get("error") for r in records if r.get("error")]
        return BudgetError("no candidate model could be built and checked" +
                           (f" ({errs[0]})" if errs else ""),
                           hint="run with --debug to see why")
    counts: dict[tuple[str, str], int] = {}
    for r in checked:
        per = r.get("targets") or {targets[0].name: {"violations": r.get("violations", {})}}
        for tname, info in per.items():
            for k, a in info.get("violations", {}).items():
                if a > 0:
                    counts[(tname, k)] = counts.get((tname, k), 0) + 1
    if not counts:
        return BudgetError("no trained candidate fits after training",
                           hint="run again with more trials")
    tname, worst = max(counts, key=lambda key: counts[key])
    tgt = next((t for t in targets if t.name == tname), targets[0])
    n = len(checked)
    c = CONSTRAINTS.get(worst)
    if c is not None and c.unit != "count":
        limit = float(c.limit(tgt, limits) or 0.0)

        def over(r: dict[str, Any]) -> float | None:
            per = r.get("targets", {}).get(tname) or {"violations": r.get("violations", {})}
            return per["violations"].get(worst)

        # a violation is the amount over the limit: what a candidate needs is limit + that
        smallest = limit + min(v for v in map(over, checked) if v is not None)
        return BudgetError(
            f"no candidate fits {tgt.name}: smallest candidate {c.needs(smallest, limit)} "
            f"({c.source(tgt)}, {n} candidate{'s' if n != 1 else ''} checked)",
            hint=(f"raise {c.limit_field}, " if c.limit_field else "")
                 + "choose a larger target, or reduce the input size",
            limit=c.limit_field)
    if worst == "unsupported_ops":
        ops = sorted({o for r in checked
                      for o in (r.get("targets", {}).get(tname, {}).get("estimate")
                                or r["estimate"])["unsupported_ops"]})
        return BudgetError(f"every candidate uses operators {', '.join(ops)} that {tgt.name}'s "
                           "runtime lacks", hint="add the kernels to the target profile's "
                                                 "runtime.ops, or change the space")
    if worst == "int8":
        return BudgetError(f"no candidate converts to a fully int8 model, which {tgt.name} needs",
                           hint="use layers the int8 converter supports")
    return BudgetError(f"no candidate fits {tgt.name} ({worst})", hint="relax the limits")
