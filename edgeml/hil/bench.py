"""Bench a model on a board: latency by MLPerf Tiny's rule, outputs, arena, energy.

Latency (MLPerf Tiny's rule): warm-up runs, then ``N`` inferences per window
with ``N`` chosen so that one window lasts at least ``window_s`` (10 s on a
device; the virtual board and tests use much shorter windows), 5 windows, the
median reported with the spread (max - min) of the windows. Each window's
latency is ``(T1 - T0) / N`` from the board's own ``m-lap-us`` timestamps.

The model: with the edgeml extension it is loaded over serial (``model load``)
unless the board already holds it; a base-only MLPerf Tiny DUT has its model
built in, and that resident model is benched as it is: its outputs are
compared with the given ``.tflite`` on the host TFLM interpreter, which tells
whether the two are the same model.

Inputs: a run's test split when benching a run (quantized as the firmware
does), otherwise seeded random int8. ``outputs_match``: for every input, each
dequantized output of the board equals the host TFLM interpreter's within the
3-decimal rounding of ``m-results``.

Partial results are never lost: each finished window is appended to a
``bench.partial.jsonl`` file as it completes; Ctrl-C returns what was measured
(``complete: false``).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write, dump_json
from ..errors import EdgeMLError, HILError, RegressionError
from ..export.bench_report import render_bench_markdown
from .protocol import DutClient, Inference, crc32_hex
from .transport import timing_of_port

__all__ = ["BenchOptions", "BenchResult", "bench_model", "bench_run", "write_bench",
           "compare_baseline", "run_inputs", "RESULT_TOLERANCE"]

#: m-results prints 3 decimals: a correct output is within half a unit of the third decimal
RESULT_TOLERANCE = 0.0005 + 1e-6
Event = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class BenchOptions:
    window_s: float = 10.0          # minimum length of one timed window (board's clock)
    windows: int = 5
    warmup: int = 10                # warm-up runs before each window (fewer for slow models)
    samples: int = 5                # inputs checked against the host interpreter
    seed: int = 0
    max_iterations: int = 1_000_000

    def validate(self) -> BenchOptions:
        if not self.window_s > 0 or self.windows < 1 or self.samples < 1 or self.warmup < 0:
            raise EdgeMLError("bench options need window_s > 0, windows >= 1, samples >= 1 "
                              "and warmup >= 0", hint="e.g. --window-s 10 --windows 5")
        return self


@dataclass(frozen=True)
class BenchResult:
    port: str
    board: str
    extension: bool
    timing: str                               # device | emulated | simulated
    model_id: str                             # edgeml-<crc> or the resident model's id
    model_bytes: int
    latency_ms: float | None                  # median of the windows
    latency_spread_ms: float | None           # max - min over the windows
    windows: tuple[dict[str, Any], ...]
    inferences: int                           # timed inferences in all windows
    energy_uj: float | None                   # per inference; None without an analyser
    average_power_mw: float | None
    outputs_match: bool | None
    max_abs_output_diff: float | None
    arena_bytes: int | None                   # smallest arena (firmware's bisection)
    arena_used_bytes: int | None              # arena_used_bytes() at full size
    complete: bool = True
    target: str | None = None
    estimate: dict[str, Any] = field(default_factory=dict)
    ops: tuple[dict[str, Any], ...] = ()
    accuracy: float | None = None             # on the inputs with known labels
    info: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["windows"] = list(self.windows)
        d["ops"] = list(self.ops)
        d["notes"] = list(self.notes)
        return d


# --------------------------------------------------------------------------- inputs
def _host_outputs(model: bytes, inputs: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    from ..tflite.tflm import run_tflm

    res = run_tflm(model, inputs)
    out = res.output
    raw = np.asarray(res.outputs, dtype=np.float64)
    scale = out.get("scale") or 1.0
    zp = out.get("zero_point") or 0
    deq = (raw - zp) * scale if out.get("dtype") in ("int8", "uint8", "int16") else raw
    return deq, res.input


def random_inputs(graph: Any, n: int, seed: int) -> np.ndarray:
    t = graph.input(0)
    rng = np.random.default_rng(seed)
    dt = np.dtype(t.dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, int(info.max) + 1, size=(n, *t.shape[1:]), dtype=dt)
    return rng.random((n, *t.shape[1:])).astype(dt)


def run_inputs(run_dir: Path, graph: Any, n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The first ``n`` test samples of a run's data, quantized like the firmware does."""
    from ..data import load_dataset
    from ..tflite.tflm import quantize_input

    report = json.loads((run_dir / "report.json").read_text())
    meta_path = run_dir / "run.json"
    conf = json.loads(meta_path.read_text()).get("config", {}) if meta_path.exists() else {}
    seed = int(conf.get("seed", report.get("search", {}).get("seed", 0)))
    from ..records import split_options

    ds = load_dataset(conf.get("data"), label_column=conf.get("label") or "label", seed=seed,
                      **split_options(conf))
    fp = report.get("dataset", {}).get("fingerprint")
    if fp and ds.fingerprint != fp:
        raise EdgeMLError(f"the data of run {run_dir} changed since the search",
                          hint="bench the model file with random inputs instead: "
                               "edgeml bench RUN_DIR/model.tflite --target T")
    t = graph.input(0)
    x = ds.x_test[:n]
    if np.dtype(t.dtype).kind in "iu":
        x = quantize_input(x, float(t.scale or 1.0), int(t.zero_point or 0), t.dtype)
    return x.reshape((len(x), *t.shape[1:])), np.asarray(ds.y_test[:n]), list(ds.labels)


