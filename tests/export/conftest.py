"""Fixtures for the export tests: the digits int8 model on disk and its artifact."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def digits_tflite(tmp_path_factory, digits_int8) -> Path:
    path = tmp_path_factory.mktemp("model") / "digits.tflite"
    path.write_bytes(digits_int8)
    return path


@pytest.fixture(scope="session")
def artifact(digits_tflite):
    from edgeml.export import load_artifact

    return load_artifact(digits_tflite, target="esp32")
