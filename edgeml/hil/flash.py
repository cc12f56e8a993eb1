"""Flash the bench firmware (or any built image) onto a board.

Three tools, run as subprocesses with a timeout:

- ``esptool`` (ESP32 family, over the board's USB-serial port): the image is a
  merged binary (``esptool merge-bin``, or PlatformIO's / ESP-IDF's merged
  ``*.bin``) written at 0x0 unless ``address`` says otherwise;
- ``pyocd`` (Cortex-M through the board's debug probe: ST-Link, CMSIS-DAP,
  J-Link): an ``.elf``, ``.hex`` or ``.bin``; the probe is picked by its unique
  id (``probe``) when several are plugged in; STM32 targets not built into pyOCD
  need their pack once (``pyocd pack install stm32l4r5zi``);
- PlatformIO (``pio run -t upload -e BOARD``) on the bench firmware's project
  (``firmware/ports/platformio``, one environment per board, or a project
  ``edgeml export --format firmware`` wrote): it builds, then uploads with the
  board's own uploader (e.g. bossac for the Nano 33 BLE).

Images cannot be built here (the ports get TFLite Micro from their platform's
package manager); ``flash`` writes a given image, or runs PlatformIO's upload.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import HILError

__all__ = ["Flasher", "FLASHERS", "BOARDS", "flash_command", "flash", "FlashResult",
           "tool_command"]

INSTALL_HINT = "pip install 'edgeml[hil]'"


@dataclass(frozen=True)
class Flasher:
    """How a bench-firmware board (``edgeml.export.firmware.BOARDS``) is flashed."""

    tool: str                # default tool: esptool | pyocd | pio
    chip: str                # esptool --chip, or pyOCD's target type
    note: str
    address: int = 0x0       # esptool: where a merged image goes


FLASHERS: dict[str, Flasher] = {
    "esp32": Flasher("esptool", "esp32", "ESP32-DevKitC, USB-serial"),
    "esp32s3": Flasher("esptool", "esp32s3", "ESP32-S3-DevKitC-1, USB-serial"),
    "esp32c3": Flasher("esptool", "esp32c3", "ESP32-C3-DevKitM-1, USB-serial"),
    "nrf52840": Flasher("pio", "nrf52840", "Nano 33 BLE: bossac through PlatformIO (pyocd needs "
                                           "an external SWD probe)"),
    "stm32l4r5": Flasher("pyocd", "stm32l4r5zitx", "NUCLEO-L4R5ZI, on-board ST-Link "
                                                   "(pyocd pack install stm32l4r5zi)"),
    "stm32f746": Flasher("pyocd", "stm32f746nghx", "32F746G-DISCOVERY, on-board ST-Link "
                                                   "(pyocd pack install stm32f746ng)"),
    "rp2040": Flasher("pyocd", "rp2040", "Raspberry Pi Pico through an SWD probe "
                                         "(e.g. a second Pico as debugprobe)"),
}
BOARDS = FLASHERS


@dataclass(frozen=True)
class FlashResult:
    command: tuple[str, ...]
    seconds: float
    output: str               # the tool's last lines


def _module_or_exe(module: str, exe: str) -> list[str]:
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        return [sys.executable, "-m", module]
    path = shutil.which(exe)
    if path:
        return [path]
    raise HILError(f"{exe} is not installed", hint=INSTALL_HINT)


def tool_command(tool: str) -> list[str]:
    """The command that runs ``tool`` (from this Python environment when installed)."""
    if tool == "esptool":
        return _module_or_exe("esptool", "esptool")
    if tool == "pyocd":
        return _module_or_exe("pyocd", "pyocd")
    if tool == "pio":
        path = shutil.which("pio") or shutil.which("platformio")
        if path:
            return [path]
        raise HILError("PlatformIO (pio) is not installed",
                       hint="pip install platformio, or flash a built image with --image")
    raise HILError(f"unknown flashing tool {tool!r}", hint="use esptool, pyocd or pio")


def get_board(name: str) -> Flasher:
    from ..export.firmware import BOARDS as FIRMWARE_BOARDS

    if name not in FLASHERS or name not in FIRMWARE_BOARDS:
        raise HILError(f"unknown board {name!r}", hint=f"boards: {', '.join(FLASHERS)}")
    return FLASHERS[name]


def flash_command(board: str, *, port: str | None = None, image: str | Path | None = None,
                  tool: str | None = None, project: str | Path | None = None,
                  env: str | None = None, probe: str | None = None, baud: int = 460800,
                  address: int | None = None) -> list[str]:
    """The command line that flashes ``board`` (see the module docstring)."""
    b = get_board(board)
    tool = tool or b.tool
    if tool == "esptool":
        if b.tool != "esptool":
            raise HILError(f"esptool flashes ESP32 chips, not {board}",
                           hint=f"use --tool {b.tool}")
        if not port:
            raise HILError(f"flashing {board} with esptool needs the board's serial port",
                           hint="pass --port /dev/ttyUSB0 (ls /dev/ttyUSB* /dev/ttyACM*)")
        img = _image(image)
        return [*tool_command("esptool"), "--chip", b.chip, "--port", str(port), "--baud",
                str(int(baud)), "write-flash", hex(b.address if address is None else address),
                str(img)]
    if tool == "pyocd":
        if b.tool == "esptool":
            raise HILError(f"{board} is flashed over its serial port", hint="use --tool esptool")
        img = _image(image)
        cmd = [*tool_command("pyocd"), "flash", "--no-wait", "-t", b.chip]
        if probe:
            cmd += ["-u", str(probe)]
        return cmd + [str(img)]
    if tool == "pio":
        proj = Path(project) if project else _default_pio_project()
        cmd = [*tool_command("pio"), "run", "-d", str(proj), "-e", env or board, "-t", "upload"]
        if port:
            cmd += ["--upload-port", str(port)]
        return cmd
    raise HILError(f"unknown flashing tool {tool!r}", hint="use esptool, pyocd or pio")


def _image(image: str | Path | None) -> Path:
    if image is None:
        raise HILError("no firmware image to flash",
                       hint="build the bench firmware for the board (see firmware/README) and "
                            "pass it with --image FILE, or use --tool pio on the port project")
    p = Path(image)
    if not p.is_file():
        raise HILError(f"firmware image {p} does not exist", hint="pass the built image with --image")
    return p


def _default_pio_project() -> Path:
    """The bench firmware's PlatformIO project (one environment per board)."""
    from ..export.firmware import firmware_dir

    return firmware_dir() / "ports" / "platformio"


