"""Client of the bench protocol: MLPerf Tiny's DUT protocol plus edgeml's extension.

A command is ASCII ending in ``%``; the board answers lines (``m-...`` messages,
``e-[...]`` errors) and ends every reply with ``m-ready``. The client sends one
command at a time and reads until ``m-ready`` under a per-command timeout
(5 s, 30 s for ``infer``, as the MLPerf Tiny runner). It survives a noisy line:

- bytes before a reply (a reset banner, line noise) are cut off up to the first
  ``m-`` / ``e-``; lines with neither are dropped;
- a reply that times out or misses its expected line means the client lost
  step with the board: it *resynchronises* (ends any half command with ``%``,
  drops what is pending, sends the idempotent ``name%`` and waits for its reply)
  and retries, but only commands that are safe to repeat. A ``db`` transfer is
  never resumed halfway: the whole load starts again with ``db load`` /
  ``model load`` (the firmware aborts the open one).

When the board stops answering or the port disappears the client raises a
one-line :class:`~edgeml.errors.HILError`. The edgeml extension is detected
with ``edgeml%`` (a base-only DUT answers ``e-[Unknown command: edgeml]``),
never assumed.
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass, field

from ..errors import HILError
from .transport import Transport, open_transport

__all__ = ["Reply", "Extension", "Inference", "LoadedModel", "DutClient", "connect",
           "DEFAULT_TIMEOUT_S", "INFER_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 5.0
INFER_TIMEOUT_S = 30.0
INPUT_CHUNK = 31      # bytes per `db` command for inputs, as the MLPerf Tiny runner sends
MODEL_CHUNK = 38      # `db ` + 76 hex digits = 79 characters, under the 80-character limit
FIRMWARE_HINT = ("check the cable and that the board runs the edgeml bench firmware "
                 "(edgeml flash --board BOARD --port PORT --image FILE)")

_MSG = re.compile(r"[me]-")


@dataclass(frozen=True)
class Reply:
    command: str
    lines: tuple[str, ...]          # the reply without its final m-ready

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(ln for ln in self.lines if ln.startswith("e-"))

    def first(self, prefix: str) -> str | None:
        return next((ln for ln in self.lines if ln.startswith(prefix)), None)

    def all(self, prefix: str) -> list[str]:
        return [ln for ln in self.lines if ln.startswith(prefix)]

    def has(self, prefix: str) -> bool:
        return self.first(prefix) is not None


@dataclass(frozen=True)
class Extension:
    version: int
    info: dict[str, str]

    @property
    def timer(self) -> str:
        return self.info.get("timer", "device")

    @property
    def slot_bytes(self) -> int | None:
        return _int_or_none(self.info.get("slot"))

    @property
    def arena_buffer_bytes(self) -> int | None:
        return _int_or_none(self.info.get("arena"))


@dataclass(frozen=True)
class Inference:
    iterations: int
    warmup: int
    t0_us: int
    t1_us: int
    results: tuple[float, ...]

    @property
    def latency_ms(self) -> float:
        return (self.t1_us - self.t0_us) / self.iterations / 1e3

    @property
    def window_s(self) -> float:
        return (self.t1_us - self.t0_us) / 1e6


@dataclass(frozen=True)
class LoadedModel:
    bytes: int
    crc: str
    input_bytes: int
    output_count: int
    arena_used: int | None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"edgeml-{self.crc}"


class _NoReply(HILError):
    """A reply did not arrive in time (internal: the caller resyncs or gives up)."""


def bracket(line: str, prefix: str) -> str:
    """``m-model-[abc]`` with prefix ``m-model-`` -> ``abc``."""
    rest = line[len(prefix):].strip()
    if rest.startswith("[") and rest.endswith("]"):
        return rest[1:-1]
    return rest


def _int_or_none(v: str | None) -> int | None:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def crc32_hex(data: bytes) -> str:
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


class DutClient:
    """One board on one transport. ``timeout`` / ``infer_timeout`` in seconds;
    ``retries`` is how often a command that is safe to repeat (or a whole load)
    is tried again after a resync."""

    def __init__(self, transport: Transport, *, timeout: float = DEFAULT_TIMEOUT_S,
                 infer_timeout: float = INFER_TIMEOUT_S, retries: int = 2) -> None:
        self.transport = transport
        self.port = transport.port
        self.timeout = float(timeout)
        self.infer_timeout = float(infer_timeout)
        self.retries = int(retries)
        self.resyncs = 0           # how often the client lost step and recovered
        self.noise: list[str] = []  # dropped lines (for diagnostics)
        self._extension: Extension | None | bool = False  # False: not asked yet

    # ------------------------------------------------------------------ plumbing
    def _exchange(self, cmd: str, timeout: float) -> Reply:
        self.transport.write(cmd.encode("ascii") + b"%")
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            line = self.transport.read_line(deadline)
            if line is None:
                raise _NoReply(f"no reply from {self.port} to {cmd!r} within {timeout:g} s",
                               hint=FIRMWARE_HINT)
            m = _MSG.search(line)
            if m is None:
                if line.strip():
                    self.noise.append(line[:120])
                continue
            if m.start() > 0:
                self.noise.append(line[:m.start()][:120])
                line = line[m.start():]
            line = line.strip()
            if line == "m-ready":
                return Reply(cmd, tuple(lines))
            lines.append(line)

    def resync(self, *, timeout: float | None = None) -> None:
        """Get back in step with the board (see the module docstring)."""
        timeout = self.timeout if timeout is None else timeout
        self.resyncs += 1
        self.transport.write(b"%")          # end any half-received command on the board
        self.transport.drain(quiet_s=min(0.2, timeout / 4))
        deadline = time.monotonic() + timeout
        self.transport.write(b"name%")
        seen_name = False
        while True:
            line = self.transport.read_line(deadline)
            if line is None:
                raise HILError(f"no reply from {self.port} to 'name' within {timeout:g} s",
                               hint=FIRMWARE_HINT)
            m = _MSG.search(line)
            if m is None:
                continue
            line = line[m.start():].strip()
            if line.startswith("m-name-dut-"):
                seen_name = True
            elif line == "m-ready" and seen_name:
                return

    def _resync_after(self, last: HILError | None) -> None:
        """Resync after ``last`` went wrong; if the board stays silent, say what it
        failed to answer first (the user's command, not the resync's ``name``)."""
        try:
            self.resync()
        except HILError as exc:
            if isinstance(last, _NoReply):
                raise HILError(f"{last.message}, nor to a resync", hint=last.hint) from exc
            raise

    def command(self, cmd: str, *, timeout: float | None = None,
                expect: tuple[str, ...] = (), repeatable: bool = True) -> Reply:
        """Send ``cmd`` (without ``%``) and return its reply.

        ``expect``: prefixes one of which must be in the reply, else the client
        assumes it lost step. ``repeatable``: the command may be sent again after
        a resync (no state change on the board that a repeat would spoil).
        """
        timeout = self.timeout if timeout is None else timeout
        attempts = 1 + (self.retries if repeatable else 0)
        last: HILError | None = None
        for attempt in range(attempts):
            if attempt:
                self._resync_after(last)
            try:
                reply = self._exchange(cmd, timeout)
            except _NoReply as exc:
                last = exc
                if not repeatable:
                    raise
                continue
            if expect and not any(reply.has(p) for p in expect):
                last = HILError(f"{self.port} answered {cmd!r} with "
                                f"{' | '.join(reply.lines[-3:]) or 'nothing'}",
                                hint=FIRMWARE_HINT)
                if not repeatable:
                    raise last
                continue
            return reply
        assert last is not None
        raise HILError(last.message, hint=last.hint)

    # ------------------------------------------------------------------ base protocol
    def name(self) -> str:
        r = self.command("name", expect=("m-name-dut-",))
        return bracket(r.first("m-name-dut-") or "", "m-name-dut-")

    def profile(self) -> str:
        """The resident model's id (``m-model-[...]``)."""
        r = self.command("profile", expect=("m-model-",))
        return bracket(r.first("m-model-") or "", "m-model-")

    def timestamp(self) -> int:
        r = self.command("timestamp", expect=("m-lap-us-",))
        return int((r.first("m-lap-us-") or "m-lap-us-0")[len("m-lap-us-"):])

    def _transfer(self, opener: str, data: bytes, chunk: int, *, done: str) -> Reply:
        """``opener`` (``db load N`` / ``model load N CRC``) then ``db HEX`` lines;
        returns the reply to the last chunk. Raises _NoReply when a reply is lost."""
        r = self._exchange(opener, self.timeout)
        if not r.has("m-[Expecting"):
            errors = [e for e in r.errors if "load aborted" not in e]
            raise HILError(f"{self.port} refused {opener!r}: "
                           f"{(errors or list(r.lines) or ['no reply'])[-1]}",
                           hint="check the model and input size against the board's firmware")
        last = r
        for i in range(0, len(data), chunk):
            last = self._exchange("db " + data[i:i + chunk].hex(), self.timeout)
            if last.errors:
                raise _NoReply(f"{self.port} rejected a db line ({last.errors[-1]})",
                               hint=FIRMWARE_HINT)
        if not last.has(done) and not last.errors:
            raise _NoReply(f"{self.port} did not confirm the load ({done} missing)",
                           hint=FIRMWARE_HINT)
        return last

    def _restartable(self, what: str, run: object) -> Reply:
        last: HILError | None = None
        for attempt in range(1 + self.retries):
            if attempt:
                self._resync_after(last)
            try:
                return run()  # type: ignore[operator]
            except _NoReply as exc:
                last = exc
        assert last is not None
        raise HILError(f"{what} failed {1 + self.retries} times ({last.message})",
                       hint=last.hint)

    def load_input(self, data: bytes) -> None:
        """Send one input tensor with ``db load N`` + ``db HEX``; a lost reply restarts it."""
        data = bytes(data)
        self._restartable(f"loading {len(data)} input bytes into {self.port}",
                          lambda: self._transfer(f"db load {len(data)}", data, INPUT_CHUNK,
                                                 done="m-load-done"))

    def infer(self, iterations: int, warmup: int, *, timeout: float | None = None) -> Inference:
        """``infer N W``: N timed inferences after W warm-up runs. Inference is
        repeatable, so a reply that lost a line is asked for again once in step."""
        timeout = self.infer_timeout if timeout is None else timeout
        cmd = f"infer {int(iterations)} {int(warmup)}"
        r: Reply | None = None
        for attempt in range(1 + self.retries):
            if attempt:
                self.resync()
            r = self.command(cmd, timeout=timeout, expect=("m-infer-done", "e-["))
            if r.errors and not r.has("m-infer-done"):
                raise HILError(f"{self.port} could not run inference: {r.errors[-1]}",
                               hint="load an input (and a model) first")
            laps = [int(ln[len("m-lap-us-"):]) for ln in r.all("m-lap-us-")]
            results = r.first("m-results-")
            if len(laps) >= 2 and results is not None:
                return Inference(iterations=int(iterations), warmup=int(warmup), t0_us=laps[0],
                                 t1_us=laps[-1], results=parse_results(results))
        assert r is not None
        raise HILError(f"{self.port} sent an incomplete reply to {cmd!r} "
                       f"({' | '.join(r.lines[-4:])})", hint=FIRMWARE_HINT)

    def results(self) -> tuple[float, ...]:
        r = self.command("results", expect=("m-results-",))
        return parse_results(r.first("m-results-") or "m-results-[]")

    # ------------------------------------------------------------------ extension
    def extension(self) -> Extension | None:
        """The edgeml extension's version and info, or None for a base-only DUT."""
        if self._extension is not False:
            return self._extension  # type: ignore[return-value]
        r = self.command("edgeml", expect=("m-edgeml-", "e-[Unknown command: edgeml"))
        head = r.first("m-edgeml-")
        if head is None:
            self._extension = None
            return None
        info = {}
        for ln in r.all("m-info-"):
            key, _, value = bracket(ln, "m-info-").partition("=")
            info[key.strip()] = value.strip()
        ext = Extension(version=_int_or_none(bracket(head, "m-edgeml-")) or 0, info=info)
        self._extension = ext
        return ext

    def require_extension(self, what: str) -> Extension:
        ext = self.extension()
        if ext is None:
            raise HILError(f"the board on {self.port} speaks only the MLPerf Tiny base protocol; "
                           f"{what} needs the edgeml bench firmware",
                           hint="flash it with edgeml flash --board BOARD --port PORT --image FILE")
        return ext

    def load_model(self, model: bytes) -> LoadedModel:
        """``model load N CRC`` + ``db HEX`` into the model slot; a lost reply or a
        checksum mismatch restarts the whole load."""
        self.require_extension("loading a model over serial")
        model = bytes(model)
        crc = crc32_hex(model)

        def once() -> Reply:
            r = self._transfer(f"model load {len(model)} {crc}", model, MODEL_CHUNK,
                               done="m-load-done")
            if any("checksum mismatch" in e for e in r.errors):
                raise _NoReply(f"the model arrived corrupted on {self.port} ({r.errors[-1]})",
                               hint="check the cable; lower the baud rate")
            return r

        r = self._restartable(f"loading the model ({len(model)} bytes) into {self.port}", once)
        if r.errors or not r.has("m-model-"):
            raise HILError(f"the board on {self.port} could not load the model: "
                           f"{(r.errors or ('no m-model line',))[-1]}",
                           hint="check that the firmware registers the model's operators and "
                                "that its arena is large enough")
        fields = dict(kv.split("=", 1) for kv in bracket(r.first("m-model-") or "", "m-model-")
                      .split(",") if "=" in kv)
        return LoadedModel(bytes=int(fields.get("bytes", len(model))), crc=fields.get("crc", crc),
                           input_bytes=int(fields.get("input_bytes", 0)),
                           output_count=int(fields.get("output_count", 0)),
                           arena_used=_int_or_none(fields.get("arena_used")), fields=fields)

    def arena(self) -> tuple[int | None, int | None]:
        """(arena used, smallest arena that allocates and invokes) in bytes."""
        self.require_extension("the arena query")
        r = self.command("arena", expect=("m-arena-used-", "e-["))
        used = r.first("m-arena-used-")
        low = r.first("m-arena-min-")
        return (_int_or_none(bracket(used, "m-arena-used-")) if used else None,
                _int_or_none(bracket(low, "m-arena-min-")) if low else None)

    def ops(self) -> list[tuple[int, str, int]]:
        """Per-operator microseconds of the last inference (TFLM's MicroProfiler)."""
        self.require_extension("the operator profile")
        r = self.command("ops", expect=("m-op-total-us-", "e-["))
        out = []
        for ln in r.all("m-op-["):
            parts = bracket(ln, "m-op-").split(",")
            if len(parts) >= 3:
                out.append((int(parts[0]), parts[1].strip(), int(parts[2])))
        return out

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> DutClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_results(line: str) -> tuple[float, ...]:
    body = bracket(line, "m-results-")
    try:
        return tuple(float(v) for v in body.split(",") if v.strip())
    except ValueError as exc:
        raise HILError(f"unreadable results line {line[:80]!r}", hint=FIRMWARE_HINT) from exc


def connect(port: str, *, baudrate: int = 115200, timeout: float = DEFAULT_TIMEOUT_S,
            infer_timeout: float = INFER_TIMEOUT_S, retries: int = 2) -> DutClient:
    """Open ``port`` and get in step with the board (it may have just booted)."""
    client = DutClient(open_transport(port, baudrate=baudrate), timeout=timeout,
                       infer_timeout=infer_timeout, retries=retries)
    try:
        client.resync()
        client.resyncs = 0
    except HILError:
        client.close()
        raise
    return client
