"""ctypes binding of the firmware's protocol core for the firmware tests.

Builds ``firmware/common/*.c`` with the system C compiler (optionally with
sanitizers), fills ``edgeml_port_t`` with a Python clock and an output
collector, and ``edgeml_runner_t`` with Python callbacks (the tests put the
real tflite-micro interpreter behind them).
"""

from __future__ import annotations

import ctypes as C
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMON = ROOT / "firmware" / "common"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]

WRITE = C.CFUNCTYPE(None, C.c_void_p, C.POINTER(C.c_char), C.c_size_t)
MICROS = C.CFUNCTYPE(C.c_uint64, C.c_void_p)
PIN = C.CFUNCTYPE(None, C.c_void_p)
LOAD = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(C.c_uint8), C.c_size_t, C.POINTER(C.c_char),
                   C.c_size_t)
SIZE = C.CFUNCTYPE(C.c_size_t, C.c_void_p)
SET_INPUT = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(C.c_uint8), C.c_size_t)
INVOKE = C.CFUNCTYPE(C.c_int, C.c_void_p)
OUT_FLOAT = C.CFUNCTYPE(C.c_float, C.c_void_p, C.c_size_t)
OP_PROFILE = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_size_t, C.POINTER(C.c_char), C.c_size_t,
                         C.POINTER(C.c_uint32))
INFO = C.CFUNCTYPE(C.c_void_p, C.c_void_p, C.c_char_p)


class Port(C.Structure):
    _fields_ = [("write", WRITE), ("micros", MICROS), ("timestamp_pin", PIN), ("ctx", C.c_void_p)]


class Runner(C.Structure):
    _fields_ = [("load", LOAD), ("input_bytes", SIZE), ("set_input", SET_INPUT),
                ("invoke", INVOKE), ("output_count", SIZE), ("output_float", OUT_FLOAT),
                ("arena_used", SIZE), ("arena_min", SIZE), ("op_count", SIZE),
                ("op_profile", OP_PROFILE), ("info", INFO), ("ctx", C.c_void_p)]


def require_tool(exe: str) -> str:
    path = shutil.which(exe)
    if path is None:
        pytest.skip(f"{exe} not installed")
    return path


