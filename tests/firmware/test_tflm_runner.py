"""The protocol core with the REAL TFLite Micro interpreter behind it.

The core (firmware/common, built as the host shared library the virtual board
uses) is driven through ctypes exactly as the harness drives it; its runner
callbacks call the tflite-micro Python package (TFLM's C++ interpreter and
reference kernels). The model goes over the protocol in 31-byte ``db`` lines,
the inputs too, and ``m-results`` must equal the host interpreter's outputs
for the same inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from fw_core import PyRunner, VirtualDut, db_lines, model_load, replies

pytestmark = pytest.mark.slow  # the digits model is trained once per session

runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                              reason="tflite-micro has wheels for Linux x86-64 only")


def _dequantize(q: np.ndarray, details: dict) -> list[float]:
    qp = details["quantization_parameters"]
    scale = np.float32(qp["scales"][0])
    zp = np.int32(qp["zero_points"][0])
    return [float(np.float32(np.int32(v) - zp) * scale) for v in q.reshape(-1)]


class TflmPyRunner(PyRunner):
    """edgeml_runner_t over the tflite-micro Python interpreter (arena measured by edgeml)."""

    tflm = "host"
    kernels = "reference"
    timer = "simulated"

    def __init__(self, arena_size: int, *, measured: tuple[int, int] = (0, 0)) -> None:
        self.arena = arena_size
        self.measured = measured
        self.interp = None
        self.out: list[float] = []

    def load(self, model: bytes) -> str | None:
        self.interp = None
        try:
            self.interp = runtime.Interpreter.from_bytes(model, arena_size=self.arena)
        except RuntimeError as exc:
            return f"AllocateTensors failed: {exc}"
        self.model = model
        return None

    def input_bytes(self) -> int:
        d = self.interp.get_input_details(0)
        return int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize

    def set_input(self, data: bytes) -> int:
        d = self.interp.get_input_details(0)
        self.interp.set_input(np.frombuffer(data, d["dtype"]).reshape(d["shape"]), 0)
        return 0

    def invoke(self) -> int:
        self.interp.invoke()
        self.out = _dequantize(self.interp.get_output(0), self.interp.get_output_details(0))
        return 0

    def outputs(self) -> list[float]:
        if self.interp is None:
            return []
        if not self.out:  # before the first invoke: the output tensor's size
            d = self.interp.get_output_details(0)
            return [0.0] * int(np.prod(d["shape"]))
        return self.out

    def arena_used(self) -> int:
        return self.measured[0]

    def arena_min(self) -> int:
        return self.measured[1]


@pytest.fixture(scope="module")
def measured(digits_int8):
    from edgeml.tflite.tflm import run_tflm

    res = run_tflm(digits_int8, bisect=True)
    return res


def test_results_equal_the_host_interpreter(core_lib, digits, digits_int8, measured):
    from edgeml.tflite.tflm import quantize_input

    runner = TflmPyRunner(64 * 1024, measured=(measured.arena_bytes, measured.bisected_bytes))
    dut = VirtualDut(core_lib, runner, slot=64 * 1024, input_cap=1024)
    assert dut.boot()[-1] == "m-ready"
    assert len(digits_int8) < 64 * 1024
    r = replies(dut.send(model_load(digits_int8)))
    crc = dut.crc32(digits_int8)
    in_bytes = int(np.prod(digits.input_shape))
    assert r[-1] == ["m-load-done", f"m-model-[bytes={len(digits_int8)},crc={crc:08x},"
                     f"input_bytes={in_bytes},output_count={digits.num_classes},"
                     f"arena_used={measured.arena_bytes}]", "m-ready"]
    assert dut.send("profile%")[1] == f"m-model-[edgeml-{crc:08x}]"

    host = runtime.Interpreter.from_bytes(digits_int8, arena_size=64 * 1024)
    det = host.get_input_details(0)
    qp = det["quantization_parameters"]
    x = quantize_input(digits.x_test[:8], float(qp["scales"][0]), int(qp["zero_points"][0]))
    distinct = set()
    for sample in x:
        data = sample.astype(np.int8).tobytes()
        assert dut.send(f"db load {len(data)}%") == [f"m-[Expecting {len(data)} bytes]", "m-ready"]
        assert replies(dut.send(db_lines(data)))[-1] == ["m-load-done", "m-ready"]
        reply = dut.send("infer 4 1%")
        assert reply[:3] == ["m-warmup-start-1", "m-warmup-done", "m-infer-start-4"]
        assert reply[5] == "m-infer-done" and reply[-1] == "m-ready"
        host.set_input(sample.astype(np.int8).reshape(det["shape"]), 0)
        host.invoke()
        want = _dequantize(host.get_output(0), host.get_output_details(0))
        line = "m-results-[" + ",".join(f"{v:.3f}" for v in want) + "]"
        assert reply[6] == line
        assert dut.send("results%") == [line, "m-ready"]
        distinct.add(line)
    assert len(distinct) > 1  # different digits, different outputs

    assert dut.send("arena%") == [f"m-arena-used-[{measured.arena_bytes}]",
                                  f"m-arena-min-[{measured.bisected_bytes}]", "m-ready"]
    assert dut.send("ops%") == ["e-[No inference profiled yet]", "m-ready"]  # no profiler here


def test_model_that_fails_allocate_tensors(core_lib, digits_int8, measured):
    # an arena with room for the persistent tail but not the activations: TFLM's
    # AllocateTensors fails (and raises) instead of crashing
    small = measured.tail_bytes + measured.head_bytes // 2
    dut = VirtualDut(core_lib, TflmPyRunner(small), slot=64 * 1024)
    dut.boot()
    r = replies(dut.send(model_load(digits_int8)))
    assert r[-1][0].startswith("e-[AllocateTensors failed: ")
    assert r[-1][1] == "m-ready"
    assert dut.send("profile%")[1] == "m-model-[edgeml-none]"
    assert dut.send("infer 1 0%") == ["e-[No model loaded: send model load N CRC first]", "m-ready"]
    assert dut.send("name%") == ["m-name-dut-[edgeml-host]", "m-ready"]


def test_real_model_too_big_for_the_slot(core_lib, digits_int8):
    dut = VirtualDut(core_lib, TflmPyRunner(64 * 1024), slot=len(digits_int8) - 1)
    dut.boot()
    r = replies(dut.send(model_load(digits_int8)))
    assert r[0] == [f"e-[Model of {len(digits_int8)} bytes exceeds the slot of "
                    f"{len(digits_int8) - 1} bytes]", "m-ready"]
    assert all(x[0].startswith("e-[No load in progress") for x in r[1:])
    assert dut.send("name%") == ["m-name-dut-[edgeml-host]", "m-ready"]
