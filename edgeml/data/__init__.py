"""Data loading and validation: CSV, NPZ or a builtin name -> :class:`Dataset`."""

from __future__ import annotations

from .dataset import Dataset, InputKind, load_dataset

__all__ = ["Dataset", "InputKind", "load_dataset"]
