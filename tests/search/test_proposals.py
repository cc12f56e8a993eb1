"""Budget-aware proposals (screened drafts) and warm starts (knowledge base, portfolio)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from edgeml.estimate import Limits
from edgeml.search import proposals

DIGITS_LIMITS = Limits(max_arena_bytes=3 * 1024, max_model_bytes=8 * 1024)


# --------------------------------------------------------------------------- the predictor
def test_choose_proposes_the_draft_with_the_largest_expected_share_of_the_budget():
    limits = {"model_bytes": 8192.0, "arena_bytes": 3072.0}

    def draft(model_share: float, arena_share: float) -> dict[str, Any]:
        """A screen predicted to use these shares of the limits (no calibration)."""
        ops, channels = 5, 60
        params = model_share * limits["model_bytes"] - (407.0 * ops + 22.75 * channels + 294.0)
        act = (arena_share * limits["arena_bytes"] - (111.0 * ops + 10.4 * channels + 1339.0)) \
            / 0.58
        return {"params": params, "activation_bytes": act, "ops": ops, "channels": channels}

    small, near, edge, over = draft(0.5, 0.5), draft(0.9, 0.8), draft(0.99, 0.99), \
        draft(1.6, 0.9)
    assert proposals.use(near, limits)["arena_bytes"] == pytest.approx(0.8, abs=1e-3)
    # the edge of the budget breaks a limit about half the time: the draft a little
    # further in is worth more, and far more than the small one
    assert proposals.fit_chance(proposals.use(edge, limits)) < 0.6
    assert proposals.fit_chance(proposals.use(near, limits)) > 0.8
    assert proposals.choose([small, over, edge, near, None], limits) == 3
    assert proposals.choose([small, over, None], limits) == 0
    # a search whose checks measured exactly what was predicted trusts the edge more
    exact = [(d, proposals.predict(d)) for d in (small, near, draft(0.7, 0.6))] * 4
    sigma = proposals.spread(exact)
    assert sigma["arena_bytes"] < 0.5 * proposals.SPREAD["arena_bytes"]
    closer = draft(0.9, 0.9)
    assert proposals.choose([small, closer, near], limits) == 2
    assert proposals.choose([small, closer, near], limits, sigma=sigma) == 1
    # all over a limit: the smallest is proposed (the exact check decides), not the first
    assert proposals.choose([over, draft(3.0, 3.0), draft(1.3, 1.2)], limits) == 2
    assert proposals.choose([None, None], limits) == 0
    # an architecture checked already is judged by its exact costs
    gone = {proposals.architecture(near): {"model_bytes": 9000, "arena_bytes": 1000}}
    assert proposals.choose([small, near], limits, known=gone) == 0
    fits = {proposals.architecture(edge): {"model_bytes": 8100, "arena_bytes": 3000}}
    assert proposals.choose([small, edge, near], limits, known=fits) == 1


def test_calibration_scales_predictions_to_what_the_exact_checks_measured():
    screen = {"params": 4000, "activation_bytes": 800, "ops": 5, "channels": 40}
    pred = proposals.predict(screen)
    scale = proposals.calibration([(screen, {"model_bytes": 1.2 * pred["model_bytes"],
                                             "arena_bytes": 0.5 * pred["arena_bytes"]})])
    assert scale == pytest.approx({"model_bytes": 1.2, "arena_bytes": 0.5}, rel=1e-3)
    assert proposals.predict(screen, scale)["model_bytes"] == pytest.approx(
        1.2 * pred["model_bytes"], rel=1e-3)
    assert proposals.calibration([]) == {}


def test_screen_counts_parameters_macs_and_activations_of_a_real_model():
    from edgeml._tf import keras
    from edgeml.search.worker import screen_model

    k = keras()
    inputs = k.Input(shape=(8, 8, 1))
    x = k.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)   # 8x8x4 out
    x = k.layers.BatchNormalization()(x)
    x = k.layers.ReLU()(x)
    x = k.layers.Flatten()(x)
    out = k.layers.Dense(10)(x)
    s = screen_model(k.Model(inputs, out))
    k.backend.clear_session()
    assert s["params"] == 36 + 16 + 256 * 10 + 10
    assert s["macs"] == 8 * 8 * 4 * 9 + 256 * 10
    assert s["activation_bytes"] == 256 + 256  # the flatten (a RESHAPE): 256 in, 256 out
    assert s["ops"] == 3 and s["channels"] == 14  # conv, flatten, dense; 4 + 10 channels


# --------------------------------------------------------------------------- warm-start values
def test_warm_start_values_outside_the_space_are_rejected():
    from keras_tuner.engine.base_tuner import BaseTuner

    from edgeml.data import InputKind
    from edgeml.search import build_space, make_oracle
    from edgeml.search.oracles import resolve_values

    space = build_space(InputKind.IMAGE, (8, 8, 1), 10)
    oracle = make_oracle("random", max_draws=10, seed=0)
    BaseTuner(oracle=oracle, hypermodel=space.build, directory="/tmp/edgeml-test-unused",
              overwrite=True)
    hps = oracle.hyperparameters
    good = resolve_values(hps, {"arch": "conv", "width": 2.0, "kernel": 5, "downscale": 2})
    assert good is not None and good["width"] == 2.0 and good["kernel"] == 5
    assert "downscale" not in good and "dw_kernel" not in good  # not in (or inactive in) it
    assert good["depth"] == hps.get("depth")  # missing: the default
    assert resolve_values(hps, {"width": 3.0}) is None      # not a choice
    assert resolve_values(hps, {"depth": 9}) is None        # out of range
    assert resolve_values(hps, {"arch": "mlp"}) is None
    assert resolve_values(hps, {"lr": 0.5}) is None


# --------------------------------------------------------------------------- knowledge base
def _entry(values: list[dict[str, Any]], *, kind: str = "image", shape=(8, 8, 1),
           space: str = "image") -> dict[str, Any]:
    return {"version": 1, "data": {"kind": kind, "input_shape": list(shape), "classes": 10,
                                   "samples": 1077, "name": "digits"},
            "budget": {"target": "esp32", "model_bytes": 8192, "arena_bytes": 3072},
            "space": space,
            "top": [{"values": v, "int8_val_accuracy": 0.9 - 0.01 * i}
                    for i, v in enumerate(values)]}


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache directory and an empty portfolio."""
    monkeypatch.setenv("EDGEML_CACHE_DIR", str(tmp_path / "cache"))
    portfolio = tmp_path / "portfolio.json"
    portfolio.write_text(json.dumps({"entries": []}))
    monkeypatch.setenv("EDGEML_PORTFOLIO", str(portfolio))
    (tmp_path / "cache" / "knowledge").mkdir(parents=True)
    return tmp_path / "cache" / "knowledge"


