"""One edgeml run: data -> search -> int8 -> TFLM check -> export.

The CLI calls :func:`run_search`; it is also the library entry point for
scripts and notebooks. Progress is reported through ``on_event`` callbacks;
nothing here prints.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ._io import atomic_write, dump_json
from .data import Dataset, load_dataset
from .errors import EdgeMLError
from .estimate import Limits
from .targets import Target, load_target

__all__ = ["SearchConfig", "RunResult", "run_search", "default_run_dir"]

Event = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class SearchConfig:
    target: str = "esp32"
    data: str | None = None
    label: str = "label"
    out: str | None = None
    trials: int = 10
    epochs: int = 30
    seed: int = 0
    strategy: str = "random"
    limits: Limits = field(default_factory=Limits)
    max_rejects: int | None = None


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    report: dict[str, Any]
    files: dict[str, Path]


def default_run_dir(target: str, root: str | Path = "edgeml-runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{stamp}-{target}"


def _validate(cfg: SearchConfig) -> None:
    if cfg.trials < 1:
        raise EdgeMLError(f"--trials must be at least 1 (got {cfg.trials})", hint="e.g. --trials 10")
    if cfg.epochs < 1:
        raise EdgeMLError(f"--epochs must be at least 1 (got {cfg.epochs})", hint="e.g. --epochs 20")
    lim = cfg.limits
    for flag, value in (("--max-ram-kb", lim.max_arena_bytes), ("--max-flash-kb", lim.max_model_bytes),
                        ("--max-latency-ms", lim.max_latency_ms)):
        if value is not None and not value > 0:
            raise EdgeMLError(f"{flag} must be a positive number (got {value})",
                              hint=f"omit {flag} to use the target's own limit")


def run_search(cfg: SearchConfig, *, on_event: Event | None = None) -> RunResult:
    """Run a full search for ``cfg`` and write the run directory."""
    emit = on_event or (lambda kind, rec: None)
    _validate(cfg)
    t_start = time.perf_counter()
    target = load_target(cfg.target)
    dataset = load_dataset(cfg.data, label_column=cfg.label, seed=cfg.seed)
    emit("data", dataset.summary())
    run_dir = Path(cfg.out) if cfg.out else default_run_dir(target.name)
    if run_dir.exists() and any(run_dir.iterdir()):
        if (run_dir / "report.json").exists() or (run_dir / "search").exists():
            raise EdgeMLError(f"run directory {run_dir} already holds a run",
                              hint="choose another --out or delete it")
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(cfg, target, dataset, run_dir, emit, t_start)
    except BaseException as exc:
        # Leave the search state for inspection, but nothing that looks like a result.
        for name in ("model.tflite", "model_data.cc", "model_data.h", "report.json", "report.md"):
            (run_dir / name).unlink(missing_ok=True)
        atomic_write(run_dir / "FAILED.txt", f"{type(exc).__name__}: {exc}\n")
        if isinstance(exc, EdgeMLError) and not (run_dir / "search").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _run(cfg: SearchConfig, target: Target, dataset: Dataset, run_dir: Path, emit: Event,
         t_start: float) -> RunResult:
    from ._tf import keras as _keras
    from .search import EdgeTuner, build_space, make_oracle, no_feasible_message
    from .search.evaluate import evaluate_int8

    max_rejects = cfg.max_rejects if cfg.max_rejects is not None else max(30, 5 * cfg.trials)
    oracle = make_oracle(cfg.strategy, max_draws=cfg.trials + max_rejects + 1, seed=cfg.seed)
    space = build_space(dataset.kind, dataset.input_shape, dataset.num_classes)
    tuner = EdgeTuner(oracle=oracle, hypermodel=space, dataset=dataset, target=target,
                      limits=cfg.limits, epochs=cfg.epochs, seed=cfg.seed,
                      directory=run_dir, project_name="search", overwrite=True, on_event=emit)
    t0 = time.perf_counter()
    result = tuner.search_feasible(trials=cfg.trials, max_rejects=max_rejects)
    t_search = time.perf_counter() - t0
    if result.best is None:
        raise no_feasible_message(result.trials, target, cfg.limits)

    best = dict(result.best)
    model_bytes = Path(best["tflite"]).read_bytes()
    t1 = time.perf_counter()
    test = evaluate_int8(model_bytes, dataset.x_test, dataset.y_test)
    keras = _keras()
    float_model = keras.models.load_model(best["keras"])
    float_test = float(float_model.evaluate(dataset.x_test, dataset.y_test, verbose=0)[1])
    t_final = time.perf_counter() - t1
    best.update(int8_test_accuracy=test.accuracy, float_test_accuracy=float_test)

    from .export import CModelInfo, render_header, render_markdown, render_source

    info = CModelInfo(model=model_bytes, arena_bytes=int(best["estimate"]["arena_bytes"]),
                      input_scale=float(test.tflm.input["scale"]),
                      input_zero_point=int(test.tflm.input["zero_point"]),
                      output_scale=float(test.tflm.output["scale"]),
                      output_zero_point=int(test.tflm.output["zero_point"]),
                      labels=dataset.labels, raw_input_scale=dataset.scale,
                      raw_input_offset=dataset.offset, input_shape=dataset.input_shape)
    seconds = {k: round(v, 2) for k, v in result.seconds.items()}
    seconds.update(search=round(t_search, 2), final_test_eval=round(t_final, 2),
                   total=round(time.perf_counter() - t_start, 2))
    report = {
        "edgeml_version": _version(),
        "target": target.summary(),
        "limits": {k: v for k, v in cfg.limits.as_dict().items() if v is not None},
        "dataset": dataset.summary(),
        "search": {"strategy": cfg.strategy, "trials": cfg.trials, "epochs": cfg.epochs,
                   "seed": cfg.seed,
                   "trained": sum(1 for r in result.trials if r.get("status") == "trained"),
                   "rejected": sum(1 for r in result.trials if r.get("status") == "infeasible"),
                   "failed": sum(1 for r in result.trials if r.get("status") == "failed")},
        "trials": result.trials,
        "chosen": best,
        "seconds": seconds,
    }
    files = {
        "model.tflite": atomic_write(run_dir / "model.tflite", model_bytes),
        "model_data.h": atomic_write(run_dir / "model_data.h", render_header(info)),
        "model_data.cc": atomic_write(run_dir / "model_data.cc", render_source(info)),
        "report.md": atomic_write(run_dir / "report.md", render_markdown(report)),
    }
    files["report.json"] = dump_json(run_dir / "report.json", report)  # written last
    return RunResult(run_dir=run_dir, report=report, files=files)


def _version() -> str:
    from . import __version__

    return __version__


