"""Load, validate and split user data.

Accepted sources:

* ``digits`` (builtin, scikit-learn's 8x8 handwritten digits);
* a CSV file: numeric feature columns plus a label column (``label_column``);
* an NPZ file with arrays ``x`` (samples first) and ``y`` (one label per sample),
  and optionally ``x_test`` / ``y_test``: a test set used as given (no test split
  is then cut from ``x``);
* any of these with a separate test file (``test_data``): an NPZ with ``x``, ``y``
  or a CSV with the same columns as the data's CSV, loaded with the same checks
  and used untouched as the test split (as ``x_test`` / ``y_test`` are);
* arrays in memory: a mapping ``{"x": ..., "y": ...}`` (optionally ``x_test``,
  ``y_test``), e.g. from :func:`arrays_from` (numpy arrays or a pandas DataFrame
  with a label column). They are checked exactly as the NPZ file they are saved
  as (:func:`save_arrays`) when a run needs them again.

The input kind is decided from the per-sample shape: ``(F,)`` is a tabular
vector, ``(T, C)`` a time series, ``(H, W)`` or ``(H, W, C)`` an image (or
spectrogram). Features are scaled to a fixed range computed on the training
split only; the scaling is recorded so firmware can apply the same step.

Splits (stratified, reproducible from the seed): a validation fraction and a test
fraction of the samples (default :data:`DEFAULT_VAL_FRACTION` and
:data:`DEFAULT_TEST_FRACTION`). The rule for small data, with the default
fractions only: a split that would get fewer than :data:`MIN_EVAL_PER_CLASS`
samples per class grows towards that many per class, up to 1.5 times its default
fraction (so training keeps about half of the data or more). Every split has at least
as many samples as there are classes (stratified, when every class has 3 or more),
and every class must keep at least one training sample. Fractions given explicitly
are used as given (with that minimum).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["Dataset", "InputKind", "load_dataset", "arrays_from", "save_arrays", "BUILTINS",
           "ARRAY_KEYS", "DEFAULT_VAL_FRACTION", "DEFAULT_TEST_FRACTION", "MIN_EVAL_PER_CLASS",
           "check_fractions", "split_sizes"]

BUILTINS = ("digits",)
#: the arrays an NPZ file (or an in-memory mapping) may hold; x and y are required
ARRAY_KEYS = ("x", "y", "x_test", "y_test")
MIN_PER_CLASS = 2
SEED_MAX = 2**32 - 1
MAX_FLOAT_CLASSES = 20  # more distinct non-integer labels than this: a regression target
#: the validation and test fractions when none is given
DEFAULT_VAL_FRACTION = 0.15
DEFAULT_TEST_FRACTION = 0.2
#: small data: a default-sized split grows towards this many samples per class ...
MIN_EVAL_PER_CLASS = 5
#: ... up to this multiple of its default fraction
SMALL_DATA_GROWTH = 1.5


class InputKind(str, Enum):
    TABULAR = "tabular"
    TIMESERIES = "timeseries"
    IMAGE = "image"


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test splits of a classification problem (float32 x, int y)."""

    name: str
    kind: InputKind
    labels: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    scale: float = 1.0  # model input = raw * scale + offset
    offset: float = 0.0
    fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @classmethod
    def from_arrays(cls, x: Any, y: Any = None, *, x_test: Any = None, y_test: Any = None,
                    label_column: str = "label", seed: int = 0, name: str = "arrays",
                    val_fraction: float | None = None, test_fraction: float | None = None,
                    test_data: str | Path | None = None) -> Dataset:
        """Check and split arrays in memory (see :func:`arrays_from` for what ``x`` may be;
        the fractions and ``test_data`` as :func:`load_dataset`)."""
        arrays = arrays_from(x, y, x_test=x_test, y_test=y_test, label_column=label_column,
                             name=name)
        return load_dataset(arrays, seed=seed, val_fraction=val_fraction,
                            test_fraction=test_fraction, test_data=test_data)

    def summary(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "kind": self.kind.value,
            "input_shape": list(self.input_shape),
            "classes": list(self.labels),
            "train": int(len(self.y_train)),
            "val": int(len(self.y_val)),
            "test": int(len(self.y_test)),
            "preprocessing": {"scale": self.scale, "offset": self.offset,
                              "rule": "model_input = raw * scale + offset"},
            "fingerprint": self.fingerprint,
        }
        if self.extra.get("test_data"):  # a separate test file: where from, its fingerprint
            out["test_data"] = dict(self.extra["test_data"])
        return out


