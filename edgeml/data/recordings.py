"""Recordings: raw signals before the feature stage cuts and summarizes them.

A :class:`Recordings` holds one labelled signal per recording (a sensor stream,
a WAV file, or a row of a tabular CSV), the group each belongs to (the unit a
split never divides: the recording itself, or a ``--group`` column such as a
subject) and every fix the loader applied (resampling, gap filling, downmixing),
so that nothing is changed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["Recordings", "load_recordings", "is_recordings_source"]


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


def is_recordings_source(source: str | Path | None, *, group_column: str | None = None,
                         rate: float | None = None, time_column: str | None = None) -> bool:
    """Whether ``source`` goes through the feature stage: a folder (of CSV or WAV
    recordings), or a CSV that is a stream (a time or group column, or a given rate)."""
    if source is None:
        return False
    path = Path(str(source))
    if path.is_dir():
        return True
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    if group_column or rate or time_column:
        return True
    from .signals import TIME_COLUMNS

    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            header = f.readline()
    except OSError:
        return False
    return any(c.strip().strip('"').lower() in TIME_COLUMNS for c in header.split(","))


def load_recordings(source: str | Path, *, label_column: str = "label",
                    group_column: str | None = None, rate: float | None = None,
                    time_column: str | None = None, clip_s: float | None = None,
                    tabular: bool = False) -> Recordings:
    """Recordings from a folder of WAVs (one subfolder per word), a folder of CSV
    recordings (one subfolder per class), or one CSV (a long stream with a label column,
    or tabular rows when ``tabular`` or when it has no time/group column and no rate)."""
    from .audio import is_wav_folder, load_wav_folder
    from .signals import load_csv_recordings, load_stream_folder

    path = Path(str(source))
    if not path.exists():
        raise DataError(f"data path {str(source)!r} does not exist",
                        hint="pass a folder of recordings or a .csv file")
    if path.is_dir():
        if not any(path.iterdir()):
            raise DataError(f"data folder {path} is empty",
                            hint="add one subfolder per class with its recordings")
        if is_wav_folder(path):
            return load_wav_folder(path, rate=rate, clip_s=clip_s)
        return load_stream_folder(path, rate=rate, time_column=time_column)
    if path.suffix.lower() != ".csv":
        raise DataError(f"{path} is not a folder or a .csv file",
                        hint="pass a folder of recordings (CSV or WAV) or a .csv file")
    return load_csv_recordings(path, label_column=label_column, group_column=group_column,
                               rate=rate, time_column=time_column,
                               stream=False if tabular else None)
