"""The final retrain ("refit") of the chosen network on train + validation.

The search ranks candidates by their accuracy on the validation split, so the
model it chose never saw those samples. Once the choice is made, the validation
split has done its job: :func:`refit_chosen` trains the chosen configuration
again, from scratch with the trial's own seed, on train + validation, for the
number of epochs the chosen trial's EarlyStopping kept as best (there is no
validation data left to stop on), converts it to int8 with the search's
calibration set and measures it as the search measured its trials: the tensor
arena in TFLite Micro, every target's estimates and limits, and its int8
accuracy on the test split, which neither model saw.

The training runs in a trial worker process (:mod:`.worker`'s ``refit`` step), so
the search process stays flat. The caller decides which model to ship (the
retrained one unless it broke a limit or failed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write
from ..data import Dataset
from ..estimate import Limits, check_fields
from ..records import Trial
from ..targets import Target
from .spaces import Space
from .tuner import calibration_sample, trained_estimates
from .worker import InProcessRunner, TrialContext, WorkerRunner, make_runner

__all__ = ["Refit", "refit_epochs", "refit_chosen", "refit_runner", "REFIT_DIR"]

#: where a run keeps the retrained model (model.keras, model.tflite)
REFIT_DIR = "refit"
Event = Callable[[str, Any], None]


@dataclass(frozen=True)
class Refit:
    """The retrained model and how it measures."""

    trial_id: str
    epochs: int                  # epochs trained
    epochs_from: str             # "best_epoch" (EarlyStopping's) or "epochs_run" (an old record)
    samples: int                 # training samples: train + validation
    model_bytes: bytes
    tflite: Path
    keras: Path
    checks: dict[str, Any]       # estimate, targets, violations, feasible, broken, costs
    int8_test_accuracy: float
    train_seconds: float
    seconds: float

    @property
    def feasible(self) -> bool:
        return bool(self.checks.get("feasible"))


def refit_epochs(trial: Trial, default: int) -> tuple[int, str]:
    """Epochs of the final retrain: the epoch the trial's EarlyStopping kept as best; for a
    record without it, the epochs it ran; ``default`` if neither is known."""
    if trial.best_epoch:
        return max(1, int(trial.best_epoch)), "best_epoch"
    if trial.epochs_run:
        return max(1, int(trial.epochs_run)), "epochs_run"
    return max(1, int(default)), "epochs"


def refit_runner(*, dataset: Dataset, space: Space, targets: Sequence[Target], seed: int,
                 isolate: bool | None = None, device: str = "cpu",
                 mixed_precision: bool = False) -> InProcessRunner | WorkerRunner:
    """The runner for the final retrain, with the search's data and calibration set; a
    worker process starts (and loads TensorFlow) at once, while the caller does other work.
    The caller closes it."""
    ctx = TrialContext(space=space, x_train=dataset.x_train, y_train=dataset.y_train,
                       x_val=dataset.x_val, y_val=dataset.y_val,
                       calib=calibration_sample(dataset.x_train, seed), targets=tuple(targets),
                       seed=seed, epochs=1, patience=0, device=device,
                       mixed_precision=mixed_precision)
    return make_runner(ctx, isolate=isolate)


def refit_chosen(chosen: Trial, *, dataset: Dataset, space: Space, targets: Sequence[Target],
                 limits: Limits, seed: int, epochs: int, folder: str | Path,
                 on_event: Event | None = None,
                 runner: InProcessRunner | WorkerRunner | None = None) -> Refit:
    """Retrain ``chosen`` on train + validation (in ``runner``, by default a new
    :func:`refit_runner`); save and measure it."""
    import keras_tuner as kt

    from ..tflite.int8 import evaluate_int8

    emit = on_event or (lambda kind, rec: None)
    t0 = time.perf_counter()
    n_epochs, source = refit_epochs(chosen, epochs)
    samples = int(len(dataset.y_train) + len(dataset.y_val))
    emit("refit", {"trial_id": chosen.trial_id, "epochs": n_epochs, "epochs_from": source,
                   "samples": samples})
    folder = Path(folder)
    hp = kt.HyperParameters()
    hp.values.update(chosen.hyperparameters)

    def _epoch(epoch: int, total: int) -> None:
        emit("refit_epoch", {"trial_id": chosen.trial_id, "epoch": epoch, "epochs": total})

    own = runner is None
    if runner is None:
        runner = refit_runner(dataset=dataset, space=space, targets=targets, seed=seed)
    try:
        res = runner.refit(hp.get_config(), seed + chosen.number, epochs=n_epochs,
                           folder=str(folder), on_epoch=_epoch)
    finally:
        if own:
            runner.close()
    ev = evaluate_int8(res.model_bytes, dataset.x_test, dataset.y_test)  # bisects the arena
    host_arena = int(ev.tflm.bisected_bytes or ev.tflm.arena_bytes)
    checks = check_fields(trained_estimates(res.model_bytes, host_arena, targets), targets,
                          limits, chosen.note)
    tflite = atomic_write(folder / "model.tflite", res.model_bytes)
    return Refit(trial_id=chosen.trial_id, epochs=res.epochs, epochs_from=source,
                 samples=res.samples, model_bytes=res.model_bytes, tflite=tflite,
                 keras=folder / "model.keras", checks=checks,
                 int8_test_accuracy=float(ev.accuracy),
                 train_seconds=round(res.train_seconds, 3),
                 seconds=round(time.perf_counter() - t0, 3))
