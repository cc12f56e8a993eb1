"""Benches on the virtual board: a .tflite, a base-only DUT, a baseline, a search run end to end."""

from __future__ import annotations

import json

import pytest

from edgeml.cli import main
from edgeml.errors import RegressionError
from edgeml.hil.bench import (
    BenchOptions,
    attach_to_run,
    bench_finalists,
    bench_model,
    bench_run,
    check_regression,
    compare_baseline,
    write_bench,
)

FAST = BenchOptions(window_s=0.05, windows=3, samples=3)
KEYS = ("latency_ms", "latency_spread_ms", "windows", "inferences", "energy_uj", "outputs_match",
        "arena_bytes", "timing")


def test_bench_a_model(board, client_of, small_model, tmp_path):
    from edgeml.estimate import estimate_model
    from edgeml.estimate.arena import measure_arena

    vb = board()
    res = bench_model(client_of(vb), small_model, target=vb.target, options=FAST,
                      partial=tmp_path / "bench.partial.jsonl")
    est = estimate_model(small_model, vb.target)
    assert res.timing == "simulated" and res.extension and res.complete
    assert res.latency_ms == pytest.approx(est.latency_ms, rel=1e-4)   # the simulated clock
    assert len(res.windows) == 3 and res.inferences == sum(w["iterations"] for w in res.windows)
    assert min(w["window_s"] for w in res.windows) >= FAST.window_s
    assert res.outputs_match is True and res.max_abs_output_diff <= 0.0005 + 1e-6
    assert res.arena_bytes == measure_arena(small_model)["bytes"]
    assert res.estimate["arena_basis"].startswith("host") and res.estimate["arena_error_pct"] == 0
    assert res.energy_uj is None and res.average_power_mw is None
    files = write_bench(res, tmp_path)
    data = json.loads(files["bench.json"].read_text())
    assert all(k in data for k in KEYS) and data["energy_uj"] is None
    assert "not measured" in files["bench.md"].read_text()
    assert not (tmp_path / "bench.partial.jsonl").exists()


def test_a_base_only_dut_with_another_model_does_not_match(board, client_of, small_model):
    from edgeml.estimate.zoo import cached_model

    other = cached_model("corpus", "conv_relu")
    vb = board(model=other, base_only=True)
    res = bench_model(client_of(vb), small_model, target=vb.target, options=FAST)
    assert res.extension is False and res.outputs_match is False and res.arena_bytes is None
    assert res.timing == "emulated"   # a pty without the extension: not a device's timer
    assert any("resident model" in n for n in res.notes)


def test_baseline_regression_fails_the_bench(board, client_of, small_model, tmp_path):
    vb = board()
    res = bench_model(client_of(vb), small_model, target=vb.target, options=FAST)
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"latency_ms": res.latency_ms / 1.5, "timing": "simulated"}))
    cmp = compare_baseline(res, base, threshold_pct=10)
    assert cmp["regression"] and cmp["change_pct"] == pytest.approx(50.0)
    with pytest.raises(RegressionError, match=r"latency regressed \+50.0%"):
        check_regression(cmp)
    base.write_text(json.dumps({"latency_ms": res.latency_ms * 0.95, "timing": "simulated"}))
    check_regression(compare_baseline(res, base, threshold_pct=10))  # +5%: fine


def test_cli_bench_virtual_json_and_baseline(small_model, tmp_path, capfd):
    model = tmp_path / "m.tflite"
    model.write_bytes(small_model)
    args = ["bench", str(model), "--target", "stm32l4r5", "--virtual", "--window-s", "0.05",
            "--windows", "3", "--json"]
    assert main(args) == 0
    out = json.loads(capfd.readouterr().out)
    assert all(k in out for k in KEYS) and out["timing"] == "simulated"
    saved = tmp_path / "m-bench" / "bench.json"
    assert json.loads(saved.read_text())["latency_ms"] == out["latency_ms"]
    fast = tmp_path / "fast.json"
    fast.write_text(json.dumps({"latency_ms": out["latency_ms"] / 2}))
    assert main(args + ["--baseline", str(fast), "--out", str(tmp_path / "b2")]) == 1
    err = capfd.readouterr().err
    assert "latency regressed +100.0%" in err and len(err.strip().splitlines()) == 1
    assert main(["bench", str(model), "--target", "stm32l4r5"]) == 2   # neither --port nor --virtual
    assert "--port" in capfd.readouterr().err


@pytest.mark.slow
def test_bench_a_search_run_end_to_end(tiny_run, board, client_of, capsys):
    vb = board(target=__import__("edgeml.targets").targets.load_target("esp32"))
    c = client_of(vb)
    res = bench_run(c, tiny_run, options=FAST)
    assert res.outputs_match and res.accuracy is not None and res.target == "esp32"
    attach_to_run(tiny_run, res)
    report = json.loads((tiny_run / "report.json").read_text())
    assert report["bench"]["latency_ms"] == res.latency_ms and report["bench"]["timing"] == "simulated"
    assert "## Bench on the board" in (tiny_run / "report.md").read_text()
    rows = bench_finalists(c, tiny_run, options=FAST)
    report = json.loads((tiny_run / "report.json").read_text())
    assert rows and len(rows) == len(report["pareto"]) == len(report["bench_finalists"])
    for r in rows:
        assert r["outputs_match"] and r["measured_ms"] == pytest.approx(r["estimated_ms"], rel=1e-3)
    assert "Pareto finalists measured on the board" in (tiny_run / "report.md").read_text()
    # and through the command line, on the run directory
    assert main(["bench", str(tiny_run), "--virtual", "--window-s", "0.05", "--windows", "2",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outputs_match"] and out["accuracy"] is not None
    assert (tiny_run / "bench" / "bench.json").is_file()


@pytest.mark.slow
def test_search_with_port_measures_the_pareto_finalists(board, tmp_path, capsys,
                                                        mlp_space_file):
    from edgeml.targets import load_target

    space = mlp_space_file
    vb = board(target=load_target("esp32"))
    assert main(["search", "--target", "esp32", "--space", str(space), "--trials", "1",
                 "--models", "nn", "--no-ensemble",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--port", vb.path,
                 "--window-s", "0.05", "--windows", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["bench_finalists"]
    assert [r["trial_id"] for r in rows] == out["pareto"]
    for r in rows:
        assert r["timing"] == "simulated" and r["outputs_match"]
        assert r["measured_ms"] == pytest.approx(r["estimated_ms"], rel=1e-3)
    assert "Pareto finalists measured on the board" in (tmp_path / "run" / "report.md").read_text()
