"""A classical candidate predicted to train longer than a network trial is never fitted."""

from __future__ import annotations

import pytest

import edgeml.classical.search as cs
from edgeml.classical.cost import SECONDS_PER_WORK, train_work
from edgeml.targets import load_target


def test_work_grows_with_what_the_learner_scans():
    base = dict(family="gbt", gbt_n_estimators=10, gbt_max_depth=3, gbt_learning_rate=0.1)
    w = train_work(base, n_train=3000, n_features=784, n_classes=10)
    assert train_work({**base, "gbt_n_estimators": 20}, n_train=3000, n_features=784,
                      n_classes=10) == pytest.approx(2 * w)
    assert train_work(base, n_train=3000, n_features=64, n_classes=10) < w / 10
    # one tree per stage for two classes, one per class and stage for ten
    assert train_work(base, n_train=3000, n_features=784, n_classes=2) == pytest.approx(w / 10)
    forest = dict(family="forest", forest_kind="random", forest_n_estimators=10,
                  forest_max_depth=8, forest_max_features="all")
    assert train_work({**forest, "forest_max_features": "sqrt"}, n_train=3000,
                      n_features=784, n_classes=10) == pytest.approx(
        train_work(forest, n_train=3000, n_features=784, n_classes=10) / 28)
    # 10 x 10 boosted trees of depth 3 on 3,000 MNIST images: seconds, not milliseconds
    assert 1.0 < w * SECONDS_PER_WORK < 30.0


def test_a_candidate_slower_than_a_network_trial_is_not_fitted(digits, tmp_path, monkeypatch):
    fitted = []
    real = cs.build_estimator

    def build(values, *, seed, max_leaves=None):
        fitted.append(values["family"])
        return real(values, seed=seed, max_leaves=max_leaves)

    monkeypatch.setattr(cs, "build_estimator", build)
    # boosting on digits: at least 5 x 10 trees over 1,200 images x 64 features (tenths of a
    # second predicted); naive Bayes: a millisecond
    res = cs.search_classical(digits, [load_target("esp32")], families=("gbt", "nb"), trials=3,
                              seed=0, directory=tmp_path, max_train_seconds=0.04)
    slow = [t for t in res.trials if t.family == "gbt"]
    assert slow and "gbt" not in fitted
    for t in slow:
        assert t.status.value == "failed" and t.stage == "time" and not t.trained
        assert "longer than a network trial (0.04 s)" in t.error
        assert t.screen["predicted_s"] > 0.04
    assert fitted and set(fitted) == {"nb"} and len(res.models) == 3
    # without a limit the same search fits boosted models
    res = cs.search_classical(digits, [load_target("esp32")], families=("gbt", "nb"), trials=3,
                              seed=0, directory=tmp_path / "all")
    assert "gbt" in fitted and any(t.family == "gbt" and t.trained for t in res.trials)
