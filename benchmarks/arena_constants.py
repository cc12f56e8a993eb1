"""Re-derive the analytic arena's tail constants from the host TFLM interpreter.

    nice .venv/bin/python benchmarks/arena_constants.py [--json]

edgeml/estimate/arena.py plans the arena without TFLM (where the wheel cannot
be installed). Its head is an exact replica of TFLM's greedy planner; its tail
(persistent structures) needs two measured constants: ``_TAIL_BASE`` (the
allocator objects and the rest of the fixed tail) and, per operator kind, the
bytes of the kernel's op data and parsed builtin options (``_OP_DATA``). The
tail formula uses each operator's pair only as the sum
``c[op] = options + 16-aligned op data``.

This script builds edgeml's model corpus and single-operator models (several
sizes per kind), runs each in the real TFLM interpreter (no bisection: only
the recording allocator's tail is needed) and solves, by least squares over
all models,

    tail(measured) - known(graph) = BASE + sum over the model's operators of c[op]

where ``known`` is every part of the analytic tail computed from the graph
alone (eval tensors, nodes, per-channel arrays, scratch handles, input and
output tensors). It prints the derived constants next to the table and the
tail residuals of both (TFLM's 16-byte alignment of each persistent buffer
makes the true relation only piecewise linear, so neither is exact). Operator
kinds that only occur together with another kind in the corpus (RELU6 with
HARD_SWISH, PAD with CONV_2D) are poorly determined by this fit: read their
derived values with care.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    import numpy as np

    from edgeml.estimate import arena, zoo
    from edgeml.estimate.zoo import single_op_names
    from edgeml.tflite.graph import read_graph
    from edgeml.tflite.tflm import run_tflm_batch, tflm_available

    if not tflm_available():
        print("tflite-micro is not installed: nothing to measure", file=sys.stderr)
        return 1
    items = [("corpus", n) for n in zoo.corpus_names()]
    items += [("single", n) for n in single_op_names()]
    models = [zoo.cached_model(kind, name) for kind, name in items]
    runs = run_tflm_batch(models, bisect=False)

    def table_c(op: str) -> int:
        data, options = arena._OP_DATA.get(op, arena._DEFAULT_OP_DATA)
        return options + arena._up(data)

    kinds = sorted({op for m in models for op in read_graph(m).op_names})
    rows, ys, names = [], [], []
    for (kind, name), model, run in zip(items, models, runs, strict=True):
        if isinstance(run, Exception):
            print(f"skipped {kind}:{name}: {run}", file=sys.stderr)
            continue
        graph = read_graph(model)
        _, _, tail, _ = arena.analytic_arena(graph)
        known = tail - arena._TAIL_BASE - sum(table_c(op.op) for op in graph.ops)
        counts = [sum(op.op == k for op in graph.ops) for k in kinds]
        rows.append([1, *counts])
        ys.append(run.tail_bytes - known)
        names.append(f"{kind}:{name}")
    a, y = np.array(rows, dtype=float), np.array(ys, dtype=float)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    rank = int(np.linalg.matrix_rank(a))
    residual = y - a @ coef
    derived = {"_TAIL_BASE": round(float(coef[0]), 2),
               "per_operator": {k: round(float(c), 2) for k, c in zip(kinds, coef[1:], strict=True)}}
    table = {"_TAIL_BASE": arena._TAIL_BASE, "per_operator": {k: table_c(k) for k in kinds}}
    table_coef = np.array([arena._TAIL_BASE, *(table_c(k) for k in kinds)], dtype=float)
    table_residual = y - a @ table_coef
    worst = int(np.argmax(np.abs(residual)))
    worst_table = int(np.argmax(np.abs(table_residual)))
    result = {"models": len(names), "unknowns": a.shape[1], "rank": rank,
              "derived": derived, "table": table,
              "worst_residual_bytes": round(float(residual[worst]), 2),
              "worst_model": names[worst],
              "table_worst_residual_bytes": round(float(table_residual[worst_table]), 2),
              "table_worst_model": names[worst_table],
              "table_median_abs_residual_bytes": float(np.median(np.abs(table_residual)))}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{len(names)} models, {a.shape[1]} unknowns, rank {rank}")
    print(f"{'constant':<28}{'derived':>10}{'table':>10}")
    print(f"{'_TAIL_BASE':<28}{derived['_TAIL_BASE']:>10}{table['_TAIL_BASE']:>10}")
    for k in kinds:
        print(f"{'c[' + k + ']':<28}{derived['per_operator'][k]:>10}"
              f"{table['per_operator'][k]:>10}")
    print(f"tail residual, derived constants: worst {result['worst_residual_bytes']} bytes "
          f"({result['worst_model']})")
    print(f"tail residual, the table: worst {result['table_worst_residual_bytes']} bytes "
          f"({result['table_worst_model']}), median "
          f"{result['table_median_abs_residual_bytes']:.0f} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
