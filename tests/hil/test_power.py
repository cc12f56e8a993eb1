"""Energy between the timestamp pulses, on sample arrays of known waveforms."""

from __future__ import annotations

import numpy as np
import pytest

from edgeml.errors import HILError
from edgeml.hil.power import Capture, open_meter, pulse_starts, window_energy

FS = 100_000.0  # PPK2's rate


def _pin(n: int, pulses: list[int], *, width: int = 20, idle: int = 1) -> np.ndarray:
    g = np.full(n, idle, dtype=np.int8)
    for p in pulses:
        g[p:p + width] = 1 - idle
    return g


def test_constant_current_between_two_pulses():
    n = int(FS)  # 1 s
    cur = np.full(n, 2e-3)                  # 2 mA idle
    cur[10_000:60_000] = 10e-3              # 10 mA for 0.5 s between the pulses
    cap = Capture(current_a=cur, voltage_v=3.3, gpio=_pin(n, [10_000, 60_000]), sample_rate_hz=FS)
    w = window_energy(cap)
    assert (w.start, w.stop, w.pulses) == (10_000, 60_000, 2)
    assert w.seconds == pytest.approx(0.5)
    assert w.energy_j == pytest.approx(10e-3 * 3.3 * 0.5, rel=1e-9)   # 16.5 mJ
    assert w.average_power_w == pytest.approx(33e-3)
    assert w.per_inference_uj(100) == pytest.approx(165.0)


def test_square_wave_current_and_measured_voltage_with_inverted_pin():
    n = 200_000
    t = np.arange(n)
    cur = np.where((t // 100) % 2 == 0, 20e-3, 5e-3)   # 50% duty: mean 12.5 mA
    volt = np.where(t < 100_000, 3.0, 1.8)             # supply steps half way
    cap = Capture(current_a=cur, voltage_v=volt, gpio=_pin(n, [50_000, 150_000], idle=0),
                  sample_rate_hz=FS)
    w = window_energy(cap)
    expected = 12.5e-3 * 3.0 * 0.5 + 12.5e-3 * 1.8 * 0.5    # 0.5 s at each voltage
    assert w.energy_j == pytest.approx(expected, rel=1e-6)


def test_the_window_spans_the_first_and_last_pulse():
    g = _pin(10_000, [1_000, 4_000, 9_000])
    assert list(pulse_starts(g)) == [1_000, 4_000, 9_000]
    cap = Capture(current_a=np.ones(10_000), voltage_v=1.0, gpio=g, sample_rate_hz=1_000.0)
    assert window_energy(cap).energy_j == pytest.approx(8.0)   # 8 s x 1 A x 1 V


def test_missing_pulses_say_how_to_wire_the_pin():
    cap = Capture(current_a=np.ones(100), voltage_v=3.3, gpio=_pin(100, [10]), sample_rate_hz=FS)
    with pytest.raises(HILError, match="timestamp GPIO"):
        window_energy(cap)


def test_meter_specs_fail_in_one_line():
    with pytest.raises(HILError, match="no PPK2 answers on /dev/nonexistent-edgeml"):
        open_meter("ppk2:/dev/nonexistent-edgeml")
    with pytest.raises(HILError, match="needs the PPK2's port"):
        open_meter("ppk2")
    with pytest.raises(HILError, match="LPM01A is not supported"):
        open_meter("lpm01a:/dev/ttyACM0")
    with pytest.raises(HILError, match="unknown power analyser"):
        open_meter("multimeter")
