"""`edgeml virtual-board` prints its pty on the first line; a plain pyserial client drives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import serial

ROOT = Path(__file__).resolve().parents[2]


def _reply(ser: serial.Serial, cmd: bytes, timeout: float = 10.0) -> list[str]:
    ser.write(cmd)
    lines: list[str] = []
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        buf += ser.read(ser.in_waiting or 1)
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode().strip("\r\0 ")
            if text == "m-ready":
                return lines
            lines.append(text)
    raise AssertionError(f"no m-ready after {cmd!r}: {lines}")


def test_virtual_board_command_serves_a_pty(tmp_path, small_model):
    model = tmp_path / "m.tflite"
    model.write_bytes(small_model)
    proc = subprocess.Popen([sys.executable, "-m", "edgeml", "virtual-board", str(model),
                             "--target", "esp32s3"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/")
        with serial.Serial(path, 115200, timeout=0.05) as ser:
            assert _reply(ser, b"name%") == ["m-name-dut-[edgeml-virtual]"]
            prof = _reply(ser, b"profile%")
            assert prof[0].startswith("m-profile-[ULPMark") and prof[1].startswith("m-model-[edgeml-")
            # the MLPerf Tiny runner's sequence: db load N, 31-byte db lines, infer N W
            from edgeml.tflite.graph import read_graph

            n = read_graph(small_model).input(0).nbytes
            assert _reply(ser, f"db load {n}%".encode()) == [f"m-[Expecting {n} bytes]"]
            data = bytes(range(n))
            for i in range(0, n, 31):
                last = _reply(ser, b"db " + data[i:i + 31].hex().encode() + b"%")
            assert last == ["m-load-done"]
            lines = _reply(ser, b"infer 10 2%")
            assert lines[:3] == ["m-warmup-start-2", "m-warmup-done", "m-infer-start-10"]
            assert lines[5] == "m-infer-done" and lines[6].startswith("m-results-[")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
