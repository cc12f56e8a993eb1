"""Bytes to C: the model as a C array in TFLite Micro's conventions.

``model_data.h`` declares, and ``model_data.cc`` defines::

    alignas(16) const unsigned char g_model[];   // the .tflite bytes
    const unsigned int g_model_len;
    constexpr int kTensorArenaSize;              // measured in TFLM, + stated margin
    constexpr int kTensorArenaMeasured;          // the measurement itself
    constexpr float kInputScale; constexpr int kInputZeroPoint;
    constexpr float kOutputScale; constexpr int kOutputZeroPoint;
    constexpr float kRawInputScale, kRawInputOffset;  // model input = raw * scale + offset
    constexpr float kRawToInputMul, kRawToInputAdd;   // the same, folded into the int8 step
    inline void QuantizeRawInput(const float* raw, signed char* out, int n);
    constexpr int kNumClasses; extern const char* const kLabels[];

A ``name`` other than ``model`` prefixes every symbol (``g_kws``,
``kKwsTensorArenaSize``) so several models can live in one firmware.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass, field

from ..errors import ExportError

__all__ = ["CModelInfo", "c_identifier", "camel", "symbols", "arena_with_margin",
           "render_c_array", "render_header", "render_source", "ARENA_MARGIN", "ARENA_MIN_MARGIN"]

# Added to the arena measured on the host: optimized kernels (ESP-NN, CMSIS-NN) ask
# for scratch buffers the reference kernels do not, and TFLM versions differ a little.
ARENA_MARGIN = 0.25
ARENA_MIN_MARGIN = 1024

_C_KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while", "class", "namespace", "template", "new",
    "delete", "this", "public", "private", "protected", "virtual", "operator", "bool", "true",
    "false", "alignas", "constexpr",
}


@dataclass(frozen=True)
class CModelInfo:
    model: bytes
    arena_bytes: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    labels: tuple[str, ...]
    raw_input_scale: float = 1.0
    raw_input_offset: float = 0.0
    input_shape: tuple[int, ...] = ()
    extra_comments: tuple[str, ...] = field(default=())
    arena_margin: float = ARENA_MARGIN          # fraction of the measured arena
    arena_min_margin: int = ARENA_MIN_MARGIN    # bytes

    @property
    def arena_size(self) -> int:
        return arena_with_margin(self.arena_bytes, margin=self.arena_margin,
                                 minimum=self.arena_min_margin)

    @property
    def raw_to_input(self) -> tuple[float, float]:
        """``q = round(raw * mul + add)``: preprocessing and int8 quantization in one step."""
        mul = self.raw_input_scale / self.input_scale
        add = self.raw_input_offset / self.input_scale + self.input_zero_point
        return mul, add


def arena_with_margin(measured: int, *, margin: float = ARENA_MARGIN,
                      minimum: int = ARENA_MIN_MARGIN) -> int:
    """``measured`` plus ``margin`` of it (at least ``minimum`` bytes), rounded up to 16."""
    extra = max(int(math.ceil(measured * margin)), int(minimum))
    return (int(measured) + extra + 15) // 16 * 16


def c_identifier(name: str) -> str:
    """Check ``name`` is usable as a C identifier stem (lower snake case)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or "") or name in _C_KEYWORDS \
            or keyword.iskeyword(name):
        raise ExportError(f"--name {name!r} is not a valid C identifier",
                          hint="use letters, digits and underscores, not starting with a digit")
    return name


def camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p)


def symbols(name: str) -> dict[str, str]:
    c_identifier(name)
    k = "k" if name == "model" else "k" + camel(name)
    fn = "" if name == "model" else camel(name)
    return {"array": f"g_{name}", "len": f"g_{name}_len", "arena": f"{k}TensorArenaSize",
            "arena_measured": f"{k}TensorArenaMeasured",
            "raw_mul": f"{k}RawToInputMul", "raw_add": f"{k}RawToInputAdd",
            "quantize": f"{fn}QuantizeRawInput", "input_len": f"{k}InputLength",
            "in_scale": f"{k}InputScale", "in_zp": f"{k}InputZeroPoint",
            "out_scale": f"{k}OutputScale", "out_zp": f"{k}OutputZeroPoint",
            "raw_scale": f"{k}RawInputScale", "raw_offset": f"{k}RawInputOffset",
            "classes": f"{k}NumClasses", "labels": f"{k}Labels",
            "guard": f"EDGEML_{name.upper()}_DATA_H_"}


