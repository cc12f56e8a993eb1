"""Failure injection and fuzzing of the command line: every failure a user can cause ends
in one line on stderr (``edgeml: error: ...``), the right exit code, no traceback, no
native log left behind, and no file the user had changed or lost.

Commands run in this process through :func:`edgeml.cli.main` (fast); the cases where a
signal, a resource limit or a crash matters run ``python -m edgeml`` as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import settings
from relkit import Outcome, immutable_supported

# The same examples on every run (CI must not flake); EDGEML_FUZZ_RANDOM=1 explores new
# ones, EDGEML_FUZZ_EXAMPLES=K multiplies how many.
settings.register_profile("edgeml", derandomize=not os.environ.get("EDGEML_FUZZ_RANDOM"),
                          deadline=None)
settings.load_profile("edgeml")


@pytest.fixture()
def private_tmp(tmp_path, monkeypatch) -> Path:
    """A temporary directory of this test's own: edgeml's native log lands here, so a test
    can tell that none was kept (other processes share /tmp)."""
    d = tmp_path / "systmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    monkeypatch.setenv("TMPDIR", str(d))
    return d


@pytest.fixture()
def cli(capfd, private_tmp):
    """Run ``edgeml ARGS`` in this process; returns an :class:`Outcome`. Asserts afterwards
    that no native-library log was kept."""
    from edgeml.cli import main

    def run(*args: str, cwd: Path | None = None) -> Outcome:
        capfd.readouterr()
        here = os.getcwd()
        try:
            if cwd:
                os.chdir(cwd)
            code = main([str(a) for a in args])
        except SystemExit as exc:  # --help / --version only
            code = int(exc.code or 0)
        finally:
            os.chdir(here)
        cap = capfd.readouterr()
        logs = list(private_tmp.glob("edgeml-native-*.log"))
        assert not logs, f"native log kept for a user error: {logs}"
        return Outcome(code, cap.out, cap.err)

    return run


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> Path:
    """60 rows, 4 features, 3 well separated classes: trains in a second."""
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    x = rng.normal(size=(60, 4)) + y[:, None] * 3.0
    lines = ["a,b,c,d,label"] + [",".join(f"{v:.4f}" for v in r) + f",{c}" for r, c in zip(x, y, strict=True)]
    p = d / "small.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory) -> Path:
    """A small int8 model (Dense layers, no SOFTMAX), converted without training."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from edgeml._tf import keras, set_seed
    from edgeml.compress import to_int8_tflite

    k = keras()
    set_seed(0)
    model = k.Sequential([k.layers.Input((4,)), k.layers.Dense(8, activation="relu"),
                          k.layers.Dense(3)])
    calib = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    p = tmp_path_factory.mktemp("model") / "tiny.tflite"
    p.write_bytes(to_int8_tflite(model, calib))
    return p


@pytest.fixture()
def immutable(tmp_path) -> Iterator[Any]:
    """``immutable(path)`` makes a folder immutable (undone after the test); skips where
    the file system or the user cannot."""
    if not immutable_supported(tmp_path):
        pytest.skip("chattr +i is not available here (needs root on a file system with "
                    "immutable flags)")
    made: list[Path] = []

    def make(path: Path) -> Path:
        subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
        made.append(path)
        return path

    yield make
    for p in reversed(made):
        subprocess.run(["chattr", "-i", str(p)], capture_output=True)
