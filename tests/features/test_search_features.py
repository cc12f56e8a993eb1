"""edgeml search through the feature stage, end to end on real IMU recordings: the run's
exported edgeml_features.c turns raw test windows into exactly the int8 input the model was tested
on, and the joint search tries every feature candidate under the target budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
from c_harness import run_c
from realdata import write_imu_folder

from edgeml.data.sources import load_recordings
from edgeml.features import FittedFeatures, quantize, split_groups, transform
from edgeml.features.windows import cut
from edgeml.pipeline import SearchConfig, resume_search, run_search
from edgeml.targets import load_target


@pytest.fixture(scope="module")
def imu(tmp_path_factory):
    return write_imu_folder(tmp_path_factory.mktemp("d") / "imu", per_class=6)


@pytest.mark.slow
def test_search_on_recordings_exports_features_that_match(imu, tmp_path):
    out = tmp_path / "run"
    res = run_search(SearchConfig(target="nrf52840", data=str(imu), features="fft", window=32,
                                  trials=1, epochs=3, out=str(out), models="nn",
                                  ensemble=False))
    rep = res.report
    feat = rep["features"]
    assert feat["split"]["unit"] == "recording"
    cost = feat["cost"]["nrf52840"]
    plain = load_target("nrf52840")
    assert rep["target"]["model_flash_budget_kb"] == \
        round((plain.model_flash_budget - cost["flash_bytes"]) / 1024, 1)
    assert rep["target"]["arena_budget_kb"] == round((plain.arena_budget - cost["ram_bytes"]) / 1024, 1)
    fitted = FittedFeatures.from_dict(feat["fitted"])
    assert (out / "edgeml_features.c").exists() and fitted.spec.kind == "fft"
    # the raw test windows, cut as the split cut them
    recs = load_recordings(imu)
    test = split_groups(recs, seed=0, val_fraction=0.15, test_fraction=0.2)["test"]
    raw = np.concatenate([cut(recs.signals[i], 32, fitted.spec.hop, where="") for i in test])
    files = {n: (out / n).read_bytes() for n in ("edgeml_features.c", "edgeml_features.h")}
    _, q_c = run_c(files, raw, tmp_path)
    from edgeml.tflite.graph import read_graph

    inp = read_graph((out / "model.tflite").read_bytes()).input(0)
    q_py = quantize(transform(fitted, raw).reshape(len(raw), -1), inp.scale, inp.zero_point)
    diff = np.abs(q_c.astype(int) - q_py.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99
    assert json.loads((out / "report.json").read_text())["features"]["spec"]["kind"] == "fft"


@pytest.mark.slow
def test_joint_feature_search_tries_each_candidate_and_resumes(imu, tmp_path):
    out = tmp_path / "joint"
    events: list[str] = []
    res = run_search(SearchConfig(target="nrf52840", data=str(imu), trials=3,
                                  epochs=2, out=str(out), models="nn", ensemble=False),
                     on_event=lambda kind, rec: events.append(kind))
    fsr = res.report["feature_search"]
    kinds = [r["kind"] for r in fsr["candidates"]]
    assert kinds == ["stats", "fft", "raw"] and fsr["trials_per_candidate"] == 1
    chosen = [r for r in fsr["candidates"] if r["chosen"]]
    assert len(chosen) == 1 and chosen[0]["kind"] == fsr["chosen"]
    best = max(r["int8_val_accuracy"] for r in fsr["candidates"] if r["status"] == "trained")
    assert chosen[0]["int8_val_accuracy"] == best
    for r in fsr["candidates"]:
        assert r["costs"]["model_bytes"] >= r["feature_cost"]["flash_bytes"]
    assert res.report["features"]["spec"]["kind"] == fsr["chosen"]
    assert (out / "edgeml_features.c").exists() and (out / "model.tflite").exists()
    assert events.count("feature_candidate") == 3
    # each kind's window was chosen among variants by the proxy, and its run used that spec
    for r in fsr["candidates"]:
        variants = r["variants"]
        assert len(variants) >= 3 and sum(v["chosen"] for v in variants) == 1
        chosen_spec = next(v["spec"] for v in variants if v["chosen"])
        sub = json.loads((out / "features" / r["kind"] / "run.json").read_text())
        assert sub["config"]["feature_spec"] == chosen_spec
    assert events.count("feature_tuning") == 3
    assert "fast proxy" in (out / "report.md").read_text()
    # only the chosen candidate is retrained on train + validation, once
    assert events.count("refit") == 1 and res.report["chosen"]["refit"]["enabled"]
    for r in fsr["candidates"]:
        sub = json.loads((out / "features" / r["kind"] / "report.json").read_text())
        assert sub["chosen"]["refit"]["enabled"] == r["chosen"]
    again = resume_search(out)  # finished candidates are not trained again
    assert again.report["feature_search"]["chosen"] == fsr["chosen"]
    assert again.report["chosen"]["trial_id"] == res.report["chosen"]["trial_id"]
