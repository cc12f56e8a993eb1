"""Calibrate edgeml.classical.cost: Cortex-M4 instruction counts of the generated C.

Trains models of every classical kind at several sizes on scikit-learn's
digits (and breast-cancer for the binary forms), exports each to C, compiles it
with a bare-metal harness (``arm-none-eabi-gcc -mcpu=cortex-m4 -mfpu=fpv4-sp-d16
-mfloat-abi=hard -O2``) and runs it on ``qemu-system-arm -M mps2-an386 -icount
shift=0``: with ``-icount shift=0`` QEMU's clock advances one nanosecond per
instruction and the MPS2's 25 MHz SysTick ticks once every 40 instructions,
so instructions = ticks x 40 (checked against a loop of known length first).
The harness predicts N validation samples between two SysTick reads.

Per kind the script fits the cost model's coefficients (non-negative least
squares over the models) and measures the predict function's code bytes
(``arm-none-eabi-nm -S``, plus ``expf`` for kinds that use it) and stack
(``-fstack-usage``), then prints the tables of edgeml/classical/cost.py and
the relative error of the fitted model on each measured one.

    nice python benchmarks/classical_cycles.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeml.classical import build_estimator, to_cmodel  # noqa: E402
from edgeml.classical.cost import _units  # noqa: E402

CFLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-O2",
          "-ffunction-sections"]
N_SAMPLES = 40

HARNESS = r"""
#include <stdint.h>
extern int32_t m_predict(const float *x, float *scores);
extern const float g_inputs[];
extern const int g_n_inputs, g_n_features;
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define CPACR (*(volatile uint32_t *)0xE000ED88)
static int semi(int op, const void *arg) {
  register int r0 __asm__("r0") = op; register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory"); return r0;
}
static void put(const char *s) { semi(0x04, s); }
static void putu(uint32_t v) {
  char b[12]; int i = 11; b[i] = 0;
  do { b[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  put(b + i);
}
volatile int32_t sink;
int main(void) {
  float scores[64];
  SYST_RVR = 0xFFFFFF; SYST_CVR = 0; SYST_CSR = 5;
  uint32_t t0 = SYST_CVR;
  for (int i = 0; i < g_n_inputs; ++i) sink += m_predict(g_inputs + i * g_n_features, scores);
  uint32_t t1 = SYST_CVR;
  put("ticks "); putu((t0 - t1) & 0xFFFFFF); put("\n");
  semi(0x18, (const void *)0x20026);
  for (;;) {}
}
extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
void reset(void) {
  CPACR |= 0xFu << 20; __asm__ volatile("dsb; isb");
  uint32_t *s = &_sidata, *d = &_sdata;
  while (d < &_edata) *d++ = *s++;
  for (d = &_sbss; d < &_ebss;) *d++ = 0;
  main();
}
__attribute__((section(".vectors"), used)) const void *vectors[16] = {&_estack, (void *)reset};
"""

LINKER = """
MEMORY { FLASH (rx) : ORIGIN = 0x00000000, LENGTH = 4M  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 4M }
SECTIONS {
  .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
  _sidata = LOADADDR(.data);
  .data : { _sdata = .; *(.data*) _edata = .; } > RAM AT > FLASH
  .bss : { _sbss = .; *(.bss*) *(COMMON) _ebss = .; } > RAM
  _estack = ORIGIN(RAM) + LENGTH(RAM);
}
"""

LOOP = r"""
#include <stdint.h>
int32_t m_predict(const float *x, float *scores) {
  uint32_t n = 100000; __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n));
  scores[0] = x[0]; return 0;
}
"""


SOFT = ["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft", "-O2", "-ffunction-sections"]


def run_qemu(tmp: Path, model_c: str, x: np.ndarray, *, soft: bool = False) -> tuple[int, Path]:
    """Instructions of predicting every row of ``x`` (ticks x 40), and the ELF. ``soft``:
    a Cortex-M3 without FPU (mps2-an385), floats in software as on cores without an FPU."""
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    inputs = ", ".join(f"{float(v):.9e}f" for v in x.reshape(-1))
    (tmp / "model.c").write_text(model_c + f"\nconst float g_inputs[] = {{{inputs}}};\n"
                                 f"const int g_n_inputs = {len(x)}, g_n_features = {x.shape[1]};\n")
    (tmp / "link.ld").write_text(LINKER)
    elf = tmp / "h.elf"
    harness = HARNESS.replace("CPACR |= 0xFu << 20;", "") if soft else HARNESS
    (tmp / "harness.c").write_text(harness)
    subprocess.run(["arm-none-eabi-gcc", *(SOFT if soft else CFLAGS), "-fstack-usage", "-nostartfiles", "-T",
                    str(tmp / "link.ld"), "-o", str(elf), str(tmp / "harness.c"),
                    str(tmp / "model.c"), "-lm", "-lc", "-lgcc"], check=True, cwd=tmp)
    out = subprocess.run(["qemu-system-arm", "-M", "mps2-an385" if soft else "mps2-an386", "-icount", "shift=0",
                          "-nographic", "-monitor", "none", "-semihosting-config",
                          "enable=on,target=native", "-kernel", str(elf)],
                         capture_output=True, text=True, timeout=120, check=True,
                         stdin=subprocess.DEVNULL)
    out = out.stdout + out.stderr  # semihosting output goes to stderr with -nographic
    ticks = int(out.split("ticks", 1)[1].split()[0])
    return ticks * 40, elf


def symbol_bytes(elf: Path, names: tuple[str, ...]) -> int:
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    total = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and any(parts[3] == n or (n == "expf" and "expf" in parts[3])
                                   for n in names):
            total += int(parts[1], 16)
    return total


def stack_bytes(tmp: Path) -> int:
    text = "".join(p.read_text() for p in tmp.glob("*.su"))
    for line in text.splitlines():
        if "m_predict" in line:
            return int(line.split()[-2])
    return 0


def main() -> None:
    from scipy.optimize import nnls
    from sklearn import datasets

    sets = {}
    for name, loader in (("digits", datasets.load_digits),
                         ("breast_cancer", datasets.load_breast_cancer)):
        x, y = loader(return_X_y=True)
        lo, hi = x.min(axis=0), x.max(axis=0)
        sets[name] = (((x - lo) / np.where(hi > lo, hi - lo, 1)).astype(np.float32), y)

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        instr, _ = run_qemu(tmp, LOOP, np.zeros((4, 1)))
        expected = 4 * 100000 * 2
        print(f"check: a loop of {expected} instructions counts {instr} "
              f"({instr / expected - 1:+.2%})")

        points = []
        for data in sets:
            for depth, n in ((3, 1), (6, 1), (10, 1), (4, 5), (8, 10), (6, 25)):
                kind = "tree" if n == 1 else "forest"
                values = ({"family": "tree", "tree_max_depth": depth, "tree_min_samples_leaf": 1,
                           "tree_criterion": "gini"} if n == 1 else
                          {"family": "forest", "forest_kind": "random", "forest_n_estimators": n,
                           "forest_max_depth": depth, "forest_max_features": "sqrt"})
                points.append((data, kind, values))
            for depth, n in ((1, 5), (2, 10), (3, 20)):
                points.append((data, "gbt", {"family": "gbt", "gbt_n_estimators": n,
                                             "gbt_max_depth": depth, "gbt_learning_rate": 0.2}))
            for kind in ("logistic", "svm"):
                points.append((data, "linear", {"family": "linear", "linear_kind": kind,
                                                "linear_c": 1.0}))
            points.append((data, "nb", {"family": "nb", "nb_var_smoothing": 1e-3}))

        rows: dict[str, list[tuple[dict[str, float], float, str]]] = {}
        code: dict[str, list[int]] = {}
        stack: dict[str, list[int]] = {}
        soft: dict[str, list[float]] = {}
        for data, _family, values in points:
            x, y = sets[data]
            est = build_estimator(values, seed=0).fit(x[N_SAMPLES:], y[N_SAMPLES:])
            cm = to_cmodel(est, family=values["family"], n_classes=int(y.max()) + 1)
            xs = x[:N_SAMPLES]
            instr, elf = run_qemu(tmp, cm.c_source("m"), xs)
            units = _units(cm.kind, n_trees=cm.n_trees, visited=cm.nodes_visited(xs),
                           n_classes=cm.n_classes, rows=cm.rows, n_features=cm.n_features)
            label = f"{data} {cm.detail} {values}"
            rows.setdefault(cm.kind, []).append((units, instr / N_SAMPLES, label))
            soft_instr, _ = run_qemu(tmp, cm.c_source("m"), xs, soft=True)
            soft.setdefault(cm.kind, []).append(soft_instr / instr)
            names = ("m_predict",) + (("expf",) if cm.kind != "vote" else ())
            code.setdefault(cm.kind, []).append(symbol_bytes(elf, names))
            stack.setdefault(cm.kind, []).append(stack_bytes(tmp))

    print("\nCYCLES = {")
    for kind, items in rows.items():
        keys = list(items[0][0])
        a = np.array([[u[k] for k in keys] for u, _, _ in items], float)
        b = np.array([c for _, c, _ in items], float)
        coef, _ = nnls(a, b)
        print(f'    "{kind}": {{' + ", ".join(f'"{k}": {v:.1f}' for k, v in zip(keys, coef,
                                                                               strict=True)) + "},")
        for (_, c, label), p in zip(items, a @ coef, strict=True):
            print(f"    #   {c:9.0f} measured {p:9.0f} fitted ({p / c - 1:+.1%})  {label[:90]}")
    print("}")
    print("CODE_BYTES = {" + ", ".join(f'"{k}": {max(v)}' for k, v in code.items()) + "}")
    print("SOFT_FLOAT_FACTOR = {" + ", ".join(f'"{k}": {np.median(v):.1f}' for k, v in soft.items())
          + "}  # median; range " + ", ".join(f"{k} {min(v):.1f}-{max(v):.1f}"
                                              for k, v in soft.items()))
    print("STACK_BYTES = {" + ", ".join(f'"{k}": {max(v)}' for k, v in stack.items()) + "}")


if __name__ == "__main__":
    main()
