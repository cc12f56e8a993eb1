"""Output locations that cannot be used, for every command that writes: one line, exit 2,
nothing half-written, no file the user had changed. No training: every case fails before."""

from __future__ import annotations

import json
import os
import resource
import stat
from pathlib import Path

import pytest
from relkit import assert_user_error, run_subprocess, snapshot

from edgeml._io import atomic_write, prepare_output_dir, staged_writes
from edgeml.errors import OutputError

PROC = Path("/proc")
DEV_FULL = Path("/dev/full")
needs_proc = pytest.mark.skipif(not PROC.is_dir(), reason="no /proc on this system")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full on this system")


@pytest.fixture()
def home(tmp_path) -> Path:
    """A user's folder with files of their own (and a file to put in a path)."""
    h = tmp_path / "home"
    h.mkdir()
    (h / "notes.txt").write_text("my notes\n")
    (h / "data.csv").write_text("a,b,label\n1,2,0\n")
    return h


def _device_is_intact() -> None:
    assert stat.S_ISCHR(os.stat(DEV_FULL).st_mode), "/dev/full was replaced"


# ------------------------------------------------------------------------- search --out
@pytest.mark.parametrize("out, says", [
    pytest.param("/proc/edgeml_run", "cannot create /proc/edgeml_run", marks=needs_proc),
    ("{home}/data.csv/run", "goes through {home}/data.csv, which is a file"),
    ("{home}/notes.txt", "is a file, not a folder"),
    pytest.param("/dev/full", "is a special file, not a folder", marks=needs_dev_full),
])
def test_search_out_that_cannot_be_a_folder(cli, home, small_csv, out, says):
    before = snapshot(home)
    res = cli("search", "--quiet", "--data", small_csv, "--trials", "1", "--epochs", "1",
              "--out", out.format(home=home))
    assert_user_error(res, contains=says.format(home=home))
    assert snapshot(home) == before


def test_search_out_immutable_folder(cli, home, small_csv, immutable):
    target = home / "runs"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    immutable(target)
    before = snapshot(home)
    res = cli("search", "--quiet", "--data", small_csv, "--trials", "1", "--epochs", "1", "--out", target)
    assert_user_error(res, contains=(f"cannot write {target}", "immutable or read-only"))
    assert snapshot(home) == before


@pytest.mark.parametrize("names", [("model_data.h",), ("report.md",),
                                   ("model_data.h", "report.md", "model.tflite")])
def test_search_out_never_replaces_the_users_files(cli, home, small_csv, names):
    for n in names:
        (home / n).write_text(f"the user's own {n}\n")
    before = snapshot(home)
    res = cli("search", "--quiet", "--data", small_csv, "--trials", "1", "--epochs", "1", "--out", home)
    line = assert_user_error(res, contains=("already holds", "pass --force"))
    assert any(n in line for n in names), line
    assert snapshot(home) == before


# ------------------------------------------------------------------------- export --out
@pytest.mark.parametrize("out, says", [
    pytest.param("/proc/x", "cannot create /proc/x", marks=needs_proc),
    ("{home}/data.csv/x", "is not a folder"),
    ("{home}/notes.txt", "is a file, not a folder"),
    pytest.param("/dev/full", "is a file, not a folder", marks=needs_dev_full),
])
@pytest.mark.parametrize("fmt", ["c", "esp-idf"])
def test_export_out_that_cannot_be_a_folder(cli, home, tiny_tflite, out, says, fmt):
    before = snapshot(home)
    res = cli("export", tiny_tflite, "--target", "esp32", "--format", fmt,
              "--out", out.format(home=home))
    line = assert_user_error(res)
    assert says.format(home=home) in line or "not a folder" in line, line
    assert snapshot(home) == before
    if DEV_FULL.exists():
        _device_is_intact()


def test_export_out_immutable_folder(cli, home, tiny_tflite, immutable):
    immutable(home)
    before = snapshot(home)
    res = cli("export", tiny_tflite, "--target", "esp32", "--out", home)
    assert_user_error(res, contains=(f"cannot write {home}", "immutable"))
    assert snapshot(home) == before


