"""The firmware compiles where it must: the core for the host and a Cortex-M4,
the TFLM runner against the upstream-API stub (tests/export/tflm_stub), and the
shared operator table stays generated from edgeml's targets."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fw_core import COMMON, ROOT

STUB = ROOT / "tests" / "export" / "tflm_stub"
M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os"]
STRICT = ["-Wall", "-Wextra", "-Werror"]


def arm_tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("EDGEML_REQUIRE_ARM_GCC") == "1":
            pytest.fail(f"EDGEML_REQUIRE_ARM_GCC=1 but {name} is not installed")
        pytest.skip(f"{name} not installed (apt-get install gcc-arm-none-eabi "
                    "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)")
    return exe


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_ops_header_is_generated_from_the_targets():
    from edgeml.export.firmware import bench_ops, render_ops_header
    from edgeml.export.op_resolver import RESOLVER_METHODS
    from edgeml.targets import list_targets, load_target

    assert (COMMON / "edgeml_ops.h").read_text() == render_ops_header(), \
        "regenerate firmware/common/edgeml_ops.h with render_ops_header()"
    ops = bench_ops()
    for name in list_targets():  # every operator a target accepts is registered
        assert set(load_target(name).ops) <= set(ops)
    text = (COMMON / "edgeml_ops.h").read_text()
    assert f"#define EDGEML_OP_COUNT {len(ops)}" in text
    for op in ops:
        assert f"X({RESOLVER_METHODS[op]})" in text


def test_host_library_builds_with_the_contract_command(tmp_path):
    # exactly the command the harness uses (PROTOCOL.md)
    run(["cc", "-shared", "-fPIC", "-O2", "-std=c99", *STRICT,
         *sorted(str(p) for p in COMMON.glob("*.c")), "-o", str(tmp_path / "libedgeml_dut.so")])
    syms = run(["nm", "-D", "--defined-only", str(tmp_path / "libedgeml_dut.so")]).stdout
    for name in ("edgeml_dut_size", "edgeml_dut_init", "edgeml_dut_boot", "edgeml_dut_feed",
                 "edgeml_dut_set_timer_kind", "edgeml_dut_load_model", "edgeml_crc32",
                 "edgeml_format_float3", "edgeml_no_runtime_runner"):
        assert f" {name}\n" in syms


def test_core_cross_compiles_for_cortex_m4(tmp_path):
    gcc = arm_tool("arm-none-eabi-gcc")
    objs = []
    for src in sorted(COMMON.glob("*.c")):
        obj = tmp_path / (src.stem + ".o")
        run([gcc, *M4, "-std=c99", *STRICT, "-pedantic", "-ffunction-sections", "-c", str(src),
             "-o", str(obj)])
        objs.append(str(obj))
    size = run([arm_tool("arm-none-eabi-size"), *objs]).stdout
    text = sum(int(line.split()[0]) for line in size.splitlines()[1:])
    assert 0 < text < 16 * 1024  # the protocol core stays small


@pytest.mark.parametrize("compiler", ["g++", "clang++", "arm-none-eabi-g++"])
def test_tflm_runner_compiles_against_the_upstream_api(tmp_path, compiler):
    exe = arm_tool(compiler) if compiler.startswith("arm") else shutil.which(compiler)
    if exe is None:
        pytest.skip(f"{compiler} not installed")
    flags = [*M4, "-fno-exceptions", "-fno-rtti"] if compiler.startswith("arm") else ["-O2"]
    for kernels in ("reference", "cmsis-nn"):
        run([exe, "-std=c++17", *STRICT, *flags, f"-I{STUB}", f"-I{COMMON}",
             f'-DEDGEML_KERNELS="{kernels}"', "-c", str(COMMON / "tflm_runner.cc"),
             "-o", str(tmp_path / "tflm_runner.o")])
    # it references the upstream symbols it uses, and nothing stub-only
    nm = run(["nm", "-C", "-u", str(tmp_path / "tflm_runner.o")]).stdout \
        if not compiler.startswith("arm") else ""
    for sym in ("tflite::MicroInterpreter::AllocateTensors()", "tflite::MicroInterpreter::Invoke()",
                "tflite::GetModel(void const*)"):
        assert not nm or sym in nm


def test_platformio_ini_is_generated_from_the_board_table():
    from edgeml.export.firmware import BOARDS, render_repo_platformio_ini
    from edgeml.targets import list_targets

    ini = ROOT / "firmware" / "ports" / "platformio" / "platformio.ini"
    assert ini.read_text() == render_repo_platformio_ini(), \
        "regenerate platformio.ini with render_repo_platformio_ini()"
    for name, board in BOARDS.items():
        assert name in list_targets()
        assert f"[env:{board.env}]" in ini.read_text()


def test_bench_app_and_ports_compile_for_cortex_m4(tmp_path):
    # the port-independent application every TFLM port links (edgeml_bench.cc),
    # against the upstream-API stub
    gxx = arm_tool("arm-none-eabi-g++")
    run([gxx, "-std=c++17", *STRICT, *M4, "-fno-exceptions", "-fno-rtti", f"-I{STUB}",
         f"-I{COMMON}", "-DEDGEML_ARENA_BYTES=65536", "-c", str(COMMON / "edgeml_bench.cc"),
         "-o", str(tmp_path / "bench.o")])
    sizes = run([arm_tool("arm-none-eabi-size"), "-A", str(tmp_path / "bench.o")]).stdout
    bss = next(int(line.split()[1]) for line in sizes.splitlines() if line.startswith(".bss"))
    assert bss >= 65536 + 64 * 1024 + 16 * 1024  # arena + default slot + input, static
