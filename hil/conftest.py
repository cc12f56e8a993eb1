"""Test benches for a board on a serial port, or for the virtual board.

    pytest hil                                        # the virtual board (default), target esp32s3
    pytest hil --port /dev/ttyUSB0 --target esp32s3   # a real board running the bench firmware
    pytest hil --port /dev/ttyACM0 --target nrf52840 --energy ppk2:/dev/ttyACM1
    pytest hil --port /dev/ttyUSB0 --baseline bench.json   # fail when latency grew > 10%

``--model`` picks the model to bench (a ``.tflite`` or a run directory; default:
a small CNN of edgeml's corpus). ``--window-s`` sets the timed window (default 10 s
on a board, 0.2 s on the virtual board, whose clock is simulated).

When Espressif's pytest-embedded is installed, its plugin already defines
``--port``, ``--target`` and ``--baud``; they are used as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _add(group, *names, **kw):
    try:
        group.addoption(*names, **kw)
    except ValueError:  # already defined by another plugin (pytest-embedded: --port, --target)
        pass


def pytest_addoption(parser):
    g = parser.getgroup("edgeml-hil", "edgeml hardware-in-the-loop benches")
    _add(g, "--port", default=None, help="the board's serial port (default: the virtual board)")
    _add(g, "--target", default=None, help="edgeml target of the board [default: esp32s3]")
    _add(g, "--baud", default=None, help="serial speed [default: 115200]")
    _add(g, "--virtual", action="store_true", default=False,
         help="bench the virtual board (the default when --port is not given)")
    _add(g, "--energy", default=None, help="power analyser: ppk2:/dev/ttyACM1 or joulescope")
    _add(g, "--baseline", default=None, help="a saved bench.json to check latency against")
    _add(g, "--threshold", type=float, default=10.0,
         help="allowed latency growth against --baseline in %% [default: 10]")
    _add(g, "--model", default=None, help="a .tflite or run directory to bench")
    _add(g, "--window-s", type=float, default=None, help="timed window in the board's seconds")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """A board is one serial port: with --port the benches run in this one process, not in
    the test processes the project's pytest settings start (pytest-xdist's -n)."""
    if config.getoption("--port", None) and getattr(config.option, "numprocesses", None):
        config.option.numprocesses = 0


class Bench:
    """What the benches share: the target, the client, the model and one bench of it."""

    def __init__(self, config) -> None:
        from edgeml.targets import load_target

        opt = config.getoption
        port = opt("--port")
        target = opt("--target")
        if target in (None, "auto"):  # "auto": pytest-embedded's default chip type
            target = "esp32s3"
        self.target = load_target(target)
        self.virtual = bool(opt("--virtual")) or not port
        self.port = None if self.virtual else port
        self.baud = int(opt("--baud") or 115200)
        self.energy = opt("--energy")
        self.baseline = opt("--baseline")
        self.threshold = float(opt("--threshold"))
        self.window_s = opt("--window-s") or (0.2 if self.virtual else 10.0)
        self.model_arg = opt("--model")
        self.board = None
        self._client = None
        self._result = None

    @property
    def client(self):
        from edgeml.hil.protocol import connect

        if self._client is None:
            if self.virtual:
                from edgeml.hil.virtual import VirtualBoard

                self.board = VirtualBoard(target=self.target)
                self.board.start()
            self._client = connect(self.board.path if self.virtual else self.port,
                                   baudrate=self.baud)
        return self._client

    @property
    def model(self) -> bytes:
        if self.model_arg:
            p = Path(self.model_arg)
            return (p / "model.tflite").read_bytes() if p.is_dir() else p.read_bytes()
        from edgeml.estimate.zoo import cached_model

        return cached_model("corpus", "conv_pool_gap")

    @property
    def result(self):
        """One bench of the model (shared by the latency, arena and energy benches)."""
        if self._result is None:
            from edgeml.hil.bench import BenchOptions, bench_model, bench_run

            opts = BenchOptions(window_s=self.window_s, windows=5, samples=5)
            meter = None
            if self.energy:
                from edgeml.hil.power import open_meter

                meter = open_meter(self.energy)
            try:
                if self.model_arg and Path(self.model_arg).is_dir():
                    self._result = bench_run(self.client, self.model_arg, target=self.target,
                                             options=opts, meter=meter)
                else:
                    self._result = bench_model(self.client, self.model, target=self.target,
                                               options=opts, meter=meter)
            finally:
                if meter is not None:
                    meter.close()
        return self._result

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.board is not None:
            self.board.stop()


@pytest.fixture(scope="session")
def hil(request):
    bench = Bench(request.config)
    yield bench
    bench.close()
