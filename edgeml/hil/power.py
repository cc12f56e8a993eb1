"""Energy per inference from a power analyser (Nordic PPK2, Joulescope).

The analyser samples the DUT's supply current (and voltage) together with a
digital input wired to the DUT's timestamp GPIO. The bench firmware pulses that
pin at each timestamp: once just before the N timed inferences of ``infer N W``
and once just after. Energy per inference is the integral of current x voltage
between the first and the last pulse, divided by N; average power is that
integral over the window's duration. :func:`window_energy` does this on plain
sample arrays (and is tested on waveforms of known energy); the drivers only
capture samples.

Drivers (optional extra ``pip install 'edgeml[hil]'``):

- ``ppk2:/dev/ttyACM1[@3300]``: ``ppk2-api`` in source-meter mode at 3300 mV
  (the PPK2 powers the DUT; ``@mV`` changes the voltage), 100 kS/s, the
  timestamp pin on digital input D0;
- ``joulescope``: the first Joulescope found (JS110/JS220), voltage measured,
  the timestamp pin on GPI0 (the JS110's ``current_lsb`` input).

ST's LPM01A is not supported yet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import HILError

__all__ = ["Capture", "EnergyWindow", "pulse_starts", "window_energy", "PowerMeter",
           "open_meter", "Ppk2Meter", "JoulescopeMeter"]

INSTALL_HINT = "pip install 'edgeml[hil]'"


@dataclass(frozen=True)
class Capture:
    """Samples at a fixed rate: current in amperes, voltage in volts (an array or a
    constant supply voltage) and the digital line of the timestamp pin (0/1)."""

    current_a: np.ndarray
    voltage_v: np.ndarray | float
    gpio: np.ndarray
    sample_rate_hz: float


@dataclass(frozen=True)
class EnergyWindow:
    energy_j: float          # between the first and the last timestamp pulse
    seconds: float
    start: int               # sample index of the first pulse
    stop: int                # sample index of the last pulse
    pulses: int

    @property
    def average_power_w(self) -> float:
        return self.energy_j / self.seconds if self.seconds > 0 else 0.0

    def per_inference_uj(self, inferences: int) -> float:
        return self.energy_j / max(1, int(inferences)) * 1e6


def pulse_starts(gpio: np.ndarray) -> np.ndarray:
    """Sample indices where the line leaves its idle level (the level of the first
    sample): one index per timestamp pulse, whatever the pin's polarity."""
    g = np.asarray(gpio).astype(bool)
    if g.size < 2:
        return np.zeros(0, dtype=np.int64)
    idle = g[0]
    away = g != idle
    return np.flatnonzero(away[1:] & ~away[:-1]) + 1


def window_energy(capture: Capture) -> EnergyWindow:
    """Integrate current x voltage from the first to the last timestamp pulse.

    Each sample stands for one sample period (the analyser reports the mean over
    that period), so the integral is the sum of the products times the period."""
    starts = pulse_starts(capture.gpio)
    if starts.size < 2:
        raise HILError(f"the power analyser saw {starts.size} timestamp pulse(s), not 2",
                       hint="wire the DUT's timestamp GPIO to the analyser's digital input "
                            "(PPK2 D0, Joulescope GPI0) and share ground")
    i0, i1 = int(starts[0]), int(starts[-1])
    cur = np.asarray(capture.current_a, dtype=np.float64)
    volt = capture.voltage_v
    if np.ndim(volt) == 0:
        power = cur[i0:i1] * float(volt)
    else:
        power = cur[i0:i1] * np.asarray(volt, dtype=np.float64)[i0:i1]
    fs = float(capture.sample_rate_hz)
    return EnergyWindow(energy_j=float(power.sum() / fs), seconds=(i1 - i0) / fs, start=i0,
                        stop=i1, pulses=int(starts.size))


