"""Recordings -> windows -> features -> :class:`~edgeml.data.Dataset`, split by recording.

The split is made on groups (a recording, or a ``--group`` value such as a
subject), stratified by class when every group holds one class (otherwise whole
groups are drawn at random), before any window is cut:
no recording (group) has windows on both sides. The normalization of the
features (and, for tabular data, the selection of constructed terms) is fitted
on the training split only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Dataset, InputKind
from ..data.recordings import Recordings
from ..errors import DataError
from .compute import fit, transform
from .select import select_terms
from .spec import STATS, FeatureSpec, FittedFeatures, next_pow2
from .windows import cut

__all__ = ["FeatureSet", "build_features", "load_feature_set", "default_spec", "candidate_specs", "split_groups"]


@dataclass(frozen=True)
class FeatureSet:
    dataset: Dataset
    fitted: FittedFeatures
    split: dict[str, Any] = field(default_factory=dict)
    fixes: tuple[str, ...] = ()
    selection: dict[str, Any] | None = None

    def report(self) -> dict[str, Any]:
        out = {"spec": self.fitted.spec.to_dict(), "describe": self.fitted.spec.describe(),
               "split": self.split, "fixes": list(self.fixes)}
        if self.selection:
            out["selection"] = self.selection
        return out


def _pow2_floor(n: int) -> int:
    p = 1
    while p * 2 <= n:
        p *= 2
    return p


def default_spec(recs: Recordings, kind: str | None = None, *, window: int | None = None,
                 hop: int | None = None) -> FeatureSpec:
    """A sensible spec for ``recs`` (the first of :func:`candidate_specs` unless ``kind``)."""
    cands = candidate_specs(recs, window=window, hop=hop)
    if kind is None:
        return cands[0]
    for c in cands:
        if c.kind == kind:
            return c
    if kind == "raw" and recs.kind == "audio":  # the clip itself (not a search candidate)
        n = window or recs.shortest
        return FeatureSpec(kind="raw", window=n, hop=hop or n, rate=recs.rate)
    raise DataError(f"feature kind {kind!r} does not apply to {recs.kind} data",
                    hint=f"use one of {', '.join(c.kind for c in cands)}")


def candidate_specs(recs: Recordings, *, window: int | None = None,
                    hop: int | None = None) -> tuple[FeatureSpec, ...]:
    """The few specs worth trying on ``recs`` (the feature choices of a search)."""
    c = len(recs.channels) or recs.signals[0].shape[1]
    if recs.kind == "tabular":
        return (FeatureSpec(kind="tabular", window=c, terms=tuple(("col", i, -1) for i in range(c))),)
    if recs.kind == "audio":
        n = window or recs.shortest
        frame = _pow2_floor(max(16, int(recs.rate * 0.032)))
        frame = min(frame, _pow2_floor(n))
        common = {"window": n, "hop": hop or n, "rate": recs.rate, "frame": frame,
                  "frame_hop": max(1, frame // 2)}
        mels = min(32, frame // 4)
        return (FeatureSpec(kind="logmel", mels=mels, **common),
                FeatureSpec(kind="mfcc", mels=mels, mfcc=min(13, mels), **common))
    if window is None:
        limit = int(5 * recs.rate) if recs.rate else 128
        window = _pow2_floor(max(2, min(recs.shortest, limit)))
    hop = hop or max(1, window // 2)
    common = {"window": window, "hop": hop, "channels": c, "rate": recs.rate}
    return (FeatureSpec(kind="stats", stats=STATS, **common),
            FeatureSpec(kind="fft", bands=min(8, next_pow2(window) // 2), **common),
            FeatureSpec(kind="raw", **common))


def split_groups(recs: Recordings, *, seed: int, val_fraction: float,
                 test_fraction: float) -> dict[str, np.ndarray]:
    """Recording indices of train / val / test, whole groups on one side only."""
    groups = np.asarray(recs.groups)
    names, inverse = np.unique(groups, return_inverse=True)
    major = np.array([np.bincount(recs.y[inverse == g], minlength=len(recs.labels)).argmax()
                      for g in range(len(names))])
    rng = np.random.default_rng(seed)
    side = np.zeros(len(names), dtype=np.int64)  # 0 train, 1 val, 2 test
    unit = "group" if len(names) < len(recs) else ("row" if recs.kind == "tabular" else "recording")
    need = 2 if val_fraction == 0 or test_fraction == 0 else 3
    pure = all(len(np.unique(recs.y[inverse == g])) == 1 for g in range(len(names)))
    if not pure:  # groups (e.g. subjects) span classes: split whole groups, unstratified
        if len(names) < need:
            raise DataError(f"{recs.name} has only {len(names)} group(s)",
                            hint=f"splits are made by group, so at least {need} are needed; "
                                 "use another --group or --test-data")
        order = rng.permutation(len(names))
        n_test = max(1, int(round(len(names) * test_fraction))) if test_fraction else 0
        n_val = max(1, int(round(len(names) * val_fraction))) if val_fraction else 0
        side[order[:n_test]] = 2
        side[order[n_test:n_test + n_val]] = 1
    for k, label in enumerate(recs.labels if pure else ()):
        members = np.flatnonzero(major == k)
        if 0 < len(members) < need:
            raise DataError(f"{recs.name}: class {label!r} has only {len(members)} {unit}(s)",
                            hint=f"splits are made by {unit}, so every class needs at least "
                                 f"{need}; record more or use --test-data")
        members = rng.permutation(members)
        n_test = max(1, int(round(len(members) * test_fraction))) if test_fraction else 0
        n_val = max(1, int(round(len(members) * val_fraction))) if val_fraction else 0
        side[members[:n_test]] = 2
        side[members[n_test:n_test + n_val]] = 1
    per_rec = side[inverse]
    return {"train": np.flatnonzero(per_rec == 0), "val": np.flatnonzero(per_rec == 1),
            "test": np.flatnonzero(per_rec == 2)}


def _windows(recs: Recordings, idx: np.ndarray, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    if spec.kind == "tabular":
        rows = np.concatenate([recs.signals[i] for i in idx]) if len(idx) else \
            np.zeros((0, spec.window), np.float32)
        return rows.astype(np.float32), recs.y[idx]
    xs, ys = [], []
    for i in idx:
        w = cut(recs.signals[i], spec.window, spec.hop or spec.window, where=recs.sources[i])
        xs.append(w)
        ys.append(np.full(len(w), recs.y[i], dtype=np.int64))
    if not xs:
        return np.zeros((0, spec.window, spec.channels), np.float32), np.zeros(0, np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def _input_kind(spec: FeatureSpec) -> InputKind:
    if spec.kind == "raw":
        return InputKind.TIMESERIES
    if spec.kind in ("logmel", "mfcc"):
        return InputKind.IMAGE
    return InputKind.TABULAR


def build_features(recs: Recordings, spec: FeatureSpec | None = None, *, seed: int = 0,
                   val_fraction: float | None = None, test_fraction: float | None = None,
                   test_recordings: Recordings | None = None) -> FeatureSet:
    """Split ``recs`` by group, cut windows, fit the feature stage on train, build a Dataset.

    With ``test_recordings`` (held-out recordings, e.g. ``--test-data``) the test
    split is exactly those and ``recs`` gives train and validation.
    """
    from ..data.dataset import DEFAULT_TEST_FRACTION, DEFAULT_VAL_FRACTION, check_fractions

    check_fractions(val_fraction, test_fraction)
    if test_recordings is not None and test_fraction is not None:
        raise DataError(f"a test fraction ({test_fraction:g}) was given with held-out test "
                        "recordings, from which no test split is cut",
                        hint="drop the test fraction (--test-split), or the test data")
    val_fraction = DEFAULT_VAL_FRACTION if val_fraction is None else float(val_fraction)
    test_fraction = DEFAULT_TEST_FRACTION if test_fraction is None else float(test_fraction)
    spec = spec or default_spec(recs)
    if test_recordings is not None:
        if tuple(test_recordings.labels) != tuple(recs.labels) and \
                not set(test_recordings.labels) <= set(recs.labels):
            extra = sorted(set(test_recordings.labels) - set(recs.labels))
            raise DataError(f"the test data has classes {extra} that the training data lacks",
                            hint="give the test data the same classes")
        remap = np.array([recs.labels.index(lb) for lb in test_recordings.labels])
        test_recordings = replace(test_recordings, y=remap[test_recordings.y],
                                  labels=recs.labels)
        parts = split_groups(recs, seed=seed, val_fraction=val_fraction, test_fraction=0.0)
    else:
        parts = split_groups(recs, seed=seed, val_fraction=val_fraction,
                             test_fraction=test_fraction)
    x_tr, y_tr = _windows(recs, parts["train"], spec)
    selection = None
    if spec.kind == "tabular" and spec.terms == tuple(("col", i, -1) for i in range(spec.window)):
        sel = select_terms(x_tr, y_tr, seed=seed)
        spec = replace(spec, terms=sel.terms)
        selection = sel.to_dict()
    x_va, y_va = _windows(recs, parts["val"], spec)
    if test_recordings is not None:
        x_te, y_te = _windows(test_recordings, np.arange(len(test_recordings)), spec)
    else:
        x_te, y_te = _windows(recs, parts["test"], spec)
    if len(np.unique(y_tr)) < len(recs.labels):
        missing = sorted(set(recs.labels) - {recs.labels[i] for i in np.unique(y_tr)})
        raise DataError(f"{recs.name}: the training split has no windows of {missing}",
                        hint="record more of those classes")
    fitted, f_tr = fit(spec, x_tr, report={"selection": selection} if selection else None)
    f_va, f_te = transform(fitted, x_va), transform(fitted, x_te)
    digest = hashlib.sha256(spec.to_json().encode())
    for s in recs.signals:
        digest.update(np.ascontiguousarray(s).tobytes())
    digest.update(np.ascontiguousarray(recs.y).tobytes())
    fs = {"train": len(parts["train"]), "val": len(parts["val"]),
          "test": len(test_recordings) if test_recordings is not None else len(parts["test"]),
          "unit": "group" if len(set(recs.groups)) < len(recs) else
          ("row" if recs.kind == "tabular" else "recording"),
          "windows": {"train": int(len(y_tr)), "val": int(len(y_va)), "test": int(len(y_te))},
          "held_out_test": test_recordings is not None}
    ds = Dataset(name=recs.name, kind=_input_kind(spec), labels=recs.labels,
                 x_train=f_tr, y_train=y_tr, x_val=f_va, y_val=y_va, x_test=f_te, y_test=y_te,
                 scale=1.0, offset=0.0, fingerprint=digest.hexdigest()[:16],
                 extra={"features": fitted.to_dict()})
    if test_recordings is not None:  # what a run records about its held-out test set
        tdigest = hashlib.sha256()
        for s in test_recordings.signals:
            tdigest.update(np.ascontiguousarray(s).tobytes())
        tdigest.update(np.ascontiguousarray(test_recordings.y).tobytes())
        ds.extra["test_data"] = {"source": test_recordings.name,
                                 "fingerprint": tdigest.hexdigest()[:16],
                                 "samples": int(len(y_te))}
    fixes = recs.fixes + (tuple(f"test data: {f}" for f in test_recordings.fixes)
                          if test_recordings is not None else ())
    return FeatureSet(dataset=ds, fitted=fitted, split=fs, fixes=fixes, selection=selection)


def load_feature_set(source: str | Path, *, label_column: str = "label",
                     group_column: str | None = None, kind: str | None = None,
                     window: int | None = None, hop: int | None = None,
                     rate: float | None = None, test_data: str | Path | None = None,
                     seed: int = 0, val_fraction: float | None = None,
                     test_fraction: float | None = None,
                     spec: FeatureSpec | None = None) -> FeatureSet:
    """Load recordings from ``source`` (see :func:`edgeml.data.sources.load_recordings`),
    choose the spec (``spec`` as given, else ``kind`` or the first candidate), split
    (``val_fraction`` / ``test_fraction`` of the recordings or groups, per class; None:
    0.15 / 0.2) and
    compute the features."""
    from ..data.sources import load_recordings

    tabular = kind == "tabular"
    recs = load_recordings(source, label_column=label_column, group_column=group_column,
                           rate=rate, tabular=tabular)
    test = None
    if test_data is not None:
        test = load_recordings(test_data, label_column=label_column, group_column=group_column,
                               rate=rate or (recs.rate or None), tabular=tabular,
                               clip_s=(len(recs.signals[0]) / recs.rate)
                               if recs.kind == "audio" else None)
        if test.kind != recs.kind:
            raise DataError(f"the test data {test_data} holds {test.kind} recordings, the "
                            f"training data {recs.kind}", hint="give both the same kind of data")
    if spec is None:
        spec = default_spec(recs, kind, window=window, hop=hop)
    fs = build_features(recs, spec, seed=seed, test_recordings=test,
                        val_fraction=val_fraction, test_fraction=test_fraction)
    if test is not None:
        fs.dataset.extra["test_data"]["source"] = str(test_data)
    return fs
