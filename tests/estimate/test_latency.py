"""Latency and energy: the shipped profiles predict published figures they were not fitted
on, they model each platform's default kernel build, and calibration recovers known
coefficients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeml.cli import main
from edgeml.estimate import estimate_graph
from edgeml.estimate.latency import Measurement, calibrate, predict_ms
from edgeml.estimate.measurements import read_measurements
from edgeml.estimate.prior import load_prior
from edgeml.targets import LatencyModel, OpCost, load_target
from edgeml.tflite.graph import read_graph

PUBLISHED = Path(__file__).resolve().parents[2] / "edgeml" / "estimate" / "published_latency.json"
PERSON = "person_detect_mobilenet_v1_025_gray"


def error(estimated: float, published: float) -> float:
    return (estimated - published) / published


def published_ms(target: str, model: str, variant: str = "") -> float:
    rows = [r for r in read_measurements(PUBLISHED) if r.target == target and r.model == model
            and r.variant == variant and r.latency_ms is not None]
    assert len(rows) == 1, (target, model, variant)
    return float(rows[0].latency_ms)


@pytest.mark.parametrize("fit_on, predict", [("kws_ds_cnn", "ad_fc_autoencoder"),
                                             ("ad_fc_autoencoder", "kws_ds_cnn")])
def test_leave_one_out_on_stm32l4r5(references, fit_on, predict):
    """stm32l4r5 has two published latencies of the same kernels (CMSIS-NN) on models of
    different kinds (a DS-CNN and a dense autoencoder). Calibrated on one (a single scale over
    the reference-kernel prior, as a one-point calibration does), the other is predicted to
    -8.1% (KWS -> autoencoder) and +8.8% (the reverse). 15% leaves room for converter changes
    and fails when the prior's dense-to-conv ratio drifts by a few percent more."""
    t = load_target("stm32l4r5")
    fit = calibrate([Measurement(fit_on, read_graph(references[fit_on]),
                                 published_ms("stm32l4r5", fit_on))], load_prior(), t.clock_hz)
    got = predict_ms(fit.model, read_graph(references[predict]), t.clock_hz)
    assert abs(error(got, published_ms("stm32l4r5", predict))) <= 0.15, got


@pytest.fixture(scope="module")
def mobilenet_v3(zoo_dir):
    from edgeml.estimate import zoo

    return read_graph(zoo.cached_model("reference", "mobilenet_v3_small_224", directory=zoo_dir))


def held_back() -> list[dict]:
    return json.loads(PUBLISHED.read_text())["held_back"]["measurements"]


def test_held_back_figures_are_not_in_the_calibration_data():
    fitted = {(r.target, r.model) for r in read_measurements(PUBLISHED)}
    rows = held_back()
    assert len(rows) == 2
    for r in rows:
        assert (r["target"], r["model"]) not in fitted
        assert "esp-nn" in r["source"].lower() and "d45b843c" in r["source"]


@pytest.mark.parametrize("variant, low, high", [("reference", 0.7, 1.3), ("", 1 / 3.5, 1.0)])
def test_esp32s3_predicts_the_held_back_mobilenet_v3(mobilenet_v3, variant, low, high):
    """ESP-NN publishes a second ESP32-S3 model, MobileNetV3-Small 224x224 (58 M MACs): 1434 ms
    with ESP-NN, 26000 ms without, never used for fitting. The profile (fitted on person
    detection, 7 M MACs) predicts 20862 ms for the reference build (-20%: within the +-30%
    stated for calibrated targets) and 490 ms with ESP-NN (-66%, 2.9x too fast). That gap is
    real and documented: MobileNetV3's hard-swish and squeeze-excite operators get less from
    ESP-NN (3.5-3.8x for elementwise add/mul vs 5.5-14x for convolutions in ESP-NN's ESP32-S3
    kernel table; hard-swish is not optimised for the S3 at all) while the
    profile's ratios come from CMSIS-NN, and that figure was measured with the arena in SPIRAM.
    The bound still fails on the regression the esp32c3 profile had (a reference-kernel model
    used for an ESP-NN build: 14x too slow here)."""
    row = next(r for r in held_back() if r["model"] == "mobilenet_v3_small_224"
               and ("no esp-nn" in r["runtime"].lower()) == (variant == "reference"))
    t = load_target("esp32s3").with_latency(variant)
    ratio = estimate_graph(mobilenet_v3, t, arena_bytes=0).latency_ms / row["latency_ms"]
    assert low <= ratio <= high, ratio


@pytest.mark.parametrize("variant, tolerance", [("", 0.40), ("reference", 1.0)])
def test_esp32c3_from_esp32_cycles(references, variant, tolerance):
    """Across cores: ESP-NN builds the same generic C kernels for the ESP32 and the ESP32-C3.
    The ESP32's calibrated cycles at the C3's 160 MHz predict the C3's published person
    detection latency to +34% with ESP-NN (570 vs 426 ms) and +83% without (6126 vs 3355 ms):
    the RV32IMC core needs fewer cycles than the LX6 here, so a profile derived across cores is
    good to a factor of two (as the README says of derived targets), and the C3 is calibrated
    on its own figures instead."""
    esp32, c3 = load_target("esp32").with_latency(variant), load_target("esp32c3")
    got = predict_ms(esp32.latency, read_graph(references[PERSON]), c3.clock_hz)
    assert abs(error(got, published_ms("esp32c3", PERSON, variant))) <= tolerance, got


def test_profiles_model_the_default_kernel_build():
    """A profile's main latency model describes the build users get by default: it is
    calibrated on (or derived from) figures of the default build, never of a reference-kernel
    build; those live in the 'reference' variant (the esp32c3 profile used to be derived from
    ESP32 reference kernels, 14x too slow for esp-tflite-micro's default ESP-NN build)."""
    rows = read_measurements(PUBLISHED)
    for name in ("stm32l4r5", "esp32", "esp32s3", "esp32c3", "nrf52840", "stm32f746",
                 "rp2040", "ethos_u55"):
        target = load_target(name)
        assert target.runtime and "reference" not in target.runtime.lower(), name
        for variant, model in (("", target.latency), *target.latency_variants.items()):
            if model.calibrated:
                for point in model.calibration["points"]:
                    mine = {r.latency_ms for r in rows if r.target == name and r.variant == variant
                            and r.latency_ms is not None
                            and f"reference:{r.model}" == point["name"]}
                    assert mine == {point["measured_ms"]}, (name, variant, point)
            else:
                assert model.calibration["source_variant"] == variant, (name, variant)
    for name in ("esp32", "esp32s3", "esp32c3"):
        assert load_target(name).latency_variants["reference"].calibrated, name


def test_profiles_say_how_they_were_calibrated():
    for name in ("stm32l4r5", "esp32", "esp32s3", "esp32c3"):
        lat = load_target(name).latency
        assert lat.calibrated and lat.calibration["points"], name
    for name, origin in (("nrf52840", "stm32l4r5"), ("stm32f746", "stm32l4r5"),
                         ("rp2040", "stm32l4r5")):
        lat = load_target(name).latency
        assert not lat.calibrated and lat.derived_from == origin, name
        assert lat.status == f"derived from {origin}"


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
