"""Budget-aware proposals: which of a few drafted candidates the oracle proposes.

Within a memory budget the most accurate models use most of it (MCUNet's
finding), while random draws land mostly far below the limits. The search
therefore lets its oracle draft ``proposals`` candidates at once, screens each
one cheaply (:func:`edgeml.search.worker.screen_model`: parameters, MACs, peak
activations of the untrained model, about 0.1 s, no int8 conversion, no TFLM),
and proposes the draft that :func:`choose` ranks best:

* the screen's numbers become predicted int8 model bytes and tensor-arena bytes
  (:func:`predict`: linear fits over 20 random candidates of the built-in image
  space on digits, measured exactly on esp32; ``benchmarks/screen_fit.py``
  refits and checks them: on digits and MNIST model bytes come within a few
  percent, the arena within about 20% before calibration);
* each prediction is scaled by the median ratio of measured to predicted bytes
  over the candidates this search has checked exactly so far (:func:`calibration`);
* the prediction is approximate, and a draft that breaks a limit costs an exact
  check (about a second: int8 conversion, TFLM) and trains nothing. Each draft's
  chance to fit is the chance that the measured bytes stay under every limit, with
  the measured / predicted ratio log-normal around the calibrated prediction: its
  spread (:func:`spread`) starts from :data:`SPREAD` and moves to what this
  search's exact checks showed. A draft whose architecture was checked already is
  judged by its exact costs (one that broke a limit is never proposed again with
  other training values);
* of the drafts at least as likely to fit as not (:data:`MIN_CHANCE`), the one with
  the largest expected share of the budget (geometric mean over the limits of
  predicted use / limit, times its chance to fit) is proposed: near the limits, but
  not so near that proposals keep breaking one (each costs a check and trains
  nothing). When no draft is that likely to fit, the most likely one is proposed, so
  the search does not keep proposing candidates that do not fit.

Latency is not predicted: a latency limit is left to the exact check.

Plain numbers only (no TensorFlow); the oracle side is :mod:`.oracles`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..estimate import Limits
from ..targets import Target

__all__ = ["SPREAD", "MIN_CHANCE", "budget", "predict", "calibration", "spread", "fit_chance", "use",
           "architecture", "choose", "summary"]

#: standard deviation of log(measured / predicted bytes) before this search checked
#: anything (benchmarks/screen_fit.py: model bytes within a few percent, the arena within
#: about 20%); it counts as PRIOR_WEIGHT checks in :func:`spread`
SPREAD = {"model_bytes": 0.05, "arena_bytes": 0.15}
PRIOR_WEIGHT = 2.0
#: a draft less likely to fit than this is proposed only when no draft is more likely
MIN_CHANCE = 0.5

# predicted int8 .tflite bytes: weights + per operator + per output channel (bias, scales)
_MODEL = {"params": 1.0, "ops": 407.0, "channels": 22.75, "const": 294.0}
# predicted tensor arena (32-bit target): activations + per operator + per channel + fixed
_ARENA = {"activation_bytes": 0.58, "ops": 111.0, "channels": 10.4, "const": 1339.0}


def _linear(coef: dict[str, float], screen: dict[str, Any]) -> float:
    return sum(w * float(screen.get(k, 0)) for k, w in coef.items() if k != "const") \
        + coef["const"]


def predict(screen: dict[str, Any], scale: dict[str, float] | None = None) -> dict[str, float]:
    """Predicted ``model_bytes`` and ``arena_bytes`` of a screened candidate; ``scale``
    corrects each by what this search's exact checks measured (:func:`calibration`)."""
    sc = scale or {}
    return {"model_bytes": round(_linear(_MODEL, screen) * sc.get("model_bytes", 1.0)),
            "arena_bytes": round(_linear(_ARENA, screen) * sc.get("arena_bytes", 1.0))}


def calibration(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, float]:
    """Scale factors for :func:`predict` from (screen, exact costs) pairs of checked
    candidates: the median of measured / predicted for each limit (1.0 with no pairs)."""
    out: dict[str, float] = {}
    for key in ("model_bytes", "arena_bytes"):
        ratios = sorted(float(costs[key]) / max(predict(screen)[key], 1.0)
                        for screen, costs in pairs if costs.get(key))
        if ratios:
            mid = len(ratios) // 2
            out[key] = ratios[mid] if len(ratios) % 2 else 0.5 * (ratios[mid - 1] + ratios[mid])
    return out


