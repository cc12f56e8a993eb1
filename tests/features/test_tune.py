"""A feature kind's parameters are chosen by a proxy before the network search: each
variant is costed on the target and scored by extremely randomised trees on the
validation split; the best that fits wins, and what the user gave stays fixed."""

from __future__ import annotations

import pytest
from realdata import write_imu_folder

from edgeml.data.sources import load_recordings
from edgeml.estimate import Limits
from edgeml.features import candidate_specs
from edgeml.features.cost import cost_on
from edgeml.features.tune import TIE_POINTS, spec_variants, tune_spec
from edgeml.targets import load_target


@pytest.fixture(scope="module")
def recs(tmp_path_factory):
    return load_recordings(write_imu_folder(tmp_path_factory.mktemp("d") / "imu", per_class=8))


def test_stream_windows_are_varied_unless_given(recs):
    stats = candidate_specs(recs)[0]
    windows = [s.window for s in spec_variants(recs, stats)]
    assert windows[0] == stats.window and sorted(windows) == sorted(set(windows))
    assert {stats.window // 2, stats.window * 2} <= set(windows)
    assert all(s.hop == s.window // 2 for s in spec_variants(recs, stats))
    given = candidate_specs(recs, window=32, hop=8)[1]
    assert {(s.window, s.hop) for s in spec_variants(recs, given, window_given=True,
                                                       hop_given=True)} == {(32, 8)}
    fft = [s for s in spec_variants(recs, candidate_specs(recs)[1])]
    assert all(1 <= s.bands <= s.n_fft // 2 for s in fft)


def test_the_proxy_picks_the_most_accurate_variant_that_fits(recs):
    target = load_target("nrf52840")
    base = candidate_specs(recs)[0]
    spec, scored = tune_spec(recs, base, [target], Limits(), seed=0)
    assert len(scored) == len(spec_variants(recs, base)) >= 3
    tried = [v for v in scored if v.fits]
    assert all(0.0 <= v.proxy_val_accuracy <= 1.0 and v.windows > 0 for v in tried)
    best = max(v.proxy_val_accuracy for v in tried)
    chosen = next(v for v in scored if v.spec == spec)
    assert chosen.proxy_val_accuracy >= best - TIE_POINTS
    assert chosen.latency_ms == pytest.approx(cost_on(spec, target).latency_ms)
    again, _ = tune_spec(recs, base, [target], Limits(), seed=0)
    assert again == spec  # deterministic for a seed


def test_variants_over_the_latency_limit_are_not_tried(recs):
    target = load_target("nrf52840")
    base = candidate_specs(recs)[1]  # fft: its cost grows with the window
    costs = {s.window: cost_on(s, target).latency_ms for s in spec_variants(recs, base)}
    limit = sorted(costs.values())[1]  # only the cheapest variant is under it
    spec, scored = tune_spec(recs, base, [target], Limits(max_latency_ms=limit), seed=0)
    assert spec.window == min(costs, key=costs.get)
    out = [v for v in scored if not v.fits]
    assert out and all("limit" in v.reason and v.proxy_val_accuracy is None for v in out)


def test_audio_frames_and_mel_bands_are_varied(tmp_path):
    from realdata import espeak_words

    words = load_recordings(espeak_words(tmp_path / "words", ("yes", "no"), by_voice=True))
    target = load_target("esp32s3")
    for base in candidate_specs(words):  # logmel, mfcc
        variants = spec_variants(words, base)
        assert len({(s.frame, s.mels) for s in variants}) >= 3
        assert all(1 <= s.frame <= s.window and s.frame_hop == max(1, s.frame // 2)
                   for s in variants[1:])
        assert all(1 <= s.mels <= s.n_fft // 2 for s in variants)
        if base.kind == "mfcc":
            assert all(1 <= s.mfcc <= s.mels for s in variants)
    spec, scored = tune_spec(words, candidate_specs(words)[0], [target], Limits(), seed=0)
    assert spec in {v.spec for v in scored if v.fits}


def test_audio_is_also_tried_at_8_khz_and_a_tight_budget_takes_it(tmp_path):
    from dataclasses import replace as dc_replace

    from realdata import espeak_words

    from edgeml.features.tune import LOW_AUDIO_RATE_HZ
    from edgeml.pipeline import SearchConfig, _tune_specs

    root = espeak_words(tmp_path / "words", ("yes", "no"), by_voice=True)
    words = load_recordings(root)
    assert words.rate > LOW_AUDIO_RATE_HZ
    target = load_target("esp32s3")
    cfg = SearchConfig(target="esp32s3", data=str(root), out=str(tmp_path / "run"))
    specs = candidate_specs(words)
    tuned = _tune_specs(tmp_path / "run", words, specs, [target], cfg, lambda k, r: None)
    rates = {v["spec"]["rate"] for v in tuned["logmel"][1]}
    assert rates == {words.rate, float(LOW_AUDIO_RATE_HZ)}
    assert (tmp_path / "run" / "features" / "tuning.json").is_file()
    # a latency limit only 8 kHz variants meet: the chosen spec is one of them
    fast = [v["latency_ms"] for v in tuned["logmel"][1] if v["spec"]["rate"] < words.rate]
    slow = [v["latency_ms"] for v in tuned["logmel"][1] if v["spec"]["rate"] == words.rate]
    assert max(fast) < min(slow)
    tight = dc_replace(cfg, limits=Limits(max_latency_ms=(max(fast) + min(slow)) / 2))
    tuned = _tune_specs(tmp_path / "tight", words, specs, [target], tight, lambda k, r: None)
    assert tuned["logmel"][0].rate == LOW_AUDIO_RATE_HZ
