"""The protocol core (firmware/common) driven through its byte stream.

The runner behind it is the echo TEST DOUBLE (firmware/tests/echo_runner.c):
it outputs the input bytes as int8 / 128 and refuses models starting with
"FAIL" as a failed AllocateTensors. What is under test is the core: framing,
parsing, transfers, CRC, error recovery and the reply format. Inference with a
real model runs in test_tflm_runner.py.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from fw_core import PyRunner, VirtualDut, db_lines, model_load, replies, run_stream

ECHO4 = b"ECHO\x04" + bytes(range(20))  # a 25-byte test model with a 4-byte input


def session(driver, data: bytes, *args: str) -> list[list[str]]:
    lines, _ = run_stream(driver, data, *args)
    return replies(lines)


def test_boot_and_base_commands(driver):
    r = session(driver, b"name%profile%timestamp%")
    assert r[0] == ["m-timestamp-mode-performance", "m-init-done", "m-ready"]
    assert r[1] == ["m-name-dut-[stream-driver]", "m-ready"]
    assert r[2] == ["m-profile-[ULPMark for tinyML Firmware V0.0.1]", "m-model-[edgeml-none]",
                    "m-ready"]
    assert r[3][0].startswith("m-lap-us-") and int(r[3][0][9:]) > 0


def test_full_session_with_model_load(driver):
    crc = zlib.crc32(ECHO4)
    data = (model_load(ECHO4, chunk=7) + b"profile%edgeml%db load 4%db 7f80%db 0140%"
            b"db print%infer 5 2%results%ops%arena%results%")
    r = session(driver, data)[1:]
    assert r[0] == ["m-[Expecting 25 bytes]", "m-ready"]
    assert r[1:4] == [["m-ready"]] * 3
    assert r[4] == ["m-load-done", f"m-model-[bytes=25,crc={crc:08x},input_bytes=4,"
                    "output_count=4,arena_used=50]", "m-ready"]
    assert r[5][1] == f"m-model-[edgeml-{crc:08x}]"
    assert r[6][:3] == ["m-edgeml-[1]", "m-info-[tflm=test-double]", "m-info-[kernels=reference]"]
    assert "m-info-[slot=4096]" in r[6] and f"m-info-[model=edgeml-{crc:08x}]" in r[6]
    assert "m-info-[timer=device]" in r[6] and "m-info-[arena=4096]" in r[6]
    assert r[7] == ["m-[Expecting 4 bytes]", "m-ready"]
    assert r[8] == ["m-ready"]
    assert r[9] == ["m-load-done", "m-ready"]
    assert r[10] == ["m-buffer-[7f800140]", "m-ready"]
    inf = r[11]
    assert inf[:3] == ["m-warmup-start-2", "m-warmup-done", "m-infer-start-5"]
    t0, t1 = (int(x[len("m-lap-us-"):]) for x in inf[3:5])
    assert t1 >= t0
    assert inf[5:] == ["m-infer-done", "m-results-[0.992,-1.000,0.008,0.500]", "m-ready"]
    assert r[12] == ["m-results-[0.992,-1.000,0.008,0.500]", "m-ready"]
    assert r[13] == ["m-op-[0,COPY,1]", "m-op-[1,SCALE,2]", "m-op-total-us-[3]", "m-ready"]
    assert r[14] == ["m-arena-used-[50]", "m-arena-min-[32]", "m-ready"]
    assert r[15] == ["e-[No results: run infer N W first]", "m-ready"]


def test_overlong_line_then_normal(driver):
    r = session(driver, b"x" * 81 + b"%name%" + b"y" * 80 + b"%" + b"z" * 500 + b"%timestamp%")[1:]
    assert r[0] == ["e-[Command too long]", "m-ready"]
    assert r[1] == ["m-name-dut-[stream-driver]", "m-ready"]
    assert r[2] == ["e-[Unknown command: " + "y" * 80 + "]", "m-ready"]  # 80 is allowed
    assert r[3] == ["e-[Command too long]", "m-ready"]
    assert r[4][0].startswith("m-lap-us-")


def test_unknown_commands_and_ignored_bytes(driver):
    r = session(driver, b"foo%\r\nna\0me\r%%db%model%infer x%db load%db print extra%\x01\xff%")[1:]
    assert r[0] == ["e-[Unknown command: foo]", "m-ready"]
    assert r[1] == ["m-name-dut-[stream-driver]", "m-ready"]  # \r \n \0 are ignored
    assert r[2] == ["e-[Unknown command: ]", "m-ready"]
    assert r[3][0].startswith("e-[Bad db")
    assert r[4] == ["e-[Unknown command: model]", "m-ready"]
    assert r[5][0].startswith("e-[Bad infer")
    assert r[6][0].startswith("e-[Bad db load")
    assert r[7] == ["e-[Unknown command: db print extra]", "m-ready"]
    assert r[8] == ["e-[Unknown command: ??]", "m-ready"]  # non-ASCII is not echoed raw


def test_bad_hex_keeps_the_load_open(driver):
    r = session(driver, b"db load 4%db 0g%db 012%db 01%db 0203040506%db 020304%db 00%")[1:]
    assert r[0][0] == "m-[Expecting 4 bytes]"
    assert r[1] == ["e-[Bad hex: 'g' at digit 2, line ignored]", "m-ready"]
    assert r[2] == ["e-[Bad hex: 3 digits, need an even number; line ignored]", "m-ready"]
    assert r[3] == ["m-ready"]
    assert r[4] == ["e-[Too many bytes: line has 5, 3 left; line ignored]", "m-ready"]
    assert r[5] == ["m-load-done", "m-ready"]
    assert r[6][0].startswith("e-[No load in progress")


def test_load_cut_off_is_aborted_by_the_next_command(driver):
    half = model_load(ECHO4, chunk=10)
    half = half[: half.index(b"%", half.index(b"db ")) + 1]  # header + first 10 bytes
    r = session(driver, half + b"name%" + b"db load 4%db 01%profile%db 01%")[1:]
    assert r[2] == ["e-[Model load aborted: got 10 of 25 bytes]", "m-name-dut-[stream-driver]",
                    "m-ready"]
    assert r[4] == ["m-ready"]
    assert r[5] == ["e-[Input load aborted: got 1 of 4 bytes]",
                    "m-profile-[ULPMark for tinyML Firmware V0.0.1]", "m-model-[edgeml-none]",
                    "m-ready"]
    assert r[6][0].startswith("e-[No load in progress")


def test_model_too_big_for_the_slot_changes_nothing(driver):
    crc = zlib.crc32(ECHO4)
    big = b"model load 4097 00000000%"
    r = session(driver, model_load(ECHO4) + big + b"db 00%profile%")[1:]
    assert r[2] == ["e-[Model of 4097 bytes exceeds the slot of 4096 bytes]", "m-ready"]
    assert r[3][0].startswith("e-[No load in progress")
    assert r[4][1] == f"m-model-[edgeml-{crc:08x}]"  # the loaded model stays
    r = session(driver, model_load(ECHO4) + b"name%", "24")[1:]
    assert r[0] == ["e-[Model of 25 bytes exceeds the slot of 24 bytes]", "m-ready"]
    assert r[-1] == ["m-name-dut-[stream-driver]", "m-ready"]


def test_crc_mismatch_empties_the_slot(driver):
    bad = b"model load 25 %08x%%" % (zlib.crc32(ECHO4) ^ 1) + db_lines(ECHO4)
    r = session(driver, model_load(ECHO4) + bad + b"profile%infer 1 0%")[1:]
    assert r[3] == [f"e-[Model checksum mismatch: got {zlib.crc32(ECHO4):08x}, expected "
                    f"{zlib.crc32(ECHO4) ^ 1:08x}]", "m-ready"]
    assert r[4][1] == "m-model-[edgeml-none]"
    assert r[5] == ["e-[No model loaded: send model load N CRC first]", "m-ready"]


def test_model_the_runner_refuses(driver):
    r = session(driver, model_load(b"FAIL" + bytes(8)) + b"edgeml%name%")[1:]
    assert r[1] == ["e-[AllocateTensors failed: test double refuses FAIL models]", "m-ready"]
    assert "m-info-[model=none]" in r[2]
    assert r[3] == ["m-name-dut-[stream-driver]", "m-ready"]


def test_model_input_larger_than_the_input_buffer(driver):
    model = b"ECHO\x00" + bytes(4)  # 256-byte input
    r = session(driver, model_load(model) + b"profile%", "4096", "100")[1:]
    assert r[1] == ["e-[Model input of 256 bytes does not fit the input buffer of 100 bytes]",
                    "m-ready"]
    assert r[2][1] == "m-model-[edgeml-none]"


def test_infer_needs_a_complete_input_of_the_models_size(driver):
    r = session(driver, model_load(ECHO4) + b"infer 1 0%db load 3%db load 4%db 0102%infer 2 1%"
                b"db 0304%infer 2 1%results%")[1:]
    assert r[2] == ["e-[Input not loaded: got 0 of 4 bytes]", "m-ready"]
    assert r[3] == ["e-[Input must be 4 bytes for the loaded model, got db load 3]", "m-ready"]
    assert r[6] == ["e-[Input load aborted: got 2 of 4 bytes]",
                    "e-[Input not loaded: got 0 of 4 bytes]", "m-ready"]
    assert r[7] == ["e-[No load in progress: send db load N or model load N CRC first]",
                    "m-ready"]
    assert r[8] == ["e-[Input not loaded: got 0 of 4 bytes]", "m-ready"]
    assert r[9] == ["e-[No results: run infer N W first]", "m-ready"]


def test_infer_defaults_and_ops_before_infer(driver):
    r = session(driver, model_load(ECHO4) + b"ops%db load 4%db 00000000%infer%infer 2%")[1:]
    assert r[2] == ["e-[No inference profiled yet]", "m-ready"]
    assert r[5][:3] == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-1"]
    assert r[6][:3] == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-2"]


def test_crc32_is_zlibs(core_lib, rng):
    d = VirtualDut(core_lib, PyRunner())
    for n in (0, 1, 31, 1000):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert d.crc32(data) == zlib.crc32(data)


@pytest.mark.parametrize("v", [0.0, -0.0, 0.0625, 0.1875, 0.0005, 0.0015, -0.0625, 1.0, -1.0,
                               0.99609375, 123456.789, 1e-9, -1e-9, 9.2e15, 3.4e38, -3.4e38,
                               float("inf"), float("-inf"), float("nan")])
def test_results_format_matches_printf(core_lib, v):
    d = VirtualDut(core_lib, PyRunner())
    want = f"{float(np.float32(v)):.3f}"
    assert d.fmt(v) == want


def test_results_format_random(core_lib, rng):
    d = VirtualDut(core_lib, PyRunner())
    vals = np.concatenate([(np.arange(-128, 128) * s).astype(np.float32)
                           for s in (1 / 256, 0.0123, 0.5, 3.7)]
                          + [rng.standard_normal(500).astype(np.float32) * 10])
    for v in vals:
        assert d.fmt(float(v)) == f"{float(v):.3f}"


def test_invoke_failure_is_reported_and_leaves_no_results(driver):
    # the test double fails from its 5000th invoke on
    r = session(driver, model_load(ECHO4) + b"db load 4%db 01020304%infer 4000 0%results%"
                b"infer 2000 0%results%name%")[1:]
    assert r[4][-3:] == ["m-infer-done", "m-results-[0.008,0.016,0.023,0.031]", "m-ready"]
    assert r[6] == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-2000",
                    "e-[Invoke failed]", "m-ready"]
    assert r[7] == ["e-[No results: run infer N W first]", "m-ready"]
    assert r[8] == ["m-name-dut-[stream-driver]", "m-ready"]
