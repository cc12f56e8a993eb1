"""``edgeml search``: search the best int8 model that fits a target, and ``--resume`` a run."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from .. import __version__
from ..errors import EdgeMLError
from ._common import (
    FRACTION,
    KB,
    POINTS,
    SEED,
    TOLERANCE,
    add_limit_options,
    console,
    count,
    in_cli_words,
    limits_from_args,
    print_rows,
)
from .compress import compression_line
from .features import add_feature_options

# option -> SearchConfig field, where the names differ
_FIELDS = {"accuracy_tolerance": "tolerance"}
# option -> its flag, where the flag is not the option's name
_FLAGS = {"refit": "--no-refit", "ensemble": "--no-ensemble", "promote": "--no-promote",
          "warm_start": "--no-warm-start"}
# Options left unset (None) take SearchConfig's default, so --resume can tell which were given.
_DEFAULTED = ("target", "label", "trials", "epochs", "seed", "strategy", "objective",
              "accuracy_tolerance", "max_int8_drop", "models", "ensemble", "ensemble_min_gain",
              "device", "refit", "warm_start", "proposals", "promote")
# Options --resume takes (the run's recorded value when left out).
_RESUMABLE = ("trials", "device")
# Settings a run keeps in its run.json; --resume refuses them (only --trials extends a run).
_RUN_SETTINGS = ("target", "data", "label", "out", "epochs", "seed", "strategy", "objective",
                 "accuracy_tolerance", "space", "max_ram_kb", "max_flash_kb", "max_latency_ms",
                 "prune", "structured", "qat", "max_int8_drop", "features", "group", "window",
                 "hop", "rate", "test_data", "models", "ensemble", "ensemble_min_gain",
                 "val_split", "test_split", "refit", "warm_start", "proposals", "promote")

class _SearchConsole:
    """What a search shows while it runs: a progress bar on a terminal (trial i/N, best
    feasible int8 accuracy so far, ETA), plain lines otherwise, nothing when quiet."""

    def __init__(self, *, quiet: bool, total: int) -> None:
        self.err = console(stderr=True)
        self.quiet = quiet
        self.total = total
        self.tty = self.err.is_terminal and not quiet
        self.progress: Any = None
        self.task: Any = None
        self.used = 0.0
        self.running: dict[str, tuple[float, float]] = {}  # trial -> (units, share done)
        self.best: float | None = None
        self.run_dir = ""
        self._lock = threading.RLock()  # events come from every trial slot's thread

    def __enter__(self) -> _SearchConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def line(self, text: str, style: str | None = None) -> None:
        if self.quiet:
            return
        (self.progress.console if self.progress is not None else self.err).print(
            text, style=style, markup=False)

    def _bar(self) -> None:
        if not self.tty or self.progress is not None:
            return
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("best feasible int8 acc: {task.fields[best]}"),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=self.err, transient=True)
        self.task = self.progress.add_task(self._desc(), total=self.total, best="-")
        self.progress.start()

    def _desc(self, phase: str = "") -> str:
        i = min(int(self.used) + 1, self.total)
        return f"trial {i}/{self.total}" + (f" {phase}" if phase else "")

    def _update(self, completed: float, phase: str = "") -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(completed, self.total),
                                 description=self._desc(phase),
                                 best="-" if self.best is None else f"{self.best:.3f}")

    def _running(self) -> float:
        return sum(units * done for units, done in self.running.values())

    def __call__(self, kind: str, rec: Any) -> None:
        with self._lock:
            self._event(kind, rec)

    def _event(self, kind: str, rec: Any) -> None:
        if kind == "data":
            self.line(f"data: {rec['name']} ({rec['kind']} {tuple(rec['input_shape'])}, "
                      f"{len(rec['classes'])} classes, {rec['train']}/{rec['val']}/{rec['test']} "
                      "train/val/test)")
        elif kind == "features":
            cost = " ".join(f"{n}: {c['flash_bytes'] / KB:.1f} KB flash, {c['ram_bytes'] / KB:.1f} "
                            f"KB RAM, {c['latency_ms']:.2f} ms;" for n, c in rec["cost"].items())
            self.line(f"features: {rec['describe']}, split by {rec['split']['unit']}; counted "
                      f"against the target: {cost.rstrip(';')}")
            for fix in rec.get("fixes", []):
                self.line(f"fixed: {fix}")
        elif kind == "feature_tuning":
            best = next((v for v in rec["variants"] if v.get("chosen")), None)
            acc = "" if best is None or best.get("proxy_val_accuracy") is None else \
                f" (proxy val acc {best['proxy_val_accuracy']:.3f})"
            self.line(f"feature {rec['kind']}: {rec['chosen']}{acc}, best of "
                      f"{len(rec['variants'])} variants")
        elif kind == "feature_candidate":
            self.line(f"feature candidate {rec['kind']}: {rec['describe']} ({rec['trials']} "
                      f"trial(s), {rec['run_dir']})")
        elif kind == "feature_choice":
            for r in rec["candidates"]:
                if r["status"] == "trained":
                    c = r["costs"]
                    self.line(f"  {r['kind']}: int8 val acc {r['int8_val_accuracy']:.3f}, "
                              f"model+features {c['model_bytes'] / KB:.1f} KB, "
                              f"{c['latency_ms']:.2f} ms{' <- chosen' if r['chosen'] else ''}")
                else:
                    self.line(f"  {r['kind']}: {r['status']} ({r.get('reason', '')})")
        elif kind == "start":
            self.run_dir = rec.get("run_dir", "")
            if rec.get("stored"):
                self.line(f"resuming: {rec['stored']} finished trial(s) on disk are not run again")
            self._bar()
        elif kind == "warning":
            self.line(f"warning: {rec['message']}", style="yellow")
        elif kind == "warm_start":
            origins = [c.get("origin", "") for c in rec["chosen"]]
            parts = [f"{origins.count(o)} from the {o.replace('-', ' ')}"
                     for o in dict.fromkeys(origins)]
            skipped = (f" ({rec['skipped']} not valid in this space)" if rec.get("skipped")
                       else "")
            self.line(f"warm start: {', '.join(parts) or 'none'} proposed first{skipped}")
        elif kind == "smallest":
            fits = rec.feasible
            self.line("  smallest candidate of the space: "
                      + ("fits" if fits else in_cli_words("; ".join(rec.broken)) or str(rec.error)),
                      style=None if fits else "yellow")
        elif kind == "infeasible":
            self.line(f"  candidate {rec.trial_id}: rejected before training: "
                      f"{in_cli_words('; '.join(rec.broken))}", style="yellow")
        elif kind == "failed":
            self.line(f"  candidate {rec.trial_id}: could not be checked: {rec.error}",
                      style="red")
        elif kind == "retry":
            self.line(f"  trial {rec['trial_id']}: {rec['error']}; training it again in a "
                      "fresh worker", style="yellow")
        elif kind == "train":
            self.used = float(rec.get("budget_used", self.used))
            self.running[str(rec["trial_id"])] = (float(rec.get("units", 1.0)), 0.0)
            self._update(self.used + self._running(), "training")
        elif kind == "epoch":
            tid = str(rec["trial_id"])
            units = self.running.get(tid, (1.0, 0.0))[0]
            self.running[tid] = (units, rec["epoch"] / max(rec["epochs"], 1))
            self._update(self.used + self._running(), f"epoch {rec['epoch']}/{rec['epochs']}")
        elif kind in ("trained", "replayed"):
            self.running.pop(str(rec.trial_id), None)
            e = rec.costs or rec.estimate or {}
            if rec.trained:
                ok = "" if rec.feasible else " (does not fit after training)"
                again = " (finished before, not run again)" if kind == "replayed" else ""
                self.line(f"  trial {rec.trial_id}: int8 val acc {rec.int8_val_accuracy:.3f} "
                          f"(float {rec.float_val_accuracy or 0.0:.3f}), arena "
                          f"{e.get('arena_bytes', 0) / KB:.1f} KB, model "
                          f"{e.get('model_bytes', 0) / KB:.1f} KB, "
                          f"{e.get('latency_ms', 0):.2f} ms{ok}{again}")
            elif rec.failed_training:
                again = " (before; a new candidate takes its place)" if kind == "replayed" \
                    else "; a new candidate takes its place"
                self.line(f"  trial {rec.trial_id}: failed: {rec.error}{again}", style="red")
        elif kind == "progress":
            self.used = float(rec["budget_used"])
            self.best = rec.get("best")
            self._update(self.used + self._running())
        elif kind == "final":
            self._update(self.total, "testing the chosen model")
        elif kind == "refit":
            self.line(f"final retrain: trial {rec['trial_id']} on train + validation "
                      f"({rec['samples']} samples, {rec['epochs']} epochs)")
            self._update(self.total, "final retrain")
        elif kind == "refit_epoch":
            self._update(self.total, f"final retrain, epoch {rec['epoch']}/{rec['epochs']}")
        elif kind == "refit_done" and not rec.get("shipped"):
            self.line(f"final retrain: {rec['reason']}; the search's model ships",
                      style="yellow")


def _refit_json(best: dict[str, Any]) -> dict[str, Any] | None:
    """The final retrain for ``--json``: what ran and both models' test accuracy."""
    r = best.get("refit")
    if not r:
        return None
    out = {k: r[k] for k in ("enabled", "shipped", "epochs", "samples", "int8_test_accuracy",
                             "float_test_accuracy", "reason") if k in r}
    m = best.get("search_model")
    if m:
        out["search_model"] = {k: m.get(k) for k in ("train_samples", "int8_test_accuracy",
                                                     "float_test_accuracy")}
    return out