def load_dataset(source: str | Path | Mapping[str, Any] | None = None, *,
                 label_column: str = "label", seed: int = 0, val_fraction: float | None = None,
                 test_fraction: float | None = None,
                 test_data: str | Path | None = None) -> Dataset:
    """Load ``source`` (builtin name, CSV or NPZ path, or a mapping of arrays ``x``, ``y``
    and optionally ``x_test``, ``y_test``) and split it reproducibly.

    ``val_fraction`` / ``test_fraction``: the shares cut for validation and test (None:
    the defaults, with the small-data rule of the module docstring). ``test_data``: a
    test file (NPZ with ``x``, ``y``, or a CSV with the data's columns) used untouched as
    the test split; then only the validation split is cut from ``source``."""
    source = "digits" if source is None else source
    if not 0 <= int(seed) <= SEED_MAX:  # scikit-learn's split takes unsigned 32-bit seeds
        raise DataError(f"seed must be a whole number from 0 to {SEED_MAX} (got {seed})",
                        hint="e.g. seed 0")
    check_fractions(val_fraction, test_fraction)
    x_test = y_test_raw = None
    columns: list[str] | None = None
    if isinstance(source, Mapping):
        x, y_raw, x_test, y_test_raw = _check_arrays(dict(source), "the arrays")
        name = str(source.get("name") or "arrays")
        text = name
        y, labels = _encode_labels(y_raw, "y")
    else:
        text = str(source)
        if text in BUILTINS:
            x, y, labels, name = _load_builtin(text)
        else:
            path = _data_path(text, "data")
            suffix = path.suffix.lower()
            name = path.name
            if suffix == ".csv":
                x, y_raw, columns = _load_csv(path, label_column)
                y_test_raw = None
            elif suffix == ".npz":
                x, y_raw, x_test, y_test_raw, stored_name = _load_npz(path)
                name = stored_name or name
            else:
                raise DataError(f"data file {text!r} has an unsupported extension {suffix!r}",
                                hint="use .csv (features + label column) or .npz (arrays x, y)")
            y, labels = _encode_labels(y_raw, text)
    x = _check_features(x, text if isinstance(source, (str, Path)) else "x")
    kind = _input_kind(x.shape[1:])
    if kind is InputKind.IMAGE and x.ndim == 3:
        x = x[..., None]
    test = None
    test_info = None
    if test_data is not None:
        if x_test is not None:
            raise DataError(f"{text} holds a test set of its own (x_test, y_test) and a test "
                            f"file {str(test_data)!r} was given too",
                            hint="use one test set: drop the test file, or x_test/y_test")
        test, test_info = _load_test_file(test_data, x, labels, label_column=label_column,
                                          columns=columns)
    elif x_test is not None:
        x_test = _check_features(x_test, f"{text}: x_test" if not isinstance(source, Mapping)
                                 else "x_test")
        if kind is InputKind.IMAGE and x_test.ndim == 3:
            x_test = x_test[..., None]
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(f"x_test samples have shape {x_test.shape[1:]} but x samples have "
                            f"{x.shape[1:]}", hint="give the test set the training data's shape")
        test = (x_test, _encode_test_labels(y_test_raw, labels))
    if test is not None and test_fraction is not None:
        raise DataError(f"a test fraction ({test_fraction:g}) was given with a test set of "
                        "its own, from which no test split is cut",
                        hint="drop the test fraction (--test-split), or the test set")
    ds = _split(x, y, labels, name=name, kind=kind, seed=seed, val_fraction=val_fraction,
                test_fraction=test_fraction, test=test)
    if test_info is not None:
        ds.extra["test_data"] = test_info
    return ds


