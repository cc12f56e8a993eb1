"""Every C export format carries the feature stage of a model trained on features."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest

from edgeml.errors import ExportError
from edgeml.export.formats import render_files
from edgeml.features import FeatureSpec, fit


@pytest.fixture(scope="module")
def feature_artifact(artifact):
    # the digits model takes 8x8x1 = 64 values: a raw window of 32 steps x 2 channels
    rng = np.random.default_rng(0)
    fitted, _ = fit(FeatureSpec(kind="raw", window=32, channels=2), rng.normal(size=(20, 32, 2)))
    return replace(artifact, features=fitted.to_dict())


@pytest.mark.parametrize("fmt, prefix", [("c", ""), ("esp-idf", ""), ("arduino", "src/"),
                                         ("zephyr", "")])
def test_every_c_format_has_the_feature_files(feature_artifact, fmt, prefix, tmp_path):
    _, files = render_files(feature_artifact, fmt)
    assert f"{prefix}edgeml_features.c" in files and f"{prefix}edgeml_features.h" in files
    header = files[f"{prefix}edgeml_features.h"].decode()
    assert "int edgeml_features(const float *raw, int8_t *out);" in header
    source = files[f"{prefix}edgeml_features.c"].decode()
    assert f"#define INPUT_SCALE {feature_artifact.input_scale:.9g}"[:24] in source
    if fmt == "esp-idf":
        assert '"edgeml_features.c"' in files["CMakeLists.txt"].decode()
    if fmt == "zephyr":
        assert "edgeml_features.c" in files["CMakeLists.txt"].decode()
    if fmt == "arduino":
        assert '#include "edgeml_features.h"' in files["src/edgeml_model.h"].decode()
    cc = shutil.which("gcc")
    if cc:
        for rel, data in files.items():
            if rel.startswith(prefix + "edgeml_features"):
                (tmp_path / rel.removeprefix(prefix)).write_bytes(data)
        subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-c",
                        str(tmp_path / "edgeml_features.c"), "-o", str(tmp_path / "f.o")],
                       check=True)


def test_a_model_without_features_exports_no_feature_files(artifact):
    _, files = render_files(artifact, "c")
    assert not any("features" in f for f in files)


def test_features_that_do_not_match_the_model_input_are_refused(artifact):
    fitted, _ = fit(FeatureSpec(kind="raw", window=10, channels=1), np.ones((3, 10)))
    with pytest.raises(ExportError, match="makes 10 values but the model takes 64"):
        render_files(replace(artifact, features=fitted.to_dict()), "c")
