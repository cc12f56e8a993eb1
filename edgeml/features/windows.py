"""Cutting multichannel streams into windows, and the checks a stream must pass first.

* timestamps must increase strictly (a step back or a repeat is an error naming the row);
* the sampling rate is given, or inferred as ``1 / median(time step)``; a stream whose
  steps wander more than 10 % from the median is resampled onto a uniform grid by
  linear interpolation, and that fix is reported;
* NaN gaps of at most ``max_gap`` samples are filled by linear interpolation between
  their neighbours (reported); a longer gap, or a NaN at either end, is an error;
* a recording shorter than one window is an error naming it.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

__all__ = ["infer_rate", "regularize", "fill_gaps", "cut", "MAX_GAP", "JITTER"]

MAX_GAP = 5       # samples of NaN filled by interpolation
JITTER = 0.10     # relative deviation of a time step from the median that triggers resampling


def infer_rate(t: np.ndarray, *, where: str) -> float:
    """Sampling rate (Hz) from a strictly increasing time column in seconds."""
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
    return float(1.0 / np.median(step))


def regularize(x: np.ndarray, t: np.ndarray, rate: float, *, where: str,
               fixes: list[str]) -> np.ndarray:
    """Resample ``x`` (T, C) onto a uniform grid at ``rate`` when its time steps wander."""
    step = np.diff(np.asarray(t, dtype=np.float64))
    dev = float(np.max(np.abs(step * rate - 1.0)))
    if dev <= JITTER:
        return x
    grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * rate)) + 1) / rate
    out = np.empty((len(grid), x.shape[1]), dtype=np.float64)
    for c in range(x.shape[1]):
        out[:, c] = np.interp(grid, t, x[:, c])
    fixes.append(f"{where}: time steps vary by up to {dev:.0%} of 1/{rate:g} Hz; "
                 f"resampled {len(x)} -> {len(grid)} samples on a uniform grid (linear)")
    return out


def fill_gaps(x: np.ndarray, *, where: str, fixes: list[str], max_gap: int = MAX_GAP) -> np.ndarray:
    """Fill NaN runs of at most ``max_gap`` samples by linear interpolation (reported)."""
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
        runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
        for run in runs:
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


def cut(x: np.ndarray, window: int, hop: int, *, where: str) -> np.ndarray:
    """Windows ``(n, window, C)`` starting every ``hop`` samples (the tail that does not fill
    a window is left out, as in any sliding window)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if hop < 1:
        raise DataError(f"window hop {hop} must be at least 1 sample", hint="pass a positive hop")
    if len(x) < window:
        raise DataError(f"{where} has {len(x)} samples, shorter than one window of {window}",
                        hint="use a shorter window or drop this recording")
    starts = np.arange(0, len(x) - window + 1, hop)
    return np.stack([x[s:s + window] for s in starts])
