"""Models with known structure for checking and calibrating the estimates.

Three sets, all built in ``tf_keras`` and converted to full int8 the way the
search converts its candidates (:func:`edgeml.tflite.int8.to_int8_tflite`):

* the **reference models** named in the published latency measurements the
  target profiles are calibrated on (MLPerf Tiny DS-CNN keyword spotting and
  FC autoencoder anomaly detection, TFLM person detection MobileNetV1 0.25);
* a **corpus** of small, varied models (convolutions, depthwise, dense,
  pooling, residual adds, concatenation, padding, resizing, transposed
  convolutions, activations, ...) on which the analytic arena model and the
  latency calibration are tested against the real TFLM interpreter.

Weights are random (seeded): neither the arena nor TFLM's latency depend on
the values of the weights, only on shapes and operators. Activation ranges are
calibrated on seeded normal data, so every model quantizes sensibly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._tf import keras as _keras

__all__ = ["REFERENCE_MODELS", "HELD_OUT_MODELS", "reference_model", "corpus_names",
           "corpus_model", "to_int8", "single_op_names", "single_op_model", "cached_model"]

# --------------------------------------------------------------------------- reference models


def _bn_relu(k: Any, x: Any) -> Any:
    return k.layers.ReLU()(k.layers.BatchNormalization()(x))


def kws_ds_cnn() -> Any:
    """MLPerf Tiny keyword spotting reference (DS-CNN, about 2.7 M MACs)."""
    k = _keras()
    inp = k.Input((49, 10, 1), name="mfcc")
    x = k.layers.Conv2D(64, (10, 4), strides=2, padding="same", use_bias=False, name="conv0")(inp)
    x = _bn_relu(k, x)
    for i in range(4):
        x = k.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i + 1}")(x)
        x = _bn_relu(k, x)
        x = k.layers.Conv2D(64, 1, use_bias=False, name=f"pw{i + 1}")(x)
        x = _bn_relu(k, x)
    x = k.layers.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="pool")(x)
    x = k.layers.Flatten()(x)
    x = k.layers.Dense(12, name="logits")(x)
    return k.Model(inp, k.layers.Softmax(name="probs")(x), name="kws_ds_cnn")


def ad_fc_autoencoder() -> Any:
    """MLPerf Tiny anomaly detection reference (FC autoencoder, about 0.26 M MACs)."""
    k = _keras()
    inp = k.Input((640,), name="spectrogram")
    x = inp
    for i, units in enumerate([128, 128, 128, 128, 8, 128, 128, 128, 128]):
        x = k.layers.Dense(units, name=f"dense{i + 1}")(x)
        x = _bn_relu(k, x)
    out = k.layers.Dense(640, name="reconstruction")(x)
    return k.Model(inp, out, name="ad_fc_autoencoder")


def person_detect_mobilenet_v1_025_gray() -> Any:
    """TFLM person detection: MobileNetV1 x0.25 on 96x96x1, 2 classes (about 7.2 M MACs)."""
    k = _keras()
    inp = k.Input((96, 96, 1), name="image")
    x = k.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False,
                        kernel_initializer="he_normal", name="conv0")(inp)
    x = k.layers.ReLU(6.0)(k.layers.BatchNormalization()(x))
    # (pointwise filters, depthwise stride) of MobileNetV1 at width 0.25
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2),
              (128, 1), (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1)]
    for i, (filters, stride) in enumerate(blocks):
        x = k.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                     depthwise_initializer="he_normal", name=f"dw{i + 1}")(x)
        x = k.layers.ReLU(6.0)(k.layers.BatchNormalization()(x))
        x = k.layers.Conv2D(filters, 1, use_bias=False, kernel_initializer="he_normal",
                            name=f"pw{i + 1}")(x)
        x = k.layers.ReLU(6.0)(k.layers.BatchNormalization()(x))
    x = k.layers.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="pool")(x)
    # Small logits keep the softmax input scale in the range TFLM's int8 SOFTMAX accepts
    # with untrained weights (it aborts on an input scale far above 1).
    x = k.layers.Conv2D(2, 1, name="logits_conv",
                        kernel_initializer=k.initializers.RandomNormal(stddev=0.01),
                        bias_initializer=k.initializers.Constant([0.5, -0.5]))(x)
    x = k.layers.Reshape((2,), name="logits")(x)
    return k.Model(inp, k.layers.Softmax(name="probs")(x),
                   name="person_detect_mobilenet_v1_025_gray")


REFERENCE_MODELS: dict[str, Callable[[], Any]] = {
    "kws_ds_cnn": kws_ds_cnn,
    "ad_fc_autoencoder": ad_fc_autoencoder,
    "person_detect_mobilenet_v1_025_gray": person_detect_mobilenet_v1_025_gray,
}


def mobilenet_v3_small_224() -> Any:
    """Keras' MobileNetV3-Small (width 1.0, not minimalistic), 224x224x3, 1000 classes
    (about 58 M MACs): the model of ESP-NN's published MobileNetV3 Small latencies."""
    k = _keras()
    return k.applications.MobileNetV3Small(input_shape=(224, 224, 3), weights=None,
                                           classes=1000, include_preprocessing=False)


