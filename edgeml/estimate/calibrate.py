"""Updating a target profile: calibrate it from measurements, or derive it.

``calibrate_profile`` fits a target's latency model (or one of its variants)
to measured latencies of known models (``latency.calibrate``) and, when the
measurements include energies, its active power; ``derive_profile`` gives a
target without measurements the coefficients of a calibrated one, scaled by
documented factors. Both return the profile's new TOML text (only the
``[latency]`` and ``[power]`` tables change); the CLI decides where it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import DataError, TargetError
from ..targets import LatencyModel, Target, latency_toml, replace_latency, replace_power
from .latency import Calibration, Measurement, calibrate, predict_ms, scale_model
from .measurements import MeasuredRow, load_row_model

__all__ = ["ProfileUpdate", "calibrate_profile", "derive_profile", "prior_model"]


@dataclass(frozen=True)
class ProfileUpdate:
    target: str
    text: str                                # the new profile
    latency: LatencyModel                    # the model that changed
    variant: str = ""
    calibration: Calibration | None = None
    power: dict[str, Any] = field(default_factory=dict)  # fitted active power, if any
    skipped: int = 0                         # rows for other targets or variants


def prior_model(target: Target, prior: str, variant: str = "") -> LatencyModel:
    """The starting point of a fit: ``profile`` (the target's current model),
    ``reference`` (the measured reference-kernel prior) or another target's name."""
    if prior in ("", "profile"):
        return target.with_latency(variant).latency if variant else target.latency
    if prior == "reference":
        from .prior import load_prior

        return load_prior()
    from ..targets import load_target

    name, _, var = prior.partition("#")
    other = load_target(name)
    return other.with_latency(var).latency if var else other.latency


def _source_text(target: Target) -> str:
    path = Path(target.path)
    if not path.is_file():
        raise TargetError(f"the profile of {target.name} has no file to update",
                          hint="load the target from a TOML file")
    return path.read_text(encoding="utf-8")


def _render(target: Target, main: LatencyModel, variants: dict[str, LatencyModel],
            text: str, power: dict[str, Any] | None = None) -> str:
    block = latency_toml(main, table="latency",
                         comment="cycles = mac * MACs + element * output elements + fixed, "
                                 "per operator;\nplus invoke_overhead once per inference. "
                                 "Written by edgeml calibrate.")
    for name, model in sorted(variants.items()):
        block += "\n" + latency_toml(model, table=f"latency.variants.{name}")
    out = replace_latency(text, block)
    if power:
        out = replace_power(out, power)
    return out


def calibrate_profile(target: Target, rows: list[MeasuredRow], *, base: Path,
                      variant: str = "", prior: str = "profile", level: str | None = None,
                      source: str = "") -> ProfileUpdate:
    """Fit ``target``'s latency model (``variant``: one of its variants) to ``rows``."""
    mine = [r for r in rows if (not r.target or r.target == target.name)]
    chosen = [r for r in mine if r.variant == variant]
    skipped = len(rows) - len(chosen)
    lat_rows = [r for r in chosen if r.latency_ms is not None]
    if not lat_rows:
        known = sorted({r.target for r in rows if r.target})
        raise DataError(f"no latency measurements for target {target.name}"
                        + (f" (variant {variant})" if variant else ""),
                        hint=f"rows name targets: {', '.join(known) or 'none'}; add rows for "
                             f"{target.name} or leave the target column empty")
    start = prior_model(target, prior, variant)
    points = []
    graphs = {}
    for r in lat_rows:
        name, graph = load_row_model(r.model, base)
        graphs[r.model] = graph
        points.append(Measurement(name=name, graph=graph, latency_ms=float(r.latency_ms),
                                  weight=r.weight))
    src = source or (f"fitted by edgeml calibrate to {len(points)} measured latenc"
                     f"{'y' if len(points) == 1 else 'ies'}")
    cal = calibrate(points, start, float(target.clock_hz), level=level, source=src)
    model = replace(cal.model, derived_from="", calibration={
        "level": cal.level,
        "prior": prior if prior not in ("", "profile") else f"{target.name} profile",
        "levels": dict(cal.levels_tried),
        "points": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in p.items()}
                   for p in cal.points],
    })
    main, variants = _with_model(target, model, variant)
    power: dict[str, Any] = {}
    energy_rows = [r for r in chosen if r.energy_uj is not None]
    if energy_rows and not variant:
        power = _fit_power(target, model, energy_rows, lat_rows, graphs, base)
    text = _render(target, main, variants, _source_text(target), power or None)
    return ProfileUpdate(target=target.name, text=text, latency=model, variant=variant,
                         calibration=cal, power=power, skipped=skipped)


