"""``edgeml calibrate``: fit a target's latency model to measurements."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import EdgeMLError
from ._common import FACTOR, console

PROFILE_HEADER = b"# edgeml target profile"  # the first line of every profile edgeml writes


def run(args: argparse.Namespace) -> int:
    from ..estimate.calibrate import calibrate_profile, derive_profile
    from ..targets import load_target

    target = load_target(args.target)
    if sum(bool(x) for x in (args.measurements, args.derive_from, args.port)) != 1:
        raise EdgeMLError("edgeml calibrate needs one of --measurements FILE, --port PORT or "
                          "--derive-from TARGET",
                          hint="e.g. edgeml calibrate --target stm32l4r5 --measurements lat.csv")
    if args.in_place:
        out = Path(target.path)
    else:
        out = Path(args.out or f"{target.name}{'-' + args.variant if args.variant else ''}"
                               f"-calibrated.toml")
    from .._io import atomic_write, prepare_output_file

    # Before the fit: the profile can be written there, and it replaces no one else's file.
    prepare_output_file(out, label="--out", force=args.force or args.in_place,
                        owned=PROFILE_HEADER, hint="choose another --out")
    rows: list[Any] = []
    if args.derive_from:
        src_name, _, src_variant = args.derive_from.partition("#")
        update = derive_profile(target, load_target(src_name), mac_factor=args.mac_factor,
                                other_factor=args.other_factor, note=args.note or "",
                                variant=args.variant or "", source_variant=src_variant)
    elif args.port:
        from ..hil.calibrate import measure_rows, write_rows
        from .hil import bench_options, board_client, events

        meter = None
        if args.energy:
            from ..hil.power import open_meter

            meter = open_meter(args.energy)
        try:
            with board_client(args) as client:
                rows, benches = measure_rows(client, target,
                                             options=bench_options(args, virtual=False),
                                             meter=meter, variant=args.variant or "",
                                             on_event=events(args.json))
        finally:
            if meter is not None:
                meter.close()
        csv_path = write_rows(out.with_name(out.stem + "-measurements.csv"), rows, benches)
        b = benches[0]
        update = calibrate_profile(target, rows, base=Path.cwd(), variant=args.variant or "",
                                   prior=args.prior, level=args.level,
                                   source=args.note or f"measured on {b.board} over {b.port} "
                                   f"({b.timing} timing) by edgeml calibrate --port; rows in "
                                   f"{csv_path.name}")
    else:
        from ..estimate.measurements import read_measurements

        rows = read_measurements(args.measurements)
        update = calibrate_profile(target, rows, base=Path(args.measurements).resolve().parent,
                                   variant=args.variant or "", prior=args.prior,
                                   level=args.level, source=args.note or "")
    atomic_write(out, update.text)
    after = load_target(str(out))  # the written profile must load
    cal = update.calibration
    before_after: list[dict[str, Any]] = []
    if args.port:
        from ..hil.calibrate import compare

        var = args.variant or ""
        before_after = compare(rows, target.with_latency(var) if var else target,
                               after.with_latency(var) if var else after)
    if args.json:
        print(json.dumps({"target": target.name, "variant": update.variant, "profile": str(out),
                          "level": cal.level if cal else "derived",
                          "points": list(cal.points) if cal else [],
                          "power": update.power, "skipped_rows": update.skipped,
                          "source": update.latency.source,
                          "before_after": before_after}, indent=2))
        return 0
    from rich.table import Table

    con = console()
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
    if before_after:
        table = Table(title="estimate vs measured on the board, before and after the fit")
        for col in ("model", "measured ms", "before ms", "error", "after ms", "error"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for p in before_after:
            table.add_row(p["model"], f"{p['measured_ms']:.3f}", f"{p['before_ms']:.3f}",
                          f"{p['before_error_pct']:+.1f}%", f"{p['after_ms']:.3f}",
                          f"{p['after_error_pct']:+.1f}%")
        con.print(table)
    if update.power:
        con.print(f"  active power: {update.power['active_mw']:g} mW ({update.power['source']})")
    if update.skipped:
        con.print(f"  {update.skipped} row(s) for other targets or variants skipped")
    con.print(f"wrote {out}")
    return 0


def add_parser(sub: Any) -> None:
    ca = sub.add_parser("calibrate", help="fit a target's latency model to measured latencies",
                        description="Fit a target profile's per-operator latency coefficients "
                                    "(non-negative least squares) to measured latencies of known "
                                    "models and write the updated profile. With few measurements "
                                    "the ratios between operator kinds come from the prior; "
                                    "--derive-from gives a target without measurements the "
                                    "coefficients of a calibrated one. --port measures the "
                                    "calibration models (edgeml's reference models) on a board "
                                    "running the edgeml bench firmware.")
    ca.add_argument("--target", required=True, help="target name or TOML profile to update")
    ca.add_argument("--measurements", default=None, metavar="FILE",
                    help="CSV with columns model,latency_ms[,energy_uj,target,variant,weight] "
                         "(model: a .tflite path relative to the CSV, or reference:<name>), "
                         "or a JSON file with a 'measurements' list")
    from .hil import add_board_options

    add_board_options(ca, virtual=False)
    ca.add_argument("--energy", default=None, metavar="ANALYSER",
                    help="with --port: also measure energy (ppk2:/dev/ttyACM1 or joulescope) "
                         "and fit the active power")
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
    ca.add_argument("--mac-factor", type=FACTOR, default=1.0,
                    help="with --derive-from: multiply cycles per MAC [default: 1]")
    ca.add_argument("--other-factor", type=FACTOR, default=1.0,
                    help="with --derive-from: multiply the other cycles [default: 1]")
    ca.add_argument("--note", default=None, help="text recorded as the model's source")
    ca.add_argument("--out", default=None,
                    help="where to write the profile [default: ./<target>-calibrated.toml]")
    ca.add_argument("--in-place", action="store_true", help="overwrite the target's profile file")
    ca.add_argument("--force", action="store_true",
                    help="overwrite an existing --out file that edgeml did not write")
    ca.add_argument("--json", action="store_true", help="print the result as JSON")
    ca.set_defaults(func=run)
