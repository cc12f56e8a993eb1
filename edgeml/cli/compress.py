"""``edgeml compress``: prune and quantize the chosen model of a finished run."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import __version__
from ._common import FRACTION, KB, POINTS, console, count


def compression_line(section: dict[str, Any]) -> str:
    return (f"{section['chosen_stage']} ({section['int8_method'].upper()}): "
            f"{100 * section['macs_reduction']:.0f}% fewer MACs, int8 "
            f"{section['int8_accuracy']:.4f} vs float {section['baseline_float_accuracy']:.4f} "
            f"({-section['int8_drop_points']:+.2f} points)")

def run(args: argparse.Namespace) -> int:
    from .. import api

    err = console(stderr=True)
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
    given = {k: getattr(args, k) for k in ("max_int8_drop", "epochs") if getattr(args, k) is not None}
    result = api.compress(args.run_dir, prune=args.prune, structured=args.structured,
                          qat=args.qat, data=args.data, label=args.label, verbose=0,
                          on_event=on_event, **given)
    section = result.report["chosen"]["compression"]
    if args.json:
        print(json.dumps({"run_dir": str(result.path), **section,
                          "files": {k: str(v) for k, v in result.files.items()}}, indent=2))
        return 0
    from ..export.compress_report import STAGE_HEADER, stage_rows

    con = console()
    rows = stage_rows(section)
    if con.is_terminal:
        from rich.table import Table

        table = Table(title=f"edgeml: compression of {result.path}")
        for col in STAGE_HEADER:
            table.add_column(col, justify="left" if col == "stage" else "right")
        for r in rows:
            table.add_row(*r)
        con.print(table)
    else:
        print(f"edgeml: compression of {result.path}")
        print("  " + " | ".join(STAGE_HEADER))
        for r in rows:
            print("  " + " | ".join(r))
    print(f"chosen: {compression_line(section)}")
    for note in section.get("notes", []):
        print(f"note: {note}")
    print(f"files: {result.path}")
    return 0


def add_parser(sub: Any) -> None:
    from ..compress.chain import CompressOptions

    c = sub.add_parser("compress", help="prune and quantize the chosen model of a finished run",
                       description="Compress a finished run's chosen model: structured pruning "
                                   "(channels removed, fewer MACs), magnitude pruning, and int8 "
                                   "by QAT or post-training quantization, every stage measured in "
                                   "the TFLite Micro interpreter. Rewrites the run's model and C "
                                   "files; the original search model is kept in its trial folder.")
    c.add_argument("run_dir", metavar="RUN_DIR", help="directory of a finished edgeml search")
    c.add_argument("--prune", type=FRACTION, default=None, metavar="S",
                   help="magnitude-prune Conv/Dense kernels to sparsity S (0-1); zeros do not "
                        "shrink a TFLM model, see --structured")
    c.add_argument("--structured", type=FRACTION, default=None, metavar="S",
                   help="remove a fraction S (0-1) of the channels of every prunable layer")
    c.add_argument("--qat", action="store_true",
                   help="quantization-aware training (kept only if it beats post-training "
                        "quantization on the validation split)")
    c.add_argument("--max-int8-drop", type=POINTS, default=None, metavar="P",
                   help="fail when the int8 accuracy (TFLM) is more than P points below the "
                        "float accuracy of the search's model "
                        f"[default: {CompressOptions.max_int8_drop:g}]")
    c.add_argument("--epochs", type=count("epochs"), default=None,
                   help=f"fine-tuning epochs per stage [default: {CompressOptions.epochs}]")
    c.add_argument("--data", default=None, help="the run's data, if it was moved")
    c.add_argument("--label", default=None, help="label column of a CSV given with --data")
    c.add_argument("--quiet", action="store_true", help="print only the final table")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.set_defaults(func=run)
