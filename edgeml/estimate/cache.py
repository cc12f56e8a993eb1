"""A small on-disk cache for measurements keyed by model hash.

Measuring a model in TFLite Micro (or compiling it with Vela) costs a child
process and up to a second; the result depends only on the model bytes and
the tool's version, so it is stored as JSON under ``$EDGEML_CACHE_DIR``
(default ``~/.cache/edgeml``). Entries are written atomically; a corrupt or
unreadable entry is treated as missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._io import atomic_write

__all__ = ["cache_dir", "cache_get", "cache_put"]


def cache_dir() -> Path:
    """``$EDGEML_CACHE_DIR`` or ``~/.cache/edgeml``."""
    env = os.environ.get("EDGEML_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "edgeml"


def _path(kind: str, key: str) -> Path:
    return cache_dir() / kind / f"{key}.json"


def cache_get(kind: str, key: str) -> dict[str, Any] | None:
    try:
        with open(_path(kind, key), encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def cache_put(kind: str, key: str, value: dict[str, Any]) -> None:
    """Store ``value``; a read-only or full cache directory is not an error."""
    try:
        atomic_write(_path(kind, key), json.dumps(value, sort_keys=True))
    except OSError:
        pass
