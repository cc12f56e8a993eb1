"""Feature-stage benchmark: edgeml with features vs edgeml on raw windows vs a scikit-learn
random forest on flattened raw windows, on real recordings.

* ``basicmotions``: sktime's BasicMotions IMU recordings (4 activities, 6 channels, 10 Hz);
  the 40 TRAIN recordings give train/validation (split by recording), the 40 TEST
  recordings are the held-out test split (``--test-data``).
* ``words``: words spoken by espeak-ng (6 words x 6 voices x 4 pitches, resampled to 16 kHz),
  split by voice (files named VOICE_nohash_PITCH.wav, the Speech Commands convention): the
  test voice is never heard in training.

For each: ``edgeml search`` with the feature kind searched jointly with the model (``auto``),
with the raw window only (``raw``), and a random forest (200 trees) on the same training
windows flattened. Reported: int8 test accuracy (TFLM), flash (model + runtime + feature
stage), RAM (arena + runtime + feature buffers), latency per window (model estimate +
feature stage estimate) on the target. The forest's accuracy is on the same test windows;
its size on a microcontroller is not estimated (it is the baseline for accuracy only).

    python benchmarks/features.py --trials 6 --epochs 20          # both data sets
    python benchmarks/features.py --datasets basicmotions --trials 3 --epochs 10 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "features"))

KB = 1024.0


def prepare(name: str, root: Path) -> tuple[Path, Path | None, str]:
    from realdata import espeak_words, write_imu_folder

    if name == "basicmotions":
        return (write_imu_folder(root / "imu", "TRAIN"), write_imu_folder(root / "imu_test", "TEST"),
                "nrf52840")
    words = ("yes", "no", "up", "down", "stop", "go")
    voices = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan")
    # split by voice: the test voice is never heard in training
    return espeak_words(root / "words", words, voices=voices, pitches=(30, 45, 60, 75),
                        by_voice=True), None, "esp32s3"


def edgeml_row(label: str, data: Path, test: Path | None, target: str, features: str,
               args: Any, out: Path) -> dict[str, Any]:
    from edgeml.errors import EdgeMLError
    from edgeml.pipeline import SearchConfig, run_search

    t0 = time.perf_counter()
    try:
        res = run_search(SearchConfig(target=target, data=str(data), features=features,
                                      test_data=str(test) if test else None, trials=args.trials,
                                      epochs=args.epochs, seed=args.seed, out=str(out)))
    except EdgeMLError as exc:
        return {"method": label, "error": str(exc)}
    rep = res.report
    best, est = rep["chosen"], rep["chosen"]["estimate"]
    feat = rep["features"]
    fc = feat["cost"][target]
    return {"method": label, "features": feat["describe"],
            "int8_test_accuracy": round(best["int8_test_accuracy"], 4),
            "flash_kb": round((est["flash_bytes"] + fc["flash_bytes"]) / KB, 1),
            "ram_kb": round((est["ram_bytes"] + fc["ram_bytes"]) / KB, 1),
            "latency_ms": round(est["latency_ms"] + fc["latency_ms"], 2),
            "feature_latency_ms": round(fc["latency_ms"], 3),
            "seconds": round(time.perf_counter() - t0, 1)}


def forest_row(data: Path, test: Path | None, seed: int) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestClassifier

    from edgeml.data.sources import load_recordings
    from edgeml.features import build_features, default_spec

    recs = load_recordings(data)
    held = load_recordings(test) if test else None
    raw = default_spec(recs, "raw")
    fs = build_features(recs, raw, seed=seed, test_recordings=held)
    ds = fs.dataset
    t0 = time.perf_counter()
    rf = RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)
    rf.fit(np.concatenate([ds.x_train, ds.x_val]).reshape(len(ds.y_train) + len(ds.y_val), -1),
           np.concatenate([ds.y_train, ds.y_val]))
    acc = float(rf.score(ds.x_test.reshape(len(ds.y_test), -1), ds.y_test))
    nodes = sum(t.tree_.node_count for t in rf.estimators_)
    return {"method": "random forest (raw windows, flattened)", "features": raw.describe(),
            "int8_test_accuracy": round(acc, 4), "flash_kb": None, "ram_kb": None,
            "latency_ms": None, "nodes": nodes, "seconds": round(time.perf_counter() - t0, 1)}


def f(v: Any) -> str:
    return "-" if v is None else f"{v}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["basicmotions", "words"],
                   choices=["basicmotions", "words"])
    p.add_argument("--trials", type=int, default=6)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    table: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in args.datasets:
            data, test, target = prepare(name, root / name)
            rows = [edgeml_row("edgeml, features searched (auto)", data, test, target, "auto",
                               args, root / name / "auto"),
                    edgeml_row("edgeml, raw windows", data, test, target, "raw", args,
                               root / name / "raw"),
                    forest_row(data, test, args.seed)]
            table[f"{name} ({target})"] = rows
            print(f"\n{name} on {target}: {args.trials} trials, {args.epochs} epochs", flush=True)
            print(f"  {'method':40s} {'features':46s} {'test acc':>8s} {'flash KB':>9s} "
                  f"{'RAM KB':>7s} {'ms':>7s}")
            for r in rows:
                if "error" in r:
                    print(f"  {r['method']:40s} {r['error']}")
                    continue
                print(f"  {r['method']:40s} {r['features'][:46]:46s} "
                      f"{r['int8_test_accuracy']:8.4f} {f(r['flash_kb']):>9s} "
                      f"{f(r['ram_kb']):>7s} {f(r['latency_ms']):>7s}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
