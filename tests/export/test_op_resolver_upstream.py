"""The op-resolver table against sources it was not written from: TFLite's own operator
names (the BuiltinOperator enum of the schema a .tflite carries, and the names TensorFlow's
interpreter gives the operators of a converted model) and upstream TensorFlow Lite Micro's
``MicroMutableOpResolver`` methods (data/tflm_resolver_methods.txt names the commit)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edgeml.export.op_resolver import RESOLVER_METHODS

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "data" / "tflm_resolver_methods.txt"
STUB = HERE / "tflm_stub" / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h"


def upstream_methods() -> set[str]:
    lines = UPSTREAM.read_text().splitlines()
    assert "90b983c2b3f1480642e040bbd2ddb37b998f3424" in lines[2]
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def builtin_names(module) -> set[str]:
    return {k for k in vars(module.BuiltinOperator) if not k.startswith("_")}


def test_every_method_of_the_table_and_the_stub_exists_upstream():
    upstream = upstream_methods()
    assert len(upstream) > 100 and "AddConv2D" in upstream
    assert set(RESOLVER_METHODS.values()) <= upstream, \
        set(RESOLVER_METHODS.values()) - upstream
    stub = set(re.findall(r"TfLiteStatus (Add\w+)\(", STUB.read_text()))
    assert stub and stub <= upstream, stub - upstream


def test_every_builtin_of_the_table_is_in_tflites_schemas():
    """Both schemas a model meets: TensorFlow's converter and the tflite-micro wheel."""
    from tensorflow.lite.python import schema_py_generated as tf_schema

    names = builtin_names(tf_schema)
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as micro_schema
    except ImportError:  # the wheel exists for Linux x86-64 only
        micro_schema = None
    if micro_schema is not None:
        names &= builtin_names(micro_schema)
    builtins = {k for k in RESOLVER_METHODS if not k.startswith("CUSTOM:")}
    assert builtins <= names, builtins - names


def test_converted_model_operators_map_to_the_table():
    """A model with many operator kinds, converted to int8: the operator names TensorFlow's
    own interpreter reports equal the ones edgeml reads from the flatbuffer, and each has a
    registration method."""
    from edgeml._tf import keras, set_seed, tf
    from edgeml.compress import to_int8_tflite
    from edgeml.export.op_resolver import resolver_methods
    from edgeml.tflite.graph import read_graph

    k = keras()
    set_seed(0)
    i = k.Input((8, 8, 3))
    x = k.layers.ZeroPadding2D(1)(i)
    x = k.layers.Conv2D(8, 3, activation="relu")(x)
    y = k.layers.DepthwiseConv2D(3, padding="same")(x)
    y = k.layers.LeakyReLU(0.1)(y)
    x = k.layers.Add()([x, y])
    x = k.layers.Multiply()([x, k.layers.Activation("sigmoid")(x)])
    x = k.layers.Concatenate()([k.layers.MaxPooling2D(2)(x), k.layers.AveragePooling2D(2)(x)])
    x = k.layers.Activation("tanh")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    x = k.layers.Reshape((4, 4))(x)
    x = k.layers.Flatten()(x)
    out = k.layers.Softmax()(k.layers.Dense(5)(x))
    data = to_int8_tflite(k.Model(i, out),
                          np.random.default_rng(0).normal(size=(16, 8, 8, 3)).astype(np.float32))
    interp = tf().lite.Interpreter(model_content=data)
    theirs = {d["op_name"] for d in interp._get_ops_details()}
    ours = set(read_graph(data).op_names)
    assert ours == theirs
    assert len(ours) >= 10, ours
    methods = resolver_methods(sorted(ours))
    assert set(methods) <= upstream_methods()


@pytest.mark.parametrize("op, method", [("CONV_2D", "AddConv2D"),
                                        ("DEPTHWISE_CONV_2D", "AddDepthwiseConv2D"),
                                        ("FULLY_CONNECTED", "AddFullyConnected"),
                                        ("UNIDIRECTIONAL_SEQUENCE_LSTM",
                                         "AddUnidirectionalSequenceLSTM")])
def test_irregular_names(op, method):
    """Names a CamelCase rule gets wrong, checked against upstream's spelling."""
    assert RESOLVER_METHODS[op] == method and method in upstream_methods()
