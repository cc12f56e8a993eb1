"""What an optimized kernel library adds to the tensor arena.

TFLite Micro's reference kernels are what the host interpreter runs (and what
:mod:`edgeml.estimate.arena` measures). Firmware usually links an optimized
kernel library instead, and its kernels ask for more arena:

* **scratch buffers** requested in ``Prepare`` with
  ``RequestScratchBufferInArena``: they are planned in the arena's head next to
  the activations (live only while their operator runs), and each one costs
  an ``AllocationInfo`` and a planner record while the plan is made, plus a
  ``ScratchBufferHandle`` in the tail;
* **larger kernel op data** (the persistent struct each kernel allocates in
  ``Init``, 16-byte aligned in the tail);
* **extra temporary tensors** some ``Prepare`` functions fetch.

The sizes below follow the libraries' own ``*_get_buffer_size*`` functions and
TFLM's kernel ``Prepare`` code:

* ``cmsis-nn`` (Arm CMSIS-NN in TFLM's ``kernels/cmsis_nn``), by instruction
  set: ``dsp`` (Cortex-M4/M7/M33: an im2col buffer of
  ``4 * align4(KH * KW * C_in)`` bytes for every convolution that is not 1x1, a
  ``2 * KH * KW * C`` buffer for depthwise convolutions other than 3x3, ``4 * C``
  for average pooling), ``mve`` (Cortex-M55/M85, Helium) and ``scalar``
  (Cortex-M0/M0+/M3, no DSP extension); a 1x1 convolution's buffer is counted
  as Arm Compiler 6 builds request it (GCC builds request none);
* ``esp-nn`` (Espressif's ESP-NN in ``esp-tflite-micro``), by chip: ``s3``
  (ESP32-S3 SIMD kernels, which copy filters and padded inputs into scratch)
  and ``generic`` (ESP32, ESP32-C3: a softmax row buffer only).

Reference kernels add nothing. The arena of a flavour is the reference arena
plus :func:`edgeml.estimate.arena.kernel_overhead`, which replays TFLM's
allocation phases with and without these requests.
"""

from __future__ import annotations

import math

from ..targets import KERNEL_FLAVOURS as FLAVOURS
from ..tflite.graph import Graph, Op

__all__ = ["FLAVOURS", "kernel_isa", "scratch_requests", "op_data_extra", "extra_temp_tensors"]

_SCALAR_CORES = ("cortex-m0", "cortex-m1", "cortex-m3", "cortex-m23")
_MVE_CORES = ("cortex-m55", "cortex-m85")
_CH_IN_BLOCK_MVE = 124                 # CMSIS-NN arm_nnsupportfunctions.h
_REVERSE_TCOL_EFFICIENT_THRESHOLD = 16
_DW_ONE_IN_CH_THRESHOLD = 1            # smallest value either compiler uses

# Bytes the flavour's kernel op data adds in the tail, 32-bit build, after the
# 16-byte alignment of persistent buffers (sizeof measured with arm-none-eabi-g++:
# CMSIS-NN fully connected 72 vs 48, pooling 36 vs 32; ESP-NN's structs round to
# the same 16-byte multiples as the reference ones).
_OP_DATA_EXTRA = {
    "cmsis-nn": {"FULLY_CONNECTED": 32, "AVERAGE_POOL_2D": 16, "MAX_POOL_2D": 16},
    "esp-nn": {},
}


def kernel_isa(flavour: str, core: str) -> str:
    """The instruction-set variant of ``flavour`` that a ``core`` builds."""
    c = core.lower().replace("+", "plus")
    if flavour == "cmsis-nn":
        if c.startswith(_MVE_CORES):
            return "mve"
        if c.startswith(_SCALAR_CORES) and not c.startswith("cortex-m33"):
            return "scalar"
        return "dsp"
    if flavour == "esp-nn":
        return "s3" if c.startswith("xtensa-lx7") else "generic"
    return ""


