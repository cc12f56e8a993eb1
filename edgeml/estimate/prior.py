"""The latency prior: relative operator costs of TFLM's reference kernels.

Published latencies exist for only a few models per board, too few to fit one
coefficient per operator kind. The ratios the published data cannot determine
(``latency.calibrate``) come from this prior, which is *measured*, not
hand-written: the real TFLM reference kernels (the ``tflite-micro`` wheel's
interpreter) are timed on the host on edgeml's model corpus plus single-
operator models of several sizes (both in :mod:`.zoo`), and every coefficient
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
from pathlib import Path

from ..targets import LatencyModel, latency_toml, read_latency

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["PRIOR_PATH", "load_prior", "prior_to_toml", "time_model"]

PRIOR_PATH = Path(__file__).with_name("reference_prior.toml")


def load_prior() -> LatencyModel:
    """The measured reference-kernel prior (host nanoseconds per unit)."""
    data = tomllib.loads(PRIOR_PATH.read_text(encoding="utf-8"))
    return read_latency(data["latency"], path=PRIOR_PATH)


def time_model(model: bytes, *, budget_s: float = 0.05) -> float:
    """Host seconds per TFLM invoke (best of 5 rounds of about ``budget_s`` each)."""
    from ..tflite.tflm import run_tflm

    first = run_tflm(model, time_invokes=3).invoke_seconds or 1e-3
    reps = int(min(5000, max(3, budget_s / max(first, 1e-7))))
    return float(run_tflm(model, time_invokes=reps).invoke_seconds or first)


def prior_to_toml(model: LatencyModel, *, header: str) -> str:
    """The prior file: a ``[latency]`` table in the target-profile format."""
    return header + "\n\n" + latency_toml(model, table="latency")
