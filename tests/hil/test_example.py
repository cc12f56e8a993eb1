"""The HIL example runs (virtual board) and writes its bench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_example_benches_the_virtual_board(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "hil" / "bench_board.py"),
                           "--window-s", "0.05", "--out", str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "edgeml extension v1, timer=simulated" in proc.stdout
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert out["outputs_match"] is True and out["timing"] == "simulated"
    assert out["latency_ms"] == out["estimated_latency_ms"] or \
        abs(out["latency_ms"] - out["estimated_latency_ms"]) < 1e-3
    assert json.loads((tmp_path / "b" / "bench.json").read_text())["energy_uj"] is None
