"""A model's dequantized TFLM outputs, and the copy the search keeps beside each trained
trial's ``model.tflite`` for the ensemble stage: used only for the same model and inputs."""

from __future__ import annotations

import numpy as np

from edgeml.classical.stage import network_proba
from edgeml.tflite.int8 import evaluate_int8, int8_proba, load_proba, save_proba


def test_outputs_are_the_evaluation_s_and_kept_only_for_the_same_model_and_inputs(
        digits, digits_int8, tmp_path):
    x, y = digits.x_val[:40], digits.y_val[:40]
    ev = evaluate_int8(digits_int8, x, y, bisect=False)
    proba = int8_proba(digits_int8, x)
    assert proba.shape == (40, digits.num_classes)
    np.testing.assert_array_equal(ev.proba, proba)
    np.testing.assert_array_equal(np.argmax(proba, axis=1), ev.predictions)
    assert ev.accuracy == float(np.mean(ev.predictions == y)) > 0.8
    # dequantized: the softmax's probabilities, about 1 per row
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=0.05)

    path = tmp_path / "int8_proba.npz"
    assert load_proba(path, digits_int8, x) is None  # no file yet
    save_proba(path, digits_int8, x, proba)
    np.testing.assert_array_equal(load_proba(path, digits_int8, x), proba)
    assert load_proba(path, digits_int8, digits.x_val[1:41]) is None  # other inputs
    assert load_proba(path, digits_int8, x[:39]) is None
    other = bytearray(digits_int8)
    other[-1] ^= 1
    assert load_proba(path, bytes(other), x) is None                  # another model

    # network_proba reads what was kept for this model and these inputs ...
    marked = np.full_like(proba, 0.1)
    save_proba(path, digits_int8, x, marked)
    np.testing.assert_array_equal(network_proba(digits_int8, x, cache=path), marked)
    # ... and runs TFLM for anything else, or when the file is unreadable
    np.testing.assert_array_equal(network_proba(digits_int8, x[:20], cache=path), proba[:20])
    path.write_bytes(b"\x00 not an npz")
    assert load_proba(path, digits_int8, x) is None
    np.testing.assert_array_equal(network_proba(digits_int8, x, cache=path), proba)
