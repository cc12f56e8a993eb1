"""Data files, fuzzed: whatever a user hands edgeml (CSV with any delimiter, NaN, inf,
empty cells, unicode, one class, thousands of classes, wrong shapes, binary garbage),
the loader either returns a usable dataset or raises a one-line DataError that shows
plain values (no numpy reprs). Then the cases of issue 16 through the command line."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relkit import assert_user_error, examples

from edgeml.data import load_dataset
from edgeml.errors import DataError

FUZZ = settings(max_examples=examples(80), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(lambda v: f"{v}"),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "NA", "1,5", "1.5e3", "x", "é",
                     "\u00a0", "\"1\"", "'", "1;2"]),
    st.text(max_size=5),
)
labels = st.one_of(st.integers(0, 3).map(str), st.sampled_from(["cat", "dog", "ø", "", "nan"]),
                   st.floats(-5, 5).map(lambda v: f"{v:.3f}"))


def _check(path, label="label"):
    try:
        ds = load_dataset(path, label_column=label, seed=0)
    except DataError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.strip(), msg
        assert "np.int" not in msg and "np.float" not in msg and "np.str" not in msg, msg
        return None
    assert len(ds.x_train) and len(ds.x_val) and len(ds.x_test)
    assert np.isfinite(ds.x_train).all()
    assert ds.num_classes >= 2
    return ds


@FUZZ
@given(sep=st.sampled_from([",", ";", "\t", "|", " "]),
       header=st.lists(st.text(min_size=1, max_size=6).filter(lambda s: "\n" not in s
                                                              and "\r" not in s),
                       min_size=1, max_size=5),
       rows=st.lists(st.tuples(st.lists(cells, min_size=1, max_size=5), labels), max_size=30),
       with_label=st.booleans())
def test_fuzzed_csv_loads_or_says_why_in_one_line(tmp_path_factory, sep, header, rows,
                                                   with_label):
    cols = [*header, "label"] if with_label else header
    buf = io.StringIO()
    buf.write(sep.join(cols) + "\n")
    for feats, lab in rows:
        buf.write(sep.join([*feats, lab] if with_label else feats) + "\n")
    p = tmp_path_factory.mktemp("csv") / "fuzz.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    _check(p)


@FUZZ
@given(x_shape=st.lists(st.integers(0, 6), min_size=0, max_size=5),
       y_len=st.integers(0, 40), n_classes=st.integers(1, 50),
       x_dtype=st.sampled_from(["float32", "float64", "int8", "bool", "complex64", "U3"]),
       y_kind=st.sampled_from(["int", "float", "str", "cont", "nan", "2d"]),
       poison=st.sampled_from([None, "nan", "inf"]))
def test_fuzzed_npz_loads_or_says_why_in_one_line(tmp_path_factory, x_shape, y_len, n_classes,
                                                   x_dtype, y_kind, poison):
    rng = np.random.default_rng(len(x_shape) * 7 + y_len)
    x = rng.normal(size=tuple(x_shape)).astype(x_dtype) if x_shape else np.float32(1.0)
    if poison and x_dtype.startswith("float") and np.size(x):
        x.reshape(-1)[0] = np.nan if poison == "nan" else np.inf
    base = rng.integers(0, n_classes, size=y_len)
    y = {"int": base, "float": base.astype(float), "str": base.astype(str),
         "cont": rng.normal(size=y_len), "nan": np.where(base == 0, np.nan, base),
         "2d": np.eye(max(n_classes, 1))[base] if y_len else base}[y_kind]
    p = tmp_path_factory.mktemp("npz") / "fuzz.npz"
    np.savez(p, x=x, y=y)
    _check(p)


@settings(max_examples=examples(30), deadline=None)
@given(blob=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".npz"]))
def test_binary_garbage_is_a_data_error(tmp_path_factory, blob, suffix):
    p = tmp_path_factory.mktemp("bin") / f"garbage{suffix}"
    p.write_bytes(blob)
    _check(p)


# ---------------------------------------------------------------------- delimiters seen
@pytest.mark.parametrize("sep, decimal", [(";", "."), ("\t", "."), (";", ",")])
def test_semicolon_and_tab_csvs_are_read(tmp_path, sep, decimal):
    rng = np.random.default_rng(0)
    lines = [sep.join(["a", "b", "label"])]
    for i in range(60):
        a, b = rng.normal(size=2) + (i % 3)
        lines.append(sep.join([f"{a:.3f}".replace(".", decimal), f"{b:.3f}".replace(".", decimal),
                               str(i % 3)]))
    p = tmp_path / "data.csv"
    p.write_text("\n".join(lines) + "\n")
    ds = load_dataset(p)
    assert ds.input_shape == (2,) and ds.num_classes == 3


def test_one_column_csv_says_what_it_read(tmp_path):
    p = tmp_path / "pipes.csv"
    p.write_text("a|b|label\n1|2|0\n3|4|1\n")
    with pytest.raises(DataError, match=r"read 1 column 'a\|b\|label'; the file looks "
                                        r"'\|'-separated"):
        load_dataset(p)


# ------------------------------------------------------- the cases, through the CLI
SEARCH = ("search", "--quiet", "--trials", "1", "--epochs", "1")


def _npz(tmp_path, name, x, y):
    p = tmp_path / name
    np.savez(p, x=x, y=y)
    return p


def test_class_with_one_sample_is_named_plainly(cli, tmp_path):
    y = np.concatenate([np.repeat([0, 1, 2], 20)[:-1], [7]])
    p = _npz(tmp_path, "rare.npz", np.random.default_rng(0).normal(size=(60, 4)), y)
    assert_user_error(cli(*SEARCH, "--data", p, "--out", tmp_path / "run"),
                      contains="class 7 has only 1 sample(s)")
    assert not (tmp_path / "run").exists()


def test_continuous_labels_are_called_a_regression_target(cli, tmp_path):
    rng = np.random.default_rng(0)
    p = _npz(tmp_path, "cont.npz", rng.normal(size=(120, 4)), rng.normal(size=120))
    assert_user_error(cli(*SEARCH, "--data", p, "--out", tmp_path / "run"),
                      contains=("labels look continuous (120 distinct values",
                                "regression target", "edgeml trains classifiers"))


def test_a_thousand_classes_are_refused_before_training(cli, tmp_path):
    """TFLM's int8 SOFTMAX aborts over more than 512 near-equal classes (issue 16)."""
    rng = np.random.default_rng(0)
    p = _npz(tmp_path, "k1000.npz", rng.normal(size=(5000, 4)), np.repeat(np.arange(1000), 5))
    assert_user_error(cli(*SEARCH, "--data", p, "--out", tmp_path / "run"),
                      contains=("has 1000 classes", "SOFTMAX", "at most 512 classes"))
    assert not (tmp_path / "run").exists()


