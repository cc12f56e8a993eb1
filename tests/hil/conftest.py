"""Fixtures for the HIL tests: virtual boards (the firmware's C core + host TFLM) and models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def small_model() -> bytes:
    """A small int8 conv net of edgeml's corpus (conv, max pool, conv, mean, dense)."""
    from edgeml.estimate.zoo import cached_model

    return cached_model("corpus", "conv_pool_gap")


@pytest.fixture(scope="session")
def mlp_model() -> bytes:
    from edgeml.estimate.zoo import cached_model

    return cached_model("corpus", "mlp_small")


@pytest.fixture()
def board():
    """``board(**options)`` starts a virtual board (stopped after the test) and returns it."""
    from edgeml.hil.virtual import VirtualBoard
    from edgeml.targets import load_target

    started = []

    def make(**kw):
        kw.setdefault("target", load_target("stm32l4r5"))
        vb = VirtualBoard(**kw)
        vb.start()
        started.append(vb)
        return vb

    yield make
    for vb in started:
        vb.stop()


@pytest.fixture()
def client_of():
    """``client_of(board, **timeouts)``: a connected protocol client (closed after the test)."""
    from edgeml.hil.protocol import connect

    clients = []

    def make(vb, **kw):
        kw.setdefault("timeout", 1.0)
        kw.setdefault("infer_timeout", 3.0)
        c = connect(vb.path, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def _search_conftest():
    spec = importlib.util.spec_from_file_location("_edgeml_search_conftest",
                                                  ROOT / "tests" / "search" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def mlp_space_file(tmp_path_factory) -> Path:
    """The search tests' small MLP space for digits, as a --space file."""
    path = tmp_path_factory.mktemp("space") / "mlp_space.py"
    path.write_text(_search_conftest().MLP_SPACE)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mlp_space_file):
    """A real 2-trial search on digits with the search tests' small MLP space (esp32)."""
    from edgeml.pipeline import SearchConfig, run_search

    tmp = tmp_path_factory.mktemp("hilrun")
    cfg = SearchConfig(target="esp32", trials=2, epochs=2, seed=0, out=str(tmp / "run"),
                       space=str(mlp_space_file), models="nn", ensemble=False)
    return run_search(cfg).run_dir
