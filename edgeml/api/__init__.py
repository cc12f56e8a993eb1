"""The Python API: what the command line does, for scripts and notebooks.

``edgeml.search`` takes arrays in memory (numpy, or a pandas DataFrame with a
label column) as well as data files, and returns a :class:`Run`; ``edgeml.load_run``
reads a finished run into the same object; ``edgeml.profile`` returns a
:class:`Profile`; ``edgeml.compress`` and ``edgeml.export`` work on a run
directory. Options are keyword-only and named as the command line's options
(``max_ram_kb`` is ``--max-ram-kb``), with the same defaults. Every problem the
user can fix is an :class:`~edgeml.errors.EdgeMLError` with a one-line message and
a ``.hint``.

Runs are written to disk as the command line writes them (a new temporary folder
when ``out`` is None, kept and named by ``Run.path``), so ``edgeml search --resume``,
``edgeml compress`` and ``edgeml export`` work on them too. The command line
calls these functions and only parses options and prints.
"""

from __future__ import annotations

import numbers
import tempfile
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from ..compress.chain import CompressOptions
from ..errors import EdgeMLError
from ..pipeline import SearchConfig, default_run_dir
from .exporting import Exported, export
from .progress import Progress
from .results import ChosenModel, Profile, Run

__all__ = ["search", "resume", "load_run", "compress", "export", "profile", "targets",
           "limits", "Run", "ChosenModel", "Profile", "Exported", "Progress", "LIMIT_KEYWORDS"]

Event = Callable[[str, Any], None]
_D = {f.name: f.default for f in fields(SearchConfig)}
#: keyword -> (Limits field, multiplier): the user's limits, in the command line's units
LIMIT_KEYWORDS: dict[str, tuple[str, int]] = {
    "max_ram_kb": ("max_arena_bytes", 1024),
    "max_flash_kb": ("max_model_bytes", 1024),
    "max_latency_ms": ("max_latency_ms", 1),
}


