"""Memory of the search process over many trials.

Runs one edgeml search of ``--trials`` small trials (digits, 1 epoch each) and
prints, after every trial, the resident set size of the search process and of
its trial worker (read from /proc, recorded in the trial records), then the
growth over the run. The search process keeps only the oracle and the records,
so its RSS should stay flat; the worker, which builds, converts and trains the
candidates, is replaced once it has grown by ``EDGEML_WORKER_RECYCLE_MB``
(default 256 MB), so the sum of both stays bounded too. Both processes map the same
TensorFlow libraries, so adding their RSS would count those pages twice; the
"both" row adds to the search process's RSS only the worker's private memory
(USS: Private_Clean + Private_Dirty of /proc/PID/smaps_rollup), read when each
trial has been recorded. ``--in-process`` runs the trials in the search process
instead, for comparison.

    .venv/bin/python benchmarks/search_memory.py            # 50 trials
    .venv/bin/python benchmarks/search_memory.py --trials 20 --json
    .venv/bin/python benchmarks/search_memory.py --in-process
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MB = 1024 * 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def uss_mb(pid: int) -> float:
    """Unique set size: the pages only this process maps (what ending it would free)."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total / 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the measurements as JSON")
    p.add_argument("--in-process", action="store_true",
                   help="train in the search process (no worker), as a baseline")
    args = p.parse_args(argv)

    from edgeml.data import load_dataset
    from edgeml.search import EdgeTuner, build_space, make_oracle
    from edgeml.targets import load_target

    ds = load_dataset("digits", seed=args.seed)
    start = rss_mb()
    parent: list[float] = []
    worker: list[float] = []
    both: list[float] = []
    tuner = None

    def on_event(kind: str, rec: dict) -> None:
        if kind == "trained":
            parent.append(rec.get("rss_bytes", 0) / MB)
            worker.append(rec.get("worker_rss_bytes", 0) / MB)
            proc = getattr(getattr(tuner, "runner", None), "proc", None)
            both.append(parent[-1] + (uss_mb(proc.pid) if proc is not None else 0.0))
            if not args.json:
                print(f"  trial {len(parent):3d}: RSS search process {parent[-1]:7.1f} MB, "
                      f"worker {worker[-1]:7.1f} MB; both {both[-1]:7.1f} MB", flush=True)

    with tempfile.TemporaryDirectory(prefix="edgeml-mem-") as tmp:
        space = build_space(ds.kind, ds.input_shape, ds.num_classes)
        tuner = EdgeTuner(oracle=make_oracle("random", max_draws=10 * args.trials, seed=args.seed),
                          hypermodel=space, dataset=ds, target=load_target("esp32"),
                          epochs=args.epochs, seed=args.seed, directory=Path(tmp),
                          on_event=on_event, isolate=not args.in_process)
        t0 = time.perf_counter()
        tuner.search_feasible(trials=args.trials, max_rejects=50)
        wall = time.perf_counter() - t0
        starts = getattr(tuner.runner, "starts", 0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    out = {"trials": len(parent), "epochs": args.epochs,
           "mode": "in-process" if args.in_process else "worker",
           "worker_starts": starts, "rss_before_mb": round(start, 1),
           "search_process": growth(parent), "search_process_peak_mb": round(peak, 1),
           "worker": growth(worker) if any(worker) else None,
           "worker_max_mb": round(max(worker), 1) if worker else 0.0,
           "search_process_plus_worker_uss": growth(both),
           "wall_s": round(wall, 1),
           "rss_mb": [round(r, 1) for r in parent], "worker_rss_mb": [round(r, 1) for r in worker]}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    n = len(parent)
    print()
    print(f"mode: {out['mode']}, {n} trials x {args.epochs} epoch(s), worker starts: {starts}, "
          f"wall {wall:.0f} s")
    print(f"| memory | after trial 5 | after trial {n} | max | growth 5->{n} | slope, 2nd half |")
    print("|---|---|---|---|---|---|")
    rows = [("RSS, search process", out["search_process"])]
    if out["worker"]:
        rows += [("RSS, trial worker", out["worker"])]
        rows += [("both (RSS + worker USS)", out["search_process_plus_worker_uss"])]
    for name, g in rows:
        print(f"| {name} | {g['after_trial_5_mb']:.0f} MB | {g['after_last_trial_mb']:.0f} MB | "
              f"{g['max_mb']:.0f} MB | {g['growth_trial_5_to_last_mb']:+.1f} MB | "
              f"{g['slope_second_half_mb_per_trial']:+.2f} MB/trial |")
    return 0


def growth(rss: list[float]) -> dict[str, float]:
    """RSS after trial 5 and after the last trial, the maximum, and the least-squares
    slope over the second half of the run (MB per trial)."""
    n = len(rss)
    first, last = rss[min(4, n - 1)], rss[-1]
    xs = list(range(n // 2 + 1, n + 1))
    ys = rss[n // 2:]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs) or 1.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
    return {"after_trial_5_mb": round(first, 1), "after_last_trial_mb": round(last, 1),
            "max_mb": round(max(rss), 1), "growth_trial_5_to_last_mb": round(last - first, 1),
            "slope_second_half_mb_per_trial": round(slope, 3)}


if __name__ == "__main__":
    sys.exit(main())
