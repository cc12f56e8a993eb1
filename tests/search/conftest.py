"""Fixtures for the search tests: a fit counter, a tiny target, one shared real search."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def count_fits(check: Any = None):
    """Count (and optionally inspect) every tf_keras ``Model.fit`` call; the real fit runs.

    Searches inside the block train in this process (``EDGEML_TRIAL_WORKER=0``), where
    the spy sees every fit; tests/search/test_worker.py checks that the worker process
    runs the same steps."""
    import os

    from edgeml._tf import keras

    cls = keras().Model
    real = cls.fit
    calls: list[dict[str, Any]] = []
    before = os.environ.get("EDGEML_TRIAL_WORKER")
    os.environ["EDGEML_TRIAL_WORKER"] = "0"

    def spy(self, *args: Any, **kwargs: Any):
        x = args[0] if args else kwargs.get("x")
        info = {"name": self.name, "params": self.count_params(),
                "epochs": kwargs.get("epochs"), "initial_epoch": kwargs.get("initial_epoch", 0),
                "samples": None if x is None else len(x),
                "validation": kwargs.get("validation_data") is not None}
        if check is not None:
            info.update(check(self) or {})
        calls.append(info)
        return real(self, *args, **kwargs)

    cls.fit = spy
    try:
        yield calls
    finally:
        cls.fit = real
        if before is None:
            os.environ.pop("EDGEML_TRIAL_WORKER", None)
        else:
            os.environ["EDGEML_TRIAL_WORKER"] = before


def tiny_target(tmp: Path, *, arena_kb: float = 4.0, name: str = "tiny") -> Path:
    """An ESP32 profile with only ``arena_kb`` of RAM left for the tensor arena."""
    text = (ROOT / "targets" / "esp32.toml").read_text()
    text = text.replace('name = "esp32"', f'name = "{name}"')
    # chip RAM = firmware 360 KB + runtime 8 KB + the arena budget
    text = text.replace("ram_kb = 520", f"ram_kb = {360 + 8 + arena_kb}")
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def multi_run(tmp_path_factory):
    """A real 2-trial search on digits that must fit esp32 *and* a 3.5 KB-arena target,
    under a 24 KB model limit, optimising latency; every fit call is counted and the
    model being fit is converted to int8 to prove it was within the flash limit."""
    from edgeml.data import load_dataset
    from edgeml.estimate import Limits
    from edgeml.pipeline import SearchConfig, run_search
    from edgeml.tflite.int8 import representative_sample, to_int8_tflite

    tmp = tmp_path_factory.mktemp("multi")
    tiny = tiny_target(tmp, arena_kb=3.5)  # seed 1's second draw needs 4080 bytes
    calib = representative_sample(load_dataset("digits").x_train, n=50)
    events: list[tuple[str, Any]] = []

    def flash_at_fit(model: Any) -> dict[str, Any]:
        return {"model_bytes": len(to_int8_tflite(model, calib))}

    cfg = SearchConfig(target=f"esp32,{tiny}", trials=2, epochs=2, seed=1, out=str(tmp / "run"),
                       objective="latency", limits=Limits(max_model_bytes=24 * 1024),
                       models="nn", ensemble=False, proposals=1)  # plain draws: some break
    with count_fits(flash_at_fit) as fits:
        result = run_search(cfg, on_event=lambda kind, rec: events.append((kind, rec)))
    return {"result": result, "fits": fits, "events": events, "tiny": tiny, "cfg": cfg}


@pytest.fixture(scope="session")
def fit_counter():
    """``with fit_counter() as fits:`` counts real ``Model.fit`` calls (see count_fits)."""
    return count_fits


MLP_SPACE = '''
"""A small user space for digits: an MLP on the flattened 8x8 image (fast to convert)."""
import tf_keras as keras

SMALLEST = {"layers": 1, "units": 16}


def build(hp):
    layers = hp.Int("layers", 1, 2)
    units = hp.Choice("units", [16, 32, 64])
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    for i in range(layers):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
    x = keras.layers.Dense(10, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Softmax(name="probs")(x))
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 3e-3, 2e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


@pytest.fixture(scope="session")
def mlp_space(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("space") / "mlp_space.py"
    path.write_text(MLP_SPACE)
    return path
