"""The virtual board: the firmware's own protocol core, on the host.

``firmware/common/*.c`` (the C core every device port runs) is compiled with
the system C compiler into ``libedgeml_dut.so`` (once, cached under the edgeml
cache directory by a hash of the sources) and loaded with ctypes. Its
``edgeml_runner_t`` is filled with callbacks into the real TFLite Micro
interpreter of the ``tflite-micro`` wheel; its clock (``micros``) is simulated:
it advances by the target's *estimated* latency (``edgeml.estimate``) at each
invoke, and the board says so (``m-info-[timer=simulated]``). Per-operator
times (``ops%``) are the estimate's per-layer figures; the arena (``arena%``)
is measured in TFLM on this 64-bit host (``tflm=host``), so it is the host's
arena, not a 32-bit device's.

It serves on a pseudo-terminal (any serial client opens the slave path) or a
loopback TCP socket (``socket://127.0.0.1:PORT``). Faults can be injected to
test clients: garbage before a reply, a lost reply line, a hang, a disconnect
in the middle of a load.
"""

from __future__ import annotations

import ctypes as C
import hashlib
import os
import select
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import HILError, ModelError

__all__ = ["Fault", "VirtualBoard", "build_library", "firmware_common_dir"]

CFLAGS = ("-shared", "-fPIC", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror")
GARBAGE = b"\x00\xff\x13 boot noise \xfe\r\n\x07x"


def firmware_common_dir() -> Path:
    """``firmware/common`` of this checkout, or the copy shipped in the wheel."""
    from ..export.firmware import firmware_dir

    return firmware_dir() / "common"


def _sources(src: Path) -> list[Path]:
    files = sorted(src.glob("*.c"))
    if not files:
        raise HILError(f"no firmware C sources in {src}",
                       hint="reinstall edgeml (the wheel ships them as edgeml/_firmware)")
    return files


def build_library(src: Path | None = None) -> Path:
    """Compile the protocol core into a shared library (cached by a hash of the sources)."""
    from ..estimate.cache import cache_dir

    src = src or firmware_common_dir()
    files = _sources(src)
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise HILError(f"no C compiler ({cc}) to build the virtual board",
                       hint="install one (apt-get install gcc) or set CC")
    h = hashlib.sha256(" ".join((cc,) + CFLAGS).encode())
    for f in files + sorted(src.glob("*.h")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    out = cache_dir() / "virtual-board" / h.hexdigest()[:16] / "libedgeml_dut.so"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".libedgeml_dut.{os.getpid()}.so")
    proc = subprocess.run([cc, *CFLAGS, "-I", str(src), "-o", str(tmp), *map(str, files)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr[:200])
        raise HILError(f"building the virtual board failed: {first.strip()}",
                       hint=f"compile {src}/*.c with {cc} {' '.join(CFLAGS)} to see all errors")
    os.replace(tmp, out)
    return out


# --------------------------------------------------------------------------- ctypes mirror
_WRITE = C.CFUNCTYPE(None, C.c_void_p, C.POINTER(C.c_char), C.c_size_t)
_MICROS = C.CFUNCTYPE(C.c_uint64, C.c_void_p)
_PIN = C.CFUNCTYPE(None, C.c_void_p)
_LOAD = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(C.c_uint8), C.c_size_t, C.c_void_p, C.c_size_t)
_SIZE = C.CFUNCTYPE(C.c_size_t, C.c_void_p)
_SET_INPUT = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(C.c_uint8), C.c_size_t)
_INT = C.CFUNCTYPE(C.c_int, C.c_void_p)
_OUT_FLOAT = C.CFUNCTYPE(C.c_float, C.c_void_p, C.c_size_t)
_OP_PROFILE = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_size_t, C.c_void_p, C.c_size_t,
                          C.POINTER(C.c_uint32))
_INFO = C.CFUNCTYPE(C.c_void_p, C.c_void_p, C.c_char_p)


class _Port(C.Structure):
    _fields_ = [("write", _WRITE), ("micros", _MICROS), ("timestamp_pin", _PIN),
                ("ctx", C.c_void_p)]


class _Runner(C.Structure):
    _fields_ = [("load", _LOAD), ("input_bytes", _SIZE), ("set_input", _SET_INPUT),
                ("invoke", _INT), ("output_count", _SIZE), ("output_float", _OUT_FLOAT),
                ("arena_used", _SIZE), ("arena_min", _SIZE), ("op_count", _SIZE),
                ("op_profile", _OP_PROFILE), ("info", _INFO), ("ctx", C.c_void_p)]


def _put_cstr(buf: int, cap: int, text: str) -> None:
    if cap <= 0:
        return
    raw = text.encode("ascii", "replace")[:cap - 1] + b"\0"
    C.memmove(buf, raw, len(raw))


