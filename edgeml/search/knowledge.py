"""Warm starts: a knowledge base of finished searches, and a shipped portfolio.

At the end of every successful network search, :func:`record_run` writes one
JSON file under ``<cache>/knowledge/`` (``$EDGEML_CACHE_DIR``, see
:func:`edgeml.estimate.cache.cache_dir`): the data's meta-features (input kind,
input shape, classes, training samples), the target and its budget (absolute
bytes, and as fractions of the target's own budget so runs compare across
targets), the space's name and the few best configurations with their int8
validation accuracy.

A new search starts from :func:`warm_start_configs`: the configurations that
did best on the most similar earlier runs (:func:`distance` over the
meta-features and the budget; only runs of the same input kind and space, and
not too far: :data:`MAX_DISTANCE`),
then those of the portfolio shipped with edgeml (``edgeml/search/portfolio.json``,
entries of the same form built by ``benchmarks/build_portfolio.py``;
``$EDGEML_PORTFOLIO`` names another file). The search proposes the first few
of them that are valid in its space before it draws at random; each still goes
through the feasibility check and counts against the budget like any trial.

A file that cannot be read is skipped with a warning (never an error): the
knowledge base only ever helps. Plain JSON and numbers (no TensorFlow).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._io import dump_json
from ..errors import EdgeMLError
from ..estimate import Limits
from ..targets import Target
from .proposals import budget as _budget

__all__ = ["KNOWLEDGE_DIR", "PORTFOLIO_ENV", "knowledge_dir", "portfolio_path", "meta_features",
           "entry_for_run", "record_run", "read_entries", "distance", "warm_start_configs",
           "TOP", "CANDIDATES", "MAX_DISTANCE"]

KNOWLEDGE_DIR = "knowledge"
PORTFOLIO_ENV = "EDGEML_PORTFOLIO"
VERSION = 1
#: best configurations kept per run
TOP = 3
#: warm-start candidates a run records (the search proposes the first few valid ones)
CANDIDATES = 12
#: runs farther than this (:func:`distance`) are not used: measured on digits under a
#: 3 KB arena, the best MNIST configurations (distance about 6) lost 2 points against
#: drawing those trials at random (benchmarks/search_vs_keras_tuner.py)
MAX_DISTANCE = 3.0
Warn = Callable[[str], None]


def knowledge_dir() -> Path:
    from ..estimate.cache import cache_dir

    return cache_dir() / KNOWLEDGE_DIR


def portfolio_path() -> Path:
    env = os.environ.get(PORTFOLIO_ENV, "").strip()
    return Path(env).expanduser() if env else Path(__file__).with_name("portfolio.json")


def meta_features(summary: dict[str, Any]) -> dict[str, Any]:
    """The data's meta-features, from :meth:`edgeml.data.Dataset.summary`."""
    return {"kind": str(summary["kind"]), "input_shape": [int(d) for d in summary["input_shape"]],
            "classes": len(summary["classes"]), "samples": int(summary["train"])}


def _budget_of(targets: Sequence[Target], limits: Limits) -> dict[str, Any]:
    b = _budget(targets, limits)
    t = targets[0]
    return {"target": t.name, "model_bytes": b["model_bytes"], "arena_bytes": b["arena_bytes"],
            "model_fraction": round(b["model_bytes"] / max(t.model_flash_budget, 1), 4),
            "arena_fraction": round(b["arena_bytes"] / max(t.arena_budget, 1), 4)}


def entry_for_run(summary: dict[str, Any], targets: Sequence[Target], limits: Limits,
                  space_name: str, trials: Sequence[Any]) -> dict[str, Any] | None:
    """The knowledge-base entry of a finished search (None: no trained model fitted)."""
    best = sorted((t for t in trials if t.deployable and t.family is None
                   and t.int8_val_accuracy is not None),
                  key=lambda t: (-float(t.int8_val_accuracy), t.number))
    if not best:
        return None
    top: list[dict[str, Any]] = []
    for t in best:
        if len(top) >= TOP:
            break
        values = {k: v for k, v in t.hyperparameters.items() if not str(k).startswith("tuner/")}
        if any(v["values"] == values for v in top):  # a continued trial and its first part
            continue
        top.append({"values": values, "int8_val_accuracy": round(float(t.int8_val_accuracy), 5),
                    "costs": {k: (t.costs or {}).get(k) for k in ("model_bytes", "arena_bytes")}})
    return {"version": VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "data": {**meta_features(summary), "name": summary.get("name"),
                     "fingerprint": summary.get("fingerprint")},
            "budget": _budget_of(targets, limits), "space": space_name, "top": top}


