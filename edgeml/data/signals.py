"""Sensor streams and tabular rows as :class:`~edgeml.data.recordings.Recordings`.

Streams come as

* a folder with one subfolder per class, one CSV per recording inside (numeric
  channel columns, optionally a time column in seconds); or
* one long CSV with a label column (``--label``), optionally a group column
  (``--group``, e.g. a subject or session) and a time column: each contiguous run
  of rows with the same group and label is one recording, and so is each stretch
  between time gaps of more than ``BREAK_STEPS`` sample steps (reported).

A CSV is read as a stream when it has a time column or a group column or a rate
is given; otherwise every row is one tabular sample (its own group unless
``group`` names a column). Timestamps must increase; irregular steps are
resampled and NaN gaps of a few samples are filled, each reported
(:mod:`edgeml.features.windows` holds the same rules for arrays).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .recordings import Recordings
from .streams import fill_gaps, infer_rate, regularize

__all__ = ["load_stream_folder", "load_csv_recordings", "TIME_COLUMNS", "find_time_column"]

TIME_COLUMNS = ("time", "timestamp", "t", "time_s", "seconds")
#: in one long CSV, a time step this many times the typical step starts a new recording
BREAK_STEPS = 5


def find_time_column(columns: list[str], time_column: str | None) -> str | None:
    if time_column:
        return time_column
    for c in columns:
        if str(c).strip().lower() in TIME_COLUMNS:
            return c
    return None


def _read_csv(path: Path) -> Any:
    import pandas as pd

    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty", hint="remove it or record data into it")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV file ({str(exc).splitlines()[0]})",
                        hint="save it as comma-separated values with a header row") from exc
    if frame.empty:
        raise DataError(f"{path} has a header but no rows", hint="add samples to the file")
    return frame


def _numeric(frame: Any, cols: list[str], where: str) -> np.ndarray:
    import pandas as pd

    for c in cols:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            bad = frame[c][pd.to_numeric(frame[c], errors="coerce").isna() & frame[c].notna()]
            if len(bad):
                raise DataError(f"{where} column {c!r} is not numeric (e.g. {bad.iloc[0]!r})",
                                hint="encode it as numbers or drop the column")
    return frame[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)


def _checked(x: np.ndarray, t: np.ndarray | None, rate: float | None, *, where: str,
             fixes: list[str]) -> tuple[np.ndarray, float]:
    """Checked (T, C) float32 samples and the stream's rate (0 when unknown)."""
    if t is not None:
        use = rate or infer_rate(t, where=where)
        x = regularize(x, np.asarray(t, np.float64), use, where=where, fixes=fixes)
        rate = use
    x = fill_gaps(x, where=where, fixes=fixes)
    return x.astype(np.float32), float(rate or 0.0)


def _common_rate(rates: list[float], sources: list[str], given: float | None) -> float:
    if given:
        return float(given)
    known = [(r, s) for r, s in zip(rates, sources, strict=True) if r > 0]
    if not known:
        return 0.0
    ref = float(np.median([r for r, _ in known]))
    for r, s in known:
        if abs(r - ref) > 0.02 * ref:
            raise DataError(f"{s} is sampled at {r:g} Hz but most recordings at {ref:g} Hz",
                            hint="resample the recordings to one rate, or pass --rate to "
                                 "resample them all onto it")
    return ref


def _encode(labels_raw: list[str], where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    classes = tuple(sorted(set(labels_raw)))
    if len(classes) < 2:
        raise DataError(f"{where} has a single class ({classes[0]!r})" if classes else
                        f"{where} has no recordings",
                        hint="a classifier needs recordings of at least two classes")
    return np.array([classes.index(v) for v in labels_raw], dtype=np.int64), classes


def load_stream_folder(root: str | Path, *, rate: float | None = None,
                       time_column: str | None = None) -> Recordings:
    """One subfolder per class, one CSV per recording."""
    root = Path(root)
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "_")))
    if not subdirs:
        raise DataError(f"{root} has no class subfolders",
                        hint="put each class's recordings (CSV) in a subfolder named after it")
    signals, labels, sources, fixes, rates = [], [], [], [], []
    channels: list[str] | None = None
    for d in subdirs:
        files = sorted(d.glob("*.csv"))
        if not files:
            raise DataError(f"class folder {d} has no .csv recordings",
                            hint="add recordings or remove the folder")
        for f in files:
            frame = _read_csv(f)
            cols = [str(c) for c in frame.columns]
            tcol = find_time_column(cols, time_column)
            if time_column and time_column not in cols:
                raise DataError(f"{f} has no time column {time_column!r}",
                                hint="name the time column with --time")
            chans = [c for c in cols if c != tcol]
            if channels is None:
                channels = chans
            elif chans != channels:
                raise DataError(f"{f} has channels {chans}, other recordings {channels}",
                                hint="give every recording the same columns in the same order")
            x = _numeric(frame, chans, str(f))
            t = _numeric(frame, [tcol], str(f))[:, 0] if tcol else None
            x, r = _checked(x, t, rate, where=str(f), fixes=fixes)
            signals.append(x)
            labels.append(d.name)
            sources.append(str(f))
            rates.append(r)
    y, classes = _encode(labels, str(root))
    return Recordings(name=root.name, kind="stream", signals=tuple(signals), y=y, labels=classes,
                      groups=tuple(sources), sources=tuple(sources),
                      rate=_common_rate(rates, sources, rate), channels=tuple(channels or ()),
                      fixes=tuple(fixes))


