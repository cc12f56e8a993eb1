"""Trial slots on a Ray cluster (``edgeml search --cluster HOST:PORT``).

The cluster is started with Ray's own launcher (``ray start --head --port PORT``
on one host, ``ray start --address HOST:PORT`` on each other host). The search
process connects to it as a Ray driver and keeps the oracle, the trial records,
the budget and the TFLM scoring to itself, exactly as with local slots; each
slot's steps (:data:`~edgeml.search.worker.STEPS`) run in a Ray actor, one per
slot, that holds the :class:`~edgeml.search.worker.TrialContext` (sent once
through Ray's object store: the workers need edgeml, not the data). Files
travel by value: a training returns its ``model.keras`` as bytes, which the
search process writes into the run directory, and a Hyperband trial's parent
model is sent as bytes; no shared filesystem is needed. A user's ``--space``
file travels as its text.

An actor that dies (its process killed, its node lost) raises
:class:`~edgeml.search.worker.WorkerDied` in the step it was running; the
search's rule then runs the training once more, on a fresh actor wherever Ray
places it, and marks the trial failed if that dies too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from .._io import atomic_write
from ..errors import EdgeMLError
from .spaces import SpaceError
from .worker import (
    Epoch,
    TrialContext,
    TrialFailure,
    WorkerDied,
    _Steps,
    host_name,
    run_step,
)

__all__ = ["connect", "disconnect", "make_ray_runners", "RayRunner", "CPUS_PER_WORKER"]

#: CPUs a trial slot's actor asks Ray for (its TensorFlow threads)
CPUS_PER_WORKER = 1
_HINT = ("start the cluster with `ray start --head --port PORT` on that host, and check "
         "--cluster HOST:PORT and that the port is open")


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise EdgeMLError("--cluster needs Ray, which is not installed",
                          hint="pip install 'edgeml[cluster]'") from exc
    return ray


def connect(address: str) -> Any:
    """Connect this process to the Ray cluster at ``address`` (``HOST:PORT``)."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    host, _, port = str(address).rpartition(":")
    if not host or not port.isdigit():
        raise EdgeMLError(f"--cluster {address!r} is not HOST:PORT",
                          hint="pass the address `ray start --head --port PORT` printed, "
                               "e.g. --cluster 10.0.0.5:6379")
    try:  # fail in a second, not after Ray's own minute of retries
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as exc:
        raise EdgeMLError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc})",
                          hint=_HINT) from exc
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
                 include_dashboard=False, configure_logging=False)
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise EdgeMLError(f"cannot connect to the Ray cluster at {address} ({text})",
                          hint=_HINT) from exc
    return ray


def disconnect() -> None:
    with contextlib.suppress(Exception):
        ray = _ray()
        if ray.is_initialized():
            ray.shutdown()


