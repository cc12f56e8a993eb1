"""``edgeml features``: the feature stage alone, for inspection: recordings -> features
(split by recording or group) -> an NPZ, with the stage's cost on a target."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

from ..errors import DataError
from ._common import KB, print_rows

KINDS_HELP = "raw, stats, fft (streams); logmel, mfcc (WAV folders); tabular (a CSV)"


def add_feature_options(p: Any, *, search: bool = False) -> None:
    """The feature-stage options ``edgeml features`` and ``edgeml search`` share."""
    kinds = ("raw", "stats", "fft", "logmel", "mfcc", "tabular") + (("auto",) if search else ())
    default = ("auto for recordings: the search tries each kind that fits the data with the "
               "model, the trial budget split evenly" if search else
               "stats for streams, logmel for audio")
    p.add_argument("--features", default=None, metavar="KIND", choices=kinds,
                   help=f"feature kind: {KINDS_HELP}{', auto' if search else ''} [default: "
                        f"{default}; a CSV without a time column is used as it is]")
    p.add_argument("--group", default=None, metavar="COLUMN",
                   help="column whose values (e.g. subject) a train/test split never divides "
                        "[default: each recording]")
    p.add_argument("--window", type=int, default=None, metavar="N",
                   help="samples per window (streams) or per clip (audio) [default: chosen "
                        "from the data]")
    p.add_argument("--hop", type=int, default=None, metavar="N",
                   help="samples between window starts [default: half a window]")
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="sampling rate: streams without a time column; WAVs are resampled "
                        "to it [default: inferred]")
    p.add_argument("--test-data", default=None, metavar="PATH",
                   help=("your own test set, used untouched as the test split (no test split is "
                         "cut from --data): a .npz (arrays x, y) or a .csv with the columns of "
                         "--data, or held-out recordings (same layout as the data)") if search
                   else "held-out recordings (same layout as the data) used as the test split")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("features", help="compute the feature stage alone and save it (NPZ)",
                       description="Load recordings (a folder with one subfolder per class of CSV "
                                   "recordings or WAV files, or one CSV with a label column), "
                                   "split them by recording or --group, cut windows, compute "
                                   "the features and save them with their spec. Shows what the "
                                   "feature stage costs on the target.")
    p.add_argument("data", help="folder of recordings or CSV file")
    p.add_argument("--label", default="label",
                   help="label column of a CSV (not used for folders) [default: label]")
    p.add_argument("--out", default=None, help="NPZ to write (x_train, y_train, x_val, y_val, "
                                               "x_test, y_test, labels, spec)")
    p.add_argument("--target", default="nrf52840",
                   help="target whose core and clock price the stage [default: nrf52840]")
    p.add_argument("--seed", type=int, default=0, help="split seed [default: 0]")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_feature_options(p)
    p.set_defaults(func=run)


def _save(path: Path, fs: Any) -> None:
    import numpy as np

    from .._io import atomic_write

    ds = fs.dataset
    buf = io.BytesIO()
    np.savez(buf, x_train=ds.x_train, y_train=ds.y_train, x_val=ds.x_val, y_val=ds.y_val,
             x_test=ds.x_test, y_test=ds.y_test, labels=np.array(ds.labels),
             spec=np.array(json.dumps(fs.fitted.to_dict())))
    atomic_write(path, buf.getvalue())


def run(args: argparse.Namespace) -> int:
    from ..features import load_feature_set
    from ..features.cost import cost_on
    from ..targets import load_target

    out = Path(args.out) if args.out else None
    if out is not None:
        if out.suffix.lower() != ".npz":
            raise DataError(f"--out {out} must end in .npz", hint="e.g. --out feats.npz")
        if out.is_dir():
            raise DataError(f"--out {out} is a folder", hint="pass a file name ending in .npz")
        if out.exists() and not args.force:
            raise DataError(f"--out {out} already exists", hint="pass --force to overwrite it")
    target = load_target(args.target)
    fs = load_feature_set(args.data, label_column=args.label, group_column=args.group,
                          kind=args.features, window=args.window, hop=args.hop, rate=args.rate,
                          test_data=args.test_data, seed=args.seed)
    cost = cost_on(fs.fitted.spec, target)
    if out is not None:
        _save(out, fs)
    ds = fs.dataset
    if args.json:
        print(json.dumps({**fs.report(), "dataset": ds.summary(), "target": target.name,
                          "cost": cost.to_dict(), "out": str(out) if out else None}, indent=2))
        return 0
    w = fs.split["windows"]
    rows = [
        ("data", f"{ds.name}: {len(ds.labels)} classes ({', '.join(ds.labels[:6])}"
                 f"{', ...' if len(ds.labels) > 6 else ''})"),
        ("features", f"{fs.fitted.spec.describe()} -> {ds.kind.value} {ds.input_shape}"),
        ("split", f"by {fs.split['unit']}: {fs.split['train']}/{fs.split['val']}/"
                  f"{fs.split['test']} train/val/test"
                  f"{' (test: --test-data)' if fs.split['held_out_test'] else ''}; "
                  f"windows {w['train']}/{w['val']}/{w['test']}"),
        (f"cost on {target.name}", f"{cost.ram_bytes / KB:.1f} KB RAM, {cost.flash_bytes / KB:.1f} KB "
                                   f"flash ({cost.table_bytes / KB:.1f} KB tables + "
                                   f"{cost.code_bytes / KB:.1f} KB code), ~{cost.cycles:,} cycles = "
                                   f"{cost.latency_ms:.2f} ms per window (analytic estimate)"),
    ]
    if fs.selection:
        sel = fs.selection
        rows.append(("selection", f"{sel['k']} of {sel['candidates']} constructed terms, "
                                  f"stability {sel['stability']:.2f} (Nogueira), accuracy "
                                  f"{sel['accuracy']:.3f}; by k: " + ", ".join(
                                      f"{r['k']}: {r['accuracy']:.3f}/{r['stability']:.2f}"
                                      for r in sel["by_k"])))
    for fix in fs.fixes:
        rows.append(("fixed", fix))
    if out is not None:
        rows.append(("saved", str(out)))
    print_rows("edgeml: feature stage", rows)
    return 0