# --------------------------------------------------------------------------- the runner
class _TflmRunner:
    """edgeml_runner_t on the tflite-micro Python interpreter, with a simulated clock."""

    def __init__(self, target: Any, arena_bytes: int) -> None:
        self.target = target
        self.arena_cap = int(arena_bytes)
        self.interp: Any = None
        self.in_shape: tuple[int, ...] = ()
        self.in_dtype: Any = np.int8
        self.out_scale = 1.0
        self.out_zp = 0
        self.outputs: np.ndarray = np.zeros(0)
        self.latency_us = 0.0
        self.layers: list[tuple[str, float]] = []
        self.arena_used_bytes = 0
        self.arena_min_bytes = 0
        self.clock_us = 0.0
        self.invokes = 0
        self.pin_pulses: list[int] = []
        self._strings: dict[str, C.Array] = {}
        from importlib.metadata import version

        try:
            tflm = f"host {version('tflite-micro')}"
        except Exception:  # metadata missing
            tflm = "host"
        self.info_values = {"tflm": tflm, "kernels": "host", "timer": "simulated",
                            "arena": str(self.arena_cap)}

    def load(self, model: bytes) -> str | None:
        """Load ``model``; returns an error sentence or None."""
        from ..estimate import estimate_graph
        from ..estimate.arena import measure_arena
        from ..tflite.graph import read_graph

        try:
            graph = read_graph(model, where="the loaded model")
            arena = measure_arena(model)  # in a child process: a crashing model stays there
        except ModelError as exc:
            return f"{exc.message}"
        if arena["bytes"] > self.arena_cap:
            return (f"the model needs an arena of {arena['bytes']} bytes, "
                    f"the board has {self.arena_cap}")
        try:
            from tflite_micro.python.tflite_micro import runtime

            interp = runtime.Interpreter.from_bytes(model, arena_size=self.arena_cap)
            din = interp.get_input_details(0)
            dout = interp.get_output_details(0)
        except Exception as exc:  # TFLM's own refusal
            return str(exc).strip().splitlines()[0][:120] if str(exc).strip() else "load failed"
        est = estimate_graph(graph, self.target, arena_bytes=arena["bytes"])
        self.interp = interp
        self.in_shape = tuple(int(s) for s in din["shape"])
        self.in_dtype = np.dtype(din["dtype"])
        q = dout.get("quantization_parameters", {})
        scales = np.asarray(q.get("scales", [])).reshape(-1)
        zps = np.asarray(q.get("zero_points", [])).reshape(-1)
        self.out_scale = float(scales[0]) if scales.size else 1.0
        self.out_zp = int(zps[0]) if zps.size else 0
        self.outputs = np.zeros(int(np.prod(dout["shape"])), dtype=np.float32)
        self.latency_us = est.latency_ms * 1e3
        self.layers = [(lc.op, lc.latency_ms * 1e3) for lc in est.layers]
        self.arena_used_bytes = int(arena["total"])
        self.arena_min_bytes = int(arena["bytes"])
        return None

    def input_bytes(self) -> int:
        if self.interp is None:
            return 0
        return int(np.prod(self.in_shape)) * self.in_dtype.itemsize

    def set_input(self, data: bytes) -> int:
        arr = np.frombuffer(data, dtype=self.in_dtype).reshape(self.in_shape)
        self.interp.set_input(arr, 0)
        return 0

    def invoke(self) -> int:
        self.interp.invoke()
        out = np.asarray(self.interp.get_output(0)).reshape(-1).astype(np.float64)
        self.outputs = ((out - self.out_zp) * self.out_scale).astype(np.float32)
        self.clock_us += self.latency_us
        self.invokes += 1
        return 0

    def c_string(self, key: str, value: str) -> int:
        buf = self._strings.get(key)
        if buf is None or buf.value != value.encode():
            buf = C.create_string_buffer(value.encode())
            self._strings[key] = buf
        return C.addressof(buf)


# --------------------------------------------------------------------------- faults
@dataclass(frozen=True)
class Fault:
    """A fault injected at the ``nth`` (1-based) command whose text starts with ``on``.

    ``kind``: ``garbage`` (noise bytes before the reply), ``drop`` (the reply
    loses its first line starting with ``line``, default ``m-ready``), ``hang``
    (from then on the board answers nothing), ``disconnect`` (the board closes
    the port; use ``on="db"`` for a cut in the middle of a load).
    """

    kind: str
    on: str = ""
    nth: int = 1
    line: str = "m-ready"

    def __post_init__(self) -> None:
        if self.kind not in ("garbage", "drop", "hang", "disconnect"):
            raise ValueError(f"unknown fault kind {self.kind!r}")


