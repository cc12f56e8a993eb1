"""Real searches on digits: feasibility before training, early stop, seeds, custom spaces,
strategies, multi-target fit matrix, Pareto report."""

from __future__ import annotations

import json
import re

import pytest

from edgeml.pipeline import SearchConfig, run_search

pytestmark = pytest.mark.slow


def trained(records):
    return [r for r in records if r.get("status") == "trained"]


def test_infeasible_candidates_never_train(multi_run):
    rep = multi_run["result"].report
    records = rep["trials"]
    rejected = [r for r in records if r["status"] == "infeasible"]
    done = trained(records)
    assert len(done) == 2 and rejected, "the tight limits should reject some candidates"
    # one fit per trained trial, one for the chosen model's final retrain, and none for the
    # rejected ones ...
    assert len(multi_run["fits"]) == len(done) + 1
    refit = rep["chosen"]["refit"]  # checked on both targets, like a trial
    assert refit["samples"] == rep["dataset"]["train"] + rep["dataset"]["val"]
    assert refit["shipped"] == refit["feasible"]
    # ... and every model handed to fit() was within the 24 KB model limit already
    assert all(f["model_bytes"] <= 24 * 1024 for f in multi_run["fits"])
    for r in rejected:
        assert r["broken"] and "int8_val_accuracy" not in r and "tflite" not in r
        assert not r["feasible"] and any(not t["fits"] for t in r["targets"].values())
    for r in done:
        assert r["feasible"] and all(t["fits"] for t in r["targets"].values())
        assert r["targets"]["tiny"]["estimate"]["arena_bytes"] <= 3.5 * 1024
        assert r["estimate"]["model_bytes"] <= 24 * 1024
        assert 0 <= r["int8_val_accuracy"] <= 1 and "float_val_accuracy" in r
    # rejections name the target and the limit they broke
    assert any(b.startswith("tiny: ") for r in rejected for b in r["broken"]) or \
        any("(max_model_bytes)" in b for r in rejected for b in r["broken"])


