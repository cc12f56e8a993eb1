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
