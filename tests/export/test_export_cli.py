"""`edgeml export` as a user runs it: bad input gives one line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "edgeml"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _one_line_error(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("edgeml: error: "), proc.stderr
    assert message in lines[0], lines[0]


@pytest.fixture(scope="module")
def float_tflite(tmp_path_factory, digits_model) -> Path:
    from edgeml._tf import tf

    path = tmp_path_factory.mktemp("float") / "float.tflite"
    path.write_bytes(tf().lite.TFLiteConverter.from_keras_model(digits_model).convert())
    return path


def test_bad_input_is_one_line_exit_2(tmp_path, digits_tflite, float_tflite, capfd,
                                      monkeypatch):
    from edgeml.cli import main

    monkeypatch.chdir(tmp_path)
    model = digits_tflite.read_bytes()
    (tmp_path / "cut.tflite").write_bytes(model[: len(model) // 3])
    (tmp_path / "text.tflite").write_bytes(b"not a model at all")
    cases = [
        (["cut.tflite", "--target", "esp32"], "truncated or corrupted"),
        (["text.tflite", "--target", "esp32"], "not a TensorFlow Lite flatbuffer"),
        ([str(float_tflite), "--target", "esp32"], "is not a fully int8 model (float32"),
        ([str(digits_tflite), "--target", "esp32", "--format", "cmsis"],
         "unknown export format 'cmsis'"),
        ([str(digits_tflite), "--target", "esp32", "--name", "2fast"],
         "--name '2fast' is not a valid C identifier"),
        ([str(digits_tflite)], "needs --target"),
        (["missing.tflite", "--target", "esp32"], "missing.tflite does not exist"),
        ([str(digits_tflite), "--target", "esp99"], "unknown target 'esp99'"),
    ]
    for args, message in cases:
        code = main(["export", *args, "--out", "out"])
        err = capfd.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1, (args, err)
        assert lines[0].startswith("edgeml: error: ") and message in lines[0], lines[0]
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # and the same through a real process
    _one_line_error(run("export", "cut.tflite", "--target", "esp32", "--out", "out",
                        cwd=tmp_path), "truncated or corrupted")


def test_export_tflite_for_a_target(tmp_path, digits_tflite):
    proc = run("export", str(digits_tflite), "--target", "nrf52840", "--format", "arduino",
               "--out", "lib", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    root = tmp_path / "lib" / "edgeml_model"
    assert Path(res["root"]) == Path("lib/edgeml_model") and (root / "library.properties").is_file()
    assert res["ops"] and res["arena_bytes_measured"] > 0
    header = (root / "src" / "model_data.h").read_text()
    assert f"kTensorArenaMeasured = {res['arena_bytes_measured']};" in header

    # a second export refuses to overwrite, --force does
    _one_line_error(run("export", str(digits_tflite), "--target", "nrf52840", "--format",
                        "arduino", "--out", "lib", cwd=tmp_path), "already exists")
    proc = run("export", str(digits_tflite), "--target", "nrf52840", "--format", "arduino",
               "--out", "lib", "--force", cwd=tmp_path)
    assert proc.returncode == 0 and "edgeml_model" in proc.stdout
