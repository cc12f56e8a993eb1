"""Target profiles: every shipped profile loads, names and paths resolve, bad ones fail clearly."""

from __future__ import annotations

import pytest

from edgeml.errors import TargetError
from edgeml.targets import list_targets, load_target

REQUIRED = {"esp32", "esp32s3", "esp32c3", "nrf52840", "stm32f746", "stm32l4r5", "rp2040"}


def test_required_targets_ship_and_load():
    assert REQUIRED <= set(list_targets())
    for name in list_targets():
        t = load_target(name)
        assert t.name == name
        assert 0 < t.arena_budget < t.ram_bytes
        assert 0 < t.model_flash_budget < t.flash_bytes
        assert {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= t.ops or name.startswith("ethos")
        assert t.active_power_mw > 0 and t.clock_hz > 0


def test_known_chip_facts():
    esp32 = load_target("ESP32")  # names are case-insensitive
    assert esp32.clock_hz == 240_000_000 and esp32.ram_bytes == 520 * 1024
    assert load_target("stm32l4r5").flash_bytes == 2048 * 1024
    assert load_target("rp2040").core == "cortex-m0plus"


def test_unknown_target_lists_known_ones():
    with pytest.raises(TargetError, match="unknown target 'esp99'.*esp32") as info:
        load_target("esp99")
    assert "\n" not in str(info.value)


def test_profile_by_path_and_malformed_profiles(tmp_path):
    text = load_target("esp32").path
    custom = tmp_path / "board.toml"
    custom.write_text(open(text).read().replace('name = "esp32"', 'name = "myboard"'))
    assert load_target(custom).name == "myboard"
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(TargetError, match="not valid TOML"):
        load_target(bad)
    missing = tmp_path / "missing_chip.toml"
    missing.write_text('name = "x"\n[runtime]\nops=["ADD"]\n[latency]\ndefault={mac=1}\n[power]\nactive_mw=1\n')
    with pytest.raises(TargetError, match="chip.core"):
        load_target(missing)
    with pytest.raises(TargetError, match="does not exist"):
        load_target(tmp_path / "nope.toml")


def test_latency_tables_are_written_and_read_back_by_one_reader(tmp_path):
    from pathlib import Path

    from edgeml.estimate.prior import PRIOR_PATH, load_prior
    from edgeml.targets import (
        latency_toml,
        read_latency,
        replace_latency,
        tomllib,  # tomli on Python 3.10
    )

    stm = load_target("stm32l4r5")
    text = latency_toml(stm.latency, table="latency")
    assert read_latency(tomllib.loads(text)["latency"], path="x") == stm.latency
    # the prior file is a [latency] table read the same way
    assert load_prior() == read_latency(tomllib.loads(PRIOR_PATH.read_text())["latency"],
                                        path=PRIOR_PATH)
    assert load_prior().calibrated
    # rewriting the table keeps the rest of the profile
    path = tmp_path / "board.toml"
    path.write_text(replace_latency(Path(stm.path).read_text(), text).replace(
        'name = "stm32l4r5"', 'name = "board"'))
    board = load_target(path)
    assert board.latency == stm.latency and board.ops == stm.ops
    with pytest.raises(TargetError, match="has no 'latency.default'"):
        read_latency({"ops": {}}, path="x")
