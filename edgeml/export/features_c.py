"""The feature stage as generated C99: raw samples -> the model's int8 input.

``render_feature_files(fitted, name=..., input_scale=..., input_zero_point=...)``
returns ``edgeml_features.h`` and ``edgeml_features.c`` (``<name>_features.*`` for another
name; never plain ``features.h``, which would hide the C library's own ``<features.h>``
once the folder is on an include path) declaring::

    int edgeml_features(const float *raw, int8_t *out);        /* the model's input */
    int edgeml_features_float(const float *raw, float *out);   /* normalized floats */

``raw`` holds ``EDGEML_FEATURES_INPUT_LENGTH`` floats: one window of
``window`` time steps x ``channels`` values, interleaved by time step (the rows of
a CSV), or one tabular row. No dynamic allocation: the buffers are static and
sized at generation time, the tables (Hann window, FFT twiddles, mel filterbank,
DCT, normalization) are ``const`` float32 arrays with exactly the values the
Python side (``edgeml.features.compute``) uses, and the FFT is a small radix-2
complex FFT written out here. Host and device agree to float32 rounding (the
tests compare them within 1e-4 relative); the int8 output within +-1 LSB.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ExportError
from ..features.compute import band_edges, dct_matrix, hann, mel_filterbank
from ..features.spec import LOG_EPS, RATIO_EPS, FittedFeatures
from .c_names import c_identifier

__all__ = ["render_feature_files", "feature_file_names", "feature_symbols", "feature_files"]


def feature_file_names(name: str = "model") -> dict[str, str]:
    stem = "edgeml_features" if name == "model" else f"{name}_features"
    return {"header": f"{stem}.h", "source": f"{stem}.c"}


def feature_symbols(name: str = "model") -> dict[str, str]:
    base = "edgeml_features" if name == "model" else f"edgeml_{name}_features"
    return {"func": base, "float": f"{base}_float", "macro": base.upper()}


def _f(v: float) -> str:
    v = float(np.float32(v))
    if v == 0.0:
        return "0.0f"
    text = f"{v:.9g}"
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def _table(ctype: str, name: str, values: np.ndarray | list, per_line: int = 8) -> str:
    vals = list(np.asarray(values).ravel())
    fmt = _f if ctype == "float" else (lambda v: str(int(v)))
    lines = [", ".join(fmt(v) for v in vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    body = ",\n  ".join(lines) if lines else "0"
    return f"static const {ctype} {name}[{max(1, len(vals))}] = {{\n  {body}\n}};\n"


_FFT = """
static float s_re[NFFT];
static float s_im[NFFT];

/* In-place radix-2 decimation-in-time FFT of s_re + i*s_im (forward, unscaled). */
static void fft(void) {
  int i, j = 0, len, k, bit;
  for (i = 1; i < NFFT; i++) {
    bit = NFFT >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      float t = s_re[i]; s_re[i] = s_re[j]; s_re[j] = t;
      t = s_im[i]; s_im[i] = s_im[j]; s_im[j] = t;
    }
  }
  for (len = 2; len <= NFFT; len <<= 1) {
    int half = len >> 1, step = NFFT / len;
    for (i = 0; i < NFFT; i += len) {
      for (k = 0; k < half; k++) {
        float wr = k_cos[k * step], wi = -k_sin[k * step];
        int a = i + k, b = i + k + half;
        float xr = s_re[b] * wr - s_im[b] * wi;
        float xi = s_re[b] * wi + s_im[b] * wr;
        s_re[b] = s_re[a] - xr; s_im[b] = s_im[a] - xi;
        s_re[a] += xr; s_im[a] += xi;
      }
    }
  }
}
"""


def _twiddles(n_fft: int) -> str:
    ang = 2.0 * np.pi * np.arange(n_fft // 2) / n_fft
    return (f"#define NFFT {n_fft}\n" + _table("float", "k_cos", np.cos(ang).astype(np.float32))
            + _table("float", "k_sin", np.sin(ang).astype(np.float32)) + _FFT)


def _body_raw(spec) -> tuple[str, str]:
    return "", f"""  int t, c;
  for (t = 0; t < {spec.window}; t++)
    for (c = 0; c < {spec.channels}; c++)
      put(fo, qo, t * {spec.channels} + c, c, raw[t * {spec.channels} + c]);
