"""EdgeTuner: drives a Keras Tuner oracle and trains only candidates that fit.

For every hyperparameter set the oracle proposes, the tuner

1. builds the ``tf_keras`` model and converts it (untrained) to int8, in the
   trial worker process like every TensorFlow step of a trial (:mod:`.worker`);
2. estimates it on every target (tensor arena measured in TFLM, flash,
   operators, latency, energy);
3. if it breaks any limit on any target: records it as infeasible with the
   limits it broke, without training it, and asks the oracle for another one.
   Rejected candidates do not use the trial budget; they are reported to the
   oracle with the score of a model of accuracy 0, so model-based oracles
   (Bayesian) learn to avoid their region, and Hyperband does not promote them
   while feasible candidates are left;
4. otherwise trains it, converts it to int8 and scores it by its int8 accuracy
   on the validation split, measured in the TFLM interpreter (the float
   accuracy is recorded too).

A training whose worker process died (killed for memory, a crash in a kernel)
runs once more in a fresh worker; if that fails too, or the training raised,
the trial is recorded as failed and a new candidate takes its place: failed
trials do not use the budget, so ``trials=N`` gives N trained models unless
the oracle runs out of candidates or trainings keep failing.

With Hyperband, a trial carrying ``tuner/trial_id`` continues training the
weights of that earlier trial from ``tuner/initial_epoch`` to ``tuner/epochs``
(as keras-tuner's own Hyperband tuner does); its feasibility is the earlier
trial's, since the architecture is the same (a promoted rejected candidate is
rejected again without training). The trial budget is counted in full
trainings of ``epochs`` epochs, so ``trials=10`` gives Hyperband the epochs of
ten full trainings spread over its brackets.

Every finished trial is written to the run directory at once
(:class:`~edgeml.records.TrialStore`). A new tuner over the same directory
replays those records to a fresh oracle with the same seed: the oracle
proposes the same candidates in the same order, finished ones are not run
again, and the one that was cut off runs again, once. The search thus resumes
after any kill, including ``kill -9``.

The oracle is driven through keras-tuner's public API only: a ``BaseTuner``
(which accepts ``tf_keras`` models, unlike ``Tuner`` when Keras 3 is installed)
gives it its project folder and search space, then ``create_trial``,
``update_trial`` and ``end_trial`` run the search.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import atomic_write, dump_json
from .._tf import keras as _keras
from ..data import Dataset
from ..errors import BudgetError, EdgeMLError, OutputError
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
from ..records import Trial, TrialStatus, TrialStore
from ..targets import Target
from ..tflite.int8 import evaluate_int8, representative_sample
from .device import mixed_precision_default
from .pareto import DEFAULT_TOLERANCE, OBJECTIVES, choose, objective_score
from .proposals import architecture as _architecture
from .proposals import budget as _budget
from .proposals import calibration as _calibration
from .proposals import choose as _choose_draft
from .proposals import summary as _screen_summary
from .spaces import Space, SpaceError
from .worker import TrialContext, TrialFailure, WorkerDied, make_runner, rss_bytes

__all__ = ["EdgeTuner", "SearchResult", "make_oracle", "OBJECTIVE", "no_feasible_message",
           "STRATEGIES", "MAX_FAILED_IN_ROW", "calibration_sample", "trained_estimates",
           "check_fields"]

OBJECTIVE = "score"
STRATEGIES = ("random", "bayesian", "hyperband")
#: trainings that may fail one after the other before the search stops
MAX_FAILED_IN_ROW = 3
Event = Callable[[str, Any], None]
#: the run directory's cache of screened drafts (values key -> screen numbers)
SCREENS_FILE = "screens.json"
_CHECK_FIELDS = ("estimate", "violations", "targets", "feasible", "broken", "costs", "note")


def oracle_seed(seed: int) -> int:
    """The keras-tuner seed for ``--seed``.

    keras-tuner replaces a falsy seed (0) by a random one, and seeds each value it
    draws with ``seed + n`` (n counts the values drawn so far), so seeds 0 and 1
    would draw the same stream shifted by one value. Spacing the seeds far apart
    keeps every ``--seed`` reproducible and the streams of different seeds apart.
    """
    return 1 + (abs(int(seed)) * 100_003) % (2**31 - 2)


def make_oracle(strategy: str, *, max_draws: int, seed: int, epochs: int = 30,
                objective: str = OBJECTIVE, direction: str = "max", proposals: int = 1) -> Any:
    """A keras-tuner oracle; ``max_draws`` bounds candidates drawn (trained or not);
    ``proposals``: drafts screened per random proposal (:mod:`.oracles`; 1 = none)."""
    import keras_tuner as kt

    from .oracles import EdgeBayesianOracle, EdgeHyperbandOracle, EdgeRandomOracle

    if int(proposals) < 1:
        raise EdgeMLError(f"proposals must be at least 1 (got {proposals})",
                          hint="1 draws candidates as keras-tuner does; e.g. 8 screens 8 drafts")
    common = dict(objective=kt.Objective(objective, direction), seed=oracle_seed(seed),
                  max_consecutive_failed_trials=max_draws + 1)
    if strategy == "random":
        oracle = EdgeRandomOracle(max_trials=max_draws, **common)
    elif strategy == "bayesian":
        oracle = EdgeBayesianOracle(max_trials=max_draws, num_initial_points=3, **common)
    elif strategy == "hyperband":
        oracle = EdgeHyperbandOracle(max_epochs=max(int(epochs), 1), factor=3,
                                     hyperband_iterations=1, **common)
    else:
        raise EdgeMLError(f"unknown search strategy {strategy!r}",
                          hint="use --strategy random, bayesian or hyperband")
    oracle.verbose = 0
    oracle.proposals = int(proposals)
    return oracle


def calibration_sample(x_train: Any, seed: int) -> Any:
    """The int8 calibration set of a search (and of its final retrain): 200 training
    samples drawn with the run's seed."""
    return representative_sample(x_train, n=200, seed=seed)


