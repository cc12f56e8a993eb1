"""C identifiers for generated files: the checked name stem and its CamelCase form."""

from __future__ import annotations

import keyword
import re

from ..errors import ExportError

__all__ = ["c_identifier", "camel"]

_C_KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "class", "namespace", "template", "new",
    "delete", "this", "public", "private", "protected", "virtual", "operator", "bool", "true",
    "false", "alignas", "constexpr",
}


def c_identifier(name: str) -> str:
    """Check ``name`` is usable as a C identifier stem (lower snake case)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or "") or name in _C_KEYWORDS \
            or keyword.iskeyword(name):
        raise ExportError(f"--name {name!r} is not a valid C identifier",
                          hint="use letters, digits and underscores, not starting with a digit")
    return name


def camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p)
