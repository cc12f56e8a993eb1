"""Smoke tests of examples/: each runs end to end (tiny search) and leaves firmware files
with the feature stage in them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _needs(example: str) -> str | None:
    if example == "keyword_spotting" and shutil.which("espeak-ng") is None:
        return "espeak-ng"
    if example == "activity_recognition":
        import importlib.util

        if importlib.util.find_spec("sktime") is None:
            return "sktime"
    return None


def test_every_example_has_a_readme_and_a_script():
    for d in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        assert (d / "README.md").is_file() and (d / "run.py").is_file(), d


@pytest.mark.slow
@pytest.mark.parametrize("example, firmware", [
    ("activity_recognition", "features.c"),
    ("keyword_spotting", "edgeml_model/features.c"),
    ("tabular_features", "features.c"),
])
def test_example_runs(example, firmware, tmp_path):
    missing = _needs(example)
    if missing:
        if os.environ.get("EDGEML_REQUIRE_FEATURE_DATA") == "1":
            pytest.fail(f"{missing} is required (EDGEML_REQUIRE_FEATURE_DATA=1)")
        pytest.skip(f"{missing} is not installed")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(EXAMPLES / example / "run.py"), "--out",
                           str(tmp_path), "--trials", "1", "--epochs", "1"],
                          capture_output=True, text=True, env=env, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "firmware" / firmware).is_file()
    assert (tmp_path / "feats.npz").is_file()
    assert "edgeml: best model" in proc.stdout
