"""Small classical models trained on digits for the classical tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits_members(digits):
    """(members, y_val, targets): a tree, a forest, a linear model and naive Bayes on digits,
    costed on esp32."""
    from edgeml.classical import build_estimator, to_cmodel
    from edgeml.classical.cost import estimate_cmodel
    from edgeml.classical.ensemble import Member
    from edgeml.classical.search import flat
    from edgeml.targets import load_target

    target = load_target("esp32")
    x_train, x_val = flat(digits.x_train), flat(digits.x_val)
    points = [
        {"family": "tree", "tree_max_depth": 6, "tree_min_samples_leaf": 2,
         "tree_criterion": "gini"},
        {"family": "forest", "forest_kind": "extra", "forest_n_estimators": 6,
         "forest_max_depth": 8, "forest_max_features": "sqrt"},
        {"family": "linear", "linear_kind": "logistic", "linear_c": 0.3},
        {"family": "nb", "nb_var_smoothing": 1e-2},
    ]
    members = []
    for i, values in enumerate(points):
        est = build_estimator(values, seed=0).fit(x_train, digits.y_train)
        cm = to_cmodel(est, family=values["family"], n_classes=digits.num_classes)
        e = estimate_cmodel(cm, target, visited=cm.nodes_visited(x_val))
        members.append(Member(trial_id=f"c{i}", family=values["family"],
                              val_proba=cm.predict_proba(x_val), estimates={"esp32": e}))
    return members, np.asarray(digits.y_val), [target]