def render_c_array(data: bytes, *, per_line: int = 12) -> str:
    rows = []
    for i in range(0, len(data), per_line):
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) + ",")
    return "\n".join(rows)


def _c_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "?":  # controls; "?" avoids trigraphs
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _float(v: float) -> str:
    text = f"{float(v) + 0.0:.9g}"  # + 0.0 turns -0.0 into 0.0
    return f"{text}f" if ("." in text or "e" in text) else f"{text}.0f"


def render_header(info: CModelInfo, *, name: str = "model") -> str:
    s = symbols(name)
    shape = "x".join(str(d) for d in info.input_shape) or "?"
    n_in = math.prod(info.input_shape) if info.input_shape else 0
    mul, add = info.raw_to_input
    pct = f"{info.arena_margin * 100:g}%"
    lines = [
        "// Generated by edgeml. Do not edit: re-run `edgeml export` instead.",
        f"// Model input {shape}, int8. From raw sensor values, either call",
        f"//   {s['quantize']}(raw, input->data.int8, {s['input_len']});",
        "// or do the same two steps by hand:",
        f"//   x = raw * {s['raw_scale']} + {s['raw_offset']};",
        f"//   q = clamp(round(x / {s['in_scale']}) + {s['in_zp']}, -128, 127);",
        *[f"// {c}" for c in info.extra_comments],
        f"#ifndef {s['guard']}",
        f"#define {s['guard']}",
        "",
        f"extern const unsigned char {s['array']}[];",
        f"extern const unsigned int {s['len']};",
        "",
        f"// Tensor arena: {int(info.arena_bytes)} bytes measured in the TFLite Micro interpreter on",
        "// the host (reference kernels, 64-bit pointers: at least what a 32-bit MCU needs),",
        f"// plus a {pct} margin (at least {int(info.arena_min_margin)} bytes) for optimized kernels'",
        "// scratch buffers and TFLM version differences, rounded up to 16 bytes.",
        f"constexpr int {s['arena']} = {info.arena_size};",
        f"constexpr int {s['arena_measured']} = {int(info.arena_bytes)};",
        "",
        f"constexpr int {s['input_len']} = {int(n_in)};",
        f"constexpr float {s['in_scale']} = {_float(info.input_scale)};",
        f"constexpr int {s['in_zp']} = {int(info.input_zero_point)};",
        f"constexpr float {s['out_scale']} = {_float(info.output_scale)};",
        f"constexpr int {s['out_zp']} = {int(info.output_zero_point)};",
        "",
        "// Preprocessing the model was trained with: model input = raw * scale + offset.",
        f"constexpr float {s['raw_scale']} = {_float(info.raw_input_scale)};",
        f"constexpr float {s['raw_offset']} = {_float(info.raw_input_offset)};",
        "// The same preprocessing folded into the int8 quantization: q = round(raw * mul + add).",
        f"constexpr float {s['raw_mul']} = {_float(mul)};",
        f"constexpr float {s['raw_add']} = {_float(add)};",
        "",
        "// Raw sensor values -> the model's int8 input (preprocessing included).",
        f"inline void {s['quantize']}(const float* raw, signed char* out, int n) {{",
        "  for (int i = 0; i < n; ++i) {",
        f"    const float v = raw[i] * {s['raw_mul']} + {s['raw_add']};",
        "    const int q = static_cast<int>(v >= 0.0f ? v + 0.5f : v - 0.5f);",
        "    out[i] = static_cast<signed char>(q < -128 ? -128 : (q > 127 ? 127 : q));",
        "  }",
        "}",
        "",
        f"constexpr int {s['classes']} = {len(info.labels)};",
        f"extern const char* const {s['labels']}[{s['classes']}];",
        "",
        f"#endif  // {s['guard']}",
        "",
    ]
    return "\n".join(lines)


def render_source(info: CModelInfo, *, name: str = "model", header: str = "model_data.h") -> str:
    s = symbols(name)
    labels = ", ".join(_c_string(lab) for lab in info.labels)
    return "\n".join([
        "// Generated by edgeml. Do not edit: re-run `edgeml export` instead.",
        f'#include "{header}"',
        "",
        f"alignas(16) const unsigned char {s['array']}[] = {{",
        render_c_array(info.model),
        "};",
        f"const unsigned int {s['len']} = {len(info.model)};",
        "",
        f"const char* const {s['labels']}[{s['classes']}] = {{{labels}}};",
        "",
    ])
