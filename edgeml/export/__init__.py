"""Export: ``.tflite``, C arrays and op resolvers for firmware, packages, and run reports."""

from __future__ import annotations

from .artifact import ModelArtifact
from .c_array import c_identifier, render_header, render_source
from .formats import (
    FORMATS,
    ExportResult,
    export_model,
    load_artifact,
    write_c_files,
)
from .op_resolver import render_op_resolver
from .report import render_markdown

__all__ = ["c_identifier", "render_header", "render_source", "render_markdown",
           "render_op_resolver", "FORMATS", "ModelArtifact", "ExportResult", "load_artifact",
           "export_model", "write_c_files"]