# --------------------------------------------------------------------------- bench
def _choose_iterations(client: DutClient, opts: BenchOptions, emit: Event) -> tuple[int, float]:
    """N so that one window lasts at least ``window_s`` on the board's clock."""
    n = 1
    while True:
        inf = client.infer(n, 1, timeout=_infer_timeout(client, n, None))
        per = max(inf.window_s / n, 1e-7)
        if inf.window_s >= opts.window_s / 4 or n >= opts.max_iterations:
            break
        n = min(opts.max_iterations, max(n * 2, math.ceil(opts.window_s / 4 / per)))
    emit("calibrated", {"latency_ms": per * 1e3})
    return min(opts.max_iterations, max(1, math.ceil(opts.window_s / per))), per


def _infer_timeout(client: DutClient, n: int, per_s: float | None) -> float:
    if per_s is None:
        return client.infer_timeout
    return max(client.infer_timeout, 2.0 * n * per_s + 5.0)


def _window(inf: Inference) -> dict[str, Any]:
    return {"iterations": inf.iterations, "warmup": inf.warmup, "t0_us": inf.t0_us,
            "t1_us": inf.t1_us, "latency_ms": inf.latency_ms, "window_s": inf.window_s}


def bench_model(client: DutClient, model: bytes, *, target: Any = None,
                inputs: np.ndarray | None = None, labels: np.ndarray | None = None,
                options: BenchOptions | None = None, meter: Any = None,
                partial: Path | None = None, on_event: Event | None = None) -> BenchResult:
    """Bench ``model`` (``.tflite`` bytes) on the board behind ``client``.

    ``inputs``: samples in the model's input dtype (default: seeded random);
    ``labels``: their classes, for the board's accuracy on them; ``meter``: a
    :class:`~edgeml.hil.power.PowerMeter` for energy; ``partial``: the file each
    window is appended to as it completes.
    """
    from ..tflite.graph import read_graph

    opts = (options or BenchOptions()).validate()
    emit = on_event or (lambda kind, rec: None)
    graph = read_graph(model, where="the benched model")
    notes: list[str] = []
    if inputs is None:
        inputs = random_inputs(graph, opts.samples, opts.seed)
    inputs = np.ascontiguousarray(inputs[:opts.samples])

    ext = client.extension()
    board = client.name()
    arena_used = arena_min = None
    if ext is not None:
        crc = crc32_hex(model)
        if client.profile() == f"edgeml-{crc}":  # asked now: the extension's info is cached
            model_id = f"edgeml-{crc}"
        else:
            emit("load", {"bytes": len(model)})
            model_id = client.load_model(model).model_id
        arena_used, arena_min = client.arena()
        timing = ext.timer
    else:
        model_id = client.profile()
        timing = timing_of_port(client.port)
        notes.append(f"base-only DUT: benched its resident model {model_id}; outputs compared "
                     "with the given .tflite on the host")

    # outputs against the host interpreter, input by input
    host, _ = _host_outputs(model, inputs)
    diffs: list[float] = []
    match = True
    correct = 0
    for k, sample in enumerate(inputs):
        client.load_input(sample.tobytes())
        got = np.asarray(client.infer(1, 0).results, dtype=np.float64)
        want = host[k].reshape(-1)
        if got.shape != want.shape:
            match = False
            notes.append(f"the board returned {got.size} outputs, the model has {want.size}")
            break
        diffs.append(float(np.max(np.abs(got - want))) if got.size else 0.0)
        if labels is not None and got.size:
            correct += int(int(np.argmax(got)) == int(labels[k]))
    max_diff = max(diffs) if diffs else None
    match = match and max_diff is not None and max_diff <= RESULT_TOLERANCE
    emit("outputs", {"match": match, "max_abs_diff": max_diff})

    # latency: MLPerf Tiny's windows (the last input stays loaded)
    n, per = _choose_iterations(client, opts, emit)
    warm = max(1, min(opts.warmup, math.ceil(1.0 / max(per, 1e-7)))) if opts.warmup else 0
    windows: list[dict[str, Any]] = []
    complete = True
    if partial is not None:
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text("")
    try:
        for i in range(opts.windows):
            inf = client.infer(n, warm, timeout=_infer_timeout(client, n + warm, per))
            w = _window(inf)
            windows.append(w)
            if partial is not None:
                with open(partial, "a", encoding="utf-8") as f:
                    f.write(json.dumps(w) + "\n")
            emit("window", {"index": i + 1, "of": opts.windows, **w})
    except KeyboardInterrupt:
        complete = False
        notes.append(f"interrupted after {len(windows)} of {opts.windows} windows")
    except HILError as exc:
        if windows and partial is not None:
            raise HILError(f"{exc.message} ({len(windows)} finished window(s) kept in {partial})",
                           hint=exc.hint) from exc
        raise

    energy = power = None
    if meter is not None and complete:
        from .power import window_energy

        meter.start()
        try:
            inf = client.infer(n, warm, timeout=_infer_timeout(client, n + warm, per))
        finally:
            cap = meter.stop()
        ew = window_energy(cap)
        energy = ew.per_inference_uj(inf.iterations)
        power = ew.average_power_w * 1e3
        notes.append(f"energy over {ew.seconds:.3f} s between the timestamp pulses "
                     f"({getattr(meter, 'name', 'meter')})")

    ops: tuple[dict[str, Any], ...] = ()
    if ext is not None and windows:
        ops = tuple({"index": i, "op": name, "us": us} for i, name, us in client.ops())

    lat = [w["latency_ms"] for w in windows]
    estimate: dict[str, Any] = {}
    if target is not None:
        estimate = _estimate(model, target, statistics.median(lat) if lat else None,
                             arena_min, ext.info.get("tflm", "") if ext else "")
    return BenchResult(
        port=client.port, board=board, extension=ext is not None, timing=timing,
        model_id=model_id, model_bytes=len(model),
        latency_ms=statistics.median(lat) if lat else None,
        latency_spread_ms=(max(lat) - min(lat)) if lat else None,
        windows=tuple(windows), inferences=sum(w["iterations"] for w in windows),
        energy_uj=energy, average_power_mw=power, outputs_match=bool(match),
        max_abs_output_diff=max_diff, arena_bytes=arena_min, arena_used_bytes=arena_used,
        complete=complete, target=getattr(target, "name", None), estimate=estimate, ops=ops,
        accuracy=(correct / len(inputs)) if labels is not None and len(inputs) else None,
        info=dict(ext.info) if ext else {}, notes=tuple(notes))