def test_export_keeps_existing_files_without_force(cli, home, tiny_tflite):
    (home / "model_data.h").write_text("// mine\n")
    before = snapshot(home)
    res = cli("export", tiny_tflite, "--target", "esp32", "--out", home)
    assert_user_error(res, contains=("model_data.h already exists", "--force"))
    assert snapshot(home) == before


# ---------------------------------------------------------------------- calibrate --out
CAL = ("calibrate", "--target", "esp32", "--derive-from", "stm32f746")


@pytest.mark.parametrize("out, says", [
    pytest.param("/proc/x/cal.toml", "cannot create /proc/x", marks=needs_proc),
    ("{home}/data.csv/cal.toml", "data.csv is a file, not a folder"),
    ("{home}", "is a folder"),
    ("{home}/notes.txt", "already exists and edgeml did not write it"),
    pytest.param("/dev/full", "is not a regular file", marks=needs_dev_full),
])
def test_calibrate_out_refused(cli, home, out, says):
    before = snapshot(home)
    res = cli(*CAL, "--out", out.format(home=home))
    assert_user_error(res, contains=says.format(home=home))
    assert snapshot(home) == before
    if DEV_FULL.exists():
        _device_is_intact()


def test_calibrate_out_immutable_folder(cli, home, immutable):
    immutable(home)
    before = snapshot(home)
    res = cli(*CAL, "--out", home / "cal.toml")
    assert_user_error(res, contains=(f"cannot write {home}", "immutable"))
    assert snapshot(home) == before


def test_calibrate_rewrites_its_own_profile_and_the_users_file_only_with_force(cli, home):
    out = home / "cal.toml"
    assert cli(*CAL, "--out", out).code == 0
    assert cli(*CAL, "--mac-factor", "1.5", "--out", out).code == 0  # its own file: fine
    assert cli(*CAL, "--out", home / "notes.txt", "--force").code == 0
    assert (home / "notes.txt").read_text().startswith("# edgeml target profile")


# --------------------------------------------------------------------- compress RUN_DIR
def _fake_run(root: Path) -> Path:
    """The files compress reads before it touches anything (no training needed)."""
    run = root / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"config": {"seed": 0, "target": "esp32"}}))
    (run / "report.json").write_text(json.dumps({
        "chosen": {"trial_id": "00", "hyperparameters": {}, "keras": "x", "tflite": "y"},
        "search": {"seed": 0}, "dataset": {"name": "digits"}, "target": {"name": "esp32"}}))
    (run / "model_data.h").write_text("// the run's header\n")
    (run / "model.tflite").write_bytes(b"TFL3")  # only its presence is read first
    return run


def test_compress_on_an_immutable_run_changes_nothing(cli, tmp_path, immutable):
    run = immutable(_fake_run(tmp_path))
    before = snapshot(run)
    res = cli("compress", run, "--quiet", "--epochs", "1")
    assert_user_error(res, contains=(f"cannot write {run}", "make it writable"))
    assert snapshot(run) == before


# ---------------------------------------------------------------- full disk (a size limit)
def _fsize(limit: int):
    def pre() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_export_on_a_full_disk_leaves_nothing(tmp_path, tiny_tflite):
    out = tmp_path / "out"
    res = run_subprocess("export", tiny_tflite, "--target", "esp32", "--out", out, cwd=tmp_path,
                         env={"TMPDIR": str(tmp_path)}, preexec=_fsize(1500))
    assert_user_error(res, contains="the file size limit was reached")
    assert snapshot(out) == {}, "a partial export was left"
    assert not list(tmp_path.glob("edgeml-native-*.log"))


