"""Check the feature stage's cycle model against the generated C run under QEMU.

For every feature kind at a few sizes, on real signals (sktime's BasicMotions IMU
recordings for the stream kinds, words spoken by espeak-ng for the audio kinds,
scikit-learn's wine set for tabular terms), the script fits the stage, renders
its C (``edgeml_features_float``, the normalized floats the model's input is
quantized from), compiles it with the bare-metal harness of
``classical_cycles.py`` and counts the instructions per call on
``qemu-system-arm -M mps2-an386 -icount shift=0`` (a Cortex-M4 with FPU) and on
``mps2-an385`` (a Cortex-M3, floats in software).

It prints, per spec, edgeml's estimate (``edgeml.features.cost.feature_cost``:
``flops x a + transcendentals x b`` with ``a``, ``b`` per kind and per FPU / soft
float) against the measured count, and the per-kind coefficients that fit the
measurements (non-negative least squares): the ``CYCLES`` table of
``edgeml/features/cost.py`` comes from this script.

    nice python benchmarks/feature_cycles.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from classical_cycles import run_qemu  # noqa: E402

from edgeml.features import FeatureSpec, fit  # noqa: E402
from edgeml.features.cost import _ops, feature_cost  # noqa: E402
from edgeml.features.spec import STATS  # noqa: E402

N_CALLS = 3
WRAPPER = """
static float g_out[%(n_out)d];
int32_t m_predict(const float *x, float *scores) {
  (void)scores;
  return (int32_t)edgeml_features_float(x, g_out);
}
"""


def imu() -> np.ndarray:
    """BasicMotions recordings (n, 100, 6), from the files sktime's wheel ships."""
    import importlib.util

    spec = importlib.util.find_spec("sktime")
    if spec is None or spec.origin is None:
        raise SystemExit("sktime is needed (pip install --no-deps sktime)")
    path = Path(spec.origin).parent / "datasets/data/BasicMotions/BasicMotions_TRAIN.ts"
    xs, data = [], False
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.lower() == "@data":
            data = True
        elif data and line:
            *dims, _ = line.split(":")
            xs.append(np.array([[float(v) for v in d.split(",")] for d in dims]).T)
    return np.asarray(xs, np.float32)


def words() -> tuple[np.ndarray, float]:
    """A few one-second clips of words spoken by espeak-ng, at 16 kHz."""
    import shutil
    import subprocess

    from edgeml.data.audio import load_wav_folder

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is needed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as d:
        for w in ("yes", "no"):
            (Path(d) / w).mkdir()
            for p in (30, 60):
                subprocess.run([exe, "-p", str(p), "-w", str(Path(d) / w / f"{p}.wav"), w],
                               check=True, capture_output=True)
        recs = load_wav_folder(Path(d), rate=16000, clip_s=1.0)
    return np.stack([s[:, 0] for s in recs.signals])[..., None], recs.rate


