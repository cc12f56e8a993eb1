"""The ``.tflite`` model: read its graph, run it in TFLite Micro, make it int8.

Used by ``estimate``, ``search`` and ``compress`` alike, so it sits below all three:

* :mod:`.graph`: the flatbuffer -> operators, tensors, MACs (no TensorFlow import);
* :mod:`.tflm`: the real TFLite Micro interpreter in a child process
  (:mod:`._tflm_worker`): arena bisection, outputs, invoke timing;
* :mod:`.int8`: a ``tf_keras`` model -> fully int8 ``.tflite`` bytes (post-training
  quantization), and the accuracy of those bytes measured in TFLite Micro.

This package imports nothing at ``import`` time (the TFLM child process starts fast).
"""
