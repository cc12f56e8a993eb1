"""Every injected fault ends in a clear one-line error or a recovered run with nothing lost."""

from __future__ import annotations

import json
import time

import pytest

from edgeml.errors import HILError
from edgeml.hil.bench import BenchOptions, bench_model
from edgeml.hil.virtual import Fault

FAST = BenchOptions(window_s=0.05, windows=4, samples=2)


def test_garbage_before_a_reply_is_skipped(board, client_of, small_model):
    vb = board(faults=(Fault("garbage", on="name", nth=2), Fault("garbage", on="infer", nth=1)))
    c = client_of(vb)
    assert c.name() == "edgeml-virtual"          # the 2nd name% (connect sent the 1st)
    loaded = c.load_model(small_model)
    c.load_input(bytes(loaded.input_bytes))
    inf = c.infer(3, 0)
    assert inf.iterations == 3 and len(inf.results) > 0
    assert c.noise, "the garbage was seen and dropped"


@pytest.mark.parametrize("line", ["m-ready", "m-lap-us-", "m-results-"])
def test_a_lost_line_of_an_infer_reply_is_recovered(board, client_of, small_model, line):
    vb = board(faults=(Fault("drop", on="infer", nth=1, line=line),))
    c = client_of(vb, infer_timeout=0.5)
    loaded = c.load_model(small_model)
    c.load_input(bytes(loaded.input_bytes))
    inf = c.infer(5, 0)
    assert inf.iterations == 5 and inf.t1_us > inf.t0_us
    assert c.resyncs >= 1
    assert sum(cmd.startswith("infer") for cmd in vb.commands) == 2  # repeated once


def test_a_lost_reply_in_a_model_transfer_restarts_the_whole_load(board, client_of, small_model):
    vb = board(faults=(Fault("drop", on="db", nth=10),))
    c = client_of(vb, timeout=0.5)
    loaded = c.load_model(small_model)
    assert loaded.bytes == len(small_model)
    assert sum(cmd.startswith("model load") for cmd in vb.commands) == 2
    c.load_input(bytes(loaded.input_bytes))
    assert c.infer(1, 0).results  # the model that arrived is whole (crc checked by the board)


def test_a_hung_board_is_a_one_line_error(board, client_of, small_model):
    vb = board(faults=(Fault("hang", on="infer"),))
    c = client_of(vb, timeout=0.3, infer_timeout=0.5, retries=1)
    loaded = c.load_model(small_model)
    c.load_input(bytes(loaded.input_bytes))
    t0 = time.monotonic()
    with pytest.raises(HILError) as exc:
        c.infer(2, 0)
    msg = str(exc.value)
    assert f"no reply from {vb.path} to 'infer 2 0' within 0.5 s" in msg
    assert "edgeml bench firmware" in msg
    assert "\n" not in msg and time.monotonic() - t0 < 5


def test_a_disconnect_in_the_middle_of_a_load_is_a_one_line_error(board, client_of, small_model):
    vb = board(faults=(Fault("disconnect", on="db", nth=5),))
    c = client_of(vb, timeout=0.5)
    with pytest.raises(HILError) as exc:
        c.load_model(small_model)
    msg = str(exc.value)
    assert ("disappeared" in msg or "no reply" in msg) and "\n" not in msg


def test_a_disconnect_during_the_windows_keeps_the_finished_ones(board, client_of, small_model,
                                                                 tmp_path):
    from edgeml.tflite.graph import read_graph

    # the 7th infer: after the output checks (2), choosing N (1-2) and a few windows
    vb = board(faults=(Fault("disconnect", on="infer", nth=7),))
    c = client_of(vb, timeout=0.5, infer_timeout=1.0)
    partial = tmp_path / "bench.partial.jsonl"
    seen = []
    with pytest.raises(HILError, match="finished window") as exc:
        bench_model(c, small_model, target=vb.target, options=FAST, partial=partial,
                    on_event=lambda kind, rec: seen.append(rec) if kind == "window" else None)
    assert "\n" not in str(exc.value) and f"{len(seen)} finished window" in str(exc.value)
    kept = [json.loads(ln) for ln in partial.read_text().splitlines()]
    assert 1 <= len(kept) == len(seen) < FAST.windows
    assert all(w["latency_ms"] > 0 for w in kept)
    assert read_graph(small_model)  # the model itself is untouched


def test_ctrl_c_returns_the_windows_measured_so_far(board, client_of, small_model, tmp_path):
    vb = board()
    c = client_of(vb)

    def interrupt(kind, rec):
        if kind == "window" and rec["index"] == 3:
            raise KeyboardInterrupt

    res = bench_model(c, small_model, target=vb.target, options=FAST,
                      partial=tmp_path / "p.jsonl", on_event=interrupt)
    assert not res.complete and len(res.windows) == 3 and res.latency_ms > 0
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 3


def test_no_c_compiler_is_a_one_line_error(tmp_path, monkeypatch):
    from edgeml.hil.virtual import build_library

    monkeypatch.setenv("EDGEML_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-cc-edgeml")
    with pytest.raises(HILError, match="no C compiler \\(no-such-cc-edgeml\\)") as exc:
        build_library()
    assert "apt-get install gcc" in str(exc.value) and "\n" not in str(exc.value)
