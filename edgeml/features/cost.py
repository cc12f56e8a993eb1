"""What the exported feature stage costs on a target: RAM, flash and cycles.

RAM and table flash are counted from the generated C's static buffers and ``const``
tables (the sizes ``edgeml.export.features_c`` declares). Code flash is a per-kind
figure for the generated functions (Thumb-2 at -Os, as arm-none-eabi-gcc 12 compiles
them for a Cortex-M4F). The tests check all three against the section sizes of the
cross-compiled object (code within 50 %).

Cycles count floating-point operations (adds/multiplies) and transcendentals
(log/sqrt/divide) times per-kind costs measured on the generated C: instructions per
call of ``edgeml_features_float`` under QEMU (``-icount``) on a Cortex-M4 with FPU and
on a Cortex-M3 with floats in software, fitted per kind (``benchmarks/feature_cycles.py``
prints the table and the error of the fit: within 46 % on the measured specs, the worst
being statistics with and without percentiles). Instructions stand in for cycles, as
for the classical models; an ESP32 (Xtensa with FPU) uses the FPU row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .spec import FeatureSpec

__all__ = ["FeatureCost", "feature_cost", "cost_on", "charge", "CODE_BYTES", "CYCLES",
           "has_fpu"]

#: generated code per kind (bytes of Thumb-2 text at -Os, incl. quantization)
CODE_BYTES = {"raw": 180, "stats": 700, "fft": 620, "logmel": 620, "mfcc": 700,
              "tabular": 120}
#: tabular terms are unrolled: bytes per term on top of CODE_BYTES["tabular"]
CODE_BYTES_PER_TERM = 40
_NO_FPU = ("cortex-m0", "cortex-m3", "riscv32-rv32imc", "rv32imc")
#: (instructions per add/multiply, per log/sqrt/divide) by kind, with an FPU and in software
#: float: fitted by benchmarks/feature_cycles.py (QEMU mps2-an386 / mps2-an385, -icount)
CYCLES = {
    "fpu": {"stats": (4.83, 52.3), "fft": (3.37, 63.5), "raw": (4.91, 0.0),
            "logmel": (2.95, 102.4), "mfcc": (2.98, 109.9), "tabular": (0.0, 8.2)},
    "soft": {"stats": (30.43, 899.4), "fft": (42.17, 557.8), "raw": (33.47, 0.0),
             "logmel": (33.13, 261.0), "mfcc": (33.45, 319.9), "tabular": (0.0, 110.7)},
}


def has_fpu(core: str) -> bool:
    core = core.lower()
    return not any(core.startswith(c) for c in _NO_FPU)


@dataclass(frozen=True)
class FeatureCost:
    ram_bytes: int          # static buffers of the feature stage
    flash_bytes: int        # const tables + code
    table_bytes: int
    code_bytes: int
    flops: int              # adds/multiplies per call
    transcendentals: int    # log/sqrt/divide per call
    cycles: int
    latency_ms: float

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def buffers(spec: FeatureSpec) -> dict[str, int]:
    """Static float buffers (element counts) of the generated C, by name."""
    if spec.kind in ("fft", "logmel", "mfcc"):
        b = {"re": spec.n_fft, "im": spec.n_fft}
        if spec.kind == "mfcc":
            b["mel"] = spec.mels
        return b
    if spec.kind == "stats" and any(s.startswith("p") for s in spec.stats):
        return {"sorted": spec.window}
    return {}


def tables(spec: FeatureSpec) -> dict[str, int]:
    """``const`` tables of the generated C (float elements; index arrays counted as floats)."""
    t = {"mean": spec.norm_size, "inv_std": spec.norm_size}
    if spec.kind in ("fft", "logmel", "mfcc"):
        t["twiddle"] = spec.n_fft  # cos + sin of n_fft / 2 angles
    if spec.kind in ("logmel", "mfcc"):
        from .compute import mel_filterbank

        fb = mel_filterbank(spec.mels, spec.n_fft, spec.rate, spec.fmin, spec.fmax)
        t["hann"] = spec.frame
        t["mel_weights"] = int((fb > 0).sum())
        t["mel_index"] = 2 * spec.mels
        if spec.kind == "mfcc":
            t["dct"] = spec.mfcc * spec.mels
    if spec.kind == "tabular":
        t["terms"] = 0  # terms are unrolled into code
    return t


def _ops(spec: FeatureSpec) -> tuple[int, int]:
    n, c = spec.window, spec.channels
    out = int(math.prod(spec.output_shape))
    flops, trans = 3 * out, 0  # normalize + quantize each output
    trans += out               # the divide by the input scale
    if spec.kind == "stats":
        per = 4 * n
        if any(s.startswith("p") for s in spec.stats):
            per += n * n // 2  # insertion sort: ~n^2/4 compares + as many moves on random data
        flops += c * per
        trans += c * sum(1 for s in spec.stats if s in ("std", "rms"))
    elif spec.kind == "fft":
        nf = spec.n_fft
        flops += c * (2 * n + 5 * nf * int(math.log2(nf)) + 3 * nf)
        trans += c * spec.bands
    elif spec.kind in ("logmel", "mfcc"):
        nf = spec.n_fft
        per = 2 * spec.frame + 5 * nf * int(math.log2(nf)) + 3 * nf + 2 * (nf // 2 + 1)
        if spec.kind == "mfcc":
            per += 2 * spec.mfcc * spec.mels
        flops += spec.frames * per
        trans += spec.frames * spec.mels
    elif spec.kind == "tabular":
        flops += 2 * len(spec.terms)
        trans += sum(1 for op, _, _ in spec.terms if op == "ratio")
    return flops, trans


def code_bytes(spec: FeatureSpec) -> int:
    extra = CODE_BYTES_PER_TERM * len(spec.terms) if spec.kind == "tabular" else 0
    return CODE_BYTES[spec.kind] + extra


def feature_cost(spec: FeatureSpec, *, core: str = "cortex-m4f",
                 clock_hz: float = 64e6) -> FeatureCost:
    ram = 4 * sum(buffers(spec).values())
    table = 4 * sum(tables(spec).values())
    code = code_bytes(spec)
    flops, trans = _ops(spec)
    fpu = has_fpu(core)
    per_flop, per_trans = CYCLES["fpu" if fpu else "soft"][spec.kind]
    cycles = int(flops * per_flop + trans * per_trans)
    return FeatureCost(ram_bytes=ram, flash_bytes=table + code, table_bytes=table, code_bytes=code,
                       flops=flops, transcendentals=trans, cycles=cycles,
                       latency_ms=1e3 * cycles / float(clock_hz))


def cost_on(spec: FeatureSpec, target: Any) -> FeatureCost:
    """The feature stage's cost on ``target`` (its core and clock)."""
    return feature_cost(spec, core=target.core, clock_hz=target.clock_hz)


def charge(target: Any, cost: FeatureCost) -> Any:
    """``target`` with the feature stage counted as firmware: the model's flash and RAM
    budgets shrink by what the feature stage takes."""
    from dataclasses import replace

    return replace(target, firmware_flash_bytes=target.firmware_flash_bytes + cost.flash_bytes,
                   firmware_ram_bytes=target.firmware_ram_bytes + cost.ram_bytes)
