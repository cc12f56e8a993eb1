"""The model on the board: outputs, latency, arena and energy against edgeml's numbers."""

from __future__ import annotations

import pytest


def test_outputs_agree_with_the_host_interpreter(hil):
    res = hil.result
    assert res.outputs_match, f"max difference {res.max_abs_output_diff}"


def test_latency_within_the_estimates_stated_error(hil):
    """The README states about +-30% on calibrated targets and a factor of two on
    derived ones; the virtual board's clock *is* the estimate (checks that path)."""
    res = hil.result
    est = res.estimate["latency_ms"]
    if res.timing == "simulated":
        assert res.latency_ms == pytest.approx(est, rel=1e-3)
        return
    calibrated = hil.target.latency.status == "calibrated"
    low, high = (0.7, 1.3) if calibrated else (0.5, 2.0)
    assert low * res.latency_ms <= est <= high * res.latency_ms, (
        f"estimate {est:.3f} ms vs measured {res.latency_ms:.3f} ms on {hil.target.name}")
    assert res.latency_spread_ms <= 0.05 * res.latency_ms


def test_arena_within_the_estimate(hil):
    """edgeml's arena never falls below the board's smallest working arena, and stays
    close to it (the export adds its own margin for optimized kernels)."""
    res = hil.result
    if res.arena_bytes is None:
        pytest.skip("the firmware does not report its arena (base-only DUT)")
    est = res.estimate["arena_bytes"]
    assert est >= res.arena_bytes, f"estimate {est} below the real arena {res.arena_bytes}"
    assert est <= 1.10 * res.arena_bytes


def test_energy_per_inference(hil):
    if not hil.energy:
        pytest.skip("no power analyser (--energy ppk2:PORT or --energy joulescope)")
    res = hil.result
    assert res.energy_uj is not None and res.energy_uj > 0
    assert res.average_power_mw > 0


def test_no_regression_against_the_baseline(hil):
    if not hil.baseline:
        pytest.skip("no --baseline bench.json given")
    from edgeml.hil.bench import check_regression, compare_baseline

    check_regression(compare_baseline(hil.result, hil.baseline, threshold_pct=hil.threshold))
