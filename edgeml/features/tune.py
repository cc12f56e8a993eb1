"""Choose a feature kind's parameters before the network search spends trials on it.

A feature kind (statistics, FFT bands, the raw window, log-mel, MFCC) comes with
parameters that decide both accuracy and cost: the window length and hop of a
stream, the frame, frame hop and number of mel bands of audio. Training a
network for every combination would multiply the search, so each combination
is scored by a fast proxy instead:

1. its cost on every target (:func:`~edgeml.features.cost.cost_on`): a variant
   whose feature stage alone takes the model's flash or RAM budget, or the
   latency limit, is out before any fit;
2. its validation accuracy with extremely randomised trees (scikit-learn
   ``ExtraTreesClassifier``, seeded) fitted on the training split's features,
   split exactly as the run splits them (by recording / group).

The variant with the best proxy accuracy wins (ties, within half a point: the
one with the cheaper feature stage on the first target), and the network
search of that kind runs on it. What the user gave (``--window``, ``--hop``) is
kept fixed. Audio is also tried at 8 kHz (the recordings loaded again at that rate)
unless ``--rate`` was given, so a target that cannot afford 16 kHz features, or gains
nothing from them, gets the cheaper rate. Deterministic for a seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..data.recordings import Recordings
from ..errors import DataError
from .build import build_features
from .cost import cost_on
from .spec import FeatureSpec, next_pow2

__all__ = ["Variant", "spec_variants", "tune_spec", "best_variant", "TIE_POINTS",
           "LOW_AUDIO_RATE_HZ"]

#: proxy accuracies this close (fraction) count as a tie, broken by the cheaper stage
TIE_POINTS = 0.005
#: the shortest window worth trying on a stream
MIN_WINDOW = 8
#: audio is also tried at this rate (when no --rate is given and the files are faster):
#: half the work per second of sound, for a target that cannot afford 16 kHz features
LOW_AUDIO_RATE_HZ = 8000


@dataclass(frozen=True)
class Variant:
    """One variant of a feature kind, as the proxy scored it."""

    spec: FeatureSpec
    fits: bool
    reason: str = ""
    proxy_val_accuracy: float | None = None
    latency_ms: float = 0.0
    flash_bytes: int = 0
    ram_bytes: int = 0
    windows: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"describe": self.spec.describe(), "spec": self.spec.to_dict(), "fits": self.fits,
                "reason": self.reason, "proxy_val_accuracy": self.proxy_val_accuracy,
                "latency_ms": round(self.latency_ms, 4), "flash_bytes": self.flash_bytes,
                "ram_bytes": self.ram_bytes, "windows": self.windows,
                "seconds": round(self.seconds, 2)}


def spec_variants(recs: Recordings, base: FeatureSpec, *, window_given: bool = False,
                  hop_given: bool = False) -> list[FeatureSpec]:
    """The variants of ``base``'s kind worth scoring (``base`` first)."""
    out = [base]
    if base.kind == "tabular":
        return out
    if base.kind in ("logmel", "mfcc"):
        frames = [base.frame]
        if base.frame * 2 <= base.window:
            frames.append(base.frame * 2)
        if base.frame // 2 >= 64:
            frames.append(base.frame // 2)
        for frame in frames:
            top = min(32, frame // 4)
            for mels in dict.fromkeys((top, max(8, top // 2))):
                extra = {"mfcc": min(base.mfcc or 13, mels)} if base.kind == "mfcc" else {}
                out.append(replace(base, frame=frame, frame_hop=max(1, frame // 2), mels=mels,
                                   **extra))
        return list(dict.fromkeys(out))
    windows = [base.window]
    if not window_given:
        longest = recs.shortest
        if base.window // 2 >= MIN_WINDOW:
            windows.append(base.window // 2)
        if base.window * 2 <= longest:
            windows.append(base.window * 2)
    for w in windows:
        hop = base.hop if hop_given else max(1, w // 2)
        extra = {"bands": min(base.bands or 8, next_pow2(w) // 2)} if base.kind == "fft" else {}
        out.append(replace(base, window=w, hop=hop, **extra))
    return list(dict.fromkeys(out))


def _proxy_accuracy(ds: Any, seed: int) -> float:
    from sklearn.ensemble import ExtraTreesClassifier

    x_tr = np.asarray(ds.x_train, np.float32).reshape(len(ds.x_train), -1)
    x_va = np.asarray(ds.x_val, np.float32).reshape(len(ds.x_val), -1)
    if not len(x_va):
        return 0.0
    clf = ExtraTreesClassifier(n_estimators=64, random_state=seed, n_jobs=1)
    clf.fit(np.nan_to_num(x_tr), ds.y_train)
    return float(np.mean(clf.predict(np.nan_to_num(x_va)) == ds.y_val))


def _fits(spec: FeatureSpec, targets: Sequence[Any], limits: Any) -> tuple[bool, str, Any]:
    costs = [cost_on(spec, t) for t in targets]
    for t, c in zip(targets, costs, strict=True):
        if c.flash_bytes >= t.model_flash_budget:
            return False, f"{c.flash_bytes} B of flash leave no room for a model on {t.name}", \
                costs[0]
        if c.ram_bytes >= t.arena_budget:
            return False, f"{c.ram_bytes} B of RAM leave no room for a model on {t.name}", \
                costs[0]
    limit = getattr(limits, "max_latency_ms", None)
    worst = max(c.latency_ms for c in costs)
    if limit is not None and worst >= limit:
        return False, f"{worst:.2f} ms alone, over the {limit:g} ms limit", costs[0]
    return True, "", costs[0]


def tune_spec(recs: Recordings, base: FeatureSpec, targets: Sequence[Any], limits: Any, *,
              seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2,
              window_given: bool = False, hop_given: bool = False
              ) -> tuple[FeatureSpec, list[Variant]]:
    """The variant of ``base``'s kind the proxy prefers, and every variant's score.

    ``base`` itself is returned when no variant fits (the search then reports why).
    """
    scored: list[Variant] = []
    for spec in spec_variants(recs, base, window_given=window_given, hop_given=hop_given):
        t0 = time.perf_counter()
        ok, reason, cost = _fits(spec, targets, limits)
        common = {"latency_ms": cost.latency_ms, "flash_bytes": cost.flash_bytes,
                  "ram_bytes": cost.ram_bytes}
        if not ok:
            scored.append(Variant(spec, fits=False, reason=reason, **common))
            continue
        try:
            fs = build_features(recs, spec, seed=seed, val_fraction=val_fraction,
                                test_fraction=test_fraction)
        except DataError as exc:  # e.g. a recording shorter than this window
            scored.append(Variant(spec, fits=False, reason=exc.message, **common))
            continue
        acc = _proxy_accuracy(fs.dataset, seed)
        scored.append(Variant(spec, fits=True, proxy_val_accuracy=acc,
                              windows=int(len(fs.dataset.y_train)),
                              seconds=time.perf_counter() - t0, **common))
    best = best_variant(scored)
    return (base if best is None else best.spec), scored


def best_variant(scored: Sequence[Variant]) -> Variant | None:
    """The variant that fits with the best proxy accuracy (within :data:`TIE_POINTS`: the
    cheapest feature stage); None when none fits."""
    good = [v for v in scored if v.fits and v.proxy_val_accuracy is not None]
    if not good:
        return None
    top = max(v.proxy_val_accuracy or 0.0 for v in good)
    near = [v for v in good if (v.proxy_val_accuracy or 0.0) >= top - TIE_POINTS]
    return min(near, key=lambda v: (v.latency_ms, -(v.proxy_val_accuracy or 0.0)))

