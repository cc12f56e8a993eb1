"""Latency and energy: the shipped profiles reproduce every published measurement,
and calibration recovers known coefficients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeml.cli import main
from edgeml.estimate import estimate_graph
from edgeml.estimate.latency import Measurement, calibrate, predict_ms
from edgeml.estimate.prior import load_prior
from edgeml.targets import LatencyModel, OpCost, load_target
from edgeml.tflite.graph import read_graph

PUBLISHED = Path(__file__).resolve().parents[2] / "edgeml" / "estimate" / "published_latency.json"


def published_rows() -> list[dict]:
    return json.loads(PUBLISHED.read_text())["measurements"]


def variant_of(row: dict) -> str:
    runtime = row["runtime"].lower()
    return "reference" if "reference kernels" in runtime or "no esp-nn" in runtime else ""


def test_every_published_point_within_15_percent(references):
    rows = published_rows()
    assert len(rows) == 7
    for row in rows:
        target = load_target(row["target"]).with_latency(variant_of(row))
        graph = read_graph(references[row["model"]])
        est = estimate_graph(graph, target, arena_bytes=0)
        if "latency_ms" in row:
            err = (est.latency_ms - row["latency_ms"]) / row["latency_ms"]
        else:
            err = (est.energy_uj - row["energy_uj"]) / row["energy_uj"]
        assert abs(err) <= 0.15, (row, est.latency_ms, est.energy_uj)


def test_profiles_say_how_they_were_calibrated():
    for name in ("stm32l4r5", "esp32", "esp32s3"):
        lat = load_target(name).latency
        assert lat.calibrated and lat.calibration["points"], name
    for name, origin in (("nrf52840", "stm32l4r5"), ("stm32f746", "stm32l4r5"),
                         ("rp2040", "stm32l4r5"), ("esp32c3", "esp32")):
        lat = load_target(name).latency
        assert not lat.calibrated and lat.derived_from == origin, name
        assert lat.status == f"derived from {origin}"
    for name in ("esp32", "esp32s3"):
        assert load_target(name).latency_variants["reference"].calibrated


def test_targets_show_prints_the_status(capfd):
    assert main(["targets", "show", "nrf52840"]) == 0
    assert "derived from stm32l4r5" in capfd.readouterr().out


TRUTH = LatencyModel(ops={"CONV_2D": OpCost(3.1, 12.0, 900.0),
                          "FULLY_CONNECTED": OpCost(2.2, 20.0, 400.0),
                          "RESHAPE": OpCost(0.0, 0.5, 150.0)},
                     default=OpCost(0.0, 1.0, 100.0), invoke_overhead=3000.0)
# corpus models made of CONV_2D, FULLY_CONNECTED and RESHAPE only
SUBSET = ["conv_relu", "conv_stride2_valid", "conv_large_kernel", "deep_narrow_conv", "zero_pad",
          "pointwise_only", "mlp_small", "mlp_deep", "mlp_wide", "reshape_dense"]


def test_calibration_recovers_known_coefficients(corpus):
    clock = 100e6
    points = [Measurement(n, read_graph(corpus[n]), predict_ms(TRUTH, read_graph(corpus[n]), clock))
              for n in SUBSET]
    fit = calibrate(points, load_prior(), clock)
    assert fit.level == "coefficients"
    for op, cost in TRUTH.ops.items():
        got = fit.model.ops[op]
        for field in ("mac", "element", "fixed"):
            assert getattr(got, field) == pytest.approx(getattr(cost, field), rel=1e-6, abs=1e-6)
    assert fit.model.invoke_overhead == pytest.approx(3000.0, rel=1e-6)
    assert fit.max_abs_error_pct < 1e-6


def test_calibration_with_noise_stays_close(corpus):
    import numpy as np

    rng = np.random.default_rng(0)
    clock = 100e6
    points = []
    for n in SUBSET:
        g = read_graph(corpus[n])
        points.append(Measurement(n, g, predict_ms(TRUTH, g, clock) * (1 + rng.normal(0, 0.01))))
    fit = calibrate(points, load_prior(), clock)
    assert fit.model.ops["CONV_2D"].mac == pytest.approx(3.1, rel=0.05)
    assert fit.model.ops["FULLY_CONNECTED"].mac == pytest.approx(2.2, rel=0.05)


def test_operator_scales_recovered_on_the_whole_corpus(corpus):
    """With more operator kinds than the points determine coefficient by coefficient,
    the fit keeps the prior's ratios within each kind and recovers one scale per kind."""
    prior = load_prior()
    # operator kinds that only ever appear together cannot be told apart: leave those out
    corpus = {n: d for n, d in corpus.items() if n not in ("max_min_branches", "transposed")}
    kinds = sorted({op for d in corpus.values() for op in read_graph(d).op_names})
    scales = {k: 0.5 + 0.1 * i for i, k in enumerate(kinds)}
    truth = LatencyModel(ops={k: OpCost(prior.op_cost(k).mac * s, prior.op_cost(k).element * s,
                                        prior.op_cost(k).fixed * s) for k, s in scales.items()},
                         default=prior.default, invoke_overhead=prior.invoke_overhead * 2.0)
    clock = 64e6
    points = [Measurement(n, read_graph(d), predict_ms(truth, read_graph(d), clock))
              for n, d in corpus.items()]
    fit = calibrate(points, prior, clock, level="operators")
    for name, point in zip(corpus, fit.points, strict=True):
        assert abs(point["error_pct"]) < 1e-6, name
    assert fit.level == "operators"
    for k in kinds:
        assert fit.model.ops[k].fixed == pytest.approx(truth.ops[k].fixed, rel=1e-5), k
        assert fit.model.ops[k].element == pytest.approx(truth.ops[k].element, rel=1e-5), k


