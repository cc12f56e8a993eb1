"""Feature computation from raw windows (numpy, float32, deterministic).

``compute(spec, windows)`` maps windows ``(n, window, channels)`` (tabular: rows
``(n, columns)``) to features ``(n, *spec.output_shape)``. The constant tables
(Hann window, mel filterbank, DCT) are built here once in float64 and rounded to
float32; the generated C uses exactly these float32 tables.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import DataError
from .spec import LOG_EPS, RATIO_EPS, FeatureSpec, FittedFeatures

__all__ = ["compute", "fit", "transform", "quantize", "hann", "mel_filterbank", "dct_matrix",
           "band_edges"]

F32 = np.float32


@lru_cache(maxsize=16)
def hann(n: int) -> np.ndarray:
    """Periodic Hann window (float32)."""
    k = np.arange(n, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * k / n)).astype(F32)


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filterbank(mels: int, n_fft: int, rate: float, fmin: float, fmax: float) -> np.ndarray:
    """Triangular HTK-mel filters ``(mels, n_fft // 2 + 1)`` (float32)."""
    fmax = fmax or rate / 2.0
    pts = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), mels + 2))
    freqs = np.arange(n_fft // 2 + 1, dtype=np.float64) * rate / n_fft
    w = np.zeros((mels, n_fft // 2 + 1), dtype=np.float64)
    for m in range(mels):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        up = (freqs - lo) / max(c - lo, 1e-12)
        down = (hi - freqs) / max(hi - c, 1e-12)
        w[m] = np.maximum(0.0, np.minimum(up, down))
    return w.astype(F32)


@lru_cache(maxsize=16)
def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``(n_out, n_in)`` (float32)."""
    k = np.arange(n_out, dtype=np.float64)[:, None]
    m = np.arange(n_in, dtype=np.float64)[None, :]
    d = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (m + 0.5) / n_in)
    d[0] *= np.sqrt(0.5)
    return d.astype(F32)


def band_edges(n_fft: int, bands: int) -> list[tuple[int, int]]:
    """``bands`` contiguous bin ranges ``[lo, hi)`` covering bins 1..n_fft/2 (DC excluded)."""
    half = n_fft // 2
    return [(1 + b * half // bands, 1 + (b + 1) * half // bands) for b in range(bands)]


def _power(frames: np.ndarray, n_fft: int) -> np.ndarray:
    """|rfft|^2 of the last axis, zero-padded to ``n_fft`` (float32)."""
    spec = np.fft.rfft(frames.astype(np.float64), n=n_fft, axis=-1)
    return (spec.real ** 2 + spec.imag ** 2).astype(F32)


def _stats(w: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    # w: (n, T, C) float32 -> (n, C, S)
    n, t, c = w.shape
    mean = w.astype(np.float64).mean(axis=1).astype(F32)
    out = np.empty((n, c, len(names)), dtype=F32)
    centred = (w - mean[:, None, :]).astype(F32)
    sorted_w = np.sort(w, axis=1) if any(s.startswith("p") for s in names) else None
    for k, name in enumerate(names):
        if name == "mean":
            v = mean
        elif name == "std":
            v = np.sqrt((centred.astype(np.float64) ** 2).mean(axis=1))
        elif name == "min":
            v = w.min(axis=1)
        elif name == "max":
            v = w.max(axis=1)
        elif name == "rms":
            v = np.sqrt((w.astype(np.float64) ** 2).mean(axis=1))
        elif name == "zcr":
            below = w < mean[:, None, :]
            v = (below[:, 1:, :] != below[:, :-1, :]).sum(axis=1)
        else:  # pNN, numpy's default linear interpolation between order statistics
            assert sorted_w is not None
            pos = np.float32(int(name[1:]) / 100.0 * (t - 1))
            lo = int(np.floor(pos))
            hi = min(lo + 1, t - 1)
            frac = np.float32(pos - lo)
            v = sorted_w[:, lo, :] + frac * (sorted_w[:, hi, :] - sorted_w[:, lo, :])
        out[:, :, k] = np.asarray(v, dtype=F32)
    return out.reshape(n, c * len(names))


def _fft_bands(w: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    n, _, c = w.shape
    mean = w.astype(np.float64).mean(axis=1).astype(F32)
    centred = np.transpose(w - mean[:, None, :], (0, 2, 1))  # (n, C, T)
    p = _power(centred, spec.n_fft).astype(np.float64)
    out = np.empty((n, c, spec.bands), dtype=F32)
    for b, (lo, hi) in enumerate(band_edges(spec.n_fft, spec.bands)):
        e = p[:, :, lo:hi].sum(axis=-1) / spec.n_fft
        out[:, :, b] = np.log(e + LOG_EPS)
    return out.reshape(n, c * spec.bands)


def _mel(w: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    x = w[:, :, 0]
    idx = np.arange(spec.frames)[:, None] * spec.frame_hop + np.arange(spec.frame)[None, :]
    frames = x[:, idx] * hann(spec.frame)  # (n, frames, frame)
    p = _power(frames, spec.n_fft).astype(np.float64)
    fb = mel_filterbank(spec.mels, spec.n_fft, spec.rate, spec.fmin, spec.fmax).astype(np.float64)
    logmel = np.log(p @ fb.T + LOG_EPS)
    if spec.kind == "mfcc":
        logmel = logmel.astype(F32).astype(np.float64) @ \
            dct_matrix(spec.mfcc, spec.mels).astype(np.float64).T
    return logmel.astype(F32)[..., None]


def _tabular(rows: np.ndarray, terms: tuple[tuple[str, int, int], ...]) -> np.ndarray:
    rows = rows.astype(F32)
    out = np.empty((len(rows), len(terms)), dtype=F32)
    for k, (op, i, j) in enumerate(terms):
        a = rows[:, i]
        if op == "col":
            v = a
        elif op == "prod":
            v = a * rows[:, j]
        elif op == "diff":
            v = a - rows[:, j]
        else:
            b = rows[:, j]
            den = np.where(np.abs(b) >= F32(RATIO_EPS), b,
                           np.where(b < 0, F32(-RATIO_EPS), F32(RATIO_EPS))).astype(F32)
            v = a / den
        out[:, k] = v
    return out


def compute(spec: FeatureSpec, windows: np.ndarray) -> np.ndarray:
    """Unnormalized float32 features of ``windows`` (see the module docstring)."""
    w = np.asarray(windows, dtype=F32)
    if spec.kind == "tabular":
        if w.ndim != 2 or w.shape[1] != spec.window:
            raise DataError(f"tabular features need rows of {spec.window} columns, got {w.shape}",
                            hint="pass the same columns the feature stage was fitted on")
        return _tabular(w, spec.terms)
    if w.ndim == 2 and spec.channels == 1:
        w = w[..., None]
    if w.ndim != 3 or w.shape[1:] != (spec.window, spec.channels):
        raise DataError(f"windows of shape {w.shape[1:]} do not match the feature spec "
                        f"({spec.window}, {spec.channels})",
                        hint="cut the stream with the spec's window and channels")
    if spec.kind == "raw":
        return w.copy()
    if spec.kind == "stats":
        return _stats(w, spec.stats)
    if spec.kind == "fft":
        return _fft_bands(w, spec)
    return _mel(w, spec)


def _norm_axes(spec: FeatureSpec, feats: np.ndarray) -> tuple[int, ...]:
    """Axes reduced when fitting: all but the norm slot axis."""
    if spec.kind == "raw":
        return (0, 1)
    if spec.kind in ("logmel", "mfcc"):
        return (0, 1, 3)
    return (0,)


def _slot_view(spec: FeatureSpec, feats: np.ndarray) -> np.ndarray:
    """Broadcast shape of the per-slot constants against ``feats``."""
    if spec.kind == "raw":
        return np.empty((1, 1, spec.channels))
    if spec.kind in ("logmel", "mfcc"):
        return np.empty((1, 1, spec.norm_size, 1))
    return np.empty((1, spec.norm_size))


def fit(spec: FeatureSpec, train_windows: np.ndarray, *,
        report: dict | None = None) -> tuple[FittedFeatures, np.ndarray]:
    """Fit the normalization on training windows; returns it and their normalized features."""
    feats = compute(spec, train_windows)
    axes = _norm_axes(spec, feats)
    mean = feats.astype(np.float64).mean(axis=axes)
    std = feats.astype(np.float64).std(axis=axes)
    std = np.where(std > 1e-6 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    fitted = FittedFeatures(spec, tuple(float(F32(v)) for v in mean.ravel()),
                            tuple(float(F32(v)) for v in std.ravel()), report=dict(report or {}))
    return fitted, _normalize(fitted, feats)


def _normalize(fitted: FittedFeatures, feats: np.ndarray) -> np.ndarray:
    shape = _slot_view(fitted.spec, feats).shape
    mean = fitted.mean_array().reshape(shape)
    inv = fitted.inv_std_array().reshape(shape)
    return ((feats - mean).astype(F32) * inv).astype(F32)


def transform(fitted: FittedFeatures, windows: np.ndarray) -> np.ndarray:
    """Normalized float32 features: what the model's (float) input sees."""
    return _normalize(fitted, compute(fitted.spec, windows))


def quantize(features: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The model's int8 input: ``round(f / scale) + zero_point`` (half to even), clipped."""
    q = np.rint((np.asarray(features, dtype=F32) / F32(scale)).astype(F32)) + int(zero_point)
    return np.clip(q, -128, 127).astype(np.int8)
