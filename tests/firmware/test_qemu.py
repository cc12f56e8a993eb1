"""The bench firmware on an emulated Cortex-M4 (QEMU mps2-an386), driven over its
UART by the plain pyserial MLPerf Tiny sequence (firmware/tools/mlperf_sequence.py).

Built with arm-none-eabi-gcc and the port's Makefile, without TFLite Micro (no
TFLM sources here): the protocol core runs on the emulated device and the
runner says so. Skips only when a tool is missing; EDGEML_REQUIRE_QEMU=1 (set
by .ci/run, which installs the tools) turns the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
import zlib

import pytest
from fw_core import ROOT

PORT_DIR = ROOT / "firmware" / "ports" / "mps2-an386"


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        msg = f"{name} not installed (.ci/run installs it)"
        if os.environ.get("EDGEML_REQUIRE_QEMU") == "1":
            pytest.fail(f"EDGEML_REQUIRE_QEMU=1 but {msg}")
        pytest.skip(msg)
    return exe


def _sequence_module():
    spec = importlib.util.spec_from_file_location(
        "mlperf_sequence", ROOT / "firmware" / "tools" / "mlperf_sequence.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make"):
        _tool(t)
    build = tmp_path_factory.mktemp("mps2")
    proc = subprocess.run(["make", "-C", str(PORT_DIR), f"BUILD={build}"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return build / "edgeml.elf"


@pytest.fixture()
def board(image):
    serial = pytest.importorskip("serial")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    qemu = subprocess.Popen(
        [_tool("qemu-system-arm"), "-M", "mps2-an386", "-nographic", "-monitor", "none",
         "-icount", "shift=0", "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on",
         "-kernel", str(image)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ser = None
    try:
        deadline = time.monotonic() + 20
        while ser is None:
            try:
                ser = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=0.5)
            except serial.SerialException:
                if time.monotonic() > deadline or qemu.poll() is not None:
                    raise
                time.sleep(0.1)
        yield ser
    finally:
        if ser is not None:
            ser.close()
        qemu.kill()
        qemu.wait(timeout=10)


def test_mlperf_sequence_on_the_emulated_cortex_m4(board):
    seq = _sequence_module()
    dut = seq.Dut(board, timeout=20, strict=True)
    model = b"\x1c\x00\x00\x00TFL3" + bytes(range(100))  # any bytes: this build has no TFLM
    sample = bytes(range(64))
    out = seq.run_sequence(dut, model=model, sample=sample, runs=5, warmup=2)
    assert out["boot"] == ["m-timestamp-mode-performance", "m-init-done"]
    assert out["name"] == ["m-name-dut-[edgeml-mps2-an386]"]
    assert out["profile"][1] == "m-model-[edgeml-none]"
    info = out["edgeml"]
    assert info[0] == "m-edgeml-[1]"
    for line in ("m-info-[kernels=none]", "m-info-[tflm=none]", "m-info-[timer=emulated]",
                 "m-info-[model=none]", "m-info-[slot=1048576]"):
        assert line in info
    assert out["model_load"] == [f"m-[Expecting {len(model)} bytes]"]
    assert out["model_done"] == ["e-[this build has no TFLite Micro runtime]"]
    assert out["db_load"] == ["m-[Expecting 64 bytes]"] and out["input_done"] == ["m-load-done"]
    assert out["db_print"] == ["m-buffer-[" + sample[:32].hex() + "]",
                               "m-buffer-[" + sample[32:].hex() + "]"]
    assert out["infer"] == ["e-[No model loaded: send model load N CRC first]"]
    assert out["results"] == ["e-[No results: run infer N W first]"]
    # the emulated clock runs (TIMER0) and only forwards
    t = [int(dut.command("timestamp", "timestamp")[0][9:]) for _ in range(3)]
    assert t[0] < t[1] < t[2]


def test_robustness_over_the_uart(board):
    seq = _sequence_module()
    dut = seq.Dut(board, timeout=20, strict=True)
    dut.read_reply("boot")
    assert dut.command("x" * 200, "name") == ["e-[Command too long]"]
    assert dut.command("db load 4", "load") == ["m-[Expecting 4 bytes]"]
    assert dut.command("db 0z", "db") == ["e-[Bad hex: 'z' at digit 2, line ignored]"]
    assert dut.command("db 012", "db")[0].startswith("e-[Bad hex: 3 digits")
    assert dut.command("name", "name") == ["e-[Input load aborted: got 0 of 4 bytes]",
                                           "m-name-dut-[edgeml-mps2-an386]"]
    big = 2 * 1024 * 1024
    assert dut.command(f"model load {big} {zlib.crc32(b''):08x}", "load") == [
        f"e-[Model of {big} bytes exceeds the slot of 1048576 bytes]"]
    assert dut.command("bogus", "name") == ["e-[Unknown command: bogus]"]
    assert dut.command("name", "name") == ["m-name-dut-[edgeml-mps2-an386]"]
