"""A classical model chosen on features: the run's edgeml_features.c and edgeml_predict C,
chained as the firmware chains them (raw window -> edgeml_features_float ->
edgeml_predict), give the classes Python's feature transform and model give."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from realdata import write_imu_folder

from edgeml.classical.model import CModel
from edgeml.data.sources import load_recordings
from edgeml.features import FittedFeatures, split_groups, transform
from edgeml.features.windows import cut
from edgeml.pipeline import SearchConfig, run_search

pytestmark = pytest.mark.slow  # a feature stage and scikit-learn models

MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include "edgeml_features.h"
#include "edgeml_predict.h"
int main(void) {
  static float raw[EDGEML_FEATURES_INPUT_LENGTH], x[EDGEML_FEATURES_OUTPUT_LENGTH];
  float scores[%(k)d];
  while (fread(raw, sizeof(float), EDGEML_FEATURES_INPUT_LENGTH, stdin) ==
         EDGEML_FEATURES_INPUT_LENGTH) {
    edgeml_features_float(raw, x);
    printf("%%d\n", (int)edgeml_predict(x, scores));
  }
  return 0;
}
"""


def test_features_c_feeds_edgeml_predict_like_python(tmp_path):
    imu = write_imu_folder(tmp_path / "imu", per_class=6)
    out = tmp_path / "run"
    res = run_search(SearchConfig(target="nrf52840", data=str(imu), features="stats",
                                  window=32, trials=3, out=str(out), models="tree,nb",
                                  ensemble=False))
    chosen = res.report["chosen"]
    assert chosen["family"] in ("tree", "nb")
    assert {"edgeml_features.c", "edgeml_features.h", "edgeml_predict.h"} <= set(chosen["c_files"])
    fitted = FittedFeatures.from_dict(res.report["features"]["fitted"])
    recs = load_recordings(imu)
    test = split_groups(recs, seed=0, val_fraction=0.15, test_fraction=0.2)["test"]
    raw = np.concatenate([cut(recs.signals[i], 32, fitted.spec.hop, where="") for i in test])
    trial = next(t for t in res.report["trials"] if t["trial_id"] == chosen["trial_id"])
    model = CModel.load(trial["cmodel"])
    feats = transform(fitted, raw).reshape(len(raw), -1)
    expected = np.argmax(model.predict_proba(feats), axis=1)

    (tmp_path / "main.c").write_text(MAIN % {"k": len(res.report["dataset"]["classes"])})
    cc = shutil.which("gcc") or shutil.which("cc")
    sources = [str(out / n) for n in chosen["c_files"] if n.endswith(".c")]
    exe = tmp_path / "chain"
    subprocess.run([cc, "-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Werror",
                    f"-I{out}", "-o", str(exe), str(tmp_path / "main.c"), *sources, "-lm"],
                   check=True, capture_output=True, text=True)
    done = subprocess.run([str(exe)], input=np.ascontiguousarray(raw, np.float32).tobytes(),
                          capture_output=True, check=True)
    got = np.asarray([int(v) for v in done.stdout.decode().split()])
    assert len(got) == len(raw) > 0
    assert (got == expected).mean() >= 0.99  # float rounding may flip a tie, not more
