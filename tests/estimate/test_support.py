"""Operator support: a model with an operator outside the target's runtime does not fit,
and the message names the operator and the Keras layer that produced it."""

from __future__ import annotations

import json

import pytest

from edgeml.cli import main
from edgeml.estimate import describe_violation, estimate_model, feasible, violations
from edgeml.targets import load_target


@pytest.fixture(scope="module")
def gelu_model() -> bytes:
    from edgeml._tf import keras, set_seed
    from edgeml.estimate.zoo import to_int8

    k = keras()
    set_seed(0)
    i = k.Input((16,))
    x = k.layers.Dense(8, activation="gelu", name="gelu_dense")(i)
    return to_int8(k.Model(i, k.layers.Dense(2, name="head")(x)))


def test_unsupported_operator_is_named_with_its_layer(gelu_model):
    target = load_target("stm32l4r5")
    assert "GELU" not in target.ops
    est = estimate_model(gelu_model, target)
    assert est.unsupported_ops == ("GELU",)
    assert est.unsupported_layers == ("gelu_dense",)
    v = violations(target, est)
    assert v["unsupported_ops"] == 1 and not feasible(v)
    msg = describe_violation("unsupported_ops", v["unsupported_ops"], est, target)
    assert "GELU" in msg and "gelu_dense" in msg and "stm32l4r5" in msg
    assert est.arena_bytes > 0 and est.source == "analytic"  # TFLM is not asked to run it


def test_supported_when_the_profile_lists_it(gelu_model, tmp_path):
    text = open(load_target("stm32l4r5").path).read().replace('"ADD",', '"ADD", "GELU",', 1)
    board = tmp_path / "board.toml"
    board.write_text(text)
    est = estimate_model(gelu_model, load_target(board), measure=False)
    assert est.unsupported_ops == ()


def test_profile_reports_it(gelu_model, tmp_path, capfd):
    path = tmp_path / "gelu.tflite"
    path.write_bytes(gelu_model)
    assert main(["profile", str(path), "--target", "esp32", "--json"]) == 0
    rep = json.loads(capfd.readouterr().out)
    assert rep["fits"] is False and rep["unsupported_ops"] == ["GELU"]
    assert rep["violations"]["unsupported_ops"] > 0
    assert any("gelu_dense" in b for b in rep["broken"])
