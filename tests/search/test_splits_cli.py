"""--val-split / --test-split / --test-data errors of ``edgeml search``: one line, exit 2,
and no run directory left behind (no training involved)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from edgeml.cli import main


@pytest.fixture()
def files(tmp_path):
    d = load_digits()
    np.savez(tmp_path / "train.npz", x=d.images[:1400], y=d.target[:1400])
    np.savez(tmp_path / "flat.npz", x=d.data[1400:], y=d.target[1400:])          # other shape
    np.savez(tmp_path / "other.npz", x=d.images[1400:], y=d.target[1400:] + 5)   # classes 10-14
    np.savez(tmp_path / "nan.npz", x=np.where(d.images[1400:] > 15, np.nan, d.images[1400:]),
             y=d.target[1400:])
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["--val-split", "0"], "--val-split must be more than 0 and less than 1 (got 0)"),
    (["--test-split", "1.5"], "--test-split must be more than 0 and less than 1 (got 1.5)"),
    (["--val-split", "0.6", "--test-split", "0.5"],
     "--val-split 0.6 and --test-split 0.5 leave nothing to train on"),
    (["--val-split", "0.85"], "--val-split 0.85 and --test-split 0.2 leave nothing to train on"),
    (["--val-split", "0.55", "--test-split", "0.44"],
     "digits has only 1797 samples for 10 classes"),
    (["--data", "{tmp}/train.npz", "--test-data", "{tmp}/missing.npz"],
     "--test-data '{tmp}/missing.npz' does not exist"),
    (["--data", "{tmp}/train.npz", "--test-data", "{tmp}/flat.npz"],
     "test data {tmp}/flat.npz has samples of shape (64,) but the data has (8, 8, 1)"),
    (["--data", "{tmp}/train.npz", "--test-data", "{tmp}/other.npz"],
     "test data {tmp}/other.npz has label(s) ['10', '11', '12', '13', '14'] that the data "
     "does not have"),
    (["--data", "{tmp}/train.npz", "--test-data", "{tmp}/nan.npz"],
     "{tmp}/nan.npz: 388 sample(s) contain NaN or inf"),
    (["--data", "{tmp}/train.npz", "--test-data", "{tmp}/flat.npz", "--test-split", "0.1"],
     "--test-split cuts a test split from --data, which --test-data replaces"),
])
def test_split_errors_are_one_line_and_leave_no_run(files, capfd, args, message):
    out = files / "run"
    code = main(["search", "--models", "nn", "--trials", "1", "--epochs", "1",
                 "--out", str(out), *[a.format(tmp=files) for a in args]])
    err = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    assert code == 2
    assert err[-1].startswith("edgeml: error: ") and message.format(tmp=files) in err[-1], err
    assert not out.exists()


def test_resume_keeps_the_split_settings(tmp_path, capfd):
    (tmp_path / "run.json").write_text('{"config": {}}')
    code = main(["search", "--resume", str(tmp_path), "--val-split", "0.2", "--no-refit"])
    err = capfd.readouterr().err.splitlines()
    assert code == 2
    assert "; drop --val-split, --no-refit;" in err[-1], err