def _data_path(text: str, what: str) -> Path:
    """An existing, non-empty file (``what``: "data" or "test data", for the messages)."""
    path = Path(text)
    if not path.exists():
        hint = (f"pass a .csv or .npz file, or a builtin name ({', '.join(BUILTINS)})"
                if what == "data" else "pass a .npz file (arrays x, y) or a .csv file")
        raise DataError(f"{what} file {text!r} does not exist", hint=hint)
    if path.is_dir():
        raise DataError(f"{what} path {text!r} is a directory", hint="pass a .csv or .npz file")
    if path.stat().st_size == 0:
        raise DataError(f"{what} file {text!r} is empty", hint="pass a file with samples in it")
    return path


def _load_test_file(test_data: str | Path, x: np.ndarray, labels: tuple[str, ...], *,
                    label_column: str, columns: list[str] | None
                    ) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, Any]]:
    """A test file read with the data's own loaders and checks: (x_test, y_test as the
    training classes' indices) and what the run records about it."""
    text = str(test_data)
    path = _data_path(text, "test data")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        xt, yt_raw, tcols = _load_csv(path, label_column)
        if columns is not None and tcols != columns:
            missing = [c for c in columns if c not in tcols]
            extra = [c for c in tcols if c not in columns]
            what = (f"lacks column(s) {missing[:4]} of the data" if missing else
                    f"has column(s) {extra[:4]} the data lacks" if extra else
                    "orders its columns otherwise than the data")
            raise DataError(f"test data {text} {what}",
                            hint="give the test CSV the same columns as --data")
    elif suffix == ".npz":
        xt, yt_raw, inner, _, _ = _load_npz(path)
        if inner is not None:
            raise DataError(f"test data {text} holds x_test/y_test as well as x/y",
                            hint="save the test samples as x, y (np.savez(path, x=..., y=...))")
    else:
        raise DataError(f"test data file {text!r} has an unsupported extension {suffix!r}",
                        hint="use .npz (arrays x, y) or .csv (the data's columns)")
    xt = _check_features(xt, text)
    if xt.ndim == 3 and x.ndim == 4:  # (n, H, W) images, as the data's (n, H, W, 1)
        xt = xt[..., None]
    if xt.shape[1:] != x.shape[1:]:
        raise DataError(f"test data {text} has samples of shape {xt.shape[1:]} but the data "
                        f"has {x.shape[1:]}", hint="give the test set the training data's shape")
    yt = _encode_test_labels(yt_raw, labels, where=f"test data {text}")
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(xt).tobytes())
    digest.update(np.ascontiguousarray(yt).tobytes())
    info = {"source": text, "fingerprint": digest.hexdigest()[:16], "samples": int(len(yt))}
    return (xt, yt), info


def check_fractions(val_fraction: float | None, test_fraction: float | None) -> None:
    """Each given fraction in (0, 1), and together below 1."""
    for what, f in (("validation", val_fraction), ("test", test_fraction)):
        if f is None:
            continue
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < float(f) < 1:
            raise DataError(f"the {what} fraction must be between 0 and 1 (got {f!r})",
                            hint=f"e.g. {DEFAULT_VAL_FRACTION if what == 'validation' else DEFAULT_TEST_FRACTION}")
    val = DEFAULT_VAL_FRACTION if val_fraction is None else float(val_fraction)
    test = DEFAULT_TEST_FRACTION if test_fraction is None else float(test_fraction)
    if val_fraction is not None or test_fraction is not None:
        if val + test >= 1:
            raise DataError(f"the validation and test fractions leave nothing to train on "
                            f"({val:g} + {test:g} >= 1)",
                            hint="make them add up to less than 1, e.g. 0.15 and 0.2")


