"""The tensor arena: measured in TFLite Micro, or planned analytically.

Which number is exact
---------------------
TFLM's ``RecordingMicroAllocator`` reports, after ``AllocateTensors()``, a
*total* = *head* (activations, laid out by the greedy memory planner) + *tail*
(persistent structures: tensor and node structs, kernel op data, per-channel
quantization arrays). That total is a lower bound, not the arena a firmware
must declare: while allocating, TFLM also needs temporary space between head
and tail, and when that peak is larger than the final head, a ``total``-byte
arena fails. Two temporary peaks exist:

* **prepare**: each kernel's ``Prepare`` builds temporary ``TfLiteTensor``
  structs (with their per-channel zero-point arrays) for its inputs and outputs
  next to the scratch-request list;
* **planning**: the planner's ``AllocationInfo`` array (one entry per tensor and
  scratch buffer) and its own 40 bytes per planned buffer.

For models with small activations (dense networks: the MLPerf Tiny FC
autoencoder needs 19,152 bytes where the recorded total says 17,120) the
difference is over 10%. edgeml therefore reports the **smallest arena that
allocates and invokes**, found by probing the real interpreter (each probe in a
fork of a child process), in whole 16-byte units of a 16-byte-aligned arena
(TFLM aligns everything in the arena to 16 bytes, and firmware declares the
arena ``alignas(16)``). That number is exact on the host.

32-bit targets
--------------
The host interpreter is 64-bit; microcontrollers have 4-byte pointers, so the
persistent structs are smaller there. The rule edgeml applies (and tests):

    arena(32-bit) = arena(host) - 16 * floor(S / 16)
    S = 12 * tensors + 32 * operators + 324

* ``TfLiteEvalTensor`` is 24 bytes on the host and 12 on a 32-bit MCU (one per
  tensor of the model);
* ``NodeAndRegistration`` (a ``TfLiteNode`` of 6 pointers and an int, plus a
  registration pointer) is 64 bytes on the host and 32 on a 32-bit MCU;
* 324 fixed bytes: the host interpreter uses the recording allocator, whose
  bookkeeping (a pointer and seven 24-byte records, plus four counters in its
  buffer allocator: 208 bytes) does not exist in firmware, and the allocator
  objects TFLM places in the arena (allocator, buffer allocator, memory
  planner, builtin-data allocator, subgraph table) are 116 bytes smaller with
  4-byte pointers (sizes from both compilers).

These structures are allocated first and stay for the whole allocation, so
every phase (prepare, planning, final) shrinks by at least ``S`` bytes, and
rounding ``S`` down to the 16-byte alignment keeps the rule conservative:
the firmware's arena is never larger than this number when it runs the same
(reference) kernels. Structures that exist only in some phases (temporary
tensors, ``AllocationInfo``: 32 -> 24 bytes, the persistent input/output
``TfLiteTensor`` structs: 64 -> 40 bytes) and the kernels' own op data are
not subtracted, so the real 32-bit arena is typically a further ~100 bytes
smaller (checked against TFLM built for a Cortex-M4: ``tests/estimate/data``).

Optimized kernels
-----------------
Firmware that links CMSIS-NN or ESP-NN kernels needs more (scratch buffers
such as CMSIS-NN's im2col buffer for every convolution that is not 1x1,
larger op data) or, rarely, less. :func:`kernel_overhead` plans the model with
the flavour's requests (:mod:`edgeml.estimate.kernels`) and adds the growth of
the binding phase; the target profile's ``runtime.kernels`` names the flavour.

Analytic fallback
-----------------
Where ``tflite-micro`` cannot be installed, :func:`analytic_arena` replays
what TFLM does: the greedy planner (buffers sorted by size, largest first,
each placed in the lowest gap that is free during its lifetime, with TFLM's
tie order), the tail from per-operator sizes measured on the host interpreter
(the ``_OP_DATA`` table), and the prepare and planning peaks above.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ..tflite.graph import Graph, Op
from ..tflite.tflm import run_tflm, run_tflm_batch, tflm_available
from .cache import cache_get, cache_put
from .kernels import FLAVOURS, extra_temp_tensors, kernel_isa, op_data_extra, scratch_requests

__all__ = ["ArenaEstimate", "analytic_arena", "measure_arena", "measure_arenas", "plan_head",
           "pointer_adjustment", "kernel_overhead", "arena_estimate", "ALIGN"]

ALIGN = 16                   # MicroArenaBufferAlignment()
_MAX_SCRATCH_PER_OP = 12     # kMaxScratchBuffersPerOp
_PLANNER_PER_BUFFER = 40     # GreedyMemoryPlanner::per_buffer_size()
# Host-only bytes present in every allocation phase: the recording allocator's
# bookkeeping (208: a pointer and seven 24-byte records, four counters in its buffer
# allocator) and the 64- vs 32-bit size of the allocator objects TFLM places in the
# arena (116: MicroAllocator 72/36, SingleArenaBufferAllocator 72/36,
# GreedyMemoryPlanner 72/44, MicroBuiltinDataAllocator 16/8, SubgraphAllocations
# 16/8 bytes; sizeof from g++ x86-64 and arm-none-eabi-g++).
_HOST_ONLY = 208 + 116
# Added to an optimized flavour's planned growth: the flavour's extra tail structs
# (scratch handles, larger op data) shift later 16-byte-aligned buffers by a few
# bytes the analytic tail does not place exactly; the largest shortfall without it,
# over 41 models measured on a Cortex-M4 (CMSIS-NN vs reference), was 32 bytes.
_KERNEL_SLACK = 32
_CACHE_FORMAT = 2

# Struct sizes by pointer width (bytes), from the TF_LITE_STATIC_MEMORY layouts.
_SIZES = {
    8: {"eval_tensor": 24, "node": 64, "tensor": 64, "affine": 24, "alloc_info": 32,
        "scratch_request": 16, "scratch_handle": 8, "pointer": 8},
    4: {"eval_tensor": 12, "node": 32, "tensor": 40, "affine": 12, "alloc_info": 24,
        "scratch_request": 12, "scratch_handle": 4, "pointer": 4},
}

# Per operator on the host interpreter (64-bit), measured with the recording
# allocator over edgeml's model corpus: bytes of the kernel's op data (one
# 16-byte-aligned persistent buffer) and of the parsed builtin options.
# Kernels with per-channel quantization also hold two int32 arrays per output
# channel (multiplier and shift). Operators not listed use _DEFAULT_OP_DATA.
_OP_DATA: dict[str, tuple[int, int]] = {
    "ADD": (60, 8), "SUB": (52, 8), "MUL": (40, 4), "AVERAGE_POOL_2D": (32, 44),
    "MAX_POOL_2D": (32, 40), "CONCATENATION": (80, 8), "CONV_2D": (80, 28),
    "DEPTHWISE_CONV_2D": (80, 28), "FULLY_CONNECTED": (72, 32), "TRANSPOSE_CONV": (64, 8),
    "HARD_SWISH": (20, 0), "LEAKY_RELU": (24, 4), "LOGISTIC": (12, 0), "TANH": (16, 0),
    "MAXIMUM": (0, 0), "MINIMUM": (0, 0), "MEAN": (48, 4), "SUM": (48, 4),
    "RELU": (52, 4), "RELU6": (52, 4), "RESHAPE": (0, 36), "SQUEEZE": (0, 36),
    "EXPAND_DIMS": (0, 0), "RESIZE_NEAREST_NEIGHBOR": (0, 4), "SOFTMAX": (80, 4),
    "PAD": (16, 0), "PADV2": (16, 0), "QUANTIZE": (32, 0), "DEQUANTIZE": (32, 0),
}
_DEFAULT_OP_DATA = (48, 16)
_PER_CHANNEL_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV",
                              "FULLY_CONNECTED"})
_TAIL_BASE = 488             # allocator objects and the rest of the fixed tail (host)


def _up(n: int, a: int = ALIGN) -> int:
    return -(-int(n) // a) * a


@dataclass(frozen=True)
class ArenaEstimate:
    """The arena of one model: on the host (64-bit) and for the target."""

    bytes: int                   # for the target (pointer width applied), 16-byte multiple
    host_bytes: int              # smallest working arena on the 64-bit host
    head_bytes: int              # activations + scratch (planner's peak), same on any target
    tail_bytes: int              # persistent structures on the host
    recorded_total: int          # head + tail as TFLM's recording allocator reports it
    pointer_bytes: int
    adjustment_bytes: int        # host_bytes - bytes
    source: str                  # "tflm" (measured) or "analytic"
    binding: str = ""            # analytic only: which phase sets the size
    kernels: str = "reference"   # kernel flavour the target's runtime links
    kernel_bytes: int = 0        # what that flavour adds to the reference arena (in bytes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- planner


def _lifetimes(graph: Graph) -> tuple[list[int], list[int]]:
    """First and last allocation scope of every tensor, as TFLM marks them:
    graph inputs at scope 0, operator i at scope i + 1, graph outputs kept to
    the last scope."""
    n = len(graph.tensors)
    first, last = [-1] * n, [-1] * n
    for t in graph.inputs:
        if first[t] == -1:
            first[t] = 0
        last[t] = 0
    scope = 0
    for op in graph.ops:
        scope += 1
        for t in op.outputs:
            if first[t] == -1:
                first[t] = scope
        for t in op.inputs:
            last[t] = scope
        for t in op.outputs:
            last[t] = scope
    for t in graph.outputs:
        if first[t] == -1:
            first[t] = scope
        last[t] = scope
    return first, last


def _scratch_requests(graph: Graph, op: Op) -> list[int]:
    """Scratch buffers TFLM's reference kernels request in the arena (bytes)."""
    if op.op == "TRANSPOSE_CONV":  # int32 accumulators for the whole output
        return [4 * op.out_elements]
    if op.op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD") and len(op.inputs) > 1:
        rank = len(graph.tensors[op.inputs[0]].shape)
        axes = max(1, int(math.prod(graph.tensors[op.inputs[1]].shape or (1,))))
        sizes = [4 * rank, 4 * axes]  # index and resolved-axis buffers
        if op.op in ("MEAN", "SUM"):
            sizes.insert(0, 4 * op.out_elements)  # int32 sums of the output
        return sizes
    return []