"""


def _body_stats(spec) -> tuple[str, str]:
    n, ch, s = spec.window, spec.channels, len(spec.stats)
    pct = [st for st in spec.stats if st.startswith("p")]
    decl = f"static float s_sorted[{n}];\n" if pct else ""
    lines = [f"  int c, t;\n  for (c = 0; c < {ch}; c++) {{",
             "    float sum = 0.0f, sq = 0.0f, var = 0.0f, mn = raw[c], mx = raw[c], mean;",
             "    int zc = 0, below;",
             f"    for (t = 0; t < {n}; t++) {{",
             f"      float v = raw[t * {ch} + c];",
             "      sum += v; sq += v * v;",
             "      if (v < mn) mn = v;",
             "      if (v > mx) mx = v;",
             "    }",
             f"    mean = sum / {n}.0f;",
             "    below = raw[c] < mean;",
             f"    for (t = 0; t < {n}; t++) {{",
             f"      float v = raw[t * {ch} + c], d = v - mean;",
             "      int b = v < mean;",
             "      var += d * d;",
             "      if (t > 0 && b != below) zc++;",
             "      below = b;",
             "    }"]
    if pct:
        lines += [f"    for (t = 0; t < {n}; t++) {{",
                  f"      float v = raw[t * {ch} + c];",
                  "      int u = t;",
                  "      while (u > 0 && s_sorted[u - 1] > v) { s_sorted[u] = s_sorted[u - 1]; u--; }",
                  "      s_sorted[u] = v;",
                  "    }"]
    for k, st in enumerate(spec.stats):
        expr = {"mean": "mean", "std": f"sqrtf(var / {n}.0f)", "min": "mn", "max": "mx",
                "rms": f"sqrtf(sq / {n}.0f)", "zcr": "(float)zc"}.get(st)
        if expr is None:
            pos = np.float32(int(st[1:]) / 100.0 * (n - 1))
            lo = int(np.floor(pos))
            hi = min(lo + 1, n - 1)
            frac = np.float32(pos - lo)
            expr = f"s_sorted[{lo}] + {_f(frac)} * (s_sorted[{hi}] - s_sorted[{lo}])"
        lines.append(f"    put(fo, qo, c * {s} + {k}, c * {s} + {k}, {expr});")
    lines.append("  }")
    return decl, "\n".join(lines) + "\n"


def _body_fft(spec) -> tuple[str, str]:
    n, ch, nf = spec.window, spec.channels, spec.n_fft
    edges = band_edges(nf, spec.bands)
    decl = _twiddles(nf) + _table("int", "k_band_lo", [lo for lo, _ in edges]) + \
        _table("int", "k_band_hi", [hi for _, hi in edges])
    body = f"""  int c, t, b, k;
  for (c = 0; c < {ch}; c++) {{
    float mean = 0.0f;
    for (t = 0; t < {n}; t++) mean += raw[t * {ch} + c];
    mean /= {n}.0f;
    for (t = 0; t < NFFT; t++) {{
      s_re[t] = t < {n} ? raw[t * {ch} + c] - mean : 0.0f;
      s_im[t] = 0.0f;
    }}
    fft();
    for (b = 0; b < {spec.bands}; b++) {{
      float e = 0.0f;
      for (k = k_band_lo[b]; k < k_band_hi[b]; k++) e += s_re[k] * s_re[k] + s_im[k] * s_im[k];
      put(fo, qo, c * {spec.bands} + b, c * {spec.bands} + b, logf(e / {nf}.0f + {_f(LOG_EPS)}));
    }}
  }}
"""
    return decl, body


def _body_mel(spec) -> tuple[str, str]:
    fb = mel_filterbank(spec.mels, spec.n_fft, spec.rate, spec.fmin, spec.fmax)
    start, count, offset, weights = [], [], [], []
    for m in range(spec.mels):
        nz = np.flatnonzero(fb[m] > 0)
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 0)
        start.append(lo)
        count.append(hi - lo)
        offset.append(len(weights))
        weights.extend(fb[m, lo:hi].tolist())
    decl = (_twiddles(spec.n_fft) + _table("float", "k_hann", hann(spec.frame))
            + _table("int", "k_mel_start", start) + _table("int", "k_mel_count", count)
            + _table("int", "k_mel_offset", offset) + _table("float", "k_mel_w", weights))
    out_per_frame = spec.mels
    tail = f"""      put(fo, qo, f * {spec.mels} + m, m, logf(acc + {_f(LOG_EPS)}));
"""
    after = ""
    if spec.kind == "mfcc":
        decl += _table("float", "k_dct", dct_matrix(spec.mfcc, spec.mels)) + \
            f"static float s_mel[{spec.mels}];\n"
        out_per_frame = spec.mfcc
        tail = f"      s_mel[m] = logf(acc + {_f(LOG_EPS)});\n"
        after = f"""    for (q = 0; q < {spec.mfcc}; q++) {{
      float acc = 0.0f;
      for (m = 0; m < {spec.mels}; m++) acc += k_dct[q * {spec.mels} + m] * s_mel[m];
      put(fo, qo, f * {out_per_frame} + q, q, acc);
    }}