def test_fit_matrix_pareto_and_objective(multi_run):
    from edgeml.records import Trial
    from edgeml.search.pareto import choose, pareto_front

    result = multi_run["result"]
    rep = result.report
    assert [t["name"] for t in rep["targets"]] == ["esp32", "tiny"]
    fm = rep["fit_matrix"]
    assert fm["targets"] == ["esp32", "tiny"]
    assert len(fm["rows"]) == sum(1 for r in rep["trials"] if r["status"] in ("trained",
                                                                              "infeasible"))
    assert any(not row["fits"]["tiny"] or not row["fits"]["esp32"] for row in fm["rows"])
    trials = [Trial.from_json(r) for r in rep["trials"]]
    front = {t.trial_id for t in pareto_front(trials)}
    assert set(rep["pareto"]) == front and front
    chosen = rep["chosen"]
    assert chosen["trial_id"] in front
    assert chosen["trial_id"] == choose(trials, "latency", 0.02).trial_id
    best_acc = max(r["int8_val_accuracy"] for r in trained(rep["trials"]) if r["feasible"])
    assert chosen["int8_val_accuracy"] >= best_acc - 0.02
    # latency and energy are the worst case over both targets
    for r in trained(rep["trials"]):
        assert r["costs"]["latency_ms"] == max(t["estimate"]["latency_ms"]
                                               for t in r["targets"].values())
    md = (result.run_dir / "report.md").read_text()
    assert "## Pareto front" in md and "## Fit matrix" in md and f"**{chosen['trial_id']}**" in md
    assert "| trial | status | int8 val acc | esp32 | tiny |" in md
    assert (result.run_dir / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((result.run_dir / "report.json").read_text())["pareto"] == rep["pareto"]
    # events drive the CLI's progress display
    kinds = [k for k, _ in multi_run["events"]]
    assert kinds.count("trained") == 2 and "start" in kinds and "epoch" in kinds


def test_resume_of_a_complete_run_prints_json_and_trains_nothing(multi_run, capfd, fit_counter):
    from edgeml.cli import main

    run_dir = multi_run["result"].run_dir
    with fit_counter() as fits:
        assert main(["search", "--resume", str(run_dir), "--json"]) == 0
    assert fits == []
    out = json.loads(capfd.readouterr().out)
    assert out["trial_id"] == multi_run["result"].report["chosen"]["trial_id"]
    assert out["targets"] == ["esp32", "tiny"] and out["objective"] == "latency"
    assert set(out["per_target"]) == {"esp32", "tiny"}
    assert main(["search", "--resume", str(run_dir), "--epochs", "3"]) == 2
    assert "--resume takes the run's settings" in capfd.readouterr().err


def test_impossible_budget_stops_early_without_training(tmp_path, capfd, fit_counter):
    from edgeml.cli import main

    out = tmp_path / "run"
    with fit_counter() as fits:
        code = main(["search", "--models", "nn", "--no-ensemble", "--trials", "5", "--epochs", "1", "--max-ram-kb", "1",
                     "--out", str(out), "--quiet"])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and fits == []
    assert re.fullmatch(r"edgeml: error: no candidate fits esp32: smallest candidate needs "
                        r"\d+\.\d KB RAM \(tensor arena\); limit is 1\.0 KB \(--max-ram-kb, "
                        r"\d candidates checked\); .*", err[-1]), err[-1]
    assert not out.exists()


@pytest.mark.parametrize("strategy", ["random", "bayesian", "hyperband"])
def test_same_seed_draws_the_same_candidates(strategy, tmp_path):
    """Each oracle as edgeml configures it; seed 0 included (keras-tuner would randomise it)."""
    from keras_tuner.engine.base_tuner import BaseTuner

    from edgeml.data import InputKind
    from edgeml.search import build_space, make_oracle

    space = build_space(InputKind.IMAGE, (8, 8, 1), 10)

    def draws(seed, name):
        oracle = make_oracle(strategy, max_draws=50, seed=seed, epochs=9)
        BaseTuner(oracle=oracle, hypermodel=space.build, directory=str(tmp_path / name),
                  overwrite=True)
        out = []
        for i in range(6):  # past the Bayesian oracle's 3 random starting points
            trial = oracle.create_trial("t")
            out.append(dict(trial.hyperparameters.values))
            oracle.update_trial(trial.trial_id, {"score": (i * 0.37) % 1.0})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
        return out

    first = draws(0, "a")
    assert first == draws(0, "b")
    assert first != draws(1, "c")
    assert len({str(d) for d in first}) == 6


def test_resume_after_kill_9_runs_every_trial_once(tmp_path, fit_counter, mlp_space):
    """kill -9 a real search (Bayesian) mid-run; --resume finishes it without rerunning or
    losing a trial, and the fresh oracle redraws exactly the recorded candidates."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from edgeml.pipeline import resume_search

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "edgeml", "search", "--models", "nn", "--no-ensemble", "--trials", "4", "--epochs", "2",
           "--seed", "2", "--strategy", "bayesian", "--space", str(mlp_space), "--out", str(out),
           "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while True:
        recs = [json.loads(p.read_text()) for p in sorted(out.glob("trials/trial_*.json"))]
        if len(trained(recs)) >= 2:
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline
        time.sleep(0.05)
    workers = _trial_workers(proc.pid)
    assert workers, "the search should train in a worker process"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30                      # the worker dies with the search
    while any(_alive(pid) for pid in workers):
        assert time.time() < deadline, f"trial worker {workers} outlived its search"
        time.sleep(0.1)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
              for p in out.glob("trials/trial_*.json")}
    n_before = sum(1 for data, _ in before.values() if json.loads(data)["status"] == "trained")
    assert not (out / "report.json").exists() and (out / "run.json").exists()

    with fit_counter() as fits:
        res = resume_search(out)
    rep = res.report
    ids = [r["trial_id"] for r in rep["trials"]]
    assert len(ids) == len(set(ids)) == len(list(out.glob("trials/trial_*.json")))
    done = trained(rep["trials"])
    assert len(done) == 4 and rep["search"]["replayed"] == len(before)
    # only the missing trials were trained, and then the final retrain of the chosen one
    assert len(fits) == 4 - n_before + 1
    assert len({json.dumps(r["hyperparameters"], sort_keys=True) for r in done}) == 4
    for name, (data, mtime) in before.items():       # finished records were not rewritten
        p = out / "trials" / name
        assert p.read_bytes() == data and p.stat().st_mtime_ns == mtime
    assert (out / "report.json").exists() and (out / "model.tflite").exists()


def _trial_workers(parent: int) -> list[int]:
    """Pids of the trial worker processes whose parent is ``parent``."""
    from pathlib import Path

    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"edgeml.search._trial_worker" in cmd:
            out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


SPACE = '''
"""A user's own space: one hidden layer MLP on the flattened image."""
import tf_keras as keras

def build(hp):
    units = hp.Choice("units", [16, 32])
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, x)
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 3e-3, 1e-2)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


