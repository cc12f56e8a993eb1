"""``edgeml export model.tflite --target T`` where tflite-micro cannot be imported (the
README's fallback): the arena is planned analytically for the target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Installed first on sys.path by PYTHONPATH: Python imports it at start-up, and from
# then on every import of tflite_micro fails, as on a host without the wheel.
NO_TFLM = '''
import importlib.abc
import sys


class _NoTFLiteMicro(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tflite_micro" or name.startswith("tflite_micro."):
            raise ModuleNotFoundError("No module named 'tflite_micro' (hidden by the test)")
        return None


sys.meta_path.insert(0, _NoTFLiteMicro())
'''


def test_export_a_tflite_file_on_a_host_without_tflite_micro(tmp_path, digits_tflite):
    from edgeml.estimate import read_graph
    from edgeml.estimate.arena import arena_estimate
    from edgeml.targets import load_target

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_TFLM)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]),
               EDGEML_CACHE_DIR=str(tmp_path / "cache"))  # no arena measured earlier
    probe = subprocess.run([sys.executable, "-c", "import tflite_micro.python.tflite_micro"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "hidden by the test" in probe.stderr

    proc = subprocess.run([sys.executable, "-m", "edgeml", "export", str(digits_tflite),
                           "--target", "esp32", "--out", str(tmp_path / "out"), "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    model = digits_tflite.read_bytes()
    esp32 = load_target("esp32")  # its runtime's kernels (ESP-NN) count in the arena
    planned = arena_estimate(model, read_graph(model), pointer_bytes=4, kernels=esp32.kernels,
                             core=esp32.core, measure=False)
    assert planned.source == "analytic" and planned.bytes > 0
    assert res["arena_bytes_measured"] == planned.bytes
    header = (tmp_path / "out" / "model_data.h").read_text()
    assert f"kTensorArenaMeasured = {planned.bytes};" in header
    assert "planned analytically for esp32 (32-bit pointers" in header
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*arena*"))
