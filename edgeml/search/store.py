"""Trial records on disk: one JSON file per finished trial, written atomically.

A record is written once, when its trial has finished (checked and rejected,
or trained, converted and scored); its artifacts (``model.tflite``,
``model.keras``) are written before it. A run killed at any moment therefore
has, for each trial, either a complete record or none: resuming replays the
complete ones to the oracle and runs the others again, exactly once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._io import dump_json
from ..errors import EdgeMLError

__all__ = ["TrialStore"]


class TrialStore:
    """``<run>/trials/trial_0007.json`` records, keyed by the trial's number."""

    def __init__(self, run_dir: str | Path) -> None:
        self.root = Path(run_dir) / "trials"

    def path(self, number: int) -> Path:
        return self.root / f"trial_{number:04d}.json"

    def artifact_dir(self, number: int) -> Path:
        d = self.root / f"trial_{number:04d}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def put(self, record: dict[str, Any], *, name: str | None = None) -> Path:
        target = self.root / f"{name}.json" if name else self.path(int(record["trial_id"]))
        return dump_json(target, record)

    def get(self, name: str) -> dict[str, Any] | None:
        p = self.root / f"{name}.json"
        return self._read(p) if p.exists() else None

    def load(self) -> dict[int, dict[str, Any]]:
        """Every finished trial's record, by trial number."""
        out: dict[int, dict[str, Any]] = {}
        if not self.root.is_dir():
            return out
        for p in sorted(self.root.glob("trial_*.json")):
            try:
                number = int(p.stem.split("_", 1)[1])
            except ValueError:
                continue
            out[number] = self._read(p)
        return out

    @staticmethod
    def _read(p: Path) -> dict[str, Any]:
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            raise EdgeMLError(f"trial record {p} is unreadable ({exc})",
                              hint="delete that file to run the trial again") from exc
