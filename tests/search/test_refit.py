"""The final retrain on train + validation, and the user's own test set (--test-data)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from sklearn.datasets import load_digits

pytestmark = pytest.mark.slow


@pytest.fixture()
def split_files(tmp_path):
    """digits as the user's data (1400 samples) and their own test file (the other 397)."""
    d = load_digits()
    np.savez(tmp_path / "train.npz", x=d.images[:1400], y=d.target[:1400])
    np.savez(tmp_path / "test.npz", x=d.images[1400:], y=d.target[1400:])
    return tmp_path


def test_refit_trains_on_train_and_validation_and_ships_with_the_test_file(split_files,
                                                                          fit_counter):
    from edgeml.errors import EdgeMLError
    from edgeml.pipeline import SearchConfig, resume_search, run_search
    from edgeml.tflite.int8 import evaluate_int8

    tmp = split_files
    run = tmp / "run"
    cfg = SearchConfig(data=str(tmp / "train.npz"), test_data=str(tmp / "test.npz"),
                       models="nn", trials=1, epochs=2, seed=3, out=str(run))
    with fit_counter() as fits:
        res = run_search(cfg)
    rep = res.report
    ds, chosen = rep["dataset"], rep["chosen"]
    # --test-data is the test split, untouched; train + validation are all of --data
    assert ds["test"] == 397 and ds["train"] + ds["val"] == 1400
    assert ds["test_data"]["samples"] == 397
    # one trial (train only, with validation data), then the retrain on train + validation
    assert [(f["samples"], f["validation"]) for f in fits] == [(ds["train"], True), (1400, False)]
    trial = json.loads((run / "trials" / "trial_0000.json").read_text())
    assert 1 <= trial["best_epoch"] <= trial["epochs_run"] <= 2
    refit = chosen["refit"]
    assert refit["shipped"] and refit["samples"] == 1400 and refit["epochs_from"] == "best_epoch"
    assert fits[1]["epochs"] == refit["epochs"] == trial["best_epoch"]
    # it started when the network search ended, and trained while the search model was
    # tested: the run waited for part of it only
    assert 0 <= refit["waited_seconds"] < refit["seconds"]
    assert chosen["search_model"]["train_samples"] == ds["train"]
    # the shipped model is the retrained one, not the trial's
    shipped = (run / "model.tflite").read_bytes()
    assert shipped == (run / "refit" / "model.tflite").read_bytes()
    assert shipped != (run / "trials" / "trial_0000" / "model.tflite").read_bytes()
    md = (run / "report.md").read_text()
    assert "### Final retrain" in md and "The retrained model ships." in md
    assert "| retrained | train + validation, 1400 samples |" in md
    # the reported test accuracy is model.tflite's in TFLM on exactly the test file
    d = load_digits()
    x = (d.images[1400:, :, :, None] * ds["preprocessing"]["scale"]
         + ds["preprocessing"]["offset"]).astype(np.float32)
    acc = evaluate_int8(shipped, x, d.target[1400:]).accuracy
    assert chosen["int8_test_accuracy"] == pytest.approx(acc, abs=1e-9)
    assert refit["int8_test_accuracy"] == pytest.approx(acc, abs=1e-9)
    assert chosen["search_model"]["int8_test_accuracy"] == pytest.approx(evaluate_int8(
        (run / "trials" / "trial_0000" / "model.tflite").read_bytes(), x,
        d.target[1400:]).accuracy, abs=1e-9)
    meta = json.loads((run / "run.json").read_text())
    assert meta["test_data"]["fingerprint"] == ds["test_data"]["fingerprint"]

    # killed during the retrain: the trial records are complete, only the final stage reruns
    for name in ("report.json", "model.tflite", "model_data.cc", "model_data.h", "report.md"):
        (run / name).unlink()
    shutil.rmtree(run / "refit")
    with fit_counter() as fits:
        again = resume_search(run)
    assert [(f["samples"], f["validation"]) for f in fits] == [(1400, False)]
    assert again.report["chosen"]["refit"]["shipped"]
    assert (run / "model.tflite").read_bytes() == (run / "refit" / "model.tflite").read_bytes()

    # a changed test file is refused on resume
    (run / "report.json").unlink()
    np.savez(tmp / "test.npz", x=d.images[1401:], y=d.target[1401:])
    with pytest.raises(EdgeMLError, match="the test data .* changed since the run started"):
        resume_search(run)