def test_custom_space_file(tmp_path):
    path = tmp_path / "my_space.py"
    path.write_text(SPACE)
    res = run_search(SearchConfig(trials=1, epochs=3, seed=0, space=str(path), models="nn", ensemble=False,
                                  out=str(tmp_path / "run")))
    rep = res.report
    assert rep["search"]["space"] == {"name": "my_space", "source": str(path.resolve())}
    done = trained(rep["trials"])
    assert len(done) == 1 and all(set(r["hyperparameters"]) == {"units", "lr"} for r in done)
    assert rep["chosen"]["int8_test_accuracy"] > 0.5
    assert set(rep["chosen"]["estimate"]["ops"]) <= {"FULLY_CONNECTED", "RESHAPE", "SOFTMAX"}


def test_hyperband_continues_trials_from_their_weights(tmp_path, fit_counter, mlp_space):
    with fit_counter() as fits:
        res = run_search(SearchConfig(trials=2, epochs=3, seed=0, strategy="hyperband", models="nn",
                                      ensemble=False,
                                      space=str(mlp_space), out=str(tmp_path / "run")))
    done = trained(res.report["trials"])
    assert all("tuner/epochs" in r["hyperparameters"] for r in done)
    cont = [r for r in done if r["hyperparameters"].get("tuner/trial_id")]
    assert cont, "hyperband should promote a trial to its next round"
    for r in cont:
        hp = r["hyperparameters"]
        parent = next(p for p in done if p["trial_id"] == hp["tuner/trial_id"])
        assert r["continues"] == parent["trial_id"]
        assert {k: v for k, v in hp.items() if not k.startswith("tuner/")} == \
            {k: v for k, v in parent["hyperparameters"].items() if not k.startswith("tuner/")}
        assert r["epochs_run"] <= hp["tuner/epochs"] - hp["tuner/initial_epoch"]
        assert r.get("checked_as") == parent["trial_id"]   # same architecture: not re-checked
    # fresh trainings: the trials that do not continue another, and the final retrain, which
    # trains the chosen configuration from scratch for the epoch its (continued) run kept
    assert [f["initial_epoch"] for f in fits].count(0) == len(done) - len(cont) + 1
    chosen = next(r for r in done if r["trial_id"] == res.report["chosen"]["trial_id"])
    assert fits[-1]["epochs"] == res.report["chosen"]["refit"]["epochs"] == chosen["best_epoch"]
    # budget: 2 full trainings of 3 epochs, spread over short runs
    assert 2 <= res.report["search"]["budget_used"] < 3
    assert len(done) > 2


def test_a_promoted_run_starts_from_its_earlier_weights(tmp_path, fit_counter, mlp_space, digits):
    """Hyperband's promoted run must continue its short run's weights, not a fresh init:
    at the start of its fit the weights equal the ones the short run saved, and so does the
    loss, far below the loss of any freshly initialised model of the search."""
    import numpy as np

    from edgeml._tf import keras

    def loss_of(model) -> float:
        model.compile(loss="sparse_categorical_crossentropy")
        return float(model.evaluate(digits.x_test, digits.y_test, verbose=0))

    def snapshot(model):
        ref = keras().models.clone_model(model)
        ref.set_weights(model.get_weights())
        return {"weights": [w.copy() for w in model.get_weights()], "start_loss": loss_of(ref)}

    with fit_counter(snapshot) as fits:
        res = run_search(SearchConfig(trials=2, epochs=3, seed=0, strategy="hyperband", models="nn",
                                      ensemble=False,
                                      space=str(mlp_space), out=str(tmp_path / "run")))
    done = trained(res.report["trials"])
    cont = [r for r in done if r["hyperparameters"].get("tuner/trial_id")]
    assert cont, "hyperband should promote a trial to its next round"
    fresh = [f for f in fits if f["initial_epoch"] == 0]
    fresh_loss = min(f["start_loss"] for f in fresh)
    assert fresh_loss > 1.5  # ~ln(10) for an untrained 10-class model
    for r in cont:
        hp = r["hyperparameters"]
        parent = next(p for p in done if p["trial_id"] == hp["tuner/trial_id"])
        saved = keras().models.load_model(parent["keras"], compile=False)
        saved_w, saved_loss = saved.get_weights(), loss_of(saved)
        starts = [f for f in fits if f["initial_epoch"] == hp["tuner/initial_epoch"]
                  and len(f["weights"]) == len(saved_w)
                  and all(np.array_equal(a, b) for a, b in zip(f["weights"], saved_w, strict=True))]
        assert len(starts) == 1, f"no fit of trial {r['trial_id']} starts from trial " \
                                 f"{parent['trial_id']}'s saved weights"
        start = starts[0]
        assert start["start_loss"] == pytest.approx(saved_loss, rel=1e-5)
        assert start["start_loss"] < 0.7 * fresh_loss, (start["start_loss"], fresh_loss)
        assert not any(all(np.array_equal(a, b) for a, b in zip(f["weights"], saved_w, strict=True))
                       for f in fresh if len(f["weights"]) == len(saved_w))
