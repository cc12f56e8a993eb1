"""Read a ``.tflite`` flatbuffer into plain data: operators, tensors, MACs.

Uses the flatbuffer schema bindings shipped with the ``tflite-micro`` wheel
(imported in milliseconds, no TensorFlow), or TensorFlow's copy of the same
schema where ``tflite-micro`` is not installable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import ModelError

__all__ = ["Graph", "Op", "TensorInfo", "read_graph", "keras_layer_name"]

_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool",
           7: "int16", 9: "int8", 10: "float64"}
_NP = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "int16": np.int16,
       "int32": np.int32, "int64": np.int64, "float16": np.float16, "bool": np.bool_,
       "float64": np.float64}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None
    zero_point: int | None
    is_constant: bool
    nbytes: int
    n_scales: int = 0            # quantization scales (> 1: per-channel)


@dataclass(frozen=True)
class Op:
    index: int
    op: str                      # builtin operator name, e.g. CONV_2D
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    output_shape: tuple[int, ...]
    macs: int
    params: int                  # elements of constant inputs (weights, biases)
    out_elements: int
    layer: str                   # name of the output tensor (carries the Keras layer name)


@dataclass(frozen=True)
class Graph:
    ops: tuple[Op, ...]
    tensors: tuple[TensorInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    model_bytes: int
    sha256: str

    @property
    def op_names(self) -> tuple[str, ...]:
        """Distinct operators, in first-use order."""
        return tuple(dict.fromkeys(op.op for op in self.ops))

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def params(self) -> int:
        return sum(op.params for op in self.ops)

    def input(self, i: int = 0) -> TensorInfo:
        return self.tensors[self.inputs[i]]

    def output(self, i: int = 0) -> TensorInfo:
        return self.tensors[self.outputs[i]]

    @property
    def is_int8(self) -> bool:
        """Fully integer: int8 input/output, no float32 activations or weights."""
        io = [self.input(i).dtype for i in range(len(self.inputs))]
        io += [self.output(i).dtype for i in range(len(self.outputs))]
        if any(d != "int8" for d in io):
            return False
        return not any(t.dtype in ("float32", "float16") for t in self.tensors)


_TF_OPS = {
    "CONV_2D": ("conv2d", "conv1d"), "DEPTHWISE_CONV_2D": ("depthwise",),
    "FULLY_CONNECTED": ("matmul", "tensordot", "dense"), "TRANSPOSE_CONV": ("transpose", "backprop"),
    "MUL": ("mul",), "ADD": ("add",), "SUB": ("sub",), "AVERAGE_POOL_2D": ("avgpool",),
    "MAX_POOL_2D": ("maxpool",), "MEAN": ("mean",), "SUM": ("sum",), "SOFTMAX": ("softmax",),
    "LOGISTIC": ("sigmoid",), "TANH": ("tanh",), "RESHAPE": ("reshape", "expanddims", "squeeze"),
    "CONCATENATION": ("concat",), "PAD": ("pad",), "RESIZE_NEAREST_NEIGHBOR": ("resize",),
}
_NOT_LAYERS = ("re_lu", "relu", "batch_normalization", "activation", "dropout")


def keras_layer_name(tensor_name: str, op: str = "") -> str:
    """The Keras layer behind a converted operator, for messages.

    The converter names an operator's output after the TF ops fused into it,
    e.g. ``model/re_lu/Relu;model/bn/FusedBatchNormV3;model/dw1/depthwise``.
    The layer is the path component after the model's name, taken from the
    part whose TF op matches the operator kind (``depthwise`` for
    ``DEPTHWISE_CONV_2D``), else from the first part that is not an
    activation or batch normalization. A graph output (``StatefulPartitionedCall``)
    has no layer name.
    """
    parts = [p.split("/") for p in tensor_name.split(";") if p]
    named = [p for p in parts if len(p) >= 3]
    if not named:
        return "(model output)" if tensor_name.startswith("StatefulPartitionedCall") else tensor_name
    keys = _TF_OPS.get(op.upper(), ())
    for p in named:
        if any(k in p[-1].lower() for k in keys):
            return p[1]
    for p in named:
        if not p[1].lower().startswith(_NOT_LAYERS):
            return p[1]
    return named[0][1]


@lru_cache(maxsize=1)
def _schema() -> Any:
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb
    except ImportError:  # pragma: no cover - non x86-64 hosts
        from tensorflow.lite.python import schema_py_generated as fb
    return fb


@lru_cache(maxsize=1)
def _op_names() -> dict[int, str]:
    fb = _schema()
    return {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}


def read_graph(model: bytes, *, where: str = "model") -> Graph:
    """Parse ``model`` (the bytes of a ``.tflite`` file)."""
    if len(model) < 8 or model[4:8] != b"TFL3":
        raise ModelError(f"{where} is not a TensorFlow Lite flatbuffer (no 'TFL3' identifier)",
                         hint="pass a .tflite file produced by the TFLite converter")
    fb = _schema()
    try:
        m = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(bytearray(model), 0))
        graph = _build(m, model, fb)
    except ModelError:
        raise
    except Exception as exc:  # flatbuffers raises IndexError/struct.error on bad data
        detail = f"{type(exc).__name__}: {exc}"[:80]
        raise ModelError(f"{where} is a truncated or corrupted .tflite file ({detail})",
                         hint="re-export the model; the file may be cut short") from exc
    return graph


def _build(m: Any, model: bytes, fb: Any) -> Graph:
    if not m.subgraphs:
        raise ModelError("model has no subgraph", hint="re-convert the model")
    sg = m.subgraphs[0]
    names = _op_names()
    buffers = m.buffers or []
    tensors: list[TensorInfo] = []
    for i, t in enumerate(sg.tensors or []):
        shape = tuple(int(s) for s in (t.shape if t.shape is not None else []))
        dtype = _DTYPES.get(int(t.type), f"type{int(t.type)}")
        q = t.quantization
        scale = zp = None
        n_scales = 0
        if q is not None and q.scale is not None and len(q.scale) > 0:
            n_scales = len(q.scale)
            scale = float(q.scale[0])
            zp = int(q.zeroPoint[0]) if q.zeroPoint is not None and len(q.zeroPoint) else 0
        buf = buffers[t.buffer] if 0 <= t.buffer < len(buffers) else None
        const = bool(buf is not None and ((buf.data is not None and len(buf.data) > 0)
                                          or getattr(buf, "size", 0)))
        n = int(np.prod(shape)) if shape else 1
        itemsize = np.dtype(_NP[dtype]).itemsize if dtype in _NP else 1
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name or "")
        tensors.append(TensorInfo(i, name, shape, dtype, scale, zp, const, n * itemsize, n_scales))
    ops: list[Op] = []
    for k, o in enumerate(sg.operators or []):
        code = m.operatorCodes[o.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        name = names.get(builtin, f"OP_{builtin}")
        if name == "CUSTOM":
            cc = code.customCode
            name = "CUSTOM:" + (cc.decode() if isinstance(cc, bytes) else str(cc))
        ins = tuple(int(i) for i in (o.inputs if o.inputs is not None else []) if i >= 0)
        outs = tuple(int(i) for i in (o.outputs if o.outputs is not None else []))
        out_shape = tensors[outs[0]].shape if outs else ()
        out_el = int(np.prod(out_shape)) if out_shape else 0
        params = sum(int(np.prod(tensors[i].shape or (1,))) for i in ins if tensors[i].is_constant)
        macs = _macs(name, [tensors[i] for i in ins], out_shape, out_el, o, fb)
        layer = tensors[outs[0]].name if outs else ""
        ops.append(Op(k, name, ins, outs, out_shape, macs, params, out_el, layer))
    return Graph(ops=tuple(ops), tensors=tuple(tensors),
                 inputs=tuple(int(i) for i in sg.inputs), outputs=tuple(int(i) for i in sg.outputs),
                 model_bytes=len(model), sha256=hashlib.sha256(model).hexdigest())


def _macs(name: str, ins: list[TensorInfo], out_shape: tuple[int, ...], out_el: int,
          o: Any, fb: Any) -> int:
    if name == "CONV_2D" and len(ins) >= 2:
        _, kh, kw, cin = ins[1].shape  # filter: [out_c, kh, kw, in_c]
        return out_el * kh * kw * cin
    if name == "DEPTHWISE_CONV_2D" and len(ins) >= 2:
        _, kh, kw, _ = ins[1].shape  # filter: [1, kh, kw, out_c]
        return out_el * kh * kw
    if name == "FULLY_CONNECTED" and len(ins) >= 2:
        return out_el * int(ins[1].shape[-1])
    if name == "TRANSPOSE_CONV" and len(ins) >= 3:
        _, kh, kw, _ = ins[1].shape
        return int(np.prod(ins[2].shape)) * kh * kw * int(ins[1].shape[0])
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        opt = o.builtinOptions
        fh = getattr(opt, "filterHeight", 1) or 1
        fw = getattr(opt, "filterWidth", 1) or 1
        return out_el * fh * fw
    if name in ("MEAN", "SUM") and ins:
        return int(np.prod(ins[0].shape or (1,)))
    return out_el
