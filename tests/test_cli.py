"""The edgeml command line as a user runs it: a subprocess, exit codes, files on disk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CLI = [sys.executable, "-m", "edgeml"]


def run(*args: str, cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def test_help_and_targets_do_not_load_tensorflow():
    code = ("import sys\nfrom edgeml.cli import main\n"
            "main(['targets']); main(['targets', 'show', 'esp32'])\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
            "assert 'keras_tuner' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "esp32" in proc.stdout and "stm32l4r5" in proc.stdout


def test_targets_json():
    proc = run("targets", "--json")
    assert proc.returncode == 0
    names = {t["name"] for t in json.loads(proc.stdout)}
    assert {"esp32", "nrf52840", "rp2040"} <= names


@pytest.mark.parametrize("args, message", [
    (["search", "--target", "esp99"], "unknown target 'esp99'; known targets: esp32"),
    (["search", "--data", "nope.csv"], "data file 'nope.csv' does not exist"),
    (["search", "--trials", "0"], "--trials must be at least 1"),
    (["search", "--max-ram-kb", "-5"], "--max-ram-kb must be more than 0 KB (got -5 KB)"),
    (["targets", "show", "esp99"], "unknown target 'esp99'"),
])
def test_user_errors_are_one_line_exit_2_and_leave_no_run_dir(tmp_path, args, message):
    proc = run(*args, "--out" if args[0] == "search" else "", str(tmp_path / "run")
               if args[0] == "search" else "", cwd=tmp_path) if args[0] == "search" else run(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("edgeml: error: ") and message in lines[-1]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "edgeml-runs").exists()


def test_bad_data_files_through_the_cli(tmp_path):
    cases = {
        "nan.csv": ("a,b,label\n1,2,0\n,4,1\n1,2,0\n3,4,1\n", "NaN or inf"),
        "onecls.csv": ("a,b,label\n1,2,0\n3,4,0\n1,2,0\n", "single class"),
        "text.csv": ("a,b,label\n1,x,0\n3,4,1\n", "not numeric"),
        "nolabel.csv": ("a,b\n1,2\n3,4\n", "no label column 'label'"),
        "empty.csv": ("", "is empty"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        proc = run("search", "--data", name, "--out", "out", cwd=tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(tmp_path):
    proc = run("--debug", "search", "--target", "esp99", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_every_limit_has_one_option_and_library_words_become_options():
    from dataclasses import fields

    from edgeml.cli._common import LIMIT_OPTIONS, in_cli_words
    from edgeml.estimate import Limits

    assert set(LIMIT_OPTIONS) == {f.name for f in fields(Limits)}
    assert in_cli_words("limit is 1.0 KB (max_arena_bytes, 2 candidates checked); raise "
                        "max_arena_bytes") == ("limit is 1.0 KB (--max-ram-kb, 2 candidates "
                                               "checked); raise --max-ram-kb")


def test_defaults_are_the_config_objects_own():
    """The command line leaves unset options to SearchConfig / CompressOptions."""
    from edgeml.cli import build_parser
    from edgeml.cli.search import search_defaults
    from edgeml.compress.chain import CompressOptions
    from edgeml.pipeline import SearchConfig

    cfg = SearchConfig()
    assert search_defaults() == {
        "target": cfg.target, "label": cfg.label, "trials": cfg.trials, "epochs": cfg.epochs,
        "seed": cfg.seed, "strategy": cfg.strategy, "objective": cfg.objective,
        "accuracy_tolerance": cfg.tolerance, "max_int8_drop": cfg.max_int8_drop,
        "models": cfg.models, "ensemble": cfg.ensemble,
        "ensemble_min_gain": cfg.ensemble_min_gain, "device": cfg.device, "refit": cfg.refit,
        "warm_start": cfg.warm_start, "proposals": cfg.proposals, "promote": cfg.promote}
    assert cfg.max_int8_drop == CompressOptions().max_int8_drop
    parser = build_parser()
    search = vars(parser.parse_args(["search"]))
    assert all(search[k] is None for k in search_defaults())
    compress = parser.parse_args(["compress", "run"])
    assert compress.max_int8_drop is None and compress.epochs is None
    text = parser._subparsers._group_actions[0].choices["search"].format_help()
    assert f"[default: {cfg.trials}]" in text and f"[default: {cfg.epochs}]" in text


@pytest.mark.slow
def test_search_end_to_end_writes_a_deployable_model(tmp_path):
    """A tiny real search on digits: every artifact exists, runs in TFLM and compiles."""
    out = tmp_path / "run"
    proc = run("search", "--models", "nn", "--no-ensemble", "--target", "esp32", "--trials", "2", "--epochs", "8",
               "--seed", "1",
               "--max-ram-kb", "64", "--max-flash-kb", "64", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "int8 accuracy" in proc.stdout and str(out) in proc.stdout
    for name in ("model.tflite", "model_data.cc", "model_data.h", "report.json", "report.md"):
        assert (out / name).is_file(), name

    model = (out / "model.tflite").read_bytes()
    report = json.loads((out / "report.json").read_text())
    chosen = report["chosen"]
    assert report["target"]["name"] == "esp32" and report["dataset"]["name"] == "digits"
    assert report["limits"] == {"max_arena_bytes": 64 * 1024, "max_model_bytes": 64 * 1024}
    trained = [t for t in report["trials"] if t["status"] == "trained"]
    assert len(trained) == 2
    for t in trained:
        assert {"hyperparameters", "estimate", "violations", "float_val_accuracy",
                "int8_val_accuracy", "feasible"} <= set(t)
    assert chosen["estimate"]["arena_bytes"] <= 64 * 1024
    assert chosen["estimate"]["model_bytes"] == len(model) <= 64 * 1024
    assert chosen["int8_test_accuracy"] > 0.5

    # The model is fully int8 and runs in the real TFLM interpreter.
    from edgeml.data import load_dataset
    from edgeml.tflite.graph import read_graph
    from edgeml.tflite.tflm import run_tflm

    graph = read_graph(model)
    assert graph.is_int8
    ds = load_dataset("digits", seed=1)
    inp = graph.input()
    q = np.clip(np.round(ds.x_test / inp.scale) + inp.zero_point, -128, 127).astype(np.int8)
    res = run_tflm(model, q)
    acc = float(np.mean(res.outputs.argmax(axis=1) == ds.y_test))
    assert abs(acc - chosen["int8_test_accuracy"]) < 1e-9

    # The C array holds exactly the .tflite bytes, and the C++ compiles.
    src = (out / "model_data.cc").read_text()
    body = src.split("g_model[] = {", 1)[1].split("};", 1)[0]
    assert bytes(int(tok, 16) for tok in body.replace("\n", " ").split(",") if tok.strip()) == model
    assert f"const unsigned int g_model_len = {len(model)};" in src
    header = (out / "model_data.h").read_text()
    import re

    measured = int(re.search(r"kTensorArenaMeasured = (\d+);", header).group(1))
    arena = int(re.search(r"kTensorArenaSize = (\d+);", header).group(1))
    assert measured == chosen["estimate"]["arena_bytes"] <= arena
    assert "alignas(16) const unsigned char g_model[]" in src
    obj = tmp_path / "model_data.o"
    cc = subprocess.run(["g++", "-std=c++11", "-Wall", "-Werror", "-c", str(out / "model_data.cc"),
                         "-o", str(obj)], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    assert "| trial |" in (out / "report.md").read_text()
