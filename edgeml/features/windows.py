"""Cutting multichannel streams into windows (the checks a stream passes first live in
:mod:`edgeml.data.streams` and are re-exported here)."""

from __future__ import annotations

import numpy as np

from ..data.streams import JITTER, MAX_GAP, fill_gaps, infer_rate, regularize
from ..errors import DataError

__all__ = ["infer_rate", "regularize", "fill_gaps", "cut", "MAX_GAP", "JITTER"]


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
