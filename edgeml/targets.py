"""Target boards: the limits and cost models a candidate model must meet.

A target is data, not code: one TOML file per board in the top-level
``targets/`` directory (shipped in the wheel as ``edgeml/_targets``). Load one
by name (``load_target("esp32")``) or by path (``load_target("my_board.toml")``).

Memory accounting (all in bytes):

* ``flash_bytes`` / ``ram_bytes``: what the chip (or module) has;
* ``firmware_flash_bytes`` / ``firmware_ram_bytes``: what the application,
  RTOS, drivers and stacks take before any ML code is linked;
* ``runtime_flash_bytes`` / ``runtime_ram_bytes``: the TFLite Micro core
  (interpreter, allocator, op resolver) in flash, and its RAM outside the
  tensor arena (interpreter object, resolver, stack high-water mark);
* what is left is what the model may use: ``model_flash_budget`` for the
  ``.tflite`` bytes plus the kernels' code, ``arena_budget`` for the tensor
  arena.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import TargetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["Target", "LatencyModel", "OpCost", "KERNEL_FLAVOURS", "load_target", "list_targets",
           "targets_dir", "read_latency", "latency_toml", "replace_latency", "replace_power"]

KB = 1024


@dataclass(frozen=True)
class OpCost:
    """Cycles of one operator: ``mac * MACs + element * output elements + fixed``."""

    mac: float
    element: float = 0.0
    fixed: float = 0.0

    def cycles(self, macs: int, out_elements: int) -> float:
        return self.mac * macs + self.element * out_elements + self.fixed


@dataclass(frozen=True)
class LatencyModel:
    """Per-operator cycle model of one target's TFLM build.

    ``ops`` maps a TFLite builtin operator name (``CONV_2D``) to its cost;
    operators not listed use ``default``. ``invoke_overhead`` is paid once per
    inference (interpreter bookkeeping). ``source`` says where the numbers
    come from (fitted from measurements, or derived from another core).
    """

    ops: dict[str, OpCost]
    default: OpCost
    invoke_overhead: float = 0.0
    source: str = ""
    calibrated: bool = False
    derived_from: str = ""       # target whose calibration this model was derived from
    calibration: dict[str, Any] = field(default_factory=dict, compare=False)

    def op_cost(self, op: str) -> OpCost:
        return self.ops.get(op, self.default)

    @property
    def status(self) -> str:
        """"calibrated", "derived from <target>" or "prior (not calibrated)"."""
        if self.calibrated:
            return "calibrated"
        if self.derived_from:
            return f"derived from {self.derived_from}"
        return "prior (not calibrated)"


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    core: str
    clock_hz: int
    flash_bytes: int
    ram_bytes: int
    firmware_flash_bytes: int
    firmware_ram_bytes: int
    runtime: str
    runtime_flash_bytes: int
    runtime_ram_bytes: int
    ops: frozenset[str]
    latency: LatencyModel
    active_power_mw: float
    power_source: str = ""
    energy_overhead_uj: float = 0.0
    int8_only: bool = True
    op_code_bytes: dict[str, int] = field(default_factory=dict)
    op_code_source: str = ""
    pointer_bytes: int = 4                       # 4 on 32-bit MCUs (arena structs shrink)
    kernels: str = "reference"                   # kernel flavour: reference, cmsis-nn, esp-nn
    latency_variants: dict[str, LatencyModel] = field(default_factory=dict)  # e.g. "reference"
    accelerator: dict[str, Any] = field(default_factory=dict)  # NPU settings (e.g. Vela)
    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def model_flash_budget(self) -> int:
        """Bytes of flash left for the model and its kernels' code."""
        return self.flash_bytes - self.firmware_flash_bytes - self.runtime_flash_bytes

    @property
    def arena_budget(self) -> int:
        """Bytes of RAM left for the tensor arena."""
        return self.ram_bytes - self.firmware_ram_bytes - self.runtime_ram_bytes

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "core": self.core,
            "clock_mhz": self.clock_hz / 1e6,
            "flash_kb": self.flash_bytes / KB,
            "ram_kb": self.ram_bytes / KB,
            "model_flash_budget_kb": round(self.model_flash_budget / KB, 1),
            "arena_budget_kb": round(self.arena_budget / KB, 1),
            "runtime": self.runtime,
            "ops": sorted(self.ops),
            "active_power_mw": self.active_power_mw,
            "latency_source": self.latency.source,
            "latency_calibrated": self.latency.calibrated,
            "latency_status": self.latency.status,
            "latency_derived_from": self.latency.derived_from,
            "latency_variants": sorted(self.latency_variants),
            "pointer_bytes": self.pointer_bytes,
            "kernels": self.kernels,
            "accelerator": dict(self.accelerator),
        }

    def with_latency(self, variant: str) -> Target:
        """This target with one of its alternative latency models (e.g. ``reference``);
        the ``reference`` variant also runs the reference kernels' arena."""
        if variant in ("", "default"):
            return self
        if variant not in self.latency_variants:
            known = ", ".join(["default", *sorted(self.latency_variants)])
            raise TargetError(f"target {self.name} has no latency variant {variant!r}",
                              hint=f"known: {known}")
        from dataclasses import replace

        kernels = "reference" if variant == "reference" else self.kernels
        return replace(self, latency=self.latency_variants[variant], kernels=kernels)


