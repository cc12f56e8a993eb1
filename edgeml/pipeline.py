"""One edgeml run: data -> search -> int8 -> TFLM check -> export.

The CLI calls :func:`run_search` (and :func:`resume_search` for ``--resume``);
they are also the library entry points for scripts and notebooks. Progress is
reported through ``on_event`` callbacks; nothing here prints.

A run directory holds ``run.json`` (the settings, written first), ``trials/``
(one record per finished trial, written as each finishes) and, once the run
is complete, the artifacts with ``report.json`` written last. A run killed at
any moment resumes from its directory with :func:`resume_search`.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ._io import (
    atomic_write,
    dump_json,
    output_error,
    prepare_output_dir,
    replace_file,
    staged_writes,
)
from .compress.chain import CompressOptions
from .data import Dataset, load_dataset, save_arrays
from .errors import DataError, EdgeMLError, ModelError, RunDirError
from .estimate import Limits, check_limits
from .records import RUN_FILE, RunDir, Trial, TrialStatus, split_options
from .targets import Target, load_target

__all__ = ["SearchConfig", "RunResult", "run_search", "resume_search", "default_run_dir",
           "RUN_FILE", "DATA_FILE", "write_report"]

Event = Callable[[str, Any], None]
#: files of a finished run; report.json is written last and removed first
RESULT_FILES = ("report.json", "model.tflite", "model_data.cc", "model_data.h", "op_resolver.h",
                "edgeml_features.c", "edgeml_features.h", "report.md",
                "pareto.png", "edgeml_predict.h", "edgeml_classical.c", "edgeml_predict.cc")
#: result files of runs written before the feature files were renamed: removed like the others
OLD_RESULT_FILES = ("features.c", "features.h")
#: where a run started from arrays in memory keeps them, so resume and compress need no arrays
DATA_FILE = "data.npz"
#: the families --models takes by default: the network search and every classical family
DEFAULT_MODELS = "nn,tree,forest,gbt,linear,nb"
#: --ensemble-min-gain: see edgeml.classical.ensemble.DEFAULT_MIN_GAIN
DEFAULT_ENSEMBLE_MIN_GAIN = 0.005


@dataclass(frozen=True)
class SearchConfig:
    target: str = "esp32"             # one target, or several separated by commas
    data: str | None = None
    label: str = "label"
    out: str | None = None
    trials: int = 10
    epochs: int = 30
    seed: int = 0
    strategy: str = "random"
    limits: Limits = field(default_factory=Limits)
    max_rejects: int | None = None
    objective: str = "accuracy"
    tolerance: float = 0.02
    space: str | None = None          # a Python file with build(hp); None = built-in space
    prune: float | None = None        # compress the chosen model: unstructured sparsity,
    structured: float | None = None   # fraction of channels removed,
    qat: bool = False                 # quantization-aware training,
    max_int8_drop: float = CompressOptions.max_int8_drop  # allowed float -> int8 loss (points)
    models: str = DEFAULT_MODELS      # "nn" (the network search) and classical families
    ensemble: bool = True             # greedy ensemble selection over all feasible trials
    ensemble_min_gain: float = DEFAULT_ENSEMBLE_MIN_GAIN  # accuracy an ensemble must add
    # the feature stage, for recordings (a folder, a stream CSV) or --features tabular:
    features: str | None = None       # feature kind; None/"auto" = searched with the model
    group: str | None = None          # column whose values a split never divides
    window: int | None = None         # samples per window (streams) / clip (audio)
    hop: int | None = None
    rate: float | None = None         # Hz; None = inferred from a time column / the WAV files
    test_data: str | None = None      # the user's own test set (a file, or held-out recordings)
    val_split: float | None = None    # fraction of --data for validation; None = the default
    test_split: float | None = None   # fraction of --data for test; None = the default
    refit: bool = True                # retrain the chosen network on train + validation
    #: the exact feature spec (FeatureSpec.to_dict()); set by the joint feature search for
    #: each kind's run once its parameters were chosen (edgeml.features.tune)
    feature_spec: dict[str, Any] | None = None
    # where trials train: "auto" (a GPU if TensorFlow sees one), "cpu" or "gpu"; not a
    # setting of the run's results: --resume may change it (each trial records its device)
    device: str = "auto"
    # where trials run (not part of the result: --resume may change them)
    workers: int | None = None        # trial slots at once; None = what the machine can use
    cluster: str | None = None        # a Ray cluster's address (HOST:PORT) to run the slots on
    warm_start: bool = True           # start from the best configurations of similar runs
    proposals: int = 8                # drafts screened per random proposal (1: plain draws)
    promote: bool = True              # continue the best candidates with part of the budget

    @property
    def target_names(self) -> tuple[str, ...]:
        names = tuple(n.strip() for n in str(self.target).split(",") if n.strip())
        return tuple(dict.fromkeys(names))

    @property
    def model_names(self) -> tuple[str, ...]:
        names = tuple(n.strip() for n in str(self.models).split(",") if n.strip())
        return tuple(dict.fromkeys(names))

    @property
    def networks(self) -> bool:
        return "nn" in self.model_names

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(n for n in self.model_names if n != "nn")


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    report: dict[str, Any]
    files: dict[str, Path]


def default_run_dir(target: str, root: str | Path = "edgeml-runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{stamp}-{target}"


def _validate(cfg: SearchConfig) -> None:
    from .search.pareto import OBJECTIVES
    from .search.tuner import STRATEGIES

    if cfg.trials < 1:
        raise EdgeMLError(f"--trials must be at least 1 (got {cfg.trials})", hint="e.g. --trials 10")
    if cfg.epochs < 1:
        raise EdgeMLError(f"--epochs must be at least 1 (got {cfg.epochs})", hint="e.g. --epochs 20")
    if not cfg.target_names:
        raise EdgeMLError(f"--target names no target (got {cfg.target!r})",
                          hint="e.g. --target esp32 or --target esp32,stm32f746")
    if cfg.strategy not in STRATEGIES:
        raise EdgeMLError(f"unknown search strategy {cfg.strategy!r}",
                          hint=f"use --strategy {', '.join(STRATEGIES)}")
    if cfg.objective not in OBJECTIVES:
        raise EdgeMLError(f"unknown objective {cfg.objective!r}",
                          hint=f"use --objective {', '.join(OBJECTIVES)}")
    if not 0 <= cfg.tolerance < 1:
        raise EdgeMLError(f"--accuracy-tolerance must be in [0, 1) (got {cfg.tolerance})",
                          hint="e.g. 0.02 for two points of accuracy")
    check_limits(cfg.limits)
    if cfg.workers is not None and (isinstance(cfg.workers, bool) or int(cfg.workers) < 1):
        raise EdgeMLError(f"--workers must be at least 1 (got {cfg.workers})",
                          hint="e.g. --workers 2, or leave it out to use every core")
    _compress_options(cfg, {}).validate()
    from .classical import MODEL_CHOICES

    unknown = [n for n in cfg.model_names if n not in MODEL_CHOICES]
    if unknown or not cfg.model_names:
        what = f"unknown model family {unknown[0]!r}" if unknown else "--models names no family"
        raise EdgeMLError(what, hint=f"use --models with some of {','.join(MODEL_CHOICES)}")
    if int(cfg.proposals) < 1:
        raise EdgeMLError(f"--proposals must be at least 1 (got {cfg.proposals})",
                          hint="1 draws candidates as keras-tuner does; e.g. --proposals 8")
    if not 0 <= cfg.ensemble_min_gain < 1:
        raise EdgeMLError(f"--ensemble-min-gain must be in [0, 1) (got {cfg.ensemble_min_gain})",
                          hint="e.g. 0.005 for half a point of accuracy")
    from .search.device import check_device

    check_device(cfg.device)
    _validate_splits(cfg)


def _validate_splits(cfg: SearchConfig) -> None:
    """--val-split / --test-split in (0, 1), together below 1; --test-split not with
    --test-data; the test file there."""
    from .data.dataset import DEFAULT_TEST_FRACTION, DEFAULT_VAL_FRACTION

    for opt, f, eg in (("--val-split", cfg.val_split, DEFAULT_VAL_FRACTION),
                       ("--test-split", cfg.test_split, DEFAULT_TEST_FRACTION)):
        if f is not None and (isinstance(f, bool) or not isinstance(f, (int, float))
                              or not 0 < f < 1):
            raise EdgeMLError(f"{opt} must be a fraction between 0 and 1, exclusive (got {f!r})",
                              hint=f"e.g. {opt} {eg:g}")
    if cfg.val_split is not None or cfg.test_split is not None:
        val = DEFAULT_VAL_FRACTION if cfg.val_split is None else cfg.val_split
        test = 0.0 if cfg.test_data else (DEFAULT_TEST_FRACTION if cfg.test_split is None
                                          else cfg.test_split)
        if val + test >= 1:
            raise EdgeMLError(f"--val-split {val:g} and --test-split {test:g} leave nothing to "
                              "train on", hint="make them add up to less than 1, e.g. "
                                               "--val-split 0.15 --test-split 0.2")
    if cfg.test_data and cfg.test_split is not None:
        raise EdgeMLError("--test-split cuts a test split from --data, which --test-data "
                          "replaces", hint="drop --test-split (or --test-data)")
    if cfg.test_data and not Path(cfg.test_data).exists():
        raise DataError(f"--test-data {cfg.test_data!r} does not exist",
                        hint="pass the test set: a .npz (arrays x, y) or a .csv with the "
                             "columns of --data (or held-out recordings)")


def load_keras(path: str | Path, space: Any = None) -> Any:
    """Load a trial's ``model.keras``, with the custom classes of the run's space file."""
    from ._tf import keras as _keras
    from .search.spaces import describe_error

    custom = dict(getattr(space, "custom_objects", None) or {})
    try:
        return _keras().models.load_model(str(path), custom_objects=custom or None)
    except Exception as exc:
        raise ModelError(f"cannot load the trained model {path} ({describe_error(exc)})",
                         hint="define custom layers in the --space file, or register them with "
                              "keras.saving.register_keras_serializable") from exc


def _load_space(cfg: SearchConfig, dataset: Dataset) -> Any:
    from .search.spaces import build_space, load_space_file
    from .tflite.tflm import SOFTMAX_INT8_MAX_CLASSES

    if cfg.networks and not cfg.space and dataset.num_classes > SOFTMAX_INT8_MAX_CLASSES:
        raise DataError(f"{dataset.name} has {dataset.num_classes} classes; the models end in "
                        f"an int8 SOFTMAX, which TFLite Micro aborts on (crashing the firmware) "
                        f"when more than {SOFTMAX_INT8_MAX_CLASSES} classes score alike",
                        hint=f"use at most {SOFTMAX_INT8_MAX_CLASSES} classes (merge or drop "
                             "some), or a --space whose model ends without SOFTMAX")
    if cfg.space:
        return load_space_file(cfg.space, input_shape=dataset.input_shape,
                               num_classes=dataset.num_classes)
    return build_space(dataset.kind, dataset.input_shape, dataset.num_classes)


def _config_dict(cfg: SearchConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["limits"] = cfg.limits.as_dict()
    return d


AUTO = "auto"


def _feature_search(cfg: SearchConfig, emit: Event, *, resume: bool) -> RunResult:
    """Search the feature spec jointly with the model: one search per candidate spec
    (``run_dir/features/<kind>``, the trial budget split evenly; each candidate's feature
    stage counts against the same target budget, so infeasible pairs never train), then the
    (spec, model) pair the objective prefers, with the feature stage's cost added to the
    model's (flash, RAM, latency, energy), on validation accuracy. Resumable: finished
    candidates are kept, interrupted ones resumed."""
    from .data.sources import load_recordings
    from .errors import BudgetError
    from .features import candidate_specs
    from .features.cost import cost_on
    from .search.pareto import choose

    t_start = time.perf_counter()
    run_dir = Path(cfg.out) if cfg.out else default_run_dir(
        "-".join(cfg.target_names))
    if not resume and run_dir.exists() and any(run_dir.iterdir()):
        raise EdgeMLError(f"run directory {run_dir} already holds a run",
                          hint=f"resume it with --resume {run_dir}, or choose another --out")
    recs = load_recordings(cfg.data, label_column=cfg.label, group_column=cfg.group,
                           rate=cfg.rate)
    specs = candidate_specs(recs, window=cfg.window, hop=cfg.hop)
    per = max(1, cfg.trials // len(specs))
    cfg = replace(cfg, features=AUTO, out=str(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / RUN_FILE).exists():
        dump_json(run_dir / RUN_FILE, {
            "edgeml_version": _version(),
            "created": datetime.now().isoformat(timespec="seconds"),
            "config": _config_dict(cfg), "feature_candidates": [s.kind for s in specs]})
    (run_dir / "report.json").unlink(missing_ok=True)
    targets = [load_target(n) for n in cfg.target_names]
    target = targets[0]
    tuning = _tune_specs(run_dir, recs, specs, targets, cfg, emit)
    rows: list[dict[str, Any]] = []
    results: dict[str, RunResult] = {}
    for spec in specs:
        sub = run_dir / "features" / spec.kind
        spec, variants = tuning.get(spec.kind, (spec, []))
        emit("feature_candidate", {"kind": spec.kind, "describe": spec.describe(),
                                   "trials": per, "run_dir": str(sub)})
        try:
            if (sub / RUN_FILE).exists():
                res = resume_search(sub, trials=per, device=cfg.device, on_event=emit,
                                    workers=cfg.workers, cluster=cfg.cluster)
            else:
                # candidates are compared as searched; only the chosen one is retrained
                res = run_search(replace(cfg, features=spec.kind, feature_spec=spec.to_dict(),
                                         out=str(sub), trials=per, refit=False,
                                         rate=spec.rate if recs.kind == "audio" else cfg.rate),
                                 on_event=emit)
        except BudgetError as exc:
            rows.append({"kind": spec.kind, "describe": spec.describe(), "status": "infeasible",
                         "reason": exc.message, "variants": variants})
            continue
        results[spec.kind] = res
        best = res.report["chosen"]
        fc = cost_on(_res_spec(res), target)
        costs = dict(best.get("costs") or {})
        total = {"latency_ms": float(costs.get("latency_ms", 0.0)) + fc.latency_ms,
                 "arena_bytes": float(costs.get("arena_bytes", 0.0)) + fc.ram_bytes,
                 "model_bytes": float(costs.get("model_bytes", 0.0)) + fc.flash_bytes,
                 "energy_uj": float(costs.get("energy_uj", 0.0))
                 + fc.latency_ms * float(target.active_power_mw)}
        rows.append({"kind": spec.kind, "describe": res.report["features"]["describe"],
                     "status": "trained", "feasible": True, "trial_id": spec.kind,
                     "int8_val_accuracy": float(best["int8_val_accuracy"]),
                     "int8_test_accuracy": float(best["int8_test_accuracy"]),
                     "costs": total, "feature_cost": fc.to_dict(), "variants": variants})
    picked = choose([Trial(trial_id=r["kind"], status=TrialStatus.TRAINED, feasible=True,
                           int8_val_accuracy=r["int8_val_accuracy"], costs=r["costs"])
                     for r in rows if r["status"] == "trained"], cfg.objective, cfg.tolerance)
    chosen = None if picked is None else next(r for r in rows if r["kind"] == picked.trial_id)
    if chosen is None:
        raise BudgetError("no feature spec and model fit the target",
                          hint="; ".join(f"{r['kind']}: {r.get('reason', '')}" for r in rows)
                          or "relax the limits")
    res = results[chosen["kind"]]
    if cfg.refit:
        res = _refit_candidate(res, per, emit)
    files: dict[str, Path] = {}
    for name in RESULT_FILES:
        if name not in ("report.json", "report.md") and name in res.files:
            files[name] = atomic_write(run_dir / name, res.files[name].read_bytes())
    report = dict(res.report)
    for r in rows:
        r["chosen"] = r["kind"] == chosen["kind"]
        r.pop("trial_id", None)
        r.pop("feasible", None)
    report["feature_search"] = {"candidates": rows, "chosen": chosen["kind"],
                                "trials_per_candidate": per, "objective": cfg.objective,
                                "seconds": round(time.perf_counter() - t_start, 2)}
    report["chosen"] = dict(report["chosen"], run_dir=str(res.run_dir))
    files["report.md"] = atomic_write(run_dir / "report.md", _markdown(report))
    files["report.json"] = dump_json(run_dir / "report.json", report)
    emit("feature_choice", report["feature_search"])
    return RunResult(run_dir=run_dir, report=report, files=files)


def _tune_specs(run_dir: Path, recs: Any, specs: Any, targets: list[Target],
                cfg: SearchConfig, emit: Event) -> dict[str, tuple[Any, list[dict[str, Any]]]]:
    """Each feature kind's parameters (window and hop, audio frame and mel bands), chosen
    by a fast proxy (:mod:`edgeml.features.tune`); kept in ``features/tuning.json`` so a
    resumed run trains on the same specs."""
    import json

    from .data.sources import load_recordings
    from .features import FeatureSpec, candidate_specs
    from .features.tune import LOW_AUDIO_RATE_HZ, best_variant, spec_variants, tune_spec

    path = run_dir / "features" / "tuning.json"
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
            return {k: (FeatureSpec.from_dict(v["spec"]), list(v["variants"]))
                    for k, v in stored.items()}
        except (ValueError, KeyError, TypeError, EdgeMLError) as exc:
            raise RunDirError(f"{path} is unreadable ({exc})",
                              hint="the run directory is damaged; start a new run") from exc
    out: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
    given = {"window_given": cfg.window is not None, "hop_given": cfg.hop is not None}
    pools = [(recs, specs)]
    if recs.kind == "audio" and cfg.rate is None and recs.rate > LOW_AUDIO_RATE_HZ:
        low = load_recordings(cfg.data, label_column=cfg.label, group_column=cfg.group,
                              rate=LOW_AUDIO_RATE_HZ)
        pools.append((low, candidate_specs(low, window=cfg.window, hop=cfg.hop)))
    for i, base in enumerate(specs):
        if len(pools) == 1 and len(spec_variants(recs, base, **given)) < 2:
            continue
        scored = []
        for pool_recs, pool_specs in pools:
            scored += tune_spec(pool_recs, pool_specs[i], targets, cfg.limits, seed=cfg.seed,
                                val_fraction=cfg.val_split or 0.15,
                                test_fraction=0.0 if cfg.test_data else (cfg.test_split or 0.2),
                                **given)[1]
        best = best_variant(scored)
        spec = base if best is None else best.spec
        variants = [dict(v.to_dict(), chosen=v.spec == spec) for v in scored]
        emit("feature_tuning", {"kind": base.kind, "chosen": spec.describe(),
                                "variants": variants})
        out[base.kind] = (spec, variants)
    dump_json(path, {k: {"spec": s.to_dict(), "variants": v} for k, (s, v) in out.items()})
    return out
def _refit_candidate(res: RunResult, trials: int, emit: Event) -> RunResult:
    """The chosen feature candidate's run, finished again with the final retrain (its trials
    are replayed, not trained again); a run that has it already is returned as it is."""
    chosen = res.report["chosen"]
    if chosen.get("family") or (chosen.get("refit") or {}).get("enabled"):
        return res
    run = RunDir.open(res.run_dir)
    meta = run.meta()
    meta["config"]["refit"] = True
    run.report_json.unlink(missing_ok=True)  # first: the run no longer looks complete
    dump_json(run.run_json, meta)
    return resume_search(res.run_dir, trials=trials, on_event=emit)


def _res_spec(res: RunResult) -> Any:
    from .features import FittedFeatures

    return FittedFeatures.from_dict(res.report["features"]["fitted"]).spec


def _load_data(cfg: SearchConfig, *, seed: int | None = None,
               arrays: Mapping[str, Any] | None = None) -> tuple[Dataset, Any]:
    """The dataset (split as ``cfg`` says, with ``cfg.test_data`` as its test split when
    given), through the feature stage when the data are recordings: then also the
    FeatureSet (fitted features, split, fixes); otherwise ``None``. ``arrays``: the data in
    memory instead of ``cfg.data``."""
    from .data.sources import is_recordings_source

    seed = cfg.seed if seed is None else seed
    if arrays is None and (cfg.features or is_recordings_source(cfg.data, group_column=cfg.group,
                                                                rate=cfg.rate)):
        from .features import load_feature_set

        if cfg.data is None:
            raise EdgeMLError("--features needs --data (a folder of recordings or a CSV)",
                              hint="pass --data")
        from .features import FeatureSpec

        fs = load_feature_set(cfg.data, label_column=cfg.label, group_column=cfg.group,
                              kind=cfg.features, window=cfg.window, hop=cfg.hop, rate=cfg.rate,
                              test_data=cfg.test_data, seed=seed, val_fraction=cfg.val_split,
                              test_fraction=cfg.test_split,
                              spec=FeatureSpec.from_dict(cfg.feature_spec)
                              if cfg.feature_spec else None)
        return fs.dataset, fs
    return load_dataset(cfg.data if arrays is None else arrays, label_column=cfg.label,
                        seed=seed, val_fraction=cfg.val_split, test_fraction=cfg.test_split,
                        test_data=cfg.test_data), None


def _charge_features(cfg: SearchConfig, targets: list[Target], fs: Any
                     ) -> tuple[SearchConfig, list[Target], dict[str, Any] | None]:
    """Count the feature stage against every target (flash and RAM as firmware) and the
    latency limit; the report's ``features`` section."""
    if fs is None:
        return cfg, targets, None
    from .errors import BudgetError
    from .features.cost import charge, cost_on

    costs = {t.name: cost_on(fs.fitted.spec, t) for t in targets}
    limits = cfg.limits
    if limits.max_latency_ms is not None:
        worst = max(c.latency_ms for c in costs.values())
        left = limits.max_latency_ms - worst
        if left <= 0:
            raise BudgetError(f"the feature stage alone takes {worst:.2f} ms, over the latency "
                              f"limit of {limits.max_latency_ms:g} ms",
                              hint="raise the latency limit or use a smaller window",
                              limit="max_latency_ms")
        cfg = replace(cfg, limits=replace(limits, max_latency_ms=left))
    for t in targets:
        c = costs[t.name]
        if c.flash_bytes >= t.model_flash_budget or c.ram_bytes >= t.arena_budget:
            raise BudgetError(f"the feature stage ({c.flash_bytes} B flash, {c.ram_bytes} B RAM) "
                              f"leaves no room for a model on {t.name}",
                              hint="use a smaller window or fewer bands")
    section = {**fs.report(), "fitted": fs.fitted.to_dict(),
               "cost": {n: c.to_dict() for n, c in costs.items()},
               "latency_limit_for_model_ms": cfg.limits.max_latency_ms}
    return cfg, [charge(t, costs[t.name]) for t in targets], section


