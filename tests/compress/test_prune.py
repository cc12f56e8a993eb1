"""Structured pruning rebuilds a smaller model with the right weights; magnitude pruning
reaches its sparsity with tfmot."""

from __future__ import annotations

import numpy as np
import pytest


def _model_with_dead_channels(k, rng):
    """Conv+BN -> depthwise+BN -> 1x1 conv+BN -> Flatten -> Dense -> logits, with random
    weights where some channels of every prunable group contribute exactly zero."""
    inp = k.Input((8, 8, 1))
    x = k.layers.Conv2D(8, 3, padding="same", use_bias=False, name="c0")(inp)
    x = k.layers.BatchNormalization(name="bn0")(x)
    x = k.layers.ReLU()(x)
    x = k.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = k.layers.BatchNormalization(name="bn_dw")(x)
    x = k.layers.ReLU()(x)
    x = k.layers.Conv2D(16, 1, name="c1")(x)
    x = k.layers.BatchNormalization(name="bn1")(x)
    x = k.layers.ReLU()(x)
    x = k.layers.MaxPooling2D(2)(x)
    x = k.layers.Flatten()(x)
    x = k.layers.Dense(16, activation="relu", name="d0")(x)
    x = k.layers.Dropout(0.2)(x)
    x = k.layers.Dense(10, name="logits")(x)
    model = k.Model(inp, k.layers.Softmax()(x))
    for layer in model.layers:
        layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) if w.ndim > 1
                           else rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                           for w in layer.get_weights()])
    # BN: gamma, beta, mean, var
    for name in ("bn0", "bn_dw", "bn1"):
        bn = model.get_layer(name)
        g, b, m, v = bn.get_weights()
        bn.set_weights([g, np.zeros_like(b), np.zeros_like(m), v])
    dead = {"c0": [1, 6], "c1": [0, 5, 9, 14], "d0": [2, 3, 11, 12]}
    for name, chans in dead.items():
        w = model.get_layer(name).get_weights()
        w[0][..., chans] = 0.0
        if len(w) > 1:
            w[1][chans] = 0.0
        model.get_layer(name).set_weights(w)
    return model, dead


def test_structured_pruning_removes_exactly_the_dead_channels(rng):
    from edgeml._tf import keras
    from edgeml.compress.prune import structured_prune

    k = keras()
    model, dead = _model_with_dead_channels(k, rng)
    x = rng.uniform(0, 1, (32, 8, 8, 1)).astype(np.float32)
    pruned, plan = structured_prune(model, 0.25)

    assert plan.summary() == {"c0": {"channels": 8, "kept": 6}, "c1": {"channels": 16, "kept": 12},
                              "d0": {"channels": 16, "kept": 12}}
    for group in plan.pruned_groups:
        name = group.producers[0].name
        assert not set(dead[name]) & set(group.keep.tolist())
    assert pruned.get_layer("c0").filters == 6 and pruned.get_layer("c1").filters == 12
    assert pruned.get_layer("dw").depthwise_kernel.shape[2] == 6
    assert pruned.get_layer("bn_dw").gamma.shape[0] == 6
    assert pruned.get_layer("d0").kernel.shape == (4 * 4 * 12, 12)
    assert pruned.get_layer("logits").kernel.shape == (12, 10)  # the output stays 10 classes
    # removing channels that carried nothing leaves the function unchanged
    np.testing.assert_allclose(pruned.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-5)
    assert pruned.count_params() < 0.7 * model.count_params()


def test_residual_groups_are_pruned_together_and_concat_is_left_alone(rng):
    from edgeml._tf import keras
    from edgeml.compress.prune import structured_prune

    k = keras()
    inp = k.Input((8, 8, 3))
    a = k.layers.Conv2D(12, 3, padding="same", activation="relu", name="a")(inp)
    b = k.layers.Conv2D(12, 3, padding="same", name="b")(a)
    s = k.layers.Add()([a, b])
    c = k.layers.Conv2D(6, 1, name="c")(s)
    cat = k.layers.Concatenate()([c, k.layers.Conv2D(6, 1, name="d")(s)])
    x = k.layers.GlobalAveragePooling2D()(cat)
    model = k.Model(inp, k.layers.Dense(4, name="out")(x))
    pruned, plan = structured_prune(model, 0.5)
    assert pruned.get_layer("a").filters == pruned.get_layer("b").filters == 6
    assert pruned.get_layer("c").filters == 6 and pruned.get_layer("d").filters == 6
    assert pruned.output_shape == (None, 4)
    out = pruned.predict(rng.uniform(size=(2, 8, 8, 3)).astype(np.float32), verbose=0)
    assert out.shape == (2, 4) and np.isfinite(out).all()


def test_nothing_to_prune_is_a_clear_error():
    from edgeml._tf import keras
    from edgeml.compress.prune import structured_prune
    from edgeml.errors import EdgeMLError

    k = keras()
    inp = k.Input((4,))
    model = k.Model(inp, k.layers.Dense(3)(inp))
    with pytest.raises(EdgeMLError, match="can be structurally pruned"):
        structured_prune(model, 0.5)


def test_magnitude_pruning_reaches_the_sparsity(digits, digits_model):
    from edgeml.compress._train import FitSettings, evaluate_float
    from edgeml.compress.prune import kernel_sparsity, magnitude_prune

    before = [w.copy() for w in digits_model.get_weights()]
    acc_before = evaluate_float(digits_model, digits.x_test, digits.y_test)
    sparse = magnitude_prune(digits_model, digits, 0.5, FitSettings(epochs=3, lr=1e-3))
    assert kernel_sparsity(sparse) == pytest.approx(0.5, abs=0.02)
    assert kernel_sparsity(digits_model) < 0.01
    for a, b in zip(before, digits_model.get_weights(), strict=True):  # the input is untouched
        np.testing.assert_array_equal(a, b)
    assert not any("prune" in layer.__class__.__name__.lower() for layer in sparse.layers)
    assert evaluate_float(sparse, digits.x_test, digits.y_test) > acc_before - 0.1
