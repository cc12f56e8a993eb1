"""The C files compile with g++ (and arm-none-eabi-g++), hold exactly the .tflite bytes,
quantize raw inputs as the TFLM evaluation does, and register exactly the model's ops."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from export_cc import STUB, arm_gxx, gxx

DUMP = r"""
#include <cstdint>
#include <cstdio>
#include "model_data.h"

int main(int argc, char** argv) {
  if (reinterpret_cast<std::uintptr_t>(g_model) % 16 != 0) return 3;
  FILE* f = std::fopen(argv[1], "wb");
  std::fwrite(g_model, 1, g_model_len, f);
  std::fclose(f);
  // raw float32 values in argv[2] -> int8 through the header's folded preprocessing
  FILE* in = std::fopen(argv[2], "rb");
  std::fseek(in, 0, SEEK_END);
  const long n = std::ftell(in) / 4;
  std::fseek(in, 0, SEEK_SET);
  float* raw = new float[n];
  signed char* q = new signed char[n];
  if (std::fread(raw, 4, n, in) != static_cast<size_t>(n)) return 4;
  std::fclose(in);
  QuantizeRawInput(raw, q, static_cast<int>(n));
  FILE* out = std::fopen(argv[3], "wb");
  std::fwrite(q, 1, n, out);
  std::fclose(out);
  std::printf("%d %d %d %d\n", kTensorArenaSize, kTensorArenaMeasured, kNumClasses, kInputLength);
  for (int i = 0; i < kNumClasses; ++i) std::printf("%s\n", kLabels[i]);
  return argc == 4 ? 0 : 2;
}
"""

RESOLVE = r"""
#include <cstdio>
#include "op_resolver.h"

