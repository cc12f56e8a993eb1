"""Ethos-U55 through Vela: skipped cleanly where ethos-u-vela is not installed
(set EDGEML_REQUIRE_VELA=1 to make a missing Vela a failure)."""

from __future__ import annotations

import os

import pytest

from edgeml.estimate import estimate_model
from edgeml.estimate.vela import vela_available
from edgeml.targets import load_target

if not vela_available():
    if os.environ.get("EDGEML_REQUIRE_VELA"):
        raise RuntimeError("EDGEML_REQUIRE_VELA is set but ethos-u-vela is not installed")
    pytest.skip("ethos-u-vela is not installed (pip install 'edgeml[vela]')",
                allow_module_level=True)


def test_npu_estimate_from_vela(references):
    target = load_target("ethos_u55")
    est = estimate_model(references["kws_ds_cnn"], target)
    acc = est.accelerator
    assert est.source == "vela" and acc["npu_ops"] >= 1
    assert acc["macs"] == pytest.approx(est.macs, rel=0.01)
    assert 0 < acc["npu_ms"] <= est.latency_ms
    # far faster than the same model on a Cortex-M4 at 120 MHz
    assert est.latency_ms < estimate_model(references["kws_ds_cnn"],
                                           load_target("stm32l4r5")).latency_ms / 20
    assert est.arena_bytes >= acc["sram_bytes"] > 0
    assert est.model_bytes == acc["model_bytes"] and est.unsupported_ops == ()
    assert est.energy_uj == pytest.approx(est.latency_ms * target.active_power_mw)


def test_cpu_fallback_operators_are_costed(corpus):
    # RESIZE_NEAREST_NEIGHBOR stays on the CPU on Ethos-U55 for some shapes; whatever
    # Vela decides, every operator is either on the NPU or costed on the CPU
    est = estimate_model(corpus["skip_concat_long"], load_target("ethos_u55"))
    acc = est.accelerator
    assert acc["npu_ops"] + len(acc["cpu_ops"]) >= 1
    assert est.latency_ms == pytest.approx(acc["npu_ms"] + acc["cpu_ms"])