"""
    body = f"""  int f, i, m, j, q;
  (void)q;
  for (f = 0; f < {spec.frames}; f++) {{
    const float *x = raw + f * {spec.frame_hop};
    for (i = 0; i < NFFT; i++) {{
      s_re[i] = i < {spec.frame} ? x[i] * k_hann[i] : 0.0f;
      s_im[i] = 0.0f;
    }}
    fft();
    for (m = 0; m < {spec.mels}; m++) {{
      float acc = 0.0f;
      for (j = 0; j < k_mel_count[m]; j++) {{
        int k = k_mel_start[m] + j;
        acc += (s_re[k] * s_re[k] + s_im[k] * s_im[k]) * k_mel_w[k_mel_offset[m] + j];
      }}
{tail}    }}
{after}  }}
"""
    return decl, body


def _body_tabular(spec) -> tuple[str, str]:
    lines = ["  float den;", "  (void)den;"]
    for k, (op, i, j) in enumerate(spec.terms):
        if op == "col":
            expr = f"raw[{i}]"
        elif op == "prod":
            expr = f"raw[{i}] * raw[{j}]"
        elif op == "diff":
            expr = f"raw[{i}] - raw[{j}]"
        else:
            lines.append(f"  den = raw[{j}];")
            lines.append(f"  if (fabsf(den) < {_f(RATIO_EPS)}) den = den < 0.0f ? "
                         f"-{_f(RATIO_EPS)} : {_f(RATIO_EPS)};")
            expr = f"raw[{i}] / den"
        lines.append(f"  put(fo, qo, {k}, {k}, {expr});  /* {op}({i}, {j}) */")
    return "", "\n".join(lines) + "\n"


_BODIES = {"raw": _body_raw, "stats": _body_stats, "fft": _body_fft, "logmel": _body_mel,
           "mfcc": _body_mel, "tabular": _body_tabular}


def render_feature_files(fitted: FittedFeatures, *, name: str = "model", input_scale: float,
                         input_zero_point: int) -> dict[str, bytes]:
    """``{file name: bytes}`` of the feature stage's header and C source."""
    c_identifier(name)
    spec = fitted.spec
    names = feature_file_names(name)
    sym = feature_symbols(name)
    macro = sym["macro"]
    n_in = spec.input_length
    n_out = int(np.prod(spec.output_shape))
    guard = f"{macro}_H_"
    header = f"""/* Generated by edgeml: the feature stage, {spec.describe()}.
 * raw: {n_in} floats ({spec.window} time steps x {spec.channels} channel(s), interleaved by
 * time step; tabular: one row). out: {n_out} values, the model's input {tuple(spec.output_shape)}.
 * Returns 0. No dynamic allocation; not reentrant (static buffers). */
#ifndef {guard}
#define {guard}
#include <stdint.h>
#ifdef __cplusplus
extern "C" {{
#endif
#define {macro}_INPUT_LENGTH {n_in}
#define {macro}_OUTPUT_LENGTH {n_out}
#define {macro}_RATE_HZ {_f(spec.rate)[:-1]}
/* raw window -> the model's int8 input (scale {input_scale:.9g}, zero point {input_zero_point}) */
int {sym['func']}(const float *raw, int8_t *out);
/* raw window -> normalized float features (before quantization) */
int {sym['float']}(const float *raw, float *out);
#ifdef __cplusplus
}}
#endif
#endif
"""
    decl, body = _BODIES[spec.kind](spec)
    source = f"""/* Generated by edgeml: the feature stage, {spec.describe()}.
 * spec: {spec.to_json()} */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "{names['header']}"

#define INPUT_SCALE {_f(input_scale)}
#define INPUT_ZERO_POINT {int(input_zero_point)}

{_table("float", "k_mean", fitted.mean_array())}{_table("float", "k_inv_std", fitted.inv_std_array())}
static void put(float *fo, int8_t *qo, int i, int slot, float v) {{
  float n = (v - k_mean[slot]) * k_inv_std[slot];
  if (fo) fo[i] = n;
  if (qo) {{
    long q = lrintf(n / INPUT_SCALE) + INPUT_ZERO_POINT;
    qo[i] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
  }}
}}
{decl}
static void run(const float *raw, float *fo, int8_t *qo) {{
{body}}}

int {sym['func']}(const float *raw, int8_t *out) {{
  run(raw, NULL, out);
  return 0;
}}

int {sym['float']}(const float *raw, float *out) {{
  run(raw, out, NULL);
  return 0;
}}
"""
    return {names["header"]: header.encode(), names["source"]: source.encode()}


def feature_files(art: Any, name: str) -> dict[str, bytes]:
    """The feature stage's C (``edgeml_features.c/.h``) when ``art`` (a ModelArtifact) was trained
    on features: firmware calls one function from raw samples to the model's int8 input."""
    if not art.features:
        return {}
    fitted = FittedFeatures.from_dict(art.features)
    n_feat, n_in = math.prod(fitted.spec.output_shape), math.prod(art.input_shape or (0,))
    if n_feat != n_in:
        raise ExportError(f"the feature stage makes {n_feat} values but the model takes {n_in}",
                          hint="export the run the features were fitted for")
    return render_feature_files(fitted, name=name, input_scale=art.input_scale,
                                input_zero_point=art.input_zero_point)
