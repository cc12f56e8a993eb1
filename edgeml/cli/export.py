"""``edgeml export``: write a model for a firmware project."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import EdgeMLError
from ._common import KB


def run(args: argparse.Namespace) -> int:
    from ..export import FORMATS, export_model, load_artifact
    from ..export.c_array import c_identifier

    if args.format not in FORMATS:  # before the (slower) model checks
        raise EdgeMLError(f"unknown export format {args.format!r}",
                          hint=f"use --format {', '.join(FORMATS)}")
    c_identifier(args.name)
    if args.board and args.target and args.board != args.target:
        raise EdgeMLError(f"--board {args.board} and --target {args.target} disagree",
                          hint="the firmware's board is the target: pass one of them")
    target = args.board or args.target
    if args.format == "firmware" and target:
        from ..export.firmware import board_for

        board_for(target)  # an unknown board fails before the (slower) model checks
    art = load_artifact(args.source, target=target)
    result = export_model(art, fmt=args.format, out=args.out, name=args.name, force=args.force)
    if args.json:
        print(json.dumps({"format": result.format, "root": str(result.root),
                          "files": [str(f) for f in result.files],
                          "arena_bytes_measured": art.arena_bytes, "ops": list(art.ops)},
                         indent=2))
        return 0
    if art.predict_files:
        print(f"edgeml: exported {args.format} (edgeml_predict: the run's classical model or "
              f"ensemble, {len(art.predict_files)} files) to {result.root}")
        for f in result.files:
            print(f"  {f}")
        return 0
    print(f"edgeml: exported {args.format} ({len(art.model) / KB:.1f} KB model, "
          f"{len(art.ops)} operators, arena {art.arena_bytes / KB:.1f} KB measured) to {result.root}")
    for f in result.files:
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