def refit_line(best: dict[str, Any]) -> str:
    """The final retrain in one line: what it trained on, both models' test accuracy."""
    r, m = best["refit"], best["search_model"]
    if "samples" not in r:
        return str(r.get("reason", ""))
    text = (f"on train + validation ({r['samples']} samples, {r['epochs']} epochs): int8 test "
            f"{r['int8_test_accuracy']:.4f}, search model ({m['train_samples']} samples) "
            f"{m['int8_test_accuracy']:.4f}")
    return text + ("; the retrained model ships" if r.get("shipped") else
                   f"; {r['reason']}, so the search's model ships")


def search_defaults() -> dict[str, Any]:
    """Option name -> its default, read from :class:`~edgeml.pipeline.SearchConfig` (as
    :func:`edgeml.search`'s defaults are)."""
    from ..pipeline import SearchConfig

    by_field = {f.name: f.default for f in fields(SearchConfig)}
    return {opt: by_field[_FIELDS.get(opt, opt)] for opt in _DEFAULTED}


def run(args: argparse.Namespace) -> int:
    from .. import api
    from ..search.device import resolve_device
    from ..search.worker import workers_env

    workers_env()  # a bad $EDGEML_WORKERS: one line before anything starts
    if args.resume:
        given = [_FLAGS.get(k, "--" + k.replace("_", "-")) for k in _RUN_SETTINGS
                 if getattr(args, k) is not None]
        if given:
            raise EdgeMLError(f"--resume takes the run's settings from {args.resume}/run.json; "
                              f"drop {', '.join(given)}",
                              hint="only --trials (to extend the run), --device, --workers, "
                                   "--cluster, --quiet and --json go with --resume")
    for key, value in search_defaults().items():
        if getattr(args, key) is None and not (args.resume and key in _RESUMABLE):
            setattr(args, key, value)
    quiet = args.quiet or args.json
    con = _SearchConsole(quiet=quiet, total=args.trials or 0)
    try:
        if args.resume:
            if not quiet:
                con.err.print(f"edgeml {__version__}: resuming the search in {args.resume}")
            con.run_dir = args.resume
            with con:
                result = _resume_with_total(con, api.resume, args)
        else:
            limits_from_args(args)  # the limit options' own checks, worded as options
            # --device gpu without a GPU: one line, no run (a cluster trains on its CPUs)
            plan = resolve_device("cpu" if args.cluster and args.device in (None, "auto")
                                  else args.device)
            out = args.out or api.default_out(args.target)
            if not quiet:
                mixed = " in mixed precision" if plan.mixed_precision else ""
                con.err.print(f"edgeml {__version__}: searching for {args.target} "
                              f"({args.trials} trials, {args.epochs} epochs, {args.strategy}, "
                              f"objective {args.objective}, training on {plan.device}{mixed})")
            with con:
                result = api.search(data=args.data, label=args.label, target=args.target,
                                    out=out, trials=args.trials, epochs=args.epochs,
                                    seed=args.seed, strategy=args.strategy,
                                    objective=args.objective,
                                    accuracy_tolerance=args.accuracy_tolerance, space=args.space,
                                    max_ram_kb=args.max_ram_kb, max_flash_kb=args.max_flash_kb,
                                    max_latency_ms=args.max_latency_ms, prune=args.prune,
                                    structured=args.structured, qat=bool(args.qat),
                                    max_int8_drop=args.max_int8_drop, features=args.features,
                                    group=args.group, window=args.window, hop=args.hop,
                                    rate=args.rate, test_data=args.test_data,
                                    models=args.models, ensemble=args.ensemble,
                                    ensemble_min_gain=args.ensemble_min_gain,
                                    device=args.device, val_split=args.val_split,
                                    test_split=args.test_split, refit=args.refit,
                                    workers=args.workers, cluster=args.cluster,
                                    warm_start=args.warm_start,
                                    proposals=args.proposals, promote=args.promote,
                                    force=args.force,
                                    verbose=0, on_event=con)
    except KeyboardInterrupt as exc:
        if con.run_dir:  # one line, printed by the command line's main()
            raise KeyboardInterrupt(f"finished trials are saved; resume with: "
                                    f"edgeml search --resume {con.run_dir}") from exc
        raise
    finalists: list[dict[str, Any]] = []
    if args.port:
        from ..hil.bench import bench_finalists
        from .hil import bench_options, board_client, events

        with board_client(args) as client:
            finalists = bench_finalists(client, result.path,
                                        options=bench_options(args, virtual=False),
                                        on_event=events(quiet))
    rep = result.report
    best = rep["chosen"]
    est = best["estimate"]
    per_target = {name: info["estimate"] for name, info in best.get("targets", {}).items()}
    if args.json:
        print(json.dumps({"run_dir": str(result.path), "target": rep["target"]["name"],
                          "targets": [t["name"] for t in rep.get("targets", [rep["target"]])],
                          "objective": rep["search"].get("objective", "accuracy"),
                          "trial_id": best["trial_id"], "hyperparameters": best["hyperparameters"],
                          "int8_val_accuracy": best.get("int8_val_accuracy"),
                          "int8_test_accuracy": best["int8_test_accuracy"],
                          "float_test_accuracy": best["float_test_accuracy"],
                          "model_bytes": est["model_bytes"], "flash_bytes": est["flash_bytes"],
                          "arena_bytes": est["arena_bytes"], "ram_bytes": est["ram_bytes"],
                          "latency_ms": est["latency_ms"], "energy_uj": est["energy_uj"],
                          "per_target": {n: {k: e[k] for k in ("flash_bytes", "ram_bytes",
                                                               "latency_ms", "energy_uj")}
                                         for n, e in per_target.items()},
                          "trials": {k: rep["search"].get(k, 0)
                                     for k in ("trained", "rejected", "failed", "retried")},
                          "pareto": rep.get("pareto", []),
                          "device": rep["search"].get("device"),
                          "refit": _refit_json(best),
                          "where": [{k: t.get(k) for k in ("trial_id", "status", "worker",
                                                           "device", "wait_seconds",
                                                           "train_seconds")}
                                    for t in rep.get("trials", []) if t.get("worker")],
                          "bench_finalists": finalists,
                          "files": {k: str(v) for k, v in result.files.items()}}, indent=2))
        return 0
    from ..export.report import device_summary, hp_summary, trial_counts

    names = [t["name"] for t in rep.get("targets", [rep["target"]])]
    rows = [
        ("architecture", f"trial {best['trial_id']}: {hp_summary(best['hyperparameters'])}"),
        ("int8 accuracy (test, TFLM)", f"{best['int8_test_accuracy']:.4f} "
                                       f"(float {best['float_test_accuracy']:.4f})"),
        ("flash", f"{est['model_bytes'] / KB:.1f} KB model + {est['code_bytes'] / KB:.0f} KB runtime "
                  f"= {est['flash_bytes'] / KB:.1f} KB"),
        ("RAM", f"{est['arena_bytes'] / KB:.1f} KB arena + runtime = {est['ram_bytes'] / KB:.1f} KB"),
        ("latency (estimate)", f"{est['latency_ms']:.2f} ms, {est['energy_uj']:.0f} uJ/inference"
         if est["latency_ms"] >= 0.1 else
         f"{est['latency_ms']:.4f} ms, {est['energy_uj']:.2f} uJ/inference"),
    ]
    if best.get("members"):
        rows[0] = ("model", f"trial {best['trial_id']}: " + ", ".join(
            f"{m['family']} trial {m['trial_id']} x{m['weight']:.2f}" for m in best["members"]))
        rows[1] = ("accuracy (test, as deployed)", f"{best['int8_test_accuracy']:.4f}")
        rows[2] = ("flash", f"{est['model_bytes'] / KB:.1f} KB of model data, plus its code")
        rows[3] = ("RAM", f"{est['ram_bytes'] / KB:.2f} KB peak")
    if (best.get("refit") or {}).get("enabled") and best.get("search_model"):
        rows.append(("final retrain", refit_line(best)))
    if best.get("compression"):
        rows.append(("compression", compression_line(best["compression"])))
    if rep.get("features"):
        feat = rep["features"]
        c = feat["cost"].get(names[0]) or next(iter(feat["cost"].values()))
        rows.append(("features", f"{feat['describe']}: {c['flash_bytes'] / KB:.1f} KB flash, "
                                 f"{c['ram_bytes'] / KB:.1f} KB RAM, {c['latency_ms']:.2f} ms "
                                 "(estimate; counted against the target; edgeml_features.c)"))
    if rep.get("decision"):
        rows.append(("why", rep["decision"]))
    if len(names) > 1:
        rows.append(("fits", "; ".join(f"{n}: {e['latency_ms']:.2f} ms, {e['energy_uj']:.0f} uJ, "
                                       f"{e['ram_bytes'] / KB:.1f} KB RAM"
                                       for n, e in per_target.items())))
    if rep.get("feature_search"):
        fsr = rep["feature_search"]
        rows.append(("feature search", "int8 val acc " + ", ".join(
            f"{r['kind']} {r['int8_val_accuracy']:.3f}{' (chosen)' if r['chosen'] else ''}"
            if r["status"] == "trained" else f"{r['kind']} {r['status']}"
            for r in fsr["candidates"]) + f"; {fsr['trials_per_candidate']} trial(s) each"))
    rows += [
        ("objective", f"{rep['search'].get('objective', 'accuracy')}; Pareto front: trials "
                      f"{', '.join(rep.get('pareto', [])) or '-'}"),
        ("trials", f"{trial_counts(rep['search'])}, {rep['seconds']['total']:.0f} s"),
    ]
    if rep["search"].get("device"):
        rows.append(("trained on", device_summary(rep["search"]["device"])))
    search = rep["search"]
    if search.get("stop_reason") and int(search["trained"]) < int(search["trials"]):
        rows.append(("stopped early", str(search["stop_reason"])))
    rows += [
        ("files", str(result.path)),
    ]
    for f in finalists:
        measured = "-" if f["measured_ms"] is None else f"{f['measured_ms']:.3f} ms"
        rows.insert(-1, (f"trial {f['trial_id']} on the board",
                         f"measured {measured} ({f['timing']}), estimated "
                         f"{f['estimated_ms']:.3f} ms, outputs match: {f['outputs_match']}"))
    print_rows(f"edgeml: best model for {', '.join(names)}", rows)
    return 0


