"""How well the cheap screen predicts a candidate's exact int8 model bytes and tensor arena.

Draws random candidates of the built-in space for each data set, screens each one
(:func:`edgeml.search.worker.screen_model`: parameters, MACs, peak activations,
operators, output channels of the untrained model) and checks it exactly (int8
conversion, arena measured in TFLite Micro, on esp32), then fits

    model bytes ~ a * params + b * ops + c * channels + d
    arena bytes ~ a * activation_bytes + b * ops + c * channels + d

by least squares over all data sets together, and prints the coefficients, the
errors of those fits and of the coefficients edgeml ships
(:mod:`edgeml.search.proposals`), and the screen's time per candidate.

    .venv/bin/python benchmarks/screen_fit.py --datasets digits,mnist --draws 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits,mnist")
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)

    import keras_tuner as kt
    import numpy as np
    from keras_tuner.engine.base_tuner import BaseTuner

    from edgeml.data import load_dataset
    from edgeml.search import build_space
    from edgeml.search.proposals import predict
    from edgeml.search.worker import TrialContext, check_trial, screen_trials
    from edgeml.targets import load_target
    from edgeml.tflite.int8 import representative_sample

    sys.path.insert(0, str(Path(__file__).parent))
    from search_vs_keras_tuner import arrays

    target = load_target("esp32")
    screens, exact = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            x, y = arrays(name)
            ds = load_dataset({"x": x, "y": y}, seed=0)
            space = build_space(ds.kind, ds.input_shape, ds.num_classes)
            ctx = TrialContext(space=space, x_train=ds.x_train, y_train=ds.y_train,
                               x_val=ds.x_val, y_val=ds.y_val,
                               calib=representative_sample(ds.x_train, n=200, seed=0),
                               targets=(target,), seed=0, epochs=1, patience=5)
            oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"),
                                                   max_trials=1000, seed=args.seed)
            BaseTuner(oracle=oracle, hypermodel=space.build, directory=tmp, project_name=name,
                      overwrite=True)
            configs = []
            for _ in range(args.draws):
                hp = oracle.hyperparameters.copy()
                hp.values = oracle._random_values()
                configs.append(hp.get_config())
            t0 = time.perf_counter()
            res = screen_trials(ctx, configs)
            print(f"{name}: screen {(time.perf_counter() - t0) / len(configs):.3f} s per "
                  "candidate", file=sys.stderr)
            for config, screen in zip(configs, res.screens, strict=True):
                e = check_trial(ctx, config, 0).estimates[target.name]
                screens.append(screen)
                exact.append((e.model_bytes, e.arena_bytes))
    ex = np.array(exact, float)
    for col, (key, first) in enumerate((("model_bytes", "params"),
                                        ("arena_bytes", "activation_bytes"))):
        xm = np.array([[s[first], s["ops"], s["channels"], 1.0] for s in screens])
        coef, *_ = np.linalg.lstsq(xm, ex[:, col], rcond=None)
        fit = np.abs(xm @ coef - ex[:, col]) / ex[:, col]
        shipped = np.abs(np.array([predict(s)[key] for s in screens]) - ex[:, col]) / ex[:, col]
        print(f"{key}: fit {first} {coef[0]:.3f}, ops {coef[1]:.1f}, channels {coef[2]:.2f}, "
              f"constant {coef[3]:.0f}; relative error of the fit: median "
              f"{np.median(fit):.3f}, max {fit.max():.3f}; of edgeml's coefficients: median "
              f"{np.median(shipped):.3f}, max {shipped.max():.3f} ({len(screens)} candidates)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
