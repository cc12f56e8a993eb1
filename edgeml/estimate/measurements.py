"""Measured latencies (and energies) of known models, read from CSV or JSON.

CSV: one row per measurement, with a header. Columns:

``model``       a ``.tflite`` path (relative to the CSV file) or a model from
                edgeml's zoo: ``reference:kws_ds_cnn``, ``corpus:mlp_small``
                (a bare reference name works too);
``latency_ms``  the measured inference latency;
``energy_uj``   optional: measured energy per inference (fits ``active_mw``);
``target``      optional: rows for other targets are skipped;
``variant``     optional: the latency variant the row measures (empty: the
                profile's main model; e.g. ``reference`` for reference kernels);
``weight``      optional: relative weight of the row (default 1).

JSON: ``{"measurements": [{"target", "model", "latency_ms" | "energy_uj",
"runtime", ...}]}`` as in edgeml's published calibration data; a row whose
``runtime`` mentions reference kernels (or "no ESP-NN") measures the
``reference`` variant unless it names a ``variant``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, ModelError
from ..tflite.graph import Graph, read_graph

__all__ = ["MeasuredRow", "read_measurements", "load_row_model"]


@dataclass(frozen=True)
class MeasuredRow:
    model: str
    latency_ms: float | None
    energy_uj: float | None
    target: str
    variant: str
    weight: float
    line: int


def _num(value: Any, *, where: str, column: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {column} is {value!r}, not a number",
                        hint=f"write {column} in plain numbers (e.g. 12.5)") from None
    if not math.isfinite(v) or v <= 0:
        raise DataError(f"{where}: {column} is {value!r}; it must be a positive number",
                        hint="remove the row or fix the measurement")
    return v


def _variant_of(row: dict[str, Any]) -> str:
    if row.get("variant"):
        return str(row["variant"]).strip()
    runtime = str(row.get("runtime", "")).lower()
    if "reference kernels" in runtime or "no esp-nn" in runtime:
        return "reference"
    return ""


def read_measurements(path: str | Path) -> list[MeasuredRow]:
    """Rows of a measurement file (see the module docstring)."""
    p = Path(path)
    if p.is_dir():
        raise DataError(f"measurement file {str(path)!r} is a folder",
                        hint="pass a CSV with columns model,latency_ms (or a JSON file)")
    if not p.is_file():
        raise DataError(f"measurement file {str(path)!r} does not exist",
                        hint="pass a CSV with columns model,latency_ms (or a JSON file)")
    text = p.read_text(encoding="utf-8", errors="replace")
    rows: list[MeasuredRow] = []
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DataError(f"{p} is not valid JSON ({exc})", hint="fix the file") from exc
        items = data.get("measurements") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise DataError(f"{p} has no 'measurements' list", hint="see edgeml calibrate --help")
        for i, r in enumerate(items, 1):
            if not isinstance(r, dict) or "model" not in r:
                raise DataError(f"{p}: measurement {i} has no 'model'", hint="name the model")
            where = f"{p.name} measurement {i}"
            rows.append(MeasuredRow(model=str(r["model"]),
                                    latency_ms=_num(r.get("latency_ms"), where=where, column="latency_ms"),
                                    energy_uj=_num(r.get("energy_uj"), where=where, column="energy_uj"),
                                    target=str(r.get("target", "")).strip(),
                                    variant=_variant_of(r),
                                    weight=_num(r.get("weight", 1.0), where=where, column="weight") or 1.0,
                                    line=i))
    else:
        reader = csv.DictReader(text.splitlines())
        cols = {c.strip().lower() for c in (reader.fieldnames or [])}
        if "model" not in cols or not ({"latency_ms", "energy_uj"} & cols):
            raise DataError(f"{p} needs a header with 'model' and 'latency_ms' columns "
                            f"(found: {', '.join(sorted(cols)) or 'none'})",
                            hint="first line: model,latency_ms")
        for i, raw in enumerate(reader, 2):
            r = {str(k).strip().lower(): (v.strip() if isinstance(v, str) else v)
                 for k, v in raw.items() if k is not None}
            if not r.get("model"):
                continue
            where = f"{p.name} line {i}"
            rows.append(MeasuredRow(model=r["model"],
                                    latency_ms=_num(r.get("latency_ms"), where=where, column="latency_ms"),
                                    energy_uj=_num(r.get("energy_uj"), where=where, column="energy_uj"),
                                    target=str(r.get("target") or "").strip(),
                                    variant=_variant_of(r),
                                    weight=_num(r.get("weight") or 1.0, where=where, column="weight") or 1.0,
                                    line=i))
    if not rows:
        raise DataError(f"{p} has no measurements", hint="add rows: model,latency_ms")
    for row in rows:
        if row.latency_ms is None and row.energy_uj is None:
            where = (f"{p.name} measurement {row.line}" if p.suffix.lower() == ".json"
                     else f"{p.name} line {row.line}")
            raise DataError(f"{where} ({row.model}): latency_ms is empty",
                            hint="fill in the measured latency in ms (or energy_uj), or remove "
                                 "the row")
    return rows


def load_row_model(name: str, base: Path) -> tuple[str, Graph]:
    """(display name, graph) of a row's model: a zoo model or a ``.tflite`` path."""
    from . import zoo

    kind, _, short = name.partition(":")
    if not short:
        known = {**zoo.REFERENCE_MODELS, **zoo.HELD_OUT_MODELS}
        kind, short = ("reference", name) if name in known else ("", name)
    if kind in ("reference", "corpus", "single"):
        data = zoo.cached_model(kind, short)
        return f"{kind}:{short}", read_graph(data, where=f"{kind}:{short}")
    path = Path(name)
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ModelError(f"model {name!r} of the measurements does not exist ({path})",
                         hint="give a .tflite path relative to the measurement file, "
                              "or reference:<name> / corpus:<name>")
    return name, read_graph(path.read_bytes(), where=str(path))
