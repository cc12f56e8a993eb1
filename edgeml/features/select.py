"""Tabular feature construction and stable selection.

Construction: every column, and for each pair of columns their ratio (both ways),
product and difference (the "population density = people / area" kind of feature).

Selection: for each subset size ``k`` the top-``k`` terms by ANOVA F score are
chosen on ``resamples`` random halves of the training rows. Stability is the
estimator of Nogueira, Sechidis & Brown (JMLR 2018, "On the Stability of Feature
Selection Algorithms"):

    phi = 1 - mean_f(s_f^2) / ((k_bar / d) * (1 - k_bar / d)),
    s_f^2 = M / (M - 1) * p_f * (1 - p_f)

with ``p_f`` the fraction of resamples that chose term ``f``, ``d`` the number of
candidate terms and ``k_bar`` the mean subset size (1 = always the same subset,
about 0 = chance). Each ``k`` is also scored by the validation accuracy of a
logistic regression on the selected terms (fitted on the other half). The chosen
``k`` is the most stable among those whose accuracy is within ``tolerance`` of the
best: a stable subset is preferred over a marginally better one. The chosen
terms are the ``k`` most frequently selected (ties by mean F score).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..errors import DataError
from .compute import _tabular

__all__ = ["candidate_terms", "nogueira_stability", "select_terms", "Selection"]


def candidate_terms(columns: int, *, max_candidates: int = 4000) -> tuple[tuple[str, int, int], ...]:
    terms: list[tuple[str, int, int]] = [("col", i, -1) for i in range(columns)]
    for i, j in combinations(range(columns), 2):
        terms += [("ratio", i, j), ("ratio", j, i), ("prod", i, j), ("diff", i, j)]
    if len(terms) > max_candidates:
        raise DataError(f"{columns} columns give {len(terms)} constructed candidates "
                        f"(more than {max_candidates})",
                        hint="drop columns you know are irrelevant before constructing features")
    return tuple(terms)


def nogueira_stability(selected: np.ndarray) -> float:
    """Stability of ``M`` selections of ``d`` features given as a boolean ``(M, d)`` matrix."""
    z = np.asarray(selected, dtype=np.float64)
    m, d = z.shape
    if m < 2:
        raise ValueError("stability needs at least two selections")
    p = z.mean(axis=0)
    k_bar = z.sum(axis=1).mean()
    denom = (k_bar / d) * (1.0 - k_bar / d)
    if denom <= 0:  # every run chose nothing or everything: trivially identical
        return 1.0
    s2 = m / (m - 1) * p * (1.0 - p)
    return float(1.0 - s2.mean() / denom)


@dataclass(frozen=True)
class Selection:
    terms: tuple[tuple[str, int, int], ...]
    k: int
    stability: float
    accuracy: float
    table: tuple[dict, ...]           # one row per k: k, accuracy, stability
    candidates: int

    def to_dict(self) -> dict:
        return {"k": self.k, "stability": self.stability, "accuracy": self.accuracy,
                "candidates": self.candidates, "by_k": list(self.table),
                "terms": [list(t) for t in self.terms]}


def _f_scores(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.feature_selection import f_classif

    with np.errstate(all="ignore"):
        f, _ = f_classif(x, y)
    return np.nan_to_num(f, nan=0.0, posinf=0.0)


def _prepare(feats: np.ndarray) -> np.ndarray:
    """Finite, robustly scaled candidates (ratios can be huge) for scoring only."""
    x = np.nan_to_num(feats.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    med = np.median(x, axis=0)
    iqr = np.subtract(*np.percentile(x, [75, 25], axis=0))
    iqr = np.where(iqr > 0, iqr, 1.0)
    return np.clip((x - med) / iqr, -10.0, 10.0)


def select_terms(rows: np.ndarray, y: np.ndarray, *, ks: tuple[int, ...] = (4, 8, 16),
                 resamples: int = 10, tolerance: float = 0.01, seed: int = 0) -> Selection:
    """Construct candidate terms from ``rows`` (n, F) and select a stable subset for ``y``."""
    from sklearn.linear_model import LogisticRegression

    rows = np.asarray(rows, dtype=np.float32)
    y = np.asarray(y)
    terms = candidate_terms(rows.shape[1])
    x = _prepare(_tabular(rows, terms))
    d = len(terms)
    ks = tuple(sorted({min(k, d) for k in ks}))
    rng = np.random.default_rng(seed)
    n = len(y)
    splits = []
    for _ in range(resamples):
        perm = rng.permutation(n)
        splits.append((perm[: n // 2], perm[n // 2:]))
    scores = np.stack([_f_scores(x[a], y[a]) for a, _ in splits])  # (M, d)
    order = np.argsort(-scores, axis=1, kind="stable")
    rows_out = []
    for k in ks:
        chosen = np.zeros((resamples, d), dtype=bool)
        accs = []
        for r, (a, b) in enumerate(splits):
            top = order[r, :k]
            chosen[r, top] = True
            if len(np.unique(y[a])) < 2:
                continue
            clf = LogisticRegression(max_iter=500)
            clf.fit(x[a][:, top], y[a])
            accs.append(float(clf.score(x[b][:, top], y[b])))
        rows_out.append({"k": k, "accuracy": float(np.mean(accs)) if accs else 0.0,
                         "stability": nogueira_stability(chosen), "freq": chosen.mean(axis=0)})
    best = max(r["accuracy"] for r in rows_out)
    pick = max((r for r in rows_out if r["accuracy"] >= best - tolerance),
               key=lambda r: (r["stability"], -r["k"]))
    k = pick["k"]
    rank = np.lexsort((-scores.mean(axis=0), -pick["freq"]))
    top = sorted(int(i) for i in rank[:k])
    table = tuple({"k": r["k"], "accuracy": round(r["accuracy"], 4),
                   "stability": round(r["stability"], 4)} for r in rows_out)
    return Selection(terms=tuple(terms[i] for i in top), k=k, stability=pick["stability"],
                     accuracy=pick["accuracy"], table=table, candidates=d)
