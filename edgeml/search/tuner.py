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

With Hyperband, and for the random and Bayesian oracles' promotion of their best
candidates (:mod:`.oracles`), a trial carrying ``tuner/trial_id`` continues training the
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

With ``workers=N`` the tuner runs N trial slots at once, each with its own
runner (worker process): slot 0 in the calling thread, the others in threads.
Every oracle call, the budget accounting and the trial records sit behind one
lock; a slot's check and training run outside it, so one slot's checks overlap
another slot's training. A slot draws a candidate only while the trained
budget plus the budget of the candidates other slots hold is below
``trials`` (a candidate's budget is held from its draw until it ends), so the
search never trains more than ``trials``; a rejected or failed candidate gives
its share back. The oracle sees results in the order they finish; Hyperband's
"idle" (a bracket waiting for running trials) makes a slot wait for another to
finish. The stop rules count in completion order as with one slot. A stop
(or an error that ends the run) lets no slot draw again; trainings that are
running finish and are recorded, except when the run ends in an error or an
interrupt, which stops every worker at once. ``workers=1`` runs the same loop
in the calling thread only. Each slot scores its trained model in TFLM itself:
:func:`~edgeml.tflite.int8.evaluate_int8` runs the interpreter in a child process
with its own temporary folder per call (Vela too, for Ethos-U targets), so
slots score at once without a lock. The ``seconds`` of the result add up the
slots' check, training, conversion and TFLM times; ``loop`` is the wall time.

Which candidates are drawn is fixed by the seed for the random strategy, with
any number of slots. The Bayesian and Hyperband oracles draw from the results
they have seen, so with several slots their draws also depend on which
trainings finished first; a resume replays the recorded trials in the order
the oracle saw them (:attr:`Trial.order <edgeml.records.Trial>`), so it redraws
the same candidates.

The oracle is driven through keras-tuner's public API only: a ``BaseTuner``
(which accepts ``tf_keras`` models, unlike ``Tuner`` when Keras 3 is installed)
gives it its project folder and search space, then ``create_trial``,
``update_trial`` and ``end_trial`` run the search.
"""

from __future__ import annotations

import json
import math
import threading
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
    check_fields,
    estimate_graph,
    estimate_model,
    read_graph,
)
from ..records import Trial, TrialStatus, TrialStore
from ..targets import Target
from ..tflite.int8 import PROBA_FILE, evaluate_int8, representative_sample, save_proba
from .device import mixed_precision_default
from .pareto import DEFAULT_TOLERANCE, OBJECTIVES, choose, objective_score
from .proposals import architecture as _architecture
from .proposals import budget as _budget
from .proposals import calibration as _calibration
from .proposals import choose as _choose_draft
from .proposals import spread as _spread
from .proposals import summary as _screen_summary
from .spaces import Space, SpaceError
from .worker import (
    TrialContext,
    TrialFailure,
    WorkerDied,
    default_workers,
    make_runners,
    rss_bytes,
)

__all__ = ["EdgeTuner", "SearchResult", "make_oracle", "promotion_plan", "PROMOTE_UNITS",
           "OBJECTIVE", "no_feasible_message",
           "STRATEGIES", "MAX_FAILED_IN_ROW", "calibration_sample", "trained_estimates"]

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


#: most candidates the search continues (one full training each)
PROMOTE_UNITS = 2


def promotion_plan(trials: int, epochs: int, strategy: str) -> dict[str, int] | None:
    """How the search promotes its best candidates (:mod:`.oracles`): a quarter of the
    ``trials`` budget, at most :data:`PROMOTE_UNITS` full trainings, continues as many of
    the best fresh candidates (trained with the rest) from ``epochs`` to twice that, one
    training each, so that several slots continue them side by side; none with
    Hyperband (its own schedule) or fewer than 4 trials."""
    units = min(int(trials) // 4, PROMOTE_UNITS)
    if strategy == "hyperband" or units < 1:
        return None
    return {"after": int(trials) - units, "count": units, "initial": int(epochs),
            "epochs": 2 * int(epochs)}


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


@dataclass
class SearchResult:
    trials: list[Trial]
    best: Trial | None
    seconds: dict[str, float]
    smallest: list[Trial] = field(default_factory=list)  # the space's smallest, if checked
    stop_reason: str = ""
    budget_used: float = 0.0
    replayed: int = 0
    #: with ``keep_runner``: a runner for the final retrain, started and not closed (the
    #: caller closes it); None otherwise
    runner: Any = None

    @property
    def failed(self) -> int:
        """Trials that ended failed (and were replaced by other candidates)."""
        return sum(1 for t in self.trials if t.status is TrialStatus.FAILED)

    @property
    def retried(self) -> int:
        """Trainings run again in a fresh worker after their worker died."""
        return sum(len(t.retried) for t in self.trials)


@dataclass
class _Loop:
    """The state of one search loop, shared by its slots (read and written under the lock)."""

    trials: int
    max_rejects: int
    used: float = 0.0         # budget of the trainings done
    held: float = 0.0         # budget of the candidates slots hold (drawn, not ended)
    busy: int = 0             # slots holding a candidate
    ends: int = 0             # trials the oracle was told the end of
    in_row: int = 0           # candidates in a row that did not fit
    failed_in_row: int = 0    # trainings in a row that failed
    idle: int = 0
    replayed: int = 0
    winding_down: bool = False  # on_winding_down was called
    smallest: list[Trial] | None = None
    stop: str = ""
    error: BaseException | None = None
    drawn_after: dict[str, int] = field(default_factory=dict)
    redo: list[tuple[Any, int]] = field(default_factory=list)  # cut off: (trial, ends)


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
    imported. ``oracle`` is a keras-tuner oracle, or a function that makes one: it is
    then called once the trial workers have started.
    """

    def __init__(self, *, oracle: Any, hypermodel: Callable[[Any], Any] | Space,
                 dataset: Dataset, target: Target | None = None,
                 targets: Sequence[Target] | None = None, limits: Limits | None = None,
                 epochs: int, seed: int, directory: str | Path,
                 project_name: str = ".oracle", objective: str = "accuracy",
                 tolerance: float = DEFAULT_TOLERANCE, patience: int = 5,
                 on_event: Event | None = None, isolate: bool | None = None,
                 device: str = "cpu", mixed_precision: bool | None = None,
                 workers: int | None = None, cluster: str | None = None,
                 warm_start: Sequence[dict[str, Any]] = (), warm_count: int = 0,
                 promotion: dict[str, int] | None = None,
                 keep_runner: bool = False,
                 on_winding_down: Callable[[list[Trial]], None] | None = None) -> None:
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
        # called once (with the trials so far) when a slot first finds the whole budget
        # held by the others: the last trainings run, the cores of idle slots are free
        self.on_winding_down = on_winding_down
        self.run_dir = Path(directory)
        self.store = TrialStore(self.run_dir)
        self.records: dict[str, Trial] = {}
        # check: build + int8 + estimates before training; the others: trained trials
        self.seconds = {"check": 0.0, "screen": 0.0, "train": 0.0, "convert": 0.0, "tflm": 0.0}
        self._calib = calibration_sample(dataset.x_train, seed)
        self._stored = self.store.load()
        # one lock for the oracle, the budget, the records and the timings (see the
        # module docstring); a slot thread's runner is in self._local
        self._cond = threading.Condition(threading.RLock())
        self._local = threading.local()
        self._abort = threading.Event()
        # the processes that build, convert and train candidates, one per trial slot
        # (started now, so that their TensorFlow import overlaps the oracle's set-up)
        ctx = TrialContext(
            space=self.space, x_train=dataset.x_train, y_train=dataset.y_train,
            x_val=dataset.x_val, y_val=dataset.y_val, calib=self._calib, targets=ts,
            seed=self.seed, epochs=self.epochs, patience=self.patience, device=device,
            mixed_precision=(mixed_precision_default(device) if mixed_precision is None
                             else bool(mixed_precision)))
        self.cluster = cluster
        self._ctx = ctx
        # keep_runner: the search hands a runner to the final retrain (SearchResult.runner)
        # instead of the caller starting one (and loading TensorFlow) afterwards
        self._keep = bool(keep_runner) and not cluster
        if cluster:  # one Ray actor per slot on the cluster's nodes
            from .cluster import make_ray_runners

            self.runners = make_ray_runners(ctx, cluster, workers)
        else:
            n = default_workers(ctx, isolate=isolate) if workers is None else int(workers)
            self.runners = make_runners(ctx, n, isolate=isolate)
        self.runner = self.runners[0]
        self._budget = _budget(ts, self.limits)
        self._screens: dict[str, dict[str, Any] | None] = self._load_screens()
        # proposed draft -> (drafts screened with it, calibration scale, spread)
        self._drafts: dict[str, tuple[int, dict[str, float], dict[str, float]]] = {}
        self.warm: list[dict[str, Any]] = []
        try:
            # a factory is called now: its keras-tuner import (seconds) overlaps the
            # workers' TensorFlow import, which started above
            self.oracle = oracle() if callable(oracle) else oracle
            oracle = self.oracle
            self.tuner_id = self._attach(oracle, directory, project_name)
            if hasattr(oracle, "set_proposer"):
                oracle.set_proposer(self._propose)
                oracle.set_promotion(promotion)
                self.warm = self._warm_start(warm_start, warm_count)
        except BaseException:
            self.close()
            raise

    @property
    def workers(self) -> int:
        """Trial slots (one runner each)."""
        return len(self.runners)

    def current_runner(self) -> Any:
        """The runner of the calling slot's thread (slot 0's outside the search)."""
        return getattr(self._local, "runner", None) or self.runner

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
                screens = self.current_runner().screen(
                    [self._hp_config(drafts[i]) for i in todo]).screens
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
        sigma = _spread(pairs, scale)
        known = {_architecture(screen): costs for screen, costs in pairs}
        i = _choose_draft([self._screens[k] for k in keys], self._budget, scale=scale,
                          sigma=sigma, known=known)
        self._drafts[keys[i]] = (len(drafts), scale, sigma)
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

    def close(self, *, keep: Any = None) -> None:
        """Stop the worker processes but ``keep`` (``search_feasible`` does this when it
        ends)."""
        for r in self.runners:
            if r is not keep:
                r.close()
        if self.cluster:
            from .cluster import disconnect

            disconnect()

    def _add_seconds(self, key: str, value: float) -> None:
        with self._cond:
            self.seconds[key] = self.seconds.get(key, 0.0) + value

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
            drafts, scale, sigma = self._drafts.get(key, (0, {}, {}))
            screen = (_screen_summary(self._screens.get(key), self._budget, drafts, scale,
                                      sigma)
                      if drafts and origin is None else None)
            base = base.with_(origin=origin, screen=screen)
        if prev is not None and prev.targets is not None:
            # a Hyperband promotion: same architecture, same estimates
            t = base.with_(checked_as=str(parent),
                           **{k: getattr(prev, k) for k in _CHECK_FIELDS})
        else:
            t0 = time.perf_counter()
            try:
                res = self.current_runner().check(hp.get_config(), self.seed + int(tid))
                t = base.with_(**self._checked(res.estimates, res.note))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # a candidate that cannot be checked is skipped
                return base.with_(status=TrialStatus.FAILED, stage="check", feasible=False,
                                  error=_first_line(exc, 300))
            finally:
                self._add_seconds("check", time.perf_counter() - t0)
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
                if self._abort.is_set():
                    raise  # the search is ending: its workers were stopped
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
        runner = self.current_runner()
        res = runner.train(hp.get_config(), self.seed + checked.number,
                                parent_keras=self._keras_of(prev),
                                parent_id=str(parent) if parent is not None else None,
                                folder=str(folder), on_epoch=_epoch)
        t2 = time.perf_counter()
        ev = evaluate_int8(res.model_bytes, ds.x_val, ds.y_val)  # also bisects the arena
        with self._cond:
            self.seconds["train"] += res.train_seconds
            self.seconds["convert"] += res.convert_seconds
            self.seconds["tflm"] += time.perf_counter() - t2
        host_arena = int(ev.tflm.bisected_bytes or ev.tflm.arena_bytes)
        checks = self._checked(self._trained_estimates(res.model_bytes, host_arena),
                               checked.note)
        atomic_write(folder / "model.tflite", res.model_bytes)
        if ev.proba is not None:  # for the ensemble stage, which would run TFLM again
            save_proba(folder / PROBA_FILE, res.model_bytes, ds.x_val, ev.proba)
        t = checked.with_(
            status=TrialStatus.TRAINED, continues=res.continues,
            float_val_accuracy=res.float_val_accuracy, int8_val_accuracy=ev.accuracy,
            epochs_run=res.epochs_run, best_epoch=res.best_epoch,
            train_seconds=round(res.train_seconds, 3), device=res.device,
            tflite=str(folder / "model.tflite"), keras=str(folder / "model.keras"),
            worker_rss_bytes=res.rss_bytes if runner.isolated else None, **checks)
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
            if t.trained and hasattr(self.oracle, "note_trained"):
                self.oracle.note_trained(kt_trial.trial_id, improving=self._improving(t))
            kt_trial.status = status.COMPLETED
            kt_trial.message = "; ".join(t.broken) or None
        else:
            kt_trial.status = status.FAILED
            kt_trial.message = t.error or "failed"
        self.oracle.end_trial(kt_trial)

    def _improving(self, t: Trial) -> bool:
        """Whether a trained trial's validation loss was still falling at its last epoch:
        it ran every epoch it was given and its best epoch is the last."""
        planned = int(t.hyperparameters.get("tuner/epochs", self.epochs))
        initial = int(t.hyperparameters.get("tuner/initial_epoch", 0))
        return bool(t.epochs_run and t.best_epoch
                    and initial + int(t.epochs_run) >= planned
                    and int(t.best_epoch) >= initial + int(t.epochs_run))

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
                res = self.current_runner().check(hp.get_config(), self.seed)
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

        The runners' worker processes are stopped at the end, however the search ends;
        with ``keep_runner``, slot 0's runner outlives a search that ends well, in
        ``SearchResult.runner``. With several slots it has its share of the cores: the
        final retrain runs in the background beside the search process's classical stage
        (:mod:`.refit`), and no other worker loads TensorFlow while the last trainings run.
        """
        kept = None
        try:
            result = self._search(trials=trials, max_rejects=max_rejects)
            if self._keep:
                kept = self.runners[0]
            result.runner = kept
            return result
        finally:
            self.close(keep=kept)

    def _search(self, *, trials: int, max_rejects: int) -> SearchResult:
        loop = _Loop(trials=trials, max_rejects=max_rejects)
        t_loop = time.perf_counter()
        self.on_event("start", {"budget": trials, "targets": [t.name for t in self.targets],
                                "run_dir": str(self.run_dir), "workers": self.workers,
                                "stored": len(self._stored), "objective": self.objective})
        self._local.runner = self.runners[0]
        try:
            self._replay(loop)
            threads = [threading.Thread(target=self._slot, args=(i, loop), daemon=True,
                                        name=f"edgeml-slot-{i}")
                       for i in range(1, self.workers)]
            for th in threads:
                th.start()
            try:
                self._slot(0, loop)
                for th in threads:
                    while th.is_alive():
                        th.join(0.5)
            except BaseException as exc:  # Ctrl-C, or an error in slot 0: stop every slot
                self._stop_all(loop, exc)
                for th in threads:
                    while th.is_alive():
                        th.join(0.5)
                first = loop.error
                if first is not None and first is not exc and \
                        not isinstance(exc, KeyboardInterrupt):
                    raise first from None  # slot 0 was stopped because another slot failed
                raise
        finally:
            self._local.runner = None
        if loop.error is not None:
            raise loop.error
        self.seconds["loop"] = time.perf_counter() - t_loop
        records = list(self.records.values())
        best = choose(records, self.objective, self.tolerance)
        return SearchResult(trials=records, best=best, seconds=dict(self.seconds),
                            smallest=loop.smallest or [], stop_reason=loop.stop,
                            budget_used=loop.used, replayed=loop.replayed)

    def _stop_all(self, loop: _Loop, exc: BaseException) -> None:
        """End the search now: no slot draws again, every running step is stopped."""
        with self._cond:
            if loop.error is None:
                loop.error = exc
            self._abort.set()
            self._cond.notify_all()
        for r in self.runners:
            r.interrupt()

    def _replay(self, loop: _Loop) -> None:
        """Replay the stored trials of the run being resumed to the fresh oracle, in the
        order it saw them: each drawn after the ends it had seen, each ended in its place
        among the ends. A trial drawn but not stored (cut off) is queued to run again."""
        if not self._stored:
            return
        import keras_tuner as kt

        status = kt.engine.trial.TrialStatus
        numbers = [n for n in self._stored if n >= 0]
        if not numbers:
            return
        last = max(numbers)

        def order(n: int) -> tuple[int, int]:
            t = self._stored[n]
            return tuple(t.order) if t.order else (n, n)  # type: ignore[return-value]

        held: dict[int, Any] = {}  # stored trials drawn, not yet ended: number -> kt trial
        with self._cond:
            for k in range(last + 1):
                stored = self._stored.get(k)
                if stored is not None:
                    self._replay_ends(loop, held, until=order(k)[0], order=order)
                kt_trial = self.oracle.create_trial(f"{self.tuner_id}-replay-{k}")
                if kt_trial.status != status.RUNNING or int(kt_trial.trial_id) != k:
                    raise self._cannot_resume(k)
                hp = kt_trial.hyperparameters
                if stored is None:  # cut off: it runs again, first
                    loop.redo.append((kt_trial, loop.ends))
                    continue
                if not _same_values(stored.hyperparameters, dict(hp.values)):
                    raise self._cannot_resume(k)
                hp.values = dict(stored.hyperparameters)
                held[k] = kt_trial
            self._replay_ends(loop, held, until=None, order=order)

    def _replay_ends(self, loop: _Loop, held: dict[int, Any], *, until: int | None,
                     order: Callable[[int], tuple[int, int]]) -> None:
        """End held stored trials in their recorded order until the oracle has seen
        ``until`` ends (None: all of them)."""
        for k in sorted(held, key=lambda n: order(n)[1]):
            if until is not None and loop.ends >= until:
                return
            t = self._stored[k]
            if until is not None and order(k)[1] != loop.ends:
                raise self._cannot_resume(k)
            kt_trial = held.pop(k)
            self.records[t.trial_id] = t
            self._end(kt_trial, t)
            loop.ends += 1
            loop.replayed += 1
            self.on_event("replayed", t)
            self._account(loop, t)
        if until is not None and loop.ends < until:
            raise self._cannot_resume(min(held) if held else loop.ends)

    def _cannot_resume(self, k: int) -> EdgeMLError:
        return EdgeMLError(
            f"cannot resume in {self.run_dir}: trial {k} was drawn with other "
            "hyperparameters than this search draws now (the space, the data, "
            "the seed or edgeml changed)", hint="start a new run with --out")

    def _slot(self, slot: int, loop: _Loop) -> None:
        """One trial slot: draw, check, train, record, until the search stops."""
        runner = self.runners[slot]
        self._local.runner = runner
        tuner_id = self.tuner_id if slot == 0 else f"{self.tuner_id}-{slot}"
        try:
            while True:
                job = self._draw(loop, tuner_id)
                if job is None:
                    return
                self._run_job(loop, runner, *job)
        except BaseException as exc:
            if slot == 0:
                raise  # the calling thread stops the others
            if not self._abort.is_set():
                self._stop_all(loop, exc)

    def _draw(self, loop: _Loop, tuner_id: str) -> tuple[Any, float] | None:
        """The next candidate for a slot (its budget held), or None when the slot is done."""
        import keras_tuner as kt

        status = kt.engine.trial.TrialStatus
        with self._cond:
            while True:
                if loop.stop or self._abort.is_set() or loop.used >= loop.trials - 1e-9:
                    return None
                if loop.used + loop.held >= loop.trials - 1e-9:
                    if not loop.winding_down and self.on_winding_down is not None:
                        loop.winding_down = True
                        self.on_winding_down(list(self.records.values()))
                    self._cond.wait(1.0)  # other slots hold the rest of the budget
                    continue
                if loop.redo:
                    kt_trial, after = loop.redo.pop(0)
                    return self._hold(loop, kt_trial, after)
                kt_trial = self.oracle.create_trial(tuner_id)
                if kt_trial.status == status.STOPPED:
                    loop.stop = ("the oracle has no more candidates (space exhausted or "
                                 "schedule done)")
                    self._cond.notify_all()
                    return None
                if kt_trial.status == status.IDLE:
                    if loop.busy:  # a bracket waits for trials other slots run
                        self._cond.wait(1.0)
                        continue
                    loop.idle += 1
                    if loop.idle > 10:
                        loop.stop = "the oracle is idle"
                        self._cond.notify_all()
                        return None
                    continue
                loop.idle = 0
                return self._hold(loop, kt_trial, loop.ends)

    def _hold(self, loop: _Loop, kt_trial: Any, after: int) -> tuple[Any, float]:
        """A slot takes a drawn candidate: its budget is held until it ends."""
        loop.busy += 1
        loop.held += self._units_of(dict(kt_trial.hyperparameters.values))
        loop.drawn_after[str(kt_trial.trial_id)] = after
        return kt_trial, time.perf_counter()

    def _run_job(self, loop: _Loop, runner: Any, kt_trial: Any, drawn: float) -> None:
        tid = kt_trial.trial_id
        hp = kt_trial.hyperparameters
        units = self._units_of(dict(hp.values))
        try:
            t = self._check(tid, hp)
            kind = t.status.value
            if t.status is TrialStatus.RUNNING:  # it fits: train it
                with self._cond:
                    self.on_event("train", {"trial_id": tid, "hyperparameters": t.hyperparameters,
                                            "budget_used": loop.used, "units": self._units(t),
                                            "worker": runner.where})
                wait = time.perf_counter() - drawn
                t = self._train(t, hp).with_(wait_seconds=round(wait, 3))
                kind = "trained"
            t = t.with_(worker=runner.where)
        except BaseException:
            with self._cond:
                loop.busy -= 1
                loop.held -= units
                self._cond.notify_all()
            raise
        with self._cond:
            loop.busy -= 1
            loop.held -= units
            self._cond.notify_all()
            if self._abort.is_set():
                return  # the run ends in an error: nothing more is recorded
            after = loop.drawn_after.pop(str(tid), loop.ends)
            if (after, loop.ends) != (t.number, t.number):
                t = t.with_(order=(after, loop.ends))
            self.records[tid] = t
            self.store.put(t)
            self._end(kt_trial, t)
            loop.ends += 1
            self.on_event(kind, t)
            self._account(loop, t)

    def _account(self, loop: _Loop, t: Trial) -> None:
        """Count a finished trial against the budget and the stop rules (under the lock)."""
        if t.trained:
            loop.in_row = loop.failed_in_row = 0
            loop.used += self._units(t)
            self.on_event("progress", {"budget_used": loop.used, "budget": loop.trials,
                                       "best": self._best_so_far()})
            return
        if t.failed_training:
            loop.failed_in_row += 1
            if loop.failed_in_row >= MAX_FAILED_IN_ROW and not loop.stop:
                loop.stop = f"{loop.failed_in_row} trainings in a row failed"
            return
        loop.in_row += 1
        if loop.smallest is None and not any(r.trained for r in self.records.values()):
            t_probe = time.perf_counter()
            loop.smallest = self.probe_smallest()
            self.seconds["check"] += time.perf_counter() - t_probe
            if loop.smallest and all(r.feasible is False for r in loop.smallest) \
                    and not loop.stop:
                loop.stop = "the space's smallest candidates do not fit"
        if loop.in_row > loop.max_rejects and not loop.stop:
            loop.stop = f"{loop.in_row} candidates in a row did not fit"

    def _units_of(self, hp: dict[str, Any]) -> float:
        return self._units(Trial(trial_id="0", status=TrialStatus.RUNNING, hyperparameters=hp))

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
