"""``edgeml features``: recordings -> an NPZ of split features, its cost, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from realdata import write_imu_folder

from edgeml.cli import main
from edgeml.features import FittedFeatures


@pytest.fixture(scope="module")
def imu(tmp_path_factory):
    return write_imu_folder(tmp_path_factory.mktemp("d") / "imu")


def test_features_command_writes_the_npz(imu, tmp_path, capsys):
    out = tmp_path / "feats.npz"
    assert main(["features", str(imu), "--features", "fft", "--window", "64", "--hop", "32",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fft 8 bands of 64x6" in text and "cost on nrf52840" in text and "KB RAM" in text
    with np.load(out) as z:
        assert z["x_train"].shape[1:] == (48,) and len(z["x_train"]) == len(z["y_train"])
        fitted = FittedFeatures.from_dict(json.loads(str(z["spec"])))
        assert list(z["labels"]) == ["Badminton", "Running", "Standing", "Walking"]
    assert fitted.spec.window == 64 and fitted.spec.hop == 32


def test_features_command_json_and_target_cost(imu, capsys):
    assert main(["features", str(imu), "--target", "rp2040", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["spec"]["kind"] == "stats" and rep["target"] == "rp2040"
    assert rep["cost"]["cycles"] > 0 and rep["split"]["unit"] == "recording"


@pytest.mark.parametrize("argv, message", [
    (["--window", "500"], "shorter than one window of 500"),
    (["--out", "x.txt"], "must end in .npz"),
    (["--features", "logmel"], "feature kind 'logmel' does not apply to stream data"),
])
def test_features_command_errors_are_one_line(imu, argv, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "edgeml", "features", str(imu), *argv],
                          capture_output=True, text=True, cwd=tmp_path)
    err = proc.stderr.strip()
    assert proc.returncode == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_one_class_folder_is_refused_and_tensorflow_is_not_loaded(imu, tmp_path):
    shutil.copytree(imu / "Walking", tmp_path / "one" / "Walking")
    code = ("import sys\nfrom edgeml.cli import main\n"
            f"rc = main(['features', {str(tmp_path / 'one')!r}])\n"
            f"main(['features', {str(imu)!r}])\n"
            "print(rc, 'tensorflow' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "single class ('Walking')" in proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "2 False"
