"""Memory of the search process over many trials.

Runs one edgeml search of ``--trials`` small trials (digits, 1 epoch each) in
this process and prints the resident set size after every trial (read from
/proc, recorded by the tuner), then the growth over the run: the search clears
the Keras session and collects garbage after each candidate, so the RSS
should level off after the first few trials instead of growing with their
number.

    .venv/bin/python benchmarks/search_memory.py            # 50 trials
    .venv/bin/python benchmarks/search_memory.py --trials 20 --json
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = p.parse_args(argv)

    from edgeml.data import load_dataset
    from edgeml.search import EdgeTuner, build_space, make_oracle
    from edgeml.targets import load_target

    ds = load_dataset("digits", seed=args.seed)
    start = rss_mb()
    samples: list[tuple[int, float]] = []

    def on_event(kind: str, rec: dict) -> None:
        if kind == "trained":
            samples.append((len(samples) + 1, rec.get("rss_bytes", 0) / MB))
            if not args.json:
                print(f"  trial {len(samples):3d}: RSS {samples[-1][1]:7.1f} MB", flush=True)

    with tempfile.TemporaryDirectory(prefix="edgeml-mem-") as tmp:
        space = build_space(ds.kind, ds.input_shape, ds.num_classes)
        tuner = EdgeTuner(oracle=make_oracle("random", max_draws=10 * args.trials, seed=args.seed),
                          hypermodel=space, dataset=ds, target=load_target("esp32"),
                          epochs=args.epochs, seed=args.seed, directory=Path(tmp),
                          on_event=on_event)
        t0 = time.perf_counter()
        tuner.search_feasible(trials=args.trials, max_rejects=50)
        wall = time.perf_counter() - t0
    rss = [r for _, r in samples]
    n = len(rss)
    first = rss[min(4, n - 1)]
    last = rss[-1]
    # least-squares slope over the second half of the run (MB per trial)
    half = samples[n // 2:]
    xs = [i for i, _ in half]
    ys = [r for _, r in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs) or 1.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    out = {"trials": n, "epochs": args.epochs, "rss_before_mb": round(start, 1),
           "rss_after_trial_5_mb": round(first, 1), "rss_after_last_trial_mb": round(last, 1),
           "growth_trial_5_to_last_mb": round(last - first, 1),
           "slope_second_half_mb_per_trial": round(slope, 3), "peak_rss_mb": round(peak, 1),
           "wall_s": round(wall, 1), "rss_mb": [round(r, 1) for r in rss]}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print()
    print(f"| trials | RSS before | after trial 5 | after trial {n} | growth 5->{n} | "
          "slope, 2nd half | peak RSS | wall |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {n} | {start:.0f} MB | {first:.0f} MB | {last:.0f} MB | {last - first:+.1f} MB | "
          f"{slope:+.2f} MB/trial | {peak:.0f} MB | {wall:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
