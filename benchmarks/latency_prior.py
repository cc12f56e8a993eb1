"""Measure the latency prior: TFLM reference-kernel operator costs on this host.

    .venv/bin/python benchmarks/latency_prior.py [--write] [--jobs N]

Builds edgeml's model corpus and single-operator models (int8, random
weights), times each in the real TFLM interpreter on the host (best of five
rounds), fits every coefficient of the per-operator cost model with
non-negative least squares, and prints the leave-one-out error: each model
predicted by a fit on all the others. ``--write`` stores the fit as
edgeml/estimate/reference_prior.toml (the prior every target calibration
starts from).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
FLOOR_MS = 0.02


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--write", action="store_true", help="write reference_prior.toml")
    args = ap.parse_args()

    from edgeml.estimate import zoo
    from edgeml.estimate.latency import Measurement, calibrate, predict_ms
    from edgeml.estimate.prior import PRIOR_PATH, prior_to_toml, time_model
    from edgeml.estimate.zoo import single_op_names
    from edgeml.targets import LatencyModel, OpCost
    from edgeml.tflite.graph import read_graph

    t0 = time.perf_counter()
    items = [("corpus", n) for n in zoo.corpus_names()]
    items += [("single", n) for n in single_op_names()]
    items += [("reference", n) for n in zoo.REFERENCE_MODELS]
    points = []
    for kind, name in items:
        model = zoo.cached_model(kind, name)
        try:
            seconds = time_model(model)
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"  skipped {kind}:{name}: {exc}", file=sys.stderr, flush=True)
            continue
        ms = seconds * 1e3
        # relative errors, but models of a few microseconds (where the Python call
        # and timer noise are a large part) count less: weight / y = 1 / (y + 20 us)
        points.append(Measurement(name=f"{kind}:{name}", graph=read_graph(model),
                                  latency_ms=ms, weight=ms / (ms + FLOOR_MS)))
        print(f"  timed {kind}:{name:36s} {seconds * 1e6:10.1f} us", file=sys.stderr, flush=True)
    flat = LatencyModel(ops={}, default=OpCost(mac=1.0, element=1.0, fixed=100.0),
                        invoke_overhead=1000.0)
    clock = 1e9  # host nanoseconds = cycles of a 1 GHz clock
    fit = calibrate(points, flat, clock, level="coefficients",
                    source="measured: TFLM reference kernels timed on the host")
    print(f"fit level {fit.level} on {len(points)} models; "
          f"in-sample max |error| {fit.max_abs_error_pct:.1f}%")

    # leave-one-out: the cost-model form on an unseen model, all coefficients known
    errors = []
    for i, p in enumerate(points):
        rest = points[:i] + points[i + 1:]
        try:
            f = calibrate(rest, flat, clock, level="coefficients")
        except Exception:  # noqa: BLE001 - the left-out model may be the only one of its kind
            continue
        pred = predict_ms(f.model, p.graph, clock)
        errors.append((abs(pred - p.latency_ms) / p.latency_ms * 100, p.name))
    big = sorted(e for e, name in errors
                 if next(p for p in points if p.name == name).latency_ms >= 0.1)
    errs = sorted(e for e, _ in errors)
    print(f"leave-one-out |error| over {len(errs)} models: median {statistics.median(errs):.1f}%, "
          f"90th percentile {errs[int(0.9 * (len(errs) - 1))]:.1f}%, max {errs[-1]:.1f}% "
          f"({max(errors)[1]})")
    print(f"leave-one-out |error| on the {len(big)} models of 100 us or more: median "
          f"{statistics.median(big):.1f}%, 90th percentile {big[int(0.9 * (len(big) - 1))]:.1f}%, "
          f"max {big[-1]:.1f}%")
    print(f"host: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}; "
          f"{time.perf_counter() - t0:.0f} s")
    if args.write:
        model = fit.model
        from dataclasses import replace

        model = replace(model, calibration={
            "method": "NNLS on relative errors, every coefficient free",
            "models": len(points),
            "in_sample_max_error_pct": round(fit.max_abs_error_pct, 2),
            "loo_median_error_pct": round(statistics.median(errs), 2),
            "loo_max_error_pct": round(errs[-1], 2),
            "loo_median_error_pct_100us": round(statistics.median(big), 2),
            "loo_p90_error_pct_100us": round(big[int(0.9 * (len(big) - 1))], 2),
            "loo_max_error_pct_100us": round(big[-1], 2),
            "weighting": "relative error, weight / y = 1 / (y + 20 us)",
            "host": f"{platform.machine()}, tflite-micro reference kernels",
        })
        header = ("# edgeml latency prior: TFLM reference-kernel costs measured on the host\n"
                  "# (benchmarks/latency_prior.py --write). Units: host nanoseconds (cycles of\n"
                  "# a 1 GHz clock); only the ratios between operators matter.")
        PRIOR_PATH.write_text(prior_to_toml(model, header=header), encoding="utf-8")
        print(f"wrote {PRIOR_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