def targets_dir() -> Path:
    """The directory holding the shipped target profiles."""
    from importlib import resources

    shipped = resources.files("edgeml") / "_targets"
    if shipped.is_dir():
        return Path(str(shipped))
    # Source checkout / editable install: the top-level targets/ directory.
    return Path(__file__).resolve().parent.parent / "targets"


def list_targets() -> list[str]:
    return sorted(p.stem for p in targets_dir().glob("*.toml"))


def load_target(name_or_path: str | Path) -> Target:
    """Load a target profile by name (``esp32``) or by path to a TOML file."""
    text = str(name_or_path).strip()
    if not text:
        raise TargetError("empty target name", hint=f"use one of: {', '.join(list_targets())}")
    candidate = Path(text)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise TargetError(f"target profile {text!r} does not exist",
                              hint="pass a TOML file or a shipped name (edgeml targets)")
        path = candidate
    else:
        path = targets_dir() / f"{text.lower()}.toml"
        if not path.is_file():
            raise TargetError(f"unknown target {text!r}",
                              hint=f"known targets: {', '.join(list_targets())}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TargetError(f"target profile {path} is not valid TOML ({exc})",
                          hint="fix the file; see targets/esp32.toml for the format") from exc
    return _target_from_dict(data, path)


def _cost(d: dict[str, Any], where: str) -> OpCost:
    try:
        return OpCost(mac=float(d.get("mac", 0.0)), element=float(d.get("element", 0.0)),
                      fixed=float(d.get("fixed", 0.0)))
    except (TypeError, ValueError) as exc:
        raise TargetError(f"{where}: cost values must be numbers ({exc})") from exc


