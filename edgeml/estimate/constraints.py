"""The constraints a model must meet on a target, in one table.

Each :class:`Constraint` says what it measures and in which unit, how the
amount used is computed from an :class:`~.result.Estimate` and the
:class:`~edgeml.targets.Target`, where its limit comes from (the target's own
budget, or the :class:`Limits` field the user sets) and how a broken one is
described. The search (:func:`violations`), its "nothing fits" message,
``edgeml profile`` and the validation of a run's settings all read
:data:`CONSTRAINTS`; the command line maps each ``Limits`` field to its own
option (``edgeml.cli``), the library names the field.

Violations follow optuna's convention: a value ``<= 0`` is met, ``> 0`` is the
amount over the limit, in the constraint's unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import EdgeMLError
from ..targets import Target
from .result import Estimate

__all__ = ["Limits", "Constraint", "CONSTRAINTS", "violations", "feasible", "describe_violation",
           "limit_fields", "check_limits", "check_fields"]

KB = 1024.0


@dataclass(frozen=True)
class Limits:
    """The user's own budget on top of the target's limits (None = no limit)."""

    max_arena_bytes: int | None = None
    max_model_bytes: int | None = None
    max_latency_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Constraint:
    """One named constraint: an amount of the estimate against a limit."""

    name: str                  # the key in violations() and in trial records
    what: str                  # what is measured, in words
    unit: str                  # "bytes", "ms" or "count"
    used: Callable[[Estimate, Target], float]
    limit: Callable[[Target, Limits], float | None]   # None: not checked
    limit_field: str | None = None   # the Limits field that sets the limit; None: the target
    budget: str = ""                 # for target limits: the target's budget, in words
    phrase: Callable[[Estimate], str] | None = None   # a broken count-constraint, in words

    def violation(self, est: Estimate, target: Target, limits: Limits) -> float | None:
        limit = self.limit(target, limits)
        return None if limit is None else float(self.used(est, target) - limit)

    def source(self, target: Target) -> str:
        """Where the limit comes from: the ``Limits`` field, or the target's budget."""
        return self.limit_field or f"{target.name}'s {self.budget}"

    def amount(self, value: float) -> str:
        if self.unit == "bytes":
            return f"{value / KB:.1f} KB"
        if self.unit == "ms":
            return f"{value:.2f} ms"
        return f"{value:g}"

    def needs(self, used: float, limit: float) -> str:
        """``needs 41.0 KB RAM (tensor arena); limit is 32.0 KB``."""
        return f"needs {self.amount(used)} {self.what}; limit is {self.amount(limit)}"


def _flash_used(est: Estimate, target: Target) -> float:
    """The model's flash: the ``.tflite`` bytes plus its kernels' code (the TFLM core
    is part of the target's reservation, not of the model's budget)."""
    return float(est.model_bytes + est.code_bytes - target.runtime_flash_bytes)


def _ops_phrase(est: Estimate) -> str:
    layers = ", ".join(est.unsupported_layers[:3])
    return (f"operators {', '.join(est.unsupported_ops)} (layer {layers}) are not in "
            f"{est.target}'s runtime")


CONSTRAINTS: dict[str, Constraint] = {c.name: c for c in (
    Constraint("flash_bytes", "flash (model + kernels)", "bytes", _flash_used,
               lambda t, lim: t.model_flash_budget, budget="model flash budget"),
    Constraint("arena_bytes", "RAM (tensor arena)", "bytes",
               lambda e, t: float(e.arena_bytes), lambda t, lim: t.arena_budget,
               budget="arena budget"),
    Constraint("unsupported_ops", "operators the runtime lacks", "count",
               lambda e, t: float(len(e.unsupported_ops)), lambda t, lim: 0,
               budget="runtime", phrase=_ops_phrase),
    Constraint("int8", "non-int8 model", "count",
               # a classical model (C arrays + plain C, see edgeml.classical) runs no TFLM kernel
               lambda e, t: 0.0 if e.int8 or e.source == "classical" else 1.0,
               lambda t, lim: 0 if t.int8_only else None,
               budget="int8-only kernels",
               phrase=lambda e: "model is not fully int8 but the target runs int8 kernels only"),
    Constraint("max_model_bytes", "flash (model)", "bytes",
               lambda e, t: float(e.model_bytes), lambda t, lim: lim.max_model_bytes,
               limit_field="max_model_bytes"),
    Constraint("max_arena_bytes", "RAM (tensor arena)", "bytes",
               lambda e, t: float(e.arena_bytes), lambda t, lim: lim.max_arena_bytes,
               limit_field="max_arena_bytes"),
    Constraint("max_latency_ms", "latency", "ms",
               lambda e, t: float(e.latency_ms), lambda t, lim: lim.max_latency_ms,
               limit_field="max_latency_ms"),
)}


def limit_fields() -> dict[str, Constraint]:
    """``Limits`` field -> the constraint it sets (every field sets exactly one)."""
    return {c.limit_field: c for c in CONSTRAINTS.values() if c.limit_field}


def check_limits(limits: Limits) -> None:
    """Every limit the user set is a positive number (in its constraint's unit)."""
    for name, c in limit_fields().items():
        value = getattr(limits, name)
        if value is not None and not value > 0:
            raise EdgeMLError(f"{name} must be a positive number of {c.unit} (got {value:g})",
                              hint=f"leave {name} unset to use the target's own limit",
                              limit=name)


def violations(target: Target, est: Estimate, limits: Limits | None = None) -> dict[str, float]:
    """Named constraints; a value ``<= 0`` is met, ``> 0`` is the amount over."""
    limits = limits or Limits()
    out: dict[str, float] = {}
    for c in CONSTRAINTS.values():
        v = c.violation(est, target, limits)
        if v is not None:
            out[c.name] = v
    return out


def feasible(v: dict[str, float]) -> bool:
    return all(value <= 0 for value in v.values())


def describe_violation(name: str, amount: float, est: Estimate, target: Target) -> str:
    """One human phrase for a broken constraint (``amount`` over its limit)."""
    c = CONSTRAINTS.get(name)
    if c is None:
        return f"{name} over by {amount:g}"
    if c.phrase is not None:
        return c.phrase(est)
    used = c.used(est, target)
    return f"{c.needs(used, used - amount)} ({c.source(target)})"


def check_fields(ests: dict[str, Estimate], targets: Sequence[Target], limits: Limits,
                 note: str = "") -> dict[str, Any]:
    """A trial's check fields, as every search records them (networks, classical models,
    ensembles): per-target estimates and violations, whether it fits every target, the
    limits it broke in words, and its Pareto costs (the first target is the main one)."""
    per: dict[str, Any] = {}
    broken: list[str] = []
    multi = len(targets) > 1
    for t in targets:
        e = ests[t.name]
        v = violations(t, e, limits)
        per[t.name] = {"fits": feasible(v), "estimate": e.as_dict(), "violations": v}
        for k, a in v.items():
            if a > 0:
                text = describe_violation(k, a, e, t)
                broken.append(f"{t.name}: {text}" if multi else text)
    first = ests[targets[0].name]
    return dict(
        estimate=first.as_dict(), violations=per[targets[0].name]["violations"],
        targets=per, feasible=all(p["fits"] for p in per.values()),
        broken=tuple(dict.fromkeys(broken)), note=note,
        costs={"latency_ms": max(e.latency_ms for e in ests.values()),
               "energy_uj": max(e.energy_uj for e in ests.values()),
               "arena_bytes": first.arena_bytes, "model_bytes": first.model_bytes,
               "flash_bytes": max(e.flash_bytes for e in ests.values())})
