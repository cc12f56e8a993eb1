"""The compression section of ``report.md``: every stage measured the same way."""

from __future__ import annotations

from typing import Any

__all__ = ["render_compression_markdown", "stage_rows"]

KB = 1024.0


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def stage_rows(section: dict[str, Any]) -> list[list[str]]:
    """One row per stage: stage, MACs, model KB, flash KB, arena KB, latency, float, int8."""
    rows = []
    for st in section.get("stages", []):
        rows.append([
            st["stage"], f"{st['macs']:,}", f"{st['model_bytes'] / KB:.1f}",
            f"{st['flash_bytes'] / KB:.1f}", f"{st['arena_bytes'] / KB:.1f}",
            f"{st['latency_ms']:.3f}", _pct(st.get("float_accuracy")), _pct(st["int8_accuracy"]),
            "-" if st.get("sparsity") is None else f"{100 * st['sparsity']:.0f}%",
        ])
    return rows


STAGE_HEADER = ["stage", "MACs", "model KB", "flash KB", "arena KB", "latency ms",
                "float acc", "int8 acc (TFLM)", "sparsity"]


def render_compression_markdown(section: dict[str, Any] | None) -> str:
    if not section:
        return ""
    lines = ["", "## Compression", "",
             "Accuracy on the test split; int8 accuracy measured in the TFLite Micro interpreter.",
             "", "| " + " | ".join(STAGE_HEADER) + " |", "|" + "---|" * len(STAGE_HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in stage_rows(section)]
    lines += [
        "",
        f"- Chosen: **{section['chosen_stage']}** ({section['int8_method'].upper()} int8), "
        f"int8 accuracy {_pct(section['int8_accuracy'])} vs float "
        f"{_pct(section['baseline_float_accuracy'])} before compression "
        f"({-section['int8_drop_points']:+.2f} points)",
        f"- MACs {100 * section['macs_reduction']:.1f}% fewer, model flash "
        f"{100 * section['flash_reduction']:.1f}% smaller",
    ]
    lines += [f"- {st['stage']}: {st['note']}" for st in section.get("stages", []) if st.get("note")]
    lines += [f"- {n}" for n in section.get("notes", [])]
    return "\n".join(lines) + "\n"
