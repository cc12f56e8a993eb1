"""Tabular feature construction and stable selection: scikit-learn's wine measurements
(13 chemical measurements, 3 cultivars) -> ratios, products and differences of column pairs,
a subset chosen for stability across resamples (Nogueira et al. 2018) -> model search for an
STM32L4R5.

    python examples/tabular_features/run.py --out /tmp/wine [--trials 4 --epochs 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def edgeml(*args: str) -> None:
    print("$ edgeml " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "edgeml", *args], check=True)


def main() -> None:
    from sklearn.datasets import load_wine

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="wine-example")
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=30)
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame.to_csv(out / "wine.csv", index=False)
    edgeml("features", str(out / "wine.csv"), "--label", "cultivar", "--features", "tabular",
           "--target", "stm32l4r5", "--out", str(out / "feats.npz"), "--force")
    edgeml("search", "--target", "stm32l4r5", "--data", str(out / "wine.csv"), "--label",
           "cultivar", "--features", "tabular", "--trials", str(a.trials), "--epochs",
           str(a.epochs), "--out", str(out / "run"))
    edgeml("export", str(out / "run"), "--format", "c", "--out", str(out / "firmware"), "--force")


if __name__ == "__main__":
    main()
