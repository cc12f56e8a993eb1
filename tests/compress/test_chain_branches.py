"""The two fallbacks of the compression chain, each forced by a real input (no luck involved):
QAT that tfmot cannot apply, and QAT that comes out worse than post-training quantization."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def esp32():
    from edgeml.targets import load_target

    return load_target("esp32")


def _elu_model(digits):
    """A model with an ELU activation inside a Dense layer (ELU is in every target's runtime):
    tfmot's QAT supports only some activations and refuses this one."""
    from edgeml._tf import keras, set_seed

    k = keras()
    set_seed(0)
    inputs = k.Input(shape=digits.input_shape)
    x = k.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = k.layers.GlobalAveragePooling2D()(x)
    x = k.layers.Dense(16, activation="elu", name="hidden")(x)
    x = k.layers.Dense(digits.num_classes, name="logits")(x)
    return k.Model(inputs, k.layers.Softmax(name="probs")(x))


def test_qat_that_cannot_be_applied_keeps_ptq(digits, esp32):
    """The RuntimeFailure branch: no QAT stage, the PTQ model is the result and the notes
    say why. The model is untrained: the failure comes before any training."""
    from edgeml.compress import CompressOptions, compress_model
    from edgeml.tflite.int8 import representative_sample, to_int8_tflite

    model = _elu_model(digits)
    ptq = to_int8_tflite(model, representative_sample(digits.x_train, n=200, seed=0))
    res = compress_model(model, digits, esp32, CompressOptions(qat=True, max_int8_drop=100.0))
    assert [s.stage for s in res.stages] == ["search model (PTQ int8)"]
    assert res.int8_method == "ptq" and res.chosen is res.stages[0]
    assert res.model_bytes == ptq
    assert len(res.notes) == 1
    assert res.notes[0].startswith("QAT not used: quantization-aware training could not wrap")
    assert res.notes[0].endswith("post-training quantization kept")


@pytest.mark.slow
def test_qat_worse_than_ptq_falls_back_to_ptq(digits, digits_model, digits_int8, esp32):
    """The QAT-vs-PTQ branch: one epoch of QAT at a learning rate of 100 (``lr`` 1e3 x the
    chain's 0.1 for QAT) wrecks the weights, so QAT's validation accuracy is near chance while
    PTQ of the trained model scores over 75%: the chain must keep PTQ and say so."""
    from edgeml.compress import CompressOptions, compress_model

    res = compress_model(digits_model, digits, esp32,
                         CompressOptions(qat=True, epochs=1, lr=1e3, max_int8_drop=2.0),
                         baseline_bytes=digits_int8)
    base, qat = res.stages
    assert qat.stage == "QAT int8" and qat.int8 == "qat"
    assert base.int8_val_accuracy > 0.75 and qat.int8_val_accuracy < 0.5, (base, qat)
    assert res.int8_method == "ptq" and res.chosen is base and res.model_bytes == digits_int8
    assert res.notes == (f"QAT int8 validation accuracy {qat.int8_val_accuracy:.4f} is below "
                         f"PTQ's {base.int8_val_accuracy:.4f}: PTQ model kept",)
    assert res.as_dict()["chosen_stage"] == "search model (PTQ int8)"
