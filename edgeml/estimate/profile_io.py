"""Writing latency models back into target-profile TOML files.

``edgeml calibrate`` replaces only the ``[latency]`` tables of a profile (and
their sub-tables); everything else in the file, comments included, is kept.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import TargetError
from ..targets import LatencyModel, OpCost

__all__ = ["latency_toml", "replace_latency"]


def _num(v: float) -> str:
    v = float(v)
    if not math.isfinite(v):
        raise TargetError(f"cannot write a non-finite coefficient ({v}) to a profile",
                          hint="check the measurements; a latency of 0 or inf is not usable")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def _str(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _num(v)
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, dict) for x in v):
            return "[\n" + "".join(f"  {_value(x)},\n" for x in v) + "]"
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TargetError(f"cannot write {type(v).__name__} to a profile")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _str(k)


def _cost(c: OpCost) -> str:
    return f"{{ mac = {_num(c.mac)}, element = {_num(c.element)}, fixed = {_num(c.fixed)} }}"


def latency_toml(model: LatencyModel, *, table: str = "latency",
                 comment: str = "") -> str:
    """TOML for ``model`` as ``[table]``, ``[table.ops]``, ``[table.calibration]``."""
    lines = [f"[{table}]"]
    if comment:
        lines += [f"# {ln}" for ln in comment.splitlines()]
    lines.append(f"source = {_str(model.source)}")
    lines.append(f"calibrated = {_value(model.calibrated)}")
    if model.derived_from:
        lines.append(f"derived_from = {_str(model.derived_from)}")
    lines.append(f"invoke_overhead = {_num(model.invoke_overhead)}")
    lines.append(f"default = {_cost(model.default)}")
    lines.append("")
    lines.append(f"[{table}.ops]")
    for op, c in sorted(model.ops.items()):
        lines.append(f"{op} = {_cost(c)}")
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