# Published models kept out of every fit (calibration, the latency prior, the arena
# corpus): the latency tests predict them from profiles calibrated on the others.
HELD_OUT_MODELS: dict[str, Callable[[], Any]] = {
    "mobilenet_v3_small_224": mobilenet_v3_small_224,
}


def reference_model(name: str, *, seed: int = 0) -> bytes:
    """The int8 ``.tflite`` bytes of a reference (or held-out) model (random weights, seeded)."""
    builders = {**REFERENCE_MODELS, **HELD_OUT_MODELS}
    if name not in builders:
        from ..errors import ModelError

        raise ModelError(f"unknown reference model {name!r}",
                         hint=f"known: {', '.join(builders)}")
    from .._tf import set_seed

    set_seed(seed)
    return to_int8(builders[name](), seed=seed)


# --------------------------------------------------------------------------- single operators


def _single_ops() -> dict[str, Callable[[Any], Any]]:
    """name -> builder(keras) of a model with one operator (several sizes each)."""
    out: dict[str, Callable[[Any], Any]] = {}

    def reg(name: str, shape: tuple[int, ...], layer: Callable[[Any, Any], Any]) -> None:
        def build(k: Any) -> Any:
            i = k.Input(shape, name="x")
            return k.Model(i, layer(k, i))
        out[name] = build

    for h, c, f, ks, s in ((16, 8, 16, 3, 1), (8, 32, 32, 1, 1), (24, 3, 8, 5, 2),
                           (12, 16, 8, 3, 2), (20, 4, 24, 3, 1)):
        reg(f"conv_{h}x{c}_{f}k{ks}s{s}", (h, h, c),
            lambda k, i, f=f, ks=ks, s=s: k.layers.Conv2D(f, ks, strides=s, padding="same")(i))
    for h, c, ks, s in ((16, 16, 3, 1), (24, 8, 3, 2), (8, 64, 3, 1), (10, 8, 5, 1)):
        reg(f"dw_{h}x{c}_k{ks}s{s}", (h, h, c),
            lambda k, i, ks=ks, s=s: k.layers.DepthwiseConv2D(ks, strides=s, padding="same")(i))
    for n, u in ((64, 32), (300, 128), (16, 256), (640, 8), (128, 128)):
        reg(f"fc_{n}_{u}", (n,), lambda k, i, u=u: k.layers.Dense(u)(i))
    for h, c, p, s in ((16, 16, 2, 2), (8, 32, 8, 8), (24, 4, 3, 2), (32, 8, 2, 1)):
        reg(f"avgpool_{h}x{c}_p{p}s{s}", (h, h, c),
            lambda k, i, p=p, s=s: k.layers.AveragePooling2D(p, strides=s)(i))
        reg(f"maxpool_{h}x{c}_p{p}s{s}", (h, h, c),
            lambda k, i, p=p, s=s: k.layers.MaxPooling2D(p, strides=s)(i))
    for h, c in ((8, 32), (24, 8), (4, 128), (12, 64)):
        reg(f"mean_{h}x{c}", (h, h, c), lambda k, i: k.layers.GlobalAveragePooling2D()(i))
    for shape in ((16, 16, 8), (8, 8, 32), (64,), (48, 48, 4)):
        tag = "x".join(map(str, shape))
        reg(f"add_{tag}", shape, lambda k, i: k.layers.Add()([i, k.layers.ReLU()(i)]))
        reg(f"mul_{tag}", shape, lambda k, i: k.layers.Multiply()([i, i]))
        reg(f"sub_{tag}", shape, lambda k, i: k.layers.Subtract()([i, k.layers.ReLU()(i)]))
        reg(f"max_{tag}", shape, lambda k, i: k.layers.Maximum()([i, k.layers.ReLU(6.0)(i)]))
        reg(f"min_{tag}", shape, lambda k, i: k.layers.Minimum()([i, k.layers.ReLU(6.0)(i)]))
    for shape in ((16, 16, 8), (256,), (64, 64, 4)):
        tag = "x".join(map(str, shape))
        reg(f"relu_{tag}", shape, lambda k, i: k.layers.ReLU()(i))
        reg(f"relu6_{tag}", shape, lambda k, i: k.layers.ReLU(6.0)(i))
        reg(f"leaky_{tag}", shape, lambda k, i: k.layers.LeakyReLU(0.2)(i))
        reg(f"sigmoid_{tag}", shape, lambda k, i: k.layers.Activation("sigmoid")(i))
        reg(f"tanh_{tag}", shape, lambda k, i: k.layers.Activation("tanh")(i))
        reg(f"hswish_{tag}", shape, lambda k, i: k.layers.Lambda(
            lambda t: t * k.backend.relu(t + 3.0, max_value=6.0) / 6.0)(i))
        reg(f"reshape_{tag}", shape, lambda k, i: k.layers.Reshape((-1, 4))(i))
    for n in (10, 100, 400):
        reg(f"softmax_{n}", (n,), lambda k, i: k.layers.Softmax()(i))
    for h, c in ((16, 8), (8, 32), (32, 4)):
        reg(f"concat_{h}x{c}", (h, h, c),
            lambda k, i: k.layers.Concatenate()([i, k.layers.ReLU()(i)]))
        reg(f"pad_{h}x{c}", (h, h, c), lambda k, i: k.layers.ZeroPadding2D(2)(i))
        reg(f"resize_{h}x{c}", (h, h, c), lambda k, i: k.layers.UpSampling2D(2)(i))
        reg(f"tconv_{h}x{c}", (h, h, c),
            lambda k, i: k.layers.Conv2DTranspose(8, 3, strides=2, padding="same")(i))
    return out


