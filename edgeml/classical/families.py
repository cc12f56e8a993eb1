"""The classical model families, their hyperparameter space and size bounds.

Each family is a scikit-learn estimator that fits on a microcontroller once
exported to C (:mod:`.model`). The space is a keras-tuner ``HyperParameters``
space with one ``family`` choice and a conditional scope per family, so any
keras-tuner oracle searches it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FAMILIES", "NETWORK", "MODEL_CHOICES", "define_space", "build_estimator",
           "node_bound", "describe"]

#: classical families, in the order ``--models`` lists them
FAMILIES: tuple[str, ...] = ("tree", "forest", "gbt", "linear", "nb")
#: the network search's name in ``--models``
NETWORK = "nn"
MODEL_CHOICES: tuple[str, ...] = (NETWORK, *FAMILIES)

_NAMES = {"tree": "decision tree", "forest": "random forest / extra trees",
          "gbt": "gradient-boosted trees", "linear": "linear model (logistic regression / "
          "linear SVM)", "nb": "Gaussian naive Bayes"}


def describe(family: str) -> str:
    return _NAMES.get(family, family)


def define_space(hp: Any, families: tuple[str, ...]) -> None:
    """Declare the hyperparameters of ``families`` on a keras-tuner ``HyperParameters``."""
    family = hp.Choice("family", list(families))
    del family
    if "tree" in families:
        with hp.conditional_scope("family", ["tree"]):
            hp.Int("tree_max_depth", 2, 14)
            hp.Int("tree_min_samples_leaf", 1, 8)
            hp.Choice("tree_criterion", ["gini", "entropy"])
    if "forest" in families:
        with hp.conditional_scope("family", ["forest"]):
            hp.Choice("forest_kind", ["random", "extra"])
            hp.Int("forest_n_estimators", 2, 30)
            hp.Int("forest_max_depth", 3, 12)
            hp.Choice("forest_max_features", ["sqrt", "log2", "all"])
    if "gbt" in families:
        with hp.conditional_scope("family", ["gbt"]):
            hp.Int("gbt_n_estimators", 5, 60)
            hp.Int("gbt_max_depth", 1, 4)
            hp.Float("gbt_learning_rate", 0.03, 0.5, sampling="log")
    if "linear" in families:
        with hp.conditional_scope("family", ["linear"]):
            hp.Choice("linear_kind", ["logistic", "svm"])
            hp.Float("linear_c", 0.01, 100.0, sampling="log")
    if "nb" in families:
        with hp.conditional_scope("family", ["nb"]):
            # float32 on the device: a smaller smoothing gives constant features variances
            # near 0 and log-likelihoods near -1e9, where float32 no longer separates classes
            hp.Float("nb_var_smoothing", 1e-4, 1e-1, sampling="log")


def build_estimator(values: dict[str, Any], *, seed: int, max_leaves: int | None = None) -> Any:
    """The untrained scikit-learn estimator for one point of the space; ``max_leaves`` caps
    the leaves of each tree (see :func:`node_bound`)."""
    family = values["family"]
    cap = None if max_leaves is None else max(2, int(max_leaves))
    if family == "tree":
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(max_depth=int(values["tree_max_depth"]),
                                      min_samples_leaf=int(values["tree_min_samples_leaf"]),
                                      criterion=str(values["tree_criterion"]),
                                      max_leaf_nodes=cap, random_state=seed)
    if family == "forest":
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

        cls = RandomForestClassifier if values["forest_kind"] == "random" else ExtraTreesClassifier
        mf = values["forest_max_features"]
        return cls(n_estimators=int(values["forest_n_estimators"]),
                   max_depth=int(values["forest_max_depth"]),
                   max_features=None if mf == "all" else mf, max_leaf_nodes=cap,
                   random_state=seed, n_jobs=1)
    if family == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(n_estimators=int(values["gbt_n_estimators"]),
                                          max_depth=int(values["gbt_max_depth"]),
                                          learning_rate=float(values["gbt_learning_rate"]),
                                          max_leaf_nodes=cap, random_state=seed)
    if family == "linear":
        c = float(values["linear_c"])
        if values["linear_kind"] == "logistic":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=c, max_iter=2000)
        from sklearn.svm import LinearSVC

        return LinearSVC(C=c, max_iter=5000, random_state=seed)
    if family == "nb":
        from sklearn.naive_bayes import GaussianNB

        return GaussianNB(var_smoothing=float(values["nb_var_smoothing"]))
    raise ValueError(f"unknown classical family {family!r}")


def node_bound(values: dict[str, Any], *, n_classes: int, n_train: int,
               max_leaves: int | None = None) -> tuple[int, int, int]:
    """Before training: (max nodes, max leaves, max depth) the model can have, from its
    size limits (a tree of depth d has at most 2**d leaves, and never more leaves than
    training samples; ``max_leaves`` caps each tree's leaves, and so its depth).
    Linear models and naive Bayes have no nodes: (0, 0, 0)."""
    family = values["family"]
    if family == "tree":
        trees, depth = 1, int(values["tree_max_depth"])
        leaves_cap = max(1, n_train // max(1, int(values["tree_min_samples_leaf"])))
    elif family == "forest":
        trees, depth = int(values["forest_n_estimators"]), int(values["forest_max_depth"])
        leaves_cap = n_train
    elif family == "gbt":
        per_stage = 1 if n_classes == 2 else n_classes
        trees, depth = int(values["gbt_n_estimators"]) * per_stage, int(values["gbt_max_depth"])
        leaves_cap = n_train
    else:
        return 0, 0, 0
    if max_leaves is not None:
        leaves_cap = min(leaves_cap, max(2, int(max_leaves)))
        depth = min(depth, leaves_cap - 1)
    leaves = min(2 ** depth, leaves_cap)
    return trees * (2 * leaves - 1), trees * leaves, depth