def _with_model(target: Target, model: LatencyModel,
                variant: str) -> tuple[LatencyModel, dict[str, LatencyModel]]:
    """The target's main latency model and variants with ``model`` put in ``variant``'s
    place (the main model when ``variant`` is empty)."""
    variants = dict(target.latency_variants)
    if variant:
        variants[variant] = model
        return target.latency, variants
    return model, variants


def _fit_power(target: Target, model: LatencyModel, energy_rows: list[MeasuredRow],
               lat_rows: list[MeasuredRow], graphs: dict[str, Any], base: Path) -> dict[str, Any]:
    """active_mw = (energy - overhead) / latency, averaged over the energy rows;
    the latency is the measured one for the same model where there is one."""
    measured = {r.model: float(r.latency_ms) for r in lat_rows if r.latency_ms}
    ratios = []
    for r in energy_rows:
        if r.model in measured:
            t = measured[r.model]
        else:
            graph = graphs.get(r.model) or load_row_model(r.model, base)[1]
            t = predict_ms(model, graph, float(target.clock_hz))
        ratios.append((float(r.energy_uj) - target.energy_overhead_uj) / t)
    mw = sum(ratios) / len(ratios)
    return {"active_mw": round(mw, 3),
            "source": f"fitted by edgeml calibrate: measured energy / latency "
                      f"({len(ratios)} point{'s' if len(ratios) != 1 else ''})"}


def derive_profile(target: Target, source: Target, *, mac_factor: float = 1.0,
                   other_factor: float = 1.0, note: str = "", variant: str = "",
                   source_variant: str = "") -> ProfileUpdate:
    """``target``'s latency model from ``source``'s, in cycles: MAC coefficients
    times ``mac_factor``, the rest times ``other_factor`` (documented in ``note``)."""
    if mac_factor <= 0 or other_factor <= 0:
        raise DataError("derivation factors must be positive",
                        hint="e.g. --mac-factor 1.5 for a core that needs 1.5x the cycles per MAC")
    base_model = source.with_latency(source_variant).latency if source_variant else source.latency
    if not (base_model.calibrated or base_model.derived_from):
        raise DataError(f"{source.name} has no calibrated latency model to derive from",
                        hint=f"calibrate {source.name} first (edgeml calibrate --target {source.name} ...)")
    origin = source.name + (f" ({source_variant} kernels)" if source_variant else "")
    text = (f"derived from {origin}: cycles per MAC x {mac_factor:g}, other cycles x "
            f"{other_factor:g}, at {target.clock_hz / 1e6:g} MHz"
            + (f"; {note}" if note else ""))
    model = scale_model(base_model, mac=mac_factor, other=other_factor, source=text,
                        calibrated=False, derived_from=source.name)
    model = replace(model, calibration={"derived_from": source.name,
                                        "source_variant": source_variant,
                                        "mac_factor": mac_factor, "other_factor": other_factor,
                                        "note": note})
    main, variants = _with_model(target, model, variant)
    return ProfileUpdate(target=target.name, text=_render(target, main, variants,
                                                           _source_text(target)),
                         latency=model, variant=variant)
