"""Hardware estimates: the one place where memory, latency and energy are computed.

``estimate_model(model_bytes, target)`` (:mod:`.model`) reads the ``.tflite``
graph (:mod:`edgeml.tflite.graph`), measures the tensor arena in the real
TensorFlow Lite Micro interpreter and converts it to the target's pointer width
(:mod:`.arena`), checks the operators against the target's runtime and applies
the target's latency (:mod:`.latency`, fitted by :mod:`.calibrate`) and power
models; Ethos-U targets go through Vela (:mod:`.ethos`, :mod:`.vela`). The
result is an :class:`Estimate` (:mod:`.result`). ``violations()`` compares it
with the target and the user's :class:`Limits` through the one table of
constraints (:mod:`.constraints`). ``edgeml profile``'s per-operator breakdown
is :mod:`.breakdown`.
"""

from __future__ import annotations

from ..tflite.graph import Graph, read_graph
from .arena import ArenaEstimate, analytic_arena
from .constraints import (
    CONSTRAINTS,
    Constraint,
    Limits,
    check_fields,
    check_limits,
    describe_violation,
    feasible,
    violations,
)
from .model import estimate_graph, estimate_model
from .result import Estimate, LayerCost

__all__ = ["Estimate", "LayerCost", "Limits", "ArenaEstimate", "estimate_model", "estimate_graph",
           "violations", "feasible", "describe_violation", "Constraint", "CONSTRAINTS", "check_limits",
           "check_fields",
           "read_graph", "Graph", "analytic_arena"]
