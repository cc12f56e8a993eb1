"""Per-operator TFLM kernel code size, measured from the tflite-micro wheel.

    .venv/bin/python benchmarks/op_code_size.py [--toml]

The wheel's interpreter library (x86-64) keeps its symbol table, including one
FILE symbol per source file followed by that file's local symbols. Function
symbols are attributed to a source file by address (each object file's code
is contiguous in the library), the kernel files are mapped to the operators
they implement, and the x86-64 sizes are converted to Thumb-2 by the ratio of
the same plain-C int8 kernels (benchmarks/c/int8_kernels.c) compiled with
gcc -O2 for x86-64 and arm-none-eabi-gcc -O2 -mcpu=cortex-m4. Operators that
share a file (MAX_POOL_2D and AVERAGE_POOL_2D) share its size evenly.
``--toml`` prints the ``op_code_bytes`` table for the target profiles.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

# kernel source file stem -> operators it implements
FILES = {
    "conv": ["CONV_2D"], "conv_common": ["CONV_2D"],
    "depthwise_conv": ["DEPTHWISE_CONV_2D"], "depthwise_conv_common": ["DEPTHWISE_CONV_2D"],
    "fully_connected": ["FULLY_CONNECTED"], "fully_connected_common": ["FULLY_CONNECTED"],
    "transpose_conv": ["TRANSPOSE_CONV"],
    "pooling": ["AVERAGE_POOL_2D", "MAX_POOL_2D"], "pooling_common": ["AVERAGE_POOL_2D", "MAX_POOL_2D"],
    "softmax": ["SOFTMAX"], "softmax_common": ["SOFTMAX"],
    "add": ["ADD"], "add_common": ["ADD"], "sub": ["SUB"], "sub_common": ["SUB"],
    "mul": ["MUL"], "mul_common": ["MUL"],
    "reduce": ["MEAN", "SUM"], "reduce_common": ["MEAN", "SUM"],
    "reshape": ["RESHAPE"], "reshape_common": ["RESHAPE"], "squeeze": ["SQUEEZE"],
    "expand_dims": ["EXPAND_DIMS"], "concatenation": ["CONCATENATION"],
    "pad": ["PAD", "PADV2"], "pad_common": ["PAD", "PADV2"],
    "logistic": ["LOGISTIC"], "logistic_common": ["LOGISTIC"],
    "tanh": ["TANH"], "tanh_common": ["TANH"],
    "activations": ["RELU", "RELU6"], "activations_common": ["RELU", "RELU6"],
    "leaky_relu": ["LEAKY_RELU"], "leaky_relu_common": ["LEAKY_RELU"],
    "hard_swish": ["HARD_SWISH"], "hard_swish_common": ["HARD_SWISH"],
    "prelu": ["PRELU"], "prelu_common": ["PRELU"], "elu": ["ELU"],
    "maximum_minimum": ["MAXIMUM", "MINIMUM"],
    "quantize": ["QUANTIZE"], "quantize_common": ["QUANTIZE"],
    "dequantize": ["DEQUANTIZE"], "dequantize_common": ["DEQUANTIZE"],
    "resize_nearest_neighbor": ["RESIZE_NEAREST_NEIGHBOR"],
    "strided_slice": ["STRIDED_SLICE"], "strided_slice_common": ["STRIDED_SLICE"],
    "split": ["SPLIT"], "pack": ["PACK"], "unpack": ["UNPACK"], "shape": ["SHAPE"],
    "transpose": ["TRANSPOSE"], "transpose_common": ["TRANSPOSE"],
    "space_to_batch_nd": ["SPACE_TO_BATCH_ND"], "batch_to_space_nd": ["BATCH_TO_SPACE_ND"],
    "batch_to_space_nd_common": ["BATCH_TO_SPACE_ND"],
}


def library() -> Path:
    import tflite_micro

    return Path(tflite_micro.__file__).parent / "python" / "tflite_micro" / "_runtime.so"


def _demangle(names: list[str]) -> list[str]:
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return out if len(out) == len(names) else names


# demangled-name stems of each kernel file's functions (for global symbols,
# which the symbol table does not list under their FILE entry)
STEMS = {
    "conv": r"\bConv(Eval|Prepare|Init|PerChannel|Params\w*)?\b|CalculateOpDataConv|Register_CONV_2D",
    "depthwise_conv": r"DepthwiseConv|Register_DEPTHWISE_CONV_2D",
    "fully_connected": r"FullyConnected|Register_FULLY_CONNECTED",
    "transpose_conv": r"TransposeConv|Register_TRANSPOSE_CONV",
    "pooling": r"AveragePool|MaxPool|\bPool|Register_(AVERAGE|MAX)_POOL_2D",
    "softmax": r"Softmax|Register_SOFTMAX",
    "add": r"\bAdd(Eval|Prepare|Init)?\b|EvalAdd|CalculateOpDataAdd|Register_ADD\b",
    "sub": r"\bSub(Eval|Prepare|Init)?\b|EvalSub|CalculateOpDataSub|Register_SUB\b",
    "mul": r"\bMul(Eval|Prepare|Init)?\b|EvalMul|CalculateOpDataMul|Register_MUL\b",
    "reduce": r"Reduce|\bMean|Register_(MEAN|SUM)",
    "concatenation": r"Concatenation|Register_CONCATENATION",
    "resize_nearest_neighbor": r"ResizeNearestNeighbor|Register_RESIZE_NEAREST",
    "logistic": r"Logistic|Register_LOGISTIC", "tanh": r"\bTanh|Register_TANH",
    "leaky_relu": r"LeakyRelu|Register_LEAKY_RELU", "hard_swish": r"HardSwish|Register_HARD_SWISH",
    "prelu": r"Prelu|Register_PRELU", "pad": r"\bPad(Eval|Prepare)?\b|Register_PADV?2?\b",
    "maximum_minimum": r"Maximum|Minimum|Register_(MAXIMUM|MINIMUM)",
    "quantize": r"\bQuantize(Eval|Prepare|Init)|Register_QUANTIZE",
    "dequantize": r"Dequantize|Register_DEQUANTIZE",
    "strided_slice": r"StridedSlice|Register_STRIDED_SLICE",
    "reshape": r"\bReshape|Register_RESHAPE", "transpose": r"\bTranspose(Eval|Prepare)|Register_TRANSPOSE\b",
}


def file_sizes(lib: Path) -> dict[str, int]:
    out = subprocess.run(["readelf", "-sW", str(lib)], capture_output=True, text=True,
                         check=True).stdout
    current = None
    rows = []  # (address, size, bind, file or None, name)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 8 or not parts[0].rstrip(":").isdigit():
            continue
        value, size, typ, bind = int(parts[1], 16), int(parts[2]), parts[3], parts[4]
        if typ == "FILE":
            current = parts[7]
            continue
        if typ != "FUNC" or value == 0:
            continue
        rows.append((value, size, bind, current if bind == "LOCAL" else None, parts[7]))
    names = _demangle([r[4] for r in rows])
    stems = {f: re.compile(p) for f, p in STEMS.items()}
    sizes: dict[str, int] = defaultdict(int)
    seen: set[int] = set()
    last = None
    for (addr, size, _bind, owner, _), name in sorted(zip(rows, names, strict=True),
                                                      key=lambda r: r[0][0]):
        if addr in seen:
            continue
        seen.add(addr)
        if owner:                               # local: its FILE entry is certain
            sizes[owner] += size
            if ".cold" not in name and "[clone .cold]" not in name:
                last = owner
            continue
        match = next((f + ".cc" for f, rx in stems.items() if rx.search(name)), None)
        target = match or last
        if target:
            sizes[target] += size
    return dict(sizes)


def thumb_ratio() -> tuple[float, str]:
    src = Path(__file__).with_name("c") / "int8_kernels.c"
    if not (shutil.which("gcc") and shutil.which("arm-none-eabi-gcc")):
        return 0.55, "0.55 (default; gcc or arm-none-eabi-gcc missing)"
    with tempfile.TemporaryDirectory() as tmp:
        sizes = []
        for cc, flags in (("gcc", ["-O2"]), ("arm-none-eabi-gcc", ["-O2", "-mthumb", "-mcpu=cortex-m4"])):
            obj = Path(tmp) / f"{cc}.o"
            subprocess.run([cc, *flags, "-c", str(src), "-o", str(obj)], check=True)
            text = subprocess.run(["size", "-A", str(obj)] if cc == "gcc" else
                                  ["arm-none-eabi-size", "-A", str(obj)],
                                  capture_output=True, text=True, check=True).stdout
            sizes.append(sum(int(m.group(1)) for m in re.finditer(r"^\.text\S*\s+(\d+)", text, re.M)))
    return sizes[1] / sizes[0], f"{sizes[1] / sizes[0]:.3f} ({sizes[1]} / {sizes[0]} bytes)"


def main() -> int:
    ap = argparse.ArgumentParser(description="per-operator TFLM kernel code size")
    ap.add_argument("--toml", action="store_true", help="print the profile table")
    args = ap.parse_args()
    by_file = file_sizes(library())
    ratio, how = thumb_ratio()
    per_op: dict[str, float] = defaultdict(float)
    for f, size in by_file.items():
        stem = f.rsplit(".", 1)[0]
        ops = FILES.get(stem)
        if ops:
            for op in ops:
                per_op[op] += size / len(ops)
    if args.toml:
        items = ", ".join(f"{op} = {int(round(v * ratio / 16) * 16)}" for op, v in sorted(per_op.items()))
        print(f"op_code_bytes = {{ {items} }}")
        return 0
    print(f"Thumb-2 / x86-64 code size ratio: {how}")
    print(f"{'operator':26s} {'x86-64 bytes':>12s} {'Thumb-2 est.':>12s}")
    for op, v in sorted(per_op.items(), key=lambda kv: -kv[1]):
        print(f"{op:26s} {v:12.0f} {v * ratio:12.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
