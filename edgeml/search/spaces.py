"""Search spaces: Keras Tuner hypermodels fitted to the input kind.

Each space builds a ``tf_keras`` classifier from operators every shipped
target's TFLM build has (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
MAX/AVERAGE_POOL_2D, MEAN, RESHAPE, SOFTMAX). The last layer is a separate
``Softmax`` so the logits model can be cut off when needed.

Hyperparameters shared by all spaces: ``lr``, ``batch_size``, ``dropout``.
"""

from __future__ import annotations

from typing import Any

from .._tf import keras as _keras
from ..data import InputKind

__all__ = ["build_space", "SPACES"]


def _training_hps(hp: Any) -> None:
    hp.Float("lr", 1e-3, 1e-2, sampling="log")
    hp.Choice("batch_size", [32, 64])


def _head(keras: Any, x: Any, hp: Any, num_classes: int) -> Any:
    drop = hp.Float("dropout", 0.0, 0.3, step=0.1)
    if drop > 0:
        x = keras.layers.Dropout(drop)(x)
    x = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.layers.Softmax(name="probs")(x)


def image_space(input_shape: tuple[int, ...], num_classes: int):
    """Plain conv stacks and depthwise-separable (DS-CNN / MobileNetV1-style) stacks."""
    h, w, _ = input_shape
    smallest = min(h, w)

    def build(hp: Any) -> Any:
        keras = _keras()
        _training_hps(hp)
        inputs = keras.Input(shape=input_shape, name="input")
        x = inputs
        size = smallest
        if smallest >= 32:
            down = hp.Choice("downscale", [1, 2, 4])
            if down > 1:
                x = keras.layers.AveragePooling2D(down, name="downscale")(x)
                size //= down
        block = hp.Choice("block", ["conv", "ds"])
        width = hp.Choice("width", [0.5, 1.0, 2.0])
        base = hp.Choice("filters", [8, 16, 32])
        kernel = hp.Choice("kernel", [3, 5]) if size >= 5 else 3
        max_depth = 1 + max(0, min(4, size.bit_length() - 3))
        depth = hp.Int("depth", 1, max(max_depth, 1)) if max_depth > 1 else 1
        pool = hp.Choice("pool", ["max", "stride"])
        for i in range(depth):
            filters = max(4, int(base * width * (2 ** min(i, 2))))
            reduce_here = size >= 4 and i < depth - 1 or (size >= 8 and i == depth - 1)
            stride = 2 if (reduce_here and pool == "stride") else 1
            if block == "conv" or i == 0:
                x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same",
                                        use_bias=False, name=f"conv{i}")(x)
            else:
                x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                                 use_bias=False, name=f"dw{i}")(x)
                x = keras.layers.BatchNormalization(name=f"dw{i}_bn")(x)
                x = keras.layers.ReLU(name=f"dw{i}_relu")(x)
                x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"pw{i}")(x)
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
            x = keras.layers.ReLU(name=f"relu{i}")(x)
            if reduce_here:
                if pool == "max":
                    x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
                size = (size + 1) // 2
        if hp.Choice("head", ["gap", "flatten"]) == "gap":
            x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        else:
            x = keras.layers.Flatten(name="flatten")(x)
        return keras.Model(inputs, _head(keras, x, hp, num_classes))

    return build


def timeseries_space(input_shape: tuple[int, ...], num_classes: int):
    """Temporal convolutions as TFLM-friendly Conv2D (k x 1) over a (T, 1, C) view."""
    steps, channels = input_shape

    def build(hp: Any) -> Any:
        keras = _keras()
        _training_hps(hp)
        inputs = keras.Input(shape=input_shape, name="input")
        x = keras.layers.Reshape((steps, 1, channels), name="as_image")(inputs)
        t = steps
        depth = hp.Int("depth", 1, max(1, min(4, t.bit_length() - 2)))
        base = hp.Choice("filters", [8, 16, 32])
        kernel = hp.Choice("kernel", [3, 5, 9])
        for i in range(depth):
            k = min(kernel, t)
            x = keras.layers.Conv2D(base * (2 ** min(i, 2)), (k, 1), padding="same",
                                    use_bias=False, name=f"tconv{i}")(x)
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
            x = keras.layers.ReLU(name=f"relu{i}")(x)
            if t >= 4:
                x = keras.layers.MaxPooling2D((2, 1), name=f"pool{i}")(x)
                t //= 2
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        return keras.Model(inputs, _head(keras, x, hp, num_classes))

    return build


def tabular_space(input_shape: tuple[int, ...], num_classes: int):
    """Multi-layer perceptrons."""

    def build(hp: Any) -> Any:
        keras = _keras()
        _training_hps(hp)
        inputs = keras.Input(shape=input_shape, name="input")
        x = inputs
        for i in range(hp.Int("layers", 1, 3)):
            x = keras.layers.Dense(hp.Choice(f"units{i}", [16, 32, 64, 128]),
                                   activation="relu", name=f"dense{i}")(x)
        return keras.Model(inputs, _head(keras, x, hp, num_classes))

    return build


SPACES = {InputKind.IMAGE: image_space, InputKind.TIMESERIES: timeseries_space,
          InputKind.TABULAR: tabular_space}


def build_space(kind: InputKind, input_shape: tuple[int, ...], num_classes: int):
    """The ``build(hp)`` function of the default space for ``kind``."""
    return SPACES[kind](input_shape, num_classes)
