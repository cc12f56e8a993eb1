"""Recordings: raw signals before the feature stage cuts and summarizes them.

A :class:`Recordings` holds one labelled signal per recording (a sensor stream,
a WAV file, or a row of a tabular CSV), the group each belongs to (the unit a
split never divides: the recording itself, or a ``--group`` column such as a
subject) and every fix the loader applied (resampling, gap filling, downmixing),
so that nothing is changed silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Recordings"]


@dataclass(frozen=True)
class Recordings:
    name: str
    kind: str                              # "stream" | "audio" | "tabular"
    signals: tuple[np.ndarray, ...]        # (T, C) float32 per recording (tabular: (1, F))
    y: np.ndarray                          # class index per recording
    labels: tuple[str, ...]
    groups: tuple[str, ...]                # split unit per recording
    sources: tuple[str, ...]               # where each recording came from (file, rows)
    rate: float = 0.0                      # Hz (0: unknown; tabular)
    channels: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.signals)

    @property
    def shortest(self) -> int:
        return min(len(s) for s in self.signals)

    def summary(self) -> dict:
        return {"name": self.name, "kind": self.kind, "recordings": len(self),
                "groups": len(set(self.groups)), "classes": list(self.labels),
                "rate_hz": self.rate, "channels": list(self.channels),
                "samples": int(sum(len(s) for s in self.signals)), "fixes": list(self.fixes)}