def single_op_names() -> list[str]:
    return list(_single_ops())


def single_op_model(name: str, *, seed: int = 0) -> bytes:
    """The int8 ``.tflite`` bytes of one single-operator model (random weights, seeded)."""
    from .._tf import set_seed

    set_seed(seed)
    return to_int8(_single_ops()[name](_keras()), seed=seed)


# --------------------------------------------------------------------------- corpus


def _img(k: Any, shape: tuple[int, ...]) -> Any:
    return k.Input(shape, name="x")


def _corpus() -> dict[str, Callable[[Any], Any]]:
    """name -> builder(keras) of a small model; every one differs in ops or shapes."""
    def conv_relu(k):
        i = _img(k, (8, 8, 1))
        x = k.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
        x = k.layers.Flatten()(x)
        return k.Model(i, k.layers.Dense(10)(x))

    def conv_stride2_valid(k):
        i = _img(k, (16, 16, 3))
        x = k.layers.Conv2D(12, 5, strides=2, padding="valid", activation="relu")(i)
        x = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
        return k.Model(i, k.layers.Dense(4)(k.layers.Flatten()(x)))

    def conv_pool_gap(k):
        i = _img(k, (8, 8, 1))
        x = k.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
        x = k.layers.MaxPooling2D(2)(x)
        x = k.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.Model(i, k.layers.Dense(10)(x))

    def avgpool_net(k):
        i = _img(k, (20, 20, 2))
        x = k.layers.Conv2D(8, 3, activation="relu")(i)
        x = k.layers.AveragePooling2D(3, strides=2)(x)
        x = k.layers.Conv2D(8, 3, activation="relu")(x)
        return k.Model(i, k.layers.Dense(3)(k.layers.Flatten()(x)))

    def maxpool3s2(k):
        i = _img(k, (24, 24, 4))
        x = k.layers.Conv2D(16, 3, padding="same", activation="relu")(i)
        x = k.layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = k.layers.MaxPooling2D(2)(x)
        return k.Model(i, k.layers.Dense(5)(k.layers.Flatten()(x)))

    def dwsep_block(k):
        i = _img(k, (16, 16, 8))
        x = k.layers.DepthwiseConv2D(3, padding="same", activation="relu")(i)
        x = k.layers.Conv2D(16, 1, activation="relu")(x)
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.Model(i, k.layers.Dense(6)(x))

    def dw_multiplier(k):
        i = _img(k, (12, 12, 4))
        x = k.layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same",
                                     activation="relu")(i)
        x = k.layers.Conv2D(8, 1)(x)
        return k.Model(i, k.layers.Dense(4)(k.layers.Flatten()(x)))

    def separable(k):
        i = _img(k, (14, 14, 3))
        x = k.layers.SeparableConv2D(12, 3, padding="same", activation="relu")(i)
        x = k.layers.SeparableConv2D(24, 3, strides=2, padding="same", activation="relu")(x)
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.Model(i, k.layers.Dense(4)(x))

    def mlp_small(k):
        i = _img(k, (20,))
        x = k.layers.Dense(16, activation="relu")(i)
        return k.Model(i, k.layers.Dense(3)(x))

    def mlp_deep(k):
        i = _img(k, (64,))
        x = i
        for units in (96, 64, 48, 32):
            x = k.layers.Dense(units, activation="relu")(x)
        return k.Model(i, k.layers.Dense(8)(x))

    def mlp_wide(k):
        i = _img(k, (300,))
        x = k.layers.Dense(256, activation="relu")(i)
        return k.Model(i, k.layers.Dense(10)(x))

    def residual_add(k):
        i = _img(k, (12, 12, 8))
        x = k.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
        x = k.layers.Conv2D(8, 3, padding="same")(x)
        x = k.layers.ReLU()(k.layers.Add()([x, i]))
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.Model(i, k.layers.Dense(4)(x))

    def concat_branches(k):
        i = _img(k, (10, 10, 4))
        a = k.layers.Conv2D(6, 1, activation="relu")(i)
        b = k.layers.Conv2D(10, 3, padding="same", activation="relu")(i)
        x = k.layers.Concatenate()([a, b])
        x = k.layers.Conv2D(8, 1, activation="relu")(x)
        return k.Model(i, k.layers.Dense(3)(k.layers.Flatten()(x)))

    def relu6_hswish(k):
        i = _img(k, (16, 16, 3))
        x = k.layers.ReLU(6.0)(k.layers.Conv2D(8, 3, strides=2, padding="same")(i))
        x = k.layers.Conv2D(12, 3, padding="same")(x)
        x = k.layers.Lambda(lambda t: t * k.backend.relu(t + 3.0, max_value=6.0) / 6.0)(x)
        return k.Model(i, k.layers.Dense(4)(k.layers.Flatten()(x)))

    def leaky(k):
        i = _img(k, (10, 10, 2))
        x = k.layers.LeakyReLU(0.1)(k.layers.Conv2D(8, 3, padding="same")(i))
        return k.Model(i, k.layers.Dense(4)(k.layers.Flatten()(x)))

    def sigmoid_head(k):
        i = _img(k, (32,))
        x = k.layers.Dense(24, activation="relu")(i)
        return k.Model(i, k.layers.Dense(1, activation="sigmoid")(x))

    def tanh_mlp(k):
        i = _img(k, (40,))
        x = k.layers.Dense(32, activation="tanh")(i)
        return k.Model(i, k.layers.Dense(6)(x))

    def softmax_head(k):
        i = _img(k, (8, 8, 1))
        x = k.layers.Conv2D(4, 3, padding="same", activation="relu")(i)
        x = k.layers.Dense(10, kernel_initializer=k.initializers.RandomNormal(stddev=0.02))(
            k.layers.Flatten()(x))
        return k.Model(i, k.layers.Softmax()(x))

    def zero_pad(k):
        i = _img(k, (14, 14, 3))
        x = k.layers.ZeroPadding2D(2)(i)
        x = k.layers.Conv2D(8, 5, activation="relu")(x)
        return k.Model(i, k.layers.Dense(4)(k.layers.Flatten()(x)))

    def upsample(k):
        i = _img(k, (8, 8, 4))
        x = k.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
        x = k.layers.UpSampling2D(2)(x)
        x = k.layers.Conv2D(4, 3, padding="same")(x)
        return k.Model(i, x)

    def conv1d_series(k):
        i = _img(k, (64, 6))
        x = k.layers.Conv1D(16, 5, activation="relu")(i)
        x = k.layers.MaxPooling1D(2)(x)
        x = k.layers.Conv1D(24, 3, activation="relu")(x)
        x = k.layers.GlobalAveragePooling1D()(x)
        return k.Model(i, k.layers.Dense(4)(x))

    def transposed(k):
        i = _img(k, (6, 6, 8))
        x = k.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(i)
        return k.Model(i, k.layers.Conv2D(2, 1)(x))

    def squeeze_excite(k):
        i = _img(k, (8, 8, 16))
        x = k.layers.Conv2D(16, 3, padding="same", activation="relu")(i)
        s = k.layers.GlobalAveragePooling2D()(x)
        s = k.layers.Dense(4, activation="relu")(s)
        s = k.layers.Dense(16, activation="sigmoid")(s)
        x = k.layers.Multiply()([x, k.layers.Reshape((1, 1, 16))(s)])
        return k.Model(i, k.layers.Dense(3)(k.layers.Flatten()(x)))

    def subtract_branches(k):
        i = _img(k, (9, 9, 3))
        a = k.layers.Conv2D(6, 3, padding="same")(i)
        b = k.layers.Conv2D(6, 1)(i)
        x = k.layers.Subtract()([a, b])
        return k.Model(i, k.layers.Dense(2)(k.layers.Flatten()(x)))

    def max_min_branches(k):
        i = _img(k, (9, 9, 3))
        a = k.layers.Conv2D(6, 3, padding="same")(i)
        b = k.layers.Conv2D(6, 1)(i)
        x = k.layers.Concatenate()([k.layers.Maximum()([a, b]), k.layers.Minimum()([a, b])])
        return k.Model(i, k.layers.Dense(2)(k.layers.Flatten()(x)))

    def average_branches(k):
        i = _img(k, (10, 10, 2))
        a = k.layers.Conv2D(4, 3, padding="same")(i)
        b = k.layers.Conv2D(4, 5, padding="same")(i)
        return k.Model(i, k.layers.Dense(2)(k.layers.Flatten()(k.layers.Average()([a, b]))))

    def pointwise_only(k):
        i = _img(k, (16, 16, 16))
        x = k.layers.Conv2D(32, 1, activation="relu")(i)
        x = k.layers.Conv2D(8, 1, activation="relu")(x)
        return k.Model(i, x)

    def rgb32(k):
        i = _img(k, (32, 32, 3))
        x = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(i)
        x = k.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
        x = k.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.Model(i, k.layers.Dense(10)(x))

    def tiny_mobilenet(k):
        i = _img(k, (32, 32, 1))
        x = k.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(i)
        for filters, stride in ((16, 1), (24, 2), (24, 1), (32, 2)):
            x = k.layers.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu")(x)
            x = k.layers.Conv2D(filters, 1, activation="relu")(x)
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.Model(i, k.layers.Dense(4)(x))

    def batchnorm_free(k):
        i = _img(k, (6, 6, 4))
        x = k.layers.BatchNormalization()(i)
        x = k.layers.Conv2D(4, 3, padding="same")(x)
        return k.Model(i, k.layers.Dense(2)(k.layers.Flatten()(x)))

    def reshape_dense(k):
        i = _img(k, (12, 8))
        x = k.layers.Reshape((96,))(i)
        x = k.layers.Dense(48, activation="relu")(x)
        x = k.layers.Reshape((6, 8))(x)
        x = k.layers.Conv1D(4, 3)(x)
        return k.Model(i, k.layers.Flatten()(x))

    def wide_first_conv(k):
        i = _img(k, (40, 12, 1))
        x = k.layers.Conv2D(24, (8, 4), strides=(2, 2), padding="same", activation="relu")(i)
        x = k.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = k.layers.Conv2D(24, 1, activation="relu")(x)
        x = k.layers.AveragePooling2D((int(x.shape[1]), int(x.shape[2])))(x)
        return k.Model(i, k.layers.Dense(5)(k.layers.Flatten()(x)))

    def deep_narrow_conv(k):
        i = _img(k, (12, 12, 2))
        x = i
        for _ in range(6):
            x = k.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
        return k.Model(i, k.layers.Dense(2)(k.layers.Flatten()(x)))

    def skip_concat_long(k):
        i = _img(k, (16, 16, 4))
        a = k.layers.Conv2D(8, 3, padding="same", activation="relu")(i)
        b = k.layers.MaxPooling2D(2)(a)
        b = k.layers.Conv2D(8, 3, padding="same", activation="relu")(b)
        b = k.layers.UpSampling2D(2)(b)
        x = k.layers.Concatenate()([a, b])
        return k.Model(i, k.layers.Conv2D(3, 1)(x))

    def dense_softmax(k):
        i = _img(k, (24,))
        x = k.layers.Dense(16, activation="relu")(i)
        x = k.layers.Dense(5, kernel_initializer=k.initializers.RandomNormal(stddev=0.05))(x)
        return k.Model(i, k.layers.Softmax()(x))

    def conv_large_kernel(k):
        i = _img(k, (28, 28, 1))
        x = k.layers.Conv2D(6, 7, strides=3, activation="relu")(i)
        x = k.layers.Conv2D(10, 3, activation="relu")(x)
        return k.Model(i, k.layers.Dense(10)(k.layers.Flatten()(x)))

    return {f.__name__: f for f in (
        conv_relu, conv_stride2_valid, conv_pool_gap, avgpool_net, maxpool3s2, dwsep_block,
        dw_multiplier, separable, mlp_small, mlp_deep, mlp_wide, residual_add, concat_branches,
        relu6_hswish, leaky, sigmoid_head, tanh_mlp, softmax_head, zero_pad, upsample,
        conv1d_series, transposed, squeeze_excite, subtract_branches, max_min_branches,
        average_branches, pointwise_only, rgb32, tiny_mobilenet, batchnorm_free, reshape_dense,
        wide_first_conv, deep_narrow_conv, skip_concat_long, dense_softmax, conv_large_kernel)}


