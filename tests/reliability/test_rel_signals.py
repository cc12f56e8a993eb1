"""Crashes and signals: TFLite Micro killing its child process is reported as what it
is; a search killed with SIGKILL resumes; Ctrl-C (SIGINT to the whole process group, as a
terminal sends it) is one line naming --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from relkit import REPO, run_subprocess, snapshot

from edgeml.errors import ModelError


@pytest.fixture(scope="module")
def wide_softmax() -> bytes:
    """An int8 model ending in SOFTMAX over 600 classes whose logits are all alike: the
    row's exponentials sum past 512 and TFLM's kernel aborts (no training needed)."""
    from edgeml._tf import keras, set_seed
    from edgeml.compress import to_int8_tflite

    k = keras()
    set_seed(0)
    model = k.Sequential([k.layers.Input((4,)), k.layers.Dense(8, activation="relu"),
                          k.layers.Dense(600, activation="softmax")])
    w, b = model.layers[-1].get_weights()
    rng = np.random.default_rng(0)
    model.layers[-1].set_weights([1e-4 * rng.normal(size=w.shape), np.zeros_like(b)])
    return to_int8_tflite(model, rng.uniform(size=(64, 4)).astype(np.float32))


def test_tflm_abort_names_the_signal_and_the_operator(wide_softmax):
    from edgeml.tflite.tflm import run_tflm, tflm_available

    if not tflm_available():
        pytest.skip("tflite-micro is not installed here")
    with pytest.raises(ModelError) as exc:
        run_tflm(wide_softmax)
    msg = str(exc.value)
    assert "SIGABRT (signal 6) in SOFTMAX over 600 classes" in msg, msg
    assert "\n" not in msg


def test_tflm_abort_in_a_batch_names_it_too(wide_softmax):
    from edgeml.tflite.tflm import run_tflm_batch, tflm_available

    if not tflm_available():
        pytest.skip("tflite-micro is not installed here")
    (res,) = run_tflm_batch([wide_softmax], bisect=False)
    assert isinstance(res, ModelError) and "SIGABRT" in str(res) and "SOFTMAX" in str(res)


def test_profile_of_a_model_that_crashes_tflm_is_one_line(cli, tmp_path, wide_softmax):
    p = tmp_path / "wide.tflite"
    p.write_bytes(wide_softmax)
    res = cli("profile", p, "--target", "esp32", "--json")
    # profile falls back to the analytic arena and says why TFLM could not run the model
    assert res.code == 0 and not res.err_lines, res.err
    notes = " ".join(json.loads(res.out)["notes"])
    assert "SIGABRT (signal 6) in SOFTMAX over 600 classes" in notes, notes


# ------------------------------------------------------------------------------ signals
def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["TMPDIR"] = str(cwd)
    # Ctrl-C as a terminal delivers it, even when the tests themselves run in the background
    # of a shell without job control (there SIGINT is ignored, and children inherit that)
    return subprocess.Popen([sys.executable, "-m", "edgeml", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(path_glob: str, root: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    t0 = time.monotonic()
    while not list(root.glob(path_glob)):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the search ended before {path_glob} appeared: {err[-2000:]}")
        if time.monotonic() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"{path_glob} did not appear in {timeout} s")
        time.sleep(0.2)


SEARCH = ["search", "--quiet", "--models", "nn", "--no-ensemble", "--trials", "2", "--epochs",
          "2", "--seed", "3"]


@pytest.mark.slow
def test_sigkill_then_resume_finishes_the_run(tmp_path, small_csv):
    run = tmp_path / "run"
    proc = _start([*SEARCH, "--data", str(small_csv), "--out", str(run)], tmp_path)
    _wait_for("run/trials/trial_*.json", tmp_path, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    kept = snapshot(run / "trials")
    assert not (run / "report.json").exists()
    res = run_subprocess("search", "--quiet", "--resume", run, cwd=tmp_path,
                         env={"TMPDIR": str(tmp_path)})
    assert res.code == 0, res.err
    assert (run / "report.json").is_file() and (run / "model_data.h").is_file()
    after = snapshot(run / "trials")
    for name, digest in kept.items():  # finished trial records are kept as they were
        if name.endswith(".json"):
            assert after.get(name) == digest, name
    assert not list(tmp_path.glob("edgeml-native-*.log"))


@pytest.mark.slow
def test_ctrl_c_is_one_line_naming_resume(tmp_path, small_csv):
    run = tmp_path / "run"
    # a budget the search cannot finish in the second before Ctrl-C (the last --trials wins)
    proc = _start([*SEARCH, "--trials", "50", "--data", str(small_csv), "--out", str(run)],
                  tmp_path)
    _wait_for("run/trials", tmp_path, proc)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: every process of the group
    out, err = proc.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert lines == [f"edgeml: error: interrupted; finished trials are saved; resume with: "
                     f"edgeml search --resume {run}"], lines
    assert not (run / "report.json").exists()
    assert not list(tmp_path.glob("edgeml-native-*.log"))


# --------------------------------------------------------------------- the native log
def test_native_log_is_kept_only_for_an_internal_error(monkeypatch, capfd, private_tmp):
    """A bug (not a user error) keeps the log of native messages and names it; the log has
    no name while edgeml runs, so a killed process leaves none."""
    import edgeml.cli.targets as targets_cmd
    from edgeml.cli import main

    def boom(args):
        os.write(2, b"native: something went wrong\n")
        assert not list(private_tmp.glob("edgeml-native-*.log"))  # unnamed while running
        raise ValueError("a bug")

    monkeypatch.setattr(targets_cmd, "run", boom)
    with pytest.raises(ValueError):
        main(["targets"])
    err = capfd.readouterr().err
    (log,) = private_tmp.glob("edgeml-native-*.log")
    assert f"internal error; native library messages are in {log}" in err
    assert log.read_text() == "native: something went wrong\n"
