"""Fixtures for the firmware tests: the protocol core compiled on the host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fw_core import COMMON, ROOT, build_core, require_tool

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


@pytest.fixture(scope="session")
def core_lib(tmp_path_factory) -> Path:
    return build_core(tmp_path_factory.mktemp("core"))


@pytest.fixture(scope="session")
def driver(tmp_path_factory) -> Path:
    return build_driver(tmp_path_factory.mktemp("driver"))


@pytest.fixture(scope="session")
def asan_driver(tmp_path_factory) -> Path:
    return build_driver(tmp_path_factory.mktemp("asan"), compiler="clang", extra=SANITIZE)


def run_stream(exe: Path, data: bytes, *args: str) -> tuple[list[str], str]:
    """Feed ``data`` to a stream driver; (reply lines, stderr)."""
    proc = subprocess.run([str(exe), *args], input=data, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    text = proc.stdout.decode("ascii")
    assert text.endswith("\r\n")
    return text.split("\r\n")[:-1], proc.stderr.decode(errors="replace")