def _temp_tensors(op: Op) -> tuple[int, ...]:
    """Tensors a kernel's Prepare turns into temporary TfLiteTensors (temporary
    arena space is only reclaimed after the whole Prepare, so a tensor fetched
    twice counts twice)."""
    if op.op in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        return op.inputs[:1] + op.outputs
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        # the kernel's Prepare fetches input, filter and output, then the shared
        # op-data helper fetches input, filter, bias and output again
        return op.inputs[:2] + op.outputs + op.inputs + op.outputs
    return op.inputs + op.outputs


def _requests(graph: Graph, kernels: str = "reference", isa: str = "") -> list[list[int]]:
    """Scratch buffer sizes per operator with the ``kernels`` flavour's kernels."""
    out = []
    for op in graph.ops:
        sizes = scratch_requests(graph, op, kernels, isa) if kernels != "reference" else None
        out.append(_scratch_requests(graph, op) if sizes is None else sizes)
    return out


def _buffers(graph: Graph, requests: list[list[int]] | None = None) -> list[tuple[int, int, int]]:
    """(aligned size, first scope, last scope) in the order TFLM adds them:
    tensors by index, then scratch buffers by operator."""
    first, last = _lifetimes(graph)
    if requests is None:
        requests = _requests(graph)
    out = []
    for t in graph.tensors:
        if t.is_constant or t.nbytes == 0 or first[t.index] == -1:
            continue
        out.append((_up(t.nbytes), first[t.index], last[t.index]))
    for op, sizes in zip(graph.ops, requests, strict=True):
        for size in sizes:
            out.append((_up(size), op.index + 1, op.index + 1))
    return out


