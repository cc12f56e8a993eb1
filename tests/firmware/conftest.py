"""Fixtures for the firmware tests: the protocol core compiled on the host."""

from __future__ import annotations

from pathlib import Path

import pytest
from fw_core import SANITIZE, build_core, build_driver


@pytest.fixture(scope="session")
def core_lib(tmp_path_factory) -> Path:
    return build_core(tmp_path_factory.mktemp("core"))


@pytest.fixture(scope="session")
def driver(tmp_path_factory) -> Path:
    return build_driver(tmp_path_factory.mktemp("driver"))


@pytest.fixture(scope="session")
def asan_driver(tmp_path_factory) -> Path:
    return build_driver(tmp_path_factory.mktemp("asan"), compiler="clang", extra=SANITIZE)
