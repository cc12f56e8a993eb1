"""edgeml from Python: search, inspect, compress, export and profile a model for an
ESP32 on scikit-learn's 8x8 digits, with a tiny budget (about a minute on a laptop).

    python examples/api/digits.py [OUT_DIR]

The same steps as the notebook digits.ipynb next to this file.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sklearn.datasets import load_digits

import edgeml


def main(out: Path) -> None:
    print(edgeml.targets()[["core", "mhz", "model_flash_kb", "arena_kb"]])

    digits = load_digits()
    x, y = digits.images[..., None], digits.target  # (1797, 8, 8, 1) images, labels 0-9
    run = edgeml.search(x, y, target="esp32", trials=2, epochs=2, max_ram_kb=32, seed=0,
                        models="nn", ensemble=False, out=out / "run")  # networks only
    print(run)                                   # the summary: chosen model and its costs
    print(run.trials[["status", "int8_val_accuracy", "flash_bytes", "arena_bytes",
                      "latency_ms"]])
    print(run.pareto.index.tolist())             # the trials on the Pareto front
    run.plot().savefig(out / "pareto.png")       # the figure as a file

    run.compress(structured=0.25, epochs=1)      # fewer channels, checked in TFLM
    print(run.best)

    done = run.export("c", out / "firmware")     # model_data.cc/.h, op_resolver.h
    print(done, *done.files, sep="\n  ")

    prof = edgeml.profile(run.best.tflite, target="nrf52840")  # the same model on another board
    print(prof)
    print(prof.layers[["op", "macs", "latency_ms", "share"]])

    assert edgeml.load_run(run.path).best == run.best  # the run, read back from disk

    # Classical models compete too (the default --models): a winner ships as plain C
    # (edgeml_predict), no TensorFlow Lite Micro needed.
    small = edgeml.search(x.reshape(len(x), -1), y, target="esp32", trials=3, seed=0,
                          models="tree,forest,nb", out=out / "classical")
    print(small.best.kind, [p.name for p in small.best.c_files])
    print(small.best.decision)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="edgeml-")))
