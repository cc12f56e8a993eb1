"""--device cpu|gpu|auto, the gpu extra, and mixed-precision training (run on the CPU here).

No GPU is attached where these tests run: the GPU path is tested through the logic it
shares with the CPU path (resolution, the workers' environment, the mixed-precision
training and its float32/int8 results); benchmarks/gpu_throughput.py is the check to run
on a GPU machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeml.errors import EdgeMLError
from edgeml.search import device as dev

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(dev, "_seen", {})
    monkeypatch.delenv(dev.MIXED_ENV, raising=False)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", dev.MIXED_ENV)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


# --------------------------------------------------------------------------- resolution
def test_no_gpu_is_known_without_importing_tensorflow(tmp_path):
    code = ("import sys; from edgeml.search.device import resolve_device, visible_gpus; "
            f"print(visible_gpus(dev={str(tmp_path)!r})); "
            "print(resolve_device('cpu').device); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out == [str((0, f"no NVIDIA device in {tmp_path}")), "cpu", "False"]


def test_auto_is_the_cpu_and_gpu_is_one_line_when_tensorflow_sees_none(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    plan = dev.resolve_device("auto")
    assert (plan.device, plan.gpus, plan.mixed_precision) == ("cpu", 0, False)
    assert plan.why == "CUDA_VISIBLE_DEVICES='-1' hides them"
    assert plan.as_dict() == {"requested": "auto", "device": "cpu", "gpus": 0,
                              "mixed_precision": False, "no_gpu": plan.why}
    assert dev.resolve_device("CPU").requested == "cpu"
    with pytest.raises(EdgeMLError) as err:
        dev.resolve_device("gpu")
    assert err.value.message == ("--device gpu: TensorFlow sees no GPU (CUDA_VISIBLE_DEVICES="
                                 "'-1' hides them)")
    assert "edgeml[gpu]" in err.value.hint and "--device cpu" in err.value.hint
    with pytest.raises(EdgeMLError, match="unknown device 'tpu'"):
        dev.resolve_device("tpu")


def test_device_files_without_a_usable_gpu_ask_tensorflow(tmp_path, monkeypatch):
    """NVIDIA device files are there (here: fake ones), so TensorFlow itself is asked."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    (tmp_path / "nvidia0").touch()
    count, why = dev.visible_gpus(dev=tmp_path)
    from edgeml._tf import tf

    real = len(tf().config.list_physical_devices("GPU"))
    assert count == real
    if not real:
        assert "TensorFlow" in why and "no NVIDIA device" not in why


def test_mixed_precision_is_for_the_gpu_unless_the_environment_says(monkeypatch):
    assert (dev.mixed_precision_default("cpu"), dev.mixed_precision_default("gpu:1")) == \
        (False, True)
    monkeypatch.setenv(dev.MIXED_ENV, "1")
    assert dev.mixed_precision_default("cpu") is True
    assert dev.resolve_device("cpu").mixed_precision is True
    monkeypatch.setenv(dev.MIXED_ENV, "off")
    assert dev.mixed_precision_default("gpu") is False
    monkeypatch.setenv(dev.MIXED_ENV, "maybe")
    with pytest.raises(EdgeMLError, match="EDGEML_MIXED_PRECISION='maybe' is neither 1 nor 0"):
        dev.mixed_precision_default("cpu")


def test_cli_device_gpu_without_a_gpu_exits_2_with_one_line_and_no_run_dir(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "edgeml", "search", "--device", "gpu",
                           "--out", str(out), "--trials", "1"], cwd=tmp_path,
                          env=_env(CUDA_VISIBLE_DEVICES="-1"), capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "edgeml: error: --device gpu: TensorFlow sees no GPU (CUDA_VISIBLE_DEVICES='-1'"), lines
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_api_search_device_gpu_fails_before_any_folder(tmp_path, monkeypatch):
    import edgeml

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(EdgeMLError, match="^--device gpu: TensorFlow sees no GPU"):
        edgeml.search(device="gpu", trials=1, verbose=0)
    with pytest.raises(EdgeMLError, match="^--device gpu"):
        edgeml.search(device="gpu", out=tmp_path / "run", trials=1, verbose=0)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- workers
