"""The trial worker process: same results as in this process, replaced when it has grown,
and a worker that dies fails only its own trial."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# A user space whose training step kills its own process the first two times it runs
# (in any process), the way the kernel's out-of-memory killer would: a real SIGKILL of
# the trial worker. The counter file makes it happen exactly twice.
KILLING_SPACE = '''
"""MLP on the flattened image; the first two trainings of a run die by SIGKILL."""
import os
import signal
from pathlib import Path

import tf_keras as keras

COUNTER = Path({counter!r})


class DieTwice(keras.Model):
    """A functional model whose training step kills its process (twice per run)."""

    def train_step(self, data):
        deaths = int(COUNTER.read_text()) if COUNTER.exists() else 0
        if deaths < 2:
            COUNTER.write_text(str(deaths + 1))
            os.kill(os.getpid(), signal.SIGKILL)
        return super().train_step(data)


def build(hp):
    units = hp.Choice("units", [16, 32])
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dense(10, name="logits")(x)
    model = DieTwice(inputs, keras.layers.Softmax(name="probs")(x))
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 3e-3, 1e-2)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


def test_worker_checks_like_this_process_and_is_replaced_when_grown(digits):
    import keras_tuner as kt

    from edgeml.search import build_space
    from edgeml.search.worker import TrialContext, WorkerRunner, check_trial
    from edgeml.targets import load_target
    from edgeml.tflite.int8 import representative_sample

    space = build_space(digits.kind, digits.input_shape, digits.num_classes)
    ctx = TrialContext(space=space, x_train=digits.x_train, y_train=digits.y_train,
                       x_val=digits.x_val, y_val=digits.y_val,
                       calib=representative_sample(digits.x_train, n=50, seed=0),
                       targets=(load_target("esp32"),), seed=0, epochs=1, patience=5)
    hp = kt.HyperParameters()
    hp.values.update({"arch": "conv", "width": 0.5, "depth": 1})
    runner = WorkerRunner(ctx, recycle_mb=0)  # any growth at all replaces the worker
    try:
        first = runner.check(hp.get_config(), 7)
        second = runner.check(hp.get_config(), 7)
        assert runner.starts >= 2, "a worker that grew should have been replaced"
    finally:
        runner.close()
    assert runner.proc is None
    here = check_trial(ctx, hp.get_config(), 7)
    for res in (first, second):
        assert res.estimates == here.estimates and res.note == here.note
        assert res.hyperparameters == here.hyperparameters
        assert res.hyperparameters["arch"] == "conv" and res.rss_bytes > 0
    est = here.estimates["esp32"]
    assert est.arena_bytes > 0 and est.model_bytes > 0 and not est.unsupported_ops


def test_a_killed_worker_is_retried_then_replaced_and_counted(tmp_path, monkeypatch, capfd):
    """--trials 2 gives 2 trained models although the first training's worker is killed
    twice: retried once in a fresh worker, then replaced by a new candidate; the summary,
    report.json and report.md count the failure; --resume of a run that lost a trial
    makes it up."""
    import json
    import shutil

    from edgeml.cli import main
    from edgeml.records import RunDir, TrialStatus

    monkeypatch.setenv("EDGEML_TRIAL_WORKER", "1")
    counter = tmp_path / "deaths.txt"
    path = tmp_path / "dies_twice.py"
    path.write_text(KILLING_SPACE.replace("{counter!r}", repr(str(counter))))
    out = tmp_path / "run"
    assert main(["search", "--models", "nn", "--no-ensemble", "--trials", "2", "--epochs", "2", "--seed", "0",
                 "--space", str(path), "--workers", "1",
                 "--out", str(out)]) == 0
    captured = capfd.readouterr()
    assert counter.read_text() == "2", "both attempts of the first training should have died"
    assert "2 trained, 0 rejected before training, 1 failed (1 training retried after the " \
           "worker died)" in captured.out
    assert "training it again in a fresh worker" in captured.err

    run = RunDir.open(out, finished=True)
    records = run.trials().load()
    failed = [t for t in records.values() if t.status is TrialStatus.FAILED]
    done = [t for t in records.values() if t.trained]
    assert len(done) == 2 and len(failed) == 1
    dead = failed[0]
    assert dead.stage == "train" and len(dead.retried) == 1
    for err in (dead.error, dead.retried[0]):
        assert "trial worker process died while training a candidate (killed by SIGKILL" in err
    assert not (out / "trials" / f"trial_{dead.number:04d}" / "model.tflite").exists()
    search = run.report()["search"]
    assert (search["trained"], search["failed"], search["retried"]) == (2, 1, 1)
    assert search["budget_used"] == 2                # failures do not use the budget
    assert "1 failed (1 training retried after the worker died)" in \
        (out / "report.md").read_text()

    # A run that lost a trial to a failure (as edgeml did before failures stopped using
    # the budget): the last trained trial is gone, the run looks finished with 1 model.
    old = tmp_path / "old"
    shutil.copytree(out, old)
    last = max(t.number for t in done)
    (old / "trials" / f"trial_{last:04d}.json").unlink()
    rep = json.loads((old / "report.json").read_text())
    rep["search"].update(trained=1, trials=2)
    (old / "report.json").write_text(json.dumps(rep))
    capfd.readouterr()
    assert main(["search", "--resume", str(old), "--json"]) == 0
    res = json.loads(capfd.readouterr().out)
    assert res["trials"]["trained"] == 2 and res["trials"]["failed"] == 1
    assert RunDir.open(old).trials().load()[last].trained


def test_a_bad_recycle_limit_is_one_line(tmp_path, monkeypatch, capfd):
    from edgeml.cli import main

    monkeypatch.setenv("EDGEML_TRIAL_WORKER", "1")
    monkeypatch.setenv("EDGEML_WORKER_RECYCLE_MB", "lots")
    out = tmp_path / "run"
    assert main(["search", "--trials", "1", "--epochs", "1", "--out", str(out), "--quiet"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err[-1] == ("edgeml: error: EDGEML_WORKER_RECYCLE_MB='lots' is not a size in MB; "
                       "set it to a number such as 256, or unset it")
    assert not out.exists()
