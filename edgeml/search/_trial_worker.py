"""The trial worker process (see :mod:`edgeml.search.worker`).

Started as ``python -m edgeml.search._trial_worker FD`` with one end of a socket
pair as ``FD``. It receives the pickled :class:`TrialContext` once, then answers
requests ``(step, args, kwargs)`` (a step of :data:`~edgeml.search.worker.STEPS`,
e.g. ``("check", (hp_config, seed), {})``) with ``("ok", result)`` or
``("error", kind, message, hint)``, sending ``("epoch", epoch, epochs)`` while it
trains. It exits when the search process closes its end of the pipe or dies.

Its device comes from its environment (``EDGEML_WORKER_DEVICE``, and
``CUDA_VISIBLE_DEVICES=-1`` for the CPU; :func:`edgeml.search.device.worker_env`).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from typing import Any


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the search process dies (even by kill -9)."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux/glibc: the end of the pipe still stops us
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _error(exc: BaseException) -> tuple[str, str, str, str | None]:
    from edgeml.errors import EdgeMLError

    if isinstance(exc, EdgeMLError):
        return ("error", type(exc).__name__, exc.message, exc.hint)
    return ("error", type(exc).__name__, str(exc).strip() or type(exc).__name__, None)


def _preload() -> None:
    """Load TensorFlow, tf_keras and keras-tuner now, while the search process sets itself
    up, rather than in the first step it asks for (they take seconds to load)."""
    try:
        import keras_tuner  # noqa: F401

        from edgeml._tf import keras

        keras()
    except Exception:  # the first step that needs them says what is wrong
        pass


def main(argv: list[str]) -> int:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the search process handles Ctrl-C
    from multiprocessing.connection import Connection

    conn = Connection(int(argv[1]))
    # the context first: the search process's send of it returns once it is read, so it
    # starts the next worker (and goes on setting up) while this one loads TensorFlow
    try:
        payload = conn.recv_bytes()
    except (EOFError, OSError):
        return 0
    # before anything runs on a GPU: memory growth, so that workers share it
    from edgeml.search.device import DEVICE_ENV, configure_process

    failed: tuple[str, str, str, str | None] | None = None
    try:
        configure_process(os.environ.get(DEVICE_ENV, "cpu"))
    except Exception as exc:  # answered on the first request
        failed = _error(exc)
    from edgeml.search.worker import TrialContext, run_step

    ctx: TrialContext | None = None
    if failed is None:
        try:
            ctx = TrialContext.from_worker(pickle.loads(payload))
        except Exception as exc:  # answered on the first request
            failed = _error(exc)
    del payload
    if ctx is not None:
        _preload()

    def on_epoch(epoch: int, epochs: int) -> None:
        conn.send(("epoch", epoch, epochs))

    while True:
        try:
            request: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError):
            return 0
        if failed is not None or ctx is None:
            reply: tuple[Any, ...] = failed or ("error", "RuntimeError", "no context", None)
        else:
            try:
                name, args, kwargs = request
                reply = ("ok", run_step(ctx, name, tuple(args), dict(kwargs), on_epoch))
            except Exception as exc:
                reply = _error(exc)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