_HINTS = {
    "esptool": "check --port; if it still fails, hold BOOT, press RESET and try again",
    "pyocd": "plug in the board's debug probe (ST-Link / CMSIS-DAP USB); STM32 targets need "
             "their pack once: pyocd pack install <part>",
    "pio": "run the same pio command in the project to see its full output",
}


def flash(board: str, *, timeout: float = 300.0, **options: object) -> FlashResult:
    """Run the flashing command; a failure or timeout is a one-line :class:`HILError`."""
    cmd = flash_command(board, **options)  # type: ignore[arg-type]
    tool = str(options.get("tool") or get_board(board).tool)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    except subprocess.TimeoutExpired as exc:
        raise HILError(f"{tool} did not finish within {timeout:g} s", hint=_HINTS[tool]) from exc
    out = (proc.stdout or "") + (proc.stderr or "")
    tail = "\n".join(ln for ln in out.splitlines() if ln.strip())[-2000:]
    if proc.returncode != 0:
        raise HILError(f"{tool} failed (exit {proc.returncode}): {failure_line(out)}",
                       hint=_HINTS[tool])
    return FlashResult(command=tuple(cmd), seconds=time.monotonic() - t0, output=tail)


def failure_line(output: str) -> str:
    """The most telling line of a tool's failure output."""
    lines = [ln.strip(" │╭╮╰╯─") for ln in output.splitlines() if ln.strip(" │╭╮╰╯─")]
    for key in ("error", "Error", "ERROR", "fatal", "No "):
        hit = next((ln for ln in lines if key in ln), None)
        if hit:
            return hit[:200]
    return (lines[-1] if lines else "no output")[:200]
