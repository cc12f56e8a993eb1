"""Human-readable run report (``report.md``) from the ``report.json`` data."""

from __future__ import annotations

from typing import Any

__all__ = ["render_markdown", "hp_summary"]


def hp_summary(hp: dict[str, Any]) -> str:
    keep = {k: v for k, v in hp.items() if not k.startswith("tuner/")}
    parts = []
    for k, v in keep.items():
        parts.append(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def _kb(v: Any) -> str:
    return "-" if v is None else f"{v / 1024:.1f}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def render_markdown(report: dict[str, Any]) -> str:
    t = report["target"]
    ds = report["dataset"]
    chosen = report.get("chosen") or {}
    est = chosen.get("estimate", {})
    lines = [
        f"# edgeml run: {ds['name']} on {t['name']}",
        "",
        f"- Target: **{t['name']}** ({t['description']}), {t['clock_mhz']:.0f} MHz {t['core']}, "
        f"runtime {t['runtime']}",
        f"- Budget for the model: {t['model_flash_budget_kb']} KB flash, {t['arena_budget_kb']} KB tensor arena",
        f"- User limits: {report['limits']}",
        f"- Data: {ds['kind']} {tuple(ds['input_shape'])}, {len(ds['classes'])} classes, "
        f"{ds['train']}/{ds['val']}/{ds['test']} train/val/test samples",
        f"- Search: {report['search']['strategy']}, {report['search']['trained']} trained, "
        f"{report['search']['rejected']} rejected before training, seed {report['search']['seed']}",
        "",
        "## Chosen model",
        "",
    ]
    if chosen:
        lines += [
            f"- Trial {chosen['trial_id']}: {hp_summary(chosen['hyperparameters'])}",
            f"- int8 test accuracy (TFLM): **{_pct(chosen.get('int8_test_accuracy'))}**, "
            f"float test accuracy: {_pct(chosen.get('float_test_accuracy'))}",
            f"- Flash: model {_kb(est.get('model_bytes'))} KB + runtime code {_kb(est.get('code_bytes'))} KB",
            f"- RAM: tensor arena {_kb(est.get('arena_bytes'))} KB (measured in TFLM), "
            f"total {_kb(est.get('ram_bytes'))} KB",
            f"- Latency (estimate): {est.get('latency_ms', 0):.2f} ms, energy {est.get('energy_uj', 0):.1f} uJ "
            f"per inference, {est.get('macs', 0):,} MACs",
            f"- Operators: {', '.join(est.get('ops', []))}",
            "",
        ]
    lines += [
        "## Trials",
        "",
        "| trial | status | hyperparameters | model KB | arena KB | latency ms | float acc | int8 acc | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["trials"]:
        e = r.get("estimate", {})
        note = "; ".join(r.get("broken", [])) or r.get("note", "") or (r.get("error") or "")
        lat = e.get("latency_ms")
        lines.append(
            f"| {r['trial_id']} | {r.get('status')} | {hp_summary(r.get('hyperparameters', {}))} | "
            f"{_kb(e.get('model_bytes'))} | {_kb(e.get('arena_bytes'))} | "
            f"{'-' if lat is None else f'{lat:.2f}'} | {_pct(r.get('float_val_accuracy'))} | "
            f"{_pct(r.get('int8_val_accuracy'))} | {str(note).replace('|', '/')} |")
    secs = report.get("seconds", {})
    if secs:
        lines += ["", "## Time", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in secs.items()]
    return "\n".join(lines) + "\n"
