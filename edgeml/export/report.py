"""Human-readable run report (``report.md``, ``pareto.png``) from the ``report.json`` data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..records import Trial, TrialStatus

__all__ = ["render_markdown", "render_pareto_png", "pareto_figure", "hp_summary", "trial_counts",
           "device_summary"]


def hp_summary(hp: dict[str, Any]) -> str:
    keep = {k: v for k, v in hp.items() if not k.startswith("tuner/")}
    parts = []
    if isinstance(keep.get("members"), dict):  # an ensemble: its members and weights
        fams = keep.get("families") or {}
        return "ensemble: " + ", ".join(f"{fams.get(i, '?')} {i} x{w:.2f}"
                                        for i, w in keep["members"].items())
    for k, v in keep.items():
        parts.append(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def _trials(report: dict[str, Any], key: str = "trials") -> list[Trial]:
    return [Trial.from_json(r) for r in report.get(key) or []]


def _marks(report: dict[str, Any]) -> tuple[set[str], str | None]:
    """The Pareto front's trial ids and the chosen trial's id."""
    return set(report.get("pareto") or []), (report.get("chosen") or {}).get("trial_id")


def trial_counts(search: dict[str, Any]) -> str:
    """``3 trained, 2 rejected before training, 1 failed (retried 1)``."""
    text = f"{search['trained']} trained, {search['rejected']} rejected before training"
    failed, retried = int(search.get("failed", 0)), int(search.get("retried", 0))
    if failed or retried:
        text += f", {failed} failed"
        if retried:
            text += f" ({retried} training{'s' if retried != 1 else ''} retried after the " \
                    "worker died)"
    return text


def device_summary(device: dict[str, Any]) -> str:
    """``cpu (--device auto: no NVIDIA device in /dev); trials: cpu 5`` from the report's
    ``search.device``."""
    used = str(device.get("device", "?"))
    why = [f"--device {device.get('requested', '?')}"]
    if device.get("no_gpu") and used == "cpu":
        why[0] += f": {device['no_gpu']}"
    if device.get("gpus"):
        why.append(f"{device['gpus']} GPU{'s' if device['gpus'] != 1 else ''} visible")
    why.append("mixed precision training" if device.get("mixed_precision") else "float32")
    text = f"{used} ({', '.join(why)})"
    per = device.get("trials") or {}
    if per:
        text += "; trained trials: " + ", ".join(f"{k} {v}" for k, v in per.items())
    return text


def _kb(v: Any) -> str:
    return "-" if v is None else f"{v / 1024:.1f}"


def _ms(v: Any) -> str:
    v = float(v or 0.0)
    return f"{v:.4f}" if v < 0.1 else f"{v:.2f}"


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
        f"- Search: {report['search']['strategy']}, {trial_counts(report['search'])}, "
        f"seed {report['search']['seed']}"
        + (f", objective {report['search']['objective']}" if report['search'].get('objective') else "")
        + (f", space {report['search']['space']['name']}" if report['search'].get('space') else ""),
        *_proposal_lines(report.get("search") or {}),
    ]
    if report["search"].get("device"):
        lines.append(f"- Training device: {device_summary(report['search']['device'])}")
    lines += [
        "",
        "## Chosen model",
        "",
    ]
    if chosen.get("members"):  # a classical model or an ensemble: edgeml_predict in C
        lines += [
            f"- Trial {chosen['trial_id']}: {hp_summary(chosen['hyperparameters'])}",
            f"- Test accuracy as deployed (float32 C for classical members, int8 TFLM for "
            f"networks): **{_pct(chosen.get('int8_test_accuracy'))}**",
            f"- Flash: model data {_kb(est.get('model_bytes'))} KB, plus its code",
            f"- RAM: {_kb(est.get('ram_bytes'))} KB at the peak",
            f"- Latency (estimate): {_ms(est.get('latency_ms'))} ms, energy "
            f"{est.get('energy_uj', 0):.2f} uJ per inference",
            f"- Entry point: `edgeml_predict()` in {', '.join(chosen.get('c_files', []))}",
            "",
        ]
    elif chosen:
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
    lines += _refit_lines(chosen)
    if report.get("decision"):
        lines += [f"**Why:** {report['decision']}", ""]
    lines += _ensemble_lines(report)
    lines += _pareto_lines(report)
    lines += _fit_matrix_lines(report)
    lines += [
        "## Trials",
        "",
        "| trial | status | device | hyperparameters | model KB | arena KB | latency ms | float acc "
        "| int8 acc | worker | wait s | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in _trials(report) + _trials(report, "smallest_candidates"):
        e = r.estimate or {}
        note = "; ".join(r.broken) or r.note or (r.error or "")
        if r.retried:
            note = "; ".join(f"retried after: {err}" for err in r.retried) + \
                (f"; {note}" if note else "")
        if r.status is TrialStatus.PROBE:
            note = "the space's smallest candidate" + (f"; {note}" if note else "")
        if r.continues:
            hp = r.hyperparameters
            note = (f"continues trial {r.continues} (epochs {hp.get('tuner/initial_epoch', '?')}"
                    f" to {hp.get('tuner/epochs', '?')})" + (f"; {note}" if note else ""))
        elif r.origin:
            note = f"warm start from the {r.origin.replace('-', ' ')}" + (f"; {note}" if note else "")
        elif r.screen and r.screen.get("use"):
            share = ", ".join(f"{k.split('_')[0]} {100 * v:.0f}%" for k, v in r.screen["use"].items())
            chance = r.screen.get("fit_chance")
            fit = "" if chance is None else f", {100 * chance:.0f}% likely to fit"
            note = (f"best of {r.screen.get('drafts', '?')} drafts, predicted use {share}{fit}"
                    + (f"; {note}" if note else ""))
        lat = e.get("latency_ms")
        lines.append(
            f"| {r.trial_id} | {r.status.value} | {r.device or '-'} | "
            f"{hp_summary(r.hyperparameters)} | "
            f"{_kb(e.get('model_bytes'))} | {_kb(e.get('arena_bytes'))} | "
            f"{'-' if lat is None else _ms(lat)} | {_pct(r.float_val_accuracy)} | "
            f"{_pct(r.int8_val_accuracy)} | {r.worker or '-'} | "
            f"{'-' if r.wait_seconds is None else f'{r.wait_seconds:.1f}'} | "
            f"{str(note).replace('|', '/')} |")
    secs = report.get("seconds", {})
    if secs:
        lines += ["", "## Time", "", "| stage | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in secs.items()]
    return "\n".join(lines) + "\n"


def _proposal_lines(search: dict[str, Any]) -> list[str]:
    """How candidates were proposed: screened drafts, warm starts (and from where)."""
    out = []
    if int(search.get("proposals") or 1) > 1:
        out.append(f"- Proposals: {search['proposals']} drafts screened per random proposal; "
                   "of those at least as likely to fit as not, the one with the largest "
                   "expected share of the budget was proposed")
    warm = search.get("warm_start") or {}
    if warm.get("trials"):
        by = ", ".join(f"trial {tid} ({origin.replace('-', ' ')})"
                       for tid, origin in warm["trials"].items())
        out.append(f"- Warm start: {by}")
    elif warm and not warm.get("enabled"):
        out.append("- Warm start: off")
    return out


def _refit_lines(chosen: dict[str, Any]) -> list[str]:
    """The final retrain: the search's model and the retrained one side by side."""
    r, m = chosen.get("refit") or {}, chosen.get("search_model") or {}
    if not r.get("enabled"):
        return []
    if "samples" not in r or not m:
        return [f"Final retrain: {r.get('reason', '')}; the search's model ships.", ""]
    ships = "retrained" if r.get("shipped") else "search"
    re, me = r.get("estimate") or {}, m.get("estimate") or {}
    lines = [
        "### Final retrain",
        "",
        "| model | trained on | epochs | int8 test acc | float test acc | model KB | arena KB |",
        "|---|---|---|---|---|---|---|",
        f"| search (trial {chosen['trial_id']}) | train, {m.get('train_samples', '-')} samples | "
        f"{m.get('epochs_run', '-')} (best {m.get('best_epoch') or '-'}) | "
        f"{_pct(m.get('int8_test_accuracy'))} | {_pct(m.get('float_test_accuracy'))} | "
        f"{_kb(me.get('model_bytes'))} | {_kb(me.get('arena_bytes'))} |",
        f"| retrained | train + validation, {r['samples']} samples | {r['epochs']} | "
        f"{_pct(r.get('int8_test_accuracy'))} | {_pct(r.get('float_test_accuracy'))} | "
        f"{_kb(re.get('model_bytes'))} | {_kb(re.get('arena_bytes'))} |",
        "",
        f"The {ships} model ships" + (f": {r['reason']}" if r.get("reason") else "") + ".",
        "",
    ]
    return lines


