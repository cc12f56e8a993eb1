"""How right are edgeml's estimates, and how fast is `edgeml profile`?

    .venv/bin/python benchmarks/estimates.py [--arena] [--json]

1. Every published calibration point (edgeml/estimate/published_latency.json):
   published vs estimated latency (or energy) with the shipped profiles.
2. Figures the profiles were not fitted on: leave-one-out on stm32l4r5 (the
   one target with two published latencies of different model types in its
   calibration data: calibrate on one model, predict the other); the held-back
   esp32s3 MobileNetV3-Small figures (``held_back`` in the JSON file); the
   esp32c3 figures predicted from the ESP32's cycles at 160 MHz (the same
   generic ESP-NN C kernels on another core). This is the error to expect on
   an unseen model when a target is calibrated on a single point.
3. The host measurement behind the latency prior: leave-one-out error of the
   cost model over the model corpus (every coefficient known).
4. `edgeml profile` wall time on the ~300 KB person-detection model, cold (an
   empty cache: TFLM runs in a child process) and cached.
5. With --arena: analytic arena vs TFLM on the generated corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def published_points() -> list[dict]:
    from edgeml.estimate import estimate_graph, zoo
    from edgeml.estimate.measurements import read_measurements
    from edgeml.targets import load_target
    from edgeml.tflite.graph import read_graph

    path = Path(zoo.__file__).with_name("published_latency.json")
    rows = []
    for r in read_measurements(path):
        target = load_target(r.target).with_latency(r.variant)
        graph = read_graph(zoo.cached_model("reference", r.model))
        est = estimate_graph(graph, target, arena_bytes=0)
        if r.latency_ms is not None:
            kind, published, estimated = "latency ms", r.latency_ms, est.latency_ms
        else:
            kind, published, estimated = "energy uJ", r.energy_uj, est.energy_uj
        rows.append({"target": r.target, "kernels": r.variant or "default", "model": r.model,
                     "quantity": kind, "published": published, "estimated": estimated,
                     "error_pct": (estimated - published) / published * 100,
                     "status": target.latency.status})
    return rows


def leave_one_out_stm32() -> list[dict]:
    from edgeml.estimate import zoo
    from edgeml.estimate.latency import Measurement, calibrate, predict_ms
    from edgeml.estimate.prior import load_prior
    from edgeml.targets import load_target
    from edgeml.tflite.graph import read_graph

    t = load_target("stm32l4r5")
    pts = {"kws_ds_cnn": 181.9, "ad_fc_autoencoder": 10.05}
    graphs = {m: read_graph(zoo.cached_model("reference", m)) for m in pts}
    out = []
    for fit_on, held in (("kws_ds_cnn", "ad_fc_autoencoder"), ("ad_fc_autoencoder", "kws_ds_cnn")):
        fit = calibrate([Measurement(fit_on, graphs[fit_on], pts[fit_on])], load_prior(),
                        t.clock_hz)
        pred = predict_ms(fit.model, graphs[held], t.clock_hz)
        out.append({"fit_on": fit_on, "predict": held, "published": pts[held], "estimated": pred,
                    "error_pct": (pred - pts[held]) / pts[held] * 100})
    return out


def held_back_points() -> list[dict]:
    from edgeml.estimate import estimate_graph, zoo
    from edgeml.targets import load_target
    from edgeml.tflite.graph import read_graph

    path = Path(zoo.__file__).with_name("published_latency.json")
    out = []
    for r in json.loads(path.read_text())["held_back"]["measurements"]:
        variant = "reference" if "no esp-nn" in r["runtime"].lower() else ""
        target = load_target(r["target"]).with_latency(variant)
        graph = read_graph(zoo.cached_model("reference", r["model"]))
        est = estimate_graph(graph, target, arena_bytes=0).latency_ms
        out.append({"target": r["target"], "kernels": variant or "default", "model": r["model"],
                    "published": r["latency_ms"], "estimated": est,
                    "error_pct": (est - r["latency_ms"]) / r["latency_ms"] * 100})
    return out


def cross_core_esp32c3() -> list[dict]:
    from edgeml.estimate import zoo
    from edgeml.estimate.latency import predict_ms
    from edgeml.targets import load_target
    from edgeml.tflite.graph import read_graph

    graph = read_graph(zoo.cached_model("reference", "person_detect_mobilenet_v1_025_gray"))
    published = {"": 426.0, "reference": 3355.0}
    c3 = load_target("esp32c3")
    out = []
    for variant, pub in published.items():
        est = predict_ms(load_target("esp32").with_latency(variant).latency, graph, c3.clock_hz)
        out.append({"kernels": variant or "default", "published": pub, "estimated": est,
                    "error_pct": (est - pub) / pub * 100})
    return out


def profile_timing() -> dict:
    from edgeml.estimate import zoo

    model = zoo.cached_model("reference", "person_detect_mobilenet_v1_025_gray")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "person_detect.tflite"
        path.write_bytes(model)
        env = dict(os.environ, EDGEML_CACHE_DIR=str(Path(tmp) / "cache"))
        cmd = [sys.executable, "-m", "edgeml", "profile", str(path), "--target", "esp32s3", "--json"]
        import resource

        times, cpu = [], []
        for _ in range(2):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
            times.append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
            if proc.returncode != 0:
                raise SystemExit(proc.stderr)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import edgeml.cli"], env=env, check=True)
        startup = time.perf_counter() - t0
        # in-process, as the search calls it
        os.environ["EDGEML_CACHE_DIR"] = str(Path(tmp) / "cache2")
        from edgeml.estimate import estimate_model
        from edgeml.targets import load_target

        target = load_target("esp32s3")
        t0 = time.perf_counter()
        estimate_model(model, target)
        cold_lib = time.perf_counter() - t0
        t0 = time.perf_counter()
        estimate_model(model, target)
        cached_lib = time.perf_counter() - t0
    return {"model_bytes": len(model), "cli_cold_s": times[0], "cli_cached_s": times[1],
            "cli_cold_cpu_s": cpu[0], "cli_cached_cpu_s": cpu[1], "load_average": os.getloadavg()[0],
            "python_import_s": startup, "library_cold_s": cold_lib, "library_cached_s": cached_lib}


def arena_table() -> list[dict]:
    from edgeml.estimate import zoo
    from edgeml.estimate.arena import analytic_arena, measure_arena
    from edgeml.tflite.graph import read_graph

    rows = []
    for kind, names in (("corpus", zoo.corpus_names()), ("reference", list(zoo.REFERENCE_MODELS))):
        for n in names:
            data = zoo.cached_model(kind, n)
            m = measure_arena(data)
            a = analytic_arena(read_graph(data))[0]
            rows.append({"model": n, "tflm": m["bytes"], "recorded_total": m["total"],
                         "analytic": a, "error_pct": (a - m["bytes"]) / m["bytes"] * 100})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description="published vs estimated; profile timing")
    ap.add_argument("--arena", action="store_true", help="also compare arenas on the corpus")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from edgeml.estimate.prior import load_prior

    result = {"published": published_points(), "leave_one_out_stm32l4r5": leave_one_out_stm32(),
              "held_back": held_back_points(), "esp32c3_from_esp32": cross_core_esp32c3(),
              "host_prior": load_prior().calibration, "profile_timing": profile_timing()}
    if args.arena:
        result["arena"] = arena_table()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("Published calibration points vs edgeml's shipped profiles (fitted on these: "
          "exact by construction)")
    print(f"{'target':10s} {'kernels':9s} {'model':36s} {'quantity':10s} {'published':>10s} "
          f"{'estimated':>10s} {'error':>8s}")
    for r in result["published"]:
        print(f"{r['target']:10s} {r['kernels']:9s} {r['model']:36s} {r['quantity']:10s} "
              f"{r['published']:10.2f} {r['estimated']:10.2f} {r['error_pct']:+7.1f}%")
    print("\nLeave-one-out on stm32l4r5 (calibrate on one model, predict the other)")
    for r in result["leave_one_out_stm32l4r5"]:
        print(f"  fit on {r['fit_on']:18s} predict {r['predict']:18s} published {r['published']:7.2f} "
              f"ms, estimated {r['estimated']:7.2f} ms ({r['error_pct']:+.0f}%)")
    print("\nHeld-back figures (never fitted) vs the shipped profiles")
    for r in result["held_back"]:
        print(f"  {r['target']:8s} {r['kernels']:9s} {r['model']:24s} published {r['published']:8.0f} "
              f"ms, estimated {r['estimated']:8.0f} ms ({r['error_pct']:+.0f}%)")
    print("\nesp32c3 person detection from the ESP32's calibrated cycles at 160 MHz")
    for r in result["esp32c3_from_esp32"]:
        print(f"  {r['kernels']:9s} published {r['published']:6.0f} ms, estimated "
              f"{r['estimated']:6.0f} ms ({r['error_pct']:+.0f}%)")
    hp = result["host_prior"]
    print(f"\nHost prior (TFLM reference kernels timed on {hp.get('models')} models): leave-one-out "
          f"|error| on the models of 100 us or more: median {hp.get('loo_median_error_pct_100us')}%, "
          f"90th percentile {hp.get('loo_p90_error_pct_100us')}%, max {hp.get('loo_max_error_pct_100us')}%")
    t = result["profile_timing"]
    print(f"\n`edgeml profile` on a {t['model_bytes'] / 1024:.0f} KB model (host load average "
          f"{t['load_average']:.1f}): cold {t['cli_cold_s']:.2f} s wall / {t['cli_cold_cpu_s']:.2f} s CPU, "
          f"cached {t['cli_cached_s']:.2f} s wall / {t['cli_cached_cpu_s']:.2f} s CPU (starting Python "
          f"and importing edgeml.cli: {t['python_import_s']:.2f} s); library call: cold "
          f"{t['library_cold_s']:.2f} s, cached {t['library_cached_s'] * 1e3:.1f} ms")
    if args.arena:
        rows = result["arena"]
        worst = max(rows, key=lambda r: abs(r["error_pct"]))
        short = sum(r["recorded_total"] < r["tflm"] for r in rows)
        print(f"\nArena on {len(rows)} models: analytic vs TFLM max |error| {abs(worst['error_pct']):.2f}% "
              f"({worst['model']}); recorded total below the smallest working arena on {short} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