def build_core(out_dir: Path, *, compiler: str = "cc", extra: tuple[str, ...] = ()) -> Path:
    """Compile the core as the harness does; returns the shared library's path."""
    require_tool(compiler)
    lib = out_dir / "libedgeml_dut.so"
    cmd = [compiler, "-shared", "-fPIC", "-O2", *CFLAGS, *extra,
           *sorted(str(p) for p in COMMON.glob("*.c")), "-o", str(lib)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return lib


class PyRunner:
    """Python implementation of ``edgeml_runner_t`` (subclass and override)."""

    tflm = "host"
    kernels = "host"
    arena = 0
    timer = "simulated"

    def load(self, model: bytes) -> str | None:  # None = ok, else the error sentence
        return "no runner"

    def input_bytes(self) -> int:
        return 0

    def set_input(self, data: bytes) -> int:
        return 0

    def invoke(self) -> int:
        return -1

    def outputs(self) -> list[float]:
        return []

    def arena_used(self) -> int:
        return 0

    def arena_min(self) -> int:
        return 0

    def ops(self) -> list[tuple[str, int]]:
        return []


class VirtualDut:
    """The C core in-process: ``send(b"name%")`` returns the reply lines."""

    def __init__(self, lib_path: Path, runner: PyRunner, *, slot: int = 64 * 1024,
                 input_cap: int = 4096, name: str = "edgeml-host",
                 clock: Callable[[], int] | None = None) -> None:
        self.lib = C.CDLL(str(lib_path))
        self.lib.edgeml_dut_size.restype = C.c_size_t
        self.lib.edgeml_crc32.restype = C.c_uint32
        self.lib.edgeml_crc32.argtypes = [C.c_uint32, C.c_char_p, C.c_size_t]
        self.lib.edgeml_format_float3.restype = C.c_size_t
        self.lib.edgeml_format_float3.argtypes = [C.c_char_p, C.c_size_t, C.c_float]
        self.runner = runner
        self.out = bytearray()
        self.time = 0
        self.pulses = 0
        self._clock = clock
        self._keep: list = []
        self._info: dict[bytes, C.Array] = {}
        self.dut = C.create_string_buffer(self.lib.edgeml_dut_size())
        self.slot = (C.c_uint8 * slot)()
        self.inbuf = (C.c_uint8 * input_cap)()
        self.name = C.create_string_buffer(name.encode())
        self.port = Port(WRITE(self._write), MICROS(self._micros), PIN(self._pin), None)
        r = runner
        self.cr = Runner(
            LOAD(self._load), SIZE(lambda _c: r.input_bytes()),
            SET_INPUT(lambda _c, p, n: r.set_input(C.string_at(p, n))),
            INVOKE(lambda _c: r.invoke()), SIZE(lambda _c: len(r.outputs())),
            OUT_FLOAT(lambda _c, i: r.outputs()[i]), SIZE(lambda _c: r.arena_used()),
            SIZE(lambda _c: r.arena_min()), SIZE(lambda _c: len(r.ops())),
            OP_PROFILE(self._op_profile), INFO(self._info_cb), None)
        self.lib.edgeml_dut_init(self.dut, C.byref(self.port), C.byref(self.cr), self.slot,
                                 C.c_size_t(slot), self.inbuf, C.c_size_t(input_cap), self.name)

    # callbacks
    def _write(self, _ctx, p, n) -> None:
        self.out += C.string_at(p, n)

    def _micros(self, _ctx) -> int:
        return self._clock() if self._clock else self.time

    def _pin(self, _ctx) -> None:
        self.pulses += 1

    def _load(self, _ctx, p, n, err, cap) -> int:
        msg = self.runner.load(C.string_at(p, n))
        if msg is None:
            return 0
        data = msg.encode()[: cap - 1] + b"\0"
        C.memmove(err, data, len(data))
        return -1

    def _op_profile(self, _ctx, i, name, cap, us) -> int:
        op, t = self.runner.ops()[i]
        data = op.encode()[: cap - 1] + b"\0"
        C.memmove(name, data, len(data))
        us[0] = t
        return 0

    def _info_cb(self, _ctx, key: bytes):
        value = {b"tflm": self.runner.tflm, b"kernels": self.runner.kernels,
                 b"arena": str(self.runner.arena), b"timer": self.runner.timer}.get(key)
        if value is None:
            return None
        buf = self._info[key] = C.create_string_buffer(value.encode())
        return C.addressof(buf)

    # driving
    def boot(self) -> list[str]:
        self.lib.edgeml_dut_boot(self.dut)
        return self.take()

    def feed(self, data: bytes) -> None:
        self.lib.edgeml_dut_feed(self.dut, data, C.c_size_t(len(data)))

    def send(self, cmd: bytes | str) -> list[str]:
        self.feed(cmd.encode() if isinstance(cmd, str) else cmd)
        return self.take()

    def take(self) -> list[str]:
        text = bytes(self.out).decode("ascii")
        self.out.clear()
        assert text == "" or text.endswith("\r\n"), repr(text)
        return text.split("\r\n")[:-1] if text else []

    def crc32(self, data: bytes) -> int:
        return self.lib.edgeml_crc32(0, data, len(data))

    def fmt(self, v: float) -> str:
        buf = C.create_string_buffer(64)
        n = self.lib.edgeml_format_float3(buf, 64, v)
        return buf.raw[:n].decode()


def db_lines(data: bytes, chunk: int = 31) -> bytes:
    """``db HEX%`` commands for ``data``, ``chunk`` bytes each (the MLPerf runner sends 31)."""
    return b"".join(b"db " + data[i:i + chunk].hex().encode() + b"%"
                    for i in range(0, len(data), chunk))


def model_load(model: bytes, chunk: int = 31) -> bytes:
    import zlib

    return b"model load %d %08x%%" % (len(model), zlib.crc32(model)) + db_lines(model, chunk)


def replies(lines: list[str]) -> list[list[str]]:
    """Split reply lines into one list per command (each ends with m-ready)."""
    out: list[list[str]] = []
    cur: list[str] = []
    for line in lines:
        cur.append(line)
        if line == "m-ready":
            out.append(cur)
            cur = []
    assert not cur, f"reply without m-ready: {cur}"
    return out


# ----------------------------------------------------------------- the stream driver
FW_TESTS = ROOT / "firmware" / "tests"
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")


def build_driver(out: Path, *, compiler: str = "cc", extra: tuple[str, ...] = ()) -> Path:
    """``stream_driver``: the core + the echo test double, stdin -> stdout."""
    require_tool(compiler)
    exe = out / "stream_driver"
    cmd = [compiler, "-O1", "-g", "-std=c99", "-Wall", "-Wextra", "-Werror", *extra,
           f"-I{COMMON}", str(FW_TESTS / "stream_driver.c"), str(FW_TESTS / "echo_runner.c"),
           *sorted(str(p) for p in COMMON.glob("*.c")), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe


def run_stream(exe: Path, data: bytes, *args: str) -> tuple[list[str], str]:
    """Feed ``data`` to a stream driver; (reply lines, stderr)."""
    proc = subprocess.run([str(exe), *args], input=data, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    text = proc.stdout.decode("ascii")
    assert text.endswith("\r\n")
    return text.split("\r\n")[:-1], proc.stderr.decode(errors="replace")
