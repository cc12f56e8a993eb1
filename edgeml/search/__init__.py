"""Hardware-constrained architecture and hyperparameter search (Keras Tuner)."""

from __future__ import annotations

from ..records import Trial, TrialStatus, TrialStore
from .pareto import OBJECTIVES, choose, objective_score, pareto_front
from .spaces import Space, SpaceError, build_space, load_space_file
from .tuner import STRATEGIES, EdgeTuner, SearchResult, make_oracle, no_feasible_message

__all__ = ["EdgeTuner", "SearchResult", "Space", "SpaceError", "TrialStore", "OBJECTIVES",
           "STRATEGIES", "Trial", "TrialStatus", "build_space", "load_space_file", "make_oracle",
           "no_feasible_message", "choose", "objective_score", "pareto_front"]
