"""The arena in ``model_data.h`` is the same whichever command wrote it."""

from __future__ import annotations

import re

import pytest

MLP = '''
import tf_keras as keras


def build(hp):
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hp.Choice("units", [16, 24]), activation="relu")(x)
    x = keras.layers.Dense(10, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Softmax(name="probs")(x))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
'''


@pytest.mark.slow
def test_search_export_and_compress_write_the_same_header(tmp_path, capfd):
    """`edgeml search`, then `edgeml export RUN`, then `edgeml compress RUN` (no flags, the
    same model bytes): three identical model_data.h files."""
    from edgeml.cli import main

    space = tmp_path / "mlp.py"
    space.write_text(MLP)
    run = tmp_path / "run"
    assert main(["search", "--models", "nn", "--no-ensemble", "--trials", "1", "--epochs", "1", "--space", str(space),
                 "--out", str(run), "--quiet"]) == 0
    searched = (run / "model_data.h").read_text()
    model = (run / "model.tflite").read_bytes()
    assert main(["export", str(run), "--out", str(tmp_path / "exported")]) == 0
    exported = (tmp_path / "exported" / "model_data.h").read_text()
    assert main(["compress", str(run), "--quiet"]) == 0
    assert (run / "model.tflite").read_bytes() == model, "no flags: the same model"
    compressed = (run / "model_data.h").read_text()
    capfd.readouterr()
    measured = re.search(r"kTensorArenaMeasured = (\d+);", searched)
    assert measured and int(measured.group(1)) > 0
    assert exported == searched
    assert compressed == searched
