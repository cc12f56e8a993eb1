"""One-line errors of the search command's own flags (no training involved)."""

from __future__ import annotations

import pytest

from edgeml.cli import main


@pytest.mark.parametrize("args, message", [
    (["--resume", "{tmp}/nope"], "{tmp}/nope: no such directory"),
    (["--resume", "{tmp}"], "not an edgeml run directory (no run.json)"),
    (["--resume", "{tmp}", "--target", "esp32"], "--resume takes the run's settings from "
                                                  "{tmp}/run.json; drop --target"),
    (["--space", "{tmp}/missing.py", "--out", "{tmp}/run"], "space file '{tmp}/missing.py' "
                                                            "does not exist"),
    (["--target", "esp32,esp99", "--out", "{tmp}/run"], "unknown target 'esp99'"),
    (["--workers", "0", "--out", "{tmp}/run"], "--workers must be at least 1 worker (got 0"),
    (["--accuracy-tolerance", "1.5", "--out", "{tmp}/run"], "--accuracy-tolerance must be at least 0 and "
                                                             "less than 1 (got 1.5)"),
])
def test_search_flag_errors_are_one_line(tmp_path, capfd, args, message):
    code = main(["search", *[a.format(tmp=tmp_path) for a in args]])
    err = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    assert code == 2
    assert err[-1].startswith("edgeml: error: ") and message.format(tmp=tmp_path) in err[-1], err
    assert not (tmp_path / "run").exists()


def test_unknown_objective_is_refused_by_the_parser_in_one_line(capfd):
    assert main(["search", "--objective", "speed"]) == 2
    err = capfd.readouterr().err.splitlines()
    assert err == ["edgeml: error: --objective: unknown value 'speed'; use one of: accuracy, "
                   "latency, energy, size; see edgeml search --help"], err


def test_the_console_adds_up_trainings_that_run_at_once():
    """Events of several trial slots arrive from their threads, interleaved: the bar shows
    the trainings done plus each running training's share."""
    import threading

    from edgeml.cli.search import _SearchConsole

    con = _SearchConsole(quiet=True, total=6)
    con("progress", {"budget_used": 2.0, "best": 0.5})

    def slot(tid: str) -> None:
        con("train", {"trial_id": tid, "budget_used": 2.0, "units": 1.0})
        for epoch in range(1, 201):
            con("epoch", {"trial_id": tid, "epoch": epoch, "epochs": 400})

    threads = [threading.Thread(target=slot, args=(str(i),)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert con.used + con._running() == 2.0 + 4 * 0.5


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_edgeml_workers_is_refused_in_one_line(tmp_path, capfd, monkeypatch, value):
    monkeypatch.setenv("EDGEML_WORKERS", value)
    assert main(["search", "--out", str(tmp_path / "run")]) == 2
    err = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    assert err[-1].startswith(f"edgeml: error: EDGEML_WORKERS={value!r} is not a number of "
                              "workers"), err
    assert not (tmp_path / "run").exists()


def test_edgeml_workers_is_the_default_for_workers(monkeypatch):
    """$EDGEML_WORKERS replaces the one-per-core default; a space that must run in the
    search process still gets one slot."""
    from types import SimpleNamespace

    from edgeml.search.worker import cpu_cores, default_workers

    ctx = SimpleNamespace(space=SimpleNamespace(recipe=("builtin", "mlp")))
    monkeypatch.setenv("EDGEML_WORKERS", "3")
    assert default_workers(ctx) == 3
    assert default_workers(ctx, isolate=False) == 1
    monkeypatch.setenv("EDGEML_WORKERS", " ")
    assert 1 <= default_workers(ctx) <= cpu_cores()
    monkeypatch.delenv("EDGEML_WORKERS")
    assert 1 <= default_workers(ctx) <= cpu_cores()