def test_one_measurement_keeps_the_prior_ratios(references):
    prior = load_prior()
    g = read_graph(references["kws_ds_cnn"])
    fit = calibrate([Measurement("kws", g, 100.0)], prior, 80e6)
    assert fit.level == "global" and "underdetermined" in fit.levels_tried["groups"]
    s = fit.scales["*"]
    for op in ("CONV_2D", "FULLY_CONNECTED", "SOFTMAX"):
        assert fit.model.ops[op].mac == pytest.approx(prior.op_cost(op).mac * s)
        assert fit.model.ops[op].fixed == pytest.approx(prior.op_cost(op).fixed * s)
    assert predict_ms(fit.model, g, 80e6) == pytest.approx(100.0)


def test_calibrate_cli_writes_a_profile_that_reproduces_the_data(corpus, tmp_path, capfd):
    clock = load_target("stm32l4r5").clock_hz
    lines = ["model,latency_ms,target"]
    for n in SUBSET:
        (tmp_path / f"{n}.tflite").write_bytes(corpus[n])
        lines.append(f"{n}.tflite,{predict_ms(TRUTH, read_graph(corpus[n]), clock):.9f},stm32l4r5")
    lines.append("mlp_small.tflite,1.0,esp32")  # another target's row is skipped
    csv = tmp_path / "measured.csv"
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "board.toml"
    assert main(["calibrate", "--target", "stm32l4r5", "--measurements", str(csv),
                 "--out", str(out), "--json"]) == 0
    res = json.loads(capfd.readouterr().out)
    assert res["level"] == "coefficients" and res["skipped_rows"] == 1
    board = load_target(out)
    assert board.latency.calibrated and board.name == "stm32l4r5"
    assert board.latency.ops["CONV_2D"].mac == pytest.approx(3.1, rel=1e-4)
    assert board.op_code_bytes == load_target("stm32l4r5").op_code_bytes  # rest kept
    g = read_graph(corpus["deep_narrow_conv"])
    assert estimate_graph(g, board, arena_bytes=0).latency_ms == pytest.approx(
        predict_ms(TRUTH, g, clock), rel=1e-4)


def test_calibrate_fits_active_power_from_energy(references, tmp_path, capfd):
    csv = tmp_path / "m.csv"
    csv.write_text("model,latency_ms,energy_uj\nreference:kws_ds_cnn,200,8000\n")
    out = tmp_path / "b.toml"
    assert main(["calibrate", "--target", "stm32l4r5", "--measurements", str(csv),
                 "--out", str(out)]) == 0
    capfd.readouterr()
    assert load_target(out).active_power_mw == pytest.approx(40.0)


def test_derived_profile(tmp_path, references, capfd):
    out = tmp_path / "nrf.toml"
    assert main(["calibrate", "--target", "nrf52840", "--derive-from", "stm32l4r5",
                 "--note", "same Cortex-M4F core", "--out", str(out)]) == 0
    capfd.readouterr()
    nrf, stm = load_target(out), load_target("stm32l4r5")
    assert nrf.latency.derived_from == "stm32l4r5" and not nrf.latency.calibrated
    g = read_graph(references["kws_ds_cnn"])
    ratio = predict_ms(nrf.latency, g, nrf.clock_hz) / predict_ms(stm.latency, g, stm.clock_hz)
    assert ratio == pytest.approx(stm.clock_hz / nrf.clock_hz)


@pytest.mark.parametrize("content, message", [
    ("model,speed\nx.tflite,1\n", "needs a header with 'model' and 'latency_ms'"),
    ("model,latency_ms\nreference:kws_ds_cnn,-3\n", "must be a positive number"),
    ("model,latency_ms\nreference:kws_ds_cnn,fast\n", "not a number"),
    ("model,latency_ms,target\nreference:kws_ds_cnn,3,esp32\n", "no latency measurements for target"),
    ("model,latency_ms\nmissing.tflite,3\n", "does not exist"),
])
def test_calibrate_bad_measurements(tmp_path, capfd, content, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    assert main(["calibrate", "--target", "stm32l4r5", "--measurements", str(csv),
                 "--out", str(tmp_path / "o.toml")]) == 2
    err = capfd.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.toml").exists()
