"""Where a trial trains (``--device cpu|gpu|auto``) and in which precision.

The search process resolves the device once, before it creates a run directory
(:func:`resolve_device`): ``auto`` is the GPU when TensorFlow sees one, else the
CPU; ``gpu`` with no GPU visible is a one-line :class:`~edgeml.errors.EdgeMLError`.
A machine without NVIDIA device files (``/dev/nvidia*``, ``/dev/dxg`` under WSL)
or with ``CUDA_VISIBLE_DEVICES`` set to ``-1`` or empty has no GPU for TensorFlow,
which is known without importing it; otherwise
``tf.config.list_physical_devices("GPU")`` is asked once.

Trial workers get their device through their environment (:func:`worker_env`):
a CPU worker runs with ``CUDA_VISIBLE_DEVICES=-1``, so a GPU machine can still be
forced to train on the CPU, and a GPU worker turns on memory growth for every
GPU it sees before any operation (:func:`configure_process`), so several workers
share one GPU instead of the first taking all its memory.

Mixed precision (``mixed_float16``) is for training only, on by default on the GPU
and off on the CPU; ``EDGEML_MIXED_PRECISION=1`` / ``0`` overrides the default
(:func:`mixed_precision_default`). The trial worker builds and trains the
candidate under the mixed policy (its softmax in float32, for a stable loss),
then builds the same architecture under float32 on the CPU and copies the
weights into it: that float32 model is the one evaluated, converted to int8
and saved as ``model.keras``, so int8 conversion, the representative dataset
and the TFLM evaluation are the same as for a model trained in float32.
Conversion and the untrained feasibility check always run on the CPU.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EdgeMLError

__all__ = ["DEVICES", "DevicePlan", "resolve_device", "check_device", "visible_gpus", "worker_env",
           "configure_process", "device_scope", "cpu_scope", "device_label",
           "mixed_precision_default", "precision_policy", "DEVICE_ENV", "MIXED_ENV"]

#: what ``--device`` takes
DEVICES = ("auto", "cpu", "gpu")
#: the device a trial worker process was started for ("cpu", "gpu" or "gpu:N")
DEVICE_ENV = "EDGEML_WORKER_DEVICE"
#: 1/0: train in mixed precision or not, whatever the device
MIXED_ENV = "EDGEML_MIXED_PRECISION"
MIXED_POLICY = "mixed_float16"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class DevicePlan:
    """The device trials train on in this search, as resolved from ``--device``."""

    requested: str          # "auto", "cpu" or "gpu"
    device: str             # "cpu" or "gpu"
    gpus: int               # GPUs TensorFlow sees (0 when not asked or none)
    mixed_precision: bool   # trials train under mixed_float16
    why: str = ""           # why there is no GPU (when ``auto`` chose the CPU)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requested": self.requested, "device": self.device,
                               "gpus": self.gpus, "mixed_precision": self.mixed_precision}
        if self.why:
            out["no_gpu"] = self.why
        return out


def check_device(requested: str) -> str:
    """``requested`` as one of :data:`DEVICES`, or a one-line error."""
    name = str(requested).strip().lower()
    if name not in DEVICES:
        raise EdgeMLError(f"unknown device {requested!r}", hint="use --device cpu, gpu or auto")
    return name


def _nvidia_nodes(dev: Path) -> bool:
    try:
        return any(dev.glob("nvidia[0-9]*")) or (dev / "nvidiactl").exists() \
            or (dev / "dxg").exists()
    except OSError:
        return False


_seen: dict[tuple[str | None, str], tuple[int, str]] = {}


def visible_gpus(*, dev: str | Path = "/dev") -> tuple[int, str]:
    """``(GPUs TensorFlow sees, why none)``: answered without TensorFlow when the
    environment or the device files already say there is none; asked once otherwise."""
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    key = (cvd, str(dev))
    if key in _seen:
        return _seen[key]
    if cvd is not None and cvd.strip() in ("", "-1"):
        found = (0, f"CUDA_VISIBLE_DEVICES={cvd.strip()!r} hides them")
    elif not _nvidia_nodes(Path(dev)):
        found = (0, f"no NVIDIA device in {dev}")
    else:
        from .._tf import tf as _tf

        tf = _tf()
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            _grow(tf, gpus)  # the search process's own small models take only what they use
            found = (len(gpus), "")
        elif not tf.test.is_built_with_cuda():
            found = (0, "this TensorFlow is built without CUDA")
        else:
            found = (0, "NVIDIA devices are present but TensorFlow cannot use them; its CUDA "
                        "libraries or the driver are missing")
    _seen[key] = found
    return found


def mixed_precision_default(device: str) -> bool:
    """Mixed precision for ``device``: on for a GPU, off for the CPU, unless
    ``EDGEML_MIXED_PRECISION`` says otherwise."""
    text = os.environ.get(MIXED_ENV, "").strip().lower()
    if not text:
        return device.startswith("gpu")
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise EdgeMLError(f"{MIXED_ENV}={os.environ[MIXED_ENV]!r} is neither 1 nor 0",
                      hint=f"set {MIXED_ENV}=1 (train in mixed precision), 0 (float32), or unset "
                           "it (mixed precision on a GPU only)")


def resolve_device(requested: str = "auto") -> DevicePlan:
    """The device of this search; raises for ``gpu`` when TensorFlow sees none."""
    name = check_device(requested)
    if name == "cpu":
        return DevicePlan(requested=name, device="cpu", gpus=0,
                          mixed_precision=mixed_precision_default("cpu"))
    count, why = visible_gpus()
    if count:
        return DevicePlan(requested=name, device="gpu", gpus=count,
                          mixed_precision=mixed_precision_default("gpu"))
    if name == "gpu":
        raise EdgeMLError(f"--device gpu: TensorFlow sees no GPU ({why})",
                          hint="install the CUDA build with pip install 'edgeml[gpu]', check "
                               "the NVIDIA driver (nvidia-smi), or use --device cpu")
    return DevicePlan(requested=name, device="cpu", gpus=0,
                      mixed_precision=mixed_precision_default("cpu"), why=why)


# --------------------------------------------------------------------------- in the worker
def _gpu_index(device: str) -> int:
    _, _, index = device.partition(":")
    return int(index) if index.isdigit() else 0


def worker_env(device: str) -> dict[str, str]:
    """Environment variables for a trial worker that trains on ``device`` ("cpu", "gpu"
    or "gpu:N", N counted among the GPUs this process sees)."""
    if not device.startswith("gpu"):
        return {DEVICE_ENV: "cpu", "CUDA_VISIBLE_DEVICES": "-1"}
    env = {DEVICE_ENV: device}
    if ":" in device:  # one GPU of several: the worker sees only that one
        index = _gpu_index(device)
        seen = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
                if d.strip()]
        env["CUDA_VISIBLE_DEVICES"] = seen[index] if index < len(seen) else str(index)
    return env


def _grow(tf: Any, gpus: list[Any]) -> None:
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # the runtime is already up: too late to change
            pass


def configure_process(device: str) -> None:
    """Prepare this process to train on ``device``, before any TensorFlow operation:
    memory growth on every GPU it sees (nothing to do for the CPU)."""
    if not device.startswith("gpu"):
        return
    from .._tf import tf as _tf

    tf = _tf()
    _grow(tf, tf.config.list_physical_devices("GPU"))


def cpu_scope() -> Any:
    """A TensorFlow device scope that places what is built and run in it on the CPU."""
    from .._tf import tf as _tf

    return _tf().device("/CPU:0")


def device_scope(device: str) -> Any:
    """Where training runs: the CPU for "cpu" (even where a GPU is visible); TensorFlow's
    own placement, on the worker's GPU, otherwise."""
    return cpu_scope() if not device.startswith("gpu") else contextlib.nullcontext()


def device_label(device: str) -> str:
    """What a trial records as its device: "cpu", or "gpu:N" when TensorFlow in this
    process really has a GPU to train on."""
    if not device.startswith("gpu"):
        return "cpu"
    from .._tf import tf as _tf

    if not _tf().config.list_logical_devices("GPU"):
        return "cpu"
    return f"gpu:{_gpu_index(device)}"


@contextlib.contextmanager
def precision_policy(name: str | None) -> Iterator[None]:
    """Keras' global dtype policy set to ``name`` inside the block (None: unchanged)."""
    if name is None:
        yield
        return
    from .._tf import keras as _keras

    mp = _keras().mixed_precision
    before = mp.global_policy()
    mp.set_global_policy(name)
    try:
        yield
    finally:
        mp.set_global_policy(before)