def test_no_refit_ships_the_trials_own_model(tmp_path, capfd):
    from edgeml.cli import main

    run = tmp_path / "run"
    assert main(["search", "--models", "nn", "--trials", "1", "--epochs", "1", "--no-refit",
                 "--val-split", "0.1", "--test-split", "0.1", "--json",
                 "--out", str(run)]) == 0
    out = json.loads(capfd.readouterr().out)
    assert out["refit"]["enabled"] is False and not out["refit"]["shipped"]
    rep = json.loads((run / "report.json").read_text())
    assert (run / "model.tflite").read_bytes() == \
        (run / "trials" / "trial_0000" / "model.tflite").read_bytes()
    assert rep["chosen"]["refit"]["enabled"] is False and "search_model" not in rep["chosen"]
    assert not (run / "refit").exists()
    assert (rep["dataset"]["val"], rep["dataset"]["test"]) == (180, 180)  # 0.1 of 1797 each
    assert "Final retrain" not in (run / "report.md").read_text()
    conf = json.loads((run / "run.json").read_text())["config"]
    assert (conf["val_split"], conf["test_split"], conf["refit"]) == (0.1, 0.1, False)


def test_refit_step_runs_in_the_worker_process(digits, tmp_path):
    import keras_tuner as kt

    from edgeml.search import build_space
    from edgeml.search.worker import TrialContext, WorkerRunner
    from edgeml.targets import load_target
    from edgeml.tflite.int8 import representative_sample

    space = build_space(digits.kind, digits.input_shape, digits.num_classes)
    ctx = TrialContext(space=space, x_train=digits.x_train, y_train=digits.y_train,
                       x_val=digits.x_val, y_val=digits.y_val,
                       calib=representative_sample(digits.x_train, n=50, seed=0),
                       targets=(load_target("esp32"),), seed=0, epochs=1, patience=0)
    hp = kt.HyperParameters()
    hp.values.update({"arch": "conv", "width": 0.5, "depth": 1})
    epochs: list[tuple[int, int]] = []
    runner = WorkerRunner(ctx)
    try:
        # a background retrain's worker lowers its priority (this process keeps its own)
        res = runner.refit(hp.get_config(), 5, epochs=2, folder=str(tmp_path / "refit"),
                           on_epoch=lambda e, n: epochs.append((e, n)), nice=3)
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, runner.proc.pid) == min(mine + 3, 19)
    finally:
        runner.close()
    assert res.samples == len(digits.y_train) + len(digits.y_val)
    assert res.epochs == 2 and epochs == [(1, 2), (2, 2)]
    assert res.model_bytes[4:8] == b"TFL3" and (tmp_path / "refit" / "model.keras").is_file()


# A user space whose model refuses to train without validation data: the search trains
# it, the final retrain (train + validation, no validation data) fails.
NEEDS_VALIDATION = '''
import tf_keras as keras


class NeedsValidation(keras.Model):
    def fit(self, *args, **kwargs):
        if kwargs.get("validation_data") is None:
            raise RuntimeError("this model trains only with validation data")
        return super().fit(*args, **kwargs)


def build(hp):
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hp.Choice("units", [16, 32]), activation="relu")(x)
    model = NeedsValidation(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
'''


def test_a_failed_retrain_ships_the_search_model_and_says_why(tmp_path):
    from edgeml.pipeline import SearchConfig, run_search

    space = tmp_path / "needs_validation.py"
    space.write_text(NEEDS_VALIDATION)
    run = tmp_path / "run"
    res = run_search(SearchConfig(trials=1, epochs=1, space=str(space), models="nn",
                                  out=str(run)))
    refit = res.report["chosen"]["refit"]
    assert refit["enabled"] and not refit["shipped"]
    assert refit["reason"] == ("the retrain failed (RuntimeError: this model trains only with "
                               "validation data)")
    assert (run / "model.tflite").read_bytes() == \
        (run / "trials" / "trial_0000" / "model.tflite").read_bytes()
    assert res.report["chosen"]["int8_test_accuracy"] == \
        res.report["chosen"]["search_model"]["int8_test_accuracy"]
    assert "the retrain failed (RuntimeError: this model trains only with validation data); " \
           "the search's model ships." in (run / "report.md").read_text()


def test_a_retrain_started_for_a_network_that_loses_leaves_no_files(tmp_path):
    """The best network's retrain starts before the classical stage; a classical model
    wins (a network trained for one epoch against a linear model): it is thrown away."""
    from edgeml.pipeline import SearchConfig, run_search

    out = tmp_path / "run"
    res = run_search(SearchConfig(models="nn,linear", trials=1, epochs=1, seed=0,
                                  ensemble=False, out=str(out)))
    chosen = res.report["chosen"]
    assert chosen["family"] == "linear", res.report["decision"]
    assert chosen["refit"]["shipped"] is False
    assert "not retrained" in chosen["refit"]["reason"]
    assert not (out / "refit").exists()
    assert (out / "edgeml_classical.c").exists()
