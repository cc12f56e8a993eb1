"""Shared fixtures: small real data and small real models (trained on digits)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Searches record themselves in the knowledge base under the cache directory, and new
# searches start from it: the tests use a cache of their own (never the user's), and each
# test starts with an empty knowledge base (see _fresh_knowledge_base).
os.environ["EDGEML_CACHE_DIR"] = tempfile.mkdtemp(prefix="edgeml-test-cache-")
atexit.register(shutil.rmtree, os.environ["EDGEML_CACHE_DIR"], ignore_errors=True)
# One trial slot unless a test asks for more (--workers / workers=): the default, one per
# core, would start a worker process per core in every search, and the tests run on small
# machines. The tests of several slots give their number explicitly.
os.environ["EDGEML_WORKERS"] = "1"


# Fixtures that train a model: every test that uses one (directly or through another
# fixture) is a training test and gets the ``slow`` mark here, so none can forget it.
TRAINING_FIXTURES = frozenset({"digits_model"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fresh_knowledge_base():
    """No test sees the knowledge-base entries an earlier test's search wrote."""
    from edgeml.estimate.cache import cache_dir

    shutil.rmtree(cache_dir() / "knowledge", ignore_errors=True)
    yield


@pytest.fixture(scope="session")
def digits():
    from edgeml.data import load_dataset

    return load_dataset("digits", seed=0)


@pytest.fixture(scope="session")
def digits_model(digits):
    """A small conv net trained for a few epochs on digits (tf_keras model)."""
    from edgeml._tf import keras, set_seed

    k = keras()
    set_seed(0)
    inputs = k.Input(shape=digits.input_shape)
    x = k.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = k.layers.MaxPooling2D(2)(x)
    x = k.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    x = k.layers.Dense(digits.num_classes, name="logits")(x)
    model = k.Model(inputs, k.layers.Softmax(name="probs")(x))
    model.compile(optimizer=k.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(digits.x_train, digits.y_train, epochs=8, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="session")
def digits_int8(digits, digits_model) -> bytes:
    """The int8 .tflite bytes of ``digits_model``."""
    from edgeml.tflite.int8 import representative_sample, to_int8_tflite

    return to_int8_tflite(digits_model, representative_sample(digits.x_train, n=100))


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