def load_csv_recordings(path: str | Path, *, label_column: str, group_column: str | None = None,
                        rate: float | None = None, time_column: str | None = None,
                        stream: bool | None = None) -> Recordings:
    """One CSV: a long stream (contiguous runs of group + label) or tabular rows."""
    path = Path(path)
    frame = _read_csv(path)
    cols = [str(c) for c in frame.columns]
    frame.columns = cols
    if label_column not in cols:
        raise DataError(f"{path} has no label column {label_column!r} (columns: "
                        f"{', '.join(cols[:8])})", hint="name the label column with --label")
    if group_column and group_column not in cols:
        raise DataError(f"{path} has no group column {group_column!r}",
                        hint="name an existing column with --group, or leave it out")
    tcol = find_time_column(cols, time_column)
    if time_column and time_column not in cols:
        raise DataError(f"{path} has no time column {time_column!r}",
                        hint="name the time column with --time")
    if stream is None:
        stream = bool(tcol or group_column or rate)
    if frame[label_column].isna().any():
        row = int(np.flatnonzero(frame[label_column].isna().to_numpy())[0])
        raise DataError(f"{path}: the label is missing at row {row}",
                        hint="label every row or remove the unlabelled ones")
    labels_raw = frame[label_column].astype(str).to_numpy()
    groups_raw = frame[group_column].astype(str).to_numpy() if group_column else None
    skip = {label_column, group_column, tcol if stream else None} - {None}
    chans = [c for c in cols if c not in skip]
    if not chans:
        raise DataError(f"{path} has no data columns besides the label",
                        hint="add sensor or feature columns")
    x_all = _numeric(frame, chans, str(path))
    if not stream:
        if not np.isfinite(x_all).all():
            bad = int((~np.isfinite(x_all)).any(axis=1).sum())
            raise DataError(f"{path}: {bad} row(s) contain missing or non-finite values",
                            hint="impute or drop those rows")
        y, classes = _encode(list(labels_raw), str(path))
        groups = tuple(groups_raw) if groups_raw is not None else             tuple(f"row {i}" for i in range(len(x_all)))
        return Recordings(name=path.name, kind="tabular",
                          signals=tuple(x_all[i:i + 1].astype(np.float32)
                                        for i in range(len(x_all))),
                          y=y, labels=classes, groups=groups,
                          sources=tuple(f"{path} row {i}" for i in range(len(x_all))),
                          channels=tuple(chans))
    t_all = _numeric(frame, [tcol], str(path))[:, 0] if tcol else None
    key = labels_raw if groups_raw is None else np.char.add(np.char.add(groups_raw, "\x00"),
                                                             labels_raw)
    breaks = set((np.flatnonzero(key[1:] != key[:-1]) + 1).tolist())
    if t_all is not None and len(t_all) > 2:
        step = np.diff(t_all)
        typical = float(np.median(step[step > 0])) if (step > 0).any() else 0.0
        gaps = np.flatnonzero(step > BREAK_STEPS * typical) + 1 if typical > 0 else []
        new = sorted(set(int(g) for g in gaps) - breaks)
        if new:
            fixes_pre = [f"{path}: started a new recording at {len(new)} time gap(s) longer than "
                         f"{BREAK_STEPS} sample steps (first at row {new[0]})"]
            breaks |= set(new)
        else:
            fixes_pre = []
    else:
        fixes_pre = []
    starts = np.array([0] + sorted(breaks), dtype=np.int64)
    stops = np.r_[starts[1:], len(key)]
    signals, labels, groups, sources, rates = [], [], [], [], []
    fixes = fixes_pre
    for a, b in zip(starts, stops, strict=True):
        where = f"{path} rows {a}..{b - 1}"
        t = t_all[a:b] if t_all is not None else None
        x, r = _checked(x_all[a:b], t, rate, where=where, fixes=fixes)
        signals.append(x)
        labels.append(str(labels_raw[a]))
        groups.append(str(groups_raw[a]) if groups_raw is not None else where)
        sources.append(where)
        rates.append(r)
    y, classes = _encode(labels, str(path))
    return Recordings(name=path.name, kind="stream", signals=tuple(signals), y=y, labels=classes,
                      groups=tuple(groups), sources=tuple(sources),
                      rate=_common_rate(rates, sources, rate), channels=tuple(chans),
                      fixes=tuple(fixes))
