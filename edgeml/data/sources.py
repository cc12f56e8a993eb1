"""Where raw recordings come from: a folder of WAVs, a folder of CSV recordings, or one CSV
(a long stream or tabular rows) -> :class:`~edgeml.data.recordings.Recordings`."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .audio import is_wav_folder, load_wav_folder
from .recordings import Recordings
from .signals import TIME_COLUMNS, load_csv_recordings, load_stream_folder

__all__ = ["load_recordings", "is_recordings_source"]


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