def _joint(cfg: SearchConfig) -> bool:
    """Whether the feature spec is searched with the model (recordings, no kind given)."""
    from .data.sources import is_recordings_source

    return cfg.features in (None, AUTO) and \
        is_recordings_source(cfg.data, group_column=cfg.group, rate=cfg.rate)


def run_search(cfg: SearchConfig, *, on_event: Event | None = None,
               force: bool = False, arrays: Mapping[str, Any] | None = None) -> RunResult:
    """Run a full search for ``cfg`` and write the run directory (``force``: overwrite
    files there, e.g. a ``model_data.h``, that a run did not write).

    ``arrays`` (``{"x": ..., "y": ...}``, optionally ``x_test``/``y_test``; see
    :func:`edgeml.data.arrays_from`) is the data in memory instead of ``cfg.data``;
    the run saves it as ``DATA_FILE`` and records that file as its data.
    """
    from .search.tuner import promotion_plan

    emit = on_event or (lambda kind, rec: None)
    _validate(cfg)
    _plan(cfg)  # --device gpu without a GPU fails here, before any run directory exists
    if arrays is not None and cfg.data is not None:
        raise EdgeMLError(f"both arrays and a data file ({cfg.data!r}) were given",
                          hint="pass the data one way")
    if arrays is None and _joint(cfg):
        return _feature_search(cfg, emit, resume=False)
    t_start = time.perf_counter()
    targets = [load_target(n) for n in cfg.target_names]
    dataset, fs = _load_data(cfg, arrays=arrays)
    emit("data", dataset.summary())
    search_cfg, targets, features = _charge_features(cfg, targets, fs)
    if features:
        emit("features", features)
    space = _load_space(cfg, dataset)
    run_dir = Path(cfg.out) if cfg.out else default_run_dir("-".join(t.name for t in targets))
    if run_dir.is_dir() and any((run_dir / n).exists()
                                for n in (RUN_FILE, "report.json", "trials", "search")):
        raise EdgeMLError(f"run directory {run_dir} already holds a run",
                          hint=f"resume it with --resume {run_dir}, or choose another --out")
    created = not run_dir.exists()
    prepare_output_dir(run_dir, label="--out", replaces=(*RESULT_FILES, "FAILED.txt"),
                       force=force, hint="choose another --out")
    if arrays is not None:
        cfg = replace(cfg, data=str(save_arrays(run_dir / DATA_FILE, arrays)))
    warm = _warm_candidates(cfg, dataset, targets, space, emit)
    promotion = (promotion_plan(cfg.trials, cfg.epochs, cfg.strategy)
                 if cfg.promote and cfg.networks else None)
    dump_json(run_dir / RUN_FILE, {
        "edgeml_version": _version(), "created": datetime.now().isoformat(timespec="seconds"),
        "config": _config_dict(cfg), "dataset_fingerprint": dataset.fingerprint,
        **_test_record(dataset),
        "space": {"name": space.name, "source": space.source, "digest": space.digest},
        "warm_start": warm, "promotion": promotion})
    return _guarded(search_cfg, targets, dataset, space, run_dir, emit, t_start, created=created,
                    features=features, warm=warm, promotion=promotion)