def _up4(n: int) -> int:
    return -(-n // 4) * 4


def _pad(stride: int, dilation: int, size_in: int, size_filter: int, size_out: int) -> int:
    """TFLM's ComputePaddingWithOffset (the leading pad, whatever the padding type)."""
    effective = (size_filter - 1) * dilation + 1
    return max((size_out - 1) * stride + effective - size_in, 0) // 2


def _conv_dims(graph: Graph, op: Op) -> tuple[int, ...] | None:
    """(H, W, C_in, KH, KW, C_filter, OH, OW, C_out, pad_h, pad_w) of a 2-D convolution."""
    if len(op.inputs) < 2:
        return None
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    if len(x.shape) != 4 or len(w.shape) != 4 or len(op.output_shape) != 4:
        return None
    _, h, wd, c = x.shape
    _, kh, kw, cf = w.shape
    _, oh, ow, co = op.output_shape
    ph = _pad(op.stride[0], op.dilation[0], h, kh, oh)
    pw = _pad(op.stride[1], op.dilation[1], wd, kw, ow)
    return h, wd, c, kh, kw, cf, oh, ow, co, ph, pw


def _cmsis_conv_general(isa: str, kh: int, kw: int, c: int) -> int:
    if isa == "mve":
        return 4 * math.ceil(c * kw * kh / 16) * 16
    return 2 * _up4(kw * kh * c) * 2


def _cmsis_conv(graph: Graph, op: Op, isa: str) -> list[int]:
    d = _conv_dims(graph, op)
    if d is None:
        return []
    h, wd, c, kh, kw, cf, oh, ow, co, ph, pw = d
    unit_dilation = op.dilation == (1, 1)
    if ph == 0 and pw == 0 and kh == 1 and kw == 1 and unit_dilation and c == cf:
        fast = op.stride == (1, 1)
        return [4 * c] if fast and isa == "dsp" else []
    one_by_n = h == 1 and kh == 1 and op.dilation[1] == 1 and (op.stride[1] * c) % 4 == 0 and c == cf
    size = _cmsis_conv_general(isa, kh, kw, c)
    if one_by_n and isa == "mve":
        total = (ow - 1) * op.stride[1] + kw - wd
        asym = total % 2
        sw = op.stride[1]
        right = max(1, (pw + asym + sw - 1) // sw) if pw + asym else 0
        left = max(1, (pw + sw - 1) // sw) if pw else 0
        if right + max(ow - right - left, 0) + left == ow:
            pad_left, pad_right = pw * c, (right * c if asym else pw * c)
            size = max(kw * c + pad_left, kw * c - c + pad_right)
    return [size] if size > 0 else []


def _cmsis_depthwise(graph: Graph, op: Op, isa: str) -> list[int]:
    d = _conv_dims(graph, op)
    if d is None or isa == "scalar":
        return []
    h, wd, c, kh, kw, _, oh, ow, co, ph, pw = d
    size = 0
    plain = c == co and op.dilation == (1, 1)
    if isa == "dsp":
        if plain and not (kh == 3 and kw == 3 and ph <= 1 and pw <= 1):
            size = c * kw * kh * 2
    else:  # mve
        if plain:
            size = 4 * _CH_IN_BLOCK_MVE * kw * kh
        if c == 1 and co > _DW_ONE_IN_CH_THRESHOLD:
            one = _cmsis_conv_general("mve", kh, kw, 1) + co * kh * kw
            size = max(size, one)
    return [size] if size > 0 else []


def _cmsis_fully_connected(graph: Graph, op: Op, isa: str) -> list[int]:
    if len(op.inputs) < 2:
        return []
    w = graph.tensors[op.inputs[1]]
    accum = int(w.shape[-1]) if w.shape else 0
    out_depth = int(op.output_shape[-1]) if op.output_shape else 0
    if len(op.output_shape) > 2 and accum % 4 == 0:
        sizes = [] if w.n_scales > 1 else [8 * out_depth]  # per-tensor -> per-channel arrays
        if isa == "dsp":
            sizes.append(4 * accum)
        return sizes
    return []


def _cmsis_transpose_conv(graph: Graph, op: Op, isa: str) -> list[int]:
    if len(op.inputs) < 3:
        return []
    w, x = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]]
    if len(x.shape) != 4 or len(w.shape) != 4 or len(op.output_shape) != 4:
        return []
    _, h, wd, c = x.shape
    co, kh, kw, _ = w.shape
    sh, sw = op.stride
    if sh <= 2 and sw <= 2 and c > _REVERSE_TCOL_EFFICIENT_THRESHOLD:
        return [_cmsis_conv_general(isa, kh, kw, c), c * kw * kh * co]
    buf_x = ((wd - 1) * sw + max(kw, sh)) * co
    return [buf_x * max(kh, sh) * 4, 0]


def _esp_conv_s3(graph: Graph, op: Op) -> list[int]:
    d = _conv_dims(graph, op)
    if d is None:
        return []
    h, wd, c, kh, kw, _, oh, ow, co, ph, pw = d
    sh, sw = op.stride
    align = 64
    if kh == 1 and kw == 1 and ph == 0 and pw == 0 and sh == 1 and sw == 1:
        ch8 = (c + 7) & ~7
        transpose = 0 if wd * h < 8 else 2 * 8 * ch8
        inp = wd * h * ch8 if c % 8 else 0
        return [inp + ch8 * co + transpose + align]
    row, window = kw * c, kw * kh * c
    if row < 16 <= window:
        wa = (window + 15) & ~15
        return [co * 4 + 16 + co * wa + 16 + wa + align]
    ch16 = (c + 15) & ~15
    inp = 0 if ph == 0 and pw == 0 else (wd + 2 * pw) * (h + 2 * ph) * c
    filt = kw * kh * ch16 * co
    filt_align = ((row + 15) // 16) * 16 * kh * co
    pad_r = max(0, ow * sw + kw - 1 - wd)
    pad_b = max(0, oh * sh + kh - 1 - h)
    boundary = (wd + pad_r) * (h + pad_b) * c if pad_r > 0 or pad_b > 0 else 0
    return [inp + filt + filt_align + boundary + align + co * 4]


def _esp_depthwise_s3(graph: Graph, op: Op) -> list[int]:
    d = _conv_dims(graph, op)
    if d is None:
        return []
    h, wd, c, kh, kw, _, oh, ow, co, ph, pw = d
    sh, sw = op.stride
    mult = op.depth_multiplier
    filt = kw * kh * c * mult
    if mult == 1 and c % 8 == 0:
        if kw == 3 and kh == 3:
            if c % 16 == 0:
                if ph or pw:
                    padw, padh = 2 * pw, 2 * ph
                else:
                    padw, padh = ow * sw + kw - 1 - wd, oh * sh + kh - 1 - h
                if padw or padh:
                    full = (wd + padw) * (h + padh) * c
                    if full <= 40 * 1024:
                        return [filt + full + 16]
                    return [filt + (wd + padw) * kh * c + 16]
                return [filt + 16]
            if c >= 12:
                ch = (c + 15) & ~15
                tw = 2 * pw + max(0, ow * sw + 2 - wd)
                th = 2 * ph + max(0, oh * sh + 2 - h)
                return [9 * ch + (wd + tw) * (h + th) * ch + ow * oh * ch + 64]
            return [2 * (filt + wd * h * c) + 32]
        total = 2 * (filt + wd * h * c)
        if total <= 48 * 1024:
            return [total + 32]
        return [2 * filt + 2 * wd * kh * c + 32]
    if mult == 1 and c > 3:
        ch = (c + 7) & ~7

        def up16(n: int) -> int:
            return (n + 15) & ~15

        inp_start = up16(kw * kh * ch * 2)
        out_start = up16(inp_start + wd * h * ch * 2)
        bias_start = up16(out_start + ow * oh * ch)
        return [bias_start + 3 * 4 * ch + 16]
    if mult % 4 == 0:
        return [2 * (filt + wd * h * c) + 32]
    return [32]


def _esp_softmax(graph: Graph, op: Op) -> list[int]:
    x = graph.tensors[op.inputs[0]] if op.inputs else None
    if x is None or x.dtype != "int8" or len(x.shape) < 2:
        return []
    size = 4 * int(x.shape[1])  # esp_nn_get_softmax_scratch_size(dims[1], dims[2])
    return [size] if size > 0 else []


def scratch_requests(graph: Graph, op: Op, flavour: str, isa: str) -> list[int] | None:
    """Bytes of each scratch buffer ``op`` requests with ``flavour``'s kernel, in
    request order; ``None`` where the flavour runs TFLM's reference kernel."""
    data = 2 if op.op == "TRANSPOSE_CONV" else 0  # TRANSPOSE_CONV: (output shape, filter, input)
    x = graph.tensors[op.inputs[data]] if len(op.inputs) > data else None
    int8 = x is not None and x.dtype == "int8"
    if flavour == "cmsis-nn" and int8:
        if op.op == "CONV_2D":
            return _cmsis_conv(graph, op, isa)
        if op.op == "DEPTHWISE_CONV_2D":
            return _cmsis_depthwise(graph, op, isa)
        if op.op == "FULLY_CONNECTED":
            return _cmsis_fully_connected(graph, op, isa)
        if op.op == "AVERAGE_POOL_2D":
            c = int(op.output_shape[-1]) if op.output_shape else 0
            return [4 * c] if isa == "dsp" and c else []
        if op.op == "TRANSPOSE_CONV":
            return _cmsis_transpose_conv(graph, op, isa)
    if flavour == "esp-nn" and int8:
        if op.op == "SOFTMAX":
            return _esp_softmax(graph, op)
        if op.op == "CONV_2D":
            return _esp_conv_s3(graph, op) if isa == "s3" else []
        if op.op == "DEPTHWISE_CONV_2D":
            return _esp_depthwise_s3(graph, op) if isa == "s3" else []
    return None


def op_data_extra(op: Op, flavour: str, isa: str) -> int:
    """Tail bytes ``flavour``'s kernel op data takes beyond the reference kernel's."""
    extra = _OP_DATA_EXTRA.get(flavour, {}).get(op.op, 0)
    if flavour == "cmsis-nn" and isa == "mve" and op.op == "FULLY_CONNECTED":
        # kernel sums precomputed into a persistent buffer (KERNELS_OPTIMIZED_FOR_SPEED)
        out_depth = int(op.output_shape[-1]) if op.output_shape else 0
        extra += -(-4 * out_depth // 16) * 16
    return extra


def extra_temp_tensors(op: Op, flavour: str) -> tuple[int, ...]:
    """Tensors ``flavour``'s ``Prepare`` fetches as temporaries beyond the reference's
    (CMSIS-NN's average pooling fetches input and output a second time)."""
    if flavour == "cmsis-nn" and op.op == "AVERAGE_POOL_2D":
        return op.inputs[:1] + op.outputs
    return ()