def specs() -> list[tuple[FeatureSpec, np.ndarray]]:
    x = imu()
    out: list[tuple[FeatureSpec, np.ndarray]] = []
    for w in (16, 32, 64):
        win = x[:, :w, :]
        common = {"window": w, "hop": w // 2, "channels": 6, "rate": 10.0}
        out.append((FeatureSpec(kind="stats", stats=tuple(s for s in STATS
                                                          if not s.startswith("p")),
                                **common), win))
        out.append((FeatureSpec(kind="stats", stats=STATS, **common), win))
        out.append((FeatureSpec(kind="fft", bands=min(8, w // 2), **common), win))
        out.append((FeatureSpec(kind="raw", **common), win))
    clips, rate = words()
    n = clips.shape[1]
    for frame, mels in ((256, 16), (512, 32), (1024, 32)):
        common = {"window": n, "hop": n, "rate": rate, "frame": frame, "frame_hop": frame // 2,
                  "mels": mels}
        out.append((FeatureSpec(kind="logmel", **common), clips))
        out.append((FeatureSpec(kind="mfcc", mfcc=13, **common), clips))
    from sklearn.datasets import load_wine

    tab = load_wine().data.astype(np.float32)
    for k in (4, 13):
        terms = tuple(("col", i, -1) for i in range(k)) + (("ratio", 0, 1), ("prod", 2, 3),
                                                          ("diff", 4, 5))
        out.append((FeatureSpec(kind="tabular", window=13, terms=terms), tab))
    return out


def measure(spec: FeatureSpec, windows: np.ndarray, tmp: Path, *, soft: bool) -> float:
    from edgeml.export.features_c import render_feature_files

    fitted, _ = fit(spec, windows)
    files = render_feature_files(fitted, input_scale=1.0, input_zero_point=0)
    header = next(n for n in files if n.endswith(".h"))
    (tmp / header).write_bytes(files[header])
    source = files[next(n for n in files if n.endswith(".c"))].decode()
    n_out = int(np.prod(spec.output_shape))
    raw = windows[:N_CALLS].reshape(min(N_CALLS, len(windows)), -1)
    instr, _ = run_qemu(tmp, source + WRAPPER % {"n_out": n_out}, raw, soft=soft)
    return instr / len(raw)


def main(argv: list[str] | None = None) -> int:
    from scipy.optimize import nnls

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for spec, windows in specs():
            flops, trans = _ops(spec)
            row = {"spec": spec.describe(), "kind": spec.kind, "flops": flops,
                   "transcendentals": trans}
            for core, soft in (("cortex-m4f", False), ("cortex-m3", True)):
                row[f"{core}_measured"] = measure(spec, windows, tmp, soft=soft)
                row[f"{core}_estimate"] = feature_cost(spec, core=core).cycles
            rows.append(row)
            print(f"  {row['spec']}: M4F {row['cortex-m4f_measured']:.0f} measured, "
                  f"{row['cortex-m4f_estimate']} estimated", file=sys.stderr, flush=True)
    fits: dict[str, dict[str, tuple[float, float]]] = {}
    for core in ("cortex-m4f", "cortex-m3"):
        for kind in dict.fromkeys(r["kind"] for r in rows):
            mine = [r for r in rows if r["kind"] == kind]
            a = np.array([[r["flops"], r["transcendentals"]] for r in mine], float)
            b = np.array([r[f"{core}_measured"] for r in mine], float)
            coef, _ = nnls(a, b)
            fits.setdefault(core, {})[kind] = (round(float(coef[0]), 2),
                                               round(float(coef[1]), 1))
            for r, f in zip(mine, a @ coef, strict=True):
                r[f"{core}_fitted"] = float(f)
    if args.json:
        print(json.dumps({"rows": rows, "fits": fits}, indent=2))
        return 0
    print("\nInstructions per call of edgeml_features_float (QEMU -icount, mps2-an386 M4F / "
          "mps2-an385 M3 soft float)\n")
    print("| spec | M4F measured | M4F estimate | est/meas | M3 measured | M3 estimate | "
          "est/meas |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        m4, m3 = r["cortex-m4f_measured"], r["cortex-m3_measured"]
        print(f"| {r['spec']} | {m4:,.0f} | {r['cortex-m4f_estimate']:,} | "
              f"{r['cortex-m4f_estimate'] / m4:.2f} | {m3:,.0f} | {r['cortex-m3_estimate']:,} | "
              f"{r['cortex-m3_estimate'] / m3:.2f} |")
    worst = max(abs(r[f"{c}_fitted"] / r[f"{c}_measured"] - 1) for r in rows
                for c in ("cortex-m4f", "cortex-m3"))
    print(f"\nPer kind (instructions per flop, per transcendental), fitted by non-negative "
          f"least squares; largest error of the fit {worst:.0%}:\n")
    print("CYCLES = {")
    for core, per in fits.items():
        key = "fpu" if core == "cortex-m4f" else "soft"
        print(f'    "{key}": {{' + ", ".join(f'"{k}": ({a}, {b})' for k, (a, b) in per.items())
              + "},")
    print("}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