def split_sizes(n: int, n_classes: int, *, val_fraction: float | None = None,
                test_fraction: float | None = None, test_given: bool = False) -> tuple[int, int]:
    """(validation, test) sample counts for ``n`` samples (the rule of the module docstring;
    the test count is 0 when the test set is given)."""
    def size(fraction: float | None, default: float) -> int:
        if fraction is not None:
            return max(int(round(n * float(fraction))), n_classes)
        k = max(int(round(n * default)), n_classes)
        floor = MIN_EVAL_PER_CLASS * n_classes
        if k < floor:
            k = max(k, min(floor, int(n * default * SMALL_DATA_GROWTH)))
        return k

    n_test = 0 if test_given else size(test_fraction, DEFAULT_TEST_FRACTION)
    return size(val_fraction, DEFAULT_VAL_FRACTION), n_test


def arrays_from(x: Any, y: Any = None, *, x_test: Any = None, y_test: Any = None,
                label_column: str = "label", name: str = "arrays") -> dict[str, Any]:
    """Arrays in memory as the mapping :func:`load_dataset` takes, checked for what the
    mapping cannot say later: ``x`` is a numpy array (samples first) or a pandas
    DataFrame (numeric feature columns; the labels in ``label_column`` unless ``y`` is
    given); ``y`` one label per sample; ``x_test``/``y_test`` both or neither."""
    x, y = _frame_xy(x, y, label_column, "x")
    if (x_test is None) != (y_test is None):
        given, missing = ("x_test", "y_test") if y_test is None else ("y_test", "x_test")
        raise DataError(f"{given} was given without {missing}",
                        hint="pass both x_test and y_test, or neither (a test split is then cut "
                             "from x)")
    out: dict[str, Any] = {"x": x, "y": y, "name": name}
    if x_test is not None:
        out["x_test"], out["y_test"] = _frame_xy(x_test, y_test, label_column, "x_test")
    _check_arrays(out, "the arrays")
    return out


def save_arrays(path: str | Path, arrays: Mapping[str, Any]) -> Path:
    """Write arrays (:func:`arrays_from`) as an NPZ file :func:`load_dataset` reads back to
    the same :class:`Dataset` (same fingerprint); written atomically."""
    from .._io import atomic_write

    buf = io.BytesIO()
    data = {k: np.asarray(arrays[k]) for k in ARRAY_KEYS if arrays.get(k) is not None}
    if data["y"].dtype.kind == "O":
        data["y"] = data["y"].astype(str)
    if "y_test" in data and data["y_test"].dtype.kind == "O":
        data["y_test"] = data["y_test"].astype(str)
    np.savez(buf, **data, name=np.array(str(arrays.get("name") or "arrays")))
    return atomic_write(path, buf.getvalue())


