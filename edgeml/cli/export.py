"""``edgeml export``: write a model for a firmware project."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import EdgeMLError
from ._common import KB


def run(args: argparse.Namespace) -> int:
    from .. import api

    if args.board and args.target and args.board != args.target:
        raise EdgeMLError(f"--board {args.board} and --target {args.target} disagree",
                          hint="the firmware's board is the target: pass one of them")
    done = api.export(args.source, args.format, args.out, name=args.name, force=args.force,
                      target=args.board or args.target)
    if args.json:
        print(json.dumps({"format": done.format, "root": str(done.root),
                          "files": [str(f) for f in done.files],
                          "arena_bytes_measured": done.arena_bytes, "ops": list(done.ops)},
                         indent=2))
        return 0
    if not done.model_bytes and not done.ops:  # a classical model or an ensemble
        print(f"edgeml: exported {args.format} (edgeml_predict: the run's classical model or "
              f"ensemble) to {done.root}")
    else:
        print(f"edgeml: exported {args.format} ({done.model_bytes / KB:.1f} KB model, "
              f"{len(done.ops)} operators, arena {done.arena_bytes / KB:.1f} KB measured) to "
              f"{done.root}")
    for f in done.files:
        print(f"  {f}")
    return 0


def add_parser(sub: Any) -> None:
    e = sub.add_parser("export", help="write the model for a firmware project",
                       description="Export an int8 model as .tflite, C files (model_data.cc/.h, "
                                   "op_resolver.h), an ESP-IDF component, Arduino library or "
                                   "Zephyr module, or a bench-firmware project. Existing files "
                                   "are not overwritten without --force.")
    e.add_argument("source", metavar="RUN_DIR|MODEL.tflite",
                   help="a finished run directory, or a .tflite file (with --target)")
    e.add_argument("--format", default="c", metavar="FORMAT",
                   help="tflite, c, esp-idf, arduino, zephyr, or firmware (a PlatformIO "
                        "project of the bench firmware booting with the model) [default: c]")
    e.add_argument("--out", required=True, help="folder to write into (packages are created "
                                                "inside it as edgeml_<name>/)")
    e.add_argument("--target", default=None,
                   help="target board (required for a .tflite file; default: the run's target)")
    e.add_argument("--board", default=None,
                   help="with --format firmware: the board (a target name; default: the "
                        "run's target)")
    e.add_argument("--name", default="model",
                   help="C identifier for the symbols and files (g_<name>, <name>_data.cc) "
                        "[default: model]")
    e.add_argument("--force", action="store_true", help="overwrite existing files")
    e.add_argument("--json", action="store_true", help="print the written files as JSON")
    e.set_defaults(func=run)