def cluster_slots() -> int:
    """Trial slots the connected cluster's CPUs hold."""
    ray = _ray()
    return max(1, int(ray.cluster_resources().get("CPU", 1)) // CPUS_PER_WORKER)


# --------------------------------------------------------------------------- the actor
class _TrialActor:
    """Holds a slot's TrialContext on a cluster node and runs its steps (see STEPS)."""

    def __init__(self, payload: dict[str, Any], threads: int) -> None:
        # before TensorFlow starts in this process: its share of the node's cores
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
        os.environ["TF_NUM_INTEROP_THREADS"] = "1"
        os.environ["OMP_NUM_THREADS"] = str(threads)
        from .device import configure_process, worker_env

        payload = dict(payload)
        os.environ.update(worker_env(str(payload.get("device", "cpu"))))
        configure_process(str(payload.get("device", "cpu")))
        self.tmp = Path(tempfile.mkdtemp(prefix="edgeml-actor-"))
        source = payload.pop("space_source", None)
        if source is not None:  # a --space file, written here under its own name
            kind, path, shape, n, digest = payload["space_recipe"]
            local = self.tmp / Path(path).name
            local.write_text(source)
            payload["space_recipe"] = (kind, str(local), shape, n, digest)
        payload.pop("sys_path", None)  # the search host's paths mean nothing here
        self.ctx = TrialContext.from_worker(payload)

    def run(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
            parent: bytes | None, want_folder: bool) -> tuple[Any, dict[str, bytes], str]:
        import shutil

        work = Path(tempfile.mkdtemp(dir=self.tmp))
        try:
            kwargs = dict(kwargs)
            if parent is not None:
                (work / "parent.keras").write_bytes(parent)
                kwargs["parent_keras"] = str(work / "parent.keras")
            if want_folder:
                kwargs["folder"] = str(work / "out")
            try:
                result = run_step(self.ctx, name, tuple(args), kwargs)
            except EdgeMLError as exc:
                raise _StepError(type(exc).__name__, exc.message, exc.hint) from None
            except Exception as exc:
                raise _StepError(type(exc).__name__,
                                 str(exc).strip() or type(exc).__name__, None) from None
            files = {}
            if want_folder and (work / "out").is_dir():
                files = {p.name: p.read_bytes() for p in (work / "out").iterdir()
                         if p.is_file() and not p.name.startswith(".")}
            return result, files, host_name()
        finally:
            shutil.rmtree(work, ignore_errors=True)


class _StepError(Exception):
    """A step raised on the node: its class name, message and hint travel back."""

    def __init__(self, kind: str, message: str, hint: str | None) -> None:
        super().__init__(kind, message, hint)
        self.kind, self.message, self.hint = kind, message, hint


# --------------------------------------------------------------------------- the runner
class RayRunner(_Steps):
    """Runs a slot's steps in a Ray actor; a new actor replaces one that died."""

    isolated = True

    def __init__(self, payload_ref: Any, *, slot: int, threads: int = CPUS_PER_WORKER) -> None:
        self.payload_ref = payload_ref
        self.slot = slot
        self.threads = threads
        self.actor: Any = None
        self.starts = 0
        self.where = f"ray/{slot}"
        self._start()

    def _start(self) -> None:
        ray = _ray()
        cls = ray.remote(num_cpus=CPUS_PER_WORKER, max_restarts=0,
                         max_concurrency=1)(_TrialActor)
        self.actor = cls.remote(self.payload_ref, self.threads)
        self.starts += 1

    def run(self, name: str, *args: Any, on_epoch: Epoch | None = None, **kwargs: Any) -> Any:
        ray = _ray()
        if self.actor is None:
            self._start()
        parent = None
        if kwargs.get("parent_keras"):
            parent = Path(kwargs["parent_keras"]).read_bytes()
        folder = kwargs.pop("folder", None)
        doing = {"check": "checking a candidate", "train": "training a candidate"}.get(
            name, f"running step {name!r}")
        try:
            result, files, host = ray.get(self.actor.run.remote(
                name, args, kwargs, parent, folder is not None))
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, _StepError):
                if cause.kind == "SpaceError":
                    raise SpaceError(cause.message, hint=cause.hint) from None
                from .. import errors as _errors

                cls = getattr(_errors, cause.kind, None)
                if isinstance(cls, type) and issubclass(cls, EdgeMLError):
                    raise cls(cause.message, hint=cause.hint) from None
                raise TrialFailure(cause.kind, cause.message) from None
            raise TrialFailure(type(exc).__name__, str(exc).strip().splitlines()[0]) from None
        except ray.exceptions.RayError as exc:  # the actor or its node died
            self.actor = None
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise WorkerDied(f"the Ray actor of trial slot {self.slot} died while {doing} "
                             f"({type(exc).__name__}: {text})",
                             hint="a fresh actor takes the next trial") from exc
        self.where = f"{host}/{self.slot}"
        if folder is not None:
            out = Path(folder)
            for fname, data in files.items():
                atomic_write(out / fname, data)
        return result

    def interrupt(self) -> None:
        actor = self.actor
        if actor is not None:
            with contextlib.suppress(Exception):
                _ray().kill(actor, no_restart=True)

    def close(self, *, kill: bool = False) -> None:
        actor, self.actor = self.actor, None
        if actor is not None:
            with contextlib.suppress(Exception):
                _ray().kill(actor, no_restart=True)


def make_ray_runners(ctx: TrialContext, address: str, workers: int | None) -> list[RayRunner]:
    """Connect to the cluster and start one actor per slot (``workers``, or as many as
    the cluster's CPUs hold)."""
    if str(getattr(ctx, "device", "cpu")).startswith("gpu"):
        raise EdgeMLError("--cluster trains on the cluster nodes' CPUs, not on a GPU",
                          hint="leave out --device (or use --device cpu) with --cluster")
    ray = connect(address)
    payload = ctx.for_worker()
    recipe = payload.get("space_recipe")
    if recipe is not None and recipe[0] == "file":
        payload["space_source"] = Path(recipe[1]).read_text()
    elif "space" in payload:
        raise EdgeMLError("--cluster needs a search space that can be sent to other hosts",
                          hint="use the built-in space or a --space file")
    n = cluster_slots() if workers is None else int(workers)
    ref = ray.put(payload)
    return [RayRunner(ref, slot=i) for i in range(n)]
