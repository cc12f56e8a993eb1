"""The latency prior: relative operator costs of TFLM's reference kernels.

Published latencies exist for only a few models per board, too few to fit one
coefficient per operator kind. The ratios the published data cannot determine
(``latency.calibrate``) come from this prior, which is *measured*, not
hand-written: the real TFLM reference kernels (the ``tflite-micro`` wheel's
interpreter) are timed on the host on edgeml's model corpus plus single-
operator models of several sizes, and every coefficient
(``mac``/``element``/``fixed`` per operator kind, plus the invoke overhead) is
fitted to those timings with the same non-negative least squares the
calibration uses. The result is stored in ``reference_prior.toml`` next to
this file, in host nanoseconds (= cycles of a 1 GHz clock); only its ratios
matter, since every target's calibration rescales it.

``benchmarks/latency_prior.py`` re-measures it and reports the model's
leave-one-out error on the host, i.e. how well the cost-model *form* predicts
an unseen model when every coefficient is known.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..targets import LatencyModel, OpCost

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["PRIOR_PATH", "load_prior", "single_op_names", "single_op_model", "prior_to_toml",
           "time_model"]

PRIOR_PATH = Path(__file__).with_name("reference_prior.toml")


def load_prior() -> LatencyModel:
    """The measured reference-kernel prior (host nanoseconds per unit)."""
    data = tomllib.loads(PRIOR_PATH.read_text(encoding="utf-8"))
    lat = data["latency"]
    ops = {k.upper(): OpCost(**{kk: float(vv) for kk, vv in v.items()})
           for k, v in lat.get("ops", {}).items()}
    return LatencyModel(ops=ops, default=OpCost(**{k: float(v) for k, v in lat["default"].items()}),
                        invoke_overhead=float(lat.get("invoke_overhead", 0.0)),
                        source=str(lat.get("source", "")), calibrated=True,
                        calibration=dict(lat.get("calibration", {})))


def _single_ops() -> dict[str, Callable[[Any], Any]]:
    """name -> builder(keras) of a model with one operator (several sizes each)."""
    out: dict[str, Callable[[Any], Any]] = {}

    def reg(name: str, shape: tuple[int, ...], layer: Callable[[Any, Any], Any]) -> None:
        def build(k: Any) -> Any:
            i = k.Input(shape, name="x")
            return k.Model(i, layer(k, i))
        out[name] = build

    for h, c, f, ks, s in ((16, 8, 16, 3, 1), (8, 32, 32, 1, 1), (24, 3, 8, 5, 2),
                           (12, 16, 8, 3, 2), (20, 4, 24, 3, 1)):
        reg(f"conv_{h}x{c}_{f}k{ks}s{s}", (h, h, c),
            lambda k, i, f=f, ks=ks, s=s: k.layers.Conv2D(f, ks, strides=s, padding="same")(i))
    for h, c, ks, s in ((16, 16, 3, 1), (24, 8, 3, 2), (8, 64, 3, 1), (10, 8, 5, 1)):
        reg(f"dw_{h}x{c}_k{ks}s{s}", (h, h, c),
            lambda k, i, ks=ks, s=s: k.layers.DepthwiseConv2D(ks, strides=s, padding="same")(i))
    for n, u in ((64, 32), (300, 128), (16, 256), (640, 8), (128, 128)):
        reg(f"fc_{n}_{u}", (n,), lambda k, i, u=u: k.layers.Dense(u)(i))
    for h, c, p, s in ((16, 16, 2, 2), (8, 32, 8, 8), (24, 4, 3, 2), (32, 8, 2, 1)):
        reg(f"avgpool_{h}x{c}_p{p}s{s}", (h, h, c),
            lambda k, i, p=p, s=s: k.layers.AveragePooling2D(p, strides=s)(i))
        reg(f"maxpool_{h}x{c}_p{p}s{s}", (h, h, c),
            lambda k, i, p=p, s=s: k.layers.MaxPooling2D(p, strides=s)(i))
    for h, c in ((8, 32), (24, 8), (4, 128), (12, 64)):
        reg(f"mean_{h}x{c}", (h, h, c), lambda k, i: k.layers.GlobalAveragePooling2D()(i))
    for shape in ((16, 16, 8), (8, 8, 32), (64,), (48, 48, 4)):
        tag = "x".join(map(str, shape))
        reg(f"add_{tag}", shape, lambda k, i: k.layers.Add()([i, k.layers.ReLU()(i)]))
        reg(f"mul_{tag}", shape, lambda k, i: k.layers.Multiply()([i, i]))
        reg(f"sub_{tag}", shape, lambda k, i: k.layers.Subtract()([i, k.layers.ReLU()(i)]))
        reg(f"max_{tag}", shape, lambda k, i: k.layers.Maximum()([i, k.layers.ReLU(6.0)(i)]))
        reg(f"min_{tag}", shape, lambda k, i: k.layers.Minimum()([i, k.layers.ReLU(6.0)(i)]))
    for shape in ((16, 16, 8), (256,), (64, 64, 4)):
        tag = "x".join(map(str, shape))
        reg(f"relu_{tag}", shape, lambda k, i: k.layers.ReLU()(i))
        reg(f"relu6_{tag}", shape, lambda k, i: k.layers.ReLU(6.0)(i))
        reg(f"leaky_{tag}", shape, lambda k, i: k.layers.LeakyReLU(0.2)(i))
        reg(f"sigmoid_{tag}", shape, lambda k, i: k.layers.Activation("sigmoid")(i))
        reg(f"tanh_{tag}", shape, lambda k, i: k.layers.Activation("tanh")(i))
        reg(f"hswish_{tag}", shape, lambda k, i: k.layers.Lambda(
            lambda t: t * k.backend.relu(t + 3.0, max_value=6.0) / 6.0)(i))
        reg(f"reshape_{tag}", shape, lambda k, i: k.layers.Reshape((-1, 4))(i))
    for n in (10, 100, 400):
        reg(f"softmax_{n}", (n,), lambda k, i: k.layers.Softmax()(i))
    for h, c in ((16, 8), (8, 32), (32, 4)):
        reg(f"concat_{h}x{c}", (h, h, c),
            lambda k, i: k.layers.Concatenate()([i, k.layers.ReLU()(i)]))
        reg(f"pad_{h}x{c}", (h, h, c), lambda k, i: k.layers.ZeroPadding2D(2)(i))
        reg(f"resize_{h}x{c}", (h, h, c), lambda k, i: k.layers.UpSampling2D(2)(i))
        reg(f"tconv_{h}x{c}", (h, h, c),
            lambda k, i: k.layers.Conv2DTranspose(8, 3, strides=2, padding="same")(i))
    return out


def single_op_names() -> list[str]:
    return list(_single_ops())


def single_op_model(name: str, *, seed: int = 0) -> bytes:
    from .._tf import keras, set_seed
    from .zoo import to_int8

    set_seed(seed)
    return to_int8(_single_ops()[name](keras()), seed=seed)


def time_model(model: bytes, *, budget_s: float = 0.05) -> float:
    """Host seconds per TFLM invoke (best of 5 rounds of about ``budget_s`` each)."""
    from .tflm import run_tflm

    first = run_tflm(model, time_invokes=3).invoke_seconds or 1e-3
    reps = int(min(5000, max(3, budget_s / max(first, 1e-7))))
    return float(run_tflm(model, time_invokes=reps).invoke_seconds or first)


def prior_to_toml(model: LatencyModel, *, header: str) -> str:
    """The prior file: a ``[latency]`` table in the target-profile format."""
    from .profile_io import latency_toml

    return header + "\n\n" + latency_toml(model, table="latency")
