"""``edgeml export`` for the Python API: a run's chosen model (or a .tflite file) written
for a firmware project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgeMLError

__all__ = ["Exported", "export"]


@dataclass(frozen=True)
class Exported:
    """What :func:`export` wrote: the folder to point the firmware build at, the files,
    and the model's facts (bytes, operators, measured arena)."""

    format: str
    root: Path
    files: tuple[Path, ...]
    model_bytes: int
    ops: tuple[str, ...]
    arena_bytes: int

    def __str__(self) -> str:
        return f"{self.format} export in {self.root} ({len(self.files)} files)"


def export(source: str | Path, fmt: str, out: str | Path, *,
           name: str = "model", force: bool = False, target: str | None = None) -> Exported:
    """Write a run's chosen model (or a ``.tflite`` file, with ``target``) for a firmware
    project (``edgeml export``): ``fmt`` is tflite, c, esp-idf, arduino, zephyr or firmware
    (a PlatformIO project of the bench firmware for ``target``'s board, booting with the
    model)."""
    from ..export import FORMATS, export_model, load_artifact
    from ..export.c_array import c_identifier

    if fmt not in FORMATS:  # before the (slower) model checks
        raise EdgeMLError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    c_identifier(name)
    if fmt == "firmware" and target:
        from ..export.firmware import board_for

        board_for(target)  # an unknown board fails before the (slower) model checks
    art = load_artifact(source, target=target)
    result = export_model(art, fmt=fmt, out=out, name=name, force=force)
    return Exported(format=result.format, root=result.root, files=tuple(result.files),
                    model_bytes=len(art.model), ops=tuple(art.ops), arena_bytes=art.arena_bytes)
