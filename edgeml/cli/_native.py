"""Native (C/C++) library output on fd 2 goes to a temporary log, not the terminal."""

from __future__ import annotations

import contextlib
import os
import sys


class NativeStderr:
    """Send what C/C++ libraries write to fd 2 (TensorFlow's start-up and CUDA probing
    lines, converter logs) to a log file, while Python's ``sys.stderr`` (edgeml's own
    messages, tracebacks) still reaches the terminal. The log is kept (written to
    ``path``) only when an unexpected error occurs."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.keep = False
        self.path = ""

    def __enter__(self) -> NativeStderr:
        if not self.enabled:
            return self
        import tempfile

        try:
            sys.stderr.flush()
            self._terminal = os.dup(2)
            fd, self.path = tempfile.mkstemp(prefix="edgeml-native-", suffix=".log")
            # The log has no name while edgeml runs: a process killed with SIGKILL (or
            # one that ends normally) leaves nothing behind. __exit__ writes it out under
            # self.path only when it is kept.
            os.unlink(self.path)
            os.dup2(fd, 2)
            self._log = fd
            self._saved_stderr = sys.stderr
            sys.stderr = open(self._terminal, "w", buffering=1, closefd=False,
                              encoding=getattr(self._saved_stderr, "encoding", None) or "utf-8",
                              errors="replace")
        except (OSError, ValueError):  # no real fd 2 (embedded use): leave it alone
            self.enabled = False
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.enabled:
            return
        sys.stderr.flush()
        sys.stderr = self._saved_stderr
        os.dup2(self._terminal, 2)
        os.close(self._terminal)
        try:
            if self.keep:
                with contextlib.suppress(OSError), \
                        open(self.path, "xb") as out, open(self._log, "rb", closefd=False) as log:
                    log.seek(0)
                    out.write(log.read())
        finally:
            os.close(self._log)
