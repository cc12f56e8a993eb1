"""edgeml: hardware-constrained AutoML for microcontrollers and edge accelerators.

The Python API (:mod:`edgeml.api`)::

    import edgeml
    run = edgeml.search(x, y, target="esp32", trials=10, max_ram_kb=32)
    run.best, run.trials, run.pareto, run.plot()
    run.compress(structured=0.3, qat=True)
    run.export("esp-idf", "components/")
    edgeml.profile("model.tflite", target="nrf52840").layers
    edgeml.load_run("edgeml-runs/...")
    edgeml.targets()

Importing edgeml does not import TensorFlow; the stages that need it load it
when they run.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    BudgetError,
    DataError,
    EdgeMLError,
    ExportError,
    ModelError,
    RunDirError,
    TargetError,
)
from .targets import Target, list_targets, load_target

__all__ = [
    "__version__",
    "EdgeMLError", "DataError", "TargetError", "BudgetError", "ModelError", "ExportError",
    "RunDirError",
    "Target", "load_target", "list_targets",
    # the Python API (edgeml.api)
    "search", "resume", "load_run", "compress", "export", "profile", "targets",
    "Run", "ChosenModel", "Profile", "Exported",
    # the stages, for those who chain them themselves
    "load_dataset", "estimate_model", "run_search", "SearchConfig",
]

_API = ("search", "resume", "load_run", "compress", "export", "profile", "Run", "ChosenModel",
        "Profile", "Exported")


def targets():  # shadows the module edgeml.targets as an attribute; `from edgeml.targets
    # import load_target` still reads the module
    """The shipped target boards, a pandas DataFrame indexed by name (:func:`edgeml.api.targets`)."""
    from .api import targets as _targets

    return _targets()


def __getattr__(name: str):  # lazy public API (keeps `import edgeml` light)
    if name in _API:
        from . import api
        return getattr(api, name)
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
