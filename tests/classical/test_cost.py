"""The classical cost model: bounds before training, the constraints table after."""

from __future__ import annotations

import pytest

from edgeml.estimate import Limits, feasible, violations

pytestmark = pytest.mark.slow  # trains small scikit-learn models


@pytest.mark.parametrize("values", [
    {"family": "tree", "tree_max_depth": 7, "tree_min_samples_leaf": 1, "tree_criterion": "gini"},
    {"family": "forest", "forest_kind": "random", "forest_n_estimators": 5, "forest_max_depth": 6,
     "forest_max_features": "sqrt"},
    {"family": "gbt", "gbt_n_estimators": 4, "gbt_max_depth": 2, "gbt_learning_rate": 0.2},
    {"family": "linear", "linear_kind": "svm", "linear_c": 1.0},
    {"family": "nb", "nb_var_smoothing": 1e-3},
])
def test_bound_before_training_covers_the_trained_model(digits, values):
    from edgeml.classical import build_estimator, to_cmodel
    from edgeml.classical.cost import bound_estimate, estimate_cmodel
    from edgeml.classical.search import flat
    from edgeml.targets import load_target

    target = load_target("nrf52840")
    x_train, x_val = flat(digits.x_train), flat(digits.x_val)
    bound = bound_estimate(values, target, n_features=x_train.shape[1],
                           n_classes=digits.num_classes, n_train=len(x_train))
    est = build_estimator(values, seed=0).fit(x_train, digits.y_train)
    cm = to_cmodel(est, family=values["family"], n_classes=digits.num_classes)
    real = estimate_cmodel(cm, target, visited=cm.nodes_visited(x_val))
    assert real.model_bytes == cm.data_bytes
    assert real.model_bytes <= bound.model_bytes
    assert real.latency_ms <= bound.latency_ms + 1e-12
    if values["family"] in ("linear", "nb"):  # costed exactly before training
        assert real.model_bytes == bound.model_bytes
    # the same constraints table as the networks: a flash limit below the model breaks it
    assert feasible(violations(target, real, Limits()))
    v = violations(target, real, Limits(max_model_bytes=real.model_bytes - 1))
    assert v["max_model_bytes"] == 1
