"""Byte transports to a board: a serial port, a pseudo-terminal or a TCP socket.

Everything goes through pyserial's ``serial_for_url``: a device path
(``/dev/ttyUSB0``, ``COM3``, a pty such as ``/dev/pts/5``) opens a serial port,
``socket://host:port`` a TCP connection (QEMU's ``-serial tcp:...``, the
virtual board's ``--tcp``). Errors become one-line :class:`HILError` s.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import HILError

try:  # a pty whose other end closed fails tcdrain() with termios.error, not OSError
    import termios

    _TTY_ERRORS: tuple[type[BaseException], ...] = (termios.error,)
except ImportError:  # pragma: no cover - Windows
    _TTY_ERRORS = ()

__all__ = ["Transport", "open_transport", "timing_of_port"]

PORT_HINT = "check the cable and the port name (ls /dev/ttyUSB* /dev/ttyACM*)"


class Transport:
    """A byte pipe with a deadline-based line reader (``\\r``, ``\\0`` dropped)."""

    def __init__(self, port: str, *, baudrate: int = 115200, poll_s: float = 0.02) -> None:
        import serial

        self.port = port
        self._buf = bytearray()
        try:
            self._ser: Any = serial.serial_for_url(port, baudrate=baudrate, timeout=poll_s,
                                                   write_timeout=5.0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise HILError(f"cannot open {port} ({_short(exc)})", hint=PORT_HINT) from exc

    # -- raw bytes
    def write(self, data: bytes) -> None:
        import serial

        try:
            self._ser.write(data)
            self._ser.flush()
        except (serial.SerialException, OSError, *_TTY_ERRORS) as exc:
            raise self._gone(exc) from exc

    def _read_some(self) -> bytes:
        import serial

        try:
            n = max(1, getattr(self._ser, "in_waiting", 0) or 0)
            return self._ser.read(n)
        except (serial.SerialException, OSError, TypeError, *_TTY_ERRORS) as exc:
            raise self._gone(exc) from exc

    def _gone(self, exc: BaseException) -> HILError:
        return HILError(f"{self.port} disappeared ({_short(exc)})",
                        hint="check the cable; the board may have been unplugged or reset")

    # -- lines
    def read_line(self, deadline: float) -> str | None:
        """The next complete line, or None when ``deadline`` (time.monotonic) passes."""
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[:nl + 1]
                return raw.replace(b"\r", b"").replace(b"\0", b"").decode("ascii", "replace")
            if time.monotonic() >= deadline:
                return None
            chunk = self._read_some()
            if chunk:
                self._buf += chunk

    def drain(self, quiet_s: float = 0.05) -> bytes:
        """Read and drop whatever arrives until the line is quiet for ``quiet_s``."""
        dropped = bytearray(self._buf)
        self._buf.clear()
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            chunk = self._read_some()
            if chunk:
                dropped += chunk
                last = time.monotonic()
        return bytes(dropped)

    def close(self) -> None:
        try:
            self._ser.close()
        except Exception:  # closing a port that vanished
            pass

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_transport(port: str, *, baudrate: int = 115200) -> Transport:
    return Transport(port, baudrate=baudrate)


def timing_of_port(port: str) -> str:
    """What a board's timer means when its firmware does not say: a TCP socket or a
    pseudo-terminal is an emulator (QEMU) or a simulation, anything else a device."""
    if port.startswith("socket://") or port.startswith("/dev/pts/") or "ptmx" in port:
        return "emulated"
    return "device"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