def _estimate(model: bytes, target: Any, measured_ms: float | None, arena_min: int | None,
              tflm: str) -> dict[str, Any]:
    """The estimate next to the measurement. A board that runs TFLM on the host
    (the virtual board, ``tflm=host ...``) has 64-bit pointers: its arena is
    compared with the host figure."""
    from ..estimate import estimate_model

    est = estimate_model(model, target, on_tflm_error="analytic")
    host = tflm.startswith("host")
    arena_est = (est.arena.host_bytes if (host and est.arena) else est.arena_bytes)
    out: dict[str, Any] = {"latency_ms": est.latency_ms, "arena_bytes": arena_est,
                           "arena_basis": "host (64-bit)" if host else f"{target.name} (32-bit)",
                           "energy_uj": est.energy_uj, "latency_model": est.latency_model}
    if measured_ms:
        out["latency_error_pct"] = (est.latency_ms - measured_ms) / measured_ms * 100.0
    if arena_min:
        out["arena_error_pct"] = (arena_est - arena_min) / arena_min * 100.0
    return out


# --------------------------------------------------------------------------- runs
def bench_run(client: DutClient, run_dir: str | Path, *, target: Any = None,
              options: BenchOptions | None = None, meter: Any = None,
              on_event: Event | None = None) -> BenchResult:
    """Bench a finished run's model on its test split; partial windows go to the run."""
    from ..targets import load_target
    from ..tflite.graph import read_graph

    run = Path(run_dir)
    if not (run / "report.json").is_file() or not (run / "model.tflite").is_file():
        raise EdgeMLError(f"{run} is not a finished edgeml run (no report.json / model.tflite)",
                          hint="pass the --out directory of a completed edgeml search, "
                               "or a .tflite with --target")
    opts = (options or BenchOptions()).validate()
    model = (run / "model.tflite").read_bytes()
    graph = read_graph(model, where=str(run / "model.tflite"))
    x, y, _ = run_inputs(run, graph, opts.samples)
    if target is None:
        report = json.loads((run / "report.json").read_text())
        target = load_target(report["target"]["name"])
    return bench_model(client, model, target=target, inputs=x, labels=y, options=opts,
                       meter=meter, partial=run / "bench" / "bench.partial.jsonl",
                       on_event=on_event)


