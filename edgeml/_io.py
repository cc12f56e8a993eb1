"""Where edgeml writes files, and how.

One place decides whether an output location can be used
(:func:`prepare_output_dir`, :func:`prepare_output_file`: a folder, writable,
not holding files edgeml would replace without ``force``) and how files are
written (:func:`atomic_write`: temporary file + rename, so a killed run never
leaves a half-written artifact that looks complete). A write that fails (a
full disk, a size limit, an immutable folder) raises :class:`OutputError`
with one line saying why, and leaves no temporary file behind.
:func:`staged_writes` makes several writes one step: every file is written
first, and only when all succeeded are they renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import OutputError

__all__ = ["atomic_write", "dump_json", "to_jsonable", "prepare_output_dir",
           "prepare_output_file", "staged_writes", "replace_file", "output_error"]

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file size limit was reached",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted (the folder may be immutable or read-only)",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENOENT: "the folder cannot be created there",
    errno.ENAMETOOLONG: "the name is too long",
}


def output_error(exc: OSError, path: str | Path, *, action: str = "write",
                 hint: str | None = None) -> OutputError:
    """Describe a failed write of ``path`` in one line."""
    if isinstance(exc, OutputError):
        return exc
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
    if hint is None:
        hint = ("free some space, or write somewhere else"
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
                else "choose a folder you can write to")
    err = OutputError(f"cannot {action} {path}: {reason}", hint=hint)
    err.errno = exc.errno
    return err


# ----------------------------------------------------------------------------- checks
def _through_file(path: Path) -> Path | None:
    """The first existing part of ``path`` (itself or a parent) that is not a folder."""
    for p in (path, *path.parents):
        if os.path.lexists(p):
            return None if p.is_dir() else p
    return None


def prepare_output_dir(path: str | Path, *, label: str = "output folder",
                       replaces: Iterable[str] = (), force: bool = False,
                       hint: str = "choose another folder") -> Path:
    """Check (and create) the folder ``path`` that a command will write into.

    Fails with one line when ``path`` or a parent is a file, when the folder cannot
    be created or written (tried for real: as root only an immutable folder or a
    read-only file system stops a write), or when it already holds any of
    ``replaces`` (files the command would overwrite) and ``force`` is false.
    """
    path = Path(path)
    blocker = _through_file(path)
    if blocker is not None:
        what = "a file" if blocker.is_file() else "a special file"
        if blocker == path:
            raise OutputError(f"{label} {path} is {what}, not a folder", hint=hint)
        raise OutputError(f"{label} {path} goes through {blocker}, which is {what}, not a folder",
                          hint=hint)
    existing = [n for n in replaces if os.path.lexists(path / n)]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise OutputError(f"{label} {path} already holds {existing[0]}{more}, which would be "
                          "overwritten", hint=f"pass --force to overwrite, or {hint}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, path, action="create", hint=hint) from exc
    probe = None
    try:
        fd, probe = tempfile.mkstemp(prefix=".edgeml-probe-", dir=path)
        try:
            os.write(fd, b"edgeml")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise output_error(exc, path, hint=hint) from exc
    finally:
        if probe is not None:
            with contextlib.suppress(OSError):
                os.unlink(probe)
    return path


def prepare_output_file(path: str | Path, *, label: str = "output file", force: bool = False,
                        owned: bytes = b"", hint: str = "choose another file name") -> Path:
    """Check the file ``path`` a command will write: its folder can be written, and an
    existing file there is a regular file that edgeml wrote (starts with ``owned``)
    unless ``force``. Never a device, a pipe or a folder."""
    path = Path(path)
    if os.path.lexists(path):
        mode = path.stat().st_mode if path.exists() else 0
        if stat.S_ISDIR(mode):
            raise OutputError(f"{label} {path} is a folder", hint=hint)
        if not stat.S_ISREG(mode):
            raise OutputError(f"{label} {path} is not a regular file", hint=hint)
        if not force:
            with open(path, "rb") as f:
                head = f.read(len(owned)) if owned else b""
            if not owned or head != owned:
                raise OutputError(f"{label} {path} already exists and edgeml did not write it",
                                  hint=f"pass --force to overwrite it, or {hint}")
    prepare_output_dir(path.parent, label="folder", hint=hint)
    return path


# ----------------------------------------------------------------------------- writing
class _Stage:
    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []
        self.first: list[Path] = []

    def unlink_first(self, path: str | Path) -> None:
        """Remove ``path`` before the staged files are renamed into place (e.g. a run's
        report.json, so that the run never looks complete with half its new files)."""
        self.first.append(Path(path))


_STAGES: list[_Stage] = []


@contextlib.contextmanager
def staged_writes() -> Iterator[_Stage]:
    """Within the block, :func:`atomic_write` and :func:`replace_file` only write
    temporary files; when the block ends without error they are renamed into place in
    the order they were written. On any error every temporary file is removed and no
    existing file has changed."""
    stage = _Stage()
    _STAGES.append(stage)
    try:
        yield stage
    except BaseException:
        for tmp, _ in stage.moves:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    finally:
        _STAGES.remove(stage)
    try:
        for p in stage.first:
            p.unlink(missing_ok=True)
        for tmp, dest in stage.moves:
            os.replace(tmp, dest)
    except OSError as exc:
        for tmp, _ in stage.moves:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise output_error(exc, exc.filename or "") from exc


def replace_file(tmp: str | Path, dest: str | Path) -> None:
    """``os.replace(tmp, dest)``, deferred to the end of :func:`staged_writes` if one is open."""
    if _STAGES:
        _STAGES[-1].moves.append((Path(tmp), Path(dest)))
    else:
        os.replace(tmp, dest)


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same directory + rename.

    Raises :class:`OutputError` (one line) when it cannot; no temporary file is left."""
    path = Path(path)
    if os.path.lexists(path) and not path.is_file():
        raise OutputError(f"{path} exists and is not a regular file; edgeml will not replace it",
                          hint="remove it or write somewhere else")
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise output_error(exc, path) from exc
    try:
        replace_file(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise output_error(exc, path) from exc
    return path


def to_jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in o]
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "value") and isinstance(o.value, str):  # enums
        return o.value
    return o


def dump_json(path: str | Path, obj: Any) -> Path:
    return atomic_write(path, json.dumps(to_jsonable(obj), indent=2) + "\n")


def cpu_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
