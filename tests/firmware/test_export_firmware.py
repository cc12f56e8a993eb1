"""`edgeml export --format firmware`: a PlatformIO project of the bench firmware that
boots with the exported model. Its sources compile (host and Cortex-M4, against
the upstream-API stub) and the core boots with the baked model and runs it in the
real TFLM interpreter."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from fw_core import ROOT, VirtualDut, build_core, replies
from test_build import M4, STRICT, STUB, arm_tool, run

pytestmark = pytest.mark.slow  # uses the trained digits model


@pytest.fixture(scope="module")
def tflite_file(tmp_path_factory, digits_int8):
    p = tmp_path_factory.mktemp("m") / "digits.tflite"
    p.write_bytes(digits_int8)
    return p


@pytest.fixture(scope="module")
def project(tmp_path_factory, tflite_file):
    from edgeml.export import export_model, load_artifact

    art = load_artifact(tflite_file, target="esp32s3")
    res = export_model(art, fmt="firmware", out=tmp_path_factory.mktemp("out"))
    return art, res


def test_project_layout(project):
    from edgeml.export.firmware import BOARDS

    art, res = project
    root = res.root
    assert root.name == "edgeml_bench_esp32s3"
    for f in ("edgeml_dut.c", "edgeml_dut.h", "tflm_runner.cc", "edgeml_bench.cc", "edgeml_ops.h"):
        assert (root / "src" / f).read_bytes() == (ROOT / "firmware" / "common" / f).read_bytes()
    ini = (root / "platformio.ini").read_text()
    assert "[env:esp32s3]" in ini and "board = esp32-s3-devkitc-1" in ini
    assert "EDGEML_ARENA_BYTES" not in ini  # sizes live in edgeml_config.h
    cfg = (root / "src" / "edgeml_config.h").read_text()
    arena = int(cfg.split("#define EDGEML_ARENA_BYTES ")[1].split("u")[0])
    assert arena >= art.arena_bytes and arena >= BOARDS["esp32s3"].arena_kb * 1024
    assert '#define EDGEML_MODEL_HEADER "model_data.h"' in cfg
    assert "pio run -t upload" in (root / "README.md").read_text()


@pytest.mark.parametrize("compiler", ["g++", "arm-none-eabi-g++"])
def test_project_sources_compile_with_the_model_baked_in(project, tmp_path, compiler):
    _, res = project
    src = res.root / "src"
    arm = compiler.startswith("arm")
    exe = arm_tool(compiler) if arm else compiler
    flags = [*M4, "-fno-exceptions", "-fno-rtti"] if arm else ["-O2"]
    for f in ("edgeml_bench.cc", "model_data.cc", "tflm_runner.cc"):
        run([exe, "-std=c++17", *STRICT, *flags, f"-I{STUB}", f"-I{src}", "-c", str(src / f),
             "-o", str(tmp_path / (f + ".o"))])
    cc = arm_tool("arm-none-eabi-gcc") if arm else "cc"
    run([cc, "-std=c99", *STRICT, *(M4 if arm else []), "-c", str(src / "edgeml_dut.c"),
         "-o", str(tmp_path / "dut.o")])
    if not arm:
        undefined = run(["nm", "-C", "-u", str(tmp_path / "edgeml_bench.cc.o")]).stdout
        assert "g_model" in undefined  # the bench boots with the exported array
        assert "edgeml_dut_load_model" in undefined


def test_board_boots_with_the_baked_model(project, tmp_path, digits):
    import ctypes

    from test_tflm_runner import TflmPyRunner, runtime

    from edgeml.tflite.tflm import quantize_input

    art, res = project
    lib = build_core(tmp_path)
    dut = VirtualDut(lib, TflmPyRunner(64 * 1024))
    model = ctypes.create_string_buffer(art.model, len(art.model))
    assert dut.lib.edgeml_dut_load_model(dut.dut, model, ctypes.c_size_t(len(art.model))) == 0
    assert dut.boot()[-1] == "m-ready"
    assert dut.send("profile%")[1] == f"m-model-[edgeml-{dut.crc32(art.model):08x}]"
    host = runtime.Interpreter.from_bytes(art.model, arena_size=64 * 1024)
    qp = host.get_input_details(0)["quantization_parameters"]
    x = quantize_input(digits.x_test[:1], float(qp["scales"][0]),
                       int(qp["zero_points"][0]))[0].astype(np.int8)
    data = x.tobytes()
    dut.send(f"db load {len(data)}%")
    from fw_core import db_lines

    assert replies(dut.send(db_lines(data)))[-1] == ["m-load-done", "m-ready"]
    reply = dut.send("infer 1 0%")
    host.set_input(x.reshape(host.get_input_details(0)["shape"]), 0)
    host.invoke()
    od = host.get_output_details(0)["quantization_parameters"]
    want = [float(np.float32(np.int32(v) - np.int32(od["zero_points"][0])) *
                  np.float32(od["scales"][0])) for v in host.get_output(0).reshape(-1)]
    assert reply[6] == "m-results-[" + ",".join(f"{v:.3f}" for v in want) + "]"


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "edgeml", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_cli_export_firmware(tflite_file, tmp_path):
    proc = _cli("export", str(tflite_file), "--format", "firmware", "--board", "nrf52840",
                "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "edgeml_bench_nrf52840" / "platformio.ini").is_file()
    for args, msg in ((("--board", "ethos_u55"), "no bench-firmware board for target "
                       "'ethos_u55'"),
                      (("--board", "esp32", "--target", "esp32s3"), "disagree")):
        proc = _cli("export", str(tflite_file), "--format", "firmware", *args,
                    "--out", str(tmp_path / "p"), cwd=tmp_path)
        assert proc.returncode == 2
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and msg in lines[0], proc.stderr
        assert not (tmp_path / "p").exists()  # nothing written


def test_firmware_dir_finds_the_sources():
    from edgeml.export.firmware import firmware_dir

    assert firmware_dir() == ROOT / "firmware"
