"""The examples run: the API notebook headlessly in a real Jupyter kernel and its script,
and the feature-stage examples end to end (tiny search), leaving firmware files with the
feature stage in them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "api"  # the Python API: a notebook and a script


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
    assert "edgeml_predict.h" in done.stdout and (tmp_path / "classical" / "report.json").is_file()


# --------------------------------------------------------------- feature-stage examples


def _needs(example: str) -> str | None:
    if example == "keyword_spotting" and shutil.which("espeak-ng") is None:
        return "espeak-ng"
    if example == "activity_recognition":
        import importlib.util

        if importlib.util.find_spec("sktime") is None:
            return "sktime"
    return None


def test_every_example_has_a_readme_and_a_script():
    for d in sorted(p for p in ROOT.joinpath("examples").iterdir() if p.is_dir()):
        assert (d / "README.md").is_file() and list(d.glob("*.py")), d


@pytest.mark.slow
@pytest.mark.parametrize("example, firmware", [
    ("activity_recognition", "edgeml_features.c"),
    ("keyword_spotting", "edgeml_model/edgeml_features.c"),
    ("tabular_features", "edgeml_features.c"),
])
def test_example_runs(example, firmware, tmp_path):
    missing = _needs(example)
    if missing:
        if os.environ.get("EDGEML_REQUIRE_FEATURE_DATA") == "1":
            pytest.fail(f"{missing} is required (EDGEML_REQUIRE_FEATURE_DATA=1)")
        pytest.skip(f"{missing} is not installed")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / example / "run.py"), "--out",
                           str(tmp_path), "--trials", "1", "--epochs", "1"],
                          capture_output=True, text=True, env=env, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "firmware" / firmware).is_file()
    assert (tmp_path / "feats.npz").is_file()
    assert "edgeml: best model" in proc.stdout