def trained_estimates(model_bytes: bytes, host_arena: int,
                      targets: Sequence[Target]) -> dict[str, Estimate]:
    """Estimates of a trained model, from the arena its accuracy run recorded."""
    graph = read_graph(model_bytes)
    out = {}
    for t in targets:
        if (getattr(t, "accelerator", None) or {}).get("type"):
            out[t.name] = estimate_model(model_bytes, t)  # NPU targets: their compiler
        else:
            out[t.name] = estimate_graph(graph, t, host_arena_bytes=host_arena, source="tflm")
    return out


def check_fields(ests: dict[str, Estimate], targets: Sequence[Target], limits: Limits,
                 note: str = "") -> dict[str, Any]:
    """A trial's check fields: per-target estimates, limits broken, Pareto costs (the
    first target is the main one)."""
    per: dict[str, Any] = {}
    broken: list[str] = []
    multi = len(targets) > 1
    for t in targets:
        e = ests[t.name]
        v = violations(t, e, limits)
        per[t.name] = {"fits": feasible(v), "estimate": e.as_dict(), "violations": v}
        for k, a in v.items():
            if a > 0:
                text = describe_violation(k, a, e, t)
                broken.append(f"{t.name}: {text}" if multi else text)
    first = ests[targets[0].name]
    return dict(
        estimate=first.as_dict(), violations=per[targets[0].name]["violations"],
        targets=per, feasible=all(p["fits"] for p in per.values()),
        broken=tuple(dict.fromkeys(broken)), note=note,
        costs={"latency_ms": max(e.latency_ms for e in ests.values()),
               "energy_uj": max(e.energy_uj for e in ests.values()),
               "arena_bytes": first.arena_bytes, "model_bytes": first.model_bytes,
               "flash_bytes": max(e.flash_bytes for e in ests.values())})