def _warm_candidates(cfg: SearchConfig, dataset: Dataset, targets: list[Target], space: Any,
                     emit: Event) -> list[dict[str, Any]]:
    """The warm-start configurations of a new run, best first (recorded in run.json, so a
    resumed run proposes the same ones whatever the knowledge base holds by then)."""
    if not (cfg.warm_start and cfg.networks and warm_count(cfg.trials) > 0):
        return []
    from .search.knowledge import warm_start_configs

    return warm_start_configs(dataset.summary(), targets, cfg.limits, space_name=space.name,
                              on_warning=lambda text: emit("warning", {"message": text}))


def warm_count(trials: int) -> int:
    """Warm-start configurations a search of ``trials`` trainings proposes first."""
    return min(3, int(trials) // 3)


def resume_search(run_dir: str | Path, *, trials: int | None = None,
                  device: str | None = None, on_event: Event | None = None,
                  workers: int | None = None, cluster: str | None = None) -> RunResult:
    """Finish (or extend to ``trials``) the run in ``run_dir``; finished trials are not rerun.
    ``device``, ``workers``, ``cluster`` (None: the run's own) say where its trials run now,
    which may differ from where the run started."""
    emit = on_event or (lambda kind, rec: None)
    t_start = time.perf_counter()
    run = RunDir.open(run_dir)
    run_dir = run.path
    meta_path = run.run_json
    meta = run.meta()
    try:
        conf = dict(meta["config"])
        conf["limits"] = Limits(**conf.get("limits", {}))
        # a run started before the classical stage searched networks only: it stays so
        conf.setdefault("models", "nn")
        conf.setdefault("ensemble", False)
        # a run started before budget-aware proposals and warm starts draws as it did
        conf.setdefault("proposals", 1)
        conf.setdefault("warm_start", False)
        conf.setdefault("promote", False)  # and before promotions: none
        # a run started before the split options: the fixed fractions it was split with
        # (no small-data rule), and no final retrain (it keeps the settings it started with)
        if "val_split" not in conf:
            conf.update(val_split=0.15, test_split=None if conf.get("test_data") else 0.2)
        conf.setdefault("refit", False)
        known = set(SearchConfig.__dataclass_fields__)
        cfg = SearchConfig(**{k: v for k, v in conf.items() if k in known})
    except (ValueError, TypeError) as exc:
        raise RunDirError(f"{meta_path} is unreadable ({exc})",
                          hint="the run directory is damaged; start a new run") from exc
    if trials is not None:
        cfg = replace(cfg, trials=int(trials))
    if device is not None:
        cfg = replace(cfg, device=device)
    if workers is not None:
        cfg = replace(cfg, workers=int(workers))
    if cluster is not None:
        cfg = replace(cfg, cluster=str(cluster))
    cfg = replace(cfg, out=str(run_dir))
    _validate(cfg)
    _plan(cfg)
    if _joint(cfg):
        return _feature_search(cfg, emit, resume=True)
    prepare_output_dir(run_dir, label="--resume", hint="make the run directory writable")
    targets = [load_target(n) for n in cfg.target_names]
    cfg = replace(cfg, data=_recorded_data(run, cfg.data))
    dataset, fs = _load_data(cfg)
    recorded = (meta.get("test_data") or {}).get("fingerprint")
    if recorded and (dataset.extra.get("test_data") or {}).get("fingerprint") != recorded:
        raise EdgeMLError(f"--resume {run_dir}: the test data {cfg.test_data!r} changed since "
                          "the run started", hint="restore the test file or start a new run")
    if meta.get("dataset_fingerprint") and dataset.fingerprint != meta["dataset_fingerprint"]:
        raise EdgeMLError(f"--resume {run_dir}: the data {cfg.data or 'digits'!r} changed since "
                          "the run started", hint="restore the data file or start a new run")
    emit("data", dataset.summary())
    cfg, targets, features = _charge_features(cfg, targets, fs)
    if features:
        emit("features", features)
    space = _load_space(cfg, dataset)
    digest = meta.get("space", {}).get("digest", "")
    if digest and space.digest != digest:
        raise EdgeMLError(f"--resume {run_dir}: the space file {cfg.space} changed since the run "
                          "started", hint="restore it or start a new run")
    if run.finished:
        report = run.report()
        if _complete(report["search"], cfg.trials):
            emit("complete", {"run_dir": str(run_dir)})
            files = {n: run_dir / n for n in RESULT_FILES if (run_dir / n).exists()}
            return RunResult(run_dir=run_dir, report=report, files=files)
    for name in (*RESULT_FILES, *OLD_RESULT_FILES):  # report.json first: no longer complete
        (run_dir / name).unlink(missing_ok=True)
    (run_dir / "FAILED.txt").unlink(missing_ok=True)
    if cfg.trials != meta["config"].get("trials") or \
            cfg.device != meta["config"].get("device", cfg.device):
        meta["config"].update(trials=cfg.trials, device=cfg.device)
        dump_json(meta_path, meta)
    # the promotion recorded when the run started (after N fresh candidates), so that a
    # run extended with --trials replays the candidates it drew
    return _guarded(cfg, targets, dataset, space, run_dir, emit, t_start, created=False,
                    features=features, warm=list(meta.get("warm_start") or []),
                    promotion=meta.get("promotion"))


def _test_record(dataset: Dataset) -> dict[str, Any]:
    """What run.json keeps about a separate test set (file and fingerprint), if any."""
    info = dataset.extra.get("test_data")
    return {"test_data": dict(info)} if info else {}


def _recorded_data(run: RunDir, data: str | None) -> str | None:
    """The run's data as recorded; arrays saved in the run (``DATA_FILE``) are read from
    the run itself, wherever it was moved or the command runs from."""
    if data and Path(data).name == DATA_FILE and (run.path / DATA_FILE).is_file():
        return str(run.path / DATA_FILE)
    return data


def _complete(search: dict[str, Any], trials: int) -> bool:
    """Whether a finished run's search already did what ``trials`` asks: that many trained
    models, or the budget spent without a failed trial (the oracle ran out of candidates).
    A run that lost trials to failures is not complete: resuming makes them up."""
    trained = int(search.get("trained", 0))
    if trained >= trials:  # a continued trial is one trained record of one training
        return True
    return int(search.get("failed", 0)) == 0 and int(search.get("trials", 0)) >= trials


def _guarded(cfg: SearchConfig, targets: list[Target], dataset: Dataset, space: Any,
             run_dir: Path, emit: Event, t_start: float, *, created: bool,
             features: dict[str, Any] | None = None,
             warm: list[dict[str, Any]] | None = None,
             promotion: dict[str, int] | None = None) -> RunResult:
    before = {n: _identity(run_dir / n) for n in RESULT_FILES}
    try:
        return _run(cfg, targets, dataset, space, run_dir, emit, t_start, features=features,
                    warm=warm or [], promotion=promotion)
    except BaseException as exc:
        # Keep the trial records for --resume, but nothing that looks like a result; files
        # that were there before (a user's own, kept until a run succeeds with --force)
        # stay.
        for name in RESULT_FILES:
            if _identity(run_dir / name) not in (None, before[name]):
                with contextlib.suppress(OSError):
                    (run_dir / name).unlink()
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        trained = any(run_dir.glob("trials/trial_*/model.tflite"))
        if isinstance(exc, EdgeMLError) and created and not trained:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing worth keeping or resuming
        elif run_dir.exists():
            with contextlib.suppress(OSError):  # a full disk must not hide the first error
                atomic_write(run_dir / "FAILED.txt", f"{type(exc).__name__}: {exc}\n")
        raise


def _identity(path: Path) -> tuple[int, int] | None:
    """(inode, mtime) of a file, None if absent: a file this run wrote has a new one."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _run(cfg: SearchConfig, targets: list[Target], dataset: Dataset, space: Any, run_dir: Path,
         emit: Event, t_start: float, *, features: dict[str, Any] | None = None,
         warm: list[dict[str, Any]] | None = None,
         promotion: dict[str, int] | None = None) -> RunResult:
    t0 = time.perf_counter()
    plan = _plan(cfg)
    emit = _serialized(emit)  # slot threads and the classical stage's thread emit
    ahead = _ClassicalAhead(cfg, dataset, targets, run_dir, emit)
    try:
        return _search_and_finish(cfg, targets, dataset, space, run_dir, emit, t_start, t0,
                                  plan, ahead, features=features, warm=warm,
                                  promotion=promotion)
    finally:
        ahead.join()


def _search_and_finish(cfg: SearchConfig, targets: list[Target], dataset: Dataset, space: Any,
                       run_dir: Path, emit: Event, t_start: float, t0: float, plan: Any,
                       ahead: _ClassicalAhead, *, features: dict[str, Any] | None,
                       warm: list[dict[str, Any]] | None,
                       promotion: dict[str, int] | None) -> RunResult:
    from .search import EdgeTuner, make_oracle

    result = None
    records: list[Trial] = []
    if cfg.networks:
        max_rejects = cfg.max_rejects if cfg.max_rejects is not None else max(30, 5 * cfg.trials)

        def oracle() -> Any:  # made once the trial workers started (see EdgeTuner)
            return make_oracle(cfg.strategy, max_draws=(cfg.trials + 1) * (max_rejects + 1),
                               seed=cfg.seed, epochs=cfg.epochs, proposals=cfg.proposals)

        tuner = EdgeTuner(oracle=oracle, hypermodel=space, dataset=dataset, targets=targets,
                          limits=cfg.limits, epochs=cfg.epochs, seed=cfg.seed, directory=run_dir,
                          objective=cfg.objective, tolerance=cfg.tolerance, on_event=emit,
                          device=plan.device, mixed_precision=plan.mixed_precision,
                          workers=cfg.workers, cluster=cfg.cluster,
                          warm_start=warm or [], warm_count=warm_count(cfg.trials),
                          promotion=promotion, keep_runner=cfg.refit,
                          on_winding_down=ahead.start)
        result = tuner.search_feasible(trials=cfg.trials, max_rejects=max_rejects)
        records = sorted(result.trials, key=lambda r: r.number)
    # the worker the search handed over for the final retrain (closed below, however the
    # run ends)
    runner = result.runner if result is not None else None
    try:
        return _choose_and_finish(cfg, targets, dataset, space, run_dir, emit, t_start, t0,
                                  result, records, features=features, runner=runner,
                                  ahead=ahead)
    finally:
        if runner is not None:
            runner.close()


def _serialized(emit: Event) -> Event:
    """``emit`` called by one thread at a time."""
    import threading

    lock = threading.Lock()

    def locked(kind: str, rec: Any) -> None:
        with lock:
            emit(kind, rec)

    return locked


class _ClassicalAhead:
    """The run's classical search (:func:`~edgeml.classical.search.search_classical`). It
    starts in a thread while the network search winds down: once its last trainings hold
    the whole budget, the slots that have nothing left to train leave their cores to it
    (:class:`~edgeml.search.tuner.EdgeTuner`'s ``on_winding_down``). Not started then,
    it runs after the search (:meth:`result`)."""

    def __init__(self, cfg: SearchConfig, dataset: Dataset, targets: list[Target],
                 run_dir: Path, emit: Event) -> None:
        self.cfg, self.dataset, self.targets, self.run_dir = cfg, dataset, targets, run_dir
        self.emit = emit
        self._pool: Any = None
        self._future: Any = None

    def _search(self, records: list[Trial]) -> Any:
        from .classical.search import search_classical

        cfg = self.cfg
        # one classical candidate may take as long as one network trial's training did
        times = [float(t.train_seconds) for t in records if t.trained and t.train_seconds]
        return search_classical(self.dataset, self.targets, limits=cfg.limits,
                                families=cfg.families, trials=cfg.trials, seed=cfg.seed,
                                strategy=cfg.strategy, directory=self.run_dir,
                                max_train_seconds=sum(times) / len(times) if times else None,
                                on_event=self.emit)

    def start(self, records: list[Trial]) -> None:
        """Start the search in a thread (once; with no classical family, never)."""
        from concurrent.futures import ThreadPoolExecutor

        if self._future is not None or not self.cfg.families:
            return
        self.emit("classical_start", {"families": list(self.cfg.families),
                                      "trials": self.cfg.trials, "during_search": True})
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgeml-classical")
        self._future = self._pool.submit(self._search, records)

    def result(self, records: list[Trial]) -> Any:
        """The search's result: the thread's (its error raised here), or run now."""
        if self._future is None:
            return self._search(records)
        try:
            return self._future.result()
        finally:
            self.join()

    def join(self) -> None:
        """Wait for the thread (a run that ends in an error leaves nothing running)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _choose_and_finish(cfg: SearchConfig, targets: list[Target], dataset: Dataset, space: Any,
                       run_dir: Path, emit: Event, t_start: float, t0: float, result: Any,
                       records: list[Trial], *, features: dict[str, Any] | None,
                       runner: Any, ahead: _ClassicalAhead) -> RunResult:
    """After the network search: the classical stage and ensemble, the choice, the
    chosen model's retrain and test, the report and the artifacts."""
    plan = _plan(cfg)
    t_search = time.perf_counter() - t0
    run = RunDir(run_dir)  # paths in the records are found again if the run was moved
    nets = _network_members(cfg, records, dataset, run)
    # the best network's retrain starts now, in the worker the search handed over, and
    # trains while this process runs the classical stage and the ensemble
    early = _early_refit(cfg, records, dataset, space, targets, run, runner, nets)
    try:
        return _choose(cfg, targets, dataset, space, run_dir, emit, t_start, t_search, result,
                       records, features=features, runner=runner, early=early, run=run,
                       plan=plan, nets=nets, ahead=ahead)
    finally:
        if early is not None:  # not used: a classical model or an ensemble won
            early.discard(stop=True)


def _network_members(cfg: SearchConfig, records: list[Trial], dataset: Dataset,
                     run: RunDir) -> list[Any]:
    """The networks that fit as ensemble members (their validation outputs, kept by the
    search), when ensembles are on."""
    from .classical.stage import members_of

    if not cfg.ensemble:
        return []
    return members_of([t for t in records if t.deployable], dataset.x_val, resolve=run.resolve)


def _early_refit(cfg: SearchConfig, records: list[Trial], dataset: Dataset, space: Any,
                 targets: list[Target], run: RunDir, runner: Any, nets: list[Any]) -> Any:
    """The retrain of the best network, started in the background (None: no retrain, no
    runner handed over, no network that fits, or an ensemble of the networks wins
    already: a single network is then unlikely to ship, and the retrain, if it does,
    runs once it is chosen)."""
    from .classical.stage import winning_ensemble
    from .search.pareto import choose
    from .search.refit import REFIT_DIR, BackgroundRefit

    if not (cfg.refit and runner is not None and records):
        return None
    best = choose(records, cfg.objective, cfg.tolerance)
    if best is None:
        return None
    if nets and winning_ensemble(nets, dataset.y_val, targets, limits=cfg.limits,
                                 min_gain=cfg.ensemble_min_gain) is not None:
        return None
    return BackgroundRefit(best, runner=runner, folder=run.path / REFIT_DIR, dataset=dataset,
                           space=space, targets=targets, limits=cfg.limits, seed=cfg.seed,
                           epochs=cfg.epochs)


def _choose(cfg: SearchConfig, targets: list[Target], dataset: Dataset, space: Any,
            run_dir: Path, emit: Event, t_start: float, t_search: float, result: Any,
            records: list[Trial], *, features: dict[str, Any] | None, runner: Any,
            early: Any, run: RunDir, plan: Any, nets: list[Any],
            ahead: _ClassicalAhead) -> RunResult:
    """:func:`_choose_and_finish` once the background retrain (``early``) started."""
    from .classical.stage import run_stage
    from .search import no_feasible_message
    from .search.pareto import choose, pareto_front

    target = targets[0]
    t_wait = time.perf_counter()
    classical = ahead.result(records)
    waited = time.perf_counter() - t_wait  # all of it, unless it ran during the search
    stage = run_stage(dataset, targets, network_trials=records, classical=classical,
                      limits=cfg.limits, ensemble=cfg.ensemble, min_gain=cfg.ensemble_min_gain,
                      resolve=run.resolve, members=nets, on_event=emit)
    singles = records + stage.classical.trials
    best_single = choose(singles, cfg.objective, cfg.tolerance)
    if best_single is None:
        raise no_feasible_message(singles + (result.smallest if result else []), targets,
                                  cfg.limits)
    ens_trial = stage.ensemble_trial
    # the ensemble is a candidate like any other once it beats the best single model by
    # more than --ensemble-min-gain (stage.reason says why not, otherwise)
    eligible = ens_trial is not None and stage.ensemble is not None and not stage.reason
    all_records = singles + ([ens_trial] if ens_trial is not None else [])
    front = [r.trial_id for r in pareto_front(all_records)]
    chosen_trial = (choose(singles + [ens_trial], cfg.objective, cfg.tolerance)
                    if eligible and ens_trial is not None else None) or best_single
    use_ensemble = chosen_trial is ens_trial
    if eligible and not use_ensemble:
        stage.reason = (f"it gains {stage.ensemble.gain * 100:.2f} points but --objective "
                        f"{cfg.objective} prefers trial {best_single.trial_id}")
    chosen_id = chosen_trial.trial_id
    emit("final", {"trial_id": chosen_id})

    t1 = time.perf_counter()
    art, model_bytes, texts = None, b"", {}
    if chosen_trial.family is None:  # a network: the int8 model in TFLM
        best, model_bytes, art = _finish_network(cfg, chosen_trial, dataset, targets, run,
                                                 emit, space, features=features,
                                                 runner=runner, early=early)
    else:
        best, texts = _finish_predict(chosen_trial, stage, dataset, target, run, singles,
                                      features=features)
        best["refit"] = {"enabled": bool(cfg.refit), "shipped": False,
                         "reason": "classical models and ensembles are not retrained (they "
                                   "were fitted on the training split only)"}
    t_final = time.perf_counter() - t1

    seconds = dict(result.seconds) if result else {}
    seconds = {k: round(v, 2) for k, v in seconds.items()}
    refit_s = float((best.get("refit") or {}).get("waited_seconds") or 0.0)
    # the classical search's own time, and the part of it the run waited for after the
    # network search (all of it unless it started beside the last trainings)
    seconds.update(search=round(t_search, 2), classical=round(stage.classical.seconds, 2),
                   classical_waited=round(waited, 2),
                   refit=round(refit_s, 2), final_test_eval=round(t_final - refit_s, 2),
                   total=round(time.perf_counter() - t_start, 2))
    net_trained = sum(1 for r in records if r.trained)
    report = {
        "edgeml_version": _version(),
        "target": target.summary(),
        "targets": [t.summary() for t in targets],
        "limits": {k: v for k, v in cfg.limits.as_dict().items() if v is not None},
        "dataset": dataset.summary(),
        "search": {"strategy": cfg.strategy, "objective": cfg.objective,
                   "accuracy_tolerance": cfg.tolerance, "trials": cfg.trials,
                   "epochs": cfg.epochs, "seed": cfg.seed, "models": list(cfg.model_names),
                   "space": {"name": space.name, "source": space.source},
                   "trained": net_trained if cfg.networks else
                   sum(1 for r in stage.classical.trials if r.trained),
                   "rejected": sum(1 for r in singles if r.status is TrialStatus.INFEASIBLE),
                   "failed": result.failed if result else 0,
                   "retried": result.retried if result else 0,
                   "replayed": result.replayed if result else 0,
                   "budget_used": round(result.budget_used, 3) if result else 0.0,
                   "stop_reason": result.stop_reason if result else "",
                   "proposals": cfg.proposals,
                   "promotion": {"enabled": bool(cfg.promote and cfg.strategy != "hyperband"),
                                 "trials": {r.trial_id: {
                                     "continues": r.continues,
                                     "from_epoch": r.hyperparameters.get("tuner/initial_epoch"),
                                     "to_epoch": r.hyperparameters.get("tuner/epochs")}
                                     for r in records if r.continues
                                     and cfg.strategy != "hyperband"}},
                   "warm_start": {"enabled": bool(cfg.warm_start),
                                  "trials": {r.trial_id: r.origin for r in records
                                             if r.origin}},
                   "device": {**plan.as_dict(), "trials": _trials_by_device(records)}},
        "trials": [{**r.to_json(), "pareto": r.trial_id in front,
                    "chosen": r.trial_id == chosen_id} for r in all_records],
        "smallest_candidates": [r.to_json() for r in (result.smallest if result else [])],
        "pareto": front,
        "fit_matrix": _fit_matrix(all_records, targets),
        "classical": {"families": list(cfg.families),
                      "trained": sum(1 for r in stage.classical.trials if r.trained),
                      "rejected": sum(1 for r in stage.classical.trials
                                      if r.status is TrialStatus.INFEASIBLE),
                      "replayed": stage.classical.replayed,
                      "seconds": round(stage.classical.seconds, 2)},
        "ensemble": _ensemble_json(cfg, stage, use_ensemble),
        "best_single": best_single.trial_id,
        "decision": _decision(chosen_trial, best_single, records, stage, use_ensemble, cfg),
        "chosen": best,
        "seconds": seconds,
    }
    if features:
        report["features"] = features
    from .export import write_c_files
    from .export.report import render_pareto_png

    with staged_writes():  # all the result files, or none of them (a full disk)
        if art is not None:  # a network
            files = {"model.tflite": atomic_write(run_dir / "model.tflite", model_bytes),
                     **write_c_files(art, run_dir)}
        else:  # a classical model or an ensemble: edgeml_predict
            files = {name: atomic_write(run_dir / name, text) for name, text in texts.items()}
        files["report.md"] = atomic_write(run_dir / "report.md", _markdown(report))
        png = render_pareto_png(report, run_dir / "pareto.png")
        if png is not None:
            files["pareto.png"] = png
        files["report.json"] = dump_json(run_dir / "report.json", report)  # written last
    if records:  # the knowledge base learns from every finished network search
        from .search.knowledge import entry_for_run, record_run

        record_run(entry_for_run(dataset.summary(), targets, cfg.limits, space.name, records))
    return RunResult(run_dir=run_dir, report=report, files=files)


def _plan(cfg: SearchConfig) -> Any:
    """Where this search trains (:class:`~edgeml.search.device.DevicePlan`)."""
    from .search.device import resolve_device

    # a cluster's trials train on its nodes' CPUs
    return resolve_device("cpu" if cfg.cluster and cfg.device == "auto" else cfg.device)


def _trials_by_device(records: list[Trial]) -> dict[str, int]:
    """Trained trials per device ("cpu": 3, "gpu:0": 7), resumed ones included."""
    out: dict[str, int] = {}
    for r in records:
        if r.trained:
            key = r.device or "unrecorded"
            out[key] = out.get(key, 0) + 1
    return out


def _finish_network(cfg: SearchConfig, chosen: Trial, dataset: Dataset,
                    targets: list[Target], run: RunDir, emit: Event, space: Any, *,
                    features: dict[str, Any] | None = None,
                    runner: Any = None, early: Any = None) -> tuple[dict[str, Any], bytes, Any]:
    """Retrain (unless turned off; in ``runner`` when given), compress (when asked) and
    test the chosen network; its artifact to write."""
    from .export import ModelArtifact
    from .tflite.int8 import evaluate_int8

    target = targets[0]
    best = chosen.to_json()
    best.update(tflite=str(run.resolve(best["tflite"])), keras=str(run.resolve(best["keras"])))
    model_bytes = Path(best["tflite"]).read_bytes()
    best, model_bytes, tested = _refit_chosen(cfg, chosen, best, model_bytes, dataset, targets,
                                              run, emit, space, runner=runner, early=early)
    retrained = model_bytes
    best, model_bytes = _compress_chosen(cfg, best, model_bytes, dataset, target, run.path, emit,
                                         space)
    if tested is None or model_bytes is not retrained:  # not tested yet, or compressed since
        test = evaluate_int8(model_bytes, dataset.x_test, dataset.y_test)
        float_model = load_keras(best["keras"], space)
        tested = (test.accuracy,
                  float(float_model.evaluate(dataset.x_test, dataset.y_test, verbose=0)[-1]))
    best.update(int8_test_accuracy=tested[0], float_test_accuracy=tested[1])
    art = ModelArtifact.from_model(model_bytes, target, dataset=dataset.summary(),
                                   where="the chosen model",
                                   features=(features or {}).get("fitted"))
    return best, model_bytes, art


#: what the report keeps of the search's own model when the retrained one ships
_SEARCH_MODEL_KEYS = ("tflite", "keras", "int8_val_accuracy", "float_val_accuracy", "epochs_run",
                      "best_epoch", "estimate", "costs", "targets", "violations")


def _refit_chosen(cfg: SearchConfig, chosen: Trial, best: dict[str, Any], model_bytes: bytes,
                  dataset: Dataset, targets: list[Target], run: RunDir, emit: Event,
                  space: Any, *, runner: Any = None, early: Any = None
                  ) -> tuple[dict[str, Any], bytes, tuple[float, float] | None]:
    """The final retrain on train + validation (:mod:`edgeml.search.refit`), in ``runner``
    (the search's, handed over) or a worker started here: the retrained model ships
    unless it breaks a limit or fails; ``best["refit"]`` says what happened and
    ``best["search_model"]`` keeps the search's model and its numbers. Also returns the
    shipped model's (int8, float) test accuracy when it was measured here."""
    from .errors import OutputError
    from .search.refit import REFIT_DIR, refit_chosen, refit_runner
    from .tflite.int8 import evaluate_int8

    if not cfg.refit:
        best["refit"] = {"enabled": False, "shipped": False,
                         "reason": "turned off: the search's model ships as trained"}
        return best, model_bytes, None
    folder = run.path / REFIT_DIR
    # the retrain started in the background is this network's (or another's: thrown away,
    # and its runner trains this one)
    mine = early is not None and early.trial.trial_id == chosen.trial_id
    if early is not None and not mine:
        early.discard(stop=False)
    if not mine:
        shutil.rmtree(folder, ignore_errors=True)  # an earlier, interrupted retrain
    own = runner is None and not mine
    if own:  # the worker loads TensorFlow while the search's model is tested here
        plan = _plan(cfg)  # the search's device (resolved once per process)
        runner = refit_runner(dataset=dataset, space=space, targets=targets, seed=cfg.seed,
                              device=plan.device, mixed_precision=plan.mixed_precision)
    try:
        search_model = {k: best[k] for k in _SEARCH_MODEL_KEYS if best.get(k) is not None}
        search_model["train_samples"] = int(len(dataset.y_train))
        search_model["int8_test_accuracy"] = evaluate_int8(model_bytes, dataset.x_test,
                                                           dataset.y_test).accuracy
        search_model["float_test_accuracy"] = float(load_keras(best["keras"], space).evaluate(
            dataset.x_test, dataset.y_test, verbose=0)[-1])
        best["search_model"] = search_model
        try:
            r = early.result(emit) if mine else refit_chosen(
                chosen, dataset=dataset, space=space, targets=targets, limits=cfg.limits,
                seed=cfg.seed, epochs=cfg.epochs, folder=folder, on_event=emit, runner=runner)
        except (KeyboardInterrupt, SystemExit, OutputError):
            raise
        except Exception as exc:  # the search's model is still a good one: ship it
            from .search.spaces import describe_error
            from .search.worker import TrialFailure

            what = describe_error(exc)
            if isinstance(exc, TrialFailure):  # raised in the worker: its own class
                what = f"{exc.kind}: {what.split(': ', 1)[-1]}"
            reason = f"the retrain failed ({what})"
            best["refit"] = {"enabled": True, "shipped": False, "reason": reason}
            emit("refit_done", best["refit"])
            return best, model_bytes, _tested(search_model)
    finally:
        if own:
            runner.close()
    info: dict[str, Any] = {
        "enabled": True, "epochs": r.epochs, "epochs_from": r.epochs_from,
        "samples": r.samples, "int8_test_accuracy": r.int8_test_accuracy,
        "float_test_accuracy": float(load_keras(r.keras, space).evaluate(
            dataset.x_test, dataset.y_test, verbose=0)[-1]),
        "tflite": str(r.tflite), "keras": str(r.keras), "estimate": r.checks["estimate"],
        "costs": r.checks["costs"], "feasible": r.feasible, "train_seconds": r.train_seconds,
        "seconds": r.seconds,
        # started in the background: the part of it this process waited for
        "waited_seconds": round(early.waited, 3) if mine else r.seconds}
    if not r.feasible:
        info.update(shipped=False, reason="the retrained model breaks a limit ("
                    + "; ".join(r.checks["broken"]) + ")")
        best["refit"] = info
        emit("refit_done", info)
        return best, model_bytes, _tested(search_model)
    info.update(shipped=True, reason="")
    best.update(tflite=str(r.tflite), keras=str(r.keras), refit=info,
                **{k: r.checks[k] for k in ("estimate", "targets", "violations", "costs",
                                            "feasible", "broken")})
    emit("refit_done", info)
    return best, r.model_bytes, _tested(info)


def _tested(d: dict[str, Any]) -> tuple[float, float]:
    return float(d["int8_test_accuracy"]), float(d["float_test_accuracy"])


def _finish_predict(chosen: Trial, stage: Any, dataset: Dataset, target: Target, run: RunDir,
                    singles: list[Trial], *, features: dict[str, Any] | None = None
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    """Test the chosen classical model or ensemble; its ``edgeml_predict`` C files."""
    import numpy as np

    from .classical.model import CModel
    from .classical.stage import member_probas
    from .export import ModelArtifact
    from .export.predict import PredictMember, render_predict

    by_id = {t.trial_id: t for t in singles}
    weights = (dict(stage.ensemble.weights) if chosen.family == "ensemble"
               else {chosen.trial_id: 1.0})
    members, total = [], None
    probas = member_probas([by_id[tid] for tid in weights], dataset.x_test, resolve=run.resolve,
                           models=stage.classical.models)
    for (tid, w), proba in zip(weights.items(), probas, strict=True):
        t = by_id[tid]
        total = w * proba if total is None else total + w * proba
        if t.family:
            cm = stage.classical.models.get(tid) or CModel.load(run.resolve(str(t.cmodel)))
            members.append(PredictMember(tid, w, cmodel=cm))
        else:
            art = ModelArtifact.from_model(run.resolve(str(t.tflite)).read_bytes(), target,
                                           dataset=dataset.summary(), where=f"trial {tid}")
            members.append(PredictMember(tid, w, artifact=art))
    acc = float(np.mean(np.argmax(total, axis=1) == np.asarray(dataset.y_test)))
    best = chosen.to_json()
    # classical models run as float32 C: their "int8" accuracy is the deployed C model's
    best.update(int8_test_accuracy=acc, float_test_accuracy=acc,
                members=[{"trial_id": m.trial_id, "weight": m.weight,
                          "family": by_id[m.trial_id].family or "nn"} for m in members])
    prep = dataset.summary().get("preprocessing") or {}
    n_features = int(np.prod(dataset.input_shape))
    texts = render_predict(members, n_features=n_features, n_classes=dataset.num_classes,
                           raw_scale=float(prep.get("scale", 1.0)),
                           raw_offset=float(prep.get("offset", 0.0)),
                           description=f"trial {chosen.trial_id} for {target.name}")
    fitted = (features or {}).get("fitted")
    if fitted:  # the feature stage's C: edgeml_features_float(raw, input) -> edgeml_predict
        from .export.features_c import render_feature_files
        from .features import FittedFeatures

        for fname, data in render_feature_files(FittedFeatures.from_dict(fitted), name="model",
                                                input_scale=1.0, input_zero_point=0).items():
            texts[fname] = data.decode() if isinstance(data, bytes) else data
    best["c_files"] = sorted(texts)
    return best, texts


def _ensemble_json(cfg: SearchConfig, stage: Any, chosen: bool) -> dict[str, Any]:
    ens = stage.ensemble
    out: dict[str, Any] = {"enabled": bool(cfg.ensemble), "min_gain": cfg.ensemble_min_gain,
                           "chosen": chosen, "reason": stage.reason}
    if ens is not None:
        out.update(members=dict(ens.weights), val_accuracy=ens.val_accuracy,
                   best_single=ens.best_single_id,
                   best_single_val_accuracy=ens.best_single_accuracy, gain=ens.gain,
                   trajectory=list(ens.trajectory))
    return out


def _decision(chosen: Trial, best_single: Trial, networks: list[Trial], stage: Any,
              use_ensemble: bool, cfg: SearchConfig) -> str:
    """One sentence: which family won and why."""
    from .classical import describe

    def acc(t: Trial | None) -> str:
        return "-" if t is None else f"{(t.int8_val_accuracy or 0.0) * 100:.1f}%"

    def best_of(pool: list[Trial]) -> Trial | None:
        ok = [t for t in pool if t.deployable]
        return max(ok, key=lambda t: t.int8_val_accuracy or 0.0) if ok else None

    c = chosen.costs or {}
    cost = f"{c.get('model_bytes', 0) / 1024:.1f} KB, {c.get('latency_ms', 0):.3f} ms"
    if use_ensemble and stage.ensemble is not None:
        ens = stage.ensemble
        fams = ", ".join(f"{(chosen.hyperparameters.get('families') or {}).get(i, '?')} {w:.2f}"
                         for i, w in ens.weights.items())
        return (f"An ensemble won ({fams}): {acc(chosen)} validation accuracy, "
                f"{ens.gain * 100:.2f} points above the best single model "
                f"(trial {ens.best_single_id}), and it fits together ({cost}).")
    net, cla = best_of(networks), best_of(stage.classical.trials)
    fam = "network" if chosen.family is None else describe(chosen.family)
    other = cla if chosen.family is None else net
    other_name = ("classical model" if chosen.family is None else "network")
    versus = (f" against {acc(other)} for the best {other_name} (trial {other.trial_id})"
              if other is not None else f" (no {other_name} in this run)")
    why = ("the most accurate model that fits" if cfg.objective == "accuracy" else
           f"the cheapest in {cfg.objective} within {cfg.tolerance * 100:.0f} points of the "
           "best accuracy")
    tail = f"; {stage.reason}" if stage.reason else ""
    return (f"A {fam} won (trial {chosen.trial_id}): {why}, {acc(chosen)} validation accuracy"
            f"{versus}, at {cost}{tail}.")


def _fit_matrix(records: list[Trial], targets: list[Target]) -> dict[str, Any]:
    """Which checked candidate fits which target, with its latency and energy there."""
    rows = []
    for r in records:
        per = r.targets
        if not per:
            continue
        rows.append({"trial_id": r.trial_id, "status": r.status.value,
                     "int8_val_accuracy": r.int8_val_accuracy,
                     "fits": {t: p["fits"] for t, p in per.items()},
                     "latency_ms": {t: p["estimate"]["latency_ms"] for t, p in per.items()},
                     "energy_uj": {t: p["estimate"]["energy_uj"] for t, p in per.items()}})
    return {"targets": [t.name for t in targets], "rows": rows}


# --------------------------------------------------------------------------- compression
def _compress_options(cfg: SearchConfig, hp: dict[str, Any], *,
                      epochs: int = CompressOptions.epochs) -> CompressOptions:
    return CompressOptions(prune=cfg.prune, structured=cfg.structured, qat=bool(cfg.qat),
                           max_int8_drop=float(cfg.max_int8_drop), seed=cfg.seed,
                           epochs=max(1, min(int(cfg.epochs), int(epochs))),
                           lr=float(hp["lr"]) if hp.get("lr") else None,
                           batch_size=int(hp.get("batch_size") or 32))


def _compress_chosen(cfg: SearchConfig, best: dict[str, Any], model_bytes: bytes,
                     dataset: Dataset, target: Target, run_dir: Path,
                     emit: Event, space: Any) -> tuple[dict[str, Any], bytes]:
    """Compress the chosen model when the run asks for it (--prune/--structured/--qat)."""
    options = _compress_options(cfg, best.get("hyperparameters", {})).validate()
    if not options.active:
        return best, model_bytes
    from .compress import compress_model

    emit("compress", {"trial_id": best["trial_id"], "prune": options.prune,
                      "structured": options.structured, "qat": options.qat})
    model = load_keras(best["keras"], space)
    result = compress_model(model, dataset, target, options, baseline_bytes=model_bytes,
                            on_event=emit)
    return _record_compression(best, result, run_dir), result.model_bytes


def _record_compression(best: dict[str, Any], result: Any, run_dir: Path) -> dict[str, Any]:
    """Save the compressed model under RUN_DIR/compress/ and point the run at it."""
    import os

    from .estimate import estimate_graph, read_graph

    out = run_dir / "compress"
    tflite = atomic_write(out / "model.tflite", result.model_bytes)
    tmp = out / f".model.{os.getpid()}.tmp.keras"
    try:
        result.float_model.save(str(tmp))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(exc, out / "model.keras") from exc
    replace_file(tmp, out / "model.keras")
    best = dict(best)
    best.setdefault("search_tflite", best["tflite"])
    best.setdefault("search_estimate", best["estimate"])
    best.update(tflite=str(tflite), compressed_keras=str(out / "model.keras"),
                estimate=result.estimate.as_dict(), compression=result.as_dict())
    graph = read_graph(result.model_bytes)
    for name, info in (best.get("targets") or {}).items():  # re-cost on every target of the run
        try:
            info["estimate"] = estimate_graph(graph, load_target(name),
                                              arena_bytes=result.estimate.arena_bytes).as_dict()
        except EdgeMLError:
            pass
    return best


def _markdown(report: dict[str, Any]) -> str:
    from .export import render_markdown
    from .export.bench_report import render_bench_markdown, render_finalists_markdown
    from .export.compress_report import render_compression_markdown
    from .export.features_report import render_features_markdown

    return render_markdown(report) + render_compression_markdown(
        (report.get("chosen") or {}).get("compression")) + render_features_markdown(report) \
        + render_bench_markdown(report.get("bench")) \
        + render_finalists_markdown(report.get("bench_finalists"))


def write_report(run_dir: str | Path, report: dict[str, Any]) -> None:
    """Rewrite a finished run's ``report.md`` and ``report.json`` (written last)."""
    run_dir = Path(run_dir)
    atomic_write(run_dir / "report.md", _markdown(report))
    dump_json(run_dir / "report.json", report)


def compress_run(run_dir: str | Path, *, prune: float | None = None,
                 structured: float | None = None, qat: bool = False,
                 max_int8_drop: float = CompressOptions.max_int8_drop,
                 epochs: int = CompressOptions.epochs, data: str | None = None,
                 label: str | None = None, on_event: Event | None = None) -> RunResult:
    """Compress the chosen model of a finished run and rewrite the run's artifacts.

    Always starts from the model the search chose (compressing twice does not
    stack). Nothing in the run changes unless compression succeeds and passes
    the ``max_int8_drop`` check.
    """
    from .compress import compress_model
    from .export import ModelArtifact, write_c_files
    from .search.spaces import load_space_file

    emit = on_event or (lambda kind, rec: None)
    run = RunDir.open(run_dir, finished=True)
    run_dir = run.path
    report_path = run.report_json
    report = run.report()
    chosen = run.chosen()
    conf = run.config()
    try:
        seed = int(conf.get("seed", report["search"]["seed"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise RunDirError(f"{report_path} is unreadable (no seed)",
                          hint="the run directory is damaged; start a new run") from exc
    if chosen.get("family"):
        raise EdgeMLError(f"the chosen model of {run_dir} is {chosen['family']!r} (a classical "
                          "model or an ensemble)"
                          ", not a network: there is nothing to prune or quantize",
                          hint="search with --models nn to compress a network")
    if not isinstance(chosen.get("keras"), str) or not isinstance(chosen.get("tflite"), str):
        raise RunDirError(f"{report_path} is unreadable (the chosen model has no saved files)",
                          hint="the run directory is damaged; start a new run")
    # Fail now, not after the training, if the run's files cannot be rewritten.
    for folder in (run_dir, run_dir / "compress"):
        if folder == run_dir or folder.exists():
            prepare_output_dir(folder, label="run directory",
                               hint="make it writable, or copy the run")
    hp = chosen.get("hyperparameters", {})
    options = CompressOptions(prune=prune, structured=structured, qat=qat,
                              max_int8_drop=max_int8_drop, epochs=epochs, seed=seed,
                              lr=float(hp["lr"]) if hp.get("lr") else None,
                              batch_size=int(hp.get("batch_size") or 32)).validate()
    source = data if data is not None else _recorded_data(run, conf.get("data"))
    if source is None and not conf and report["dataset"]["name"] != "digits":
        raise EdgeMLError(f"{run_dir} does not record where its data came from",
                          hint="pass the data file with --data (and --label for a CSV)")
    if report.get("feature_search"):
        raise EdgeMLError(f"{run_dir} chose its features among several candidates",
                          hint=f"compress the chosen candidate's run: {chosen.get('run_dir')}")
    if report.get("features"):  # recordings through the feature stage, as the search did
        known = set(SearchConfig.__dataclass_fields__) - {"limits"}
        scfg = replace(SearchConfig(**{k: v for k, v in conf.items() if k in known}),
                       data=source, label=label or conf.get("label") or "label")
        dataset, _ = _load_data(scfg, seed=seed)
    else:
        dataset = load_dataset(source, label_column=label or conf.get("label") or "label",
                               seed=seed, **split_options(conf))
    if report["dataset"].get("fingerprint") and \
            dataset.fingerprint != report["dataset"]["fingerprint"]:
        raise EdgeMLError(f"the data {source or 'digits'!r} differs from the data of run {run_dir}",
                          hint="pass the run's data file with --data")
    emit("data", dataset.summary())
    target_names = [n.strip() for n in str(conf.get("target") or report["target"]["name"]).split(",")]
    target = load_target(target_names[0])
    keras_path = run.resolve(chosen["keras"])
    base_path = run.resolve(chosen.get("search_tflite", chosen["tflite"]))
    space = None
    if conf.get("space") and Path(conf["space"]).is_file():  # its custom layers, if any
        space = load_space_file(conf["space"], input_shape=dataset.input_shape,
                                num_classes=dataset.num_classes, check=False)
    model = load_keras(keras_path, space)
    result = compress_model(model, dataset, target, options, baseline_bytes=base_path.read_bytes(),
                            on_event=emit)

    best = {k: v for k, v in chosen.items() if k not in ("compression", "compressed_keras")}
    if "search_estimate" in best:  # a compressed run: start again from the search's model
        best["estimate"] = best.pop("search_estimate")
        best["tflite"] = best.pop("search_tflite")
    # Every new file is written before any is renamed into place: a failed write (a full
    # disk) leaves the run as it was, and report.json goes last.
    with staged_writes() as stage:
        best = _record_compression(best, result, run_dir)
        best["int8_test_accuracy"] = result.chosen.int8_accuracy
        report["chosen"] = best
        # the feature stage (if any) quantizes with the compressed model's input scale
        art = ModelArtifact.from_model(result.model_bytes, target, dataset=report["dataset"],
                                       where="the compressed model",
                                       features=(report.get("features") or {}).get("fitted"))
        stage.unlink_first(report_path)  # the run does not look complete while files move
        files = {"model.tflite": atomic_write(run_dir / "model.tflite", result.model_bytes),
                 **write_c_files(art, run_dir),
                 "report.md": atomic_write(run_dir / "report.md", _markdown(report))}
        files["report.json"] = dump_json(report_path, report)  # written last
    return RunResult(run_dir=run_dir, report=report, files=files)


def _version() -> str:
    from . import __version__

    return __version__
