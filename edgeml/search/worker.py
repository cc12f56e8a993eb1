"""Where a trial's TensorFlow work runs: a recycled worker process, or this process.

Building, converting and training ``tf_keras`` models leaks host memory that
``clear_session`` and ``gc`` do not give back (a few MB per model), so a search
that did this work in its own process would grow with the number of trials.
The search therefore hands every TensorFlow step of a trial to a worker process
(``python -m edgeml.search._trial_worker``) and keeps only the oracle, the
trial records, the estimates and the TFLM runs, which do not grow, for itself.
The worker is replaced by a fresh one once its resident memory has grown by
``EDGEML_WORKER_RECYCLE_MB`` (default 256) over what it used after its first
task, so neither process grows without bound.

The steps run there are plain functions of a :class:`TrialContext`, named in
one table, :data:`STEPS`, that every runner dispatches through (the worker
process, this process, a Ray actor), so a step added there runs everywhere:

* :func:`screen_trials`: build each of a few candidates (untrained, no int8
  conversion) and count its parameters, MACs and peak activation bytes: the
  cheap numbers the oracle uses to choose which draft to propose;
* :func:`check_trial`: build the candidate (untrained), convert it to int8 and
  estimate it on every target;
* :func:`train_trial`: build it, continue from a parent trial's weights
  (Hyperband), train, measure its float validation accuracy, convert it to
  int8 and save ``model.keras``;
* :func:`refit_trial`: the final retrain of the chosen configuration: build it
  afresh, train it on train + validation for a fixed number of epochs (no
  validation data), convert it to int8 with the same calibration and save
  ``model.keras``.

The check runs on the CPU; the training on the context's ``device`` (a CPU
worker does not see the GPUs at all), in mixed precision when the context
says so (see :mod:`.device`: the float32 model that is converted and saved is
built on the CPU from the trained weights).

:class:`InProcessRunner` runs the same functions in this process: it is used
when ``EDGEML_TRIAL_WORKER=0`` (for debugging a space with pdb) or when a
custom ``build(hp)`` cannot be sent to another process (a lambda or closure).

A worker that dies (killed for memory, a crash in a kernel) fails only the
trial it was working on, with the signal in the trial's error; the next trial
gets a fresh worker. The worker dies with the search process, even on
``kill -9`` of the search (``PR_SET_PDEATHSIG`` plus end-of-pipe).

A search with several trial slots (``workers=N``) has one runner per slot
(:func:`make_runners`); each worker process then gets its share of the cores as
TensorFlow intra-op threads (and one inter-op thread), so that N workers do not
fight over the same cores. :func:`default_workers` says how many slots the
machine can use.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from .. import errors as _errors
from .._io import cpu_cores
from ..errors import EdgeMLError, ModelError, RuntimeFailure
from ..targets import Target
from .device import (
    MIXED_POLICY,
    configure_process,
    cpu_scope,
    device_label,
    device_scope,
    precision_policy,
    worker_env,
)
from .spaces import Space, SpaceError

__all__ = ["TrialContext", "CheckResult", "ScreenResult", "TrainResult", "RefitResult",
           "TrialFailure", "WorkerDied", "InProcessRunner", "WorkerRunner", "make_runner",
           "make_runners", "default_workers", "workers_env", "check_trial", "screen_trials",
           "screen_model", "train_trial", "refit_trial", "STEPS", "run_step",
           "release_memory", "rss_bytes", "host_name"]

Epoch = Callable[[int, int], None]
MB = 1024 * 1024
RECYCLE_ENV = "EDGEML_WORKER_RECYCLE_MB"
WORKER_ENV = "EDGEML_TRIAL_WORKER"
#: host memory one trial worker may need (TensorFlow, the data, a small model in training)
WORKER_BYTES = 1536 * MB


# --------------------------------------------------------------------------- context
@dataclass
class TrialContext:
    """Everything a trial needs besides its hyperparameters (sent once to a worker)."""

    space: Space
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    calib: np.ndarray
    targets: tuple[Target, ...]
    seed: int
    epochs: int
    patience: int
    device: str = "cpu"             # where training runs: "cpu", "gpu" or "gpu:N"
    mixed_precision: bool = False   # train under mixed_float16 (see .device)

    def for_worker(self) -> dict[str, Any]:
        """A picklable description; the space travels as its recipe when it has one."""
        d = {k: getattr(self, k) for k in ("x_train", "y_train", "x_val", "y_val", "calib",
                                           "targets", "seed", "epochs", "patience", "device",
                                           "mixed_precision")}
        if self.space.recipe is not None:
            d["space_recipe"] = self.space.recipe
        else:
            d["space"] = self.space
        d["sys_path"] = list(sys.path)
        return d

    @classmethod
    def from_worker(cls, d: dict[str, Any]) -> TrialContext:
        from .spaces import space_from_recipe

        for p in reversed(d.pop("sys_path", [])):
            if p not in sys.path:
                sys.path.insert(0, p)
        recipe = d.pop("space_recipe", None)
        space = d.pop("space") if recipe is None else space_from_recipe(recipe)
        return cls(space=space, **d)


def sendable(space: Space) -> bool:
    """Whether ``space`` can be rebuilt in a worker process."""
    if space.recipe is not None:
        return True
    try:
        pickle.dumps(space)
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class CheckResult:
    estimates: dict[str, Any]         # target name -> Estimate
    note: str
    seconds: float
    hyperparameters: dict[str, Any]   # the active values after the build
    rss_bytes: int = 0


@dataclass(frozen=True)
class ScreenResult:
    """Cheap numbers of untrained candidates, one dict per candidate (see :func:`screen_model`);
    ``None`` for a candidate whose build raised."""

    screens: list[dict[str, Any] | None]
    seconds: float
    rss_bytes: int = 0


@dataclass(frozen=True)
class TrainResult:
    model_bytes: bytes
    float_val_accuracy: float
    epochs_run: int
    train_seconds: float
    convert_seconds: float
    continues: str | None
    rss_bytes: int = 0
    device: str = "cpu"             # where it trained: "cpu", "gpu:0", ...
    mixed_precision: bool = False
    best_epoch: int | None = None     # the epoch whose weights EarlyStopping kept (1-based)


@dataclass(frozen=True)
class RefitResult:
    model_bytes: bytes
    epochs: int                       # epochs trained
    samples: int                      # training samples: train + validation
    train_seconds: float
    convert_seconds: float
    rss_bytes: int = 0


class TrialFailure(Exception):
    """A step raised in the worker; ``kind`` is the original exception's class name."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class WorkerDied(RuntimeFailure):
    """The worker process ended while it was running a step."""


