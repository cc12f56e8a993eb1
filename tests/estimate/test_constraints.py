"""The one table of constraints: what the search's violations, its "nothing fits"
message, the validation of limits and the command line read, on a real model."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from edgeml.errors import EdgeMLError
from edgeml.estimate import (
    CONSTRAINTS,
    Limits,
    check_limits,
    describe_violation,
    estimate_model,
    feasible,
    violations,
)
from edgeml.estimate.constraints import limit_fields
from edgeml.targets import load_target

KB = 1024


@pytest.fixture(scope="module")
def model(zoo_dir) -> bytes:
    from edgeml.estimate import zoo

    return zoo.cached_model("corpus", "conv_pool_gap", directory=zoo_dir)


@pytest.fixture(scope="module")
def esp32():
    return load_target("esp32")


def test_every_limit_sets_exactly_one_constraint():
    assert set(limit_fields()) == {f.name for f in fields(Limits)}
    assert all(c.name == name for name, c in CONSTRAINTS.items())


def test_flash_is_the_model_and_its_kernels_against_what_firmware_and_runtime_leave(model, esp32):
    est = estimate_model(model, esp32, measure=False)
    kernels = sum(esp32.op_code_bytes.get(op, 0) for op in est.ops)
    left = esp32.flash_bytes - esp32.firmware_flash_bytes - esp32.runtime_flash_bytes
    v = violations(esp32, est)
    assert v["flash_bytes"] == est.model_bytes + kernels - left
    assert v["arena_bytes"] == est.arena_bytes - (esp32.ram_bytes - esp32.firmware_ram_bytes
                                                  - esp32.runtime_ram_bytes)
    assert feasible(v) and set(v) == {"flash_bytes", "arena_bytes", "unsupported_ops", "int8"}


def test_user_limits_are_checked_and_described_by_their_field(model, esp32):
    est = estimate_model(model, esp32, measure=False)
    limits = Limits(max_arena_bytes=est.arena_bytes - KB, max_model_bytes=est.model_bytes + 1,
                    max_latency_ms=est.latency_ms / 2)
    v = violations(esp32, est, limits)
    assert v["max_arena_bytes"] == KB and v["max_model_bytes"] == -1
    assert v["max_latency_ms"] == pytest.approx(est.latency_ms / 2)
    assert not feasible(v)
    assert describe_violation("max_arena_bytes", v["max_arena_bytes"], est, esp32) == (
        f"needs {est.arena_bytes / KB:.1f} KB RAM (tensor arena); limit is "
        f"{(est.arena_bytes - KB) / KB:.1f} KB (max_arena_bytes)")
    assert describe_violation("max_latency_ms", v["max_latency_ms"], est, esp32) == (
        f"needs {est.latency_ms:.2f} ms latency; limit is {est.latency_ms / 2:.2f} ms "
        "(max_latency_ms)")


def test_target_budgets_are_described_by_the_target(model, esp32):
    small = replace(esp32, flash_bytes=esp32.firmware_flash_bytes + esp32.runtime_flash_bytes
                    + 4 * KB)
    est = estimate_model(model, small, measure=False)
    v = violations(small, est)
    used = est.model_bytes + est.code_bytes - small.runtime_flash_bytes
    assert v["flash_bytes"] == used - 4 * KB > 0
    assert describe_violation("flash_bytes", v["flash_bytes"], est, small) == (
        f"needs {used / KB:.1f} KB flash (model + kernels); limit is 4.0 KB "
        "(esp32's model flash budget)")


def test_nothing_fits_names_the_smallest_need_and_the_limit(model, esp32):
    from edgeml.search.tuner import no_feasible_message

    est = estimate_model(model, esp32, measure=False)
    limits = Limits(max_arena_bytes=KB)
    records = [{"violations": violations(esp32, est, limits), "estimate": est.as_dict()}]
    err = no_feasible_message(records, esp32, limits)
    assert err.limit == "max_arena_bytes"
    assert err.message == (f"no candidate fits esp32: smallest candidate needs "
                           f"{est.arena_bytes / KB:.1f} KB RAM (tensor arena); limit is 1.0 KB "
                           "(max_arena_bytes, 1 candidate checked)")
    assert err.hint.startswith("raise max_arena_bytes")

    tight = replace(esp32, ram_bytes=esp32.firmware_ram_bytes + esp32.runtime_ram_bytes + 2 * KB)
    est = estimate_model(model, tight, measure=False)
    records = [{"violations": violations(tight, est), "estimate": est.as_dict()}]
    err = no_feasible_message(records, tight, Limits())
    assert err.limit is None and "(esp32's arena budget, 1 candidate checked)" in err.message
    assert f"needs {est.arena_bytes / KB:.1f} KB RAM (tensor arena); limit is 2.0 KB" in err.message


@pytest.mark.parametrize("field", [f.name for f in fields(Limits)])
def test_a_limit_that_is_not_positive_is_refused_by_name(field):
    with pytest.raises(EdgeMLError, match=f"^{field} must be a positive number") as info:
        check_limits(Limits(**{field: 0}))
    assert info.value.limit == field
    check_limits(Limits(**{field: 1}))
