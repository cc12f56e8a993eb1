"""A bench on a board, as sections of a report (``bench.md`` and a run's ``report.md``).

Pure functions of the JSON dicts ``edgeml.hil.bench`` writes (``bench.json``,
``report.json``'s ``bench`` and ``bench_finalists``), so the run report can
render them without importing the bench itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_bench_markdown", "render_finalists_markdown"]


def _fmt(v: Any, spec: str = ".3f", unit: str = "") -> str:
    return "not measured" if v is None else f"{v:{spec}}{unit}"


def render_bench_markdown(d: dict[str, Any] | None) -> str:
    """The bench as a small markdown section (also used in a run's report.md)."""
    if not d:
        return ""
    est = d.get("estimate") or {}
    timing = d.get("timing")
    clock = {"device": "the board's timer", "emulated": "an emulator's clock (not a device's time)",
             "simulated": "simulated from edgeml's estimate (virtual board; not a measurement)"}
    lines = ["", "## Bench on the board", "",
             f"- Board: {d.get('board')} on {d.get('port')}; timing: **{timing}** "
             f"({clock.get(timing, timing)})",
             f"- Latency: **{_fmt(d.get('latency_ms'), '.3f', ' ms')}** median of "
             f"{d['windows'] if isinstance(d.get('windows'), int) else len(d.get('windows') or [])}"
             f" windows, spread {_fmt(d.get('latency_spread_ms'), '.3f', ' ms')}, "
             f"{d.get('inferences')} inferences"
             + ("" if d.get("complete", True) else " (interrupted: partial result)"),
             f"- Energy per inference: {_fmt(d.get('energy_uj'), '.1f', ' uJ')}"
             + (f", average power {d['average_power_mw']:.2f} mW"
                if d.get("average_power_mw") is not None else " (no power analyser)"),
             f"- Outputs match the host TFLM interpreter: {d.get('outputs_match')}",
             f"- Arena (smallest that allocates and invokes): "
             f"{_fmt(d.get('arena_bytes'), ',d', ' bytes') if d.get('arena_bytes') else 'not reported'}"]
    if d.get("accuracy") is not None:
        lines.append(f"- Accuracy on the benched test samples: {100 * d['accuracy']:.1f}%")
    if est:
        err = est.get("latency_error_pct")
        lines.append(f"- Estimate ({d.get('target')}): {est['latency_ms']:.3f} ms"
                     + (f" ({err:+.1f}% vs measured)" if err is not None else "")
                     + f", arena {est['arena_bytes']:,} bytes ({est.get('arena_basis')})")
    base = d.get("baseline")
    if base:
        lines.append(f"- Baseline: {base['baseline_ms']:.3f} ms -> {base['latency_ms']:.3f} ms "
                     f"({base['change_pct']:+.1f}%, threshold {base['threshold_pct']:.0f}%): "
                     f"{'REGRESSION' if base['regression'] else 'ok'}")
    return "\n".join(lines) + "\n"


def render_finalists_markdown(rows: list[dict[str, Any]] | None) -> str:
    if not rows:
        return ""
    timing = rows[0].get("timing")
    lines = ["", f"## Pareto finalists measured on the board ({rows[0].get('board')}, "
                 f"timing: {timing})", "",
             "| trial | estimated ms | measured ms | estimate error | outputs match | arena |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        err = r.get("error_pct")
        lines.append(f"| {r['trial_id']}{' (chosen)' if r.get('chosen') else ''} | "
                     f"{r['estimated_ms']:.3f} | {_fmt(r.get('measured_ms'))} | "
                     f"{'-' if err is None else f'{err:+.1f}%'} | {r.get('outputs_match')} | "
                     f"{r.get('arena_bytes') or '-'} |")
    return "\n".join(lines) + "\n"