def _ensemble_lines(report: dict[str, Any]) -> list[str]:
    ens = report.get("ensemble") or {}
    if not ens.get("members"):
        return ([f"Ensemble: none ({ens['reason']})", ""] if ens.get("reason") else [])
    fams = {t["trial_id"]: t.get("family") or "nn" for t in report.get("trials", [])}
    lines = ["## Ensemble", "",
             f"Greedy selection with replacement over the run's feasible models: validation "
             f"accuracy {_pct(ens.get('val_accuracy'))} against {_pct(ens.get('best_single_val_accuracy'))} "
             f"for the best single model (trial {ens.get('best_single')}); "
             + ("**chosen**" if ens.get("chosen") else f"not chosen: {ens.get('reason') or '-'}")
             + f" (minimum gain {float(ens.get('min_gain', 0)) * 100:.2f} points).", "",
             "| member | family | weight |", "|---|---|---|"]
    lines += [f"| {i} | {fams.get(i, '?')} | {w:.3f} |" for i, w in ens["members"].items()]
    return lines + [""]


def _pareto_lines(report: dict[str, Any]) -> list[str]:
    ids, chosen_id = _marks(report)
    front = [r for r in _trials(report) if r.trial_id in ids]
    if not front:
        return []
    multi = len(report.get("targets", [])) > 1
    worst = " (worst target)" if multi else ""
    lines = ["## Pareto front", "",
             "Trained trials that fit and that no other such trial beats on every one of int8 "
             "accuracy, latency, RAM, flash and energy. **bold**: the chosen model "
             f"(objective: {report['search'].get('objective', 'accuracy')}). "
             "Plot: `pareto.png`.", "",
             f"| trial | int8 val acc | latency ms{worst} | arena KB | model KB | "
             f"energy uJ{worst} | hyperparameters |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(front, key=lambda r: -(r.int8_val_accuracy or 0.0)):
        c = r.costs or {}
        tid = f"**{r.trial_id}**" if r.trial_id == chosen_id else r.trial_id
        lines.append(f"| {tid} | {_pct(r.int8_val_accuracy)} | {_ms(c['latency_ms'])} | "
                     f"{_kb(c['arena_bytes'])} | {_kb(c['model_bytes'])} | {c['energy_uj']:.1f} | "
                     f"{hp_summary(r.hyperparameters)} |")
    return lines + [""]


def _fit_matrix_lines(report: dict[str, Any]) -> list[str]:
    fm = report.get("fit_matrix") or {}
    names = fm.get("targets", [])
    if len(names) < 2:
        return []
    lines = ["## Fit matrix", "",
             "Each checked candidate on each target: latency when it fits, `no` when it breaks "
             "a limit there. A candidate is trained only if it fits every target.", "",
             "| trial | status | int8 val acc | " + " | ".join(names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for row in fm.get("rows", []):
        cells = [f"{row['latency_ms'][n]:.2f} ms" if row["fits"][n] else "no" for n in names]
        lines.append(f"| {row['trial_id']} | {row['status']} | "
                     f"{_pct(row.get('int8_val_accuracy'))} | " + " | ".join(cells) + " |")
    return lines + [""]


def pareto_figure(report: dict[str, Any]) -> Any:
    """Int8 accuracy against latency, RAM and flash; front joined, chosen starred.

    A :class:`matplotlib.figure.Figure` made without pyplot (the caller's backend and
    open figures are left alone), or None when no trial was trained.
    """
    trained = [r for r in _trials(report) if r.trained and r.costs is not None]
    if not trained:
        return None
    from matplotlib.figure import Figure

    ids, chosen_id = _marks(report)
    axes_spec = [("latency_ms", "latency (ms, estimate)", 1.0),
                 ("arena_bytes", "tensor arena (KB)", 1024.0),
                 ("model_bytes", "model flash (KB)", 1024.0)]
    fig = Figure(figsize=(13, 4))
    axes = fig.subplots(1, 3, sharey=True)
    for ax, (key, label, div) in zip(axes, axes_spec, strict=True):
        for group, style in (
                ([r for r in trained if not r.feasible],
                 dict(marker="x", color="tab:red", label="trained, does not fit")),
                ([r for r in trained if r.feasible and r.trial_id not in ids],
                 dict(marker="o", color="0.6", label="fits")),
                ([r for r in trained if r.trial_id in ids],
                 dict(marker="o", color="tab:blue", label="Pareto front (5 objectives)"))):
            if group:
                ax.scatter([r.costs[key] / div for r in group],
                           [r.int8_val_accuracy for r in group], s=28, **style)
        pts = sorted((r.costs[key] / div, r.int8_val_accuracy) for r in trained if r.feasible)
        stair, best = [], -1.0
        for x, y in pts:  # the 2-D front on this axis
            if y > best:
                stair.append((x, y))
                best = y
        if len(stair) > 1:
            ax.step([p[0] for p in stair], [p[1] for p in stair], where="post",
                    color="tab:blue", lw=1, alpha=0.6)
        chosen = [r for r in trained if r.trial_id == chosen_id]
        if chosen:
            ax.scatter([chosen[0].costs[key] / div], [chosen[0].int8_val_accuracy],
                       marker="*", s=260, color="gold", edgecolor="black", zorder=5,
                       label=f"chosen (trial {chosen[0].trial_id})")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("int8 validation accuracy (TFLM)")
    axes[0].legend(loc="lower right", fontsize=8)
    names = ", ".join(t["name"] for t in report.get("targets", [report["target"]]))
    fig.suptitle(f"edgeml: {report['dataset']['name']} on {names}")
    fig.tight_layout()
    return fig


def render_pareto_png(report: dict[str, Any], path: str | Path) -> Path | None:
    """Write :func:`pareto_figure` as a PNG; returns the path, or None when no trial was
    trained."""
    import io

    from .._io import atomic_write

    fig = pareto_figure(report)
    if fig is None:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return atomic_write(path, buf.getvalue())
