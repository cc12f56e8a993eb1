"""The compression chain on a trained digits model: every stage measured in TFLM, QAT kept
only when it helps, and a drop over --max-int8-drop names the stage that lost it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def esp32():
    from edgeml.targets import load_target

    return load_target("esp32")


def test_structured_pruning_and_qat(digits, digits_model, digits_int8, esp32):
    from edgeml.compress import CompressOptions, compress_model
    from edgeml.tflite.graph import read_graph

    events = []
    res = compress_model(digits_model, digits, esp32,
                         CompressOptions(structured=0.3, qat=True, epochs=6, lr=3e-3),
                         baseline_bytes=digits_int8,
                         on_event=lambda kind, rec: events.append((kind, rec["stage"])))
    names = [s.stage for s in res.stages]
    assert names == ["search model (PTQ int8)", "structured pruning 30%", "QAT int8"]
    assert [e[1] for e in events] == names
    base, pruned, qat = res.stages
    assert base.model_bytes == len(digits_int8) and base.macs == read_graph(digits_int8).macs
    # channels really removed: fewer MACs, weights and bytes, not just zeros
    assert pruned.macs < 0.7 * base.macs and pruned.params < 0.7 * base.params
    assert pruned.model_bytes < base.model_bytes and pruned.latency_ms < base.latency_ms
    assert qat.macs == pruned.macs and qat.float_accuracy is None and "BatchNorm" in qat.note
    assert res.int8_method in ("qat", "ptq")
    assert res.chosen is (qat if res.int8_method == "qat" else pruned)
    assert read_graph(res.model_bytes).is_int8 and read_graph(res.model_bytes).macs == qat.macs
    d = res.as_dict()
    assert d["macs_reduction"] == pytest.approx(1 - res.chosen.macs / base.macs)
    assert d["int8_drop_points"] == pytest.approx(
        100 * (base.float_accuracy - res.chosen.int8_accuracy), abs=1e-3)
    assert d["int8_drop_points"] <= 2.0


def test_a_large_drop_names_the_stage(digits, digits_model, digits_int8, esp32):
    from edgeml.compress import AccuracyDropError, CompressOptions, compress_model

    # 90% of the channels gone and no real fine-tuning (lr 1e-7): pruning loses the accuracy
    opts = CompressOptions(structured=0.9, epochs=1, lr=1e-7, max_int8_drop=2.0)
    with pytest.raises(AccuracyDropError) as err:
        compress_model(digits_model, digits, esp32, opts, baseline_bytes=digits_int8)
    msg = str(err.value)
    assert "over --max-int8-drop 2: structured pruning 90% lost" in msg
    assert "prune less" in msg and "\n" not in msg


def test_options_are_checked():
    from edgeml.compress import CompressOptions
    from edgeml.errors import EdgeMLError

    for kwargs, text in (({"prune": 1.5}, "--prune must be a fraction"),
                         ({"structured": 0.0}, "--structured must be a fraction"),
                         ({"max_int8_drop": -1}, "--max-int8-drop must be 0 or more"),
                         ({"epochs": 0}, "--epochs must be at least 1")):
        with pytest.raises(EdgeMLError, match=text):
            CompressOptions(**kwargs).validate()