def plan_head(buffers: list[tuple[int, int, int]]) -> int:
    """Peak of TFLM's greedy memory plan for ``buffers`` (size, first, last).

    Largest buffer first; equal sizes in reverse order of addition (TFLM fills
    its sort array from the back, then bubble-sorts stably); each buffer goes
    in the lowest gap between already placed buffers that overlap it in time.
    """
    if not buffers:
        return 0
    order = sorted(reversed(range(len(buffers))), key=lambda i: -buffers[i][0])
    placed: list[tuple[int, int]] = []  # (offset, buffer) by offset, ties in insertion order
    peak = 0
    for i in order:
        size, a, b = buffers[i]
        offset = 0
        for off, j in placed:
            sj, aj, bj = buffers[j]
            if aj > b or a > bj:
                continue
            if off - offset >= size:
                break
            offset = max(offset, off + sj)
        k = 0
        while k < len(placed) and placed[k][0] <= offset:
            k += 1
        placed.insert(k, (offset, i))
        peak = max(peak, offset + size)
    return peak


# --------------------------------------------------------------------------- analytic


def _temp_tensor_bytes(graph: Graph, index: int, sizes: dict[str, int]) -> int:
    t = graph.tensors[index]
    n = _up(sizes["tensor"], 8)
    if t.n_scales:
        n += _up(sizes["affine"], 8) + _up(4 + 4 * t.n_scales, 8)
    return n


def _channel_arrays(graph: Graph, op: Op) -> int:
    if op.op not in _PER_CHANNEL_OPS or len(op.inputs) < 2:
        return 0
    w = graph.tensors[op.inputs[1]]
    if op.op == "FULLY_CONNECTED" and w.n_scales <= 1:
        return 0
    channels = max(w.n_scales, 1)
    return 2 * _up(4 * channels)


