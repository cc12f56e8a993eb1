"""The trial worker process: same results as in this process, replaced when it has grown,
and a worker that dies fails only its own trial."""

from __future__ import annotations

import pytest

from edgeml.pipeline import SearchConfig, run_search

pytestmark = pytest.mark.slow

# A user space whose training step kills its own process the first time it runs, the
# way the kernel's out-of-memory killer would (the marker file makes it happen once).
KILLING_SPACE = '''
"""MLP on the flattened image; the first training in a process-wide run dies by SIGKILL."""
import os
import signal
from pathlib import Path

import tf_keras as keras

MARKER = Path({marker!r})


class DieOnce(keras.Model):
    """A functional model whose first training step kills its process."""

    def train_step(self, data):
        if not MARKER.exists():
            MARKER.write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().train_step(data)


def build(hp):
    units = hp.Choice("units", [16, 32])
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dense(10, name="logits")(x)
    model = DieOnce(inputs, keras.layers.Softmax(name="probs")(x))
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


def test_a_worker_that_dies_fails_only_its_trial(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEML_TRIAL_WORKER", "1")
    marker = tmp_path / "killed.txt"
    path = tmp_path / "dies_once.py"
    path.write_text(KILLING_SPACE.replace("{marker!r}", repr(str(marker))))
    events = []
    res = run_search(SearchConfig(trials=2, epochs=2, seed=0, space=str(path),
                                  out=str(tmp_path / "run")),
                     on_event=lambda kind, rec: events.append((kind, dict(rec))))
    # the worker reports every epoch, for the progress bar
    assert [(r["epoch"], r["epochs"]) for k, r in events if k == "epoch"] == [(1, 2), (2, 2)]
    assert marker.exists(), "the first training should have killed its worker"
    records = res.report["trials"]
    failed = [r for r in records if r["status"] == "failed"]
    done = [r for r in records if r["status"] == "trained"]
    # the failed training used its slot of the budget; the next trial ran in a fresh worker
    assert len(failed) == 1 and len(done) == 1 and res.report["search"]["budget_used"] == 2
    err = failed[0]["error"]
    assert failed[0]["stage"] == "train"
    assert "trial worker process died while training a candidate (killed by SIGKILL" in err
    assert not (tmp_path / "run" / "trials" / f"trial_{int(failed[0]['trial_id']):04d}"
                / "model.tflite").exists()
    assert res.report["chosen"]["int8_test_accuracy"] > 0.5


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
