"""A run directory written before trials had a type still resumes.

``old_run_a140fde/`` is ``edgeml search --trials 1 --epochs 1 --seed 0`` as written by
edgeml at commit a140fde, stopped after its trial was recorded (the result files
removed, as a kill leaves it). Its trial record also carries ``extra`` and
``fit_calls``, fields earlier versions wrote and nothing reads any more.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "old_run_a140fde"


def test_a_run_written_before_typed_records_resumes(tmp_path, fit_counter):
    from edgeml.estimate import read_graph
    from edgeml.estimate.arena import arena_estimate
    from edgeml.pipeline import resume_search
    from edgeml.targets import load_target

    run = tmp_path / "moved" / "run"            # not where it was written (/tmp/oldrun)
    shutil.copytree(FIXTURE, run)
    record = run / "trials" / "trial_0000.json"
    before = record.read_bytes()
    assert {"extra", "fit_calls"} <= set(json.loads(before))
    with fit_counter() as fits:
        res = resume_search(run)
    assert fits == [], "the recorded trial must be replayed, not trained again"
    rep = res.report
    assert (rep["search"]["replayed"], rep["search"]["trained"]) == (1, 1)
    assert rep["chosen"]["trial_id"] == "00" and rep["pareto"] == ["00"]
    assert not {"extra", "fit_calls"} & set(rep["trials"][0])
    assert record.read_bytes() == before      # finished records are never rewritten
    model = (run / "model.tflite").read_bytes()
    assert model == (FIXTURE / "trials" / "trial_0000" / "model.tflite").read_bytes()
    esp32 = load_target("esp32")  # the run's target: its kernels (ESP-NN) count in the arena
    arena = arena_estimate(model, read_graph(model), pointer_bytes=4, kernels=esp32.kernels,
                           core=esp32.core).bytes
    header = (run / "model_data.h").read_text()
    assert re.search(rf"kTensorArenaMeasured = {arena};", header), header
    assert "| 00 | trained |" in (run / "report.md").read_text()
