"""Data loading: real files in every supported format, and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edgeml.data import InputKind, load_dataset
from edgeml.errors import DataError


def test_digits_builtin_is_an_image_set_split_reproducibly():
    a = load_dataset("digits", seed=3)
    b = load_dataset(None, seed=3)
    assert a.kind is InputKind.IMAGE and a.input_shape == (8, 8, 1) and a.num_classes == 10
    assert len(a.y_train) + len(a.y_val) + len(a.y_test) == 1797
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.x_train.min() == 0.0 and a.x_train.max() == 1.0
    c = load_dataset("digits", seed=4)
    assert not np.array_equal(a.y_test, c.y_test)


def _iris_frame():
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.data.copy()
    frame["species"] = [iris.target_names[i] for i in iris.target]
    return frame


def test_csv_with_named_label_column(tmp_path):
    path = tmp_path / "iris.csv"
    _iris_frame().to_csv(path, index=False)
    ds = load_dataset(path, label_column="species", seed=0)
    assert ds.kind is InputKind.TABULAR and ds.input_shape == (4,)
    assert ds.labels == ("setosa", "versicolor", "virginica")
    assert set(np.unique(ds.y_test)) == {0, 1, 2}


def test_npz_time_series_and_images(tmp_path, rng):
    ts = tmp_path / "ts.npz"
    np.savez(ts, x=rng.normal(size=(60, 50, 3)), y=np.repeat([0, 1, 2], 20))
    assert load_dataset(ts).kind is InputKind.TIMESERIES
    img = tmp_path / "img.npz"
    np.savez(img, x=rng.normal(size=(60, 16, 16)), y=np.repeat(["a", "b"], 30))
    ds = load_dataset(img)
    assert ds.kind is InputKind.IMAGE and ds.input_shape == (16, 16, 1) and ds.labels == ("a", "b")


def _csv(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "missing.csv", "does not exist"),
    (lambda p: _csv(p, ""), "is empty"),
    (lambda p: _csv(p, "a,b,label\n"), "no rows"),
    (lambda p: _csv(p, "a,b,label\n1,2,0\n3,x,1\n1,2,0\n3,4,1\n"), "column 'b' is not numeric"),
    (lambda p: _csv(p, "a,b,label\n1,,0\n3,4,1\n1,2,0\n3,4,1\n"), "NaN or inf"),
    (lambda p: _csv(p, "a,b,label\n1,inf,0\n3,4,1\n1,2,0\n3,4,1\n"), "NaN or inf"),
    (lambda p: _csv(p, "a,b,cls\n1,2,0\n3,4,1\n"), "no label column 'label'"),
    (lambda p: _csv(p, "a,b,label\n1,2,0\n3,4,0\n5,6,0\n"), "single class"),
    (lambda p: _csv(p, "a,b,label\n1,2,0\n3,4,1\n5,6,1\n"), "only 1 sample"),
    (lambda p: _csv(p, "a\tb\n1\t2\n", name="d.txt"), "unsupported extension"),
    (lambda p: _csv(p, "not a zip", name="d.npz"), "not a readable NPZ"),
    (lambda p: p, "is a directory"),
])
def test_bad_files_give_one_line_errors(tmp_path, make, match):
    with pytest.raises(DataError, match=match) as info:
        load_dataset(make(tmp_path))
    assert "\n" not in str(info.value)


def test_bad_npz_contents(tmp_path, rng):
    cases = {
        "noy.npz": ({"x": rng.normal(size=(10, 3))}, "no array"),
        "mismatch.npz": ({"x": rng.normal(size=(10, 3)), "y": np.zeros(9)}, "10 samples but y has 9"),
        "onehot.npz": ({"x": rng.normal(size=(10, 3)), "y": np.eye(2)[np.arange(10) % 2]}, "one label per sample"),
        "nan.npz": ({"x": np.full((10, 3), np.nan), "y": np.arange(10) % 2}, "NaN or inf"),
        "5d.npz": ({"x": np.zeros((10, 2, 2, 2, 2)), "y": np.arange(10) % 2}, "dimensions"),
    }
    for name, (arrays, match) in cases.items():
        path = tmp_path / name
        np.savez(path, **arrays)
        with pytest.raises(DataError, match=match):
            load_dataset(path)


def test_too_few_samples_for_the_splits(tmp_path):
    pd.DataFrame({"a": range(6), "label": [0, 1] * 3}).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(DataError, match="only 6 samples"):
        load_dataset(tmp_path / "s.csv")
