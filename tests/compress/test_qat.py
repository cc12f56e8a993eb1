"""BatchNorm folding is exact; QAT wraps what tfmot can, leaves the rest in float, and its
int8 model in TFLM scores what the fake-quantized Keras model scores."""

from __future__ import annotations

import numpy as np
import pytest


def test_batchnorm_folding_is_exact(rng):
    from edgeml._tf import keras
    from edgeml.compress.qat import fold_batchnorm

    k = keras()
    inp = k.Input((8, 8, 2))
    x = k.layers.BatchNormalization(name="bn_in")(inp)          # no layer before it: kept
    x = k.layers.Conv2D(6, 3, padding="same", use_bias=False, name="conv")(x)
    x = k.layers.BatchNormalization(name="bn_conv")(x)
    x = k.layers.ReLU()(x)
    x = k.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(x)
    x = k.layers.BatchNormalization(name="bn_dw")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    x = k.layers.Dense(5, name="dense")(x)
    x = k.layers.BatchNormalization(name="bn_dense", center=False)(x)
    model = k.Model(inp, x)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            new = [rng.normal(0, 1, w.shape).astype(np.float32) for w in ws]
            if "bn" in layer.name:  # variances must be positive
                new[-1] = rng.uniform(0.2, 3.0, ws[-1].shape).astype(np.float32)
            layer.set_weights(new)
    folded, names = fold_batchnorm(model)
    assert names == ("bn_conv", "bn_dense", "bn_dw")
    kinds = [type(layer).__name__ for layer in folded.layers]
    assert kinds.count("BatchNormalization") == 1 and folded.get_layer("bn_in")
    assert folded.get_layer("conv").use_bias and folded.get_layer("dense").use_bias
    x = rng.normal(0, 1, (16, 8, 8, 2)).astype(np.float32)
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_qat_keeps_unsupported_layers_in_float_and_matches_tflm(digits):
    from edgeml._tf import keras, set_seed
    from edgeml.compress._train import FitSettings, evaluate_float, fine_tune
    from edgeml.compress.qat import quantize_aware
    from edgeml.tflite.graph import read_graph
    from edgeml.tflite.int8 import evaluate_int8, representative_sample, to_int8_tflite

    k = keras()
    set_seed(0)
    inp = k.Input(digits.input_shape)
    x = k.layers.Rescaling(2.0, offset=-1.0, name="rescale")(inp)  # tfmot cannot wrap it
    x = k.layers.Conv2D(12, 3, padding="same", use_bias=False, name="conv")(x)
    x = k.layers.BatchNormalization(name="bn")(x)
    x = k.layers.ReLU()(x)
    x = k.layers.MaxPooling2D(2)(x)
    x = k.layers.Flatten()(x)
    x = k.layers.Dense(digits.num_classes, name="logits")(x)
    model = k.Model(inp, k.layers.Softmax()(x))
    fine_tune(model, digits, FitSettings(epochs=4, lr=3e-3))

    q = quantize_aware(model, digits, FitSettings(epochs=2, lr=3e-4))
    assert q.unwrapped == ("rescale",) and q.folded_bn == ("bn",)
    assert not any(type(layer).__name__ == "BatchNormalization" for layer in q.model.layers)
    int8 = to_int8_tflite(q.model, representative_sample(digits.x_train, n=100))
    assert read_graph(int8).is_int8
    tflm = evaluate_int8(int8, digits.x_test, digits.y_test).accuracy
    keras_qat = evaluate_float(q.model, digits.x_test, digits.y_test)
    assert tflm > 0.8
    assert abs(tflm - keras_qat) <= 0.03  # QAT simulated the int8 model it trains for


@pytest.mark.slow
def test_qat_after_magnitude_pruning_keeps_the_zeros(digits):
    from edgeml._tf import keras, set_seed
    from edgeml.compress._train import FitSettings, fine_tune
    from edgeml.compress.prune import kernel_sparsity, magnitude_prune
    from edgeml.compress.qat import quantize_aware

    k = keras()
    set_seed(0)
    inp = k.Input(digits.input_shape)
    x = k.layers.Flatten()(k.layers.Conv2D(8, 3, padding="same", activation="relu")(inp))
    model = k.Model(inp, k.layers.Softmax()(k.layers.Dense(digits.num_classes)(x)))
    fine_tune(model, digits, FitSettings(epochs=2))
    sparse = magnitude_prune(model, digits, 0.6, FitSettings(epochs=2))
    assert kernel_sparsity(sparse) == pytest.approx(0.6, abs=0.01)
    kept = quantize_aware(sparse, digits, FitSettings(epochs=1, lr=1e-4), preserve_sparsity=True)
    assert kernel_sparsity(kept.model) == pytest.approx(kernel_sparsity(sparse), abs=1e-6)
    lost = quantize_aware(sparse, digits, FitSettings(epochs=1, lr=1e-4))
    assert kernel_sparsity(lost.model) < 0.05  # plain QAT fills the zeros back in
