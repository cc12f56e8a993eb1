"""The Python API (edgeml.search, load_run, compress, export, profile, targets) with
arrays in memory, and the command line as a thin layer over it."""

from __future__ import annotations

import base64
import inspect
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

import edgeml
from edgeml.errors import DataError, EdgeMLError, TargetError


@pytest.fixture(scope="module")
def digits_xy():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float32), d.target  # (1797, 8, 8): the builtin "digits" data


# --------------------------------------------------------------------------- no training
def test_search_keywords_are_the_command_lines_with_its_defaults():
    from edgeml.cli import build_parser
    from edgeml.cli.search import search_defaults

    sig = inspect.signature(edgeml.search)
    options = {a.dest for a in build_parser()._subparsers._group_actions[0].choices["search"]
               ._actions} - {"help", "resume", "quiet", "json"}
    # --port and its settings measure the finalists on a board after the search: the
    # command line composes that from the HIL library (edgeml.hil), not from this API
    options -= {"port", "baud", "timeout", "window_s", "windows"}
    assert options <= set(sig.parameters), options - set(sig.parameters)
    assert all(p.kind is p.KEYWORD_ONLY for n, p in sig.parameters.items() if n not in ("x", "y"))
    for opt, default in search_defaults().items():
        assert sig.parameters[opt].default == default, opt


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(x=np.full((40, 4), np.nan), y=np.arange(40) % 2), DataError, "contain NaN or inf"),
    (dict(x=np.zeros((40, 4)), y=np.arange(39) % 2), DataError, "x has 40 samples but y has 39"),
    (dict(x=np.zeros((40, 4)), y=np.zeros((40, 2))), DataError, "one label per sample"),
    (dict(x=np.zeros(40), y=np.arange(40) % 2), DataError, "need (samples, features...)"),
    (dict(x=np.zeros((40, 2, 2, 2, 2)), y=np.arange(40) % 2), DataError, "4 dimensions"),
    (dict(x=np.zeros((40, 4)), y=np.arange(40) % 2, x_test=np.zeros((5, 4))), DataError,
     "x_test was given without y_test"),
    (dict(x=np.zeros((40, 4)), y=np.arange(40) % 2, x_test=np.zeros((6, 3)),
          y_test=np.arange(6) % 2), DataError, "x_test samples have shape (3,)"),
    (dict(x=np.zeros((40, 4)), y=np.arange(40) % 2, x_test=np.zeros((6, 4)),
          y_test=np.arange(6) % 3), DataError, "y_test has label(s) ['2']"),
    (dict(x=np.zeros((40, 4)), y=np.arange(40) % 2, target="nosuchboard"), TargetError,
     "nosuchboard"),
    (dict(x=np.zeros((40, 4)), y=np.arange(40) % 2, max_ram_kb=-4), EdgeMLError,
     "max_ram_kb must be a positive number"),
    (dict(x=np.zeros((40, 4)), y=np.arange(40) % 2, trials=0), EdgeMLError, "at least 1"),
])
def test_bad_input_is_one_line_with_a_hint_and_leaves_nothing(kwargs, error, words, tmp_path,
                                                              monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(error) as info:
        edgeml.search(**kwargs, verbose=0)  # out=None: a temporary folder
    assert words in info.value.message
    assert info.value.hint and "\n" not in str(info.value)
    assert not any((tmp_path / "tmp").iterdir())  # no run folder left behind
    with pytest.raises(error):
        edgeml.search(**kwargs, out=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_dataframe_with_a_label_column_is_the_same_data_as_arrays(digits_xy):
    import pandas as pd

    from edgeml.data import Dataset

    x, y = digits_xy
    flat = x.reshape(len(x), -1)
    frame = pd.DataFrame(flat, columns=[f"p{i}" for i in range(64)]).assign(digit=y)
    a = Dataset.from_arrays(frame, label_column="digit")
    b = Dataset.from_arrays(flat, y)
    assert a.fingerprint == b.fingerprint and a.input_shape == (64,)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    with pytest.raises(DataError, match="no label column 'label'") as info:
        Dataset.from_arrays(frame)
    assert "label=" in info.value.hint
    with pytest.raises(DataError, match="column 'name' is not numeric"):
        Dataset.from_arrays(frame.assign(name="a"), label_column="digit")


def test_a_given_test_set_is_used_untouched(digits_xy, tmp_path):
    from edgeml.data import Dataset, arrays_from, load_dataset, save_arrays

    x, y = digits_xy
    ds = Dataset.from_arrays(x[:1500], y[:1500], x_test=x[1500:], y_test=y[1500:])
    assert len(ds.y_test) == 297 and len(ds.y_train) + len(ds.y_val) == 1500
    np.testing.assert_array_equal(ds.y_test, y[1500:])
    np.testing.assert_allclose(ds.x_test[..., 0], x[1500:] * ds.scale + ds.offset, rtol=1e-6)
    # the same arrays, saved as a run saves them, load to the same data
    path = save_arrays(tmp_path / "data.npz", arrays_from(x[:1500], y[:1500], x_test=x[1500:],
                                                          y_test=y[1500:]))
    again = load_dataset(path)
    assert again.fingerprint == ds.fingerprint and again.name == "arrays"
    # the builtin digits and the same arrays in memory are the same data
    assert Dataset.from_arrays(x, y).fingerprint == load_dataset("digits").fingerprint


def test_targets_lists_the_shipped_profiles():
    frame = edgeml.targets()
    assert list(frame.index) == edgeml.list_targets()
    esp = edgeml.load_target("esp32")
    assert frame.loc["esp32", "flash_kb"] == esp.flash_bytes / 1024
    assert frame.loc["esp32", "arena_kb"] == esp.arena_budget / 1024


def test_profile_of_a_tflite_file(tmp_path, digits_int8):
    path = tmp_path / "m.tflite"
    path.write_bytes(digits_int8)
    prof = edgeml.profile(path, target="nrf52840")
    layers = prof.layers
    assert list(layers["op"])[:1] == ["CONV_2D"] and "SOFTMAX" in set(layers["op"])
    assert int(layers["macs"].sum()) == prof.macs > 0
    assert layers["share"].sum() == pytest.approx(1.0)
    assert prof.fits and prof.report["target"] == "nrf52840"
    tight = edgeml.profile(path, target="nrf52840", max_ram_kb=1)
    assert not tight.fits and tight.broken
    assert "<table>" in prof._repr_html_() and "nrf52840" in str(prof)
    with pytest.raises(TargetError):
        edgeml.profile(path, target="nosuchboard")


# --------------------------------------------------------------------------- one real run
@pytest.fixture(scope="module")
def api_run(digits_xy):
    """A tiny search from arrays in memory, into a temporary folder (out=None)."""
    x, y = digits_xy
    events = []
    run = edgeml.search(x, y, target="esp32", trials=2, epochs=1, seed=0, verbose=0,
                        models="nn", ensemble=False,
                        on_event=lambda kind, rec: events.append(kind))
    yield run, events
    shutil.rmtree(run.path.parent, ignore_errors=True)


@pytest.mark.slow
def test_search_from_arrays_returns_the_run(api_run):
    run, events = api_run
    assert run.path.is_dir() and run.path.parent.parent == Path(tempfile.gettempdir())
    assert (run.path / "data.npz").is_file() and {"start", "trained", "final"} <= set(events)
    rep = json.loads((run.path / "report.json").read_text())
    best = run.best
    assert best.trial_id == rep["chosen"]["trial_id"] and best.target == "esp32"
    assert best.int8_test_accuracy == rep["chosen"]["int8_test_accuracy"]
    assert best.flash_bytes == rep["chosen"]["estimate"]["flash_bytes"] > best.model_bytes > 0
    assert best.hyperparameters == rep["chosen"]["hyperparameters"]
    assert best.tflite.read_bytes() == (run.path / "model.tflite").read_bytes()
    trials = run.trials
    assert len(trials) == len(rep["trials"]) and trials["chosen"].sum() == 1
    assert trials.loc[best.trial_id, "int8_val_accuracy"] == best.int8_val_accuracy
    assert set(best.hyperparameters) <= set(trials.columns)
    assert set(run.pareto.index) == set(rep["pareto"])
    fig = run.plot()
    assert len(fig.axes) == 3 and fig.axes[0].get_ylabel().startswith("int8")
    page = run._repr_html_()
    png = base64.b64encode((run.path / "pareto.png").read_bytes()).decode()
    assert png in page and "Pareto front" in page and f"trial {best.trial_id}" in page
    assert str(run.path) in repr(run) and "int8 accuracy" in str(run)
    assert repr(edgeml.load_run(run.path)) == repr(run)
    assert edgeml.load_run(run.path).best == best


@pytest.mark.slow
def test_command_line_and_api_give_the_same_run(api_run, tmp_path, capsys):
    """The same seed and options through `edgeml search` (the builtin digits) and through
    edgeml.search (the same images in memory): the same chosen trial, hyperparameters and
    model bytes."""
    from edgeml.cli import main

    run, _ = api_run
    assert main(["search", "--data", "digits", "--models", "nn", "--no-ensemble",
                 "--target", "esp32", "--trials", "2",
                 "--epochs", "1", "--seed", "0", "--out", str(tmp_path / "cli"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trial_id"] == run.best.trial_id
    assert out["hyperparameters"] == dict(run.best.hyperparameters)
    assert (tmp_path / "cli" / "model.tflite").read_bytes() == \
        (run.path / "model.tflite").read_bytes()
    cli_trials = edgeml.load_run(tmp_path / "cli").trials
    assert list(cli_trials["int8_val_accuracy"]) == list(run.trials["int8_val_accuracy"])


@pytest.mark.slow
def test_resume_compress_export_and_profile_a_moved_run(api_run, tmp_path):
    """Arrays kept in the run (data.npz): a moved run resumes and compresses without them."""
    run, _ = api_run
    moved = Path(shutil.copytree(run.path, tmp_path / "moved"))
    again = edgeml.resume(moved, verbose=0)  # complete: nothing is trained again
    assert again.best == edgeml.load_run(moved).best
    before = (moved / "model.tflite").read_bytes()
    loaded = edgeml.load_run(moved)
    same = loaded.compress(structured=0.25, epochs=1, max_int8_drop=100, verbose=0)
    assert same is loaded and loaded.best.compression["chosen_stage"]
    assert (moved / "model.tflite").read_bytes() != before
    assert loaded.best.tflite.read_bytes() == (moved / "compress" / "model.tflite").read_bytes()
    done = loaded.export("esp-idf", tmp_path / "components")
    assert done.root == tmp_path / "components" / "edgeml_model"
    assert all(f.is_file() for f in done.files) and done.model_bytes == len(
        (moved / "model.tflite").read_bytes())
    with pytest.raises(EdgeMLError, match="already exists"):
        loaded.export("esp-idf", tmp_path / "components")
    prof = edgeml.profile(moved / "model.tflite", target="nrf52840")
    assert prof.macs == int(prof.layers["macs"].sum()) and prof.latency_ms > 0


def test_a_classical_winner_is_described_as_one(digits_xy, tmp_path):
    """A run whose chosen model is a classical model or an ensemble: the API says which,
    points at its edgeml_predict C files (no model.tflite) and exports them."""
    x, y = digits_xy
    run = edgeml.search(x.reshape(len(x), -1), y, target="esp32", trials=3, seed=0, verbose=0,
                        models="tree,nb", out=tmp_path / "run")
    rep = json.loads((run.path / "report.json").read_text())
    best = run.best
    assert best.family == rep["chosen"]["family"] in ("tree", "nb", "ensemble")
    assert best.tflite is None and not (run.path / "model.tflite").exists()
    assert [p.name for p in best.c_files] == sorted(rep["chosen"]["c_files"])
    assert all(p.is_file() for p in best.c_files) and "edgeml_predict.h" in rep["chosen"]["c_files"]
    assert best.decision == rep["decision"] and best.kind != "network"
    text = str(run)
    assert "int8 accuracy (test, TFLM)" not in text and "accuracy (test, deployed C)" in text
    assert "edgeml_predict.h" in text and rep["decision"] in text
    if best.family == "ensemble":
        assert {m[0] for m in best.members} == set(rep["ensemble"]["members"])
    else:
        assert best.kind.lower() in text.lower() and best.members == ()
    assert f"({best.kind}, acc" in repr(run)
    assert edgeml.load_run(run.path).best == best
    done = run.export("c", tmp_path / "fw")
    assert (tmp_path / "fw" / "edgeml_predict.h").is_file() and done.files
