"""Data loading and validation: CSV, NPZ, arrays in memory or a builtin name -> :class:`Dataset`."""

from __future__ import annotations

from .dataset import Dataset, InputKind, arrays_from, load_dataset, save_arrays

__all__ = ["Dataset", "InputKind", "load_dataset", "arrays_from", "save_arrays"]