def record_run(entry: dict[str, Any] | None) -> Path | None:
    """Add a finished search to the knowledge base; a read-only cache is not an error."""
    if entry is None:
        return None
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-" \
           f"{str(entry['data'].get('fingerprint') or 'data')[:12]}.json"
    try:
        return dump_json(knowledge_dir() / name, entry)
    except (OSError, EdgeMLError):  # dump_json raises OutputError on a read-only disk
        return None


def _valid(entry: Any) -> bool:
    try:
        data, b = entry["data"], entry["budget"]
        ok = (isinstance(data["kind"], str) and all(int(d) > 0 for d in data["input_shape"])
              and int(data["classes"]) > 0 and int(data["samples"]) > 0
              and float(b["model_bytes"]) > 0 and float(b["arena_bytes"]) > 0
              and isinstance(entry["space"], str))
        return ok and all(isinstance(t["values"], dict) for t in entry["top"])
    except (KeyError, TypeError, ValueError):
        return False


def _read(path: Path, warn: Warn) -> list[dict[str, Any]]:
    """Entries of one file (a knowledge-base file holds one, a portfolio a list)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        warn(f"skipped warm-start file {path}: unreadable ({str(exc).splitlines()[0][:120]})")
        return []
    entries = data.get("entries") if isinstance(data, dict) and "entries" in data else [data]
    if not isinstance(entries, list):
        entries = [entries]
    good = [e for e in entries if _valid(e)]
    if len(good) < len(entries):
        warn(f"skipped {len(entries) - len(good)} malformed entr"
             f"{'y' if len(entries) - len(good) == 1 else 'ies'} of warm-start file {path}")
    return good


def read_entries(warn: Warn | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(knowledge-base entries, portfolio entries); unreadable files are skipped with ``warn``."""
    say = warn or (lambda text: None)
    kb: list[dict[str, Any]] = []
    folder = knowledge_dir()
    if folder.is_dir():
        for p in sorted(folder.glob("*.json")):
            kb += _read(p, say)
    pf_path = portfolio_path()
    portfolio = _read(pf_path, say) if pf_path.is_file() else []
    if not pf_path.is_file() and os.environ.get(PORTFOLIO_ENV, "").strip():
        say(f"skipped warm-start portfolio {pf_path}: no such file")
    return kb, portfolio


def _log_ratio(a: float, b: float) -> float:
    return abs(math.log(max(float(a), 1e-9) / max(float(b), 1e-9)))


def distance(a: dict[str, Any], b: dict[str, Any]) -> float:
    """How far two runs are apart: log ratios of input size, classes, samples (half
    weight) and the model and arena budgets; ``inf`` for another input kind or space."""
    if a["data"]["kind"] != b["data"]["kind"] or a["space"] != b["space"]:
        return math.inf
    size = _log_ratio(math.prod(a["data"]["input_shape"]), math.prod(b["data"]["input_shape"]))
    return (size + _log_ratio(a["data"]["classes"], b["data"]["classes"])
            + 0.5 * _log_ratio(a["data"]["samples"], b["data"]["samples"])
            + _log_ratio(a["budget"]["model_bytes"], b["budget"]["model_bytes"])
            + _log_ratio(a["budget"]["arena_bytes"], b["budget"]["arena_bytes"]))


def warm_start_configs(summary: dict[str, Any], targets: Sequence[Target], limits: Limits, *,
                       space_name: str, on_warning: Warn | None = None,
                       limit: int = CANDIDATES) -> list[dict[str, Any]]:
    """Warm-start candidates for a new search, best first: ``{"values", "origin",
    "distance", "int8_val_accuracy", "source"}``. The knowledge base's entries and the
    portfolio's are ranked together by :func:`distance` (those farther than
    :data:`MAX_DISTANCE` are left out); each entry gives its configurations best first (a
    knowledge-base entry before a portfolio one at the same distance)."""
    here = {"data": meta_features(summary), "budget": _budget_of(targets, limits),
            "space": space_name}
    kb, portfolio = read_entries(on_warning)
    ranked = []
    for origin, entries in (("knowledge-base", kb), ("portfolio", portfolio)):
        for i, e in enumerate(entries):
            d = distance(here, e)
            if d <= MAX_DISTANCE:
                ranked.append((d, 0 if origin == "knowledge-base" else 1, i, origin, e))
    ranked.sort(key=lambda r: r[:3])
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for d, _, _, origin, e in ranked:
        for t in e["top"]:
            key = json.dumps(t["values"], sort_keys=True, default=str)
            if key in seen:
                continue
            seen.add(key)
            out.append({"values": t["values"], "origin": origin, "distance": round(d, 4),
                        "int8_val_accuracy": t.get("int8_val_accuracy"),
                        "source": e["data"].get("name")})
            if len(out) >= limit:
                return out
    return out
