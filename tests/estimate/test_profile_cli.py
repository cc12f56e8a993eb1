"""`edgeml profile`: the JSON contract, the table, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgeml.cli import main

KEYS = {"target", "fits", "flash_bytes", "ram_bytes", "arena_bytes", "latency_ms", "energy_uj",
        "macs", "ops", "unsupported_ops", "violations", "layers"}


def profile_json(capfd, *args: str) -> dict:
    assert main(["profile", *args, "--json"]) == 0
    return json.loads(capfd.readouterr().out)


def test_json_keys_and_values_on_a_reference_model(tmp_path, references, capfd):
    path = tmp_path / "kws.tflite"
    path.write_bytes(references["kws_ds_cnn"])
    rep = profile_json(capfd, str(path), "--target", "stm32l4r5")
    assert KEYS <= set(rep)
    assert rep["target"] == "stm32l4r5" and rep["fits"] is True
    assert rep["macs"] == 2_664_780
    assert rep["ops"] == ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED",
                          "SOFTMAX"]
    assert rep["unsupported_ops"] == [] and all(v <= 0 for v in rep["violations"].values())
    assert len(rep["layers"]) == 12
    assert {"op", "macs", "latency_ms"} <= set(rep["layers"][0])
    assert rep["layers"][1]["layer"] == "dw1"
    assert abs(sum(layer["latency_ms"] for layer in rep["layers"]) - rep["latency_ms"]) \
        < 0.05 * rep["latency_ms"]
    # RAM = arena + runtime; flash = model + kernels' code
    assert rep["ram_bytes"] > rep["arena_bytes"] > 20_000
    assert rep["flash_bytes"] == rep["model_bytes"] + rep["code_bytes"]
    assert rep["energy_uj"] == pytest.approx(rep["latency_ms"] * 40.54, rel=0.01)
    assert rep["source"] == "tflm" and rep["arena"]["adjustment_bytes"] > 0


def test_json_on_a_trained_digits_model_and_a_limit(tmp_path, digits_int8, capfd):
    path = tmp_path / "digits.tflite"
    path.write_bytes(digits_int8)
    rep = profile_json(capfd, str(path), "--target", "esp32", "--max-latency-ms", "0.001")
    assert rep["fits"] is False
    assert rep["violations"]["max_latency_ms"] > 0
    assert any("latency" in b for b in rep["broken"])


def test_table_names_operators_and_totals(tmp_path, references, capfd):
    path = tmp_path / "ad.tflite"
    path.write_bytes(references["ad_fc_autoencoder"])
    assert main(["profile", str(path), "--target", "stm32l4r5"]) == 0
    out = capfd.readouterr().out
    assert "FULLY_CONNECTED" in out and "arena" in out and "latency" in out and "fits" in out


def test_a_broken_limit_is_named_by_its_option(tmp_path, references, capfd):
    path = tmp_path / "ad.tflite"
    path.write_bytes(references["ad_fc_autoencoder"])
    assert main(["profile", str(path), "--target", "stm32l4r5", "--max-flash-kb", "1"]) == 0
    out = " ".join(capfd.readouterr().out.split())  # the table may wrap
    assert "limit is 1.0 KB (--max-flash-kb)" in out and "max_model_bytes" not in out
    assert main(["profile", str(path), "--target", "stm32l4r5", "--max-ram-kb", "0"]) == 2
    assert "--max-ram-kb must be more than 0 KB (got 0 KB)" in capfd.readouterr().err


@pytest.fixture(scope="module")
def float_model(tmp_path_factory) -> bytes:
    from edgeml._tf import keras, tf

    k = keras()
    i = k.Input((4,))
    conv = tf().lite.TFLiteConverter.from_keras_model(k.Model(i, k.layers.Dense(2)(i)))
    return bytes(conv.convert())


def test_bad_inputs_fail_with_one_line_and_exit_2(tmp_path, references, float_model, capfd):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"this is not a model at all")
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(references["kws_ds_cnn"][:2000])
    flt = tmp_path / "float.tflite"
    flt.write_bytes(float_model)
    good = tmp_path / "good.tflite"
    good.write_bytes(references["kws_ds_cnn"])
    cases = [
        ([str(junk), "--target", "esp32"], "not a TensorFlow Lite flatbuffer"),
        ([str(cut), "--target", "esp32"], "truncated or corrupted"),
        ([str(flt), "--target", "esp32"], "not a full-int8 model"),
        ([str(good), "--target", "esp99"], "unknown target 'esp99'"),
        ([str(tmp_path / "missing.tflite"), "--target", "esp32"], "does not exist"),
        ([str(good), "--target", "esp32", "--kernels", "nope"], "no latency variant 'nope'"),
    ]
    for args, message in cases:
        assert main(["profile", *args]) == 2, args
        err = capfd.readouterr().err.strip()
        assert message in err, (args, err)
        assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_command_line_entry_point(tmp_path, references):
    path = tmp_path / "pd.tflite"
    path.write_bytes(references["person_detect_mobilenet_v1_025_gray"])
    proc = subprocess.run([sys.executable, "-m", "edgeml", "profile", str(path), "--target",
                           "esp32s3", "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["latency_ms"] == pytest.approx(54, rel=0.15)  # published with ESP-NN
    proc = subprocess.run([sys.executable, "-m", "edgeml", "profile", str(path), "--target",
                           "esp32s3", "--kernels", "reference", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert json.loads(proc.stdout)["latency_ms"] == pytest.approx(2300, rel=0.15)
