"""Split fractions, the small-data rule and a separate test file (--test-data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from edgeml.data import load_dataset
from edgeml.data.dataset import split_sizes
from edgeml.errors import DataError


def test_default_fractions_keep_digits_split_as_before():
    s = load_dataset("digits").summary()
    assert (s["train"], s["val"], s["test"]) == (1168, 270, 359)


def test_small_data_grows_the_default_splits_towards_five_per_class():
    # 100 samples of 5 classes: 0.2 -> 20 test (4 per class) grows to 25; 0.15 -> 15
    # validation grows, but only up to 1.5 x 0.15 = 22
    assert split_sizes(100, 5) == (22, 25)
    # explicit fractions are used as given (at least one per class)
    assert split_sizes(100, 5, val_fraction=0.1, test_fraction=0.1) == (10, 10)
    assert split_sizes(100, 5, val_fraction=0.01) == (5, 25)
    assert split_sizes(100, 5, test_given=True) == (22, 0)
    x = np.random.default_rng(0).random((100, 4))
    y = np.repeat(np.arange(5), 20)
    ds = load_dataset({"x": x, "y": y})
    assert np.bincount(ds.y_test).tolist() == [5] * 5
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (53, 22, 25)


def test_fractions_out_of_range_are_refused():
    with pytest.raises(DataError, match="validation fraction must be between 0 and 1"):
        load_dataset("digits", val_fraction=0.0)
    with pytest.raises(DataError, match="leave nothing to train on"):
        load_dataset("digits", val_fraction=0.5, test_fraction=0.5)


def test_a_class_without_training_samples_is_refused():
    # two samples of class 2: too few to stratify, so the random split may take both
    x = np.random.default_rng(0).random((42, 3))
    y = np.array([0] * 20 + [1] * 20 + [2] * 2)
    load_dataset({"x": x, "y": y}, val_fraction=0.3, test_fraction=0.3, seed=0)  # keeps one
    with pytest.raises(DataError, match="class '2' has no training sample left"):
        load_dataset({"x": x, "y": y}, val_fraction=0.3, test_fraction=0.3, seed=3)


def test_test_csv_is_used_untouched_and_fingerprinted(tmp_path):
    d = load_digits()
    cols = [f"px{i}" for i in range(64)]

    def csv(name, rows):
        frame = pd.DataFrame(d.data[rows], columns=cols)
        frame["digit"] = d.target[rows]
        frame.to_csv(tmp_path / name, index=False)
        return str(tmp_path / name)

    train, test = csv("train.csv", slice(0, 1500)), csv("test.csv", slice(1500, None))
    ds = load_dataset(train, label_column="digit", test_data=test, val_fraction=0.1)
    assert len(ds.y_train) + len(ds.y_val) == 1500 and len(ds.y_val) == 150
    assert len(ds.y_test) == 297
    assert np.array_equal(ds.y_test, d.target[1500:])  # same order, nothing dropped
    assert np.allclose(ds.x_test, d.data[1500:] * ds.scale + ds.offset)
    info = ds.summary()["test_data"]
    assert info["source"] == test and info["samples"] == 297
    again = load_dataset(train, label_column="digit", test_data=test, val_fraction=0.1)
    assert again.summary()["test_data"]["fingerprint"] == info["fingerprint"]
    pd.read_csv(test).iloc[:-1].to_csv(tmp_path / "short.csv", index=False)
    other = load_dataset(train, label_column="digit", test_data=str(tmp_path / "short.csv"))
    assert other.summary()["test_data"]["fingerprint"] != info["fingerprint"]
    pd.read_csv(test).drop(columns=["px5"]).to_csv(tmp_path / "fewer.csv", index=False)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['px5'\] of the data"):
        load_dataset(train, label_column="digit", test_data=str(tmp_path / "fewer.csv"))
    np.savez(tmp_path / "both.npz", x=d.images, y=d.target, x_test=d.images, y_test=d.target)
    with pytest.raises(DataError, match="holds a test set of its own"):
        load_dataset(str(tmp_path / "both.npz"), test_data=test)
