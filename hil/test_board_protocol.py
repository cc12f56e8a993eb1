"""Protocol conformance of the board: MLPerf Tiny base protocol, then edgeml's extension."""

from __future__ import annotations

import zlib

import pytest


def test_every_reply_ends_with_m_ready_and_unknown_commands_are_errors(hil):
    r = hil.client.command("frobnicate")
    assert r.lines == ("e-[Unknown command: frobnicate]",)
    assert hil.client.name()


def test_profile_and_timestamps(hil):
    assert hil.client.profile()
    t1 = hil.client.timestamp()
    t2 = hil.client.timestamp()
    assert t2 >= t1


def test_overlong_command_is_refused_and_the_board_stays_usable(hil):
    if hil.client.extension() is None:
        pytest.skip("base-only MLPerf Tiny DUT: its firmware decides how to refuse")
    r = hil.client.command("x" * 100)
    assert r.lines == ("e-[Command too long]",)
    assert hil.client.name()


def test_extension_info(hil):
    ext = hil.client.extension()
    if ext is None:
        pytest.skip("base-only MLPerf Tiny DUT: no edgeml extension")
    for key in ("tflm", "kernels", "slot", "arena", "model", "timer"):
        assert key in ext.info, key
    assert ext.timer in ("device", "emulated", "simulated")


def test_corrupted_model_is_refused_by_its_checksum(hil):
    if hil.client.extension() is None:
        pytest.skip("base-only MLPerf Tiny DUT: no model loading")
    model = hil.model
    wrong = f"{(zlib.crc32(model) ^ 1) & 0xFFFFFFFF:08x}"
    r = hil.client.command(f"model load {len(model)} {wrong}", repeatable=False)
    assert r.has("m-[Expecting")
    for i in range(0, len(model), 38):
        r = hil.client.command("db " + model[i:i + 38].hex(), repeatable=False)
    assert any("checksum mismatch" in e for e in r.errors)
    assert hil.client.profile() == "edgeml-none"
    assert hil.client.load_model(model).crc == f"{zlib.crc32(model) & 0xFFFFFFFF:08x}"


def test_input_of_the_wrong_size_is_refused(hil):
    if hil.client.extension() is None:
        pytest.skip("base-only MLPerf Tiny DUT: input sizes are its firmware's business")
    hil.client.load_model(hil.model)
    r = hil.client.command("db load 3")
    assert r.errors and not r.has("m-[Expecting")
