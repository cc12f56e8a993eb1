"""The feature stage's cycle model against the generated C on an emulated Cortex-M4F:
instructions per call of edgeml_features_float under QEMU (-icount), with the harness
benchmarks/feature_cycles.py fits the model's CYCLES table with."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from realdata import basic_motions

from edgeml.features import FeatureSpec
from edgeml.features.cost import feature_cost

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _bench():
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            if os.environ.get("EDGEML_REQUIRE_QEMU") == "1":
                pytest.fail(f"EDGEML_REQUIRE_QEMU=1 but {tool} is not installed")
            pytest.skip(f"{tool} is not installed (.ci/run installs it)")
    import sys

    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("feature_cycles", BENCH / "feature_cycles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("kind, window", [("fft", 32), ("stats", 64), ("raw", 16)])
def test_cycle_estimate_is_within_half_of_the_emulated_count(kind, window, tmp_path):
    bench = _bench()
    xs, _ = basic_motions()
    windows = np.asarray(xs, np.float32)[:, :window, :]
    extra = {"fft": {"bands": 8}, "stats": {"stats": ("mean", "std", "min", "max", "rms")},
             "raw": {}}[kind]
    spec = FeatureSpec(kind=kind, window=window, hop=window // 2, channels=6, rate=10.0,
                       **extra)
    measured = bench.measure(spec, windows, tmp_path, soft=False)
    estimate = feature_cost(spec, core="cortex-m4f").cycles
    assert measured > 0 and 0.5 <= estimate / measured <= 1.5, (estimate, measured)