# --------------------------------------------------------------------------- host hygiene
def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - non-Linux
        return 0


# --------------------------------------------------------------------------- the two steps
def _hyperparameters(config: dict[str, Any]) -> Any:
    import copy

    import keras_tuner as kt

    # from_config turns the config's nested dicts into objects in place: work on a copy
    return kt.HyperParameters.from_config(copy.deepcopy(config))


def _without_softmax(model: Any) -> Any | None:
    from .._tf import keras as _keras

    keras = _keras()
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return keras.Model(model.input, last.input)
    names = [layer.name for layer in model.layers]
    if "logits" in names:
        return keras.Model(model.input, model.get_layer("logits").output)
    return None


#: calibration samples of the int8 conversion in a check: an untrained model's flash and
#: tensor arena do not depend on the quantization ranges, and each sample costs the
#: converter an inference (the trained model is converted with the whole set)
CHECK_CALIBRATION = 16


def estimate_untrained(model: Any, calib: np.ndarray,
                       targets: tuple[Target, ...]) -> tuple[dict[str, Any], str]:
    """Estimate an untrained model on every target (before any training)."""
    from ..estimate import estimate_graph, estimate_model, read_graph
    from ..tflite.int8 import to_int8_tflite

    model_bytes = to_int8_tflite(model, calib)
    try:
        return {t.name: estimate_model(model_bytes, t) for t in targets}, ""
    except ModelError:
        # TFLM can abort in SOFTMAX prepare on untrained weights; measure the
        # model without its final softmax (same weights and activations, one
        # tiny tensor less) and add that tensor back.
        logits = _without_softmax(model)
        if logits is None:
            raise
        logits_bytes = to_int8_tflite(logits, calib)
        graph = read_graph(model_bytes)
        ests = {}
        for t in targets:
            small = estimate_model(logits_bytes, t)
            ests[t.name] = estimate_graph(graph, t, arena_bytes=small.arena_bytes + 16 * 8,
                                          source=small.source)
        return ests, "arena measured without the final softmax"