@dataclass
class SearchResult:
    trials: list[Trial]
    best: Trial | None
    seconds: dict[str, float]
    smallest: list[Trial] = field(default_factory=list)  # the space's smallest, if checked
    stop_reason: str = ""
    budget_used: float = 0.0
    replayed: int = 0

    @property
    def failed(self) -> int:
        """Trials that ended failed (and were replaced by other candidates)."""
        return sum(1 for t in self.trials if t.status is TrialStatus.FAILED)

    @property
    def retried(self) -> int:
        """Trainings run again in a fresh worker after their worker died."""
        return sum(len(t.retried) for t in self.trials)


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


def values_key(values: dict[str, Any]) -> str:
    """A value set as one string (the oracle's bookkeeping keys left out)."""
    return json.dumps({k: v for k, v in values.items() if not str(k).startswith("tuner/")},
                      sort_keys=True, default=str)


def _first_line(exc: BaseException, limit: int) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:limit] if text else type(exc).__name__


class EdgeTuner:
    """The feasibility-aware search loop over a keras-tuner oracle (see the module docstring).

    keras-tuner (and TensorFlow) load when a tuner is created, not when this module is
    imported.
    """

    def __init__(self, *, oracle: Any, hypermodel: Callable[[Any], Any] | Space,
                 dataset: Dataset, target: Target | None = None,
                 targets: Sequence[Target] | None = None, limits: Limits | None = None,
                 epochs: int, seed: int, directory: str | Path,
                 project_name: str = ".oracle", objective: str = "accuracy",
                 tolerance: float = DEFAULT_TOLERANCE, patience: int = 5,
                 on_event: Event | None = None, isolate: bool | None = None,
                 device: str = "cpu", mixed_precision: bool | None = None,
                 warm_start: Sequence[dict[str, Any]] = (), warm_count: int = 0) -> None:
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
        self.on_event: Event = on_event or (lambda kind, rec: None)
        self.run_dir = Path(directory)
        self.store = TrialStore(self.run_dir)
        self.records: dict[str, Trial] = {}
        # check: build + int8 + estimates before training; the others: trained trials
        self.seconds = {"check": 0.0, "screen": 0.0, "train": 0.0, "convert": 0.0, "tflm": 0.0}
        self._calib = calibration_sample(dataset.x_train, seed)
        self._stored = self.store.load()
        # the process that builds, converts and trains candidates (started now, so
        # that its TensorFlow import overlaps the oracle's set-up below)
        self.runner = make_runner(TrialContext(
            space=self.space, x_train=dataset.x_train, y_train=dataset.y_train,
            x_val=dataset.x_val, y_val=dataset.y_val, calib=self._calib, targets=ts,
            seed=self.seed, epochs=self.epochs, patience=self.patience, device=device,
            mixed_precision=(mixed_precision_default(device) if mixed_precision is None
                             else bool(mixed_precision))), isolate=isolate)
        self._budget = _budget(ts, self.limits)
        self._screens: dict[str, dict[str, Any] | None] = self._load_screens()
        self._drafts: dict[str, tuple[int, dict[str, float]]] = {}
        self.warm: list[dict[str, Any]] = []
        try:
            self.oracle = oracle
            self.tuner_id = self._attach(oracle, directory, project_name)
            if hasattr(oracle, "set_proposer"):
                oracle.set_proposer(self._propose)
                self.warm = self._warm_start(warm_start, warm_count)
        except BaseException:
            self.runner.close()
            raise

    def _attach(self, oracle: Any, directory: str | Path, project_name: str) -> str:
        """Give the oracle its project folder and search space (keras-tuner's BaseTuner
        does both: it builds the space once to learn its hyperparameters)."""
        from keras_tuner.engine.base_tuner import BaseTuner

        try:
            host = BaseTuner(oracle=oracle, hypermodel=self.space.build,
                             directory=str(directory), project_name=project_name,
                             overwrite=True)
        except EdgeMLError:
            raise
        except Exception as exc:
            raise SpaceError(
                f"building the search space {self.space.name!r} failed "
                f"({type(exc).__name__}: {_first_line(exc, 200)})",
                hint="build(hp) must build a model for every value of its "
                     "hyperparameters") from exc
        finally:
            _keras().backend.clear_session()
        oracle.verbose = 0
        return str(host.tuner_id)

    # -- proposals and warm starts ---------------------------------------
    def _load_screens(self) -> dict[str, dict[str, Any] | None]:
        try:
            data = json.loads((self.run_dir / SCREENS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _hp_config(self, values: dict[str, Any]) -> dict[str, Any]:
        hp = self.oracle.hyperparameters.copy()
        hp.values = dict(values)
        return hp.get_config()

    def _propose(self, drafts: list[dict[str, Any]]) -> int:
        """Which of the oracle's drafts to propose (:mod:`.proposals`). Screens are cached
        in the run directory, so a resumed search chooses again without building models."""
        keys = [values_key(v) for v in drafts]
        todo = [i for i, k in enumerate(keys) if k not in self._screens]
        if todo:
            t0 = time.perf_counter()
            try:
                screens = self.runner.screen([self._hp_config(drafts[i]) for i in todo]).screens
            except (KeyboardInterrupt, SystemExit, BudgetError, OutputError):
                raise
            except Exception:  # the exact check of the proposed draft will say what is wrong
                screens = [None] * len(todo)
            self.seconds["screen"] += time.perf_counter() - t0
            for i, screen in zip(todo, screens, strict=True):
                self._screens[keys[i]] = screen
            dump_json(self.run_dir / SCREENS_FILE, self._screens)
        pairs = self._checked_pairs()
        scale = _calibration(pairs)
        known = {_architecture(screen): costs for screen, costs in pairs}
        i = _choose_draft([self._screens[k] for k in keys], self._budget, scale=scale,
                          known=known)
        self._drafts[keys[i]] = (len(drafts), scale)
        return i

    def _checked_pairs(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(screen, exact costs) of this search's checked candidates, in trial order: they
        calibrate the predictions, and a draft with the same architecture as one of them
        (same screen) is judged by its exact costs."""
        pairs = []
        for t in sorted(self.records.values(), key=lambda r: r.number):
            screen = self._screens.get(values_key(t.hyperparameters))
            if screen and t.checked and t.costs and t.checked_as is None:
                pairs.append((screen, t.costs))
        return pairs

    def _warm_start(self, configs: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
        """The first ``count`` configurations valid in this space, handed to the oracle to
        propose first. ``configs``: ``{"values", "origin", ...}`` dicts, best first."""
        from .oracles import resolve_values

        chosen: list[dict[str, Any]] = []
        seen: set[str] = set()
        skipped = 0
        for c in configs:
            if len(chosen) >= count:
                break
            values = resolve_values(self.oracle.hyperparameters, dict(c.get("values") or {}))
            if values is None:
                skipped += 1
                continue
            key = values_key(values)
            if key not in seen:
                seen.add(key)
                chosen.append({**c, "values": values})
        self.oracle.set_warm_start([(c["values"], str(c.get("origin"))) for c in chosen])
        if chosen or skipped:
            self.on_event("warm_start", {"chosen": chosen, "skipped": skipped})
        return chosen

    def close(self) -> None:
        """Stop the worker process (``search_feasible`` does this when it ends)."""
        self.runner.close()

    # -- estimates ---------------------------------------------------------
    def _trained_estimates(self, model_bytes: bytes, host_arena: int) -> dict[str, Estimate]:
        return trained_estimates(model_bytes, host_arena, self.targets)

    def _checked(self, ests: dict[str, Estimate], note: str = "") -> dict[str, Any]:
        return check_fields(ests, self.targets, self.limits, note)

    def _score(self, t: Trial) -> float:
        acc = (t.int8_val_accuracy or 0.0) if t.feasible else 0.0
        return objective_score(acc, t.costs or {}, self.objective, self.tolerance)

    def _record(self, trial_id: Any) -> Trial | None:
        """A finished trial of this search, or of the run being resumed."""
        return self.records.get(str(trial_id)) or self._stored.get(int(trial_id))

    # -- one candidate ---------------------------------------------------------
    def _check(self, tid: str, hp: Any) -> Trial:
        """Build and estimate a fresh candidate. Returns a finished trial (infeasible or
        failed), or a RUNNING one that fits and is to be trained (its check fields set)."""
        base = Trial(trial_id=tid, status=TrialStatus.RUNNING, hyperparameters=dict(hp.values))
        parent = hp.values.get("tuner/trial_id")
        prev = self._record(parent) if parent is not None else None
        if prev is None:
            key = values_key(hp.values)
            origin = getattr(self.oracle, "origin_of", lambda v: None)(hp.values)
            drafts, scale = self._drafts.get(key, (0, {}))
            screen = (_screen_summary(self._screens.get(key), self._budget, drafts, scale)
                      if drafts and origin is None else None)
            base = base.with_(origin=origin, screen=screen)
        if prev is not None and prev.targets is not None:
            # a Hyperband promotion: same architecture, same estimates
            t = base.with_(checked_as=str(parent),
                           **{k: getattr(prev, k) for k in _CHECK_FIELDS})
        else:
            t0 = time.perf_counter()
            try:
                res = self.runner.check(hp.get_config(), self.seed + int(tid))
                t = base.with_(**self._checked(res.estimates, res.note))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # a candidate that cannot be checked is skipped
                return base.with_(status=TrialStatus.FAILED, stage="check", feasible=False,
                                  error=_first_line(exc, 300))
            finally:
                self.seconds["check"] += time.perf_counter() - t0
        if not t.feasible:
            t = t.with_(status=TrialStatus.INFEASIBLE)
            return t.with_(score=self._score(t))
        return t

    def _train(self, checked: Trial, hp: Any) -> Trial:
        """Train a feasible candidate (in the runner) and score its int8 model in TFLM;
        a training whose worker died runs once more in a fresh worker."""
        retried: list[str] = []
        while True:
            t0 = time.perf_counter()
            try:
                done = self._train_once(checked, hp)
            except (KeyboardInterrupt, SystemExit, BudgetError, OutputError):
                raise  # a full disk or a read-only run directory ends the run
            except Exception as exc:  # one broken candidate must not end the run
                kind = exc.kind if isinstance(exc, TrialFailure) else type(exc).__name__
                error = f"{kind}: {_first_line(exc, 300)}"
                if isinstance(exc, WorkerDied) and not retried:
                    retried.append(error)
                    self.on_event("retry", {"trial_id": checked.trial_id, "error": error})
                    continue
                done = checked.with_(status=TrialStatus.FAILED, stage="train", feasible=False,
                                     error=error, score=None)
            return done.with_(retried=tuple(retried),
                              seconds=round(time.perf_counter() - t0, 3), rss_bytes=rss_bytes())

    def _train_once(self, checked: Trial, hp: Any) -> Trial:
        ds = self.dataset
        tid = checked.trial_id
        parent = hp.values.get("tuner/trial_id")
        prev = self._record(parent) if parent is not None else None
        emit = self.on_event

        def _epoch(epoch: int, epochs: int) -> None:
            emit("epoch", {"trial_id": tid, "epoch": epoch, "epochs": epochs})

        folder = self.store.artifact_dir(checked.number)
        res = self.runner.train(hp.get_config(), self.seed + checked.number,
                                parent_keras=self._keras_of(prev),
                                parent_id=str(parent) if parent is not None else None,
                                folder=str(folder), on_epoch=_epoch)
        t2 = time.perf_counter()
        ev = evaluate_int8(res.model_bytes, ds.x_val, ds.y_val)  # also bisects the arena
        self.seconds["train"] += res.train_seconds
        self.seconds["convert"] += res.convert_seconds
        self.seconds["tflm"] += time.perf_counter() - t2
        host_arena = int(ev.tflm.bisected_bytes or ev.tflm.arena_bytes)
        checks = self._checked(self._trained_estimates(res.model_bytes, host_arena),
                               checked.note)
        atomic_write(folder / "model.tflite", res.model_bytes)
        t = checked.with_(
            status=TrialStatus.TRAINED, continues=res.continues,
            float_val_accuracy=res.float_val_accuracy, int8_val_accuracy=ev.accuracy,
            epochs_run=res.epochs_run, best_epoch=res.best_epoch,
            train_seconds=round(res.train_seconds, 3), device=res.device,
            tflite=str(folder / "model.tflite"), keras=str(folder / "model.keras"),
            worker_rss_bytes=res.rss_bytes if self.runner.isolated else None, **checks)
        return t.with_(score=self._score(t))

    def _keras_of(self, prev: Trial | None) -> str | None:
        """The saved model of an earlier trial, in this run directory (which may have moved
        since the record was written)."""
        if prev is None or not prev.keras:
            return None
        here = self.store.root / f"trial_{prev.number:04d}" / "model.keras"
        return str(here) if here.exists() else prev.keras

    def _units(self, t: Trial) -> float:
        """Budget a trained trial uses: 1, or its share of a full training (Hyperband)."""
        hp = t.hyperparameters
        if "tuner/epochs" not in hp:
            return 1.0
        span = int(hp["tuner/epochs"]) - int(hp.get("tuner/initial_epoch", 0))
        return max(span, 0) / max(self.epochs, 1)

    def _end(self, kt_trial: Any, t: Trial) -> None:
        """Report a finished (or replayed) trial to the oracle."""
        import keras_tuner as kt

        status = kt.engine.trial.TrialStatus
        if t.status in (TrialStatus.TRAINED, TrialStatus.INFEASIBLE) and t.score is not None:
            self.oracle.update_trial(kt_trial.trial_id, {OBJECTIVE: float(t.score)})
            kt_trial.status = status.COMPLETED
            kt_trial.message = "; ".join(t.broken) or None
        else:
            kt_trial.status = status.FAILED
            kt_trial.message = t.error or "failed"
        self.oracle.end_trial(kt_trial)

    def probe_smallest(self) -> list[Trial]:
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
            t = Trial(trial_id=name, status=TrialStatus.PROBE)
            try:
                res = self.runner.check(hp.get_config(), self.seed)
                t = t.with_(hyperparameters=res.hyperparameters,
                            **self._checked(res.estimates, res.note))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                t = t.with_(error=_first_line(exc, 300))
            self.store.put(t, name=name)
            self.on_event("smallest", t)
            out.append(t)
        return out

    # -- the loop ------------------------------------------------------------
    def search_feasible(self, *, trials: int, max_rejects: int) -> SearchResult:
        """Draw candidates until ``trials`` trainings are done (see the module docstring).

        The runner's worker process is stopped at the end, however the search ends.
        """
        try:
            return self._search(trials=trials, max_rejects=max_rejects)
        finally:
            self.runner.close()

    def _search(self, *, trials: int, max_rejects: int) -> SearchResult:
        import keras_tuner as kt

        status = kt.engine.trial.TrialStatus
        used = 0.0
        in_row = 0
        failed_in_row = 0
        idle = 0
        replayed = 0
        smallest: list[Trial] | None = None
        stop = ""
        t_loop = time.perf_counter()
        self.on_event("start", {"budget": trials, "targets": [t.name for t in self.targets],
                                "run_dir": str(self.run_dir),
                                "stored": len(self._stored), "objective": self.objective})
        while used < trials - 1e-9:
            kt_trial = self.oracle.create_trial(self.tuner_id)
            if kt_trial.status == status.STOPPED:
                stop = "the oracle has no more candidates (space exhausted or schedule done)"
                break
            if kt_trial.status == status.IDLE:
                idle += 1
                if idle > 10:
                    stop = "the oracle is idle"
                    break
                continue
            idle = 0
            tid = kt_trial.trial_id
            hp = kt_trial.hyperparameters
            stored = self._stored.get(int(tid))
            if stored is not None:
                if not _same_values(stored.hyperparameters, dict(hp.values)):
                    raise EdgeMLError(
                        f"cannot resume in {self.run_dir}: trial {tid} was drawn with other "
                        "hyperparameters than this search draws now (the space, the data, "
                        "the seed or edgeml changed)", hint="start a new run with --out")
                hp.values = dict(stored.hyperparameters)
                t = stored
                self.records[tid] = t
                self._end(kt_trial, t)
                replayed += 1
                self.on_event("replayed", t)
            else:
                t = self._check(tid, hp)
                if t.status is TrialStatus.RUNNING:  # it fits: train it
                    self.on_event("train", {"trial_id": tid, "hyperparameters": t.hyperparameters,
                                            "budget_used": used, "units": self._units(t)})
                    t = self._train(t, hp)
                    self.records[tid] = t
                    self.store.put(t)
                    self._end(kt_trial, t)
                    self.on_event("trained", t)
                else:
                    self.records[tid] = t
                    self.store.put(t)
                    self._end(kt_trial, t)
                    self.on_event(t.status.value, t)
            if t.trained:
                in_row = failed_in_row = 0
                used += self._units(t)
                self.on_event("progress", {"budget_used": used, "budget": trials,
                                           "best": self._best_so_far()})
                continue
            if t.failed_training:
                failed_in_row += 1
                if failed_in_row >= MAX_FAILED_IN_ROW:
                    stop = f"{failed_in_row} trainings in a row failed"
                    break
                continue
            in_row += 1
            if smallest is None and not any(r.trained for r in self.records.values()):
                t_probe = time.perf_counter()
                smallest = self.probe_smallest()
                self.seconds["check"] += time.perf_counter() - t_probe
                if smallest and all(r.feasible is False for r in smallest):
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
        accs = [r.int8_val_accuracy for r in self.records.values()
                if r.deployable and r.int8_val_accuracy is not None]
        return max(accs) if accs else None


# --------------------------------------------------------------------------- no fit


def no_feasible_message(records: Sequence[Trial], target: Target | Sequence[Target],
                        limits: Limits) -> BudgetError:
    """Explain which limit no candidate met, with the smallest value seen."""
    targets = (target,) if isinstance(target, Target) else tuple(target)
    checked = [r for r in records if r.checked]
    if not checked:
        errs = [r.error for r in records if r.error]
        return BudgetError("no candidate model could be built and checked" +
                           (f" ({errs[0]})" if errs else ""),
                           hint="run with --debug to see why")
    counts: dict[tuple[str, str], int] = {}
    for r in checked:
        per = r.targets or {targets[0].name: {"violations": r.violations or {}}}
        for tname, info in per.items():
            for k, a in info.get("violations", {}).items():
                if a > 0:
                    counts[(tname, k)] = counts.get((tname, k), 0) + 1
    if not counts:
        failed = [r for r in records if r.failed_training]
        if failed and not any(r.trained for r in records):
            return BudgetError(f"no candidate could be trained ({len(failed)} training"
                               f"{'s' if len(failed) != 1 else ''} failed; the last: "
                               f"{failed[-1].error})", hint="run with --debug to see why")
        return BudgetError("no trained candidate fits after training",
                           hint="run again with more trials")
    tname, worst = max(counts, key=lambda key: counts[key])
    tgt = next((t for t in targets if t.name == tname), targets[0])
    n = len(checked)
    c = CONSTRAINTS.get(worst)
    if c is not None and c.unit != "count":
        limit = float(c.limit(tgt, limits) or 0.0)

        def over(r: Trial) -> float | None:
            per = (r.targets or {}).get(tname) or {"violations": r.violations or {}}
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
                      for o in ((r.targets or {}).get(tname, {}).get("estimate")
                                or r.estimate or {}).get("unsupported_ops", ())})
        return BudgetError(f"every candidate uses operators {', '.join(ops)} that {tgt.name}'s "
                           "runtime lacks", hint="add the kernels to the target profile's "
                                                 "runtime.ops, or change the space")
    if worst == "int8":
        return BudgetError(f"no candidate converts to a fully int8 model, which {tgt.name} needs",
                           hint="use layers the int8 converter supports")
    return BudgetError(f"no candidate fits {tgt.name} ({worst})", hint="relax the limits")