def test_seed_out_of_range_in_the_library_is_a_data_error():
    with pytest.raises(DataError, match="seed must be a whole number from 0 to 4294967295"):
        load_dataset("digits", seed=-1)


def test_profile_of_a_folder_says_folder(cli, tmp_path):
    (tmp_path / "model.tflite").write_bytes(b"")
    assert_user_error(cli("profile", tmp_path, "--target", "esp32"),
                      contains=("is a folder", f"e.g. {tmp_path / 'model.tflite'}"))


@pytest.mark.parametrize("text, says", [
    ("model,latency_ms\nreference:kws_ds_cnn,\n", "line 2 (reference:kws_ds_cnn): latency_ms "
                                                  "is empty"),
    ("model,latency_ms,energy_uj\nreference:kws_ds_cnn,,\n", "latency_ms is empty"),
    ("model,latency_ms\nreference:kws_ds_cnn,-3\n", "must be a positive number"),
    ("model,latency_ms\nreference:kws_ds_cnn,abc\n", "not a number"),
    ("", "needs a header with 'model' and 'latency_ms'"),
])
def test_calibration_csv_names_the_bad_cell(cli, tmp_path, text, says):
    p = tmp_path / "lat.csv"
    p.write_text(text)
    assert_user_error(cli("calibrate", "--target", "esp32", "--measurements", p,
                          "--out", tmp_path / "cal.toml"), contains=says)
    assert not (tmp_path / "cal.toml").exists()


def test_calibration_measurements_folder_says_folder(cli, tmp_path):
    assert_user_error(cli("calibrate", "--target", "esp32", "--measurements", tmp_path,
                          "--out", tmp_path / "cal.toml"), contains="is a folder")
