"""Trial slots on a Ray cluster (``--cluster``): a chief with two 1-CPU worker nodes on
loopback; an actor killed mid-training loses only that attempt (its trial runs again on a
fresh actor), and a kill -9 of the chief resumes like a local run."""

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

# The first training of a run kills its own process (the Ray actor) with SIGKILL, once:
# the counter file is shared by the loopback nodes.
DIES_ONCE = '''
"""MLP on the flattened image; the first training of a run dies by SIGKILL."""
import os
import signal
from pathlib import Path

import tf_keras as keras

COUNTER = Path({counter!r})


class DieOnce(keras.Model):
    def train_step(self, data):
        if not COUNTER.exists():
            COUNTER.write_text("1")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().train_step(data)


def build(hp):
    units = hp.Choice("units", [16, 32, 64])
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Dense(10, name="logits")(x)
    model = DieOnce(inputs, keras.layers.Softmax(name="probs")(x))
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 3e-3, 1e-2)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
'''


@pytest.fixture(scope="module")
def cluster():
    """A Ray head with no CPUs (so no trial runs beside the chief) and two 1-CPU nodes."""
    from ray.cluster_utils import Cluster

    # the nodes' workers import edgeml from this checkout, as an installed edgeml would be
    path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), path) if p)
    store = 80 * 1024 * 1024
    c = Cluster(initialize_head=True, connect=False,
                head_node_args={"num_cpus": 0, "include_dashboard": False,
                                "object_store_memory": store})
    try:
        for _ in range(2):
            c.add_node(num_cpus=1, object_store_memory=store)
        c.wait_for_nodes()
        yield c.address
    finally:
        c.shutdown()
        os.environ["PYTHONPATH"] = path


def test_a_killed_actor_reruns_its_trial_on_a_fresh_one(cluster, tmp_path):
    from edgeml.pipeline import SearchConfig, run_search
    from edgeml.records import RunDir

    counter = tmp_path / "died"
    space = tmp_path / "dies_once.py"
    space.write_text(DIES_ONCE.replace("{counter!r}", repr(str(counter))))
    cfg = SearchConfig(trials=3, epochs=1, seed=0, space=str(space), out=str(tmp_path / "run"),
                       models="nn", ensemble=False, cluster=cluster)
    events: list = []
    res = run_search(cfg, on_event=lambda kind, rec: events.append((kind, rec)))
    assert counter.exists(), "the first training should have killed its actor"
    search = res.report["search"]
    assert (search["trained"], search["failed"], search["retried"]) == (3, 0, 1)
    assert search["budget_used"] == 3
    trials = RunDir.open(res.run_dir).trials().load().values()
    (again,) = [t for t in trials if t.retried]
    assert again.trained and "Ray actor of trial slot" in again.retried[0]
    assert {t.worker.rsplit("/", 1)[1] for t in trials} == {"0", "1"}  # two slots ran
    assert any(kind == "retry" for kind, _ in events)
    for t in trials:  # models came back by value into the run directory
        assert Path(t.tflite).is_file() and Path(t.keras).is_file()


def test_kill_9_of_the_chief_then_resume(cluster, tmp_path, mlp_space):
    from edgeml.pipeline import resume_search

    out = tmp_path / "run"
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "edgeml", "search", "--models", "nn", "--no-ensemble",
           "--trials", "3", "--epochs", "1", "--seed", "1", "--space", str(mlp_space),
           "--out", str(out), "--cluster", cluster, "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    deadline = time.time() + 240
    while not any(json.loads(p.read_text())["status"] == "trained"
                  for p in out.glob("trials/trial_*.json")):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.read_bytes() for p in out.glob("trials/trial_*.json")}
    res = resume_search(out)
    rep = res.report
    assert rep["search"]["trained"] == 3 and rep["search"]["replayed"] == len(before)
    for name, data in before.items():
        assert (out / "trials" / name).read_bytes() == data
    assert (out / "report.json").is_file()


def test_an_unreachable_cluster_is_one_line(tmp_path, capfd):
    import socket

    from edgeml.cli import main

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["search", "--cluster", f"127.0.0.1:{port}", "--trials", "1", "--epochs", "1",
                 "--models", "nn", "--out", str(tmp_path / "run")])
    err = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    assert code == 2
    assert err[-1].startswith(f"edgeml: error: cannot reach the Ray cluster at 127.0.0.1:{port}"), err
    assert "ray start --head --port PORT" in err[-1]
