"""Hardware-constrained architecture and hyperparameter search (Keras Tuner)."""

from __future__ import annotations

from .spaces import build_space
from .tuner import EdgeTuner, SearchResult, make_oracle, no_feasible_message

__all__ = ["EdgeTuner", "SearchResult", "build_space", "make_oracle", "no_feasible_message"]