def attach_to_run(run_dir: str | Path, result: BenchResult) -> None:
    """Put the bench into the run's report (a separate ``bench`` section)."""
    from ..pipeline import write_report

    run = Path(run_dir)
    report = json.loads((run / "report.json").read_text())
    report["bench"] = bench_summary(result)
    write_report(run, report)


def bench_summary(result: BenchResult) -> dict[str, Any]:
    keys = ("board", "port", "timing", "latency_ms", "latency_spread_ms", "inferences",
            "energy_uj", "average_power_mw", "outputs_match", "arena_bytes", "accuracy",
            "estimate", "complete", "target")
    d = result.as_dict()
    return {k: d[k] for k in keys} | {"windows": len(result.windows)}


# --------------------------------------------------------------------------- output
def write_bench(result: BenchResult, out_dir: str | Path, *,
                baseline: dict[str, Any] | None = None) -> dict[str, Path]:
    """``bench.json`` and ``bench.md`` (atomic writes); the partial file goes once complete."""
    out = Path(out_dir)
    data = result.as_dict()
    if baseline is not None:
        data["baseline"] = baseline
    files = {"bench.md": atomic_write(out / "bench.md", render_bench_markdown(data)),
             "bench.json": dump_json(out / "bench.json", data)}
    partial = out / "bench.partial.jsonl"
    if result.complete and partial.exists():
        partial.unlink()
    return files