def read_latency(table: dict[str, Any], *, path: str | Path,
                 where: str = "latency.") -> LatencyModel:
    """A profile's ``[latency]`` table (or one of its ``variants``) -> :class:`LatencyModel`.

    The one reader of latency tables: target profiles and the measured
    reference-kernel prior (``edgeml/estimate/reference_prior.toml``) use it.
    """
    if "default" not in table:
        raise TargetError(f"target profile {path} has no '{where}default'",
                          hint="add it; see targets/esp32.toml for the format")
    try:
        return LatencyModel(
            ops={op.upper(): _cost(v, f"{path}: {where}ops.{op}")
                 for op, v in table.get("ops", {}).items()},
            default=_cost(table["default"], f"{path}: {where}default"),
            invoke_overhead=float(table.get("invoke_overhead", 0.0)),
            source=str(table.get("source", "")),
            calibrated=bool(table.get("calibrated", False)),
            derived_from=str(table.get("derived_from", "")),
            calibration=dict(table.get("calibration", {})),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise TargetError(f"target profile {path} has a malformed '{where}' table ({exc})",
                          hint="numbers must be numbers; see targets/esp32.toml") from exc


KERNEL_FLAVOURS = ("reference", "cmsis-nn", "esp-nn")


def _kernels(rt: dict[str, Any], path: Path) -> str:
    value = str(rt.get("kernels", "reference")).lower()
    if value not in KERNEL_FLAVOURS:
        raise TargetError(f"target profile {path} has runtime.kernels = {value!r}",
                          hint=f"use one of: {', '.join(KERNEL_FLAVOURS)}")
    return value


def _target_from_dict(data: dict[str, Any], path: Path) -> Target:
    def req(section: dict[str, Any], key: str, where: str) -> Any:
        if key not in section:
            raise TargetError(f"target profile {path} has no '{where}{key}'",
                              hint="add it; see targets/esp32.toml for the format")
        return section[key]

    chip = data.get("chip", {})
    fw = data.get("firmware", {})
    rt = data.get("runtime", {})
    lat = data.get("latency", {})
    power = data.get("power", {})
    latency = read_latency(lat, path=path)
    variants = {str(k): read_latency(v, path=path, where=f"latency.variants.{k}.")
                for k, v in lat.get("variants", {}).items()}
    try:
        target = Target(
            name=str(req(data, "name", "")),
            description=str(data.get("description", "")),
            core=str(req(chip, "core", "chip.")),
            clock_hz=int(float(req(chip, "clock_mhz", "chip.")) * 1e6),
            flash_bytes=int(float(req(chip, "flash_kb", "chip.")) * KB),
            ram_bytes=int(float(req(chip, "ram_kb", "chip.")) * KB),
            firmware_flash_bytes=int(float(fw.get("flash_kb", 0)) * KB),
            firmware_ram_bytes=int(float(fw.get("ram_kb", 0)) * KB),
            runtime=str(rt.get("name", "tflite-micro")),
            runtime_flash_bytes=int(float(rt.get("flash_kb", 0)) * KB),
            runtime_ram_bytes=int(float(rt.get("ram_kb", 0)) * KB),
            ops=frozenset(o.upper() for o in req(rt, "ops", "runtime.")),
            int8_only=bool(rt.get("int8_only", True)),
            op_code_bytes={k.upper(): int(v) for k, v in rt.get("op_code_bytes", {}).items()},
            op_code_source=str(rt.get("op_code_source", "")),
            pointer_bytes=int(chip.get("pointer_bytes", 4)),
            kernels=_kernels(rt, path),
            latency=latency,
            latency_variants=variants,
            accelerator=dict(data.get("accelerator", {})),
            active_power_mw=float(req(power, "active_mw", "power.")),
            power_source=str(power.get("source", "")),
            energy_overhead_uj=float(power.get("overhead_uj", 0.0)),
            path=str(path),
            raw=data,
        )
    except (TypeError, ValueError) as exc:
        raise TargetError(f"target profile {path} has a malformed value ({exc})",
                          hint="numbers must be numbers; see targets/esp32.toml") from exc
    if target.model_flash_budget <= 0 or target.arena_budget <= 0:
        raise TargetError(f"target profile {path} leaves no flash or RAM for the model",
                          hint="check firmware/runtime reservations against chip flash_kb/ram_kb")
    return target


# --------------------------------------------------------------------------- writing profiles
# `edgeml calibrate` rewrites only a profile's [latency] tables (and [power] keys);
# everything else in the file, comments included, is kept.


def toml_number(v: float) -> str:
    v = float(v)
    if not math.isfinite(v):
        raise TargetError(f"cannot write a non-finite coefficient ({v}) to a profile",
                          hint="check the measurements; a latency of 0 or inf is not usable")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def toml_string(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return toml_number(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, dict) for x in v):
            return "[\n" + "".join(f"  {_value(x)},\n" for x in v) + "]"
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TargetError(f"cannot write {type(v).__name__} to a profile")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else toml_string(k)


def _cost_toml(c: OpCost) -> str:
    return f"{{ mac = {toml_number(c.mac)}, element = {toml_number(c.element)}, fixed = {toml_number(c.fixed)} }}"


def latency_toml(model: LatencyModel, *, table: str = "latency",
                 comment: str = "") -> str:
    """TOML for ``model`` as ``[table]``, ``[table.ops]``, ``[table.calibration]``."""
    lines = [f"[{table}]"]
    if comment:
        lines += [f"# {ln}" for ln in comment.splitlines()]
    lines.append(f"source = {toml_string(model.source)}")
    lines.append(f"calibrated = {_value(model.calibrated)}")
    if model.derived_from:
        lines.append(f"derived_from = {toml_string(model.derived_from)}")
    lines.append(f"invoke_overhead = {toml_number(model.invoke_overhead)}")
    lines.append(f"default = {_cost_toml(model.default)}")
    lines.append("")
    lines.append(f"[{table}.ops]")
    for op, c in sorted(model.ops.items()):
        lines.append(f"{op} = {_cost_toml(c)}")
    if model.calibration:
        lines.append("")
        lines.append(f"[{table}.calibration]")
        for k, v in model.calibration.items():
            lines.append(f"{_key(k)} = {_value(v)}")
    return "\n".join(lines) + "\n"


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?\s*(#.*)?$")


def replace_latency(text: str, block: str, *, table: str = "latency") -> str:
    """``text`` with ``[table]`` and its sub-tables replaced by ``block``.

    The block goes where ``[table]`` was (or at the end); the other tables
    and their comments are untouched.
    """
    out: list[str] = []
    inserted = False
    skipping = False
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            name = m.group(1).strip('"')
            inside = name == table or name.startswith(table + ".")
            if inside and not inserted:
                while out and not out[-1].strip():
                    out.pop()
                out.append("")
                out.extend(block.rstrip("\n").splitlines())
                out.append("")
                inserted = True
            skipping = inside
            if inside:
                continue
        if not skipping:
            out.append(line)
    if not inserted:
        out.append("")
        out.extend(block.rstrip("\n").splitlines())
    return "\n".join(out).rstrip("\n") + "\n"


def replace_power(text: str, power: dict[str, Any]) -> str:
    """``text`` with the ``[power]`` table's keys set to ``power`` (the rest kept)."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "[power]"), None)
    if start is None:
        return text.rstrip("\n") + "\n\n[power]\n" + "".join(
            f"{k} = {toml_number(v) if isinstance(v, (int, float)) else toml_string(v)}\n" for k, v in power.items())
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines))
    body = lines[start + 1:end]
    for key, value in power.items():
        rendered = f"{key} = {toml_number(value) if isinstance(value, (int, float)) else toml_string(value)}"
        idx = next((i for i, ln in enumerate(body) if re.match(rf"^\s*{key}\s*=", ln)), None)
        if idx is None:
            body.append(rendered)
        else:
            body[idx] = rendered
    return "\n".join(lines[:start + 1] + body + lines[end:]) + "\n"