def test_warm_start_ranks_similar_runs_first_and_skips_corrupt_files(cache, tmp_path,
                                                                     monkeypatch):
    from edgeml.data import load_dataset
    from edgeml.search.knowledge import warm_start_configs
    from edgeml.targets import load_target

    near = _entry([{"width": 2.0}, {"width": 1.0}])
    far = _entry([{"width": 0.5}])
    far["data"]["samples"] = 4000       # distance 0.5 * log(4000 / 1077)
    too_far = _entry([{"depth": 3}], shape=(28, 28, 1))  # 12x the input: not used
    too_far["data"]["samples"] = 4000
    other_kind = _entry([{"units0": 16}], kind="tabular", shape=(10,), space="tabular")
    (cache / "a-far.json").write_text(json.dumps(far))
    (cache / "a-too-far.json").write_text(json.dumps(too_far))
    (cache / "b-near.json").write_text(json.dumps(near))
    (cache / "c-tabular.json").write_text(json.dumps(other_kind))
    (cache / "d-corrupt.json").write_text("{not json")
    (cache / "e-malformed.json").write_text(json.dumps({"data": {}}))
    portfolio = tmp_path / "portfolio.json"
    portfolio.write_text(json.dumps({"entries": [_entry([{"width": 1.0, "depth": 2}])]}))
    warnings: list[str] = []
    ds = load_dataset("digits")
    got = warm_start_configs(ds.summary(), [load_target("esp32")], DIGITS_LIMITS,
                             space_name="image", on_warning=warnings.append)
    assert [c["values"] for c in got] == [{"width": 2.0}, {"width": 1.0},
                                          {"width": 1.0, "depth": 2}, {"width": 0.5}]
    assert [c["origin"] for c in got] == ["knowledge-base", "knowledge-base", "portfolio",
                                          "knowledge-base"]
    assert len(warnings) == 2 and "d-corrupt.json" in warnings[0] and "e-malformed" in warnings[1]
    monkeypatch.setenv("EDGEML_PORTFOLIO", str(tmp_path / "missing.json"))
    warnings.clear()
    warm_start_configs(ds.summary(), [load_target("esp32")], DIGITS_LIMITS, space_name="image",
                       on_warning=warnings.append)
    assert any("missing.json" in w for w in warnings)


# --------------------------------------------------------------------------- real searches
def _search(out: Path, **kw: Any) -> tuple[Any, list[tuple[str, Any]]]:
    from edgeml.pipeline import SearchConfig, run_search

    events: list[tuple[str, Any]] = []
    # no final retrain: these searches are about which candidates are proposed
    opts = dict(target="esp32", trials=3, epochs=1, seed=0, models="nn", ensemble=False,
                refit=False, out=str(out), limits=DIGITS_LIMITS)
    opts.update(kw)
    res = run_search(SearchConfig(**opts), on_event=lambda k, r: events.append((k, r)))
    return res, events


