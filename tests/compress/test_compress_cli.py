"""End to end: a search that compresses its chosen model, `edgeml compress` on the finished
run, and `edgeml export` of the run as an ESP-IDF component that compiles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "edgeml"]
STUB = Path(__file__).resolve().parents[1] / "export" / "tflm_stub"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=900)


@pytest.fixture(scope="module")
def compressed_run(tmp_path_factory):
    """A 1-trial search on digits with --structured 0.3, run in-process."""
    from edgeml.pipeline import SearchConfig, run_search

    out = tmp_path_factory.mktemp("compress") / "run"
    events = []
    cfg = SearchConfig(target="esp32", trials=1, epochs=2, seed=0, out=str(out),
                       structured=0.3, max_int8_drop=100.0, models="nn",
                       ensemble=False)
    result = run_search(cfg, on_event=lambda kind, rec: events.append(kind))
    return result, events


@pytest.mark.slow
def test_search_compresses_the_chosen_model(compressed_run):
    from edgeml.tflite.graph import read_graph

    result, events = compressed_run
    run_dir = result.run_dir
    chosen = result.report["chosen"]
    section = chosen["compression"]
    assert events.count("compress_stage") == len(section["stages"]) == 2
    assert [s["stage"] for s in section["stages"]] == ["search model (PTQ int8)",
                                                       "structured pruning 30%"]
    model = (run_dir / "model.tflite").read_bytes()
    assert model == (run_dir / "compress" / "model.tflite").read_bytes()
    assert read_graph(model).macs == section["stages"][1]["macs"] < section["stages"][0]["macs"]
    assert chosen["estimate"]["model_bytes"] == len(model)
    assert chosen["search_estimate"]["macs"] == section["stages"][0]["macs"]
    assert chosen["int8_test_accuracy"] == pytest.approx(section["int8_accuracy"])
    assert (run_dir / "op_resolver.h").is_file() and (run_dir / "compress" / "model.keras").exists()
    assert "## Compression" in (run_dir / "report.md").read_text()


@pytest.mark.slow
def test_compress_and_export_a_finished_run(compressed_run, tmp_path):
    result, _ = compressed_run
    run_dir = result.run_dir
    before = json.loads((run_dir / "report.json").read_text())

    bad = run("compress", str(run_dir), "--structured", "1.5", cwd=tmp_path)
    assert bad.returncode == 2 and "--structured must be more than 0 and less than 1 (got 1.5)" in bad.stderr
    assert json.loads((run_dir / "report.json").read_text()) == before  # untouched

    proc = run("compress", str(run_dir), "--structured", "0.5", "--qat", "--epochs", "2",
               "--max-int8-drop", "100", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout)
    stages = [s["stage"] for s in res["stages"]]
    assert stages == ["search model (PTQ int8)", "structured pruning 50%", "QAT int8"]
    # it starts again from the search's model, not from the earlier compression
    assert res["stages"][0]["macs"] == before["chosen"]["search_estimate"]["macs"]
    assert res["macs_reduction"] > before["chosen"]["compression"]["macs_reduction"]
    after = json.loads((run_dir / "report.json").read_text())
    chosen = next(s for s in res["stages"] if s["stage"] == res["chosen_stage"])
    assert after["chosen"]["compression"]["chosen_stage"] == res["chosen_stage"] != stages[0]
    assert (run_dir / "model.tflite").stat().st_size == chosen["model_bytes"]

    proc = run("export", str(run_dir), "--format", "esp-idf", "--out", "components",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    comp = tmp_path / "components" / "edgeml_model"
    assert (comp / "model_data.cc").read_text() == (run_dir / "model_data.cc").read_text()
    header = (comp / "model_data.h").read_text()
    assert "kNumClasses = 10;" in header and "edgeml model for esp32: digits" in header
    main = tmp_path / "main.cc"
    main.write_text('#include "model_data.h"\n#include "op_resolver.h"\n'
                    "int main() { static ModelOpResolver r; return RegisterModelOps(r); }\n")
    cc = subprocess.run(["g++", "-std=c++11", "-Wall", "-Werror", "-I", str(comp), "-I", str(STUB),
                         str(main), str(comp / "model_data.cc"), "-o", str(tmp_path / "fw")],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    assert subprocess.run([str(tmp_path / "fw")]).returncode == 0
