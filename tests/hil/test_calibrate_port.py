"""edgeml calibrate --port: measure the reference models on a board, refit, compare."""

from __future__ import annotations

import json

import pytest

from edgeml.cli import main


@pytest.mark.slow
def test_calibrate_from_a_virtual_board_refits_the_profile(board, tmp_path, capsys):
    from edgeml.estimate.latency import predict_ms
    from edgeml.estimate.measurements import load_row_model
    from edgeml.targets import load_target

    # the board simulates esp32's latency; the profile being calibrated is stm32l4r5's
    vb = board(target=load_target("esp32"))
    out = tmp_path / "cal.toml"
    assert main(["calibrate", "--target", "stm32l4r5", "--port", vb.path, "--window-s", "0.2",
                 "--windows", "2", "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    rows = res["before_after"]
    assert {r["model"] for r in rows} == {"reference:kws_ds_cnn", "reference:ad_fc_autoencoder",
                                          "reference:person_detect_mobilenet_v1_025_gray"}
    esp32, fitted = load_target("esp32"), load_target(str(out))
    for r in rows:
        _, graph = load_row_model(r["model"], tmp_path)
        assert r["measured_ms"] == pytest.approx(predict_ms(esp32.latency, graph, esp32.clock_hz),
                                                 rel=1e-3)
        assert abs(r["before_error_pct"]) > 10          # stm32l4r5's model is not esp32's
        assert abs(r["after_error_pct"]) < 5            # the refit follows the board
        assert r["after_ms"] == pytest.approx(predict_ms(fitted.latency, graph, fitted.clock_hz))
    csv = (tmp_path / "cal-measurements.csv").read_text().splitlines()
    assert csv[0].startswith("model,latency_ms") and len(csv) == 4
    assert "simulated" in fitted.latency.source
