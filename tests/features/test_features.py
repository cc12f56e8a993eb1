"""The feature stage in Python: specs, windowing checks, features, stable selection."""

from __future__ import annotations

import numpy as np
import pytest
from realdata import RATE_HZ, basic_motions

from edgeml.errors import DataError
from edgeml.features import (
    STATS,
    FeatureSpec,
    FittedFeatures,
    compute,
    fit,
    nogueira_stability,
    quantize,
    select_terms,
    transform,
)
from edgeml.features.windows import cut, fill_gaps, infer_rate, regularize

SPECS = [
    FeatureSpec(kind="raw", window=32, channels=6, hop=16, rate=10.0),
    FeatureSpec(kind="stats", window=64, channels=6, stats=STATS),
    FeatureSpec(kind="fft", window=64, channels=6, bands=8),
    FeatureSpec(kind="logmel", window=4000, rate=8000.0, frame=256, frame_hop=128, mels=24),
    FeatureSpec(kind="mfcc", window=4000, rate=8000.0, frame=256, frame_hop=128, mels=24, mfcc=10),
    FeatureSpec(kind="tabular", window=4, terms=(("col", 0, -1), ("ratio", 1, 2), ("prod", 0, 3),
                                                 ("diff", 2, 3))),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_spec_round_trips_through_json(spec):
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec
    fitted = FittedFeatures(spec, (0.5,) * spec.norm_size, (2.0,) * spec.norm_size)
    assert FittedFeatures.from_dict(fitted.to_dict()) == fitted


def test_bad_specs_are_one_line_errors():
    with pytest.raises(DataError, match="unknown statistic"):
        FeatureSpec(kind="stats", window=8, stats=("kurtosis",))
    with pytest.raises(DataError, match="mono"):
        FeatureSpec(kind="logmel", window=800, channels=2, rate=8000, frame=256, frame_hop=128,
                    mels=8)
    with pytest.raises(DataError, match="not a feature spec"):
        FeatureSpec.from_dict({"kind": "stats", "window": 8, "colour": 1})


def test_statistics_match_numpy_on_basic_motions():
    xs, _ = basic_motions()
    w = np.stack(xs)[:, :64]
    spec = FeatureSpec(kind="stats", window=64, channels=6, stats=STATS)
    f = compute(spec, w).reshape(len(w), 6, len(STATS))
    x = w.astype(np.float64)
    np.testing.assert_allclose(f[..., STATS.index("mean")], x.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f[..., STATS.index("std")], x.std(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f[..., STATS.index("rms")], np.sqrt((x ** 2).mean(axis=1)),
                               rtol=1e-5)
    np.testing.assert_allclose(f[..., STATS.index("p75")], np.percentile(x, 75, axis=1),
                               rtol=1e-5, atol=1e-6)
    m = x.mean(axis=1, keepdims=True)
    crossings = (np.diff(np.sign(x - m), axis=1) != 0).sum(axis=1)
    np.testing.assert_array_equal(f[..., STATS.index("zcr")], crossings)
    assert f.dtype == np.float32


def test_fft_band_energy_finds_a_tone_in_its_band():
    t = np.arange(64) / 64.0
    tone = np.sin(2 * np.pi * 20 * t)[None, :, None]  # bin 20 of 32 -> band 4 of 8 (bins 17..20)
    f = compute(FeatureSpec(kind="fft", window=64, bands=8), tone)[0]
    assert int(np.argmax(f)) == 4
    total = np.abs(np.fft.rfft(tone[0, :, 0])) ** 2 / 64
    assert np.exp(f[4]) == pytest.approx(total[1:].sum(), rel=1e-4)


def test_mel_features_are_deterministic_and_shaped():
    rng = np.random.default_rng(0)
    clip = rng.normal(size=(2, 4000)).astype(np.float32)
    spec = SPECS[4]
    a, b = compute(spec, clip), compute(spec, clip.copy())
    assert a.shape == (2, 30, 10, 1) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_fit_normalizes_and_quantize_rounds_half_to_even():
    xs, _ = basic_motions()
    spec = FeatureSpec(kind="stats", window=100, channels=6, stats=("mean", "std"))
    fitted, f = fit(spec, np.stack(xs))
    np.testing.assert_allclose(f.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(f.std(axis=0), 1, rtol=1e-4)
    np.testing.assert_array_equal(transform(fitted, np.stack(xs)), f)
    q = quantize(np.array([0.25, 0.75, 100.0, -100.0], np.float32), 0.5, 1)
    assert q.tolist() == [1, 3, 127, -128]


def test_timestamps_must_increase_and_rate_is_inferred():
    assert infer_rate(np.arange(50) / RATE_HZ, where="a.csv") == pytest.approx(RATE_HZ)
    t = np.array([0.0, 0.1, 0.2, 0.15, 0.3])
    with pytest.raises(DataError, match=r"a.csv: timestamps are not increasing at row 3"):
        infer_rate(t, where="a.csv")


def test_jittered_time_is_resampled_and_reported():
    t = np.array([0.0, 0.1, 0.2, 0.35, 0.4, 0.5])
    x = np.arange(6, dtype=np.float64)[:, None]
    fixes: list[str] = []
    out = regularize(x, t, 10.0, where="b.csv", fixes=fixes)
    assert len(out) == 6 and out[3, 0] == pytest.approx(2 + (0.3 - 0.2) / 0.15)
    assert fixes and "resampled" in fixes[0] and "b.csv" in fixes[0]


def test_nan_gaps_are_filled_when_short_and_refused_when_long():
    x = np.array([[0.0], [np.nan], [np.nan], [3.0], [4.0]])
    fixes: list[str] = []
    np.testing.assert_allclose(fill_gaps(x, where="c.csv", fixes=fixes)[:, 0], [0, 1, 2, 3, 4])
    assert "filled 2 missing" in fixes[0]
    long = np.r_[[0.0], [np.nan] * 6, [7.0]][:, None]
    with pytest.raises(DataError, match="gap of 6 missing samples"):
        fill_gaps(long, where="c.csv", fixes=[])
    with pytest.raises(DataError, match="start or end"):
        fill_gaps(np.array([[np.nan], [1.0]]), where="c.csv", fixes=[])


def test_windows_and_short_recordings():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    w = cut(x, 4, 3, where="r.csv")
    assert w.shape == (3, 4, 2) and w[1, 0, 0] == 6
    with pytest.raises(DataError, match="r.csv has 10 samples, shorter than one window of 16"):
        cut(x, 16, 8, where="r.csv")


def test_nogueira_stability_known_values():
    same = np.array([[1, 1, 0, 0]] * 5, dtype=bool)
    assert nogueira_stability(same) == pytest.approx(1.0)
    # two selections sharing one of two features out of four: the estimator's zero point
    assert nogueira_stability(np.array([[1, 1, 0, 0], [1, 0, 1, 0]], bool)) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    chance = np.zeros((200, 40), bool)
    for r in chance:
        r[rng.choice(40, 8, replace=False)] = True
    assert abs(nogueira_stability(chance)) < 0.05


def test_selection_constructs_ratio_features_and_reports_stability():
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    cols = [d.feature_names.tolist().index(n) for n in ("mean radius", "mean area", "worst area",
                                                        "mean smoothness", "mean texture")]
    sel = select_terms(d.data[:, cols], d.target, ks=(2, 4, 8), resamples=6, seed=1)
    assert sel.k in (2, 4, 8) and len(sel.terms) == sel.k
    assert sel.candidates == 5 + 10 * 4
    assert 0.0 <= sel.stability <= 1.0
    picked = next(r for r in sel.table if r["k"] == sel.k)
    best = max(r["accuracy"] for r in sel.table)
    assert picked["accuracy"] >= best - 0.01
    assert all(r["stability"] <= picked["stability"] for r in sel.table
               if r["accuracy"] >= best - 0.01)
    assert sel.accuracy > 0.85