def test_worker_environment_per_device(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    assert dev.worker_env("cpu") == {dev.DEVICE_ENV: "cpu", "CUDA_VISIBLE_DEVICES": "-1"}
    assert dev.worker_env("gpu") == {dev.DEVICE_ENV: "gpu"}      # all the GPUs it sees
    assert dev.worker_env("gpu:1") == {dev.DEVICE_ENV: "gpu:1", "CUDA_VISIBLE_DEVICES": "5"}
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert dev.worker_env("gpu:2")["CUDA_VISIBLE_DEVICES"] == "2"
    assert dev.device_label("cpu") == "cpu"


def test_a_cpu_worker_process_sees_no_gpu_even_on_a_gpu_machine(digits, monkeypatch):
    """The search process's environment offers GPU 0; the CPU worker is started without."""
    from edgeml.search import build_space
    from edgeml.search.worker import TrialContext, WorkerRunner
    from edgeml.targets import load_target

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    space = build_space(digits.kind, digits.input_shape, digits.num_classes)
    ctx = TrialContext(space=space, x_train=digits.x_train[:10], y_train=digits.y_train[:10],
                       x_val=digits.x_val[:10], y_val=digits.y_val[:10], calib=digits.x_train[:5],
                       targets=(load_target("esp32"),), seed=0, epochs=1, patience=1,
                       device="cpu")
    runner = WorkerRunner(ctx)
    try:
        assert runner.proc is not None
        raw = Path(f"/proc/{runner.proc.pid}/environ").read_bytes()
    finally:
        runner.close(kill=True)
    env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    assert env["CUDA_VISIBLE_DEVICES"] == "-1" and env[dev.DEVICE_ENV] == "cpu"


# --------------------------------------------------------------------------- the gpu extra
def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_gpu_extra_is_tensorflow_cuda_at_the_projects_tensorflow_range():
    from packaging.requirements import Requirement

    project = _pyproject()["project"]
    tf = next(Requirement(r) for r in project["dependencies"]
              if Requirement(r).name == "tensorflow")
    gpu = [Requirement(r) for r in project["optional-dependencies"]["gpu"]]
    assert [(r.name, r.extras, r.specifier) for r in gpu] == \
        [("tensorflow", {"and-cuda"}, tf.specifier)]


def test_the_installed_tensorflow_and_edgeml_declare_the_extras():
    from importlib import metadata

    from packaging.requirements import Requirement

    assert "and-cuda" in (metadata.metadata("tensorflow").get_all("Provides-Extra") or [])
    try:
        requires = metadata.requires("edgeml") or []
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        pytest.skip("edgeml is not installed (pip install -e .)")
    gpu = [Requirement(r) for r in requires
           if Requirement(r).marker and Requirement(r).marker.evaluate({"extra": "gpu"})
           and not Requirement(r).marker.evaluate({"extra": ""})]
    assert [(r.name, r.extras) for r in gpu] == [("tensorflow", {"and-cuda"})]


# --------------------------------------------------------------------------- records
def test_trial_records_and_the_report_carry_the_device():
    from edgeml.export.report import device_summary, render_markdown
    from edgeml.records import Trial, TrialStatus

    t = Trial(trial_id="3", status=TrialStatus.TRAINED, device="gpu:0")
    assert t.to_json()["device"] == "gpu:0" and Trial.from_json(t.to_json()).device == "gpu:0"
    assert "device" not in Trial(trial_id="4", status=TrialStatus.INFEASIBLE).to_json()
    plan = {"requested": "auto", "device": "gpu", "gpus": 1, "mixed_precision": True,
            "trials": {"gpu:0": 1, "cpu": 1}}
    assert device_summary(plan) == ("gpu (--device auto, 1 GPU visible, mixed precision "
                                    "training); trained trials: gpu:0 1, cpu 1")
    report = json.loads((ROOT / "tests" / "search" / "old_run_a140fde" / "trials" /
                         "trial_0000.json").read_text())
    md = render_markdown({
        "target": {"name": "esp32", "description": "d", "clock_mhz": 240, "core": "xtensa",
                   "runtime": "tflm", "model_flash_budget_kb": 1, "arena_budget_kb": 1},
        "dataset": {"name": "digits", "kind": "image", "input_shape": [8, 8, 1],
                    "classes": list(range(10)), "train": 1, "val": 1, "test": 1},
        "limits": {}, "search": {"strategy": "random", "trained": 1, "rejected": 0, "seed": 0,
                                 "device": plan},
        "trials": [{**report, "device": "gpu:0"}, t.to_json()]})
    assert "- Training device: gpu (--device auto, 1 GPU visible" in md
    assert f"| {report['trial_id']} | trained | gpu:0 |" in md and "| 3 | trained | gpu:0 |" in md
    from edgeml.api.results import trials_frame

    frame = trials_frame({"trials": [{**report, "device": "cpu"}, t.to_json()]})
    assert frame["device"].to_dict() == {report["trial_id"]: "cpu", "3": "gpu:0"}
    assert "device" in trials_frame({"trials": []}).columns


# --------------------------------------------------------------------------- training
@pytest.mark.slow
def test_mixed_precision_trains_in_float16_and_saves_float32_and_int8(digits, tmp_path,
                                                                      fit_counter):
    """EDGEML_MIXED_PRECISION=1 on the CPU: the model fit sees is mixed_float16 with float32
    outputs; model.keras is float32, model.tflite int8 and TFLM-evaluable, and the accuracy
    is that of the same training in float32."""
    import keras_tuner as kt
    import numpy as np

    from edgeml._tf import keras
    from edgeml.estimate import read_graph
    from edgeml.search import build_space
    from edgeml.search.worker import TrialContext, train_trial
    from edgeml.targets import load_target
    from edgeml.tflite.int8 import evaluate_int8, representative_sample

    space = build_space(digits.kind, digits.input_shape, digits.num_classes)
    hp = kt.HyperParameters()
    hp.values.update({"arch": "conv", "width": 1.0, "depth": 2, "head": "flatten", "lr": 1e-2})
    results = {}
    seen = {}
    for mixed in (True, False):
        ctx = TrialContext(space=space, x_train=digits.x_train, y_train=digits.y_train,
                           x_val=digits.x_val, y_val=digits.y_val,
                           calib=representative_sample(digits.x_train, n=50, seed=0),
                           targets=(load_target("esp32"),), seed=0, epochs=3, patience=5,
                           device="cpu", mixed_precision=mixed)
        with fit_counter(lambda m: {"policy": m.dtype_policy.name,
                                    "outputs": m.outputs[0].dtype.name}) as fits:
            results[mixed] = train_trial(ctx, hp.get_config(), 3, parent_keras=None,
                                         parent_id=None, folder=str(tmp_path / str(mixed)))
        seen[mixed] = [(f["policy"], f["outputs"]) for f in fits]
    assert seen == {True: [("mixed_float16", "float32")], False: [("float32", "float32")]}
    res = results[True]
    assert res.mixed_precision and res.device == "cpu"
    assert keras().mixed_precision.global_policy().name == "float32"  # restored

    saved = keras().models.load_model(tmp_path / "True" / "model.keras")
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    assert {w.dtype for w in saved.get_weights()} == {np.dtype("float32")}
    assert float(saved.evaluate(digits.x_val, digits.y_val, verbose=0)[-1]) == \
        pytest.approx(res.float_val_accuracy)
    graph = read_graph(res.model_bytes)
    io = [graph.tensors[i] for i in (*graph.inputs, *graph.outputs)]
    assert {t.dtype for t in io} == {"int8"}, io
    int8 = evaluate_int8(res.model_bytes, digits.x_val, digits.y_val)
    assert int8.accuracy > 0.8 and abs(int8.accuracy - res.float_val_accuracy) < 0.05
    assert abs(res.float_val_accuracy - results[False].float_val_accuracy) < 0.05


@pytest.mark.slow
def test_a_search_records_its_device_and_resume_may_change_it(tmp_path, monkeypatch, capfd):
    """A run trained in mixed precision (forced on the CPU) through the trial worker, then
    resumed with another --device: each trial, run.json, report.md and --json say where."""
    from edgeml._tf import keras
    from edgeml.cli import main
    from edgeml.records import RunDir

    out = tmp_path / "run"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    monkeypatch.setenv(dev.MIXED_ENV, "1")
    assert main(["search", "--trials", "1", "--epochs", "1", "--models", "nn", "--seed", "1",
                 "--no-refit", "--device", "cpu", "--out", str(out), "--json"]) == 0
    first = json.loads(capfd.readouterr().out)
    assert first["device"] == {"requested": "cpu", "device": "cpu", "gpus": 0,
                               "mixed_precision": True, "trials": {"cpu": 1}}
    run = RunDir.open(out, finished=True)
    assert run.config()["device"] == "cpu"
    (trial,) = [t for t in run.trials().load().values() if t.trained]
    assert trial.device == "cpu"
    saved = keras().models.load_model(run.resolve(trial.keras))
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    md = (out / "report.md").read_text()
    assert "- Training device: cpu (--device cpu, mixed precision training); trained " \
           "trials: cpu 1" in md
    assert f"| {trial.trial_id} | trained | cpu |" in md

    # --device gpu on a machine without one: one line, exit 2, the run untouched
    assert main(["search", "--resume", str(out), "--trials", "2", "--device", "gpu"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err[-1].startswith("edgeml: error: --device gpu: TensorFlow sees no GPU"), err
    assert run.config()["device"] == "cpu" and run.finished

    monkeypatch.delenv(dev.MIXED_ENV)
    assert main(["search", "--resume", str(out), "--trials", "2", "--device", "auto",
                 "--json"]) == 0
    second = json.loads(capfd.readouterr().out)
    assert second["device"] == {"requested": "auto", "device": "cpu", "gpus": 0,
                                "mixed_precision": False, "trials": {"cpu": 2},
                                "no_gpu": "CUDA_VISIBLE_DEVICES='-1' hides them"}
    assert run.config()["device"] == "auto" and run.config()["trials"] == 2


def test_the_gpu_benchmark_marks_its_gpu_rows_where_there_is_none():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_throughput.py"),
                           "--devices", "gpu", "--json"], env=_env(CUDA_VISIBLE_DEVICES="-1"),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["rows"]
    assert [(r["device"], r["workers"], r["status"]) for r in rows] == \
        [("gpu", 1, "no GPU visible"), ("gpu", 4, "no GPU visible")]
