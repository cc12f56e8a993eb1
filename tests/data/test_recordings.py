"""Loaders of raw recordings (sensor streams, WAV folders, tabular rows) on real signals,
and their one-line errors or reported fixes for bad input."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from realdata import basic_motions, espeak_words, write_imu_folder  # noqa: E402

from edgeml.data.sources import is_recordings_source, load_recordings  # noqa: E402
from edgeml.errors import DataError  # noqa: E402


@pytest.fixture(scope="module")
def imu(tmp_path_factory) -> Path:
    return write_imu_folder(tmp_path_factory.mktemp("d") / "imu")


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    return espeak_words(tmp_path_factory.mktemp("d") / "speech", ("yes", "no"),
                        voices=("en", "en-us"), pitches=(40, 60))


def test_folder_of_csv_recordings(imu):
    recs = load_recordings(imu)
    assert recs.kind == "stream" and len(recs) == 40 and recs.rate == 10.0
    assert recs.labels == ("Badminton", "Running", "Standing", "Walking")
    assert recs.channels == ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
    xs, ys = basic_motions()
    first = sorted(p for p in (imu / ys[0]).glob("*.csv"))[0]
    i = recs.sources.index(str(first))
    np.testing.assert_allclose(recs.signals[i], xs[0], atol=1e-6)
    assert recs.fixes == ()
    assert is_recordings_source(imu)


def _long_csv(path: Path, *, groups: bool) -> Path:
    xs, ys = basic_motions()
    rows = ["subject,time,activity,acc_x,acc_y,acc_z"]
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        for i, r in enumerate(x):
            rows.append(f"s{k % 5},{k * 20 + i / 10:.2f},{y},{r[0]:.6f},{r[1]:.6f},{r[2]:.6f}")
    if not groups:
        rows = [",".join(r.split(",")[1:]) for r in rows]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_one_long_csv_with_label_and_group(tmp_path):
    path = _long_csv(tmp_path / "long.csv", groups=True)
    assert is_recordings_source(path)
    recs = load_recordings(path, label_column="activity", group_column="subject")
    assert len(recs) == 40 and set(recs.groups) == {f"s{i}" for i in range(5)}
    assert recs.channels == ("acc_x", "acc_y", "acc_z") and recs.rate == 10.0
    assert all(len(s) == 100 for s in recs.signals)


def test_long_csv_bad_timestamps_and_gaps(tmp_path):
    path = _long_csv(tmp_path / "long.csv", groups=False)
    lines = path.read_text().splitlines()
    lines[5], lines[6] = lines[6], lines[5]
    (tmp_path / "swapped.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"swapped.csv rows 0..99: timestamps are not increasing "
                                        r"at row 5"):
        load_recordings(tmp_path / "swapped.csv", label_column="activity")
    lines = path.read_text().splitlines()
    for k in (10, 11):
        parts = lines[k].split(",")
        parts[2] = ""
        lines[k] = ",".join(parts)
    (tmp_path / "gap.csv").write_text("\n".join(lines) + "\n")
    recs = load_recordings(tmp_path / "gap.csv", label_column="activity")
    assert any("filled 2 missing value(s)" in f for f in recs.fixes)
    assert np.isfinite(recs.signals[0]).all()
    for k in range(10, 20):
        parts = lines[k].split(",")
        parts[2] = ""
        lines[k] = ",".join(parts)
    (tmp_path / "hole.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="gap of 10 missing samples at rows 9..18"):
        load_recordings(tmp_path / "hole.csv", label_column="activity")


def test_tabular_csv_rows(tmp_path):
    from sklearn.datasets import load_wine

    d = load_wine(as_frame=True)
    frame = d.frame.rename(columns={"target": "cultivar"})
    frame.to_csv(tmp_path / "wine.csv", index=False)
    assert not is_recordings_source(tmp_path / "wine.csv")
    recs = load_recordings(tmp_path / "wine.csv", label_column="cultivar", tabular=True)
    assert recs.kind == "tabular" and len(recs) == 178 and len(recs.channels) == 13


def test_wav_folder_resamples_and_pads_with_reported_fixes(speech):
    recs = load_recordings(speech)
    assert recs.kind == "audio" and recs.labels == ("no", "yes") and len(recs) == 8
    assert recs.rate == 16000.0  # espeak-ng writes 22050 Hz; capped at 16 kHz
    assert len({len(s) for s in recs.signals}) == 1
    assert any("resampled 8 file(s) from 22050 Hz to 16000 Hz" in f for f in recs.fixes)
    assert any("padded" in f for f in recs.fixes)


def test_wav_folder_mixed_rates_and_stereo(speech, tmp_path):
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    root = tmp_path / "mixed"
    shutil.copytree(speech, root)
    src = sorted((root / "yes").glob("*.wav"))[0]
    rate, a = wavfile.read(src)
    wavfile.write(src, 8000, resample_poly(a.astype(float), 8000, rate).astype(np.int16))
    other = sorted((root / "no").glob("*.wav"))[0]
    _, b = wavfile.read(other)
    wavfile.write(other, rate, np.stack([b, b], axis=1))
    recs = load_recordings(root)
    assert recs.rate == 8000.0
    assert any("downmixed 1 multi-channel" in f for f in recs.fixes)
    assert any("resampled 7 file(s) from 22050 Hz to 8000 Hz" in f for f in recs.fixes)
    with pytest.raises(DataError, match="longer than the 0.100 s clip"):
        load_recordings(root, clip_s=0.1)


def test_bad_folders_are_one_line_errors(speech, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty"):
        load_recordings(tmp_path / "empty")
    one = tmp_path / "one"
    shutil.copytree(speech / "yes", one / "yes")
    with pytest.raises(DataError, match="single word"):
        load_recordings(one)
    (one / "no").mkdir()
    with pytest.raises(DataError, match=r"word folder .*no has no .wav files"):
        load_recordings(one)
    (tmp_path / "bad" / "a").mkdir(parents=True)
    (tmp_path / "bad" / "a" / "x.wav").write_bytes(b"RIFF0000WAVEjunk")
    (tmp_path / "bad" / "b").mkdir()
    (tmp_path / "bad" / "b" / "y.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(DataError, match="not a readable WAV file"):
        load_recordings(tmp_path / "bad")


def test_speech_commands_names_group_by_speaker(tmp_path):
    from edgeml.features import split_groups

    root = espeak_words(tmp_path / "sc", ("yes", "no"), voices=("en", "en-us", "en-029"),
                        pitches=(40, 60), by_voice=True)
    recs = load_recordings(root)
    assert set(recs.groups) == {"en", "en-us", "en-029"}
    parts = split_groups(recs, seed=0, val_fraction=0.15, test_fraction=0.2)
    sides = [{recs.groups[i] for i in parts[k]} for k in ("train", "val", "test")]
    assert all(len(s) == 1 for s in sides[1:]) and not (sides[0] & (sides[1] | sides[2]))
