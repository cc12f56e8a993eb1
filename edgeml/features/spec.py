"""The feature pipeline as data: :class:`FeatureSpec` (what to compute) and
:class:`FittedFeatures` (the spec plus the normalization fitted on the training split).

A spec fully determines the numbers: the same spec applied to the same raw
window gives the same float32 features in Python and in the generated C
(``edgeml.export.features_c``). Both round-trip through JSON.

Kinds:

* ``raw``: the window itself, ``(window, channels)`` (a temporal model's input);
* ``stats``: per channel ``stats`` (mean, std, min, max, rms, zero crossings of the
  mean, percentiles ``pNN``), ``(channels * len(stats),)``;
* ``fft``: per channel the log energy of ``bands`` equal-width bands of the power
  spectrum (mean removed, zero-padded to a power of two), ``(channels * bands,)``;
* ``logmel`` / ``mfcc``: mono audio cut into frames of ``frame`` samples every
  ``frame_hop`` (Hann window), ``mels`` triangular mel bands, log; ``mfcc`` keeps the
  first ``mfcc`` DCT-II coefficients: ``(frames, mels|mfcc, 1)`` (an image);
* ``tabular``: one row of ``window`` columns -> ``terms`` (a column, or a ratio,
  product or difference of two columns), ``(len(terms),)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["FeatureSpec", "FittedFeatures", "KINDS", "STATS", "TERM_OPS", "next_pow2"]

KINDS = ("raw", "stats", "fft", "logmel", "mfcc", "tabular")
STATS = ("mean", "std", "min", "max", "rms", "zcr", "p10", "p25", "p50", "p75", "p90")
TERM_OPS = ("col", "ratio", "prod", "diff")
#: a ratio's denominator never gets closer to zero than this (same rule in C)
RATIO_EPS = 1e-6
#: log(energy + LOG_EPS) for band energies and mel spectrograms
LOG_EPS = 1e-6


def next_pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


@dataclass(frozen=True)
class FeatureSpec:
    """What the feature stage computes from one raw window (see the module docstring)."""

    kind: str
    window: int                        # samples per window (tabular: number of input columns)
    channels: int = 1
    hop: int = 0                       # samples between window starts when cutting streams
    rate: float = 0.0                  # sampling rate in Hz (0: unknown / tabular)
    stats: tuple[str, ...] = ()
    bands: int = 0
    frame: int = 0
    frame_hop: int = 0
    mels: int = 0
    mfcc: int = 0
    fmin: float = 0.0
    fmax: float = 0.0
    terms: tuple[tuple[str, int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"unknown feature kind {self.kind!r}", hint=f"use one of {', '.join(KINDS)}")
        if self.window < 1 or self.channels < 1:
            raise DataError(f"feature window {self.window} x {self.channels} channels is empty",
                            hint="use a window of at least one sample and one channel")
        object.__setattr__(self, "stats", tuple(self.stats))
        object.__setattr__(self, "terms", tuple(tuple(t) for t in self.terms))  # type: ignore[misc]
        if self.kind == "stats":
            bad = [s for s in self.stats if s not in STATS]
            if not self.stats or bad:
                raise DataError(f"unknown statistic(s) {bad or '(none)'}",
                                hint=f"choose from {', '.join(STATS)}")
        if self.kind == "fft":
            if not 1 <= self.bands <= self.n_fft // 2:
                raise DataError(f"{self.bands} FFT bands for a {self.window}-sample window",
                                hint=f"use 1..{self.n_fft // 2} bands")
        if self.kind in ("logmel", "mfcc"):
            if self.channels != 1:
                raise DataError(f"{self.kind} features need mono audio, got {self.channels} channels",
                                hint="downmix the recording to one channel")
            if not (1 <= self.frame <= self.window and self.frame_hop >= 1):
                raise DataError(f"audio frame {self.frame} / hop {self.frame_hop} does not fit a "
                                f"{self.window}-sample window", hint="use 1 <= frame <= window")
            if self.rate <= 0:
                raise DataError("log-mel features need the sampling rate", hint="give the rate in Hz")
            if not 1 <= self.mels <= self.n_fft // 2:
                raise DataError(f"{self.mels} mel bands for a {self.n_fft}-point FFT",
                                hint=f"use 1..{self.n_fft // 2} mel bands")
            if self.kind == "mfcc" and not 1 <= self.mfcc <= self.mels:
                raise DataError(f"{self.mfcc} MFCCs from {self.mels} mel bands",
                                hint="keep at most as many coefficients as mel bands")
        if self.kind == "tabular":
            if self.channels != 1 or not self.terms:
                raise DataError("a tabular feature spec needs one channel and at least one term",
                                hint="build it with edgeml.features.select_terms")
            for op, i, j in self.terms:
                if op not in TERM_OPS or not 0 <= i < self.window or \
                        (op != "col" and not 0 <= j < self.window):
                    raise DataError(f"bad tabular term {(op, i, j)} for {self.window} columns",
                                    hint=f"ops are {', '.join(TERM_OPS)}")

    # ------------------------------------------------------------------ derived sizes
    @property
    def n_fft(self) -> int:
        if self.kind in ("logmel", "mfcc"):
            return max(2, next_pow2(self.frame))
        return max(2, next_pow2(self.window))

    @property
    def frames(self) -> int:
        return 1 + (self.window - self.frame) // self.frame_hop if self.frame_hop else 0

    @property
    def input_length(self) -> int:
        """Raw floats one call consumes (window x channels, interleaved by time step)."""
        return self.window * self.channels

    @property
    def output_shape(self) -> tuple[int, ...]:
        if self.kind == "raw":
            return (self.window, self.channels)
        if self.kind == "stats":
            return (self.channels * len(self.stats),)
        if self.kind == "fft":
            return (self.channels * self.bands,)
        if self.kind == "logmel":
            return (self.frames, self.mels, 1)
        if self.kind == "mfcc":
            return (self.frames, self.mfcc, 1)
        return (len(self.terms),)

    @property
    def norm_size(self) -> int:
        """Normalization constants: one per feature for vectors, one per column of 2-D features."""
        shape = self.output_shape
        if self.kind == "raw":
            return self.channels
        if self.kind in ("logmel", "mfcc"):
            return shape[1]
        return shape[0]

    def describe(self) -> str:
        if self.kind == "raw":
            return f"raw {self.window}x{self.channels}"
        if self.kind == "stats":
            return f"stats[{','.join(self.stats)}] of {self.window}x{self.channels}"
        if self.kind == "fft":
            return f"fft {self.bands} bands of {self.window}x{self.channels}"
        if self.kind in ("logmel", "mfcc"):
            n = f"{self.mels} mels" + (f" -> {self.mfcc} mfcc" if self.kind == "mfcc" else "")
            return f"{self.kind} {self.frames}x{self.frame}/{self.frame_hop} {n} @ {self.rate:g} Hz"
        return f"tabular {len(self.terms)} of {self.window} columns"

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stats"] = list(self.stats)
        d["terms"] = [list(t) for t in self.terms]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown or "kind" not in d or "window" not in d:
            raise DataError(f"not a feature spec (fields {sorted(d)})",
                            hint="write it with FeatureSpec.to_dict()")
        d = dict(d)
        d["stats"] = tuple(d.get("stats") or ())
        d["terms"] = tuple((str(op), int(i), int(j)) for op, i, j in d.get("terms") or ())
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class FittedFeatures:
    """A spec and its normalization: ``feature = (value - mean) / std`` per norm slot."""

    spec: FeatureSpec
    mean: tuple[float, ...]
    std: tuple[float, ...]
    report: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n = self.spec.norm_size
        if len(self.mean) != n or len(self.std) != n:
            raise DataError(f"normalization has {len(self.mean)}/{len(self.std)} values, "
                            f"the spec needs {n}", hint="refit the feature stage")

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedFeatures:
        try:
            return cls(FeatureSpec.from_dict(d["spec"]), tuple(float(v) for v in d["mean"]),
                       tuple(float(v) for v in d["std"]))
        except (KeyError, TypeError) as exc:
            raise DataError(f"not a fitted feature pipeline ({exc})",
                            hint="write it with FittedFeatures.to_dict()") from exc

    def mean_array(self) -> np.ndarray:
        return np.asarray(self.mean, dtype=np.float32)

    def inv_std_array(self) -> np.ndarray:
        return (np.float32(1.0) / np.asarray(self.std, dtype=np.float32)).astype(np.float32)
