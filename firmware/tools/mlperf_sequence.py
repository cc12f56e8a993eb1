#!/usr/bin/env python3
"""Drive a bench firmware over a serial line with the MLPerf Tiny runner's command
sequence, checking every reply line against the protocol (firmware/PROTOCOL.md).

Plain pyserial, no edgeml import, so it checks the firmware the way a third-party
host does. Usage (a board, QEMU's TCP serial, or any pyserial URL):

    python firmware/tools/mlperf_sequence.py /dev/ttyACM0 --input sample.bin
    python firmware/tools/mlperf_sequence.py socket://127.0.0.1:4444 --model m.tflite --input x.bin

Sequence: name, profile, timestamp, [edgeml extension: edgeml, model load + db],
db load N + db lines of 31 bytes, infer N W, results. Exit status 0 when every
line conforms; the transcript goes to stdout.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import zlib

import serial

CHUNK = 31  # bytes per db line, as the MLPerf Tiny runner sends them
PATTERNS = {
    "boot": [r"m-timestamp-mode-(performance|energy)", r"m-init-done"],
    "name": [r"m-name-dut-\[[^\]]+\]"],
    "profile": [r"m-profile-\[ULPMark for tinyML Firmware V0\.0\.1\]",
                r"m-model-\[edgeml-(none|[0-9a-f]{8})\]"],
    "timestamp": [r"m-lap-us-\d+"],
    "edgeml": [r"m-edgeml-\[\d+\]", r"m-info-\[[a-z_]+=[^\]]*\]"],
    "load": [r"m-\[Expecting \d+ bytes\]"],
    "db": [r"m-load-done", r"m-model-\[bytes=\d+,crc=[0-9a-f]{8},input_bytes=\d+,"
           r"output_count=\d+,arena_used=\d+\]"],
    "infer": [r"m-warmup-start-\d+", r"m-warmup-done", r"m-infer-start-\d+", r"m-lap-us-\d+",
              r"m-infer-done", r"m-results-\[(-?\d+\.\d{3}(,-?\d+\.\d{3})*)?\]"],
    "results": [r"m-results-\[(-?\d+\.\d{3}(,-?\d+\.\d{3})*)?\]"],
    "print": [r"m-buffer-\[[0-9a-f]+\]"],
}
ERROR = r"e-\[[^\]]*\]"


class Nonconforming(Exception):
    pass


class Dut:
    def __init__(self, ser: serial.SerialBase, *, timeout: float = 30.0,
                 strict: bool = False) -> None:
        self.ser = ser
        self.timeout = timeout
        self.strict = strict  # strict: no line outside the protocol (runtime logs) either
        self.transcript: list[str] = []

    def read_reply(self, kind: str) -> list[str]:
        """Lines up to and including m-ready; each checked against ``kind``'s patterns."""
        lines: list[str] = []
        deadline = time.monotonic() + self.timeout
        buf = b""
        while True:
            if time.monotonic() > deadline:
                raise Nonconforming(f"{kind}: no m-ready within {self.timeout} s (got {lines})")
            chunk = self.ser.read_until(b"\n")
            if not chunk:
                continue
            buf += chunk
            if not buf.endswith(b"\n"):
                continue
            raw, buf = buf, b""
            if not raw.endswith(b"\r\n"):
                raise Nonconforming(f"{kind}: line not ended by CR LF: {raw!r}")
            line = raw[:-2].decode("ascii")
            self.transcript.append(line)
            if line == "m-ready":
                return lines
            if not line.startswith(("m-", "e-")) and not self.strict:
                continue  # a bootloader's or the runtime's own log line (PROTOCOL.md)
            allowed = PATTERNS[kind] + [ERROR]
            if not any(re.fullmatch(p, line) for p in allowed):
                raise Nonconforming(f"{kind}: unexpected line {line!r}")
            lines.append(line)

    def command(self, cmd: str, kind: str) -> list[str]:
        self.transcript.append(f"> {cmd}%")
        self.ser.write(cmd.encode("ascii") + b"%")
        return self.read_reply(kind)


def _errors(lines: list[str]) -> list[str]:
    return [x for x in lines if x.startswith("e-[")]


def run_sequence(dut: Dut, *, model: bytes | None = None, sample: bytes | None = None,
                 runs: int = 10, warmup: int = 1, boot: bool = True) -> dict:
    """The MLPerf Tiny runner's sequence; returns what the board said."""
    out: dict = {}
    if boot:
        out["boot"] = dut.read_reply("boot")
    out["name"] = dut.command("name", "name")
    out["profile"] = dut.command("profile", "profile")
    out["timestamp"] = dut.command("timestamp", "timestamp")
    out["edgeml"] = dut.command("edgeml", "edgeml")
    if model is not None:
        out["model_load"] = dut.command(f"model load {len(model)} {zlib.crc32(model):08x}",
                                        "load")
        last: list[str] = []
        for i in range(0, len(model), CHUNK):
            last = dut.command("db " + model[i:i + CHUNK].hex(), "db")
            if _errors(last):
                break
        out["model_done"] = last
    if sample is not None:
        out["db_load"] = dut.command(f"db load {len(sample)}", "load")
        last = []
        if not _errors(out["db_load"]):
            for i in range(0, len(sample), CHUNK):
                last = dut.command("db " + sample[i:i + CHUNK].hex(), "db")
        out["input_done"] = last
        out["db_print"] = dut.command("db print", "print")
    out["infer"] = dut.command(f"infer {runs} {warmup}", "infer")
    out["results"] = dut.command("results", "results")
    inf = out["infer"]
    if not _errors(inf):
        expect = [f"m-warmup-start-{warmup}", "m-warmup-done", f"m-infer-start-{runs}"]
        if inf[:3] != expect or inf[5] != "m-infer-done" or len(inf) != 7:
            raise Nonconforming(f"infer: lines out of order: {inf}")
        t0, t1 = (int(x.rsplit("-", 1)[1]) for x in inf[3:5])
        if t1 < t0:
            raise Nonconforming(f"infer: time ran backwards ({t0} -> {t1})")
        out["latency_us"] = (t1 - t0) / runs
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", help="serial port or pyserial URL (socket://host:port)")
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--model", help=".tflite to load over the line (edgeml extension)")
    ap.add_argument("--input", help="raw input tensor bytes for db load")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--no-boot", action="store_true", help="the board booted already")
    ap.add_argument("--strict", action="store_true",
                    help="fail on any line outside the protocol (runtime log lines too)")
    args = ap.parse_args(argv)
    ser = serial.serial_for_url(args.port, baudrate=args.baud, timeout=0.5)
    dut = Dut(ser, strict=args.strict)
    try:
        out = run_sequence(dut, model=open(args.model, "rb").read() if args.model else None,
                           sample=open(args.input, "rb").read() if args.input else None,
                           runs=args.runs, warmup=args.warmup, boot=not args.no_boot)
    except Nonconforming as exc:
        print("\n".join(dut.transcript))
        print(f"NONCONFORMING: {exc}", file=sys.stderr)
        return 1
    print("\n".join(dut.transcript))
    if "latency_us" in out:
        print(f"latency: {out['latency_us']:.1f} us per inference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