def _frame_xy(x: Any, y: Any, label_column: str, where: str) -> tuple[Any, Any]:
    """(features, labels) from a DataFrame (with a label column unless ``y`` is given) or
    from array-likes."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(x, pd.DataFrame):
        frame = x
        if y is None:
            if label_column not in frame.columns:
                cols = ", ".join(map(str, frame.columns[:8]))
                raise DataError(f"{where}: the DataFrame has no label column {label_column!r} "
                                f"(columns: {cols})",
                                hint="name the label column with label=, or pass the labels as y")
            y = frame[label_column].to_numpy()
            frame = frame.drop(columns=[label_column])
        if frame.shape[1] == 0:
            raise DataError(f"{where}: the DataFrame has no feature columns",
                            hint="add feature columns")
        bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if bad:
            raise DataError(f"{where}: column {bad[0]!r} is not numeric "
                            f"(dtype {frame[bad[0]].dtype})",
                            hint="encode it as numbers or drop the column")
        x = frame.to_numpy(dtype=np.float64)
    if pd is not None and isinstance(y, (pd.Series, pd.DataFrame)):
        y = y.to_numpy()
    if y is None:
        raise DataError(f"{where} was given without labels",
                        hint="pass the labels as y, or a DataFrame with a label column")
    return x, y


def _as_array(v: Any, key: str) -> np.ndarray:
    try:
        a = np.asarray(v)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{key} is not an array ({str(exc).splitlines()[0]})",
                        hint="pass a numpy array with one row per sample") from exc
    if a.dtype.kind == "O" and key.startswith("x"):
        raise DataError(f"{key} is not a numeric array (dtype object)",
                        hint="pass a numeric numpy array of equal-sized samples")
    return a


def _check_arrays(arrays: dict[str, Any], where: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """x, y (and x_test, y_test) with the checks an NPZ file and in-memory arrays share."""
    missing = [k for k in ("x", "y") if arrays.get(k) is None]
    if missing:
        raise DataError(f"{where} have no {' or '.join(missing)}",
                        hint="pass features x and labels y (np.savez(path, x=..., y=...))")
    out = []
    for xk, yk in (("x", "y"), ("x_test", "y_test")):
        if arrays.get(xk) is None and arrays.get(yk) is None:
            out += [None, None]
            continue
        if arrays.get(xk) is None or arrays.get(yk) is None:
            raise DataError(f"{where} have {xk if arrays.get(yk) is None else yk} without "
                            f"{yk if arrays.get(yk) is None else xk}",
                            hint="give x_test and y_test together, or neither")
        x, y = _as_array(arrays[xk], xk), _as_array(arrays[yk], yk)
        if y.ndim != 1:
            raise DataError(f"{yk} must have one label per sample, got shape {y.shape}",
                            hint="pass class indices or names, not one-hot rows")
        if x.ndim < 1 or len(x) != len(y):
            raise DataError(f"{xk} has {len(x) if x.ndim else 0} samples but {yk} has {len(y)}",
                            hint=f"{xk} and {yk} must have the same first dimension")
        if x.dtype.kind not in "biuf":
            raise DataError(f"{xk} has non-numeric dtype {x.dtype}", hint="pass numbers")
        out += [x.astype(np.float64), y]
    return out[0], out[1], out[2], out[3]


def _encode_test_labels(y_raw: np.ndarray, labels: tuple[str, ...], *,
                        where: str | None = None) -> np.ndarray:
    """y_test as indices into the training data's classes (``where``: a test file)."""
    if len(y_raw) == 0:
        raise DataError(f"{where or 'x_test'} has no samples",
                        hint="pass a test set with samples, or none")
    if y_raw.dtype.kind == "f":
        if not np.all(np.isfinite(y_raw)):
            raise DataError(f"{where}: the labels contain NaN or inf" if where
                            else "y_test contains NaN or inf",
                            hint="remove the unlabelled rows")
        if np.all(y_raw == np.round(y_raw)):
            y_raw = y_raw.astype(np.int64)
    names = np.array([str(v) for v in y_raw])
    index = {c: i for i, c in enumerate(labels)}
    unknown = sorted({str(v) for v in names} - set(index))
    if unknown:
        raise DataError(f"{where or 'y_test'} has label(s) {unknown[:5]} that "
                        f"{'the data' if where else 'y'} does not have",
                        hint="the test set must use the training data's classes")
    return np.array([index[c] for c in names], dtype=np.int64)


def _load_builtin(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)  # (n, 8, 8), values 0..16
    return x, d.target.astype(np.int64), tuple(str(c) for c in d.target_names), "digits"


def _load_csv(path: Path, label_column: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import pandas as pd

    sep, decimal = _sniff_csv(path)
    try:
        frame = pd.read_csv(path, sep=sep, decimal=decimal)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV file ({str(exc).splitlines()[0]})",
                        hint="save it as comma-separated values with a header row") from exc
    if frame.empty:
        raise DataError(f"{path} has a header but no rows", hint="add samples to the file")
    if label_column not in frame.columns:
        if frame.shape[1] == 1:
            seen = next((d for d in "|: " if d in str(frame.columns[0])), None)
            looks = f"; the file looks {seen!r}-separated" if seen else ""
            raise DataError(f"{path}: read 1 column {str(frame.columns[0])[:60]!r}{looks}",
                            hint="separate the columns with commas, semicolons or tabs, with a "
                                 "header row naming them")
        cols = ", ".join(map(str, frame.columns[:8]))
        raise DataError(f"{path} has no label column {label_column!r} (columns: {cols})",
                        hint="name the label column with --label")
    features = frame.drop(columns=[label_column])
    if features.shape[1] == 0:
        raise DataError(f"{path} has only the label column", hint="add feature columns")
    bad = [c for c in features.columns if not _is_numeric(features[c])]
    if bad:
        col = bad[0]
        sample = _py(features[col][~features[col].map(_is_number)].iloc[0])
        raise DataError(f"{path} column {col!r} is not numeric (e.g. {sample!r})",
                        hint="encode it as numbers or drop the column")
    return (features.to_numpy(dtype=np.float64), frame[label_column].to_numpy(),
            [str(c) for c in features.columns])


