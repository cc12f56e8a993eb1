"""Hardware in the loop: talk to a board over serial, bench it, flash it, measure its energy.

- :mod:`.transport`: serial port, pseudo-terminal or ``socket://`` (pyserial);
- :mod:`.protocol`: the MLPerf Tiny DUT protocol + edgeml's extension (:func:`connect`);
- :mod:`.bench`: latency by MLPerf Tiny's rule, output agreement with the host TFLM
  interpreter, arena, energy; ``bench.json`` / ``bench.md``;
- :mod:`.power`: PPK2 and Joulescope drivers and the energy integration;
- :mod:`.flash`: esptool, pyocd and PlatformIO command lines;
- :mod:`.calibrate`: measure the reference models on a board for ``edgeml calibrate --port``;
- :mod:`.virtual`: the virtual board (the firmware's C core on the host).
"""

from __future__ import annotations

from .protocol import DutClient, Extension, Inference, LoadedModel, connect

__all__ = ["DutClient", "Extension", "Inference", "LoadedModel", "connect"]
