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


def test_a_leaf_cap_makes_trees_fit_before_training(digits):
    """A forest whose size bound breaks the flash limit trains with its leaves capped so
    that the bound fits (and the trained model does); a boosted model too large even as
    stumps is never trained."""
    from edgeml.classical import build_estimator, to_cmodel
    from edgeml.classical.cost import bound_estimate, estimate_cmodel
    from edgeml.classical.search import _leaf_cap, flat
    from edgeml.estimate import check_fields
    from edgeml.targets import load_target

    target = load_target("nrf52840")
    x_train, k = flat(digits.x_train), digits.num_classes
    limits = Limits(max_model_bytes=20 * 1024)

    def checker(values, limits=limits):
        def checked(cap):
            est = bound_estimate(values, target, n_features=x_train.shape[1], n_classes=k,
                                 n_train=len(x_train), max_leaves=cap)
            return check_fields({target.name: est}, [target], limits)
        return checked

    forest = {"family": "forest", "forest_kind": "extra", "forest_n_estimators": 30,
              "forest_max_depth": 12, "forest_max_features": "sqrt"}
    checked = checker(forest)
    assert not checked(None)["feasible"]
    cap = _leaf_cap(checked, forest, n_classes=k, n_train=len(x_train))
    assert cap is not None and cap >= 2
    assert checked(cap)["feasible"] and not checked(cap + 1)["feasible"]
    est = build_estimator(forest, seed=0, max_leaves=cap).fit(x_train, digits.y_train)
    assert max(e.tree_.n_leaves for e in est.estimators_) <= cap
    cm = to_cmodel(est, family="forest", n_classes=k)
    real = estimate_cmodel(cm, target, visited=cm.nodes_visited(flat(digits.x_val)))
    assert real.model_bytes <= limits.max_model_bytes

    gbt = {"family": "gbt", "gbt_n_estimators": 60, "gbt_max_depth": 4,
           "gbt_learning_rate": 0.1}  # 600 trees for 10 classes: over 8 KB as stumps
    small = Limits(max_model_bytes=8 * 1024)
    assert _leaf_cap(checker(gbt, small), gbt, n_classes=k, n_train=len(x_train)) is None
    assert _leaf_cap(checker(gbt), gbt, n_classes=k, n_train=len(x_train)) >= 2
