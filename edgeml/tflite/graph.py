"""Read a ``.tflite`` flatbuffer into plain data: operators, tensors, MACs.

Uses the flatbuffer schema bindings shipped with the ``tflite-micro`` wheel
(imported in milliseconds, no TensorFlow), or TensorFlow's copy of the same
schema where ``tflite-micro`` is not installable.
"""

from __future__ import annotations

import hashlib
import math
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
    # convolution and pooling options (defaults for every other operator)
    stride: tuple[int, int] = (1, 1)          # (height, width)
    padding: str = ""                         # "SAME" or "VALID"
    dilation: tuple[int, int] = (1, 1)        # (height, width)
    depth_multiplier: int = 1


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
    """The TFLite flatbuffer schema bindings, loaded from the tflite-micro wheel by
    path (importing the ``tflite_micro`` package would also load its interpreter
    library, which parsing does not need), or TensorFlow's copy of the schema."""
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("tflite_micro")
        path = (Path(spec.origin).parent / "tensorflow" / "lite" / "micro" / "python"
                / "schema_py_generated.py") if spec and spec.origin else None
        if path is not None and path.is_file():
            mod_spec = importlib.util.spec_from_file_location("edgeml_tflite_schema", path)
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
            return module
    except (ImportError, OSError):  # pragma: no cover - fall back below
        pass
    from tensorflow.lite.python import schema_py_generated as fb  # pragma: no cover

    return fb  # pragma: no cover


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
        graph = _build(fb.Model.GetRootAs(bytearray(model), 0), model, fb)
    except ModelError:
        raise
    except Exception as exc:  # flatbuffers raises IndexError/struct.error on bad data
        detail = f"{type(exc).__name__}: {exc}"[:80]
        raise ModelError(f"{where} is a truncated or corrupted .tflite file ({detail})",
                         hint="re-export the model; the file may be cut short") from exc
    return graph


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


def _build(m: Any, model: bytes, fb: Any) -> Graph:
    """Read what the estimates need with the flatbuffer accessors (weights are not
    copied, so a large model parses in milliseconds)."""
    if m.SubgraphsLength() < 1:
        raise ModelError("model has no subgraph", hint="re-convert the model")
    sg = m.Subgraphs(0)
    names = _op_names()
    n_buffers = m.BuffersLength()
    tensors: list[TensorInfo] = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        shape = tuple(int(t.Shape(j)) for j in range(t.ShapeLength()))
        dtype = _DTYPES.get(int(t.Type()), f"type{int(t.Type())}")
        q = t.Quantization()
        scale = zp = None
        n_scales = 0
        if q is not None and q.ScaleLength() > 0:
            n_scales = q.ScaleLength()
            scale = float(q.Scale(0))
            zp = int(q.ZeroPoint(0)) if q.ZeroPointLength() else 0
        b = t.Buffer()
        const = False
        if 0 <= b < n_buffers:
            buf = m.Buffers(b)
            const = buf is not None and (buf.DataLength() > 0 or int(buf.Size() or 0) > 0)
        n = math.prod(shape) if shape else 1
        itemsize = np.dtype(_NP[dtype]).itemsize if dtype in _NP else 1
        tensors.append(TensorInfo(i, _text(t.Name()), shape, dtype, scale, zp, const,
                                  n * itemsize, n_scales))
    ops: list[Op] = []
    for k in range(sg.OperatorsLength()):
        o = sg.Operators(k)
        code = m.OperatorCodes(o.OpcodeIndex())
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        name = names.get(builtin, f"OP_{builtin}")
        if name == "CUSTOM":
            name = "CUSTOM:" + _text(code.CustomCode())
        ins = tuple(int(o.Inputs(j)) for j in range(o.InputsLength()) if o.Inputs(j) >= 0)
        outs = tuple(int(o.Outputs(j)) for j in range(o.OutputsLength()))
        out_shape = tensors[outs[0]].shape if outs else ()
        out_el = math.prod(out_shape) if out_shape else 0
        params = sum(math.prod(tensors[i].shape or (1,)) for i in ins if tensors[i].is_constant)
        window = (1, 1)
        options = _conv_options(fb, name, o)
        if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D") and o.BuiltinOptions() is not None:
            opt = fb.Pool2DOptions()
            table = o.BuiltinOptions()
            opt.Init(table.Bytes, table.Pos)
            window = (int(opt.FilterHeight()) or 1, int(opt.FilterWidth()) or 1)
        macs = _macs(name, [tensors[i] for i in ins], out_shape, out_el, window)
        layer = tensors[outs[0]].name if outs else ""
        ops.append(Op(k, name, ins, outs, out_shape, macs, params, out_el, layer, **options))
    return Graph(ops=tuple(ops), tensors=tuple(tensors),
                 inputs=tuple(int(sg.Inputs(j)) for j in range(sg.InputsLength())),
                 outputs=tuple(int(sg.Outputs(j)) for j in range(sg.OutputsLength())),
                 model_bytes=len(model), sha256=hashlib.sha256(model).hexdigest())


_OPTION_TABLES = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
                  "TRANSPOSE_CONV": "TransposeConvOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
                  "MAX_POOL_2D": "Pool2DOptions"}


def _conv_options(fb: Any, name: str, o: Any) -> dict[str, Any]:
    """Stride, padding, dilation and depth multiplier of a convolution or pooling
    operator (what optimized kernels size their scratch buffers by)."""
    table_name = _OPTION_TABLES.get(name)
    if table_name is None or o.BuiltinOptions() is None:
        return {}
    opt = getattr(fb, table_name)()
    table = o.BuiltinOptions()
    opt.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {"stride": (int(opt.StrideH()) or 1, int(opt.StrideW()) or 1),
                           "padding": "VALID" if int(opt.Padding()) == 1 else "SAME"}
    if hasattr(opt, "DilationHFactor"):
        out["dilation"] = (int(opt.DilationHFactor()) or 1, int(opt.DilationWFactor()) or 1)
    if name == "DEPTHWISE_CONV_2D":
        out["depth_multiplier"] = int(opt.DepthMultiplier()) or 1
    return out


def _macs(name: str, ins: list[TensorInfo], out_shape: tuple[int, ...], out_el: int,
          window: tuple[int, int] = (1, 1)) -> int:
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
        return math.prod(ins[2].shape) * kh * kw * int(ins[1].shape[0])
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return out_el * window[0] * window[1]
    if name in ("MEAN", "SUM") and ins:
        return math.prod(ins[0].shape or (1,))
    return out_el