def limits(*, max_ram_kb: float | None = None, max_flash_kb: float | None = None,
           max_latency_ms: float | None = None) -> Any:
    """The :class:`~edgeml.estimate.Limits` for caps in KB / ms (each must be positive)."""
    from ..estimate import Limits

    given = {"max_ram_kb": max_ram_kb, "max_flash_kb": max_flash_kb,
             "max_latency_ms": max_latency_ms}
    values: dict[str, Any] = {}
    for key, value in given.items():
        name, scale = LIMIT_KEYWORDS[key]
        if value is None:
            values[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise EdgeMLError(f"{key} must be a positive number (got {value!r})",
                              hint=f"leave {key} out to use the target's own limit")
        values[name] = int(value * scale) if scale != 1 else float(value)
    return Limits(**values)


def search(x: Any = None, y: Any = None, *, data: str | Path | None = None,
           label: str = _D["label"], x_test: Any = None, y_test: Any = None,
           target: str = _D["target"], trials: int = _D["trials"], epochs: int = _D["epochs"],
           seed: int = _D["seed"], strategy: str = _D["strategy"],
           objective: str = _D["objective"], accuracy_tolerance: float = _D["tolerance"],
           space: str | Path | None = None, max_ram_kb: float | None = None,
           max_flash_kb: float | None = None, max_latency_ms: float | None = None,
           prune: float | None = None, structured: float | None = None, qat: bool = False,
           max_int8_drop: float = _D["max_int8_drop"], features: str | None = None,
           group: str | None = None, window: int | None = None, hop: int | None = None,
           rate: float | None = None, test_data: str | Path | None = None,
           models: str = _D["models"], ensemble: bool = _D["ensemble"],
           ensemble_min_gain: float = _D["ensemble_min_gain"], device: str = _D["device"],
           val_split: float | None = _D["val_split"], test_split: float | None = _D["test_split"],
           refit: bool = _D["refit"],
           workers: int | None = None, cluster: str | None = None,
           warm_start: bool = _D["warm_start"], proposals: int = _D["proposals"],
           promote: bool = _D["promote"], out: str | Path | None = None, force: bool = False, verbose: int = 1,
           on_event: Event | None = None) -> Run:
    """Search the best int8 model that fits ``target`` (``edgeml search``).

    Data: ``x, y`` as numpy arrays (samples first: ``(n, features)``, ``(n, steps,
    channels)`` or ``(n, height, width[, channels])``), or ``x`` a pandas DataFrame
    whose ``label`` column holds the labels; or ``data=`` a CSV/NPZ path or builtin
    name (default: scikit-learn's digits). ``x_test, y_test`` given: the test set,
    used untouched (no test split is cut from ``x``). Arrays are saved in the run
    as ``data.npz`` so that resume and compress need nothing else.

    ``out``: the run directory; None makes a new temporary folder (``Run.path``).
    ``force``: overwrite files in ``out`` (a ``model_data.h``, ...) that no run wrote.
    ``test_data``: your own test set, a file (``--test-data``): an NPZ with ``x``, ``y``
    or a CSV with the data's columns (held-out recordings for recordings), used
    untouched as the test split. ``val_split`` / ``test_split``: the fractions cut for
    validation and test (None: 0.15 / 0.2, more for small data; ``--val-split``,
    ``--test-split``). ``refit``: train the chosen network again on train + validation
    and ship that model (``--no-refit`` is ``refit=False``).
    ``data=`` a folder of recordings (or a stream CSV) goes through the feature stage:
    ``features`` (kind; None searches it with the model), ``group``, ``window``, ``hop``
    and ``rate`` are ``edgeml search``'s options.
    ``models``: the families considered (``"nn"``, the network search, and the classical
    ``tree, forest, gbt, linear, nb``), ``ensemble`` / ``ensemble_min_gain``: the greedy
    ensemble over the run's models (``--models``, ``--no-ensemble``, ``--ensemble-min-gain``).
    ``device``: where trials train, ``"auto"`` (a GPU when TensorFlow sees one), ``"cpu"``
    or ``"gpu"`` (``--device``).
    ``workers``: trials trained at once (None: what the machine can use); ``cluster``: the
    ``HOST:PORT`` of a Ray cluster whose nodes run them (``--workers``, ``--cluster``).
    ``warm_start``: propose the best configurations of similar earlier runs (the knowledge
    base under the cache directory) and of edgeml's portfolio first (``--no-warm-start``);
    ``proposals``: candidates screened per proposal, the one predicted to use most of the
    budget is proposed (``--proposals``; 1 draws as keras-tuner does). ``promote``: once
    three quarters of the budget trained fresh candidates, continue the best ones with the
    rest (at most two, ``epochs`` more each) while their validation loss still falls
    (``--no-promote`` is ``promote=False``).
    ``verbose``: 0 silent, 1 a progress bar (tqdm, if installed) or lines, 2 more.
    ``on_event(kind, record)`` receives every progress event.
    """
    from ..data import arrays_from
    from ..pipeline import run_search

    arrays = None
    if isinstance(x, (str, Path)) and y is None:  # search("data.csv")
        x, data = None, (x if data is None else data)
    if x is not None:
        if data is not None:
            raise EdgeMLError("both arrays (x) and data= were given",
                              hint="pass the data as arrays or as a file, not both")
        arrays = arrays_from(x, y, x_test=x_test, y_test=y_test, label_column=label)
    elif y is not None or x_test is not None or y_test is not None:
        raise EdgeMLError("labels or a test set were given without x",
                          hint="pass the features as x (or a DataFrame with a label column)")
    cfg = SearchConfig(target=target, data=None if data is None else str(data), label=label,
                       out=None if out is None else str(out), trials=trials, epochs=epochs,
                       seed=seed, strategy=strategy, objective=objective,
                       tolerance=accuracy_tolerance, space=None if space is None else str(space),
                       prune=prune, structured=structured, qat=bool(qat),
                       max_int8_drop=max_int8_drop, features=features, group=group,
                       window=window, hop=hop, rate=rate,
                       test_data=None if test_data is None else str(test_data),
                       models=models, ensemble=bool(ensemble),
                       ensemble_min_gain=ensemble_min_gain, device=device, val_split=val_split,
                       test_split=test_split, refit=bool(refit), workers=workers,
                       cluster=cluster, warm_start=bool(warm_start), proposals=int(proposals),
                       promote=bool(promote),
                       limits=limits(max_ram_kb=max_ram_kb, max_flash_kb=max_flash_kb,
                                     max_latency_ms=max_latency_ms))
    temp = None
    if out is None:
        name = _run_name(cfg)  # an unknown target fails here, before any folder is made
        temp = Path(tempfile.mkdtemp(prefix="edgeml-"))
        cfg = replace(cfg, out=str(default_run_dir(name, root=temp)))
    try:
        with Progress(verbose=verbose, total=trials, forward=on_event) as progress:
            result = run_search(cfg, on_event=progress, force=force, arrays=arrays)
    finally:
        if temp is not None and temp.is_dir() and not any(temp.iterdir()):
            temp.rmdir()  # the run failed before it had anything worth keeping
    return Run(result.run_dir, files=result.files)


def default_out(target: str) -> Path:
    """Where the command line puts a run by default: ``edgeml-runs/<time>-<target>``."""
    return default_run_dir(_run_name(SearchConfig(target=target)))


def _run_name(cfg: SearchConfig) -> str:
    from ..targets import load_target

    if not cfg.target_names:  # the search reports it, with the option to fix
        return "run"
    return "-".join(load_target(n).name for n in cfg.target_names)


def resume(run_dir: str | Path, *, trials: int | None = None, device: str | None = None,
           workers: int | None = None, cluster: str | None = None, verbose: int = 1,
           on_event: Event | None = None) -> Run:
    """Finish an interrupted run, or extend it to ``trials`` (``edgeml search --resume``);
    ``device``, ``workers``, ``cluster`` run the rest elsewhere than the run's own."""
    from ..pipeline import resume_search

    with Progress(verbose=verbose, total=trials, forward=on_event) as progress:
        result = resume_search(run_dir, trials=trials, device=device, on_event=progress,
                               workers=workers, cluster=cluster)
    return Run(result.run_dir, files=result.files)


def load_run(path: str | Path) -> Run:
    """A finished run (its directory) as a :class:`Run`."""
    return Run(path)


def compress(run_dir: str | Path, *, structured: float | None = None, qat: bool = False,
             prune: float | None = None,
             max_int8_drop: float = CompressOptions.max_int8_drop,
             epochs: int = CompressOptions.epochs, data: str | Path | None = None,
             label: str | None = None, verbose: int = 1,
             on_event: Event | None = None) -> Run:
    """Compress the chosen model of a finished run (``edgeml compress``): ``structured``
    removes that fraction of channels, ``prune`` magnitude-prunes to that sparsity,
    ``qat`` tries quantization-aware training. Always starts from the search's model;
    the run changes only if the result passes ``max_int8_drop``."""
    return Run(run_dir).compress(structured=structured, qat=qat, prune=prune,
                                 max_int8_drop=max_int8_drop, epochs=epochs, data=data,
                                 label=label, verbose=verbose, on_event=on_event)


def profile(model: str | Path, *, target: str, kernels: str | None = None,
            max_ram_kb: float | None = None, max_flash_kb: float | None = None,
            max_latency_ms: float | None = None, analytic: bool = False) -> Profile:
    """Per-operator and total costs of a ``.tflite`` on ``target`` (``edgeml profile``):
    flash, RAM (arena measured in TFLite Micro unless ``analytic``), latency, energy,
    and whether it fits the target and the given caps."""
    from ..estimate.breakdown import model_breakdown
    from ..targets import load_target

    caps = limits(max_ram_kb=max_ram_kb, max_flash_kb=max_flash_kb,
                  max_latency_ms=max_latency_ms)
    tgt = load_target(target).with_latency(kernels or "")
    rep = model_breakdown(model, tgt, limits=caps, measure=False if analytic else None)
    return Profile.from_report(model, rep)


def targets() -> Any:
    """The shipped target boards, a pandas DataFrame indexed by name (core, clock, memory,
    the model's flash and arena budgets)."""
    import pandas as pd

    from ..targets import list_targets, load_target

    rows = []
    for n in list_targets():
        t = load_target(n)
        rows.append({"name": t.name, "core": t.core, "mhz": t.clock_hz / 1e6,
                     "flash_kb": t.flash_bytes / 1024, "ram_kb": t.ram_bytes / 1024,
                     "model_flash_kb": t.model_flash_budget / 1024,
                     "arena_kb": t.arena_budget / 1024, "runtime": t.runtime,
                     "description": t.description})
    return pd.DataFrame(rows).set_index("name")
