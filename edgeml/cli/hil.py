"""``edgeml bench``, ``edgeml flash`` and ``edgeml virtual-board``: the hardware in the loop."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import EdgeMLError
from ._common import console, print_rows

VIRTUAL_WINDOW_S = 1.0   # the virtual board's clock is simulated: short windows measure the same


# --------------------------------------------------------------------------- shared options
def add_board_options(p: argparse.ArgumentParser, *, virtual: bool = True) -> None:
    """--port (and --virtual), --baud, --timeout, --window-s, --windows."""
    p.add_argument("--port", default=None,
                   help="the board's serial port (/dev/ttyUSB0, COM3, a pty) or socket://HOST:PORT")
    if virtual:
        p.add_argument("--virtual", action="store_true",
                       help="no board: the virtual board (the firmware's protocol core + the host "
                            "TFLite Micro interpreter; latency simulated from the estimate)")
    p.add_argument("--baud", type=int, default=115200, help="serial speed [default: 115200]")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for a reply (infer: at least 30) [default: 5]")
    p.add_argument("--window-s", type=float, default=None,
                   help="minimum length of one timed window, in the board's seconds "
                        f"[default: 10; {VIRTUAL_WINDOW_S:g} on the virtual board]")
    p.add_argument("--windows", type=int, default=5, help="timed windows; the median is "
                                                         "reported [default: 5]")


def bench_options(args: argparse.Namespace, *, virtual: bool) -> Any:
    from ..hil.bench import BenchOptions

    window = args.window_s if args.window_s is not None else (VIRTUAL_WINDOW_S if virtual else 10.0)
    return BenchOptions(window_s=window, windows=args.windows, samples=getattr(args, "samples", 5),
                        seed=getattr(args, "seed", 0)).validate()


@contextlib.contextmanager
def board_client(args: argparse.Namespace, *, target: Any = None) -> Iterator[Any]:
    """A connected client: to --port, or to a virtual board started here for --virtual."""
    from ..hil.protocol import INFER_TIMEOUT_S, connect

    virtual = bool(getattr(args, "virtual", False))
    if bool(args.port) == virtual:
        raise EdgeMLError("give the board's port with --port P" +
                          (", or --virtual for the virtual board" if hasattr(args, "virtual")
                           else ""),
                          hint="e.g. --port /dev/ttyUSB0 (ls /dev/ttyUSB* /dev/ttyACM*)")
    board = None
    port = args.port
    if virtual:
        from ..hil.virtual import VirtualBoard

        if target is None:
            raise EdgeMLError("--virtual needs --target (the board whose latency is simulated)",
                              hint="e.g. --target esp32s3")
        board = VirtualBoard(target=target)
        port = board.start()
    try:
        client = connect(port, baudrate=args.baud, timeout=args.timeout,
                         infer_timeout=max(INFER_TIMEOUT_S, args.timeout))
        try:
            yield client
        finally:
            client.close()
    finally:
        if board is not None:
            board.stop()


def events(quiet: bool) -> Any:
    err = console(stderr=True)

    def on_event(kind: str, rec: dict[str, Any]) -> None:
        if quiet:
            return
        if kind == "load":
            err.print(f"loading the model ({rec['bytes']:,} bytes) over serial", markup=False)
        elif kind == "outputs":
            err.print(f"outputs match the host interpreter: {rec['match']}", markup=False)
        elif kind == "calibrated":
            err.print(f"about {rec['latency_ms']:.3f} ms per inference; timing windows",
                      markup=False)
        elif kind == "window":
            err.print(f"  window {rec['index']}/{rec['of']}: {rec['iterations']} inferences, "
                      f"{rec['latency_ms']:.4f} ms", markup=False)
        elif kind in ("model", "finalist"):
            err.print(f"benching {rec.get('name') or 'trial ' + str(rec.get('trial_id'))}",
                      markup=False)
    return on_event


# --------------------------------------------------------------------------- bench
def run_bench(args: argparse.Namespace) -> int:
    from ..hil.bench import (
        attach_to_run,
        bench_model,
        bench_run,
        check_regression,
        compare_baseline,
        write_bench,
    )
    from ..targets import load_target

    src = Path(args.model)
    is_run = src.is_dir()
    if not is_run and not src.is_file():
        raise EdgeMLError(f"{src} is neither a run directory nor a .tflite file",
                          hint="pass RUN_DIR (an edgeml search's --out) or model.tflite")
    if is_run:
        rep_path = src / "report.json"
        if not rep_path.is_file():
            raise EdgeMLError(f"{src} is not a finished edgeml run (no report.json)",
                              hint="pass the --out directory of a completed edgeml search")
        target = load_target(args.target or json.loads(rep_path.read_text())["target"]["name"])
    else:
        if not args.target:
            raise EdgeMLError("benching a .tflite needs --target (for the estimate next to the "
                              "measurement)", hint="e.g. --target esp32s3")
        target = load_target(args.target)
    opts = bench_options(args, virtual=args.virtual)
    meter = None
    if args.energy:
        from ..hil.power import open_meter

        meter = open_meter(args.energy)
    out = Path(args.out) if args.out else (src / "bench" if is_run
                                           else src.with_name(f"{src.stem}-bench"))
    on_event = events(args.quiet or args.json)
    try:
        with board_client(args, target=target) as client:
            if is_run:
                result = bench_run(client, src, target=target, options=opts, meter=meter,
                                   on_event=on_event)
            else:
                result = bench_model(client, src.read_bytes(), target=target, options=opts,
                                     meter=meter, partial=out / "bench.partial.jsonl",
                                     on_event=on_event)
    finally:
        if meter is not None:
            meter.close()
    cmp = compare_baseline(result, args.baseline, threshold_pct=args.threshold) \
        if args.baseline else None
    files = write_bench(result, out, baseline=cmp)
    if is_run and result.complete:
        attach_to_run(src, result)
    if args.json:
        print(json.dumps({**result.as_dict(), "baseline": cmp,
                          "files": {k: str(v) for k, v in files.items()}}, indent=2))
    else:
        _print_bench(result, cmp, files)
    if cmp is not None:
        check_regression(cmp)
    return 0 if result.complete else 130


def _print_bench(result: Any, cmp: dict[str, Any] | None, files: dict[str, Path]) -> None:
    est = result.estimate or {}
    rows = [("board", f"{result.board} on {result.port} (timing: {result.timing})"),
            ("latency", "not measured" if result.latency_ms is None else
             f"{result.latency_ms:.4f} ms median of {len(result.windows)} windows, spread "
             f"{result.latency_spread_ms:.4f} ms, {result.inferences} inferences")]
    if est:
        err = est.get("latency_error_pct")
        rows.append(("estimate", f"{est['latency_ms']:.4f} ms"
                     + (f" ({err:+.1f}% vs measured)" if err is not None else "")))
    rows += [("energy", "not measured (no power analyser)" if result.energy_uj is None else
              f"{result.energy_uj:.1f} uJ per inference, {result.average_power_mw:.2f} mW"),
             ("outputs match host", str(result.outputs_match)),
             ("arena", "not reported by the firmware" if result.arena_bytes is None else
              f"{result.arena_bytes:,} bytes (estimate {est.get('arena_bytes', 0):,}, "
              f"{est.get('arena_basis', '')})")]
    if cmp is not None:
        rows.append(("baseline", f"{cmp['baseline_ms']:.4f} ms -> {cmp['latency_ms']:.4f} ms "
                                 f"({cmp['change_pct']:+.1f}%)"))
    if not result.complete:
        rows.append(("status", "interrupted: partial result"))
    rows.append(("files", str(files["bench.json"].parent)))
    print_rows("edgeml bench", rows)


# --------------------------------------------------------------------------- flash
def run_flash(args: argparse.Namespace) -> int:
    from ..hil.flash import flash, flash_command

    opts = {"port": args.port, "image": args.image, "tool": args.tool, "project": args.project,
            "env": args.env, "probe": args.probe}
    if args.dry_run:
        print(" ".join(flash_command(args.board, **opts)))
        return 0
    res = flash(args.board, timeout=args.timeout, **opts)
    print(f"flashed {args.board} in {res.seconds:.1f} s: {' '.join(res.command)}")
    return 0


# --------------------------------------------------------------------------- virtual board
def run_virtual_board(args: argparse.Namespace) -> int:
    import time

    from ..hil.virtual import VirtualBoard
    from ..targets import load_target

    target = load_target(args.target)
    model = None
    if args.model:
        p = Path(args.model)
        if not p.is_file():
            raise EdgeMLError(f"model {p} does not exist", hint="pass a .tflite file")
        model = p.read_bytes()
    board = VirtualBoard(target=target, model=model, transport="tcp" if args.tcp else "pty",
                         base_only=args.base_only)
    path = board.start()
    print(path, flush=True)
    print(f"edgeml virtual board for {target.name} (latency simulated from the estimate); "
          "Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(0.5)
            if board.error is not None:
                raise board.error
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return 0


# --------------------------------------------------------------------------- parsers
def add_parser(sub: Any) -> None:
    b = sub.add_parser("bench", help="measure a model on a board: latency, outputs, arena, energy",
                       description="Bench a run's model (on its test split) or a .tflite on a "
                                   "board running the edgeml bench firmware (the model is loaded "
                                   "over serial) or any MLPerf Tiny DUT (its resident model is "
                                   "benched and compared with the given .tflite). Latency by "
                                   "MLPerf Tiny's rule: warm-up, windows of at least --window-s, "
                                   "the median of --windows. Writes bench.json and bench.md.")
    b.add_argument("model", help="a run directory or a .tflite file")
    b.add_argument("--target", default=None,
                   help="target of the estimate shown next to the measurement [default: the run's]")
    add_board_options(b)
    b.add_argument("--energy", default=None, metavar="ANALYSER",
                   help="power analyser: ppk2:/dev/ttyACM1[@mV] or joulescope")
    b.add_argument("--samples", type=int, default=5,
                   help="inputs whose outputs are compared with the host [default: 5]")
    b.add_argument("--seed", type=int, default=0, help="seed of the random inputs [default: 0]")
    b.add_argument("--baseline", default=None, metavar="BENCH_JSON",
                   help="a saved bench.json: fail when latency grew more than --threshold")
    b.add_argument("--threshold", type=float, default=10.0,
                   help="allowed latency growth against --baseline, in %% [default: 10]")
    b.add_argument("--out", default=None,
                   help="folder for bench.json / bench.md [default: RUN_DIR/bench or "
                        "<model>-bench/]")
    b.add_argument("--quiet", action="store_true", help="print only the summary")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=run_bench)

    f = sub.add_parser("flash", help="flash a built firmware image onto a board",
                       description="Flash the edgeml bench firmware (or any built image): esptool "
                                   "for the ESP32 family, pyocd for Cortex-M boards through their "
                                   "debug probe, or PlatformIO's upload on a port project. "
                                   "Images are built with the firmware's port projects.")
    from ..hil.flash import BOARDS

    f.add_argument("--board", required=True, choices=sorted(BOARDS), help="the board")
    f.add_argument("--port", default=None, help="the board's serial port (esptool, pio)")
    f.add_argument("--image", default=None, help="the built image (.bin for ESP32, .elf/.hex/.bin)")
    f.add_argument("--tool", choices=["esptool", "pyocd", "pio"], default=None,
                   help="flashing tool [default: the board's]")
    f.add_argument("--project", default=None, help="PlatformIO project folder (--tool pio)")
    f.add_argument("--env", default=None, help="PlatformIO environment [default: the board's]")
    f.add_argument("--probe", default=None, help="pyocd: the debug probe's unique id")
    f.add_argument("--timeout", type=float, default=300.0, help="seconds [default: 300]")
    f.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    f.set_defaults(func=run_flash)

    v = sub.add_parser("virtual-board", help="serve the virtual board on a pseudo-terminal",
                       description="Run the firmware's protocol core on this host with the "
                                   "TFLite Micro interpreter behind it, latency simulated from "
                                   "the target's estimate. Prints the pty's path (or "
                                   "socket://...) on its first line; serves until Ctrl-C.")
    v.add_argument("model", nargs="?", default=None,
                   help="a .tflite loaded at boot (else load one with `model load`)")
    v.add_argument("--target", required=True, help="the target whose latency is simulated")
    v.add_argument("--tcp", action="store_true", help="serve on a loopback TCP port instead")
    v.add_argument("--base-only", action="store_true",
                   help="answer only the MLPerf Tiny base protocol (no edgeml extension)")
    v.set_defaults(func=run_virtual_board)