#: layers TFLite folds into the operator before them (or drops): no tensor of their own
_FOLDED = ("BatchNormalization", "ReLU", "Activation", "Dropout", "InputLayer")


def _elements(shape: Any) -> int:
    dims = [int(d) for d in tuple(shape)[1:] if d is not None]
    n = 1
    for d in dims:
        n *= d
    return n


def _shapes(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def screen_model(model: Any) -> dict[str, Any]:
    """Parameters, multiply-accumulates and peak activation bytes of an untrained model.

    ``params``: the weights (about the int8 model's flash, biases and the flatbuffer
    aside); ``macs``: the convolutions' and dense layers' multiply-accumulates per
    inference; ``activation_bytes``: the largest input + output of one operator at
    one byte per element, the usual lower bound of the tensor arena. Layers that
    TFLite folds into the operator before them (batch norm, ReLU) count no tensors.
    """
    macs = 0
    peak = 0
    ops = 0
    channels = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in _FOLDED:
            continue
        ops += 1
        ins = sum(_elements(s) for s in _shapes(layer.input_shape))
        outs = _shapes(layer.output_shape)
        out = sum(_elements(s) for s in outs)
        peak = max(peak, ins + out)
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense"):
            kernel = tuple(layer.weights[0].shape) if layer.weights else ()
            channels += int(_shapes(layer.output_shape)[0][-1])
            if kind == "Dense":
                macs += out * int(kernel[0]) if kernel else 0
            elif kind == "Conv2D":
                kh, kw, cin = int(kernel[0]), int(kernel[1]), int(kernel[2])
                macs += out * kh * kw * cin
            else:  # depthwise: one kh x kw filter per output channel
                macs += out * int(kernel[0]) * int(kernel[1])
    return {"params": int(model.count_params()), "macs": int(macs),
            "activation_bytes": int(peak), "ops": ops, "channels": channels}


def screen_trials(ctx: TrialContext, hp_configs: list[dict[str, Any]]) -> ScreenResult:
    """Build each candidate (untrained) and measure it with :func:`screen_model`."""
    from .._tf import keras as _keras
    from .spaces import call_build

    t0 = time.perf_counter()
    out: list[dict[str, Any] | None] = []
    try:
        for config in hp_configs:
            try:
                model = call_build(ctx.space, _hyperparameters(config))
                out.append(screen_model(model))
                del model
            except Exception:  # a draft that does not build is never proposed
                out.append(None)
            _keras().backend.clear_session()
    finally:
        _keras().backend.clear_session()
        release_memory()
    return ScreenResult(screens=out, seconds=time.perf_counter() - t0, rss_bytes=rss_bytes())


def check_trial(ctx: TrialContext, hp_config: dict[str, Any], seed: int) -> CheckResult:
    """Build the candidate with ``hp_config``'s values and estimate it untrained (on the
    CPU, whatever the training device)."""
    from .._tf import keras as _keras
    from .._tf import set_seed
    from .spaces import call_build

    t0 = time.perf_counter()
    set_seed(seed)
    hp = _hyperparameters(hp_config)
    try:
        with cpu_scope():
            model = call_build(ctx.space, hp)
            hp.ensure_active_values()
            active = {k: v for k, v in hp.values.items() if hp.is_active(k)}
            ests, note = estimate_untrained(model, ctx.calib[:CHECK_CALIBRATION], ctx.targets)
        del model
    finally:
        _keras().backend.clear_session()
        release_memory()
    return CheckResult(estimates=ests, note=note, seconds=time.perf_counter() - t0,
                       hyperparameters=active, rss_bytes=rss_bytes())


def _compile_default(model: Any, hp: Any) -> None:
    """Compile ``model`` as edgeml trains: Adam at the trial's ``lr``, cross-entropy on
    the softmax's probabilities, accuracy (the last metric, which the search reads)."""
    from .._tf import keras as _keras

    keras = _keras()
    model.compile(optimizer=keras.optimizers.Adam(float(hp.values.get("lr", 3e-3))),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def _float32_outputs(model: Any, hp: Any) -> Any:
    """The model to train under the mixed policy: ``model``'s layers (its weights are
    trained), with the softmax computed in float32 and float32 outputs, as keras' mixed
    precision guide asks for a numerically stable loss; compiled (loss scaling comes with
    the mixed policy). A subclassed model (its own ``train_step``) is trained as built."""
    from .._tf import keras as _keras

    keras = _keras()
    functional = type(model).__name__ in ("Functional", "Sequential")
    if not functional or model.outputs[0].dtype == "float32":
        if getattr(model, "optimizer", None) is None:
            _compile_default(model, hp)
        return model
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        out = keras.layers.Activation("softmax", dtype="float32", name="probs_float32")(
            last.input)
    else:  # Dense(..., activation="softmax"): keep it, and cast its output
        out = keras.layers.Activation("linear", dtype="float32", name="probs_float32")(
            model.output)
    trained = keras.Model(model.inputs, out, name=model.name)
    if getattr(model, "optimizer", None) is not None:  # the space compiled its model
        trained.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
    else:
        _compile_default(trained, hp)
    return trained


def _float32_copy(space: Space, hp: Any, trained: Any) -> Any:
    """``trained``'s architecture built again under float32 on the CPU, holding its
    weights (compiled, as it is saved): what is evaluated, converted and saved."""
    from .spaces import call_build

    with precision_policy("float32"), cpu_scope():
        copy = call_build(space, hp)
        try:
            copy.set_weights(trained.get_weights())
        except ValueError as exc:
            raise ModelError(f"build(hp) built another architecture the second time ({exc})",
                             hint="make build(hp) depend only on the hyperparameters, or train "
                                  "in float32 with EDGEML_MIXED_PRECISION=0") from exc
        if getattr(copy, "optimizer", None) is None:
            _compile_default(copy, hp)
    return copy


def train_trial(ctx: TrialContext, hp_config: dict[str, Any], seed: int, *,
                parent_keras: str | None, parent_id: str | None, folder: str,
                on_epoch: Epoch | None = None) -> TrainResult:
    """Train the candidate; save ``model.keras`` in ``folder``; return its int8 bytes.

    On the CPU in float32 (the default there) the trained model itself is evaluated,
    converted and saved. Trained on a GPU or in mixed precision, a float32 copy built
    on the CPU is (:func:`_float32_copy`)."""
    from .._tf import keras as _keras
    from .._tf import set_seed
    from ..tflite.int8 import to_int8_tflite
    from .spaces import call_build

    keras = _keras()
    hp = _hyperparameters(hp_config)
    mixed = bool(ctx.mixed_precision)
    on_gpu = ctx.device.startswith("gpu")
    try:
        set_seed(seed)
        with device_scope(ctx.device):
            with precision_policy(MIXED_POLICY if mixed else None):
                model = call_build(ctx.space, hp)
                if parent_id is not None:
                    if not parent_keras:
                        raise EdgeMLError(f"hyperband trial continues trial {parent_id}, whose "
                                          "model was not saved", hint="start a new run")
                    old = keras.models.load_model(parent_keras, compile=False)
                    model.set_weights(old.get_weights())
                    del old
                fitted = _trainable(model, hp, mixed)
            epochs = int(hp.values.get("tuner/epochs", ctx.epochs))
            initial = int(hp.values.get("tuner/initial_epoch", 0))
            stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=ctx.patience,
                                                    restore_best_weights=True)
            callbacks = [stopper]
            if on_epoch is not None:
                callbacks.append(keras.callbacks.LambdaCallback(
                    on_epoch_end=lambda epoch, logs=None: on_epoch(epoch + 1 - initial,
                                                                   epochs - initial)))
            t0 = time.perf_counter()
            hist = fitted.fit(ctx.x_train, ctx.y_train, validation_data=(ctx.x_val, ctx.y_val),
                              epochs=epochs, initial_epoch=initial,
                              batch_size=int(hp.values.get("batch_size", 32)), verbose=0,
                              callbacks=callbacks)
            t1 = time.perf_counter()
            label = device_label(ctx.device)
        saved = _float32_copy(ctx.space, hp, model) if mixed or on_gpu else model
        with cpu_scope() if saved is not model else contextlib.nullcontext():
            float_acc = float(saved.evaluate(ctx.x_val, ctx.y_val, verbose=0)[-1])
            model_bytes = to_int8_tflite(saved, ctx.calib)
        t2 = time.perf_counter()
        _save(saved, folder)
        epochs_run = len(hist.history["loss"])
        # the epoch whose weights were kept, counted from the first epoch of training
        # (a Hyperband continuation includes its parent's epochs)
        best_epoch = _best_epoch(stopper, hist, initial)
        del model, fitted, saved, hist
    finally:
        keras.backend.clear_session()
        release_memory()
    return TrainResult(model_bytes=model_bytes, float_val_accuracy=float_acc,
                       epochs_run=epochs_run, train_seconds=t1 - t0, convert_seconds=t2 - t1,
                       continues=parent_id, rss_bytes=rss_bytes(), device=label,
                       mixed_precision=mixed, best_epoch=best_epoch)


def _trainable(model: Any, hp: Any, mixed: bool) -> Any:
    """``model`` compiled as the search trains it (unless the space compiled it itself);
    under the mixed policy, with float32 outputs (:func:`_float32_outputs`)."""
    if mixed:
        return _float32_outputs(model, hp)
    if getattr(model, "optimizer", None) is None:
        _compile_default(model, hp)
    return model


def _save(model: Any, folder: str) -> None:
    """Save ``model.keras`` in ``folder`` atomically."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*"):  # left by a run killed while saving
        stale.unlink(missing_ok=True)
    tmp = out / f".model.{os.getpid()}.keras"
    model.save(str(tmp))
    os.replace(tmp, out / "model.keras")


def _best_epoch(stopper: Any, hist: Any, initial: int) -> int:
    """1-based epoch whose weights EarlyStopping restored: the lowest validation loss
    (the first one when there are ties, as EarlyStopping keeps it)."""
    losses = [float(v) for v in hist.history.get("val_loss", [])]
    if losses and all(np.isfinite(losses)):
        return int(initial + int(np.argmin(losses)) + 1)
    return int(getattr(stopper, "best_epoch", initial + len(losses) - 1)) + 1


def refit_trial(ctx: TrialContext, hp_config: dict[str, Any], seed: int, *, epochs: int,
                folder: str, on_epoch: Epoch | None = None, nice: int = 0) -> RefitResult:
    """The final retrain: build the chosen configuration afresh with ``seed``, train it on
    train + validation for ``epochs`` epochs (no validation data, no early stopping) on the
    context's device, convert it to int8 with the search's calibration and save
    ``model.keras`` in ``folder``. ``nice`` > 0 lowers this process's CPU priority first
    (for a worker that runs nothing after it: a retrain in the background yields the CPU
    to the search process)."""
    if nice > 0:
        with contextlib.suppress(OSError):
            os.nice(int(nice))
    from .._tf import keras as _keras
    from .._tf import set_seed
    from ..tflite.int8 import to_int8_tflite
    from .spaces import call_build

    keras = _keras()
    hp = _hyperparameters(hp_config)
    epochs = max(1, int(epochs))
    mixed = bool(ctx.mixed_precision)
    on_gpu = ctx.device.startswith("gpu")
    x = np.concatenate([ctx.x_train, ctx.x_val])
    y = np.concatenate([ctx.y_train, ctx.y_val])
    try:
        set_seed(seed)
        with device_scope(ctx.device):
            with precision_policy(MIXED_POLICY if mixed else None):
                model = call_build(ctx.space, hp)
                fitted = _trainable(model, hp, mixed)
            callbacks = []
            if on_epoch is not None:
                callbacks.append(keras.callbacks.LambdaCallback(
                    on_epoch_end=lambda epoch, logs=None: on_epoch(epoch + 1, epochs)))
            t0 = time.perf_counter()
            fitted.fit(x, y, epochs=epochs, batch_size=int(hp.values.get("batch_size", 32)),
                       verbose=0, callbacks=callbacks, shuffle=True)
            t1 = time.perf_counter()
        saved = _float32_copy(ctx.space, hp, model) if mixed or on_gpu else model
        with cpu_scope() if saved is not model else contextlib.nullcontext():
            model_bytes = to_int8_tflite(saved, ctx.calib)
        t2 = time.perf_counter()
        _save(saved, folder)
        del model, fitted, saved
    finally:
        keras.backend.clear_session()
        release_memory()
    return RefitResult(model_bytes=model_bytes, epochs=epochs, samples=int(len(y)),
                       train_seconds=t1 - t0, convert_seconds=t2 - t1, rss_bytes=rss_bytes())


# --------------------------------------------------------------------------- the table
#: Every step a runner can run, by name: ``step(ctx, *args, **kwargs)``. A step that
#: reports training progress takes an ``on_epoch(epoch, epochs)`` keyword.
STEPS: dict[str, Callable[..., Any]] = {"check": check_trial, "screen": screen_trials,
                                        "train": train_trial,
                                        "refit": refit_trial}


def run_step(ctx: TrialContext, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             on_epoch: Epoch | None = None) -> Any:
    """Run step ``name`` of :data:`STEPS` (the one dispatch every runner uses)."""
    import inspect

    try:
        step = STEPS[name]
    except KeyError:
        raise RuntimeError(f"unknown trial step {name!r}") from None
    if on_epoch is not None and "on_epoch" in inspect.signature(step).parameters:
        kwargs = {**kwargs, "on_epoch": on_epoch}
    return step(ctx, *args, **kwargs)


def host_name() -> str:
    return socket.gethostname() or "localhost"


# --------------------------------------------------------------------------- runners
class _Steps:
    """The named steps as methods, for every runner (each implements :meth:`run`)."""

    isolated = False
    #: where the runner's steps run, as recorded in a trial's ``worker`` field
    where = "local"

    def run(self, name: str, *args: Any, on_epoch: Epoch | None = None,
            **kwargs: Any) -> Any:  # pragma: no cover - every runner defines it
        raise NotImplementedError

    def check(self, hp_config: dict[str, Any], seed: int) -> CheckResult:
        return self.run("check", hp_config, seed)

    def screen(self, hp_configs: list[dict[str, Any]]) -> ScreenResult:
        return self.run("screen", hp_configs)

    def train(self, hp_config: dict[str, Any], seed: int, *, parent_keras: str | None,
              parent_id: str | None, folder: str, on_epoch: Epoch | None = None) -> TrainResult:
        return self.run("train", hp_config, seed, parent_keras=parent_keras,
                        parent_id=parent_id, folder=folder, on_epoch=on_epoch)

    def refit(self, hp_config: dict[str, Any], seed: int, *, epochs: int, folder: str,
              on_epoch: Epoch | None = None, nice: int = 0) -> RefitResult:
        # never in the search process itself: only a worker process lowers its priority
        return self.run("refit", hp_config, seed, epochs=epochs, folder=folder,
                        on_epoch=on_epoch, nice=nice if self.isolated else 0)

    def close(self, *, kill: bool = False) -> None:
        pass

    def interrupt(self) -> None:
        """Stop the step running now, from another thread (the search is ending)."""


class InProcessRunner(_Steps):
    """Runs the steps in this process (memory grows with the number of trials)."""

    def __init__(self, ctx: TrialContext, *, slot: int = 0) -> None:
        self.ctx = ctx
        self.where = f"{host_name()}/{slot}"
        configure_process(ctx.device)

    def run(self, name: str, *args: Any, on_epoch: Epoch | None = None, **kwargs: Any) -> Any:
        return run_step(self.ctx, name, args, kwargs, on_epoch)


def _recycle_mb() -> float:
    text = os.environ.get(RECYCLE_ENV, "").strip()
    if not text:
        return 256.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise EdgeMLError(f"{RECYCLE_ENV}={text!r} is not a size in MB",
                          hint="set it to a number such as 256, or unset it")
    return value


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class WorkerRunner(_Steps):
    """Runs the steps in a worker process, replaced when its memory has grown.

    The worker starts (imports TensorFlow, receives the data) as soon as the
    runner is created, so that start overlaps the search's own set-up.
    ``threads``: TensorFlow intra-op threads for the worker (and one inter-op
    thread); None leaves TensorFlow's own choice.
    """

    isolated = True

    def __init__(self, ctx: TrialContext, *, recycle_mb: float | None = None,
                 threads: int | None = None, slot: int = 0) -> None:
        self.ctx = ctx
        self.threads = threads
        self.where = f"{host_name()}/{slot}"
        self.recycle_bytes = (recycle_mb if recycle_mb is not None else _recycle_mb()) * MB
        self.proc: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.base_rss: int | None = None
        self.starts = 0
        self._start()

    # -- process management ----------------------------------------------
    def _start(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        env.update(worker_env(self.ctx.device))  # a CPU worker does not see the GPUs
        if self.threads:
            env.update(TF_NUM_INTRAOP_THREADS=str(self.threads), TF_NUM_INTEROP_THREADS="1",
                       OMP_NUM_THREADS=str(self.threads))
        try:
            self.proc = _spawn(
                [sys.executable, "-m", "edgeml.search._trial_worker", str(child_sock.fileno())],
                pass_fds=(child_sock.fileno(),), env=env, stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else None)
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        # pickled per start rather than kept: the data may be large
        self.conn.send_bytes(pickle.dumps(self.ctx.for_worker(), protocol=pickle.HIGHEST_PROTOCOL))
        self.base_rss = None
        self.starts += 1

    def close(self, *, kill: bool = False) -> None:
        """Stop the worker, with or without ``kill``: between two steps it has nothing
        left to write (every step's files are in place before it replies), and in the
        middle of one it was interrupted, so it is killed at once rather than left to
        unload TensorFlow, which takes a second or more."""
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()

    def interrupt(self) -> None:
        """Kill the worker from another thread: the slot's thread waiting for its reply
        sees the worker die and cleans up."""
        proc = self.proc
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()

    def _died(self, doing: str) -> WorkerDied:
        proc = self.proc
        self.close()  # its end of the pipe is gone: reap it
        code = proc.returncode if proc is not None else None
        if code is not None and code < 0:
            how = f"killed by {_signal_name(code)}"
            if code == -signal.SIGKILL:
                how += ", out of memory?"
        else:
            how = f"exit status {code}"
        return WorkerDied(f"the trial worker process died while {doing} ({how})",
                          hint="a fresh worker takes the next trial; run with "
                               f"{WORKER_ENV}=0 to debug the step in this process")

    def _call(self, request: tuple[Any, ...], doing: str, on_epoch: Epoch | None = None) -> Any:
        if self.proc is None:
            self._start()
        assert self.conn is not None
        try:
            self.conn.send(request)
            while True:
                kind, *rest = self.conn.recv()
                if kind == "epoch":
                    if on_epoch is not None:
                        on_epoch(*rest)
                    continue
                break
        except (EOFError, OSError) as exc:
            raise self._died(doing) from exc
        except BaseException:
            self.close(kill=True)  # interrupted mid-step (Ctrl-C): its state is unknown
            raise
        if kind == "error":
            err_kind, message, hint = rest
            cls = getattr(_errors, err_kind, None)
            if err_kind == "SpaceError":
                raise SpaceError(message, hint=hint)
            if isinstance(cls, type) and issubclass(cls, EdgeMLError):
                raise cls(message, hint=hint)
            raise TrialFailure(err_kind, message)
        result = rest[0]
        self._after(result.rss_bytes)
        return result

    def _after(self, rss: int) -> None:
        """Replace the worker once it has grown by the recycle limit since its first task."""
        if self.base_rss is None:
            self.base_rss = rss
        elif rss - self.base_rss > self.recycle_bytes:
            self.close()
            self._start()  # the new one loads TensorFlow while this trial is scored

    # -- the steps -----------------------------------------------------------
    def run(self, name: str, *args: Any, on_epoch: Epoch | None = None, **kwargs: Any) -> Any:
        doing = {"check": "checking a candidate", "train": "training a candidate",
                 "screen": "screening candidates",
                 "refit": "retraining the chosen model"}.get(name, f"running step {name!r}")
        return self._call((name, args, kwargs), doing, on_epoch)



_launcher: Any = None
_launcher_lock = threading.Lock()


def _spawn(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen`` from the main thread or from one launcher thread that lives as
    long as this process. A worker asks Linux to kill it when its parent dies
    (``PR_SET_PDEATHSIG``), and Linux takes the parent to be the *thread* that started
    it: a worker started by a slot thread would die with that thread."""
    global _launcher
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(args, **kwargs)
    from concurrent.futures import ThreadPoolExecutor

    with _launcher_lock:
        if _launcher is None:
            _launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgeml-launcher")
    return _launcher.submit(subprocess.Popen, args, **kwargs).result()


def _isolate(isolate: bool | None) -> bool:
    if isolate is None:
        isolate = os.environ.get(WORKER_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
    return bool(isolate)


def make_runner(ctx: TrialContext, *, isolate: bool | None = None, threads: int | None = None,
                slot: int = 0) -> InProcessRunner | WorkerRunner:
    """A :class:`WorkerRunner` unless ``isolate`` is False (default: ``$EDGEML_TRIAL_WORKER``,
    on) or the space cannot be sent to another process."""
    if _isolate(isolate) and sendable(ctx.space):
        return WorkerRunner(ctx, threads=threads, slot=slot)
    return InProcessRunner(ctx, slot=slot)


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        pass
    return None


WORKERS_ENV = "EDGEML_WORKERS"


def workers_env() -> int | None:
    """``$EDGEML_WORKERS``, the default for ``--workers`` (unset or empty: none)."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise EdgeMLError(f"{WORKERS_ENV}={raw!r} is not a number of workers",
                          hint=f"set it to a whole number of at least 1, e.g. {WORKERS_ENV}=2, "
                               "or unset it")
    return n


def default_workers(ctx: TrialContext, *, isolate: bool | None = None) -> int:
    """The trial slots this machine can use: ``$EDGEML_WORKERS`` when set, else one per
    core, as many as its free memory holds worker processes; 1 when the steps must run in
    this process."""
    if not (_isolate(isolate) and sendable(ctx.space)):
        return 1
    env = workers_env()
    if env is not None:
        return env
    n = cpu_cores()
    free = _available_bytes()
    if free is not None:
        n = min(n, max(1, free // WORKER_BYTES))
    return max(1, int(n))


def make_runners(ctx: TrialContext, workers: int, *,
                 isolate: bool | None = None) -> list[InProcessRunner | WorkerRunner]:
    """One runner per trial slot. Several slots need worker processes (the steps of one
    process cannot run side by side): a space that cannot be sent gets one slot. With
    several slots each worker gets ``cores // workers`` TensorFlow threads."""
    if workers < 1:
        raise EdgeMLError(f"--workers must be at least 1 (got {workers})", hint="e.g. --workers 2")
    if workers == 1 or not (_isolate(isolate) and sendable(ctx.space)):
        return [make_runner(ctx, isolate=isolate)]
    threads = max(1, cpu_cores() // workers)
    runners: list[InProcessRunner | WorkerRunner] = []
    try:
        for slot in range(workers):
            runners.append(WorkerRunner(ctx, threads=threads, slot=slot))
    except BaseException:
        for r in runners:
            r.close(kill=True)
        raise
    return runners
