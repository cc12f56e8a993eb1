"""A trained classical model as C arrays, its C source and its float32 reference.

:func:`to_cmodel` turns a fitted scikit-learn estimator into a :class:`CModel`:
plain arrays (tree nodes and leaves, weights, Gaussian statistics) and a mode.
:meth:`CModel.c_source` writes them as ``static const`` C arrays with one
function ``int32_t <name>_predict(const float *x, float *scores)`` that
returns the class and fills ``scores`` with class probabilities;
:meth:`CModel.predict_proba` computes the same in numpy, operation for operation
in float32, so the accuracy edgeml reports is the accuracy of the C code.

Why edgeml generates this C itself instead of calling emlearn: emlearn (0.23)
converts decision trees, forests and Gaussian naive Bayes only (no gradient
boosting, no linear models), its forests vote with hard majority or 8-bit
quantized leaf proportions (so a forest's C predictions differ from
scikit-learn's soft vote), its table form takes int16 features only and its
naive Bayes is Q16 fixed point. One small generator covers all five families,
keeps scikit-learn's float decisions, and its arrays are the flash the cost model
counts.

Trees: internal nodes only are stored (feature, threshold, left, right); a
child ``c < 0`` is leaf ``-c - 1``. Going left when ``x[feature] <= threshold``
is scikit-learn's rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CModel", "to_cmodel"]


@dataclass(frozen=True)
class CModel:
    family: str
    kind: str                      # "vote" (tree/forest), "boost", "linear", "nb"
    n_features: int
    n_classes: int
    arrays: dict[str, np.ndarray] = field(repr=False)
    rows: int = 0                  # raw score rows (1 for a binary boost/linear model)
    n_trees: int = 0
    detail: str = ""

    # -- files --------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (.npz: its arrays and, as JSON, the rest)."""
        import io
        import json

        from .._io import atomic_write

        meta = {"family": self.family, "kind": self.kind, "n_features": self.n_features,
                "n_classes": self.n_classes, "rows": self.rows, "n_trees": self.n_trees,
                "detail": self.detail}
        buf = io.BytesIO()
        np.savez(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                 **self.arrays)
        return atomic_write(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> CModel:
        import json

        with np.load(Path(path)) as z:
            meta = json.loads(bytes(z["__meta__"]).decode())
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
        return cls(arrays=arrays, **meta)

    # -- size ---------------------------------------------------------------
    @property
    def data_bytes(self) -> int:
        """Bytes of the model's constant arrays (flash)."""
        return int(sum(a.nbytes for a in self.arrays.values()))

    @property
    def n_nodes(self) -> int:
        a = self.arrays.get("feature")
        return 0 if a is None else int(a.size)

    @property
    def n_leaves(self) -> int:
        if self.kind == "vote":
            return int(self.arrays["leaf"].size // self.n_classes)
        if self.kind == "boost":
            return int(self.arrays["leaf"].size)
        return 0

    # -- prediction (float32, in the C code's order) ---------------------------
    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        k, a = self.n_classes, self.arrays
        s = np.zeros((len(x), k), np.float32)
        if self.kind in ("vote", "boost"):
            if self.kind == "boost":
                s[:, k - self.rows:] = a["base"]
            rows = np.arange(len(x))
            for t in range(self.n_trees):
                n = np.full(len(x), int(a["roots"][t]), np.int64)
                live = n >= 0
                while live.any():
                    idx = n[live]
                    go_left = x[rows[live], a["feature"][idx]] <= a["threshold"][idx]
                    n[live] = np.where(go_left, a["left"][idx], a["right"][idx])
                    live = n >= 0
                leaf = -n - 1
                if self.kind == "vote":
                    s += a["leaf"].reshape(-1, k)[leaf]
                else:
                    c = int(a["tree_row"][t]) + k - self.rows
                    s[:, c] += a["leaf"][leaf]
            if self.kind == "vote":
                s = s / np.float32(self.n_trees)
            return s
        if self.kind == "linear":
            w = a["weight"].reshape(self.rows, self.n_features)
            acc = np.broadcast_to(a["bias"], (len(x), self.rows)).copy()
            for f in range(self.n_features):
                acc += x[:, f:f + 1] * w[:, f]
            s[:, k - self.rows:] = acc
            return s
        if self.kind == "nb":
            mean = a["mean"].reshape(k, self.n_features)
            inv = a["inv2var"].reshape(k, self.n_features)
            acc = np.broadcast_to(a["const"], (len(x), k)).copy()
            for f in range(self.n_features):
                d = x[:, f:f + 1] - mean[:, f]
                acc -= d * d * inv[:, f]
            return acc
        raise ValueError(self.kind)

    def nodes_visited(self, x: np.ndarray) -> float:
        """Mean number of internal nodes one prediction visits (over all trees) on ``x``."""
        if self.kind not in ("vote", "boost") or len(x) == 0:
            return 0.0
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        a, total = self.arrays, 0
        rows = np.arange(len(x))
        for t in range(self.n_trees):
            n = np.full(len(x), int(a["roots"][t]), np.int64)
            live = n >= 0
            while live.any():
                total += int(live.sum())
                idx = n[live]
                go_left = x[rows[live], a["feature"][idx]] <= a["threshold"][idx]
                n[live] = np.where(go_left, a["left"][idx], a["right"][idx])
                live = n >= 0
        return total / len(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.raw_scores(x), axis=1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        s = self.raw_scores(x).astype(np.float64)
        if self.kind == "vote":
            return s
        s = s - s.max(axis=1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=1, keepdims=True)

    # -- C ------------------------------------------------------------------
    def c_source(self, name: str) -> str:
        """C99 source defining ``int32_t <name>_predict(const float *x, float *scores)``."""
        out = [f"/* {self.detail or self.family}: generated by edgeml */",
               "#include <math.h>", "#include <stdint.h>", ""]
        for key, arr in self.arrays.items():
            out.append(_c_array(f"{name}_{key}", arr))
        k, rows = self.n_classes, self.rows
        body: list[str] = [f"int32_t {name}_predict(const float *x, float *scores) {{"]
        body.append(f"  for (int c = 0; c < {k}; ++c) scores[c] = 0.0f;")
        if self.kind in ("vote", "boost"):
            if self.kind == "boost":
                body.append(f"  for (int c = 0; c < {rows}; ++c) scores[{k - rows} + c] = "
                            f"{name}_base[c];")
            body += [f"  for (int t = 0; t < {self.n_trees}; ++t) {{",
                     f"    int32_t n = {name}_roots[t];",
                     f"    while (n >= 0) n = (x[{name}_feature[n]] <= {name}_threshold[n]) ? "
                     f"{name}_left[n] : {name}_right[n];",
                     "    const int32_t leaf = -n - 1;"]
            if self.kind == "vote":
                body.append(f"    for (int c = 0; c < {k}; ++c) scores[c] += "
                            f"{name}_leaf[leaf * {k} + c];")
            else:
                body.append(f"    scores[{k - rows} + {name}_tree_row[t]] += {name}_leaf[leaf];")
            body.append("  }")
            if self.kind == "vote":
                body.append(f"  for (int c = 0; c < {k}; ++c) scores[c] = scores[c] / "
                            f"{_c_float(np.float32(self.n_trees))};")
        elif self.kind == "linear":
            body += [f"  for (int r = 0; r < {rows}; ++r) {{",
                     f"    float acc = {name}_bias[r];",
                     f"    for (int f = 0; f < {self.n_features}; ++f) acc += x[f] * "
                     f"{name}_weight[r * {self.n_features} + f];",
                     f"    scores[{k - rows} + r] = acc;", "  }"]
        elif self.kind == "nb":
            body += [f"  for (int c = 0; c < {k}; ++c) {{",
                     f"    float acc = {name}_const[c];",
                     f"    for (int f = 0; f < {self.n_features}; ++f) {{",
                     f"      const float d = x[f] - {name}_mean[c * {self.n_features} + f];",
                     f"      acc -= d * d * {name}_inv2var[c * {self.n_features} + f];",
                     "    }", "    scores[c] = acc;", "  }"]
        body += ["  int32_t best = 0;",
                 f"  for (int c = 1; c < {k}; ++c) if (scores[c] > scores[best]) best = c;"]
        if self.kind != "vote":  # raw scores -> probabilities (softmax; monotone: same class)
            body += ["  const float top = scores[best];", "  float total = 0.0f;",
                     f"  for (int c = 0; c < {k}; ++c) {{ scores[c] = expf(scores[c] - top); "
                     "total += scores[c]; }",
                     f"  for (int c = 0; c < {k}; ++c) scores[c] /= total;"]
        body += ["  return best;", "}", ""]
        return "\n".join(out + body)


def _c_float(v: Any) -> str:
    f = float(np.float32(v))
    if not np.isfinite(f):
        raise ValueError(f"non-finite model parameter {f}")
    text = f"{f:.9g}"
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


_C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.int16): "int16_t",
            np.dtype(np.int32): "int32_t", np.dtype(np.uint8): "uint8_t"}


def _c_array(name: str, arr: np.ndarray) -> str:
    ctype = _C_TYPES[arr.dtype]
    flat = arr.reshape(-1)
    if ctype == "float":
        items = [_c_float(v) for v in flat]
    else:
        items = [str(int(v)) for v in flat]
    if not items:
        items = ["0"]
    lines = [", ".join(items[i:i + 8]) for i in range(0, len(items), 8)]
    return f"static const {ctype} {name}[{max(1, flat.size)}] = {{\n  " + ",\n  ".join(lines) + "\n};\n"


# --------------------------------------------------------------------------- conversion
def _index_dtype(count: int) -> Any:
    return np.int16 if count < 2 ** 15 else np.int32


def _flatten_trees(trees: list[Any], leaf_value: Any) -> dict[str, np.ndarray]:
    """Internal nodes of all trees in one table; leaves in another (``leaf_value(tree, node)``
    gives a leaf's values)."""
    feature, threshold, left, right, roots, leaves = [], [], [], [], [], []
    for tree in trees:
        t = tree.tree_
        internal: dict[int, int] = {}
        leaf_of: dict[int, int] = {}
        for node in range(t.node_count):
            if t.children_left[node] == -1:
                leaf_of[node] = len(leaves)
                leaves.append(leaf_value(t, node))
            else:
                internal[node] = len(feature) + len(internal)

        def ref(node: int, internal: dict[int, int] = internal,
                leaf_of: dict[int, int] = leaf_of) -> int:
            return internal[node] if node in internal else -leaf_of[node] - 1

        roots.append(ref(0))
        for node in sorted(internal, key=internal.get):
            feature.append(int(t.feature[node]))
            threshold.append(float(t.threshold[node]))
            left.append(ref(int(t.children_left[node])))
            right.append(ref(int(t.children_right[node])))
    idx = _index_dtype(max(len(feature), len(leaves)) + 1)
    return {"feature": np.asarray(feature, np.int16 if max(feature, default=0) < 2 ** 15
                                  else np.int32),
            "threshold": _floor32(np.asarray(threshold, np.float64)),
            "left": np.asarray(left, idx), "right": np.asarray(right, idx),
            "roots": np.asarray(roots, np.int32),
            "leaf": np.asarray(leaves, np.float32).reshape(-1)}


def _floor32(thr: np.ndarray) -> np.ndarray:
    """The largest float32 at or below each float64 threshold: for a float32 input ``x``,
    ``x <= thr`` (scikit-learn compares in double) holds exactly when ``x <= floor32(thr)``."""
    f = thr.astype(np.float32)
    up = f.astype(np.float64) > thr
    f[up] = np.nextafter(f[up], np.float32(-np.inf))
    return f


def to_cmodel(est: Any, *, family: str, n_classes: int) -> CModel:
    """The :class:`CModel` of a fitted estimator over classes ``0..n_classes-1``."""
    classes = np.asarray(est.classes_).astype(int)
    n_features = int(est.n_features_in_)
    k = int(n_classes)
    name = type(est).__name__
    if family in ("tree", "forest"):
        trees = list(getattr(est, "estimators_", [est]))

        def vote(t: Any, node: int) -> np.ndarray:
            v = np.asarray(t.value[node, 0], np.float64)
            v = v / v.sum() if v.sum() > 0 else v
            full = np.zeros(k)
            full[classes] = v
            return full

        arrays = _flatten_trees(trees, vote)
        return CModel(family, "vote", n_features, k, arrays, rows=k, n_trees=len(trees),
                      detail=f"{name}, {len(trees)} tree(s)")
    if family == "gbt":
        stages = est.estimators_
        rows = stages.shape[1]
        if rows != (1 if len(classes) == 2 else len(classes)) or len(classes) != k:
            raise ValueError("gradient boosting over a subset of the classes")
        lr = float(est.learning_rate)
        trees, tree_row = [], []
        for stage in stages:
            for r, tree in enumerate(stage):
                trees.append(tree)
                tree_row.append(r)
        arrays = _flatten_trees(trees, lambda t, node: lr * float(t.value[node, 0, 0]))
        x0 = np.zeros((1, n_features))
        raw0 = np.asarray(est.decision_function(x0), np.float64).reshape(-1)
        trees_at_0 = np.zeros(rows)
        for tree, r in zip(trees, tree_row, strict=True):
            trees_at_0[r] += lr * float(tree.predict(x0)[0])
        arrays["base"] = (raw0 - trees_at_0).astype(np.float32)
        arrays["tree_row"] = np.asarray(tree_row, np.int16 if rows < 2 ** 15 else np.int32)
        return CModel(family, "boost", n_features, k, arrays, rows=rows, n_trees=len(trees),
                      detail=f"{name}, {len(trees)} tree(s)")
    if family == "linear":
        coef = np.asarray(est.coef_, np.float64)
        if len(classes) != k:
            raise ValueError("a linear model over a subset of the classes")
        arrays = {"weight": coef.astype(np.float32).reshape(-1),
                  "bias": np.asarray(est.intercept_, np.float32).reshape(-1)}
        return CModel(family, "linear", n_features, k, arrays, rows=coef.shape[0],
                      detail=name)
    if family == "nb":
        var = np.asarray(est.var_, np.float64)
        mean = np.asarray(est.theta_, np.float64)
        const = np.log(est.class_prior_) - 0.5 * np.sum(np.log(2.0 * np.pi * var), axis=1)
        full = lambda a, fill: _expand(a, classes, k, fill)  # noqa: E731
        arrays = {"mean": full(mean, 0.0).astype(np.float32).reshape(-1),
                  "inv2var": full(0.5 / var, 0.0).astype(np.float32).reshape(-1),
                  "const": full(const[:, None], -1e30).astype(np.float32).reshape(-1)}
        return CModel(family, "nb", n_features, k, arrays, rows=k, detail=name)
    raise ValueError(f"unknown classical family {family!r}")


def _expand(a: np.ndarray, classes: np.ndarray, k: int, fill: float) -> np.ndarray:
    out = np.full((k, a.shape[1]), fill, np.float64)
    out[classes] = a
    return out
