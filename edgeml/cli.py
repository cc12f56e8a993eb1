"""The ``edgeml`` command line. Argument parsing and printing only; the work is
done by the library (``edgeml.pipeline``, ``edgeml.estimate``, ...).

TensorFlow is never imported at module level: ``edgeml --help`` and
``edgeml targets`` answer in about a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
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
        table.add_row("latency model", ("calibrated: " if t.latency.calibrated else "not calibrated: ")
                      + t.latency.source)
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


def _cmd_search(args: argparse.Namespace) -> int:
    from .estimate import Limits
    from .pipeline import SearchConfig, run_search

    cfg = SearchConfig(target=args.target, data=args.data, label=args.label, out=args.out,
                       trials=args.trials, epochs=args.epochs, seed=args.seed,
                       strategy=args.strategy,
                       limits=Limits(max_arena_bytes=_kb_limit(args.max_ram_kb),
                                     max_model_bytes=_kb_limit(args.max_flash_kb),
                                     max_latency_ms=args.max_latency_ms))
    err = _console(stderr=True)
    quiet = args.quiet or args.json

    def on_event(kind: str, rec: dict[str, Any]) -> None:
        if quiet:
            return
        if kind == "data":
            err.print(f"data: {rec['name']} ({rec['kind']} {tuple(rec['input_shape'])}, "
                      f"{len(rec['classes'])} classes, {rec['train']}/{rec['val']}/{rec['test']} "
                      "train/val/test)")
        elif kind == "infeasible":
            err.print(f"  candidate {rec['trial_id']}: rejected before training: "
                      f"{'; '.join(rec['broken'])}", style="yellow")
        elif kind == "trained":
            e = rec.get("estimate", {})
            if rec.get("status") == "trained":
                err.print(f"  trial {rec['trial_id']}: int8 val acc {rec['int8_val_accuracy']:.3f} "
                          f"(float {rec['float_val_accuracy']:.3f}), arena "
                          f"{e.get('arena_bytes', 0) / KB:.1f} KB, model {e.get('model_bytes', 0) / KB:.1f} KB, "
                          f"{e.get('latency_ms', 0):.2f} ms")
            else:
                err.print(f"  trial {rec['trial_id']}: failed: {rec.get('error')}", style="red")
        elif kind == "failed":
            err.print(f"  candidate {rec['trial_id']}: could not be checked: {rec.get('error')}",
                      style="red")

    if not quiet:
        err.print(f"edgeml {__version__}: searching for {args.target} "
                  f"({args.trials} trials, {args.epochs} epochs, {args.strategy})")
    result = run_search(cfg, on_event=on_event)
    rep = result.report
    best = rep["chosen"]
    est = best["estimate"]
    if args.json:
        print(json.dumps({"run_dir": str(result.run_dir), "target": rep["target"]["name"],
                          "trial_id": best["trial_id"], "hyperparameters": best["hyperparameters"],
                          "int8_test_accuracy": best["int8_test_accuracy"],
                          "float_test_accuracy": best["float_test_accuracy"],
                          "model_bytes": est["model_bytes"], "flash_bytes": est["flash_bytes"],
                          "arena_bytes": est["arena_bytes"], "ram_bytes": est["ram_bytes"],
                          "latency_ms": est["latency_ms"], "energy_uj": est["energy_uj"],
                          "files": {k: str(v) for k, v in result.files.items()}}, indent=2))
        return 0
    from .export.report import hp_summary

    _print_rows(f"edgeml: best model for {rep['target']['name']}", [
        ("architecture", f"trial {best['trial_id']}: {hp_summary(best['hyperparameters'])}"),
        ("int8 accuracy (test, TFLM)", f"{best['int8_test_accuracy']:.4f} "
                                       f"(float {best['float_test_accuracy']:.4f})"),
        ("flash", f"{est['model_bytes'] / KB:.1f} KB model + {est['code_bytes'] / KB:.0f} KB runtime "
                  f"= {est['flash_bytes'] / KB:.1f} KB"),
        ("RAM", f"{est['arena_bytes'] / KB:.1f} KB arena + runtime = {est['ram_bytes'] / KB:.1f} KB"),
        ("latency (estimate)", f"{est['latency_ms']:.2f} ms, {est['energy_uj']:.0f} uJ/inference"),
        ("trials", f"{rep['search']['trained']} trained, {rep['search']['rejected']} rejected "
                   f"before training, {rep['seconds']['total']:.0f} s"),
        ("files", str(result.run_dir)),
    ])
    return 0


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
                                   "latency budget are trained.")
    s.add_argument("--target", default="esp32", help="target name (edgeml targets) or TOML profile "
                                                     "[default: esp32]")
    s.add_argument("--data", default=None,
                   help="CSV (features + label column), NPZ (arrays x, y) or builtin name "
                        "[default: digits]")
    s.add_argument("--label", default="label", help="label column of a CSV [default: label]")
    s.add_argument("--out", default=None, help="run directory [default: edgeml-runs/<time>-<target>]")
    s.add_argument("--trials", type=int, default=10, help="trained trials [default: 10]")
    s.add_argument("--epochs", type=int, default=30, help="max epochs per trial [default: 30]")
    s.add_argument("--seed", type=int, default=0, help="random seed [default: 0]")
    s.add_argument("--strategy", choices=["random", "bayesian", "hyperband"], default="random")
    s.add_argument("--max-ram-kb", type=float, default=None, help="cap on the tensor arena (KB)")
    s.add_argument("--max-flash-kb", type=float, default=None, help="cap on the model's bytes (KB)")
    s.add_argument("--max-latency-ms", type=float, default=None, help="cap on estimated latency (ms)")
    s.add_argument("--quiet", action="store_true", help="print only the final summary")
    s.add_argument("--json", action="store_true", help="print the final summary as JSON")
    s.set_defaults(func=_cmd_search)

    t = sub.add_parser("targets", help="list target boards, or show one",
                       description="List the shipped target profiles, or show one in full.")
    t.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    t.add_argument("name", nargs="?", help="target name or TOML path (for show)")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=_cmd_targets)
    return p




def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    func: Callable[[argparse.Namespace], int] = args.func
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


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
