"""Flashing command lines, run through the real tools' argument parsing.

Each command is run for real with a port or probe that does not exist: the tool
must get past its argument parser (no usage error) and fail where a board is
needed. A wrong option or sub-command would fail with the parser's usage error.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest

from edgeml.errors import HILError
from edgeml.hil.flash import BOARDS, flash, flash_command

USAGE = ("Usage:", "usage:", "No such option", "unrecognized arguments", "invalid choice",
         "Missing argument", "Got unexpected extra argument")


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    return proc.stdout + proc.stderr


@pytest.fixture()
def image(tmp_path):
    p = tmp_path / "firmware.bin"
    p.write_bytes(bytes(range(256)) * 8)
    return p


@pytest.mark.skipif(importlib.util.find_spec("esptool") is None, reason="esptool not installed")
@pytest.mark.parametrize("board", ["esp32", "esp32s3", "esp32c3"])
def test_esptool_accepts_the_command(board, image):
    cmd = flash_command(board, port="/dev/nonexistent-edgeml", image=image)
    assert cmd[-3:] == ["write-flash", "0x0", str(image)] and BOARDS[board].chip in cmd
    out = _run(cmd)
    assert not any(u in out for u in USAGE), out
    assert "Could not open /dev/nonexistent-edgeml" in out


@pytest.mark.skipif(importlib.util.find_spec("pyocd") is None, reason="pyocd not installed")
@pytest.mark.parametrize("board", ["stm32l4r5", "stm32f746", "rp2040"])
def test_pyocd_accepts_the_command(board, image):
    cmd = flash_command(board, image=image, probe="0123456789")
    out = _run(cmd)
    assert not any(u in out for u in USAGE), out
    assert "No connected debug probe matches unique ID '0123456789'" in out, out


@pytest.mark.skipif(shutil.which("pio") is None, reason="PlatformIO not installed")
def test_platformio_accepts_the_command(tmp_path):
    cmd = flash_command("nrf52840", port="/dev/nonexistent-edgeml", project=tmp_path)
    assert cmd[1:] == ["run", "-d", str(tmp_path), "-e", "nrf52840", "-t", "upload",
                       "--upload-port", "/dev/nonexistent-edgeml"]
    out = _run(cmd)
    assert not any(u in out for u in USAGE), out
    assert "NotPlatformIOProjectError" in out


def test_a_failed_flash_is_one_line(image):
    pytest.importorskip("esptool")
    with pytest.raises(HILError) as exc:
        flash("esp32s3", port="/dev/nonexistent-edgeml", image=image, timeout=120)
    msg = str(exc.value)
    assert msg.startswith("esptool failed") and "nonexistent-edgeml" in msg and "\n" not in msg


def test_missing_image_and_wrong_tool_are_clear():
    with pytest.raises(HILError, match="--image"):
        flash_command("esp32s3", port="/dev/ttyUSB0")
    with pytest.raises(HILError, match="esptool flashes ESP32 chips"):
        flash_command("stm32l4r5", tool="esptool", port="/dev/ttyUSB0", image="x.bin")
    with pytest.raises(HILError, match="unknown board"):
        flash_command("arduino-uno")
