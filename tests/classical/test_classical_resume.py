"""The classical stage of a resumed run reads back the candidates it already trained
instead of fitting them again, and fits again only what is missing or damaged."""

from __future__ import annotations

import json

import pytest

import edgeml.classical.search as cs
from edgeml.targets import load_target


@pytest.fixture()
def counted(monkeypatch):
    calls = []
    real = cs.build_estimator

    def build(values, *, seed, max_leaves=None):
        calls.append(values)
        return real(values, seed=seed, max_leaves=max_leaves)

    monkeypatch.setattr(cs, "build_estimator", build)
    return calls


def test_a_second_run_in_the_same_folder_fits_nothing_again(digits, tmp_path, counted):
    target = load_target("esp32")
    first = cs.search_classical(digits, [target], families=("tree", "nb"), trials=4, seed=0,
                                directory=tmp_path)
    fitted = len(counted)
    assert fitted >= 4 and first.replayed == 0
    again = cs.search_classical(digits, [target], families=("tree", "nb"), trials=4, seed=0,
                                directory=tmp_path)
    assert len(counted) == fitted and again.replayed == len(first.trials)
    assert [json.dumps(t.to_json(), sort_keys=True) for t in again.trials] == \
        [json.dumps(t.to_json(), sort_keys=True) for t in first.trials]
    assert set(again.models) == set(first.models)
    # a damaged record is fitted again, the others are read back
    (tmp_path / cs.CLASSICAL_DIR / "c001.json").write_text("{not json")
    third = cs.search_classical(digits, [target], families=("tree", "nb"), trials=4, seed=0,
                                directory=tmp_path)
    assert len(counted) == fitted + 1 and third.replayed == len(first.trials) - 1
    assert [t.trial_id for t in third.trials] == [t.trial_id for t in first.trials]
