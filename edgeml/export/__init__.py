"""Export: ``.tflite``, C arrays for firmware, and run reports."""

from __future__ import annotations

from .c_array import CModelInfo, c_identifier, render_header, render_source
from .report import render_markdown

__all__ = ["CModelInfo", "c_identifier", "render_header", "render_source", "render_markdown"]
