"""Compiler helpers for the export tests (g++, arm-none-eabi-g++, the TFLM stub)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

STUB = Path(__file__).resolve().parent / "tflm_stub"
CXXFLAGS = ["-std=c++11", "-Wall", "-Wextra", "-Werror"]


def gxx(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(["g++", *CXXFLAGS, *args], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc


def arm_gxx() -> str:
    """``arm-none-eabi-g++``, or skip (fail when EDGEML_REQUIRE_ARM_GCC=1)."""
    exe = shutil.which("arm-none-eabi-g++")
    if exe is None:
        if os.environ.get("EDGEML_REQUIRE_ARM_GCC") == "1":
            pytest.fail("EDGEML_REQUIRE_ARM_GCC=1 but arm-none-eabi-g++ is not installed")
        pytest.skip("arm-none-eabi-g++ not installed (apt-get install gcc-arm-none-eabi "
                    "libnewlib-arm-none-eabi)")
    return exe
