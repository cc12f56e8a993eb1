"""The analytic arena on models outside the corpus its constants were fitted on
(benchmarks/arena_constants.py re-derives them): architectures and sizes the corpus does not
have, measured by bisection in the real TFLM interpreter. The README states 5%."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _logits(k: Any, x: Any, n: int) -> Any:
    # small logits keep the int8 SOFTMAX input scale in the range TFLM accepts (random weights)
    x = k.layers.Dense(n, kernel_initializer=k.initializers.RandomNormal(stddev=0.01))(x)
    return k.layers.Softmax()(x)


def squeeze_excite_net(k: Any) -> Any:
    """MobileNetV3-style block: hard-swish, squeeze-excite, residual ADD, 40x40x3."""
    i = k.Input((40, 40, 3))
    x = k.layers.Conv2D(12, 3, strides=2, padding="same")(i)
    x = k.layers.Multiply()([x, k.layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)])
    y = k.layers.DepthwiseConv2D(5, padding="same")(x)
    s = k.layers.GlobalAveragePooling2D(keepdims=True)(y)
    s = k.layers.Conv2D(4, 1, activation="relu")(s)
    s = k.layers.Conv2D(12, 1, activation="hard_sigmoid")(s)
    y = k.layers.Multiply()([y, s])
    x = k.layers.Add()([x, k.layers.Conv2D(12, 1)(y)])
    x = k.layers.GlobalAveragePooling2D()(x)
    return k.Model(i, _logits(k, x, 5))


def two_branch_temporal(k: Any) -> Any:
    """Time series (128 steps x 3 channels) with two kernel sizes concatenated."""
    i = k.Input((128, 1, 3))
    a = k.layers.Conv2D(10, (9, 1), strides=(2, 1), padding="same", activation="relu")(i)
    b = k.layers.Conv2D(6, (3, 1), strides=(2, 1), padding="same", activation="relu")(i)
    x = k.layers.Concatenate()([a, b])
    x = k.layers.MaxPooling2D((4, 1))(x)
    x = k.layers.Conv2D(20, (5, 1), padding="valid", activation="relu")(x)
    x = k.layers.Flatten()(x)
    return k.Model(i, _logits(k, x, 7))


def wide_mlp(k: Any) -> Any:
    """Tabular: 300 features, LeakyReLU and tanh, no convolution at all."""
    i = k.Input((300,))
    x = k.layers.LeakyReLU(0.2)(k.layers.Dense(200)(i))
    x = k.layers.Dense(72, activation="tanh")(x)
    x = k.layers.Dense(24, activation="relu")(x)
    return k.Model(i, _logits(k, x, 3))


def encoder_decoder(k: Any) -> Any:
    """Downsample then upsample with a transposed convolution and a skip connection."""
    i = k.Input((24, 24, 2))
    d = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(i)
    d = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(d)
    u = k.layers.Conv2DTranspose(8, 3, strides=2, padding="same")(d)
    u = k.layers.Concatenate()([u, k.layers.Conv2D(8, 1)(k.layers.AveragePooling2D(2)(i))])
    u = k.layers.Conv2D(4, 3, padding="same")(u)
    return k.Model(i, k.layers.Reshape((12 * 12 * 4,))(u))


def deep_depthwise(k: Any) -> Any:
    """Ten depthwise-separable blocks with depth multiplier 2 on a 48x48 grey image."""
    i = k.Input((48, 48, 1))
    x = k.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(i)
    for n in range(5):
        x = k.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same",
                                     strides=2 if n in (1, 3) else 1, activation="relu")(x)
        x = k.layers.Conv2D(6 + 2 * n, 1, activation="relu")(x)
    x = k.layers.AveragePooling2D(3)(x)
    x = k.layers.Flatten()(x)
    return k.Model(i, _logits(k, x, 4))


UNSEEN: dict[str, Callable[[Any], Any]] = {
    "squeeze_excite_net": squeeze_excite_net,
    "two_branch_temporal": two_branch_temporal,
    "wide_mlp": wide_mlp,
    "encoder_decoder": encoder_decoder,
    "deep_depthwise": deep_depthwise,
}


@pytest.fixture(scope="module")
def unseen() -> dict[str, bytes]:
    from edgeml._tf import keras, set_seed
    from edgeml.estimate import zoo

    k = keras()
    out = {}
    for name, build in UNSEEN.items():
        set_seed(0)
        out[name] = zoo.to_int8(build(k), seed=0)
    return out


def test_unseen_models_are_not_in_the_corpus(unseen, corpus):
    from edgeml.tflite.graph import read_graph

    seen = {read_graph(d).op_names for d in corpus.values()}
    assert not set(unseen.values()) & set(corpus.values())
    assert sum(read_graph(d).op_names not in seen for d in unseen.values()) >= 3


def test_analytic_arena_within_5_percent_on_unseen_models(unseen):
    from edgeml.estimate.arena import analytic_arena, measure_arenas
    from edgeml.tflite.graph import read_graph

    measured = dict(zip(unseen, measure_arenas(list(unseen.values())), strict=True))
    errors = {}
    for name, data in unseen.items():
        m = measured[name]
        assert not isinstance(m, Exception), (name, m)
        arena, head, _, _ = analytic_arena(read_graph(data))
        assert head == m["head"], name  # the greedy plan is TFLM's, exactly
        errors[name] = (arena - m["bytes"]) / m["bytes"]
    assert max(abs(e) for e in errors.values()) <= 0.05, errors
