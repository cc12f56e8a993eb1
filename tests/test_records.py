"""Trial records and run directories: the JSON on disk, and one set of errors for a
missing, unfinished or damaged run whichever command reads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeml.cli import main
from edgeml.errors import RunDirError
from edgeml.records import RunDir, Trial, TrialStatus, TrialStore

# A trained trial's record as edgeml has written it since the first version
TRAINED = {
    "trial_id": "3", "hyperparameters": {"arch": "conv", "width": 0.5, "lr": 0.004},
    "estimate": {"arena_bytes": 3280, "model_bytes": 9000, "latency_ms": 1.5},
    "violations": {"arena_bytes": -1000.0, "flash_bytes": -50000.0},
    "targets": {"esp32": {"fits": True, "estimate": {"arena_bytes": 3280},
                          "violations": {"arena_bytes": -1000.0}}},
    "feasible": True, "broken": [],
    "costs": {"latency_ms": 1.5, "energy_uj": 30.0, "arena_bytes": 3280, "model_bytes": 9000,
              "flash_bytes": 90000},
    "status": "trained", "float_val_accuracy": 0.95, "int8_val_accuracy": 0.94, "epochs_run": 2,
    "train_seconds": 1.2, "tflite": "/runs/a/trials/trial_0003/model.tflite",
    "keras": "/runs/a/trials/trial_0003/model.keras", "worker_rss_bytes": 123,
    "score": 0.94, "seconds": 1.9, "rss_bytes": 456,
}


def test_a_record_reads_and_writes_the_same_json():
    t = Trial.from_json(TRAINED)
    assert t.status is TrialStatus.TRAINED and t.deployable and t.number == 3
    assert t.to_json() == TRAINED
    rejected = {"trial_id": "4", "hyperparameters": {"arch": "dense"}, "status": "infeasible",
                "feasible": False, "broken": ["arena 9.0 KB > 4.0 KB"],
                "violations": {"arena_bytes": 5000.0}, "score": 0.0}
    assert Trial.from_json(rejected).to_json() == rejected
    failed = {"trial_id": "5", "hyperparameters": {}, "status": "failed", "stage": "check",
              "feasible": False, "error": "boom"}
    assert Trial.from_json(failed).to_json() == failed and not Trial.from_json(failed).checked


def test_dead_fields_of_older_records_are_read_and_dropped(tmp_path):
    store = TrialStore(tmp_path)
    store.root.mkdir()
    old = dict(TRAINED, extra={"note": "x"}, fit_calls=1)
    store.path(3).write_text(json.dumps(old))
    t = store.load()[3]
    assert t == Trial.from_json(TRAINED)
    store.put(t)
    assert json.loads(store.path(3).read_text()) == TRAINED


@pytest.mark.parametrize("text", ["{", json.dumps({"trial_id": "1", "status": "exploded"}),
                                  json.dumps([1, 2])])
def test_a_damaged_record_is_one_error(tmp_path, text):
    store = TrialStore(tmp_path)
    store.root.mkdir()
    store.path(1).write_text(text)
    with pytest.raises(RunDirError, match=r"trial record .*trial_0001.json is unreadable"):
        store.load()


def _finished_run(root: Path) -> Path:
    run = root / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"config": {"target": "esp32", "seed": 0}}))
    (run / "report.json").write_text(json.dumps(
        {"chosen": {"trial_id": "0"}, "target": {"name": "esp32"}, "dataset": {"name": "d"},
         "search": {"seed": 0, "trials": 1, "trained": 1}}))
    (run / "model.tflite").write_bytes(b"")
    return run


def test_run_dir_errors(tmp_path):
    with pytest.raises(RunDirError, match="no such directory"):
        RunDir.open(tmp_path / "nope")
    with pytest.raises(RunDirError, match=r"not an edgeml run directory \(no run.json\)"):
        RunDir.open(tmp_path)
    run = _finished_run(tmp_path)
    assert RunDir.open(run, finished=True).chosen()["trial_id"] == "0"
    (run / "report.json").unlink()
    with pytest.raises(RunDirError, match=r"not a finished edgeml run \(no report.json\); .*"
                                          r"edgeml search --resume"):
        RunDir.open(run, finished=True)
    assert RunDir(run).resolve("/elsewhere/run/model.tflite") == run / "model.tflite"
    with pytest.raises(RunDirError, match="does not exist"):
        RunDir(run).resolve("/elsewhere/trials/trial_0009/model.keras")


def test_every_command_reports_a_bad_run_directory_the_same_way(tmp_path, capfd):
    """search --resume, export and compress read runs through RunDir: the same one line."""
    good = _finished_run(tmp_path)
    cases = {
        "missing": (tmp_path / "missing", "missing: no such directory"),
        "file": (tmp_path / "file.txt", "file.txt is a file, not a run directory"),
        "corrupt": (tmp_path / "corrupt", "report.json is unreadable ("),
    }
    (tmp_path / "file.txt").write_text("x")
    shutil.copytree(good, tmp_path / "corrupt")
    (tmp_path / "corrupt" / "report.json").write_text("{not json")
    (tmp_path / "corrupt" / "run.json").write_text("{not json")
    commands = {
        "resume": lambda p: ["search", "--resume", str(p)],
        "export": lambda p: ["export", str(p), "--out", str(tmp_path / "out")],
        "compress": lambda p: ["compress", str(p), "--quiet"],
    }
    for name, (path, message) in cases.items():
        lines = {}
        for cmd, args in commands.items():
            if name == "file" and cmd == "export":
                continue  # export also takes a .tflite file: tested in tests/export
            if name == "corrupt" and cmd == "resume":
                message_here = "run.json is unreadable ("
            else:
                message_here = message
            assert main(args(path)) == 2, (name, cmd)
            err = [ln for ln in capfd.readouterr().err.splitlines()
                   if ln.strip() and not ln.startswith("edgeml 0")]
            assert len(err) == 1 and err[0].startswith("edgeml: error: "), (name, cmd, err)
            assert message_here in err[0], (name, cmd, err)
            lines[cmd] = err[0]
        if name != "corrupt":
            assert len(set(lines.values())) == 1, lines   # word for word the same
    assert not (tmp_path / "out").exists()
