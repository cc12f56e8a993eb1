"""to_int8_tflite hands the converter a plain module holding the model's variables
(much faster than the Keras model itself): the bytes must be the converter's own."""

import numpy as np

from edgeml._tf import keras, set_seed, tf
from edgeml.tflite.int8 import evaluate_int8, to_int8_tflite


def _reference(model, calib: np.ndarray) -> bytes:
    """The converter handed the Keras model itself (its documented use)."""
    t = tf()
    fn = t.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(t.TensorSpec((1, *model.input_shape[1:]), t.float32))
    conv = t.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    conv.optimizations = [t.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [t.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = t.int8
    conv.inference_output_type = t.int8
    return bytes(conv.convert())


def test_the_same_bytes_as_converting_the_keras_model(digits):
    k = keras()
    set_seed(3)
    inputs = k.Input(shape=digits.input_shape)
    x = k.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    x = k.layers.DepthwiseConv2D(3, padding="same")(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    model = k.Model(inputs, k.layers.Dense(digits.num_classes, activation="softmax")(x))
    bn = model.layers[2]
    # non-default moving statistics: the untrainable variables must reach the converter
    bn.moving_mean.assign(np.linspace(-0.5, 0.5, 8).astype("float32"))
    bn.moving_variance.assign(np.linspace(0.5, 2.0, 8).astype("float32"))
    calib = digits.x_train[:16]
    fast = to_int8_tflite(model, calib)
    assert fast == _reference(model, calib)
    # and it runs: the int8 model agrees with the float model on most samples
    ev = evaluate_int8(fast, digits.x_val[:64], np.argmax(model.predict(digits.x_val[:64],
                                                                        verbose=0), axis=1))
    assert ev.accuracy > 0.8