def _phases(graph: Graph, *, pointer_bytes: int = 8, kernels: str = "reference",
            isa: str = "") -> tuple[dict[str, int], int, int]:
    """TFLM's three allocation peaks (``final``, ``planning``, ``prepare``) for
    ``graph`` run by the ``kernels`` flavour, with the structs of a
    ``pointer_bytes``-wide build; also the head and the tail."""
    sizes = _SIZES[pointer_bytes]
    n_t, n_ops = len(graph.tensors), len(graph.ops)
    requests = _requests(graph, kernels, isa)
    buffers = _buffers(graph, requests)
    head = plan_head(buffers)
    n_scratch = sum(len(r) for r in requests)
    op_data = [_up(_OP_DATA.get(op.op, _DEFAULT_OP_DATA)[0]) + op_data_extra(op, kernels, isa)
               for op in graph.ops]

    fixed = (_TAIL_BASE + _up(sizes["eval_tensor"] * n_t, 8) + sizes["node"] * n_ops
             + sum(_OP_DATA.get(op.op, _DEFAULT_OP_DATA)[1] for op in graph.ops)
             + sum(op_data))
    channel = [_channel_arrays(graph, op) for op in graph.ops]
    handles = _up(sizes["scratch_handle"] * n_scratch, 8) if n_scratch else 0
    io = 0
    for t in list(graph.inputs) + list(graph.outputs):
        io += ALIGN + sizes["tensor"]
        if graph.tensors[t].n_scales:
            io += sizes["affine"] + _up(4 + 4 * graph.tensors[t].n_scales, 8)
    tail = fixed + sum(channel) + handles + io

    # prepare: op i's temporaries next to the scratch-request list
    prepare = 0
    scratch_before = 0
    for i, op in enumerate(graph.ops):
        fetched = _temp_tensors(op) + extra_temp_tensors(op, kernels)
        temp = sum(_temp_tensor_bytes(graph, t, sizes) for t in fetched)
        listed = _up(sizes["scratch_request"] * (scratch_before + _MAX_SCRATCH_PER_OP), 8)
        persistent = fixed + sum(channel[: i + 1])
        prepare = max(prepare, persistent + listed + temp)
        scratch_before += len(requests[i])
    # planning: AllocationInfo array + planner scratch, with the request list still held
    planning = (fixed + sum(channel) + handles
                + _up(_up(sizes["scratch_request"] * (n_scratch + _MAX_SCRATCH_PER_OP), 8) + 8
                      + sizes["alloc_info"] * (n_t + n_scratch))
                + _PLANNER_PER_BUFFER * len(buffers))
    return {"final": tail + head, "planning": planning, "prepare": prepare}, head, tail


def analytic_arena(graph: Graph) -> tuple[int, int, int, str]:
    """(arena, head, tail, binding phase) of the 64-bit host interpreter, from the
    graph alone; :func:`pointer_adjustment` converts it for a 32-bit target."""
    phases, head, tail = _phases(graph)
    binding = max(phases, key=lambda k: phases[k])
    return _up(phases[binding]), head, tail, binding


def kernel_overhead(graph: Graph, kernels: str, *, core: str = "",
                    pointer_bytes: int = 4) -> int:
    """Bytes the ``kernels`` flavour (``reference``, ``cmsis-nn``, ``esp-nn``) needs
    beyond TFLM's reference kernels on ``core``: how much the binding
    allocation phase grows when the flavour's scratch buffers, op data and
    temporaries (see :mod:`edgeml.estimate.kernels`) are planned, plus
    ``_KERNEL_SLACK``, rounded up to the 16-byte alignment. Negative where the
    flavour needs less (CMSIS-NN's transposed convolution does without the
    reference kernel's int32 buffer for the whole output)."""
    if kernels == "reference":
        return 0
    if kernels not in FLAVOURS:
        from ..errors import TargetError

        raise TargetError(f"unknown kernel flavour {kernels!r}",
                          hint=f"use one of: {', '.join(FLAVOURS)}")
    isa = kernel_isa(kernels, core)
    ref, _, _ = _phases(graph, pointer_bytes=pointer_bytes)
    opt, _, _ = _phases(graph, pointer_bytes=pointer_bytes, kernels=kernels, isa=isa)
    return _up(max(opt.values()) - max(ref.values()) + _KERNEL_SLACK)


