"""keras-tuner's Gaussian-process oracle with a vectorised acquisition step.

keras-tuner maximises the upper confidence bound with 50 L-BFGS-B restarts and
finite-difference gradients, one GP prediction per evaluation: tens of seconds
per candidate on two cores once a few trials are in. Here the same bound (same
GP, same ``beta``) is evaluated in one batch over random points of the unit
cube plus jitter around the best trials so far, and the best point whose values
were not tried yet is proposed. Deterministic for a seed.

Imported only when a Bayesian search runs (it loads keras-tuner, hence TensorFlow).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from keras_tuner.oracles import BayesianOptimizationOracle

__all__ = ["EdgeBayesianOracle"]


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
