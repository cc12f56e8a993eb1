"""``edgeml targets``: list the shipped target profiles, or show one."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import EdgeMLError
from ._common import KB, console


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..targets import list_targets, load_target

    con = console()
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


def add_parser(sub: Any) -> None:
    t = sub.add_parser("targets", help="list target boards, or show one",
                       description="List the shipped target profiles, or show one in full.")
    t.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    t.add_argument("name", nargs="?", help="target name or TOML path (for show)")
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=run)