def pointer_adjustment(graph: Graph) -> int:
    """Bytes a 32-bit interpreter saves on ``graph`` in every allocation phase
    (see the module docstring), rounded down to the 16-byte alignment."""
    host, mcu = _SIZES[8], _SIZES[4]
    saved = ((host["eval_tensor"] - mcu["eval_tensor"]) * len(graph.tensors)
             + (host["node"] - mcu["node"]) * len(graph.ops) + _HOST_ONLY)
    return saved // ALIGN * ALIGN


# --------------------------------------------------------------------------- measured


@lru_cache(maxsize=1)
def _tflm_version() -> str:
    """The installed tflite-micro version, read from its files without importing the
    package (which would load the interpreter library)."""
    import importlib.util
    import re
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("tflite_micro")
        if spec and spec.origin:
            text = (Path(spec.origin).parent / "python" / "tflite_micro" / "_version.py").read_text()
            m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", text)
            if m:
                return m.group(1)
    except (ImportError, OSError):
        pass
    return "unknown"


def _key(model: bytes) -> str:
    return hashlib.sha256(model + f"|tflm={_tflm_version()}|{_CACHE_FORMAT}".encode()).hexdigest()


_FIELDS = ("bytes", "total", "head", "tail")


def measure_arena(model: bytes) -> dict[str, int]:
    """Measure ``model`` in TFLM (child process), cached by model hash and TFLM version.

    Returns ``{"bytes", "total", "head", "tail"}`` on the 64-bit host.
    """
    out = measure_arenas([model])[0]
    if isinstance(out, Exception):
        raise out
    return out


def measure_arenas(models: list[bytes]) -> list[dict[str, int] | Exception]:
    """:func:`measure_arena` for many models: the uncached ones in one child process.
    A model TFLM cannot run comes back as its :class:`~edgeml.errors.ModelError`."""
    out: list[dict[str, int] | Exception | None] = []
    todo: list[int] = []
    for i, model in enumerate(models):
        hit = cache_get("arena", _key(model))
        if hit and all(k in hit for k in _FIELDS):
            out.append({k: int(hit[k]) for k in _FIELDS})
        else:
            out.append(None)
            todo.append(i)
    if len(todo) == 1:
        results: list[Any] = []
        try:
            results = [run_tflm(models[todo[0]], bisect=True)]
        except Exception as exc:  # ModelError: reported to the caller
            results = [exc]
    else:
        results = run_tflm_batch([models[i] for i in todo]) if todo else []
    for i, res in zip(todo, results, strict=True):
        if isinstance(res, Exception):
            out[i] = res
            continue
        value = {"bytes": int(res.bisected_bytes or _up(res.arena_bytes)), "total": res.arena_bytes,
                 "head": res.head_bytes, "tail": res.tail_bytes}
        cache_put("arena", _key(models[i]), value)
        out[i] = value
    return [o for o in out if o is not None]


def arena_estimate(model: bytes, graph: Graph, *, pointer_bytes: int = 4,
                   kernels: str = "reference", core: str = "",
                   measure: bool | None = None) -> ArenaEstimate:
    """The arena of ``model`` for a target with ``pointer_bytes``-wide pointers
    whose runtime links the ``kernels`` flavour on ``core``.

    The reference-kernel arena is measured in TFLM where it is installed
    (``measure=None``: when available; custom operators are never measured),
    otherwise planned analytically; :func:`kernel_overhead` adds what an
    optimized flavour needs on top.
    """
    custom = any(o.startswith("CUSTOM") for o in graph.op_names)
    cached = None if (measure is False or custom) else cache_get("arena", _key(model))
    if cached and all(k in cached for k in _FIELDS):
        measure = True  # measured before: no need to load the interpreter
    elif measure is None:
        measure = tflm_available() and not custom
    adjust = pointer_adjustment(graph) if pointer_bytes == 4 else 0
    extra = kernel_overhead(graph, kernels, core=core, pointer_bytes=pointer_bytes)
    if measure:
        m = measure_arena(model)
        return ArenaEstimate(bytes=m["bytes"] - adjust + extra, host_bytes=m["bytes"],
                             head_bytes=m["head"], tail_bytes=m["tail"],
                             recorded_total=m["total"], pointer_bytes=pointer_bytes,
                             adjustment_bytes=adjust, source="tflm", kernels=kernels,
                             kernel_bytes=extra)
    host, head, tail, binding = analytic_arena(graph)
    return ArenaEstimate(bytes=host - adjust + extra, host_bytes=host, head_bytes=head,
                         tail_bytes=tail, recorded_total=head + tail, pointer_bytes=pointer_bytes,
                         adjustment_bytes=adjust, source="analytic", binding=binding,
                         kernels=kernels, kernel_bytes=extra)
