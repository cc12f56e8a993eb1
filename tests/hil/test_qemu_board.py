"""The protocol client over socket:// against the bench firmware on an emulated
Cortex-M4 (QEMU mps2-an386, its UART on a TCP port). That build has no TFLite
Micro, so it checks the transport, the extension info and a clear refusal."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from edgeml.errors import HILError
from edgeml.hil.protocol import connect

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("EDGEML_REQUIRE_QEMU") == "1":
            pytest.fail(f"EDGEML_REQUIRE_QEMU=1 but {name} is not installed")
        pytest.skip(f"{name} not installed (.ci/run installs it)")
    return exe


@pytest.fixture(scope="module")
def qemu_port(tmp_path_factory):
    for t in ("qemu-system-arm", "arm-none-eabi-gcc", "make"):
        _tool(t)
    build = tmp_path_factory.mktemp("mps2")
    proc = subprocess.run(["make", "-C", str(ROOT / "firmware" / "ports" / "mps2-an386"),
                           f"BUILD={build}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    qemu = subprocess.Popen([_tool("qemu-system-arm"), "-M", "mps2-an386", "-nographic",
                             "-monitor", "none", "-icount", "shift=0", "-serial",
                             f"tcp:127.0.0.1:{port},server=on,wait=on", "-kernel",
                             str(build / "edgeml.elf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"socket://127.0.0.1:{port}"
    finally:
        qemu.kill()
        qemu.wait(timeout=10)


def _connect(url: str):
    deadline = time.monotonic() + 20
    while True:
        try:
            return connect(url, timeout=10, infer_timeout=20)
        except HILError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_client_drives_the_emulated_board_over_a_socket(qemu_port):
    with _connect(qemu_port) as c:
        assert c.name() == "edgeml-mps2-an386"
        ext = c.extension()
        assert ext is not None and ext.timer == "emulated" and ext.info["tflm"] == "none"
        t = [c.timestamp() for _ in range(3)]
        assert t[0] < t[1] < t[2]
        c.load_input(bytes(range(64)))              # no model: any size goes to the buffer
        with pytest.raises(HILError, match="no TFLite Micro runtime") as exc:
            c.load_model(b"\x1c\x00\x00\x00TFL3" + bytes(100))
        assert "\n" not in str(exc.value)
        with pytest.raises(HILError, match="No model loaded"):
            c.infer(1, 0)
        assert c.profile() == "edgeml-none"
