"""Several trial slots at once (``--workers N``): trainings overlap, the random strategy
draws what one slot draws, the budget is never overshot, and a kill -9 loses only the
trials that were running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _run(tmp: Path, name: str, space: Path, *, workers: int, strategy: str = "random",
         trials: int = 4, events: list | None = None):
    from edgeml.pipeline import SearchConfig, run_search

    # plain random draws (--proposals 1): budget-aware proposals learn from the checks
    # finished so far, whose order depends on the number of workers
    cfg = SearchConfig(trials=trials, epochs=1, seed=5, strategy=strategy, space=str(space),
                       out=str(tmp / name), models="nn", ensemble=False, workers=workers,
                       proposals=1)

    def on_event(kind, rec):
        if events is not None:
            events.append((time.monotonic(), kind, rec))

    return run_search(cfg, on_event=on_event)


def _count_workers(monkeypatch) -> list[int | None]:
    """Every worker process started in this process: its TensorFlow threads (None: all)."""
    from edgeml.search.worker import WorkerRunner

    started: list[int | None] = []
    real = WorkerRunner.__init__

    def spy(self, ctx, **kwargs):
        started.append(kwargs.get("threads"))
        real(self, ctx, **kwargs)

    monkeypatch.setattr(WorkerRunner, "__init__", spy)
    return started


def test_two_workers_train_at_once_and_draw_what_one_draws(tmp_path, mlp_space, monkeypatch):
    from edgeml.search.worker import cpu_cores

    events: list = []
    started = _count_workers(monkeypatch)
    two = _run(tmp_path, "two", mlp_space, workers=2, events=events)
    # two slots of one thread each; slot 0's worker retrains the chosen model (no other
    # worker is started for it)
    assert started == [max(1, cpu_cores() // 2)] * 2, started
    started.clear()
    one = _run(tmp_path, "one", mlp_space, workers=1)
    assert started == [None], started  # one slot: its worker retrains the chosen model
    rep2, rep1 = two.report, one.report
    assert rep2["chosen"]["refit"]["shipped"] and rep1["chosen"]["refit"]["shipped"], (rep2["chosen"]["refit"], rep1["chosen"]["refit"])
    assert rep2["search"]["trained"] == rep1["search"]["trained"] == 4
    assert rep2["search"]["budget_used"] == 4  # never more trainings than --trials

    def drawn(rep):
        return {t["trial_id"]: t["hyperparameters"] for t in rep["trials"]}

    assert drawn(rep2) == drawn(rep1)  # the seed fixes the random draws, any slot count

    # the trainings overlapped: one started before another had ended
    start = {rec["trial_id"]: at for at, kind, rec in events if kind == "train"}
    end = {rec.trial_id: at for at, kind, rec in events if kind == "trained"}
    assert set(start) == set(end) and len(start) == 4
    spans = sorted((start[t], end[t]) for t in start)
    assert any(b0 < a1 for (a0, a1), (b0, b1) in zip(spans, spans[1:], strict=False)), spans

    trials2 = [t for t in rep2["trials"] if t["status"] == "trained"]
    assert len({t["worker"] for t in trials2}) == 2  # both slots trained
    assert all(t["wait_seconds"] >= 0 for t in trials2)
    assert all(t["worker"].endswith("/0") for t in rep1["trials"])
    assert all("order" not in t for t in rep1["trials"])  # one slot: the plain order
    md = (two.run_dir / "report.md").read_text()
    assert "| worker |" in md and trials2[0]["worker"] in md


def _trial_records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("trials/trial_*.json"))]


def test_resume_after_kill_9_of_a_two_worker_bayesian_search(tmp_path, mlp_space, fit_counter):
    """kill -9 a 2-slot Bayesian search; the resume replays the finished trials in the
    order the oracle saw them (its draws depend on it), reruns only the cut-off ones."""
    from edgeml.pipeline import resume_search

    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "edgeml", "search", "--models", "nn", "--no-ensemble",
           "--trials", "6", "--epochs", "2", "--seed", "4", "--strategy", "bayesian",
           "--space", str(mlp_space), "--out", str(out), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    deadline = time.time() + 300
    while True:
        recs = _trial_records(out)
        if sum(r["status"] == "trained" for r in recs) >= 3:
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
              for p in out.glob("trials/trial_*.json")}
    n_before = sum(1 for data, _ in before.values() if json.loads(data)["status"] == "trained")
    assert not (out / "report.json").exists()

    with fit_counter() as fits:  # in this process: one slot
        res = resume_search(out)
    rep = res.report
    done = [t for t in rep["trials"] if t["status"] == "trained"]
    assert len(done) == 6 and rep["search"]["replayed"] == len(before)
    assert len(fits) == 6 - n_before + 1  # only the missing trials, then the final retrain
    for name, (data, mtime) in before.items():       # finished records were not rewritten
        p = out / "trials" / name
        assert p.read_bytes() == data and p.stat().st_mtime_ns == mtime
    assert (out / "report.json").exists()


def test_a_gap_in_the_records_is_filled_on_resume(tmp_path, mlp_space, fit_counter):
    """Trial k stored while an earlier one was still running when the run was cut off:
    the resume draws the earlier one again and trains it, and replays k and the others in
    the recorded order (Bayesian: its draws depend on that order). The cut-off trial's
    values are redrawn: they are the original ones unless the oracle's view when it was
    drawn cannot be told from the records (the Bayesian oracle after its random start)."""
    from edgeml.pipeline import resume_search

    run = _run(tmp_path, "gap", mlp_space, workers=2, strategy="bayesian", trials=5)
    recs = _trial_records(run.run_dir)

    def ended(r):
        return (r.get("order") or [int(r["trial_id"])] * 2)[1]

    last = max(recs, key=ended)  # the last to end: no other record counts its end
    later = [r for r in recs if int(r["trial_id"]) > int(last["trial_id"])]
    (run.run_dir / "trials" / f"trial_{int(last['trial_id']):04d}.json").unlink()
    (run.run_dir / "report.json").unlink()
    with fit_counter() as fits:
        res = resume_search(run.run_dir)
    rep = res.report
    assert len(fits) == 2 and rep["search"]["trained"] == 5  # the cut-off trial + the retrain
    redone = next(t for t in rep["trials"] if t["trial_id"] == last["trial_id"])
    assert redone["status"] == "trained" and rep["search"]["replayed"] == 4
    # a later trial stored: the records had a gap, and the replay went around it
    by_id = {t["trial_id"]: t for t in rep["trials"]}
    for r in later:
        assert by_id[r["trial_id"]]["hyperparameters"] == r["hyperparameters"]



def test_the_classical_stage_runs_while_the_last_network_trains(tmp_path, mlp_space):
    """Two slots, one training: the idle slot's core goes to the classical search at once;
    the trained network's validation outputs are kept for the ensemble stage."""
    import numpy as np

    from edgeml.pipeline import SearchConfig, run_search
    from edgeml.tflite.int8 import PROBA_FILE

    events: list = []
    cfg = SearchConfig(trials=1, epochs=2, seed=5, space=str(mlp_space), out=str(tmp_path / "r"),
                       models="nn,tree", workers=2, proposals=1, refit=False)
    res = run_search(cfg, on_event=lambda kind, rec: events.append((kind, rec)))
    kinds = [k for k, _ in events]
    assert kinds.index("classical_start") < kinds.index("trained"), kinds
    assert events[kinds.index("classical_start")][1]["during_search"] is True
    rep = res.report
    assert [t["family"] for t in rep["trials"] if t.get("family") == "tree"]
    assert 0 <= rep["seconds"]["classical_waited"] <= rep["seconds"]["classical"] + 0.5
    nets = [t for t in rep["trials"] if t["status"] == "trained" and not t.get("family")]
    assert len(nets) == 1
    with np.load(Path(nets[0]["tflite"]).parent / PROBA_FILE) as kept:
        assert kept["proba"].shape == (rep["dataset"]["val"], len(rep["dataset"]["classes"]))