int main() {
  static ModelOpResolver resolver;
  if (RegisterModelOps(resolver) != kTfLiteOk) return 1;
  if (resolver.GetRegistrationLength() != static_cast<unsigned>(kModelOpCount)) return 2;
  for (unsigned i = 0; i < resolver.GetRegistrationLength(); ++i)
    std::printf("%s\n", resolver.GetRegistered(i));
  return RegisterModelOps(resolver) == kTfLiteError ? 0 : 5;  // a second call must fail
}
"""


@pytest.fixture(scope="module")
def c_dir(tmp_path_factory, artifact, digits) -> Path:
    """The C export of the digits model, with the digits preprocessing recorded (as a run
    directory records it)."""
    from edgeml.export import export_model

    out = tmp_path_factory.mktemp("c")
    export_model(replace(artifact, raw_input_scale=digits.scale, raw_input_offset=digits.offset),
                 fmt="c", out=out)
    return out


def test_c_files_compile_and_hold_the_model(c_dir, digits_tflite, artifact, digits, tmp_path):
    from edgeml.export.c_array import arena_with_margin
    from edgeml.tflite.tflm import quantize_input

    (tmp_path / "dump.cc").write_text(DUMP)
    exe = tmp_path / "dump"
    gxx("-I", str(c_dir), str(tmp_path / "dump.cc"), str(c_dir / "model_data.cc"), "-o", str(exe))
    # raw digit pixels (0..16), as a sensor would deliver them
    raw = (digits.x_test[:50] - digits.offset) / digits.scale
    raw = raw.astype(np.float32).reshape(-1)
    raw.tofile(tmp_path / "raw.bin")
    proc = subprocess.run([str(exe), str(tmp_path / "model.bin"), str(tmp_path / "raw.bin"),
                           str(tmp_path / "q.bin")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "model.bin").read_bytes() == digits_tflite.read_bytes()

    arena, measured, classes, n_in = map(int, proc.stdout.split("\n")[0].split())
    assert measured == artifact.arena_bytes > 0
    assert arena == arena_with_margin(measured) >= measured + 1024 and arena % 16 == 0
    assert classes == 10 and n_in == 64
    assert proc.stdout.split("\n")[1:11] == [str(i) for i in range(10)]

    # The firmware's one-step quantization of raw values matches what the TFLM
    # accuracy was measured with (preprocess, then quantize), up to float rounding.
    q_c = np.fromfile(tmp_path / "q.bin", dtype=np.int8).astype(int)
    x = raw * np.float32(digits.scale) + np.float32(digits.offset)
    q_py = quantize_input(x, artifact.input_scale, artifact.input_zero_point).astype(int)
    assert np.abs(q_c - q_py).max() <= 1
    assert np.mean(q_c == q_py) > 0.99


def test_op_resolver_registers_exactly_the_models_operators(c_dir, digits_int8, tmp_path):
    from edgeml.export.op_resolver import RESOLVER_METHODS
    from edgeml.tflite.graph import read_graph

    ops = read_graph(digits_int8).op_names
    text = (c_dir / "op_resolver.h").read_text()
    assert "tflite::MicroMutableOpResolver<kModelOpCount>" in text
    assert f"constexpr int kModelOpCount = {len(ops)};" in text
    assert re.findall(r"resolver\.(Add\w+)\(\)", text) == [RESOLVER_METHODS[o] for o in ops]

    (tmp_path / "resolve.cc").write_text(RESOLVE)
    exe = tmp_path / "resolve"
    gxx("-I", str(c_dir), "-I", str(STUB), str(tmp_path / "resolve.cc"), "-o", str(exe))
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.split() == [RESOLVER_METHODS[o] for o in ops]


def test_real_tflm_headers_when_available(c_dir, tmp_path):
    dirs = [d for d in os.environ.get("EDGEML_TFLM_INCLUDE", "").split(":") if d]
    if not dirs:
        pytest.skip("EDGEML_TFLM_INCLUDE not set (TFLM headers are not in the pip wheel)")
    (tmp_path / "r.cc").write_text('#include "op_resolver.h"\nint main() { static ModelOpResolver r;'
                                   ' return RegisterModelOps(r); }\n')
    args = ["-std=c++17", "-fsyntax-only", "-I", str(c_dir)]
    for d in dirs:
        args += ["-I", d]
    proc = subprocess.run(["g++", *args, str(tmp_path / "r.cc")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_resolver_table_matches_tflm_and_the_schema():
    from edgeml.export.op_resolver import RESOLVER_METHODS
    from edgeml.tflite.graph import _op_names

    stub = (STUB / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    declared = set(re.findall(r"TfLiteStatus (Add\w+)\(\)", stub))
    assert set(RESOLVER_METHODS.values()) <= declared
    builtins = set(_op_names().values())
    assert {k for k in RESOLVER_METHODS if not k.startswith("CUSTOM:")} <= builtins
    assert len(set(RESOLVER_METHODS.values())) == len(RESOLVER_METHODS)


def test_two_models_link_into_one_firmware(artifact, tmp_path):
    """--name prefixes every symbol and file: two exports compile and link together."""
    from edgeml.export import export_model

    export_model(artifact, fmt="c", out=tmp_path)
    export_model(replace(artifact, labels=("yes", 'say "no"', "a\\b", "??=")), fmt="c",
                 out=tmp_path, name="kws")
    assert {p.name for p in tmp_path.iterdir()} >= {"model_data.cc", "model_data.h",
                                                     "op_resolver.h", "kws_data.cc", "kws_data.h",
                                                     "kws_op_resolver.h"}
    main = tmp_path / "main.cc"
    main.write_text('#include <cstdio>\n#include "model_data.h"\n#include "kws_data.h"\n'
                    '#include "op_resolver.h"\n#include "kws_op_resolver.h"\n'
                    "int main() { static ModelOpResolver a; static KwsOpResolver b;\n"
                    "  if (RegisterModelOps(a) || RegisterKwsOps(b)) return 1;\n"
                    "  for (int i = 0; i < kKwsNumClasses; ++i) std::printf(\"%s|\", kKwsLabels[i]);\n"
                    "  return g_model_len == g_kws_len && kTensorArenaSize == kKwsTensorArenaSize"
                    " ? 0 : 2; }\n")
    exe = tmp_path / "both"
    gxx("-I", str(tmp_path), "-I", str(STUB), str(main), str(tmp_path / "model_data.cc"),
        str(tmp_path / "kws_data.cc"), "-o", str(exe))
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout == 'yes|say "no"|a\\b|??=|'


def test_cross_compiles_for_cortex_m(c_dir, digits_tflite, tmp_path):
    exe = arm_gxx()
    flags = ["-std=c++11", "-Wall", "-Werror", "-mcpu=cortex-m4", "-mthumb", "-Os",
             "-fno-exceptions", "-fno-rtti"]
    obj = tmp_path / "model_data.o"
    proc = subprocess.run([exe, *flags, "-c", str(c_dir / "model_data.cc"), "-o", str(obj)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    nm = subprocess.run([exe.replace("g++", "nm"), "-S", str(obj)], capture_output=True, text=True)
    sizes = {line.split()[-1]: int(line.split()[1], 16) for line in nm.stdout.splitlines()
             if len(line.split()) == 4}
    assert sizes["g_model"] == len(digits_tflite.read_bytes())
    (tmp_path / "r.cc").write_text('#include "op_resolver.h"\n'
                                   "int setup_ops() { static ModelOpResolver r; "
                                   "return RegisterModelOps(r); }\n")
    proc = subprocess.run([exe, *flags, "-I", str(c_dir), "-I", str(STUB), "-c",
                           str(tmp_path / "r.cc"), "-o", str(tmp_path / "r.o")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
