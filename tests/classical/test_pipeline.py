"""The classical stage in a run: --models tree trains no network; the run's edgeml_predict
C predicts the same classes as Python on the whole test split."""

from __future__ import annotations

import json

import numpy as np
import pytest
from chost import run_c

pytestmark = pytest.mark.slow  # trains small scikit-learn models


def test_models_tree_trains_no_network(tmp_path, capsys):
    from edgeml.cli import main

    out = tmp_path / "run"
    assert main(["search", "--target", "esp32", "--models", "tree", "--trials", "3",
                 "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    trials = report["trials"]
    assert trials and all(t.get("family") in ("tree", "ensemble") for t in trials)
    assert not (out / "trials").exists() and not list(out.rglob("*.tflite"))
    assert not list(out.rglob("*.keras"))
    assert report["search"]["models"] == ["tree"]
    assert "decision tree" in report["decision"] or \
        "ensemble" in report["decision"].lower()
    assert (out / "edgeml_predict.h").exists() and (out / "edgeml_classical.c").exists()
    assert "Why:" in (out / "report.md").read_text()
    printed = capsys.readouterr().out
    assert "why" in printed
    # every C export format carries edgeml_predict; there is no single .tflite to export
    for fmt in ("c", "esp-idf", "arduino", "zephyr"):
        assert main(["export", str(out), "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
        found = {p.name for p in (tmp_path / fmt).rglob("*")}
        assert {"edgeml_predict.h", "edgeml_classical.c"} <= found, (fmt, found)
        assert not any(n.endswith((".tflite", "_data.cc", "op_resolver.h")) for n in found)
    kconfig = next((tmp_path / "zephyr").rglob("Kconfig")).read_text()
    assert "edgeml_predict" in kconfig and "TENSORFLOW_LITE_MICRO=y" not in kconfig
    cmake = (tmp_path / "esp-idf" / "edgeml_model" / "CMakeLists.txt").read_text()
    assert '"edgeml_classical.c"' in cmake
    assert main(["export", str(out), "--format", "tflite", "--out", str(tmp_path / "t")]) == 2


def test_run_c_predicts_like_python(tmp_path):
    from edgeml.classical.model import CModel
    from edgeml.classical.search import flat
    from edgeml.data import load_dataset
    from edgeml.pipeline import SearchConfig, run_search

    out = tmp_path / "run"
    result = run_search(SearchConfig(target="nrf52840", models="tree,linear,nb", trials=4,
                                     out=str(out), ensemble_min_gain=0.0))
    chosen = result.report["chosen"]
    members = chosen["members"]
    assert members and abs(sum(m["weight"] for m in members) - 1.0) < 1e-6
    ds = load_dataset(None, seed=0)
    x = flat(ds.x_test)
    trials = {t["trial_id"]: t for t in result.report["trials"]}
    proba = sum(m["weight"] * CModel.load(trials[m["trial_id"]]["cmodel"]).predict_proba(x)
                for m in members)
    expected = np.argmax(proba, axis=1)
    assert chosen["int8_test_accuracy"] == pytest.approx(float(np.mean(expected == ds.y_test)))
    sources = {n: (out / n).read_text() for n in ("edgeml_predict.h", "edgeml_classical.c")}
    classes, scores = run_c(tmp_path, sources, "edgeml_predict", x, ds.num_classes)
    assert len(classes) == len(ds.y_test)
    np.testing.assert_array_equal(classes, expected)
    np.testing.assert_allclose(scores, proba, atol=1e-4)


@pytest.mark.parametrize("with_classical", [True, False])
def test_network_members_compile_against_the_tflm_stub(tmp_path, digits, digits_int8,
                                                       with_classical):
    import subprocess

    from edgeml.classical import build_estimator, to_cmodel
    from edgeml.classical.search import flat
    from edgeml.export import ModelArtifact
    from edgeml.export.predict import PredictMember, render_predict
    from edgeml.targets import load_target

    stub = __import__("pathlib").Path(__file__).resolve().parents[1] / "export" / "tflm_stub"
    art = ModelArtifact.from_model(digits_int8, load_target("esp32"), dataset=digits.summary())
    members = [PredictMember("3", 0.6, artifact=art)]
    if with_classical:
        est = build_estimator({"family": "linear", "linear_kind": "logistic", "linear_c": 1.0},
                              seed=0).fit(flat(digits.x_train), digits.y_train)
        members.append(PredictMember("c002", 0.4, cmodel=to_cmodel(
            est, family="linear", n_classes=digits.num_classes)))
    files = render_predict(members, n_features=64, n_classes=digits.num_classes)
    assert "edgeml_predict.cc" in files and ("edgeml_classical.c" in files) == with_classical
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    objs = []
    for name in files:
        if name.endswith((".c", ".cc")):
            compiler = ["gcc", "-std=c99"] if name.endswith(".c") else ["g++", "-std=c++11"]
            obj = tmp_path / f"{name}.o"
            proc = subprocess.run([*compiler, "-Wall", "-Werror", "-I", str(tmp_path), "-I",
                                   str(stub), "-c", str(tmp_path / name), "-o", str(obj)],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            objs.append(str(obj))
    # the stub declares TFLM's API without defining it: check the symbols instead of linking
    defined: dict[str, list[str]] = {}
    undefined: set[str] = set()
    for obj in objs:
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "T":
                defined.setdefault(parts[2], []).append(obj)
            elif len(parts) == 2 and parts[0] == "U":
                undefined.add(parts[1])
    assert len(defined.get("edgeml_predict", [])) == 1  # one C entry point, extern "C"
    if with_classical:  # the C++ glue calls the classical member defined in the C file
        assert "edgeml_c002_predict" in undefined and "edgeml_c002_predict" in defined
    assert any("MicroInterpreter" in u and "Invoke" in u for u in undefined)
