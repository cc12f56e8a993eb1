"""The ``edgeml`` command line. Argument parsing and printing only; the work is
done by the library (``edgeml.pipeline``, ``edgeml.estimate``, ...).

TensorFlow is never imported at module level: ``edgeml --help`` and
``edgeml targets`` answer in about a second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__
from .errors import EdgeMLError

__all__ = ["main", "build_parser"]

KB = 1024


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- targets
def _cmd_targets(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .targets import list_targets, load_target

    con = _console()
    if args.action == "show":
        if not args.name:
            raise EdgeMLError("edgeml targets show needs a target name",
                              hint=f"e.g. edgeml targets show {list_targets()[0]}")
        t = load_target(args.name)
        s = t.summary()
        if args.json:
            print(json.dumps(s, indent=2))
            return 0
        table = Table(title=f"{t.name}: {t.description}", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        table.add_row("core / clock", f"{t.core} @ {t.clock_hz / 1e6:.0f} MHz")
        table.add_row("chip flash / RAM", f"{t.flash_bytes / KB:.0f} KB / {t.ram_bytes / KB:.0f} KB")
        table.add_row("firmware takes", f"{t.firmware_flash_bytes / KB:.0f} KB flash, "
                                        f"{t.firmware_ram_bytes / KB:.0f} KB RAM")
        table.add_row("runtime", f"{t.runtime}: {t.runtime_flash_bytes / KB:.0f} KB flash, "
                                 f"{t.runtime_ram_bytes / KB:.0f} KB RAM outside the arena")
        table.add_row("model flash budget", f"{t.model_flash_budget / KB:.1f} KB (model + kernels)")
        table.add_row("tensor arena budget", f"{t.arena_budget / KB:.1f} KB")
        table.add_row("operators", ", ".join(sorted(t.ops)))
        table.add_row("latency model", f"{t.latency.status}: {t.latency.source}")
        for name, variant in sorted(t.latency_variants.items()):
            table.add_row(f"latency ({name})", f"{variant.status}: {variant.source}")
        table.add_row("active power", f"{t.active_power_mw:g} mW ({t.power_source})")
        table.add_row("profile", t.path)
        con.print(table)
        return 0
    rows = [load_target(n) for n in list_targets()]
    if args.json:
        print(json.dumps([t.summary() for t in rows], indent=2))
        return 0
    table = Table(title="edgeml targets")
    for col in ("name", "core", "MHz", "flash KB", "RAM KB", "model flash KB", "arena KB"):
        table.add_column(col, justify="right" if "KB" in col or col == "MHz" else "left")
    for t in rows:
        table.add_row(t.name, t.core, f"{t.clock_hz / 1e6:.0f}", f"{t.flash_bytes / KB:.0f}",
                      f"{t.ram_bytes / KB:.0f}", f"{t.model_flash_budget / KB:.0f}",
                      f"{t.arena_budget / KB:.0f}")
    con.print(table)
    return 0


# --------------------------------------------------------------------------- search
def _kb_limit(value: float | None) -> int | None:
    return None if value is None else int(value * KB)


_SEARCH_DEFAULTS = {"target": "esp32", "label": "label", "trials": 10, "epochs": 30, "seed": 0,
                    "strategy": "random", "objective": "accuracy", "accuracy_tolerance": 0.02}
# Settings a run keeps in its run.json; --resume refuses them (only --trials extends a run).
_RUN_SETTINGS = ("target", "data", "label", "out", "epochs", "seed", "strategy", "objective",
                 "accuracy_tolerance", "space", "max_ram_kb", "max_flash_kb", "max_latency_ms",
                 "prune", "structured", "qat", "max_int8_drop")


class _SearchConsole:
    """What a search shows while it runs: a progress bar on a terminal (trial i/N, best
    feasible int8 accuracy so far, ETA), plain lines otherwise, nothing when quiet."""

    def __init__(self, *, quiet: bool, total: int) -> None:
        self.err = _console(stderr=True)
        self.quiet = quiet
        self.total = total
        self.tty = self.err.is_terminal and not quiet
        self.progress: Any = None
        self.task: Any = None
        self.used = 0.0
        self.unit = 1.0
        self.best: float | None = None
        self.run_dir = ""

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

    def __call__(self, kind: str, rec: dict[str, Any]) -> None:
        if kind == "data":
            self.line(f"data: {rec['name']} ({rec['kind']} {tuple(rec['input_shape'])}, "
                      f"{len(rec['classes'])} classes, {rec['train']}/{rec['val']}/{rec['test']} "
                      "train/val/test)")
        elif kind == "start":
            self.run_dir = rec.get("run_dir", "")
            if rec.get("stored"):
                self.line(f"resuming: {rec['stored']} finished trial(s) on disk are not run again")
            self._bar()
        elif kind == "smallest":
            fits = rec.get("feasible")
            self.line("  smallest candidate of the space: "
                      + ("fits" if fits else "; ".join(rec.get("broken", []))
                         or str(rec.get("error"))), style=None if fits else "yellow")
        elif kind == "infeasible":
            self.line(f"  candidate {rec['trial_id']}: rejected before training: "
                      f"{'; '.join(rec['broken'])}", style="yellow")
        elif kind == "failed":
            self.line(f"  candidate {rec['trial_id']}: could not be checked: {rec.get('error')}",
                      style="red")
        elif kind == "train":
            self.used = float(rec.get("budget_used", self.used))
            self.unit = float(rec.get("units", 1.0))
            self._update(self.used, "training")
        elif kind == "epoch":
            frac = rec["epoch"] / max(rec["epochs"], 1)
            self._update(self.used + self.unit * frac, f"epoch {rec['epoch']}/{rec['epochs']}")
        elif kind in ("trained", "replayed"):
            e = rec.get("costs") or rec.get("estimate", {})
            if rec.get("status") == "trained":
                ok = "" if rec.get("feasible") else " (does not fit after training)"
                again = " (finished before, not run again)" if kind == "replayed" else ""
                self.line(f"  trial {rec['trial_id']}: int8 val acc {rec['int8_val_accuracy']:.3f} "
                          f"(float {rec['float_val_accuracy']:.3f}), arena "
                          f"{e.get('arena_bytes', 0) / KB:.1f} KB, model "
                          f"{e.get('model_bytes', 0) / KB:.1f} KB, "
                          f"{e.get('latency_ms', 0):.2f} ms{ok}{again}")
            elif rec.get("stage") == "train":
                self.line(f"  trial {rec['trial_id']}: failed: {rec.get('error')}", style="red")
        elif kind == "progress":
            self.used = float(rec["budget_used"])
            self.best = rec.get("best")
            self._update(self.used)
        elif kind == "final":
            self._update(self.total, "testing the chosen model")


def _cmd_search(args: argparse.Namespace) -> int:
    from .estimate import Limits
    from .pipeline import SearchConfig, resume_search, run_search

    if args.resume:
        given = ["--" + k.replace("_", "-") for k in _RUN_SETTINGS if getattr(args, k) is not None]
        if given:
            raise EdgeMLError(f"--resume takes the run's settings from {args.resume}/run.json; "
                              f"drop {', '.join(given)}",
                              hint="only --trials (to extend the run), --quiet and --json go "
                                   "with --resume")
    for key, value in _SEARCH_DEFAULTS.items():
        if getattr(args, key) is None and not (args.resume and key == "trials"):
            setattr(args, key, value)
    quiet = args.quiet or args.json
    con = _SearchConsole(quiet=quiet, total=args.trials or 0)
    try:
        if args.resume:
            if not quiet:
                con.err.print(f"edgeml {__version__}: resuming the search in {args.resume}")
            con.run_dir = args.resume
            with con:
                result = _resume_with_total(con, resume_search, args)
        else:
            cfg = SearchConfig(target=args.target, data=args.data, label=args.label, out=args.out,
                               trials=args.trials, epochs=args.epochs, seed=args.seed,
                               strategy=args.strategy, objective=args.objective,
                               tolerance=args.accuracy_tolerance, space=args.space,
                               prune=args.prune, structured=args.structured, qat=bool(args.qat),
                               max_int8_drop=2.0 if args.max_int8_drop is None
                               else args.max_int8_drop,
                               limits=Limits(max_arena_bytes=_kb_limit(args.max_ram_kb),
                                             max_model_bytes=_kb_limit(args.max_flash_kb),
                                             max_latency_ms=args.max_latency_ms))
            if not quiet:
                con.err.print(f"edgeml {__version__}: searching for {args.target} "
                              f"({args.trials} trials, {args.epochs} epochs, {args.strategy}, "
                              f"objective {args.objective})")
            with con:
                result = run_search(cfg, on_event=con)
    except KeyboardInterrupt:
        if con.run_dir:
            print(f"edgeml: finished trials are saved; resume with: "
                  f"edgeml search --resume {con.run_dir}", file=sys.stderr)
        raise
    rep = result.report
    best = rep["chosen"]
    est = best["estimate"]
    per_target = {name: info["estimate"] for name, info in best.get("targets", {}).items()}
    if args.json:
        print(json.dumps({"run_dir": str(result.run_dir), "target": rep["target"]["name"],
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
                          "trials": {k: rep["search"][k] for k in ("trained", "rejected", "failed")},
                          "pareto": rep.get("pareto", []),
                          "files": {k: str(v) for k, v in result.files.items()}}, indent=2))
        return 0
    from .export.report import hp_summary

    names = [t["name"] for t in rep.get("targets", [rep["target"]])]
    rows = [
        ("architecture", f"trial {best['trial_id']}: {hp_summary(best['hyperparameters'])}"),
        ("int8 accuracy (test, TFLM)", f"{best['int8_test_accuracy']:.4f} "
                                       f"(float {best['float_test_accuracy']:.4f})"),
        ("flash", f"{est['model_bytes'] / KB:.1f} KB model + {est['code_bytes'] / KB:.0f} KB runtime "
                  f"= {est['flash_bytes'] / KB:.1f} KB"),
        ("RAM", f"{est['arena_bytes'] / KB:.1f} KB arena + runtime = {est['ram_bytes'] / KB:.1f} KB"),
        ("latency (estimate)", f"{est['latency_ms']:.2f} ms, {est['energy_uj']:.0f} uJ/inference"),
    ]
    if best.get("compression"):
        rows.append(("compression", _compression_line(best["compression"])))
    if len(names) > 1:
        rows.append(("fits", "; ".join(f"{n}: {e['latency_ms']:.2f} ms, {e['energy_uj']:.0f} uJ, "
                                       f"{e['ram_bytes'] / KB:.1f} KB RAM"
                                       for n, e in per_target.items())))
    rows += [
        ("objective", f"{rep['search'].get('objective', 'accuracy')}; Pareto front: trials "
                      f"{', '.join(rep.get('pareto', [])) or '-'}"),
        ("trials", f"{rep['search']['trained']} trained, {rep['search']['rejected']} rejected "
                   f"before training, {rep['seconds']['total']:.0f} s"),
        ("files", str(result.run_dir)),
    ]
    _print_rows(f"edgeml: best model for {', '.join(names)}", rows)
    return 0


def _resume_with_total(con: _SearchConsole, resume: Callable[..., Any],
                       args: argparse.Namespace) -> Any:
    """Resume, learning the trial budget (for the bar) from the run's own settings."""
    def on_event(kind: str, rec: dict[str, Any]) -> None:
        if kind == "start":
            con.total = int(rec.get("budget") or con.total)
        con(kind, rec)

    return resume(args.resume, trials=args.trials, on_event=on_event)