def spread(pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
           scale: dict[str, float] | None = None) -> dict[str, float]:
    """Standard deviation of log(measured / calibrated prediction) for each limit: the
    checked candidates' (screen, exact costs) ``pairs`` pooled with :data:`SPREAD`."""
    out: dict[str, float] = {}
    for key, prior in SPREAD.items():
        logs = [math.log(float(costs[key]) / max(predict(screen, scale)[key], 1.0))
                for screen, costs in pairs if costs.get(key)]
        var = (sum(v * v for v in logs) + PRIOR_WEIGHT * prior * prior) \
            / (len(logs) + PRIOR_WEIGHT)
        out[key] = math.sqrt(var)
    return out


def fit_chance(shares: dict[str, float], sigma: dict[str, float] | None = None) -> float:
    """The chance that a candidate predicted to use ``shares`` of the limits fits them all
    (log-normal errors of spread ``sigma``, :data:`SPREAD` when not given)."""
    sig = sigma or SPREAD
    p = 1.0
    for key, share in shares.items():
        z = -math.log(max(share, 1e-12)) / max(sig.get(key, SPREAD.get(key, 0.1)), 1e-6)
        p *= 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    return p


def budget(targets: Sequence[Target], limits: Limits) -> dict[str, float]:
    """The tightest model-bytes and arena limits over the targets (what every target allows)."""
    model = min(float(t.model_flash_budget) for t in targets)
    arena = min(float(t.arena_budget) for t in targets)
    if limits.max_model_bytes is not None:
        model = min(model, float(limits.max_model_bytes))
    if limits.max_arena_bytes is not None:
        arena = min(arena, float(limits.max_arena_bytes))
    return {"model_bytes": model, "arena_bytes": arena}


def use(screen: dict[str, Any], limits: dict[str, float],
        scale: dict[str, float] | None = None) -> dict[str, float]:
    """Predicted share of each limit a screened candidate uses."""
    pred = predict(screen, scale)
    return {k: pred[k] / max(limits[k], 1.0) for k in limits}


def architecture(screen: dict[str, Any]) -> str:
    """What identifies a candidate's architecture in its screen (training values aside)."""
    return ",".join(str(screen.get(k)) for k in ("params", "macs", "activation_bytes", "ops",
                                                 "channels"))


def choose(screens: Sequence[dict[str, Any] | None], limits: dict[str, float], *,
           scale: dict[str, float] | None = None, sigma: dict[str, float] | None = None,
           known: dict[str, dict[str, Any]] | None = None) -> int:
    """Index of the draft to propose (see the module docstring); a draft whose build
    failed (None) is proposed only when every draft failed (the exact check then says why).
    ``sigma``: :func:`spread`; ``known``: exact costs of architectures checked already
    (:func:`architecture` -> costs); such a draft is judged by them (it fits or not)."""
    scored: list[tuple[int, float, float, float]] = []  # index, chance, worst share, expected
    for i, s in enumerate(screens):
        if s is None:
            continue
        exact = (known or {}).get(architecture(s))
        if exact is not None and all(exact.get(k) for k in limits):
            u = {k: float(exact[k]) / max(limits[k], 1.0) for k in limits}
            if max(u.values()) > 1.0:  # it broke a limit: never again
                continue
            chance = 1.0
        else:
            u = use(s, limits, scale)
            chance = fit_chance(u, sigma)
        gmean = math.exp(sum(math.log(max(v, 1e-9)) for v in u.values()) / len(u))
        scored.append((i, chance, max(u.values()), gmean * chance))
    if not scored:
        return 0
    likely = [r for r in scored if r[1] >= MIN_CHANCE]
    if likely:
        return max(likely, key=lambda r: (r[3], -r[0]))[0]
    # the worst share breaks ties of chance (all far over a limit: the smallest)
    return max(scored, key=lambda r: (r[1], -r[2], -r[0]))[0]


def summary(screen: dict[str, Any] | None, limits: dict[str, float], drafts: int,
            scale: dict[str, float] | None = None,
            sigma: dict[str, float] | None = None) -> dict[str, Any] | None:
    """What a trial records about its screen: the numbers, the prediction, the shares."""
    if screen is None:
        return None
    shares = use(screen, limits, scale)
    return {**{k: screen[k] for k in ("params", "macs", "activation_bytes", "ops", "channels")
               if k in screen},
            "predicted": predict(screen, scale),
            "use": {k: round(v, 3) for k, v in shares.items()},
            "fit_chance": round(fit_chance(shares, sigma), 3),
            "drafts": int(drafts)}
