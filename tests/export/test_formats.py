"""Every export format: the files a firmware project needs, compilable, written atomically,
never over a user's files without --force."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from export_cc import STUB, gxx

from edgeml.errors import ExportError

PACKAGE_FILES = {
    "esp-idf": {"CMakeLists.txt", "idf_component.yml", "model_data.cc", "model_data.h",
                "op_resolver.h"},
    "arduino": {"library.properties", "src/edgeml_model.h", "src/model_data.cpp",
                "src/model_data.h", "src/op_resolver.h"},
    "zephyr": {"zephyr/module.yml", "CMakeLists.txt", "Kconfig", "model_data.cc", "model_data.h",
               "op_resolver.h"},
}


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _compile_package(src_dir: Path, sources: list[Path], tmp: Path) -> None:
    main = tmp / "main.cc"
    main.write_text('#include "model_data.h"\n#include "op_resolver.h"\n'
                    "int main() { static ModelOpResolver r; return RegisterModelOps(r) || "
                    "g_model_len == 0; }\n")
    exe = tmp / "fw"
    gxx("-x", "c++", "-I", str(src_dir), "-I", str(STUB), str(main), *map(str, sources),
        "-o", str(exe))
    assert subprocess.run([str(exe)]).returncode == 0


def test_tflite_format_is_the_model(artifact, digits_tflite, tmp_path):
    from edgeml.export import export_model

    res = export_model(artifact, fmt="tflite", out=tmp_path, name="kws")
    assert res.files == (tmp_path / "kws.tflite",)
    assert (tmp_path / "kws.tflite").read_bytes() == digits_tflite.read_bytes()


def test_esp_idf_component(artifact, tmp_path):
    from edgeml.export import export_model

    res = export_model(artifact, fmt="esp-idf", out=tmp_path / "components")
    root = tmp_path / "components" / "edgeml_model"
    assert res.root == root and _files(root) == PACKAGE_FILES["esp-idf"]
    cmake = (root / "CMakeLists.txt").read_text()
    assert 'idf_component_register(SRCS "model_data.cc"' in cmake and 'INCLUDE_DIRS "."' in cmake
    _compile_package(root, [root / "model_data.cc"], tmp_path)
    yaml = pytest.importorskip("yaml")  # PyYAML comes with tflite-micro
    manifest = yaml.safe_load((root / "idf_component.yml").read_text())
    assert manifest["dependencies"]["espressif/esp-tflite-micro"].startswith("^1.")
    assert "idf" in manifest["dependencies"] and manifest["version"]


def test_arduino_library(artifact, tmp_path):
    from edgeml.export import export_model

    export_model(artifact, fmt="arduino", out=tmp_path / "lib")
    root = tmp_path / "lib" / "edgeml_model"
    assert _files(root) == PACKAGE_FILES["arduino"]
    props = dict(line.split("=", 1) for line in (root / "library.properties").read_text()
                 .splitlines() if "=" in line)
    assert props["name"] == "edgeml_model" and props["includes"] == "edgeml_model.h"
    for key in ("version", "author", "maintainer", "sentence", "paragraph", "category",
                "architectures"):
        assert props[key], key
    umbrella = (root / "src" / "edgeml_model.h").read_text()
    assert '#include "model_data.h"' in umbrella and '#include "op_resolver.h"' in umbrella
    _compile_package(root / "src", [root / "src" / "model_data.cpp"], tmp_path)


def test_zephyr_module(artifact, tmp_path):
    from edgeml.export import export_model

    export_model(artifact, fmt="zephyr", out=tmp_path / "modules", name="kws")
    root = tmp_path / "modules" / "edgeml_kws"
    assert "kws_data.cc" in _files(root) and "kws_op_resolver.h" in _files(root)
    assert "config EDGEML_KWS\n" in (root / "Kconfig").read_text()
    cmake = (root / "CMakeLists.txt").read_text()
    assert "if(CONFIG_EDGEML_KWS)" in cmake and "zephyr_library_sources(kws_data.cc)" in cmake
    main = tmp_path / "main.cc"
    main.write_text('#include "kws_data.h"\n#include "kws_op_resolver.h"\n'
                    "int main() { static KwsOpResolver r; return RegisterKwsOps(r); }\n")
    gxx("-I", str(root), "-I", str(STUB), str(main), str(root / "kws_data.cc"),
        "-o", str(tmp_path / "z"))
    yaml = pytest.importorskip("yaml")  # PyYAML comes with tflite-micro
    module = yaml.safe_load((root / "zephyr" / "module.yml").read_text())
    assert module == {"name": "edgeml_kws", "build": {"cmake": ".", "kconfig": "Kconfig"}}


def test_existing_files_are_kept_without_force(artifact, tmp_path):
    from edgeml.export import export_model

    main_dir = tmp_path / "firmware" / "main"
    main_dir.mkdir(parents=True)
    (main_dir / "main.cc").write_text("user code")
    (main_dir / "model_data.h").write_text("the user's own header")
    with pytest.raises(ExportError, match=r"model_data.h already exists.*--force"):
        export_model(artifact, fmt="c", out=main_dir)
    assert (main_dir / "model_data.h").read_text() == "the user's own header"
    assert sorted(p.name for p in main_dir.iterdir()) == ["main.cc", "model_data.h"]

    export_model(artifact, fmt="c", out=main_dir, force=True)
    assert (main_dir / "model_data.h").read_text().startswith("// Generated by edgeml")
    assert (main_dir / "main.cc").read_text() == "user code"
    assert not list(main_dir.glob(".edgeml-export-*"))

    # a package folder: refused while it holds our files, user files survive --force
    export_model(artifact, fmt="esp-idf", out=tmp_path / "components")
    extra = tmp_path / "components" / "edgeml_model" / "notes.txt"
    extra.write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        export_model(artifact, fmt="esp-idf", out=tmp_path / "components")
    export_model(artifact, fmt="esp-idf", out=tmp_path / "components", force=True)
    assert extra.read_text() == "mine"
    assert not list((tmp_path / "components").glob(".edgeml-export-*"))


def test_failed_write_leaves_nothing(artifact, tmp_path, monkeypatch):
    """The files appear together or not at all: a failure while writing the temporary
    copy leaves no package and no temporary folder."""
    import os

    from edgeml.export import export_model

    real_fsync = os.fsync
    calls = {"n": 0}

    def flaky_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", flaky_fsync)
    with pytest.raises(OSError):
        export_model(artifact, fmt="zephyr", out=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_bad_names_and_formats(artifact, tmp_path):
    from edgeml.export import export_model

    for bad in ("1model", "my-model", "class", "", "int"):
        with pytest.raises(ExportError, match="not a valid C identifier"):
            export_model(artifact, fmt="c", out=tmp_path, name=bad)
    with pytest.raises(ExportError, match="unknown export format 'cmsis'"):
        export_model(artifact, fmt="cmsis", out=tmp_path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        export_model(artifact, fmt="c", out=tmp_path / "afile")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
