"""The examples run: the notebook headlessly in a real Jupyter kernel, and the script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "api"


def test_the_notebook_is_kept_small_and_without_outputs():
    import json

    nb = json.loads((EXAMPLES / "digits.ipynb").read_text(encoding="utf-8"))
    assert (EXAMPLES / "digits.ipynb").stat().st_size < 20_000
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "edgeml.search(" in "".join("".join(c["source"]) for c in code)


@pytest.mark.slow
def test_the_notebook_runs_headlessly(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(EXAMPLES / "digits.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("Pareto front" in h and "data:image/png;base64," in h for h in html)  # the run
    assert any("int8 accuracy (test, TFLM)" in h for h in html)  # run.best
    assert any("DEPTHWISE_CONV_2D" in h or "CONV_2D" in h for h in html)  # the profile
    assert any("image/png" in o.get("data", {}) for o in outputs)  # run.plot()


@pytest.mark.slow
def test_the_script_runs(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(EXAMPLES / "digits.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "pareto.png").stat().st_size > 1000
    assert (tmp_path / "firmware" / "model_data.h").is_file()
    assert "compression" in done.stdout and "nrf52840" in done.stdout
