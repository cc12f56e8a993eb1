"""The generated C predicts the same classes as scikit-learn on the whole test split."""

from __future__ import annotations

import numpy as np
import pytest
from chost import run_c

from edgeml.classical import FAMILIES, build_estimator, to_cmodel

POINTS = {
    "tree": {"family": "tree", "tree_max_depth": 8, "tree_min_samples_leaf": 1,
             "tree_criterion": "gini"},
    "forest": {"family": "forest", "forest_kind": "random", "forest_n_estimators": 7,
               "forest_max_depth": 7, "forest_max_features": "sqrt"},
    "extra": {"family": "forest", "forest_kind": "extra", "forest_n_estimators": 5,
              "forest_max_depth": 6, "forest_max_features": "all"},
    "gbt": {"family": "gbt", "gbt_n_estimators": 8, "gbt_max_depth": 2,
            "gbt_learning_rate": 0.3},
    "logistic": {"family": "linear", "linear_kind": "logistic", "linear_c": 1.0},
    "svm": {"family": "linear", "linear_kind": "svm", "linear_c": 0.5},
    "nb": {"family": "nb", "nb_var_smoothing": 1e-3},
}


def _split(name: str):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
              "wine": datasets.load_wine}[name]
    x, y = loader(return_X_y=True)
    x = x.astype(np.float32)
    lo, hi = x.min(axis=0), x.max(axis=0)  # features in [0, 1] as edgeml's input scaling does
    x = ((x - lo) / np.where(hi > lo, hi - lo, 1)).astype(np.float32)
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


def test_space_names_every_family():
    assert {p["family"] for p in POINTS.values()} == set(FAMILIES)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["digits", "breast_cancer", "wine"])
@pytest.mark.parametrize("point", sorted(POINTS))
def test_c_predicts_like_python(tmp_path, data, point):
    x_train, x_test, y_train, y_test = _split(data)
    k = int(y_train.max()) + 1
    values = POINTS[point]
    est = build_estimator(values, seed=0).fit(x_train, y_train)
    cm = to_cmodel(est, family=values["family"], n_classes=k)
    expected = est.predict(x_test)
    # the float32 reference (what edgeml scores) is scikit-learn's prediction ...
    np.testing.assert_array_equal(cm.predict(x_test), expected)
    np.testing.assert_allclose(cm.predict_proba(x_test), est.predict_proba(x_test)
                               if hasattr(est, "predict_proba") else cm.predict_proba(x_test),
                               atol=2e-4)
    # ... and the C code compiled with gcc predicts exactly the same, on the whole test split
    classes, scores = run_c(tmp_path, {"model.c": cm.c_source("m")}, "m_predict", x_test, k)
    assert len(classes) == len(x_test)
    np.testing.assert_array_equal(classes, expected)
    np.testing.assert_allclose(scores, cm.predict_proba(x_test), atol=1e-5)
    assert cm.data_bytes > 0
