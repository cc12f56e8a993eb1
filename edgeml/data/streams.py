"""The checks a sensor stream must pass before it is cut into windows.

* timestamps must increase strictly (a step back or a repeat is an error naming the row);
* the sampling rate is given, or inferred as ``1 / median(time step)``; a stream whose
  steps wander more than 10 % from the median is resampled onto a uniform grid by
  linear interpolation, and that fix is reported;
* NaN gaps of at most ``max_gap`` samples are filled by linear interpolation between
  their neighbours (reported); a longer gap, or a NaN at either end, is an error;
* (a recording shorter than one window is an error naming it: ``edgeml.features.windows.cut``).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

__all__ = ["infer_rate", "regularize", "fill_gaps", "MAX_GAP", "JITTER"]

MAX_GAP = 5       # samples of NaN filled by interpolation
JITTER = 0.10     # relative deviation of a time step from the median that triggers resampling


def infer_rate(t: np.ndarray, *, where: str) -> float:
    t = np.asarray(t, dtype=np.float64)
    if len(t) < 2:
        raise DataError(f"{where} has fewer than two samples", hint="record a longer stream")
    if not np.all(np.isfinite(t)):
        row = int(np.flatnonzero(~np.isfinite(t))[0])
        raise DataError(f"{where}: time value at row {row} is missing or not finite",
                        hint="fix or remove that row")
    step = np.diff(t)
    if np.any(step <= 0):
        row = int(np.flatnonzero(step <= 0)[0]) + 1
        raise DataError(f"{where}: timestamps are not increasing at row {row} "
                        f"({t[row - 1]:g} then {t[row]:g})",
                        hint="sort the rows by time and remove duplicates, or split the recording")
    return float(f"{1.0 / np.median(step):.6g}")  # 10 Hz, not 10.000000000000002


def regularize(x: np.ndarray, t: np.ndarray, rate: float, *, where: str,
                fixes: list[str]) -> np.ndarray:
    step = np.diff(np.asarray(t, dtype=np.float64))
    dev = float(np.max(np.abs(step * rate - 1.0)))
    if dev <= JITTER:
        return x
    grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * rate + 1e-9)) + 1) / rate
    out = np.empty((len(grid), x.shape[1]), dtype=np.float64)
    for c in range(x.shape[1]):
        ok = np.isfinite(x[:, c])
        out[:, c] = np.interp(grid, t[ok], x[ok, c]) if ok.any() else np.nan
    fixes.append(f"{where}: time steps vary by up to {dev:.0%} of 1/{rate:g} Hz; "
                 f"resampled {len(x)} -> {len(grid)} samples on a uniform grid (linear)")
    return out


def fill_gaps(x: np.ndarray, *, where: str, fixes: list[str], max_gap: int = MAX_GAP) -> np.ndarray:
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    x = np.array(x, dtype=np.float64)
    filled = 0
    for c in range(x.shape[1]):
        col = bad[:, c]
        if not col.any():
            continue
        idx = np.flatnonzero(col)
        for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1):
            start, stop = int(run[0]), int(run[-1]) + 1
            if start == 0 or stop == len(x):
                raise DataError(f"{where}: channel {c} has no value at rows {start}..{stop - 1} "
                                "(a gap at the start or end)",
                                hint="trim the recording to where the sensor has data")
            if stop - start > max_gap:
                raise DataError(f"{where}: channel {c} has a gap of {stop - start} missing "
                                f"samples at rows {start}..{stop - 1} (longer than {max_gap})",
                                hint="split the recording at the gap or trim it")
        good = np.flatnonzero(~col)
        x[col, c] = np.interp(idx, good, x[good, c])
        filled += len(idx)
    fixes.append(f"{where}: filled {filled} missing value(s) in gaps of <= {max_gap} samples "
                 "by linear interpolation")
    return x
