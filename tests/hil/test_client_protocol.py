"""The protocol client against the virtual board (the firmware's own C core)."""

from __future__ import annotations

import numpy as np
import pytest

from edgeml.errors import HILError
from edgeml.hil.protocol import crc32_hex
from edgeml.tflite.graph import read_graph


def test_extension_detected_and_model_loaded_over_serial(board, client_of, small_model):
    vb = board()
    c = client_of(vb)
    assert c.name() == "edgeml-virtual"
    assert c.profile() == "edgeml-none"
    ext = c.extension()
    assert ext is not None and ext.version == 1
    assert ext.timer == "simulated" and ext.info["kernels"] == "host"
    loaded = c.load_model(small_model)
    assert loaded.crc == crc32_hex(small_model) and loaded.bytes == len(small_model)
    assert c.profile() == f"edgeml-{crc32_hex(small_model)}"
    assert loaded.input_bytes == read_graph(small_model).input(0).nbytes
    used, smallest = c.arena()
    assert used and smallest and smallest >= used


def test_timed_inference_follows_the_simulated_clock(board, client_of, small_model):
    from edgeml.estimate import estimate_model

    vb = board()
    c = client_of(vb)
    loaded = c.load_model(small_model)
    c.load_input(bytes(loaded.input_bytes))
    t_before = c.timestamp()
    inf = c.infer(20, 3)
    assert inf.t0_us >= t_before
    est = estimate_model(small_model, vb.target).latency_ms
    assert inf.latency_ms == pytest.approx(est, abs=1e-3)
    ops = c.ops()
    assert [o[1] for o in ops][:1] == ["CONV_2D"] and len(ops) >= 3
    assert c.results() == inf.results


def test_base_only_dut_is_detected_not_assumed(board, client_of, small_model):
    vb = board(model=small_model, base_only=True)
    c = client_of(vb)
    assert c.extension() is None
    assert c.profile() == f"edgeml-{crc32_hex(small_model)}"
    with pytest.raises(HILError, match="only the MLPerf Tiny base protocol"):
        c.load_model(small_model)
    # the base protocol still works: db load + infer on the resident model, same outputs
    from edgeml.tflite.tflm import run_tflm

    t = read_graph(small_model).input(0)
    x = np.random.default_rng(1).integers(-128, 128, size=(1, *t.shape[1:]), dtype=np.int8)
    c.load_input(x.tobytes())
    got = np.array(c.infer(2, 1).results)
    res = run_tflm(small_model, x)
    want = (res.outputs[0].astype(float) - res.output["zero_point"]) * res.output["scale"]
    assert np.abs(got - want).max() <= 0.0005 + 1e-6


def test_model_larger_than_the_slot_is_refused_in_one_line(board, client_of, small_model):
    vb = board(slot_bytes=1024)
    c = client_of(vb)
    with pytest.raises(HILError, match="exceeds the slot of 1024 bytes") as exc:
        c.load_model(small_model)
    assert "\n" not in str(exc.value)
    assert c.name() == "edgeml-virtual"  # still usable


def test_infer_without_input_is_a_clear_error(board, client_of, small_model):
    vb = board(model=small_model)
    c = client_of(vb)
    with pytest.raises(HILError, match="Input not loaded"):
        c.infer(1, 0)


def test_the_virtual_board_on_a_tcp_socket(board, client_of, small_model):
    from edgeml.hil.virtual import Fault

    vb = board(transport="tcp", faults=(Fault("disconnect", on="db", nth=60),))
    assert vb.path.startswith("socket://127.0.0.1:")
    c = client_of(vb)
    assert c.extension().timer == "simulated"
    c.load_input(bytes(64))                       # no model yet: any input size is taken
    with pytest.raises(HILError, match=r"socket://127\.0\.0\.1:\d+ disappeared") as exc:
        c.load_model(small_model)                 # the 60th db line: the board hangs up
    assert "\n" not in str(exc.value)