def compare_baseline(result: BenchResult, baseline_path: str | Path, *,
                     threshold_pct: float = 10.0) -> dict[str, Any]:
    """Compare with a saved ``bench.json``; ``regression`` when latency grew more than
    ``threshold_pct`` percent (see :func:`check_regression`)."""
    p = Path(baseline_path)
    try:
        base = json.loads(p.read_text())
        base_ms = float(base["latency_ms"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EdgeMLError(f"baseline {p} is not a readable bench.json ({exc})",
                          hint="pass a bench.json written by edgeml bench") from exc
    if result.latency_ms is None:
        raise HILError("no latency was measured to compare with the baseline",
                       hint="let the bench finish at least one window")
    change = (result.latency_ms - base_ms) / base_ms * 100.0
    return {"path": str(p), "baseline_ms": base_ms, "latency_ms": result.latency_ms,
            "change_pct": change, "threshold_pct": float(threshold_pct),
            "regression": change > threshold_pct,
            "same_timing": base.get("timing") == result.timing}


def check_regression(cmp: dict[str, Any]) -> None:
    if cmp["regression"]:
        raise RegressionError(f"latency regressed {cmp['change_pct']:+.1f}% against "
                              f"{cmp['path']} ({cmp['baseline_ms']:.3f} -> "
                              f"{cmp['latency_ms']:.3f} ms; threshold "
                              f"{cmp['threshold_pct']:.0f}%)",
                              hint="find the change that slowed the model, or save a new baseline")


# --------------------------------------------------------------------------- search finalists
def bench_finalists(client: DutClient, run_dir: str | Path, *, options: BenchOptions | None = None,
                    on_event: Event | None = None) -> list[dict[str, Any]]:
    """Bench every Pareto trial of a finished run on the board (its test inputs), and
    record measured next to estimated latency in the run's report (``bench_finalists``)."""
    from ..pipeline import write_report
    from ..records import RunDir
    from ..targets import load_target
    from ..tflite.graph import read_graph

    rd = RunDir.open(run_dir, finished=True)
    run = rd.path
    report = rd.report()
    target = load_target(report["target"]["name"])
    opts = (options or BenchOptions()).validate()
    emit = on_event or (lambda kind, rec: None)
    rows = []
    pareto = set(report.get("pareto") or [])
    for rec in report.get("trials", []):
        if rec.get("trial_id") not in pareto or not rec.get("tflite"):
            continue
        path = rd.resolve(rec["tflite"])
        model = path.read_bytes()
        x, y, _ = run_inputs(run, read_graph(model), opts.samples)
        emit("finalist", {"trial_id": rec["trial_id"]})
        res = bench_model(client, model, target=target, inputs=x, labels=y, options=opts,
                          on_event=on_event)
        est_ms = float((rec.get("estimate") or {}).get("latency_ms") or
                       res.estimate.get("latency_ms") or 0.0)
        rows.append({"trial_id": rec["trial_id"], "chosen": bool(rec.get("chosen")),
                     "int8_val_accuracy": rec.get("int8_val_accuracy"),
                     "estimated_ms": est_ms, "measured_ms": res.latency_ms,
                     "error_pct": ((est_ms - res.latency_ms) / res.latency_ms * 100.0
                                   if res.latency_ms else None),
                     "spread_ms": res.latency_spread_ms, "outputs_match": res.outputs_match,
                     "arena_bytes": res.arena_bytes, "timing": res.timing,
                     "board": res.board, "accuracy_on_board": res.accuracy})
    report["bench_finalists"] = rows
    write_report(run, report)
    return rows
