"""Arm Ethos-U NPU targets through Arm's Vela compiler (optional extra ``vela``).

Vela compiles an int8 ``.tflite`` for the NPU: the operators it can map run on
the NPU as one ``ethos-u`` custom operator, the rest stay TFLM operators on
the host Cortex-M. Its own performance model gives the NPU's cycles and
inference time, the SRAM the tensor arena needs and the size of the compiled
model; edgeml takes those numbers as they are and adds the TFLM parts Vela does
not count (the CPU-fallback operators' latency, the interpreter's persistent
structures in the arena).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ModelError, RuntimeFailure
from .cache import cache_get, cache_put

__all__ = ["VelaResult", "vela_available", "vela_version", "run_vela"]

_CACHE_FORMAT = 1


@dataclass(frozen=True)
class VelaResult:
    npu_cycles: float
    total_cycles: float
    inference_s: float          # Vela's estimate for the NPU part at the NPU clock
    npu_clock_hz: float
    sram_bytes: int             # tensor arena Vela plans in SRAM
    flash_bytes: int            # off-chip flash for weights and command stream
    model_bytes: int            # size of the Vela-optimized .tflite
    npu_ops: int                # operators mapped to the NPU
    cpu_ops: tuple[str, ...]    # operators left to TFLM on the CPU
    macs: int
    settings: dict[str, str]
    optimized: bytes = b""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("optimized")
        return d


@lru_cache(maxsize=1)
def vela_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("ethos-u-vela")
    except Exception:
        return None


def vela_available() -> bool:
    return vela_version() is not None and _vela_command() is not None


def _vela_command() -> list[str] | None:
    exe = Path(sys.executable).with_name("vela")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("vela")
    return [found] if found else None


def run_vela(model: bytes, *, accelerator_config: str = "ethos-u55-128",
             system_config: str = "Ethos_U55_High_End_Embedded",
             memory_mode: str = "Shared_Sram", config: str | None = None) -> VelaResult:
    """Compile ``model`` with Vela (child process, cached by model hash and settings)."""
    cmd = _vela_command()
    if cmd is None or vela_version() is None:
        raise RuntimeFailure("Arm Vela is not installed, so Ethos-U targets cannot be estimated",
                             hint="pip install 'edgeml[vela]' (ethos-u-vela)")
    settings = {"accelerator_config": accelerator_config, "system_config": system_config,
                "memory_mode": memory_mode, "config": config or "vela.ini (shipped with Vela)"}
    key = hashlib.sha256(model + json.dumps(settings, sort_keys=True).encode()
                         + f"|vela={vela_version()}|{_CACHE_FORMAT}".encode()).hexdigest()
    hit = cache_get("vela", key)
    opt_path = _cache_blob(key)
    if hit and opt_path.is_file():
        return VelaResult(**{**hit, "cpu_ops": tuple(hit["cpu_ops"]),
                             "optimized": opt_path.read_bytes()})
    with tempfile.TemporaryDirectory(prefix="edgeml-vela-") as tmp:
        src = Path(tmp) / "model.tflite"
        src.write_bytes(model)
        out = Path(tmp) / "out"
        args = [*cmd, str(src), "--output-dir", str(out), "--accelerator-config", accelerator_config,
                "--system-config", system_config, "--memory-mode", memory_mode]
        args += ["--config", config] if config else ["--config", _default_ini()]
        env = dict(os.environ)
        proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
        if proc.returncode != 0:
            last = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            raise ModelError(f"Vela could not compile the model ({(last or ['no output'])[-1][:200]})",
                             hint="Vela needs a fully int8 (or int16) .tflite")
        summaries = list(out.glob("*_summary_*.csv"))
        optimized = next(iter(out.glob("*_vela.tflite")), None)
        if not summaries or optimized is None:
            raise RuntimeFailure("Vela produced no summary", hint="run vela by hand to see why")
        with open(summaries[0], newline="") as f:
            row = next(csv.DictReader(f))
        opt = optimized.read_bytes()
    from ..tflite.graph import read_graph

    g = read_graph(opt, where="Vela's optimized model")
    cpu_ops = tuple(o.op for o in g.ops if not o.op.upper().startswith("CUSTOM:ETHOS"))
    npu_ops = sum(1 for o in g.ops if o.op.upper().startswith("CUSTOM:ETHOS"))
    res = VelaResult(npu_cycles=float(row["cycles_npu"]), total_cycles=float(row["cycles_total"]),
                     inference_s=float(row["inference_time"]),
                     npu_clock_hz=float(row["core_clock"]),
                     sram_bytes=int(round(float(row["sram_memory_used"]) * 1024)),
                     flash_bytes=int(round(float(row["off_chip_flash_memory_used"]) * 1024)),
                     model_bytes=len(opt), npu_ops=npu_ops, cpu_ops=cpu_ops,
                     macs=int(float(row["nn_macs"])), settings=settings, optimized=opt)
    cache_put("vela", key, res.as_dict())
    try:
        from .._io import atomic_write

        atomic_write(opt_path, opt)
    except OSError:
        pass
    return res


def _cache_blob(key: str) -> Path:
    from .cache import cache_dir

    return cache_dir() / "vela" / f"{key}.tflite"


def _default_ini() -> str:
    from ethosu import vela as _v  # only where Vela is installed

    return str(Path(_v.__file__).resolve().parent.parent / "config_files" / "Arm" / "vela.ini")
