"""edgeml's keras-tuner oracles: budget-aware drafts, warm starts, a vectorised Bayesian step.

Every oracle of :func:`~edgeml.search.tuner.make_oracle` is one of keras-tuner's
(random search, Bayesian optimisation, Hyperband) with :class:`EdgeOracleMixin`
in front of it. keras-tuner draws every random point through
``Oracle._random_values`` (random search always, the Bayesian oracle's initial
points and fallbacks, Hyperband's fresh candidates of each bracket); the mixin
replaces that draw:

1. **warm start**: while configurations handed to :meth:`~EdgeOracleMixin.set_warm_start`
   are left (the best of similar earlier runs, then the shipped portfolio), the
   next one is proposed as it is; its origin is kept (:meth:`~EdgeOracleMixin.origin_of`);
2. **budget-aware drafts**: otherwise the oracle draws ``proposals`` (K) value
   sets from its own seeded random state and hands them to the proposer the
   search gave it (:meth:`~EdgeOracleMixin.set_proposer`), which screens them
   cheaply and says which one to propose. Drafts that were not chosen never become
   trials. ``proposals=1`` draws as keras-tuner does.

3. **promotion** (random and Bayesian oracles, with :meth:`~EdgeOracleMixin.set_promotion`):
   short trainings leave most candidates still improving at their last epoch, and
   within a budget the best models need more epochs more than the search needs more
   candidates. Once ``after`` fresh candidates have trained, the oracle continues the
   ``count`` best of them, each from epoch ``initial`` to ``epochs`` (their weights),
   as keras-tuner's Hyperband continues a trial (``tuner/trial_id``,
   ``tuner/initial_epoch``, ``tuner/epochs``), if its validation loss was still
   falling at its last epoch. A converged one leaves its share of the budget to fresh
   candidates. While the last of the ``after`` still train (several workers), one
   that is among the ``count`` best whatever they score is continued at once; the
   others wait. The tuner tells the oracle how each trained trial ended
   (:meth:`~EdgeOracleMixin.note_trained`).

The draws depend only on the seed and on the order of calls, and the proposer is
deterministic, so the same seed proposes the same candidates, and a search that
replays its finished trials to a fresh oracle (``--resume``) sees the same ones
(the promotion too: it depends only on the trials the oracle has seen end).

Imported only when a search runs (it loads keras-tuner, hence TensorFlow).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from keras_tuner.oracles import (
    BayesianOptimizationOracle,
    HyperbandOracle,
    RandomSearchOracle,
)

__all__ = ["EdgeOracleMixin", "EdgeRandomOracle", "EdgeBayesianOracle", "EdgeHyperbandOracle",
           "Proposer", "resolve_values"]

#: drafts -> index of the one to propose
Proposer = Callable[[list[dict[str, Any]]], int]


class EdgeOracleMixin:
    """Warm starts and budget-aware drafts for a keras-tuner oracle (see the module docstring)."""

    proposals: int = 1
    #: whether :meth:`set_promotion` applies (Hyperband promotes by its own schedule)
    promotes: bool = True

    def _edge_state(self) -> None:
        if not hasattr(self, "_edge_warm"):
            self._edge_warm: list[tuple[dict[str, Any], str]] = []
            self._edge_origins: dict[str, str] = {}
            self._edge_proposer: Proposer | None = None
            self._edge_promotion: dict[str, int] | None = None
            self._edge_improving: dict[str, bool] = {}  # trained trial -> still improving

    def set_promotion(self, plan: dict[str, int] | None) -> None:
        """``{"after": n, "count": k, "initial": e0, "epochs": e1}``: once ``n`` fresh
        candidates have trained, continue the ``k`` best of them from epoch ``e0`` to
        ``e1`` (see the module docstring); None: never."""
        self._edge_state()
        self._edge_promotion = dict(plan) if plan and self.promotes else None

    def note_trained(self, trial_id: str, *, improving: bool) -> None:
        """Trial ``trial_id`` trained; ``improving``: its validation loss was still falling
        at its last epoch (it was not ended by early stopping)."""
        self._edge_state()
        self._edge_improving[str(trial_id)] = bool(improving)

    def _promotion(self) -> dict[str, Any] | None:
        """The response of ``populate_space`` while a promotion is due or awaited; None when
        the oracle draws as usual."""
        self._edge_state()
        plan = self._edge_promotion
        if not plan:
            return None
        trials = self.trials  # type: ignore[attr-defined]

        def parent(values: dict[str, Any]) -> str | None:
            return values.get("tuner/trial_id")

        done = {parent(t.hyperparameters.values) for t in trials.values()} - {None}
        count = int(plan.get("count", 1))
        if len(done) >= count:
            return None  # promoted already
        fresh = {tid: imp for tid, imp in self._edge_improving.items()
                 if tid in trials and parent(trials[tid].hyperparameters.values) is None}
        running = {str(t.trial_id) for t in self.ongoing_trials.values()  # type: ignore[attr-defined]
                   if parent(t.hyperparameters.values) is None}
        after = int(plan["after"])
        waiting = len(fresh) < after
        if waiting and len(fresh) + len(running) < after:
            return None  # a candidate that did not fit freed its place: a fresh one is drawn
        # those trained when the promotion came due; while the last of them still run, a
        # trained one ranked r among the others is among the `count` best if r plus the
        # running ones is at most `count`, whatever they score: it is continued now (the
        # same choice as once they end, without leaving this slot idle meanwhile)
        pool = sorted([*fresh, *running], key=int)[:after]
        first = [tid for tid in pool if tid in fresh]
        top = count - sum(1 for tid in pool if tid in running)
        best = sorted(first, key=lambda tid: (-float(trials[tid].score or 0.0), int(tid)))
        # still improving, not continued yet, and fitting (a model over a limit scores 0)
        todo = [tid for tid in best[:max(top, 0)] if fresh[tid] and tid not in done
                and float(trials[tid].score or 0.0) > 0]
        if not todo:
            if waiting:  # the rest is decided once the running ones end
                return {"status": "IDLE", "values": None}
            return None  # converged (or continued): the rest goes to fresh candidates
        values = {**trials[todo[0]].hyperparameters.values, "tuner/trial_id": todo[0],
                  "tuner/initial_epoch": int(plan["initial"]),
                  "tuner/epochs": int(plan["epochs"])}
        return {"status": "RUNNING", "values": values}

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        step = self._promotion()
        if step is not None:
            return step
        return super().populate_space(trial_id)  # type: ignore[misc]

    def set_proposer(self, proposer: Proposer | None) -> None:
        """The function that chooses among ``proposals`` drafts (the search's screen)."""
        self._edge_state()
        self._edge_proposer = proposer

    def set_warm_start(self, configs: Sequence[tuple[dict[str, Any], str]]) -> None:
        """Values (complete for the space, see :func:`resolve_values`) to propose first,
        each with its origin ("knowledge-base" or "portfolio")."""
        self._edge_state()
        self._edge_warm = [(dict(v), str(o)) for v, o in configs]

    def origin_of(self, values: dict[str, Any]) -> str | None:
        """Where a proposed value set came from (None: drawn at random)."""
        self._edge_state()
        return self._edge_origins.get(self._compute_values_hash(values))  # type: ignore[attr-defined]

    def _random_values(self) -> dict[str, Any] | None:
        self._edge_state()
        while self._edge_warm:
            values, origin = self._edge_warm.pop(0)
            if self._duplicate(values):  # type: ignore[attr-defined]
                continue
            self._edge_origins[self._compute_values_hash(values)] = origin  # type: ignore[attr-defined]
            return dict(values)
        draw = super()._random_values  # type: ignore[misc]
        if self.proposals <= 1 or self._edge_proposer is None:
            return draw()
        drafts: list[dict[str, Any]] = []
        seen: set[str] = set()
        for _ in range(self.proposals):
            values = draw()
            if values is None:
                break
            h = self._compute_values_hash(values)  # type: ignore[attr-defined]
            if h not in seen:
                seen.add(h)
                drafts.append(values)
        if len(drafts) <= 1:
            return drafts[0] if drafts else None
        return drafts[self._edge_proposer(drafts)]


class EdgeRandomOracle(EdgeOracleMixin, RandomSearchOracle):
    """keras-tuner's random search with warm starts and budget-aware drafts."""


class EdgeHyperbandOracle(EdgeOracleMixin, HyperbandOracle):
    """keras-tuner's Hyperband; its fresh candidates are warm starts first, then screened
    drafts (promotions continue earlier trials as keras-tuner's do)."""

    promotes = False


class EdgeBayesianOracle(EdgeOracleMixin, BayesianOptimizationOracle):
    """keras-tuner's Gaussian-process oracle with a vectorised acquisition step.

    keras-tuner maximises the upper confidence bound with 50 L-BFGS-B restarts and
    finite-difference gradients, one GP prediction per evaluation: tens of seconds
    per candidate on two cores once a few trials are in. Here the same bound (same
    GP, same ``beta``) is evaluated in one batch over random points of the unit
    cube plus jitter around the best trials so far, and the best point whose values
    were not tried yet is proposed. Deterministic for a seed. Its initial random
    points are warm starts and screened drafts (:class:`EdgeOracleMixin`).
    """

    n_random = 2048
    n_local = 512

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        step = self._promotion()
        if step is not None:
            return step
        completed = [t for t in self.trials.values() if t.status == "COMPLETED"
                     and "tuner/trial_id" not in t.hyperparameters.values]
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


# --------------------------------------------------------------------------- warm-start values
def _inside(hp: Any, value: Any) -> bool:
    """Whether ``value`` is one the hyperparameter ``hp`` can take."""
    kind = type(hp).__name__
    if kind == "Choice":
        return any(value == v and type(value) is type(v) or
                   (isinstance(v, float) and isinstance(value, (int, float))
                    and not isinstance(value, bool) and math.isclose(float(value), v))
                   for v in hp.values)
    if kind == "Boolean":
        return isinstance(value, bool)
    if kind == "Fixed":
        return value == hp.value
    if kind in ("Int", "Float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if kind == "Int" and int(value) != value:
            return False
        lo, hi = float(hp.min_value), float(hp.max_value)
        if not lo - 1e-9 <= float(value) <= hi + 1e-9:
            return False
        step = getattr(hp, "step", None)
        if step and getattr(hp, "sampling", "linear") in (None, "linear"):
            k = (float(value) - lo) / float(step)
            return abs(k - round(k)) < 1e-6
        return True
    return False


def resolve_values(space: Any, config: dict[str, Any]) -> dict[str, Any] | None:
    """A warm-start configuration as complete values of this search's space, or None.

    ``space`` is the oracle's ``hyperparameters``. Every active hyperparameter takes
    the configuration's value when it has one, its default otherwise; keys the space
    does not have (or that are inactive here) are dropped. A value outside its
    hyperparameter's range or choices makes the configuration invalid (None).
    """
    import keras_tuner as kt

    hps = kt.HyperParameters()
    for hp in space.space:
        hps.merge([hp])
        if not hps.is_active(hp):
            continue
        if hp.name in config:
            value = config[hp.name]
            if not _inside(hp, value):
                return None
            if type(hp).__name__ == "Int":
                value = int(value)
            elif type(hp).__name__ == "Choice":
                value = next(v for v in hp.values if v == value)
            hps.values[hp.name] = value
        else:
            hps.values[hp.name] = hp.default
    return dict(hps.values)