def _trained(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in report["trials"] if t["status"] == "trained"]


@pytest.mark.slow
def test_proposals_train_models_that_use_more_of_the_budget_and_replay_on_resume(cache,
                                                                                  tmp_path):
    """Same seed, same trial count: K=6 screened drafts train candidates that use more of the
    arena and flash than plain draws; the same seed proposes the same candidates; a search
    cut off before its last trial resumes by replaying, without screening again."""
    limits = Limits(max_arena_bytes=6 * 1024, max_model_bytes=24 * 1024)
    plain, _ = _search(tmp_path / "k1", proposals=1, warm_start=False, limits=limits)
    screened, _ = _search(tmp_path / "k6", proposals=6, warm_start=False, limits=limits)

    def use(rep: dict[str, Any]) -> float:
        """Mean share of the budget (arena and model bytes together) the trained models use."""
        rows = _trained(rep)
        return sum(t["costs"]["arena_bytes"] / limits.max_arena_bytes
                   + t["costs"]["model_bytes"] / limits.max_model_bytes for t in rows) \
            / (2 * len(rows))

    assert len(_trained(plain.report)) == len(_trained(screened.report)) == 3
    assert use(screened.report) > use(plain.report) + 0.1, (use(screened.report),
                                                           use(plain.report))
    assert all(t.get("screen") is None for t in plain.report["trials"])
    for t in screened.report["trials"]:
        assert t["screen"]["drafts"] == 6 and set(t["screen"]["predicted"]) == {
            "model_bytes", "arena_bytes"}
    assert (tmp_path / "k6" / "screens.json").is_file()

    # interrupt: the last finished trial's record and the result files are gone
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "k6", cut)
    last = max(cut.glob("trials/trial_*.json"))
    last.unlink()
    (cut / "report.json").unlink()
    from edgeml.pipeline import resume_search

    again = resume_search(cut)
    assert [t["hyperparameters"] for t in again.report["trials"]] == \
        [t["hyperparameters"] for t in screened.report["trials"]]
    assert again.report["search"]["replayed"] == len(screened.report["trials"]) - 1
    assert again.report["seconds"]["screen"] == 0.0  # its drafts' screens were cached

    # the same seed proposes the same candidates in a new run
    twin, _ = _search(tmp_path / "k6b", proposals=6, warm_start=False, limits=limits)
    assert [t["hyperparameters"] for t in twin.report["trials"]] == \
        [t["hyperparameters"] for t in screened.report["trials"]]


@pytest.mark.slow
def test_warm_start_proposes_the_knowledge_base_first_and_is_off_when_asked(cache, tmp_path):
    invalid = {"arch": "conv", "width": 3.0}  # not a width of the space: skipped
    wanted = {"arch": "conv", "width": 0.5, "depth": 2, "kernel": 3, "reduce": "maxpool",
              "head": "gap", "lr": 0.004, "batch_size": 32, "dropout": 0.1}
    (cache / "run.json").write_text(json.dumps(_entry([invalid, wanted])))
    (cache / "zz-corrupt.json").write_text("\x00\x01 not json")

    res, events = _search(tmp_path / "warm", proposals=1)
    first = res.report["trials"][0]
    assert first["origin"] == "knowledge-base"
    assert {k: first["hyperparameters"][k] for k in wanted} == wanted
    assert res.report["search"]["warm_start"]["trials"] == {first["trial_id"]: "knowledge-base"}
    assert all(t.get("origin") is None for t in res.report["trials"][1:])
    warned = [r["message"] for k, r in events if k == "warning"]
    assert len(warned) == 1 and "zz-corrupt.json" in warned[0]
    warm = [r for k, r in events if k == "warm_start"]
    assert warm and warm[0]["skipped"] == 1
    meta = json.loads((tmp_path / "warm" / "run.json").read_text())
    assert meta["warm_start"][0]["values"] == invalid and meta["warm_start"][1]["values"] == wanted
    assert "warm start from the knowledge base" in (tmp_path / "warm" / "report.md").read_text()
    # the search added itself to the knowledge base
    mine = [p for p in cache.glob("*.json") if p.name not in ("run.json", "zz-corrupt.json")]
    assert len(mine) == 1
    entry = json.loads(mine[0].read_text())
    assert entry["data"]["kind"] == "image" and entry["top"][0]["int8_val_accuracy"] > 0

    off, events = _search(tmp_path / "cold", proposals=1, warm_start=False)
    assert all(t.get("origin") is None for t in off.report["trials"])
    assert off.report["trials"][0]["hyperparameters"] != first["hyperparameters"]
    assert not [r for k, r in events if k == "warm_start"]
    assert json.loads((tmp_path / "cold" / "run.json").read_text())["warm_start"] == []
