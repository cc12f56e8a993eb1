"""The exported feature C computes the Python features: compiled with gcc on the host, fed
the same raw windows (real IMU recordings, spoken words, scikit-learn tables).

Tolerance: float features within 1e-4 relative to the feature range (float32 rounding of
different summation orders); the int8 model input within +-1 LSB, and at least 99 % of it
exact. Cross-compiled with arm-none-eabi-gcc when installed (forced with
EDGEML_REQUIRE_ARM_GCC=1), where the generated code's size is checked against the cost model.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
from c_harness import run_c
from realdata import basic_motions, espeak_words

from edgeml.errors import DataError
from edgeml.export.features_c import feature_file_names, render_feature_files
from edgeml.features import STATS, FeatureSpec, feature_cost, fit, quantize, select_terms
from edgeml.features.cost import code_bytes, tables

SCALE, ZERO = 0.047, -7


def _imu_windows() -> np.ndarray:
    xs, _ = basic_motions()
    return np.stack(xs)[:, 18:82]  # (40, 64, 6)


def _spoken(tmp_path_factory) -> tuple[np.ndarray, float]:
    from scipy.io import wavfile

    root = espeak_words(tmp_path_factory.mktemp("words"), ("yes", "no", "stop"),
                        voices=("en", "en-us"), pitches=(40, 60))
    clips = []
    for wav in sorted(root.rglob("*.wav")):
        rate, a = wavfile.read(wav)
        clip = np.zeros(8192, np.float32)
        a = a.astype(np.float32) / 32768.0
        clip[: min(len(a), 8192)] = a[:8192]
        clips.append(clip)
    return np.stack(clips), float(rate)


def _tabular() -> tuple[np.ndarray, FeatureSpec]:
    from sklearn.datasets import load_wine

    d = load_wine()
    rows = d.data[:, :6].astype(np.float32)
    sel = select_terms(rows, d.target, ks=(6,), resamples=4)
    terms = sel.terms + (("ratio", 0, 1), ("prod", 2, 3), ("diff", 4, 5), ("col", 5, -1))
    return rows, FeatureSpec(kind="tabular", window=6, terms=terms)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    imu = _imu_windows()
    audio, rate = _spoken(tmp_path_factory)
    rows, tab = _tabular()
    mel = {"window": 8192, "rate": rate, "frame": 512, "frame_hop": 256, "mels": 32}
    return {
        "raw": (FeatureSpec(kind="raw", window=64, channels=6), imu),
        "stats": (FeatureSpec(kind="stats", window=64, channels=6, stats=STATS), imu),
        "fft": (FeatureSpec(kind="fft", window=64, channels=6, bands=8), imu),
        "logmel": (FeatureSpec(kind="logmel", **mel), audio),
        "mfcc": (FeatureSpec(kind="mfcc", mfcc=13, **mel), audio),
        "tabular": (tab, rows),
    }


@pytest.mark.parametrize("kind", ["raw", "stats", "fft", "logmel", "mfcc", "tabular"])
def test_c_features_equal_python_features(cases, kind, tmp_path):
    spec, raw = cases[kind]
    fitted, f = fit(spec, raw)
    f = f.reshape(len(raw), -1)
    cf, cq = run_c(render_feature_files(fitted, input_scale=SCALE, input_zero_point=ZERO),
                   raw, tmp_path)
    span = float(np.abs(f).max())
    assert np.abs(cf - f).max() <= 1e-4 * max(span, 1.0), f"{kind}: float features differ"
    q = quantize(f, SCALE, ZERO)
    diff = np.abs(cq.astype(np.int32) - q.astype(np.int32))
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99, f"{kind}: int8 input differs"
    assert len(np.unique(q)) > 5  # the comparison saw real, varied numbers


def test_c_differs_when_the_python_side_changes(cases, tmp_path):
    """The comparison can fail: C exported from other normalization constants disagrees."""
    spec, raw = cases["stats"]
    fitted, f = fit(spec, raw)
    other, _ = fit(spec, raw[::-1][:10])
    cf, _ = run_c(render_feature_files(other, input_scale=SCALE, input_zero_point=ZERO), raw,
                  tmp_path)
    assert np.abs(cf - f.reshape(len(raw), -1)).max() > 1e-2


def test_named_export_uses_prefixed_files_and_symbols(cases, tmp_path):
    spec, raw = cases["fft"]
    fitted, f = fit(spec, raw)
    files = render_feature_files(fitted, name="imu", input_scale=SCALE, input_zero_point=ZERO)
    assert set(files) == {"imu_features.h", "imu_features.c"}
    assert b"int edgeml_imu_features(const float *raw, int8_t *out);" in files["imu_features.h"]
    cf, _ = run_c(files, raw, tmp_path, name="imu")
    assert np.abs(cf - f.reshape(len(raw), -1)).max() < 1e-3
    with pytest.raises(Exception, match="name"):
        render_feature_files(fitted, name="bad name", input_scale=1.0, input_zero_point=0)


ARM_GCC = shutil.which("arm-none-eabi-gcc")


@pytest.mark.parametrize("kind", ["raw", "stats", "fft", "logmel", "mfcc", "tabular"])
def test_cross_compiles_for_cortex_m4_and_code_size_matches_the_cost_model(cases, kind, tmp_path):
    if ARM_GCC is None:
        if os.environ.get("EDGEML_REQUIRE_ARM_GCC") == "1":
            pytest.fail("arm-none-eabi-gcc is required (EDGEML_REQUIRE_ARM_GCC=1)")
        pytest.skip("arm-none-eabi-gcc not installed")
    spec, raw = cases[kind]
    fitted, _ = fit(spec, raw)
    files = render_feature_files(fitted, input_scale=SCALE, input_zero_point=ZERO)
    for rel, data in files.items():
        (tmp_path / rel).write_bytes(data)
    obj = tmp_path / "features.o"
    src = tmp_path / feature_file_names()["source"]
    subprocess.run([ARM_GCC, "-std=c99", "-Os", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                    "-mfpu=fpv4-sp-d16", "-Wall", "-Wextra", "-Werror", "-c", str(src), "-o",
                    str(obj)], check=True, capture_output=True, text=True)
    size = subprocess.run([shutil.which("arm-none-eabi-size") or "arm-none-eabi-size", "-A",
                           str(obj)], check=True, capture_output=True, text=True).stdout
    sections = {ln.split()[0]: int(ln.split()[1]) for ln in size.splitlines()
                if ln.startswith(".") and len(ln.split()) >= 2}
    text = sections.get(".text", 0)
    rodata = sections.get(".rodata", 0)
    bss = sections.get(".bss", 0)
    cost = feature_cost(spec)
    assert 0.5 * code_bytes(spec) <= text <= 1.5 * code_bytes(spec), (kind, text)
    assert rodata == pytest.approx(4 * sum(tables(spec).values()), rel=0.1, abs=64)
    assert bss == pytest.approx(cost.ram_bytes, abs=16)


def test_cost_counts_buffers_and_grows_with_the_window():
    small = feature_cost(FeatureSpec(kind="fft", window=64, channels=3, bands=8))
    big = feature_cost(FeatureSpec(kind="fft", window=256, channels=3, bands=8))
    assert small.ram_bytes == 2 * 64 * 4 and big.ram_bytes == 2 * 256 * 4
    assert big.cycles > 3 * small.cycles
    soft = feature_cost(FeatureSpec(kind="fft", window=64, channels=3, bands=8),
                        core="cortex-m0plus", clock_hz=133e6)
    assert soft.cycles > 10 * small.cycles


def test_tabular_spec_needs_terms():
    with pytest.raises(DataError, match="at least one term"):
        FeatureSpec(kind="tabular", window=3)
