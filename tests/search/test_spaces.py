"""Built-in spaces build TFLM-friendly models; user space files load or fail in one line."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from edgeml.data import InputKind
from edgeml.search.spaces import SpaceError, build_space, load_space_file


def all_targets_ops() -> frozenset[str]:
    from edgeml.targets import list_targets, load_target

    ops = None
    for name in list_targets():
        t = load_target(name).ops
        ops = t if ops is None else ops & t
    return frozenset(ops)


def draw(space, n: int, seed: int, tmp_path) -> list:
    """n candidates as keras-tuner's random oracle draws them (conditional scopes honoured)."""
    import keras_tuner as kt
    from keras_tuner.engine.base_tuner import BaseTuner

    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"),
                                           max_trials=100, seed=seed)
    # BaseTuner registers every conditional branch of the space with the oracle
    BaseTuner(oracle=oracle, hypermodel=space.build, directory=str(tmp_path), overwrite=True)
    return [oracle._random_values() for _ in range(n)]


@pytest.mark.parametrize("kind, shape", [
    (InputKind.IMAGE, (8, 8, 1)), (InputKind.IMAGE, (48, 40, 3)),
    (InputKind.TIMESERIES, (100, 6)), (InputKind.TABULAR, (20,)),
])
def test_space_builds_models_every_target_runs(kind, shape, tmp_path):
    import keras_tuner as kt

    from edgeml._tf import keras
    from edgeml.tflite.graph import read_graph
    from edgeml.tflite.int8 import to_int8_tflite

    space = build_space(kind, shape, 4)
    allowed = all_targets_ops()
    rng = np.random.default_rng(0)
    calib = rng.random((8, *shape), dtype=np.float32)
    smallest = space(kt.HyperParameters())
    min_params = smallest.count_params()
    keras().backend.clear_session()
    for values in draw(space, 1, seed=1, tmp_path=tmp_path):
        hp = kt.HyperParameters()
        hp.values.update(values)
        model = space(hp)
        assert model.output_shape == (None, 4) and model.input_shape[1:] == shape
        assert model.count_params() >= min_params, values
        graph = read_graph(to_int8_tflite(model, calib))
        assert graph.is_int8
        assert set(graph.op_names) <= allowed, set(graph.op_names) - allowed
        keras().backend.clear_session()


def test_conditional_scopes_hide_the_other_architecture(tmp_path):
    space = build_space(InputKind.IMAGE, (16, 16, 1), 3)
    seen = set()
    for values in draw(space, 12, seed=3, tmp_path=tmp_path / "a"):
        arch = values["arch"]
        seen.add(arch)
        if arch == "conv":
            assert "kernel" in values and "dw_kernel" not in values
        else:
            assert "dw_kernel" in values and "kernel" not in values
    assert seen == {"conv", "dscnn"}
    # tabular: units{i} exists only for the active layers
    tab = build_space(InputKind.TABULAR, (10,), 2)
    for values in draw(tab, 8, seed=4, tmp_path=tmp_path / "b"):
        assert {k for k in values if k.startswith("units")} == {
            f"units{i}" for i in range(values["layers"])}


GOOD = """
import tf_keras as keras

SMALLEST = {"units": 8}

def build(hp):
    units = hp.Choice("units", [8, 16])
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
"""


@pytest.mark.parametrize("name, text, message", [
    ("missing.py", None, "space file '{path}' does not exist"),
    ("space.txt", "x = 1", "is not a .py file"),
    ("syntax.py", "def build(hp):\n    return (\n", "has a syntax error at line"),
    ("imports.py", "import edgeml_no_such_module\n", "failed (imports.py line 1): "
                                                     "ModuleNotFoundError"),
    ("nobuild.py", "def make(hp):\n    return None\n", "defines no build(hp) function (found make)"),
    ("raises.py", "def build(hp):\n    n = hp.Int('n', 1, 3)\n    raise ValueError('bad n')\n",
     "build(hp) in raises.py raised ValueError: bad n (raises.py line 3)"),
    ("notmodel.py", "def build(hp):\n    return {'layers': 3}\n",
     "build(hp) in notmodel.py returned builtins.dict, not a tf_keras model"),
    ("keras3.py", "import keras\ndef build(hp):\n    i = keras.Input((8, 8, 1))\n"
                  "    return keras.Model(i, keras.layers.Dense(10, activation='softmax')("
                  "keras.layers.Flatten()(i)))\n", "use `import tf_keras as keras`"),
    ("classes.py", GOOD.replace("Dense(10,", "Dense(3,"), "output shape (None, 3); the data has 10"),
    ("shape.py", GOOD.replace("shape=(8, 8, 1)", "shape=(64,)").replace(
        "keras.layers.Flatten()(inputs)", "inputs"), "input shape (64,); the data has samples"),
    ("nosoftmax.py", GOOD.replace('activation="softmax"', ""), "is not a softmax"),
    ("smallest.py", GOOD.replace('SMALLEST = {"units": 8}', "SMALLEST = [8]"), "not a dict or a list of dicts"),
])
def test_bad_space_files_give_one_line_errors(tmp_path, name, text, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(textwrap.dedent(text))
    with pytest.raises(SpaceError) as err:
        load_space_file(path, input_shape=(8, 8, 1), num_classes=10)
    line = str(err.value)
    assert "\n" not in line
    assert message.format(path=path) in line, line


def test_good_space_file_loads(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(GOOD)
    space = load_space_file(path, input_shape=(8, 8, 1), num_classes=10)
    assert space.smallest == ({"units": 8},) and space.name == "mine" and len(space.digest) == 64
