"""edgeml: hardware-constrained AutoML for microcontrollers and edge accelerators.

Importing edgeml does not import TensorFlow; the stages that need it load it
when they run.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import BudgetError, DataError, EdgeMLError, ExportError, ModelError, TargetError
from .targets import Target, list_targets, load_target

__all__ = [
    "__version__",
    "EdgeMLError", "DataError", "TargetError", "BudgetError", "ModelError", "ExportError",
    "Target", "load_target", "list_targets",
    "load_dataset", "estimate_model", "run_search", "SearchConfig",
]


def __getattr__(name: str):  # lazy public API (keeps `import edgeml` light)
    if name == "load_dataset":
        from .data import load_dataset
        return load_dataset
    if name == "estimate_model":
        from .estimate import estimate_model
        return estimate_model
    if name in ("run_search", "SearchConfig"):
        from . import pipeline
        return getattr(pipeline, name)
    raise AttributeError(f"module 'edgeml' has no attribute {name!r}")
