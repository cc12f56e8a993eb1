"""Recordings -> features -> Dataset: splits by recording/group, held-out test recordings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from realdata import write_imu_folder

from edgeml.data.sources import load_recordings
from edgeml.errors import DataError
from edgeml.features import FeatureSpec, build_features, candidate_specs, split_groups, transform


@pytest.fixture(scope="module")
def imu(tmp_path_factory):
    return load_recordings(write_imu_folder(tmp_path_factory.mktemp("d") / "imu"))


@pytest.fixture(scope="module")
def imu_test(tmp_path_factory):
    return load_recordings(write_imu_folder(tmp_path_factory.mktemp("d") / "imu", "TEST"))


def test_split_never_puts_one_group_on_two_sides(imu):
    groups = tuple(f"subject{i % 7}" for i in range(len(imu)))
    recs = replace(imu, groups=groups)
    for seed in range(5):
        parts = split_groups(recs, seed=seed, val_fraction=0.15, test_fraction=0.2)
        sides = [{groups[i] for i in parts[k]} for k in ("train", "val", "test")]
        assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
        assert sum(len(p) for p in parts.values()) == len(recs)
        assert sides[2]  # the test side is not empty


def test_windows_of_one_recording_stay_together(imu):
    fs = build_features(imu, FeatureSpec(kind="stats", window=32, hop=16, channels=6,
                                         stats=("mean", "std")), seed=3)
    per_rec = (100 - 32) // 16 + 1
    w = fs.split["windows"]
    assert fs.split["unit"] == "recording"
    assert (w["train"], w["val"], w["test"]) == (fs.split["train"] * per_rec,
                                                 fs.split["val"] * per_rec,
                                                 fs.split["test"] * per_rec)
    # the normalization was fitted on the training windows only
    assert np.abs(fs.dataset.x_train.mean(axis=0)).max() < 1e-4
    assert np.abs(fs.dataset.x_test.mean(axis=0)).max() > 1e-3


def test_held_out_test_recordings(imu, imu_test):
    fs = build_features(imu, candidate_specs(imu)[0], test_recordings=imu_test)
    assert fs.split["held_out_test"] and fs.split["test"] == 40
    assert fs.split["train"] + fs.split["val"] == 40
    assert fs.dataset.labels == imu.labels
    spec = fs.fitted.spec
    first = np.stack([imu_test.signals[0][:spec.window]])
    np.testing.assert_array_equal(transform(fs.fitted, first)[0], fs.dataset.x_test[0])
    assert fs.dataset.extra["features"]["spec"]["kind"] == spec.kind


def test_recording_shorter_than_a_window_names_the_file(imu):
    with pytest.raises(DataError, match=r"\.csv has 100 samples, shorter than one window of 128"):
        build_features(imu, FeatureSpec(kind="raw", window=128, hop=64, channels=6))


def test_too_few_recordings_per_class(imu):
    keep = [i for i in range(len(imu)) if imu.y[i] != 0 or i in np.flatnonzero(imu.y == 0)[:2]]
    few = replace(imu, signals=tuple(imu.signals[i] for i in keep), y=imu.y[keep],
                  groups=tuple(imu.groups[i] for i in keep),
                  sources=tuple(imu.sources[i] for i in keep))
    with pytest.raises(DataError, match="class 'Badminton' has only 2 recording"):
        build_features(few)


def test_tabular_selection_is_fitted_on_training_rows(tmp_path):
    from sklearn.datasets import load_wine

    d = load_wine(as_frame=True)
    d.frame.to_csv(tmp_path / "wine.csv", index=False)
    recs = load_recordings(tmp_path / "wine.csv", label_column="target", tabular=True)
    fs = build_features(recs, seed=0)
    sel = fs.selection
    assert sel is not None and 0 <= sel["stability"] <= 1
    assert fs.fitted.spec.kind == "tabular" and len(fs.fitted.spec.terms) == sel["k"]
    assert fs.dataset.input_shape == (sel["k"],)
