"""``edgeml profile``: per-operator estimate of a .tflite on a target."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import KB, add_limit_options, console, in_cli_words, limits_from_args


def run(args: argparse.Namespace) -> int:
    from .. import api
    from ..targets import load_target

    limits_from_args(args)  # the limit options' own checks, worded as options
    prof = api.profile(args.model, target=args.target, kernels=args.kernels,
                       max_ram_kb=args.max_ram_kb, max_flash_kb=args.max_flash_kb,
                       max_latency_ms=args.max_latency_ms, analytic=args.analytic)
    rep = prof.report
    target = load_target(args.target).with_latency(args.kernels or "")
    if args.json:
        from .._io import to_jsonable

        print(json.dumps(to_jsonable(rep), indent=2))
        return 0
    from rich.table import Table

    con = console()
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
                   "[red]no[/red]: " + "; ".join(in_cli_words(b) for b in rep["broken"]))
    for note in rep["notes"]:
        totals.add_row("note", note)
    con.print(totals)
    return 0


def add_parser(sub: Any) -> None:
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
    add_limit_options(pr)
    pr.add_argument("--analytic", action="store_true",
                    help="plan the arena analytically instead of measuring it in TFLM")
    pr.add_argument("--json", action="store_true", help="print one JSON object")
    pr.set_defaults(func=run)