def test_calibrate_on_a_full_disk_keeps_the_old_profile(tmp_path, cli):
    out = tmp_path / "cal.toml"
    assert cli(*CAL, "--out", out).code == 0
    before = snapshot(tmp_path)
    res = run_subprocess(*CAL, "--mac-factor", "2", "--out", out, cwd=tmp_path,
                         env={"TMPDIR": str(tmp_path / "systmp")}, preexec=_fsize(1000))
    assert_user_error(res, contains=(f"cannot write {out}", "file size limit"))
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------ the _io layer
def test_staged_writes_change_nothing_when_one_write_fails(tmp_path):
    (tmp_path / "a.txt").write_text("old a\n")
    (tmp_path / "blocker").write_text("a file where a folder would go\n")
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="blocker"), staged_writes():
        atomic_write(tmp_path / "a.txt", "new a\n")
        atomic_write(tmp_path / "blocker" / "b.txt", "b\n")
    assert snapshot(tmp_path) == before  # no temporary file either


def test_staged_writes_commit_in_order_and_unlink_first(tmp_path):
    (tmp_path / "report.json").write_text("{}")
    with staged_writes() as stage:
        stage.unlink_first(tmp_path / "report.json")
        atomic_write(tmp_path / "model.tflite", b"x")
        assert not (tmp_path / "model.tflite").exists()  # not before the block ends
        atomic_write(tmp_path / "report.json", "{\"new\": 1}")
    assert (tmp_path / "model.tflite").read_bytes() == b"x"
    assert json.loads((tmp_path / "report.json").read_text()) == {"new": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite", "report.json"]


def test_atomic_write_never_replaces_a_special_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="not a regular file"):
        atomic_write(fifo, "x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_prepare_output_dir_probe_leaves_nothing(tmp_path):
    prepare_output_dir(tmp_path / "new" / "run")
    assert [p.name for p in (tmp_path / "new" / "run").iterdir()] == []


# ------------------------------------------------------- with a finished run (trains once)
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, small_csv) -> Path:
    """A one-trial run written with --force into a folder that held the user's report.md."""
    from edgeml.cli import main

    run = tmp_path_factory.mktemp("finished") / "run"
    run.mkdir()
    (run / "report.md").write_text("the user's report\n")
    code = main(["search", "--quiet", "--data", str(small_csv), "--trials", "1", "--epochs", "1",
                 "--models", "nn", "--no-ensemble", "--out", str(run), "--force"])
    assert code == 0
    return run


@pytest.mark.slow
def test_search_force_replaces_the_users_file(finished_run):
    assert (finished_run / "report.md").read_text() != "the user's report\n"
    assert (finished_run / "report.json").is_file()


@pytest.mark.slow
def test_compress_on_a_full_disk_leaves_the_run_as_it_was(finished_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = snapshot(run)
    res = run_subprocess("compress", run, "--quiet", "--epochs", "1", cwd=tmp_path,
                         env={"TMPDIR": str(tmp_path)}, preexec=_fsize(20_000))
    assert_user_error(res, contains=("cannot write", "the file size limit was reached"))
    assert snapshot(run) == before  # no new file renamed in, no temporary file left
    assert not list(tmp_path.glob("edgeml-native-*.log"))


def test_resume_of_an_immutable_run_changes_nothing(cli, tmp_path, immutable):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"config": {"seed": 0, "trials": 1, "epochs": 1}}))
    (run / "report.md").write_text("kept\n")
    immutable(run)
    before = snapshot(run)
    res = cli("search", "--quiet", "--resume", run)
    assert_user_error(res, contains=(f"cannot write {run}", "immutable"))
    assert snapshot(run) == before


def test_a_failed_search_with_force_keeps_the_users_files(cli, home, small_csv):
    """--force lets a run replace the user's files when it succeeds; a run that fails
    (here: nothing fits, found before any training) leaves them as they were."""
    (home / "report.md").write_text("the user's report\n")
    before = snapshot(home)
    res = cli("search", "--quiet", "--data", small_csv, "--trials", "1", "--epochs", "1",
              "--max-ram-kb", "0.01", "--out", home, "--force")
    assert_user_error(res, contains="0.0 KB")
    after = snapshot(home)
    assert {k: v for k, v in after.items() if k in before} == before