def _resume_with_total(con: _SearchConsole, resume: Callable[..., Any],
                       args: argparse.Namespace) -> Any:
    """Resume, learning the trial budget (for the bar) from the run's own settings."""
    def on_event(kind: str, rec: dict[str, Any]) -> None:
        if kind == "start":
            con.total = int(rec.get("budget") or con.total)
        con(kind, rec)

    return resume(args.resume, trials=args.trials, device=args.device, workers=args.workers,
                  cluster=args.cluster, verbose=0, on_event=on_event)


def add_parser(sub: Any) -> None:
    d = search_defaults()
    s = sub.add_parser("search", help="search the best int8 model that fits a target",
                       description="Search architectures and hyperparameters for a target board. "
                                   "Only candidates inside the target's flash, RAM, operator and "
                                   "latency budget are trained; each is scored by the accuracy "
                                   "of its int8 model in the TFLite Micro interpreter.")
    s.add_argument("--target", default=None,
                   help="target name (edgeml targets) or TOML profile; several separated by "
                        f"commas must all fit [default: {d['target']}]")
    s.add_argument("--data", default=None,
                   help="CSV (features + label column), NPZ (arrays x, y), builtin name, or "
                        "recordings for the feature stage: a folder (one subfolder per class of "
                        "CSV recordings or WAV files) or a CSV stream with a time column "
                        "[default: digits]")
    s.add_argument("--label", default=None, help=f"label column of a CSV [default: {d['label']}]")
    s.add_argument("--out", default=None, help="run directory [default: edgeml-runs/<time>-<target>]")
    s.add_argument("--trials", type=count("trials"), default=None,
                   help="trained trials; candidates that do not fit are not counted "
                        f"[default: {d['trials']}]")
    s.add_argument("--epochs", type=count("epochs"), default=None,
                   help=f"max epochs per trial [default: {d['epochs']}]")
    s.add_argument("--seed", type=SEED, default=None,
                   help="random seed; the same seed draws the same candidates "
                        f"[default: {d['seed']}]")
    s.add_argument("--strategy", choices=["random", "bayesian", "hyperband"], default=None,
                   help=f"keras-tuner oracle [default: {d['strategy']}]")
    s.add_argument("--objective", choices=["accuracy", "latency", "energy", "size"], default=None,
                   help="what to optimise within the limits; latency, energy and size take the "
                        "cheapest model within --accuracy-tolerance of the best "
                        f"[default: {d['objective']}]")
    s.add_argument("--accuracy-tolerance", type=TOLERANCE, default=None,
                   help="accuracy the latency/energy/size objectives may give up "
                        f"[default: {d['accuracy_tolerance']:g}]")
    s.add_argument("--space", default=None,
                   help="Python file with build(hp) returning a tf_keras model [default: built-in "
                        "space for the input kind]")
    s.add_argument("--resume", default=None, metavar="DIR",
                   help="finish an interrupted run from its directory (finished trials are kept)")
    s.add_argument("--workers", type=count("workers"), default=None, metavar="N",
                   help="train N trials at once, each in its own worker process (on a --cluster: "
                        "N trial slots across its nodes) [default: $EDGEML_WORKERS, else one per "
                        "core, as memory allows; on a cluster, its CPUs]")
    s.add_argument("--cluster", default=None, metavar="HOST:PORT",
                   help="run the trials on the nodes of a Ray cluster (started with `ray start "
                        "--head --port PORT`); the oracle, records and scoring stay here")
    add_limit_options(s)
    s.add_argument("--val-split", type=FRACTION, default=None, metavar="F",
                   help="fraction of --data held out for validation (ranks the candidates) "
                        "[default: 0.15; small data: up to 0.225 so that each class has 5]")
    s.add_argument("--test-split", type=FRACTION, default=None, metavar="F",
                   help="fraction of --data held out for the final test [default: 0.2; small "
                        "data: up to 0.3 so that each class has 5; none with --test-data]")
    s.add_argument("--no-refit", dest="refit", action="store_false", default=None,
                   help="ship the chosen network as the search trained it, instead of "
                        "training it again on train + validation")
    add_feature_options(s, search=True)
    s.add_argument("--prune", type=FRACTION, default=None, metavar="S",
                   help="compress the chosen model: magnitude-prune its kernels to sparsity S")
    s.add_argument("--structured", type=FRACTION, default=None, metavar="S",
                   help="compress the chosen model: remove a fraction S of its channels")
    s.add_argument("--qat", action="store_true", default=None,
                   help="compress the chosen model: quantization-aware training (kept when it "
                        "beats post-training quantization)")
    s.add_argument("--max-int8-drop", type=POINTS, default=None, metavar="P",
                   help="with compression: fail when int8 accuracy is more than P points below "
                        f"float [default: {d['max_int8_drop']:g}]")
    s.add_argument("--models", default=None, metavar="LIST",
                   help="model families to consider, comma-separated, of nn (the network "
                        "search), tree, forest, gbt, linear, nb [default: all]")
    s.add_argument("--no-ensemble", dest="ensemble", action="store_false", default=None,
                   help="do not build an ensemble of the run's models")
    s.add_argument("--ensemble-min-gain", type=float, default=None, metavar="G",
                   help="choose an ensemble only when its validation accuracy beats the best "
                        f"single model by more than G [default: {d['ensemble_min_gain']}]")
    s.add_argument("--device", choices=["auto", "cpu", "gpu"], default=None,
                   help="where trials train: a GPU when TensorFlow sees one (auto), the CPU, "
                        "or the GPU (an error when none is visible); --resume may change it "
                        f"[default: {d['device']}]")
    s.add_argument("--no-warm-start", dest="warm_start", action="store_false", default=None,
                   help="do not start from the best configurations of similar earlier runs and "
                        "of edgeml's portfolio (it starts from them by default)")
    s.add_argument("--proposals", type=count("proposals"), default=None, metavar="K",
                   help="candidates drafted and screened (parameters, MACs, activations) per "
                        "proposal; the one predicted to use most of the budget is proposed; 1 "
                        f"draws as keras-tuner does [default: {d['proposals']}]")
    s.add_argument("--no-promote", dest="promote", action="store_false", default=None,
                   help="train every candidate for --epochs only, instead of continuing the "
                        "best ones (a quarter of the budget, at most two) for --epochs more "
                        "while their validation loss still falls")
    s.add_argument("--force", action="store_true",
                   help="overwrite files in --out (model_data.h, report.md, ...) that an "
                        "earlier run did not write")

    from .hil import add_board_options

    add_board_options(s, virtual=False)
    s.add_argument("--quiet", action="store_true", help="print only the final summary")
    s.add_argument("--json", action="store_true", help="print the final summary as JSON")
    s.set_defaults(func=run)
