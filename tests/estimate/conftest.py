"""Fixtures for the estimation tests: a private cache and the model corpus.

The corpus (36 small varied models + the 3 reference models of the published
calibration data) is converted once and kept in pytest's cache directory, so
only the first run pays the ~1 minute of conversions. Measurements (TFLM
arena, Vela) go to a fresh cache directory for every session.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def edgeml_cache(tmp_path_factory, zoo_dir):
    path = tmp_path_factory.mktemp("edgeml-cache")
    (path / "zoo").symlink_to(zoo_dir, target_is_directory=True)  # converted models persist
    old = os.environ.get("EDGEML_CACHE_DIR")
    os.environ["EDGEML_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("EDGEML_CACHE_DIR", None)
    else:
        os.environ["EDGEML_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def zoo_dir(request, tmp_path_factory) -> str:
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    return str(cache.mkdir("edgeml-zoo") if cache else tmp_path_factory.mktemp("edgeml-zoo"))


@pytest.fixture(scope="session")
def corpus(zoo_dir) -> dict[str, bytes]:
    """name -> int8 .tflite bytes of the generated corpus."""
    from edgeml.estimate import zoo

    return {name: zoo.cached_model("corpus", name, directory=zoo_dir)
            for name in zoo.corpus_names()}


@pytest.fixture(scope="session")
def references(zoo_dir) -> dict[str, bytes]:
    """name -> int8 .tflite bytes of the published reference models."""
    from edgeml.estimate import zoo

    return {name: zoo.cached_model("reference", name, directory=zoo_dir)
            for name in zoo.REFERENCE_MODELS}
