"""Real signals for the feature tests: sktime's BasicMotions IMU recordings (read from the
files its wheel ships, without importing sktime) and words spoken by espeak-ng.

Missing sources skip the tests that need them; ``EDGEML_REQUIRE_FEATURE_DATA=1`` (set by
CI) turns the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

CLASSES = ("Standing", "Walking", "Running", "Badminton")
#: 6 channels: 3-axis accelerometer, 3-axis gyroscope; 100 samples at 10 Hz
CHANNELS = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
RATE_HZ = 10.0


def _missing(what: str) -> None:
    if os.environ.get("EDGEML_REQUIRE_FEATURE_DATA") == "1":
        pytest.fail(f"{what} is required (EDGEML_REQUIRE_FEATURE_DATA=1)")
    pytest.skip(f"{what} is not installed")


def basic_motions(part: str = "TRAIN") -> tuple[list[np.ndarray], list[str]]:
    """(recordings (100, 6) float32, labels) of BasicMotions' TRAIN or TEST part."""
    spec = importlib.util.find_spec("sktime")
    if spec is None or spec.origin is None:
        _missing("sktime (its wheel ships BasicMotions)")
    path = Path(spec.origin).parent / "datasets" / "data" / "BasicMotions" / \
        f"BasicMotions_{part}.ts"
    if not path.exists():
        _missing(f"{path}")
    xs, ys = [], []
    in_data = False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower() == "@data":
            in_data = True
            continue
        if not in_data:
            continue
        *dims, label = line.split(":")
        xs.append(np.array([[float(v) for v in d.split(",")] for d in dims], np.float32).T)
        ys.append(label)
    return xs, ys


def write_imu_folder(root: Path, part: str = "TRAIN", *, per_class: int | None = None) -> Path:
    """BasicMotions as a folder of recordings: one subfolder per class, one CSV each."""
    xs, ys = basic_motions(part)
    seen: dict[str, int] = {}
    for x, y in zip(xs, ys, strict=True):
        if per_class is not None and seen.get(y, 0) >= per_class:
            continue
        seen[y] = seen.get(y, 0) + 1
        d = root / y
        d.mkdir(parents=True, exist_ok=True)
        t = np.arange(len(x)) / RATE_HZ
        rows = ["time," + ",".join(CHANNELS)]
        rows += [f"{ti:.3f}," + ",".join(f"{v:.6f}" for v in r) for ti, r in zip(t, x, strict=True)]
        (d / f"{y.lower()}_{seen[y]:02d}.csv").write_text("\n".join(rows) + "\n")
    return root


VOICES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029")
PITCHES = (35, 50, 65)


def espeak_words(root: Path, words: tuple[str, ...] = ("yes", "no", "up", "down"), *,
                 voices: tuple[str, ...] = VOICES, pitches: tuple[int, ...] = PITCHES,
                 by_voice: bool = False) -> Path:
    """A Speech-Commands folder (one subfolder per word) of words spoken by espeak-ng.
    ``by_voice`` names the files VOICE_nohash_PITCH.wav, so splits keep a voice (the
    "speaker") on one side, as Speech Commands does."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        _missing("espeak-ng")
    for w in words:
        d = root / w
        d.mkdir(parents=True, exist_ok=True)
        for v in voices:
            for p in pitches:
                name = f"{v}_nohash_{p}.wav" if by_voice else f"{v}_{p}.wav"
                subprocess.run([exe, "-v", v, "-p", str(p), "-w", str(d / name), w],
                               check=True, capture_output=True)
    return root