def _print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column summary: a table on a terminal, plain 'key: value' lines otherwise."""
    con = _console()
    if not con.is_terminal:
        print(title)
        for key, value in rows:
            print(f"  {key}: {value}")
        return
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    con.print(table)


# --------------------------------------------------------------------------- compress / export
def _compression_line(section: dict[str, Any]) -> str:
    return (f"{section['chosen_stage']} ({section['int8_method'].upper()}): "
            f"{100 * section['macs_reduction']:.0f}% fewer MACs, int8 "
            f"{section['int8_accuracy']:.4f} vs float {section['baseline_float_accuracy']:.4f} "
            f"({-section['int8_drop_points']:+.2f} points)")


def _cmd_compress(args: argparse.Namespace) -> int:
    from .pipeline import compress_run

    err = _console(stderr=True)
    quiet = args.quiet or args.json

    def on_event(kind: str, rec: dict[str, Any]) -> None:
        if quiet:
            return
        if kind == "data":
            err.print(f"data: {rec['name']} ({rec['train']}/{rec['val']}/{rec['test']} "
                      "train/val/test)")
        elif kind == "compress_stage":
            f_acc = "-" if rec["float_accuracy"] is None else f"{rec['float_accuracy']:.4f}"
            err.print(f"  {rec['stage']}: int8 acc {rec['int8_accuracy']:.4f} (float {f_acc}), "
                      f"{rec['macs']:,} MACs, model {rec['model_bytes'] / KB:.1f} KB, arena "
                      f"{rec['arena_bytes'] / KB:.1f} KB, {rec['latency_ms']:.3f} ms")

    if not quiet:
        wanted = [f"--prune {args.prune}" if args.prune else "",
                  f"--structured {args.structured}" if args.structured else "",
                  "--qat" if args.qat else ""]
        err.print(f"edgeml {__version__}: compressing {args.run_dir} "
                  f"({' '.join(w for w in wanted if w) or 'int8 check only'})")
    result = compress_run(args.run_dir, prune=args.prune, structured=args.structured,
                          qat=args.qat, max_int8_drop=args.max_int8_drop, epochs=args.epochs,
                          data=args.data, label=args.label, on_event=on_event)
    section = result.report["chosen"]["compression"]
    if args.json:
        print(json.dumps({"run_dir": str(result.run_dir), **section,
                          "files": {k: str(v) for k, v in result.files.items()}}, indent=2))
        return 0
    from .export.compress_report import STAGE_HEADER, stage_rows

    con = _console()
    rows = stage_rows(section)
    if con.is_terminal:
        from rich.table import Table

        table = Table(title=f"edgeml: compression of {result.run_dir}")
        for col in STAGE_HEADER:
            table.add_column(col, justify="left" if col == "stage" else "right")
        for r in rows:
            table.add_row(*r)
        con.print(table)
    else:
        print(f"edgeml: compression of {result.run_dir}")
        print("  " + " | ".join(STAGE_HEADER))
        for r in rows:
            print("  " + " | ".join(r))
    print(f"chosen: {_compression_line(section)}")
    for note in section.get("notes", []):
        print(f"note: {note}")
    print(f"files: {result.run_dir}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import FORMATS, export_model, load_artifact
    from .export.c_array import c_identifier

    if args.format not in FORMATS:  # before the (slower) model checks
        raise EdgeMLError(f"unknown export format {args.format!r}",
                          hint=f"use --format {', '.join(FORMATS)}")
    c_identifier(args.name)
    art = load_artifact(args.source, target=args.target)
    result = export_model(art, fmt=args.format, out=args.out, name=args.name, force=args.force)
    if args.json:
        print(json.dumps({"format": result.format, "root": str(result.root),
                          "files": [str(f) for f in result.files],
                          "arena_bytes_measured": art.arena_bytes, "ops": list(art.ops)},
                         indent=2))
        return 0
    print(f"edgeml: exported {args.format} ({len(art.model) / KB:.1f} KB model, "
          f"{len(art.ops)} operators, arena {art.arena_bytes / KB:.1f} KB measured) to {result.root}")
    for f in result.files:
        print(f"  {f}")
    return 0


def _add_compress_export_parsers(sub: Any) -> None:
    c = sub.add_parser("compress", help="prune and quantize the chosen model of a finished run",
                       description="Compress a finished run's chosen model: structured pruning "
                                   "(channels removed, fewer MACs), magnitude pruning, and int8 "
                                   "by QAT or post-training quantization, every stage measured in "
                                   "the TFLite Micro interpreter. Rewrites the run's model and C "
                                   "files; the original search model is kept in its trial folder.")
    c.add_argument("run_dir", metavar="RUN_DIR", help="directory of a finished edgeml search")
    c.add_argument("--prune", type=float, default=None, metavar="S",
                   help="magnitude-prune Conv/Dense kernels to sparsity S (0-1); zeros do not "
                        "shrink a TFLM model, see --structured")
    c.add_argument("--structured", type=float, default=None, metavar="S",
                   help="remove a fraction S (0-1) of the channels of every prunable layer")
    c.add_argument("--qat", action="store_true",
                   help="quantization-aware training (kept only if it beats post-training "
                        "quantization on the validation split)")
    c.add_argument("--max-int8-drop", type=float, default=2.0, metavar="P",
                   help="fail when the int8 accuracy (TFLM) is more than P points below the "
                        "float accuracy of the search's model [default: 2]")
    c.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs per stage "
                                                          "[default: 10]")
    c.add_argument("--data", default=None, help="the run's data, if it was moved")
    c.add_argument("--label", default=None, help="label column of a CSV given with --data")
    c.add_argument("--quiet", action="store_true", help="print only the final table")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(func=_cmd_compress)

    e = sub.add_parser("export", help="write the model for a firmware project",
                       description="Export an int8 model as .tflite, C files (model_data.cc/.h, "
                                   "op_resolver.h), or an ESP-IDF component, Arduino library or "
                                   "Zephyr module. Existing files are not overwritten without "
                                   "--force.")
    e.add_argument("source", metavar="RUN_DIR|MODEL.tflite",
                   help="a finished run directory, or a .tflite file (with --target)")
    e.add_argument("--format", default="c", metavar="FORMAT",
                   help="tflite, c, esp-idf, arduino or zephyr [default: c]")
    e.add_argument("--out", required=True, help="folder to write into (packages are created "
                                                "inside it as edgeml_<name>/)")
    e.add_argument("--target", default=None,
                   help="target board (required for a .tflite file; default: the run's target)")
    e.add_argument("--name", default="model",
                   help="C identifier for the symbols and files (g_<name>, <name>_data.cc) "
                        "[default: model]")
    e.add_argument("--force", action="store_true", help="overwrite existing files")
    e.add_argument("--json", action="store_true", help="print the written files as JSON")
    e.set_defaults(func=_cmd_export)


# --------------------------------------------------------------------------- profile / calibrate
def _cmd_profile(args: argparse.Namespace) -> int:
    from .estimate import Limits
    from .estimate.profile import profile_model
    from .targets import load_target

    target = load_target(args.target).with_latency(args.kernels or "")
    rep = profile_model(args.model, target,
                        limits=Limits(max_arena_bytes=_kb_limit(args.max_ram_kb),
                                      max_model_bytes=_kb_limit(args.max_flash_kb),
                                      max_latency_ms=args.max_latency_ms),
                        measure=False if args.analytic else None)
    if args.json:
        from ._io import to_jsonable

        print(json.dumps(to_jsonable(rep), indent=2))
        return 0
    from rich.table import Table

    con = _console()
    if not con.is_terminal:
        con.width = 140
    layers = Table(title=f"{Path(args.model).name} on {target.name} ({target.core} @ "
                         f"{target.clock_hz / 1e6:.0f} MHz, {target.runtime})")
    for col in ("#", "operator", "layer", "output", "MACs", "params", "cycles", "ms", "share"):
        layers.add_column(col, justify="right" if col in ("#", "MACs", "params", "cycles", "ms",
                                                          "share") else "left")
    bad = set(rep["unsupported_ops"])
    for row in rep["layers"]:
        style = "red" if row["op"] in bad else None
        layers.add_row(str(row["index"]), row["op"], row["layer"][:32],
                       "x".join(str(d) for d in row["output_shape"]) or "-", f"{row['macs']:,}",
                       f"{row['params']:,}", f"{row['cycles']:,.0f}", f"{row['latency_ms']:.3f}",
                       f"{100 * row['share']:.1f}%", style=style)
    con.print(layers)
    arena = rep["arena"]
    how = {"tflm": "measured in TFLite Micro", "analytic": "planned analytically",
           "vela": "Vela SRAM + TFLM structs"}.get(rep["source"], rep["source"])
    adj = (f"; host {arena['host_bytes']:,} B - {arena['adjustment_bytes']:,} B for 32-bit pointers"
           if arena.get("adjustment_bytes") else "")
    budget = rep["budget"]
    totals = Table(title="totals", show_header=False)
    totals.add_column("", style="bold")
    totals.add_column("")
    totals.add_row("flash", f"{rep['flash_bytes'] / KB:.1f} KB = model {rep['model_bytes'] / KB:.1f} KB "
                            f"+ TFLM code {rep['code_bytes'] / KB:.1f} KB (model + kernels budget "
                            f"{budget['model_flash_bytes'] / KB:.0f} KB)")
    totals.add_row("arena", f"{rep['arena_bytes']:,} B ({how}{adj}); budget "
                            f"{budget['arena_bytes'] / KB:.0f} KB")
    totals.add_row("RAM", f"{rep['ram_bytes'] / KB:.1f} KB (arena + runtime)")
    totals.add_row("latency", f"{rep['latency_ms']:.2f} ms ({rep['latency_model']})")
    totals.add_row("energy", f"{rep['energy_uj']:.1f} uJ per inference at {target.active_power_mw:g} mW")
    totals.add_row("MACs / params", f"{rep['macs']:,} / {rep['params']:,}")
    totals.add_row("fits", "[green]yes[/green]" if rep["fits"] else
                   "[red]no[/red]: " + "; ".join(rep["broken"]))
    for note in rep["notes"]:
        totals.add_row("note", note)
    con.print(totals)
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from .estimate.profiles import calibrate_profile, derive_profile
    from .targets import load_target

    target = load_target(args.target)
    if bool(args.measurements) == bool(args.derive_from):
        raise EdgeMLError("edgeml calibrate needs --measurements FILE or --derive-from TARGET",
                          hint="e.g. edgeml calibrate --target stm32l4r5 --measurements lat.csv")
    if args.derive_from:
        src_name, _, src_variant = args.derive_from.partition("#")
        update = derive_profile(target, load_target(src_name), mac_factor=args.mac_factor,
                                other_factor=args.other_factor, note=args.note or "",
                                variant=args.variant or "", source_variant=src_variant)
    else:
        from .estimate.measurements import read_measurements

        rows = read_measurements(args.measurements)
        update = calibrate_profile(target, rows, base=Path(args.measurements).resolve().parent,
                                   variant=args.variant or "", prior=args.prior,
                                   level=args.level, source=args.note or "")
    if args.in_place:
        out = Path(target.path)
    else:
        out = Path(args.out or f"{target.name}{'-' + args.variant if args.variant else ''}"
                               f"-calibrated.toml")
    from ._io import atomic_write

    atomic_write(out, update.text)
    load_target(str(out))  # the written profile must load
    cal = update.calibration
    if args.json:
        print(json.dumps({"target": target.name, "variant": update.variant, "profile": str(out),
                          "level": cal.level if cal else "derived",
                          "points": list(cal.points) if cal else [],
                          "power": update.power, "skipped_rows": update.skipped,
                          "source": update.latency.source}, indent=2))
        return 0
    from rich.table import Table

    con = _console()
    if cal is not None:
        table = Table(title=f"{target.name}{' (' + update.variant + ')' if update.variant else ''}: "
                            f"fitted at level '{cal.level}'")
        for col in ("model", "measured ms", "estimated ms", "error"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for p in cal.points:
            table.add_row(p["name"], f"{p['measured_ms']:.3f}", f"{p['predicted_ms']:.3f}",
                          f"{p['error_pct']:+.1f}%")
        con.print(table)
        for lv, outcome in cal.levels_tried.items():
            con.print(f"  level {lv}: {outcome}")
    else:
        con.print(f"{target.name}: {update.latency.source}")
    if update.power:
        con.print(f"  active power: {update.power['active_mw']:g} mW ({update.power['source']})")
    if update.skipped:
        con.print(f"  {update.skipped} row(s) for other targets or variants skipped")
    con.print(f"wrote {out}")
    return 0


def _add_estimate_parsers(sub: Any) -> None:
    pr = sub.add_parser("profile", help="estimate flash, RAM, latency and energy of a .tflite",
                        description="Profile an int8 .tflite on a target: per-operator MACs, "
                                    "cycles and milliseconds, and the totals (flash, RAM, tensor "
                                    "arena measured in TFLite Micro, latency, energy) with "
                                    "whether the model fits and which limit it breaks.")
    pr.add_argument("model", help="path of the .tflite file")
    pr.add_argument("--target", required=True, help="target name (edgeml targets) or TOML profile")
    pr.add_argument("--kernels", default=None,
                    help="latency variant of the target, e.g. 'reference' for builds without "
                         "optimized kernels [default: the profile's main model]")
    pr.add_argument("--max-ram-kb", type=float, default=None, help="cap on the tensor arena (KB)")
    pr.add_argument("--max-flash-kb", type=float, default=None, help="cap on the model's bytes (KB)")
    pr.add_argument("--max-latency-ms", type=float, default=None, help="cap on latency (ms)")
    pr.add_argument("--analytic", action="store_true",
                    help="plan the arena analytically instead of measuring it in TFLM")
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    pr.set_defaults(func=_cmd_profile)

    ca = sub.add_parser("calibrate", help="fit a target's latency model to measured latencies",
                        description="Fit a target profile's per-operator latency coefficients "
                                    "(non-negative least squares) to measured latencies of known "
                                    "models and write the updated profile. With few measurements "
                                    "the ratios between operator kinds come from the prior; "
                                    "--derive-from gives a target without measurements the "
                                    "coefficients of a calibrated one.")
    ca.add_argument("--target", required=True, help="target name or TOML profile to update")
    ca.add_argument("--measurements", default=None, metavar="FILE",
                    help="CSV with columns model,latency_ms[,energy_uj,target,variant,weight] "
                         "(model: a .tflite path relative to the CSV, or reference:<name>), "
                         "or a JSON file with a 'measurements' list")
    ca.add_argument("--variant", default=None,
                    help="fit this latency variant of the profile (e.g. 'reference')")
    ca.add_argument("--prior", default="profile",
                    help="starting model: 'profile' (the target's own), 'reference' (measured "
                         "reference-kernel costs) or TARGET[#VARIANT] [default: profile]")
    ca.add_argument("--level", choices=["global", "groups", "operators", "coefficients"],
                    default=None, help="force a parameterization [default: the finest the data "
                                       "determine]")
    ca.add_argument("--derive-from", default=None, metavar="TARGET[#VARIANT]",
                    help="copy the cycles of a calibrated target instead of fitting")
    ca.add_argument("--mac-factor", type=float, default=1.0,
                    help="with --derive-from: multiply cycles per MAC [default: 1]")
    ca.add_argument("--other-factor", type=float, default=1.0,
                    help="with --derive-from: multiply the other cycles [default: 1]")
    ca.add_argument("--note", default=None, help="text recorded as the model's source")
    ca.add_argument("--out", default=None,
                    help="where to write the profile [default: ./<target>-calibrated.toml]")
    ca.add_argument("--in-place", action="store_true", help="overwrite the target's profile file")
    ca.add_argument("--json", action="store_true", help="print the result as JSON")
    ca.set_defaults(func=_cmd_calibrate)


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgeml",
        description="Hardware-constrained AutoML for microcontrollers: search models that fit "
                    "the board, quantize to int8, verify in TFLite Micro, export for firmware.")
    p.add_argument("--version", action="version", version=f"edgeml {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("search", help="search the best int8 model that fits a target",
                       description="Search architectures and hyperparameters for a target board. "
                                   "Only candidates inside the target's flash, RAM, operator and "
                                   "latency budget are trained; each is scored by the accuracy "
                                   "of its int8 model in the TFLite Micro interpreter.")
    s.add_argument("--target", default=None,
                   help="target name (edgeml targets) or TOML profile; several separated by "
                        "commas must all fit [default: esp32]")
    s.add_argument("--data", default=None,
                   help="CSV (features + label column), NPZ (arrays x, y) or builtin name "
                        "[default: digits]")
    s.add_argument("--label", default=None, help="label column of a CSV [default: label]")
    s.add_argument("--out", default=None, help="run directory [default: edgeml-runs/<time>-<target>]")
    s.add_argument("--trials", type=int, default=None,
                   help="trained trials; candidates that do not fit are not counted [default: 10]")
    s.add_argument("--epochs", type=int, default=None, help="max epochs per trial [default: 30]")
    s.add_argument("--seed", type=int, default=None,
                   help="random seed; the same seed draws the same candidates [default: 0]")
    s.add_argument("--strategy", choices=["random", "bayesian", "hyperband"], default=None,
                   help="keras-tuner oracle [default: random]")
    s.add_argument("--objective", choices=["accuracy", "latency", "energy", "size"], default=None,
                   help="what to optimise within the limits; latency, energy and size take the "
                        "cheapest model within --accuracy-tolerance of the best [default: accuracy]")
    s.add_argument("--accuracy-tolerance", type=float, default=None,
                   help="accuracy the latency/energy/size objectives may give up [default: 0.02]")
    s.add_argument("--space", default=None,
                   help="Python file with build(hp) returning a tf_keras model [default: built-in "
                        "space for the input kind]")
    s.add_argument("--resume", default=None, metavar="DIR",
                   help="finish an interrupted run from its directory (finished trials are kept)")
    s.add_argument("--max-ram-kb", type=float, default=None, help="cap on the tensor arena (KB)")
    s.add_argument("--max-flash-kb", type=float, default=None, help="cap on the model's bytes (KB)")
    s.add_argument("--max-latency-ms", type=float, default=None, help="cap on estimated latency (ms)")
    s.add_argument("--prune", type=float, default=None, metavar="S",
                   help="compress the chosen model: magnitude-prune its kernels to sparsity S")
    s.add_argument("--structured", type=float, default=None, metavar="S",
                   help="compress the chosen model: remove a fraction S of its channels")
    s.add_argument("--qat", action="store_true", default=None,
                   help="compress the chosen model: quantization-aware training (kept when it "
                        "beats post-training quantization)")
    s.add_argument("--max-int8-drop", type=float, default=None, metavar="P",
                   help="with compression: fail when int8 accuracy is more than P points below "
                        "float [default: 2]")
    s.add_argument("--quiet", action="store_true", help="print only the final summary")
    s.add_argument("--json", action="store_true", help="print the final summary as JSON")
    s.set_defaults(func=_cmd_search)
    _add_compress_export_parsers(sub)

    t = sub.add_parser("targets", help="list target boards, or show one",
                       description="List the shipped target profiles, or show one in full.")
    t.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    t.add_argument("name", nargs="?", help="target name or TOML path (for show)")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=_cmd_targets)
    _add_estimate_parsers(sub)
    return p




def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    func: Callable[[argparse.Namespace], int] = args.func
    with _NativeStderr(enabled=not args.debug) as native:
        try:
            return int(func(args) or 0)
        except EdgeMLError as exc:
            if args.debug:
                raise
            print(f"edgeml: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("edgeml: interrupted", file=sys.stderr)
            return 130
        except Exception:
            native.keep = True
            print(f"edgeml: internal error; native library messages are in {native.path}",
                  file=sys.stderr)
            raise


class _NativeStderr:
    """Send what C/C++ libraries write to fd 2 (TensorFlow's start-up and CUDA probing
    lines, converter logs) to a log file, while Python's ``sys.stderr`` (edgeml's own
    messages, tracebacks) still reaches the terminal. The log is deleted unless an
    unexpected error occurs."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.keep = False
        self.path = ""

    def __enter__(self) -> _NativeStderr:
        if not self.enabled:
            return self
        import tempfile

        try:
            sys.stderr.flush()
            self._terminal = os.dup(2)
            fd, self.path = tempfile.mkstemp(prefix="edgeml-native-", suffix=".log")
            os.dup2(fd, 2)
            os.close(fd)
            self._saved_stderr = sys.stderr
            sys.stderr = open(self._terminal, "w", buffering=1, closefd=False,
                              encoding=getattr(self._saved_stderr, "encoding", None) or "utf-8",
                              errors="replace")
        except (OSError, ValueError):  # no real fd 2 (embedded use): leave it alone
            self.enabled = False
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.enabled:
            return
        sys.stderr.flush()
        sys.stderr = self._saved_stderr
        os.dup2(self._terminal, 2)
        os.close(self._terminal)
        if not self.keep:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