class PowerMeter:
    """An analyser: ``start()`` before the timed window, ``stop()`` returns the capture."""

    name = "meter"

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> Capture:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Ppk2Meter(PowerMeter):
    """Nordic Power Profiler Kit II through ``ppk2-api`` (source-meter mode)."""

    name = "ppk2"

    def __init__(self, port: str, *, supply_mv: int = 3300, gpio_channel: int = 0) -> None:
        try:
            from ppk2_api.ppk2_api import PPK2_API
        except ImportError as exc:
            raise HILError("the PPK2 driver (ppk2-api) is not installed",
                           hint=INSTALL_HINT) from exc
        self.port = port
        self.supply_mv = int(supply_mv)
        self.channel = int(gpio_channel)
        try:
            self._ppk = PPK2_API(port, timeout=1, write_timeout=1, exclusive=True)
            self._ppk.get_modifiers()
            self._ppk.use_source_meter()
            self._ppk.set_source_voltage(self.supply_mv)
            self._ppk.toggle_DUT_power("ON")
        except Exception as exc:
            raise HILError(f"no PPK2 answers on {port} ({str(exc)[:120]})",
                           hint="plug in the PPK2 and pass its port, e.g. --energy ppk2:/dev/ttyACM1"
                           ) from exc
        self._raw = bytearray()
        self._thread: Any = None

    def start(self) -> None:
        import threading

        self._raw.clear()
        self._running = True
        self._ppk.start_measuring()

        def pump() -> None:
            while self._running:
                data = self._ppk.get_data()
                if data:
                    self._raw += data
                else:
                    time.sleep(0.001)

        self._thread = threading.Thread(target=pump, daemon=True)
        self._thread.start()

    def stop(self) -> Capture:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._ppk.stop_measuring()
        samples, bits = self._ppk.get_samples(bytes(self._raw))
        n = min(len(samples), len(bits))
        gpio = (np.asarray(bits[:n], dtype=np.int64) >> self.channel) & 1
        return Capture(current_a=np.asarray(samples[:n], dtype=np.float64) * 1e-6,  # uA -> A
                       voltage_v=self.supply_mv / 1000.0, gpio=gpio, sample_rate_hz=100_000.0)

    def close(self) -> None:
        try:
            self._ppk.stop_measuring()
        except Exception:
            pass


class JoulescopeMeter(PowerMeter):
    """Joulescope JS110 / JS220 through ``joulescope`` (v1 API)."""

    name = "joulescope"

    def __init__(self, *, max_seconds: float = 120.0) -> None:
        try:
            import joulescope
        except ImportError as exc:
            raise HILError("the Joulescope driver (joulescope) is not installed",
                           hint=INSTALL_HINT) from exc
        try:
            self._dev = joulescope.scan_require_one(config="auto")
            self._dev.open()
            self._dev.parameter_set("i_range", "auto")
            try:
                self._dev.parameter_set("current_lsb", "gpi0")
            except Exception:  # the JS220 names its inputs differently; GPI0 is the default
                pass
        except Exception as exc:
            raise HILError(f"no Joulescope found ({str(exc)[:120]})",
                           hint="plug in the Joulescope's USB cable (and close its UI)") from exc
        self.max_seconds = float(max_seconds)

    def start(self) -> None:
        self._dev.start(duration=self.max_seconds)

    def stop(self) -> Capture:
        self._dev.stop()
        buf = self._dev.stream_buffer
        s0, s1 = buf.sample_id_range
        data = buf.samples_get(s0, s1, fields=["current", "voltage", "current_lsb"])
        sig = data["signals"]
        return Capture(current_a=np.asarray(sig["current"]["value"], dtype=np.float64),
                       voltage_v=np.asarray(sig["voltage"]["value"], dtype=np.float64),
                       gpio=np.asarray(sig["current_lsb"]["value"]),
                       sample_rate_hz=float(self._dev.output_sampling_frequency))

    def close(self) -> None:
        try:
            self._dev.close()
        except Exception:
            pass


def open_meter(spec: str) -> PowerMeter:
    """``ppk2:PORT[@mV]`` or ``joulescope``."""
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "ppk2":
        if not rest:
            raise HILError("--energy ppk2 needs the PPK2's port",
                           hint="e.g. --energy ppk2:/dev/ttyACM1 (or ppk2:/dev/ttyACM1@1800)")
        port, _, mv = rest.partition("@")
        return Ppk2Meter(port, supply_mv=int(mv) if mv else 3300)
    if kind == "joulescope":
        return JoulescopeMeter()
    if kind == "lpm01a":
        raise HILError("the ST LPM01A is not supported yet",
                       hint="use a PPK2 (--energy ppk2:PORT) or a Joulescope (--energy joulescope)")
    raise HILError(f"unknown power analyser {spec!r}",
                   hint="use --energy ppk2:/dev/ttyACM1 or --energy joulescope")