def _sniff_csv(path: Path) -> tuple[str, str]:
    """(separator, decimal mark) of a CSV: ',' unless the header line has no comma but
    semicolons or tabs; a ';'-separated file with decimal commas ('1,5') is read as such."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [ln for ln in (f.readline() for _ in range(6)) if ln.strip()]
    except OSError:
        return ",", "."
    if not lines:
        return ",", "."
    header = lines[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    if counts[","] or not (counts[";"] or counts["\t"]):
        return ",", "."
    sep = ";" if counts[";"] >= counts["\t"] else "\t"
    body = "".join(lines[1:])
    decimal = "," if "," in body and "." not in body else "."
    return sep, decimal


def _py(v: Any) -> Any:
    """A numpy scalar as the Python value it holds (messages show 7, not np.int64(7))."""
    return v.item() if isinstance(v, np.generic) else v


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _is_numeric(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series)) or bool(series.map(_is_number).all())


def _load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                    np.ndarray | None, str | None]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            missing = {"x", "y"} - keys
            if missing:
                raise DataError(f"{path} has no array(s) {sorted(missing)} (found {sorted(keys)})",
                                hint="save with np.savez(path, x=features, y=labels)")
            arrays = {k: npz[k] for k in ARRAY_KEYS if k in keys}
            name = str(npz["name"]) if "name" in keys and npz["name"].ndim == 0 else None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path} is not a readable NPZ file ({exc})",
                        hint="save it with numpy.savez(path, x=..., y=...)") from exc
    try:
        x, y, x_test, y_test = _check_arrays(arrays, str(path))
    except DataError as exc:
        raise DataError(f"{path}: {exc.message}", hint=exc.hint) from None
    return x, y, x_test, y_test, name


def _encode_labels(y_raw: np.ndarray, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    if len(y_raw) == 0:
        raise DataError(f"{where} has no samples", hint="add samples to the file")
    if y_raw.dtype.kind == "f":
        if not np.all(np.isfinite(y_raw)):
            raise DataError(f"{where}: the labels contain NaN or inf",
                            hint="remove the unlabelled rows")
        if np.all(y_raw == np.round(y_raw)):
            y_raw = y_raw.astype(np.int64)
        else:
            distinct = len(np.unique(y_raw))
            if distinct > max(MAX_FLOAT_CLASSES, len(y_raw) // 10):
                raise DataError(f"{where}: the labels look continuous ({distinct} distinct "
                                f"values from {float(y_raw.min()):g} to {float(y_raw.max()):g}), "
                                "a regression target; edgeml trains classifiers",
                                hint="bin the values into classes, or pass class labels")
    if y_raw.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in y_raw):
            raise DataError(f"{where}: some labels are missing", hint="remove the unlabelled rows")
        y_raw = y_raw.astype(str)
    classes, y = np.unique(y_raw, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{where} has a single class ({_py(classes[0])!r})",
                        hint="a classifier needs samples of at least two classes")
    counts = np.bincount(y)
    if counts.min() < MIN_PER_CLASS:
        rare = _py(classes[int(np.argmin(counts))])
        few = int((counts < MIN_PER_CLASS).sum())
        others = f" ({few - 1} more classes too)" if few > 1 else ""
        raise DataError(f"{where}: class {rare!r} has only {int(counts.min())} sample(s){others}",
                        hint=f"give every class at least {MIN_PER_CLASS} samples or drop it")
    return y.astype(np.int64), tuple(str(c) for c in classes)


def _check_features(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim < 2 or x.shape[0] == 0 or int(np.prod(x.shape[1:])) == 0:
        raise DataError(f"{where}: features have shape {x.shape}; need (samples, features...)",
                        hint="one row (or array) per sample")
    if x.ndim > 4:
        raise DataError(f"{where}: samples have {x.ndim - 1} dimensions {x.shape[1:]}",
                        hint="use (features,), (time, channels) or (height, width[, channels])")
    finite = np.isfinite(x)
    if not finite.all():
        bad = int((~finite).reshape(len(x), -1).any(axis=1).sum())
        raise DataError(f"{where}: {bad} sample(s) contain NaN or inf",
                        hint="impute or drop those samples")
    return x.astype(np.float32)


def _input_kind(sample_shape: tuple[int, ...]) -> InputKind:
    if len(sample_shape) == 1:
        return InputKind.TABULAR
    if len(sample_shape) == 3:
        return InputKind.IMAGE
    # (A, B): a time series has many steps and few channels; otherwise an image.
    steps, channels = sample_shape
    if channels <= 16 and steps > channels:
        return InputKind.TIMESERIES
    return InputKind.IMAGE


def _split(x: np.ndarray, y: np.ndarray, labels: tuple[str, ...], *, name: str,
           kind: InputKind, seed: int, val_fraction: float | None,
           test_fraction: float | None,
           test: tuple[np.ndarray, np.ndarray] | None = None) -> Dataset:
    """Cut validation and test splits from (x, y) (:func:`split_sizes`); with ``test``
    given, only the validation split is cut and ``test`` is the test set, untouched."""
    from sklearn.model_selection import train_test_split

    n_classes = len(labels)
    n = len(y)
    n_val, n_test = split_sizes(n, n_classes, val_fraction=val_fraction,
                                test_fraction=test_fraction, test_given=test is not None)
    if n - n_test - n_val < 2 * n_classes:
        raise DataError(f"{name} has only {n} samples for {n_classes} classes: {n_val} for "
                        f"validation{f' and {n_test} for test' if n_test else ''} leave "
                        f"{max(n - n_val - n_test, 0)} to train on",
                        hint="need enough samples for train, validation and test splits; "
                             "lower the fractions (--val-split, --test-split) or add samples")
    counts = np.bincount(y)
    stratify_ok = counts.min() >= 3
    try:
        if test is None:
            x_rest, x_test, y_rest, y_test = train_test_split(
                x, y, test_size=n_test, random_state=seed, stratify=y if stratify_ok else None)
        else:
            (x_test, y_test), x_rest, y_rest = test, x, y
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=n_val, random_state=seed,
            stratify=y_rest if stratify_ok else None)
    except ValueError:
        if test is None:
            x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=n_test,
                                                              random_state=seed)
        else:
            (x_test, y_test), x_rest, y_rest = test, x, y
        x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=n_val,
                                                          random_state=seed)
    have = np.bincount(y_train, minlength=n_classes)
    if have.min() < 1:
        lost = labels[int(np.argmin(have))]
        raise DataError(f"{name}: class {lost!r} has no training sample left after the "
                        f"validation ({len(y_val)}) and test ({len(y_test)}) splits",
                        hint="lower the fractions (--val-split, --test-split) or give that "
                             "class more samples")
    # Scale to [0, 1] by training-split min/max (per dataset, not per feature, so
    # the same two numbers run on the device).
    lo, hi = float(x_train.min()), float(x_train.max())
    span = hi - lo if hi > lo else 1.0
    scale, offset = 1.0 / span, -lo / span

    def tf(a: np.ndarray) -> np.ndarray:
        return (a * scale + offset).astype(np.float32)

    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(x).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    if test is not None:  # a given test set is part of the data (files without one keep
        digest.update(np.ascontiguousarray(test[0]).tobytes())  # their fingerprints)
        digest.update(np.ascontiguousarray(test[1]).tobytes())
    return Dataset(name=name, kind=kind, labels=labels,
                   x_train=tf(x_train), y_train=y_train, x_val=tf(x_val), y_val=y_val,
                   x_test=tf(x_test), y_test=y_test, scale=scale, offset=offset,
                   fingerprint=digest.hexdigest()[:16])
