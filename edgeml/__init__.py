"""edgeml: hardware-constrained AutoML for microcontrollers and edge accelerators.

The Python API (:mod:`edgeml.api`)::

    import edgeml
    run = edgeml.search(x, y, target="esp32", trials=10, max_ram_kb=32)
    run.best, run.trials, run.pareto, run.plot()
    run.compress(structured=0.3, qat=True)     # or edgeml.api.compress(run_dir, ...)
    run.export("esp-idf", "components/")       # or edgeml.api.export(run_dir, ...)
    edgeml.profile("model.tflite", target="nrf52840").layers
    edgeml.load_run("edgeml-runs/...")
    edgeml.targets()

Importing edgeml does not import TensorFlow; the stages that need it load it
when they run.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

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
    "search", "resume", "load_run", "profile", "targets",
    "Run", "ChosenModel", "Profile", "Exported",
    # the stages, for those who chain them themselves
    "load_dataset", "estimate_model", "run_search", "SearchConfig",
]

_API = ("search", "resume", "load_run", "profile", "targets", "Run", "ChosenModel", "Profile",
        "Exported")
#: API functions that share their name with a subpackage of edgeml
_SHARED = {"search": "edgeml.search", "targets": "edgeml.targets"}


class _Entry:
    """``edgeml.search`` / ``edgeml.targets``: the API function of that name, which is also
    the name of a subpackage. Calling it calls the function (same signature and doc);
    other attributes are the subpackage's, so ``import edgeml.search.tuner as t`` and
    ``edgeml.search.pareto`` still reach the code below."""

    def __init__(self, func: str, module: str) -> None:
        self._func = func
        self.__name__ = module  # what `import edgeml.search.x as y` looks up submodules by

    @property
    def __wrapped__(self) -> Any:
        from . import api

        return getattr(api, self._func)

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.__wrapped__.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(importlib.import_module(self.__name__), name)

    def __repr__(self) -> str:
        return f"<edgeml function {self._func} (and package {self.__name__})>"


class _Package(types.ModuleType):
    """The edgeml package: ``edgeml.search`` and ``edgeml.targets`` stay the API functions
    when their subpackages are imported (the import system sets the attribute then)."""

    def __getattribute__(self, name: str) -> Any:
        if name in _SHARED:
            return _Entry(name, _SHARED[name])
        return super().__getattribute__(name)


sys.modules[__name__].__class__ = _Package


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
