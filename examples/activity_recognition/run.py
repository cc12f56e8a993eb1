"""Activity recognition from IMU streams: BasicMotions (4 activities, 3-axis accelerometer +
gyroscope at 10 Hz) -> edgeml's feature stage + model search for an nRF52840 -> C export.

    python examples/activity_recognition/run.py --out /tmp/har [--trials 6 --epochs 20]

Needs sktime's wheel for the recordings (`pip install --no-deps sktime`).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

CHANNELS = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")


def basic_motions(part: str) -> list[tuple[np.ndarray, str]]:
    spec = importlib.util.find_spec("sktime")
    if spec is None or spec.origin is None:
        sys.exit("install sktime for the BasicMotions recordings: pip install --no-deps sktime")
    path = Path(spec.origin).parent / "datasets/data/BasicMotions" / f"BasicMotions_{part}.ts"
    out, data = [], False
    for line in path.read_text().splitlines():
        if line.strip().lower() == "@data":
            data = True
        elif data and line.strip():
            *dims, label = line.strip().split(":")
            out.append((np.array([[float(v) for v in d.split(",")] for d in dims]).T, label))
    return out


def write_folder(root: Path, part: str) -> Path:
    """One subfolder per activity, one CSV (time + 6 channels) per recording."""
    for k, (x, label) in enumerate(basic_motions(part)):
        (root / label).mkdir(parents=True, exist_ok=True)
        rows = ["time," + ",".join(CHANNELS)] + [
            f"{i / 10:.1f}," + ",".join(f"{v:.6f}" for v in r) for i, r in enumerate(x)]
        (root / label / f"rec{k:03d}.csv").write_text("\n".join(rows) + "\n")
    return root


def edgeml(*args: str) -> None:
    print("$ edgeml " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "edgeml", *args], check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="har-example")
    p.add_argument("--trials", type=int, default=6)
    p.add_argument("--epochs", type=int, default=20)
    a = p.parse_args()
    out = Path(a.out)
    imu = write_folder(out / "imu", "TRAIN")
    held_out = write_folder(out / "imu_test", "TEST")
    edgeml("features", str(imu), "--out", str(out / "feats.npz"), "--force")
    edgeml("search", "--target", "nrf52840", "--data", str(imu), "--test-data", str(held_out),
           "--trials", str(a.trials), "--epochs", str(a.epochs), "--out", str(out / "run"))
    edgeml("export", str(out / "run"), "--format", "c", "--out", str(out / "firmware"), "--force")


if __name__ == "__main__":
    main()