# --------------------------------------------------------------------------- the board
class VirtualBoard:
    """A virtual board served on a pty (default) or a TCP socket; see the module docstring.

    ``model``: a resident model loaded at boot (``.tflite`` bytes; None: the board
    boots with model = none, like the bench firmware before ``model load``).
    ``base_only``: behave as a DUT with only the MLPerf Tiny base protocol (the
    extension's commands are refused before they reach the core, as a vendor's
    firmware would). ``faults``: see :class:`Fault`.
    """

    def __init__(self, *, target: Any, model: bytes | None = None, name: str = "edgeml-virtual",
                 slot_bytes: int = 1 << 20, arena_bytes: int = 1 << 20, input_bytes: int = 1 << 16,
                 transport: str = "pty", base_only: bool = False,
                 faults: tuple[Fault, ...] = ()) -> None:
        if transport not in ("pty", "tcp"):
            raise ValueError("transport must be 'pty' or 'tcp'")
        self.target = target
        self.name = name
        self.transport = transport
        self.base_only = bool(base_only)
        self.faults = tuple(faults)
        self.runner = _TflmRunner(target, arena_bytes)
        self.path = ""
        self.commands: list[str] = []
        self.error: BaseException | None = None
        self._seen: dict[Fault, int] = {}
        self._hung = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._out = bytearray()
        self._cmd = bytearray()
        self._lib = C.CDLL(str(build_library()))
        self._lib.edgeml_dut_size.restype = C.c_size_t
        self._dut = C.create_string_buffer(int(self._lib.edgeml_dut_size()))
        self._slot = C.create_string_buffer(int(slot_bytes))
        self._input = C.create_string_buffer(int(input_bytes))
        self._name = C.create_string_buffer(name.encode())
        self._timer = C.create_string_buffer(b"simulated")
        self._resident: Any = None
        self._callbacks = self._make_callbacks()
        self._port = _Port(*self._callbacks[:3], None)
        self._runner_s = _Runner(*self._callbacks[3:], None)
        self._lib.edgeml_dut_init(self._dut, C.byref(self._port), C.byref(self._runner_s),
                                  self._slot, C.c_size_t(int(slot_bytes)), self._input,
                                  C.c_size_t(int(input_bytes)), self._name)
        self._lib.edgeml_dut_set_timer_kind(self._dut, self._timer)
        if model is not None:
            self._resident = C.create_string_buffer(bytes(model), len(model))
            rc = self._lib.edgeml_dut_load_model(self._dut, self._resident,
                                                 C.c_size_t(len(model)))
            if rc != 0:
                raise ModelError("the virtual board could not load the model",
                                 hint="check that it is a valid int8 .tflite")
        self._master = self._slave = -1
        self._server: socket.socket | None = None
        self._conn: socket.socket | None = None

    # ---------------------------------------------------------------- callbacks into Python
    def _make_callbacks(self) -> tuple[Any, ...]:
        r = self.runner

        def write(ctx: Any, data: Any, n: int) -> None:
            self._out += C.string_at(data, n)

        def micros(ctx: Any) -> int:
            return int(r.clock_us)

        def pin(ctx: Any) -> None:
            r.pin_pulses.append(int(r.clock_us))

        def load(ctx: Any, model: Any, n: int, err: Any, cap: int) -> int:
            try:
                msg = r.load(C.string_at(model, n))
            except Exception as exc:  # never let an exception cross into C
                msg = f"{type(exc).__name__}: {exc}"[:120]
            if msg:
                _put_cstr(err, cap, msg)
                return 1
            return 0

        def guard(fn: Any, default: Any) -> Any:
            def inner(*args: Any) -> Any:
                try:
                    return fn(*args)
                except Exception:
                    return default
            return inner

        def op_profile(ctx: Any, i: int, name: Any, cap: int, us: Any) -> int:
            if i >= len(r.layers):
                return 1
            op, t = r.layers[i]
            _put_cstr(name, cap, op)
            us[0] = int(round(t))
            return 0

        def info(ctx: Any, key: bytes) -> int | None:
            value = r.info_values.get(key.decode())
            return r.c_string(key.decode(), value) if value is not None else None

        return (_WRITE(write), _MICROS(guard(micros, 0)), _PIN(guard(pin, None)),
                _LOAD(load), _SIZE(guard(lambda ctx: r.input_bytes(), 0)),
                _SET_INPUT(guard(lambda ctx, d, n: r.set_input(C.string_at(d, n)), 1)),
                _INT(guard(lambda ctx: r.invoke(), 1)),
                _SIZE(guard(lambda ctx: int(r.outputs.size), 0)),
                _OUT_FLOAT(guard(lambda ctx, i: float(r.outputs[i]), 0.0)),
                _SIZE(guard(lambda ctx: r.arena_used_bytes, 0)),
                _SIZE(guard(lambda ctx: r.arena_min_bytes, 0)),
                _SIZE(guard(lambda ctx: len(r.layers), 0)),
                _OP_PROFILE(guard(op_profile, 1)), _INFO(guard(info, None)))

    # ---------------------------------------------------------------- serving
    def start(self) -> str:
        """Boot the board and serve in a background thread; returns the port to open."""
        if self.transport == "pty":
            import tty

            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            self.path = os.ttyname(self._slave)
        else:
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            self._server = srv
            self.path = f"socket://127.0.0.1:{srv.getsockname()[1]}"
        self._lib.edgeml_dut_boot(self._dut)
        self._pending_boot = bytes(self._out)
        self._out.clear()
        if self.transport == "pty":
            self._send(self._pending_boot)
        self._thread = threading.Thread(target=self._serve, name="edgeml-virtual-board",
                                        daemon=True)
        self._thread.start()
        return self.path

    def _send(self, data: bytes) -> None:
        if not data:
            return
        if self.transport == "pty":
            view = memoryview(data)
            while view:
                n = os.write(self._master, view)
                view = view[n:]
        elif self._conn is not None:
            self._conn.sendall(data)

    def _recv(self) -> bytes | None:
        """Bytes from the client; b'' when nothing arrived, None when it went away."""
        if self.transport == "pty":
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                return b""
            try:
                return os.read(self._master, 4096)
            except OSError:
                return b""
        if self._conn is None:
            assert self._server is not None
            ready, _, _ = select.select([self._server], [], [], 0.05)
            if not ready:
                return b""
            self._conn, _ = self._server.accept()
            self._send(self._pending_boot)
            return b""
        ready, _, _ = select.select([self._conn], [], [], 0.05)
        if not ready:
            return b""
        data = self._conn.recv(4096)
        if not data:  # the client closed: wait for the next one
            self._conn.close()
            self._conn = None
            return b""
        return data

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._recv()
                if data is None:
                    break
                if data and self._handle(data) == "disconnect":
                    self._disconnect()
                    break
        except BaseException as exc:  # pragma: no cover - reported through .error
            self.error = exc

    def _handle(self, data: bytes) -> str | None:
        start = 0
        while start < len(data):
            pct = data.find(b"%", start)
            end = len(data) if pct < 0 else pct + 1
            seg = data[start:end]
            start = end
            if self._hung:
                continue
            if pct < 0:  # part of a command: the core keeps it
                self._cmd += seg
                self._feed(seg)
                continue
            text = (bytes(self._cmd) + seg[:-1]).translate(None, b"\r\n\0") \
                .decode("ascii", "replace").strip()
            self._cmd.clear()
            self.commands.append(text)
            fault = self._fault_for(text)
            if fault is not None and fault.kind == "disconnect":
                return "disconnect"
            if fault is not None and fault.kind == "hang":
                self._hung = True
                continue
            if self.base_only and text.split(" ")[0] in ("edgeml", "model", "arena", "ops"):
                # a base-only DUT: the core never sees the extension's commands
                self._feed(b"%")  # end whatever partial line the core holds, then drop its reply
                self._out.clear()
                reply = f"e-[Unknown command: {text}]\r\nm-ready\r\n".encode()
            else:
                self._feed(seg)
                reply = bytes(self._out)
                self._out.clear()
            if fault is not None and fault.kind == "garbage":
                reply = GARBAGE + reply
            elif fault is not None and fault.kind == "drop":
                lines = reply.split(b"\r\n")
                idx = next((i for i, ln in enumerate(lines)
                            if ln.startswith(fault.line.encode())), None)
                if idx is not None:
                    del lines[idx]
                reply = b"\r\n".join(lines)
            self._send(reply)
        return None

    def _feed(self, seg: bytes) -> None:
        buf = C.create_string_buffer(seg, len(seg))
        self._lib.edgeml_dut_feed(self._dut, buf, C.c_size_t(len(seg)))

    def _fault_for(self, text: str) -> Fault | None:
        for f in self.faults:
            if text.startswith(f.on):
                self._seen[f] = self._seen.get(f, 0) + 1
                if self._seen[f] == f.nth:
                    return f
        return None

    def _disconnect(self) -> None:
        if self.transport == "pty":
            for fd in (self._master, self._slave):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._master = self._slave = -1
        else:
            for s in (self._conn, self._server):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass
            self._conn = self._server = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._disconnect()

    def __enter__(self) -> VirtualBoard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def clock_us(self) -> int:
        return int(self.runner.clock_us)
