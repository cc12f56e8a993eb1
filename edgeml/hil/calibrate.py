"""Close the loop: measure known models on the board, refit the target's latency model.

``measure_rows`` benches the calibration models (the reference models of
``edgeml.estimate.zoo``: MLPerf Tiny's DS-CNN KWS, FC autoencoder, person
detection) on the board, loading each over serial, and returns them as the
rows ``edgeml calibrate --measurements`` reads (``model,latency_ms[,energy_uj]``,
models named ``reference:<name>``). The fit itself is the existing one
(:func:`edgeml.estimate.calibrate.calibrate_profile`). :func:`compare` gives the
estimate before and after the fit next to each measurement.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._io import atomic_write
from ..estimate.measurements import MeasuredRow
from .bench import BenchOptions, BenchResult, bench_model
from .protocol import DutClient

__all__ = ["CALIBRATION_MODELS", "measure_rows", "write_rows", "compare"]

CALIBRATION_MODELS = ("kws_ds_cnn", "ad_fc_autoencoder", "person_detect_mobilenet_v1_025_gray")
Event = Callable[[str, dict[str, Any]], None]


def measure_rows(client: DutClient, target: Any, *, models: tuple[str, ...] = CALIBRATION_MODELS,
                 options: BenchOptions | None = None, meter: Any = None, variant: str = "",
                 on_event: Event | None = None) -> tuple[list[MeasuredRow], list[BenchResult]]:
    """Bench each calibration model on the board; rows for the NNLS fit, plus the benches."""
    from ..estimate import zoo

    client.require_extension("calibrating from the board (models are loaded over serial)")
    emit = on_event or (lambda kind, rec: None)
    rows: list[MeasuredRow] = []
    benches: list[BenchResult] = []
    for i, name in enumerate(models, 1):
        kind, _, short = name.partition(":")
        kind, short = (kind, short) if short else ("reference", name)
        emit("model", {"name": f"{kind}:{short}", "index": i, "of": len(models)})
        model = zoo.cached_model(kind, short)
        res = bench_model(client, model, target=target, options=options, meter=meter,
                          on_event=on_event)
        benches.append(res)
        rows.append(MeasuredRow(model=f"{kind}:{short}", latency_ms=res.latency_ms,
                                energy_uj=res.energy_uj, target=target.name, variant=variant,
                                weight=1.0, line=i))
    return rows, benches


def write_rows(path: str | Path, rows: list[MeasuredRow], benches: list[BenchResult]) -> Path:
    """The measurements as a CSV ``edgeml calibrate --measurements`` reads again."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "latency_ms", "energy_uj", "target", "variant", "timing", "board"])
    for r, b in zip(rows, benches, strict=True):
        w.writerow([r.model, f"{r.latency_ms:.6g}", "" if r.energy_uj is None else
                    f"{r.energy_uj:.6g}", r.target, r.variant, b.timing, b.board])
    return atomic_write(path, buf.getvalue())


def compare(rows: list[MeasuredRow], before: Any, after: Any) -> list[dict[str, Any]]:
    """Per model: measured, estimated before and after the fit, and the errors in %."""
    from ..estimate.latency import predict_ms
    from ..estimate.measurements import load_row_model

    out = []
    for r in rows:
        name, graph = load_row_model(r.model, Path.cwd())
        b = predict_ms(before.latency, graph, before.clock_hz)
        a = predict_ms(after.latency, graph, after.clock_hz)
        m = float(r.latency_ms or 0.0)
        out.append({"model": name, "measured_ms": m, "before_ms": b, "after_ms": a,
                    "before_error_pct": (b - m) / m * 100.0 if m else None,
                    "after_error_pct": (a - m) / m * 100.0 if m else None})
    return out
