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

:class:`BackgroundRefit` starts the retrain of the best network as soon as the
network search ends, in a thread that waits on the worker, so that it trains while
the search process runs the classical stage and the ensemble; it is used when that
network is chosen, and thrown away (with its files) when another model is.
"""

from __future__ import annotations

import shutil
import threading
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

__all__ = ["Refit", "refit_epochs", "refit_chosen", "refit_runner", "BackgroundRefit",
           "REFIT_DIR"]

#: where a run keeps the retrained model (model.keras, model.tflite)
REFIT_DIR = "refit"
#: how much a background retrain's worker lowers its CPU priority (``nice``)
BACKGROUND_NICE = 10
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
                 runner: InProcessRunner | WorkerRunner | None = None, nice: int = 0) -> Refit:
    """Retrain ``chosen`` on train + validation (in ``runner``, by default a new
    :func:`refit_runner`; ``nice``: the CPU priority its worker process lowers itself
    by); save and measure it."""
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
                           folder=str(folder), on_epoch=_epoch, nice=nice)
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


class BackgroundRefit:
    """:func:`refit_chosen` of ``trial`` in a thread (the training runs in ``runner``'s
    worker process). Its events are kept and handed on by :meth:`result`, so that
    nothing is shown about a retrain that is thrown away."""

    def __init__(self, trial: Trial, *, runner: InProcessRunner | WorkerRunner,
                 folder: str | Path, **kwargs: Any) -> None:
        self.trial = trial
        self.runner = runner
        self.folder = Path(folder)
        self.events: list[tuple[str, Any]] = []
        self._result: Refit | None = None
        self._error: BaseException | None = None
        self._settled = False  # its result was taken, or it was thrown away
        self.waited = 0.0  # seconds result() waited for it (the rest overlapped other work)
        shutil.rmtree(self.folder, ignore_errors=True)  # an earlier, interrupted retrain
        # its worker runs nothing else: it yields the CPU to the search process, which
        # runs the classical stage and the ensemble meanwhile (and then waits for it)
        self._thread = threading.Thread(
            target=self._run, kwargs=dict(kwargs, folder=self.folder, runner=runner,
                                          nice=BACKGROUND_NICE),
            name="edgeml-refit", daemon=True)
        self._thread.start()

    def _run(self, **kwargs: Any) -> None:
        try:
            self._result = refit_chosen(self.trial, on_event=lambda kind, rec:
                                        self.events.append((kind, rec)), **kwargs)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def _join(self) -> None:
        while self._thread.is_alive():
            self._thread.join(0.5)  # in steps, so that Ctrl-C reaches the main thread

    def result(self, emit: Event) -> Refit:
        """Wait for the retrain; emit its events; its result (or its error, raised)."""
        self._settled = True
        t0 = time.perf_counter()
        self._join()
        self.waited = time.perf_counter() - t0
        for kind, rec in self.events:
            emit(kind, rec)
        self.events = []
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def discard(self, *, stop: bool) -> None:
        """Throw the retrain away: ``stop`` kills the worker at once (nothing else will run
        in it), otherwise it is waited for, so that the runner can train another model;
        its files are removed either way. Once its result was taken, nothing happens."""
        if self._settled:
            return
        self._settled = True
        if stop and self._thread.is_alive():
            self.runner.interrupt()
        self._join()
        shutil.rmtree(self.folder, ignore_errors=True)
