"""Classical models (trees, forests, boosting, linear, naive Bayes) costed for a target,
searched with a keras-tuner oracle, exported to C; ensembles with the networks."""

from __future__ import annotations

from .families import FAMILIES, MODEL_CHOICES, NETWORK, build_estimator, define_space, describe
from .model import CModel, to_cmodel

__all__ = ["FAMILIES", "MODEL_CHOICES", "NETWORK", "build_estimator", "define_space",
           "describe", "CModel", "to_cmodel"]