def corpus_names() -> list[str]:
    """Names of the corpus models, in a fixed order."""
    return list(_corpus())


def corpus_model(name: str, *, seed: int = 0) -> bytes:
    """The int8 ``.tflite`` bytes of one corpus model (random weights, seeded)."""
    from .._tf import set_seed

    builders = _corpus()
    if name not in builders:
        from ..errors import ModelError

        raise ModelError(f"unknown corpus model {name!r}", hint=f"known: {', '.join(builders)}")
    set_seed(seed)
    model = builders[name](_keras())
    return to_int8(model, seed=seed)


def to_int8(model: Any, *, seed: int = 0, n: int = 32) -> bytes:
    """Full-int8 conversion with activation ranges from seeded normal data."""
    from ..tflite.int8 import to_int8_tflite

    rng = np.random.default_rng(seed)
    shape = (n, *model.input_shape[1:])
    return to_int8_tflite(model, rng.normal(size=shape).astype(np.float32))


def _fingerprint(kind: str) -> str:
    """Changes when the definitions of that model set or the converter change."""
    import hashlib
    import inspect
    from importlib.metadata import version

    from ..tflite import int8

    if kind == "single":
        sources = [inspect.getsource(_single_ops)]
    elif kind == "corpus":
        sources = [inspect.getsource(_corpus)]
    else:
        sources = [inspect.getsource(f) for f in (*REFERENCE_MODELS.values(),
                                                  *HELD_OUT_MODELS.values(), _bn_relu)]
    sources += [inspect.getsource(to_int8), inspect.getsource(int8.to_int8_tflite)]
    h = hashlib.sha256("\n".join(sources).encode())
    for dist in ("tensorflow", "tf-keras"):
        try:
            h.update(version(dist).encode())
        except Exception:  # pragma: no cover - metadata missing
            pass
    return h.hexdigest()[:16]


def cached_model(kind: str, name: str, *, directory: str | None = None) -> bytes:
    """A ``reference``, ``corpus`` or ``single`` (single-operator) model's int8
    bytes, converted once and kept under ``directory`` (default: the edgeml
    cache directory) keyed by the model definitions and TF version."""
    from pathlib import Path

    from .._io import atomic_write
    from .cache import cache_dir

    root = Path(directory) if directory else cache_dir() / "zoo"
    path = root / f"{kind}-{name}-{_fingerprint(kind)}.tflite"
    if path.is_file():
        return path.read_bytes()
    if kind == "reference":
        data = reference_model(name)
    elif kind == "corpus":
        data = corpus_model(name)
    elif kind == "single":
        data = single_op_model(name)
    else:
        from ..errors import ModelError

        raise ModelError(f"unknown model set {kind!r}", hint="use reference, corpus or single")
    try:
        atomic_write(path, data)
    except OSError:
        pass
    return data
