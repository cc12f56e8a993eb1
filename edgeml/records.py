"""What a run leaves on disk, typed: trial records and the run directory.

A run directory (``edgeml search --out DIR``) holds::

    run.json              the settings, written first
    trials/trial_0007.json one record per finished trial (:class:`Trial`), written once
    trials/trial_0007/    that trial's model.tflite and model.keras
    model.tflite, model_data.cc/.h, op_resolver.h, report.md, pareto.png
    report.json           written last: the run is finished when it is there

:class:`RunDir` is the one reader of that layout (search ``--resume``,
``export``, ``compress``): a missing or damaged run is one
:class:`~edgeml.errors.RunDirError` line, whichever command reads it.
:class:`TrialStore` reads and writes the trial records; :class:`Trial` is one
record, with :meth:`Trial.to_json` / :meth:`Trial.from_json` writing and reading
the same JSON files every edgeml version wrote, so older runs still resume.

This module holds plain data and files only (no TensorFlow): the search, the
pipeline, the export and the CLI all read runs through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any

from ._io import dump_json
from .errors import RunDirError

__all__ = ["Trial", "TrialStatus", "TrialStore", "RunDir", "RUN_FILE", "REPORT_FILE",
           "split_options"]

RUN_FILE = "run.json"
REPORT_FILE = "report.json"


def split_options(conf: dict[str, Any]) -> dict[str, Any]:
    """How a run split its data, from its recorded settings (``run.json``'s ``config``), as
    :func:`~edgeml.data.load_dataset`'s keywords; a run from before the split options was
    split with the fixed fractions 0.15 / 0.2."""
    if "val_split" not in conf:
        return {"val_fraction": 0.15, "test_fraction": None if conf.get("test_data") else 0.2,
                "test_data": conf.get("test_data")}
    return {"val_fraction": conf.get("val_split"), "test_fraction": conf.get("test_split"),
            "test_data": conf.get("test_data")}


class TrialStatus(str, Enum):
    """How a trial ended (the ``status`` string of its JSON record)."""

    TRAINED = "trained"         # trained, converted to int8 and scored in TFLM
    INFEASIBLE = "infeasible"   # broke a limit when checked: never trained
    FAILED = "failed"           # could not be checked, or its training failed (twice if the
    #                             worker died): replaced by another candidate
    PROBE = "probe"             # one of the space's smallest candidates, checked only
    RUNNING = "running"         # checked, fits, being trained (never written to disk)

    def __str__(self) -> str:
        return self.value


# keys earlier edgeml versions wrote that nothing reads any more
_DEAD_KEYS = ("extra", "fit_calls")


@dataclass(frozen=True)
class Trial:
    """One finished trial, as recorded in ``trials/trial_NNNN.json``.

    ``estimate``, ``violations``, ``targets`` and ``costs`` are the plain JSON forms
    of the checks (``Estimate.as_dict()`` per target, violation amounts where
    ``<= 0`` is met, the Pareto coordinates); they are set once a candidate was
    checked. A trial that failed says at which ``stage`` ("check" or "train") and
    why (``error``); ``retried`` keeps the errors of earlier attempts of a
    training whose worker process died.
    """

    trial_id: str
    status: TrialStatus
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    feasible: bool | None = None
    estimate: dict[str, Any] | None = None
    violations: dict[str, float] | None = None
    targets: dict[str, Any] | None = None
    broken: tuple[str, ...] = ()
    costs: dict[str, float] | None = None
    note: str = ""
    checked_as: str | None = None
    stage: str | None = None
    error: str | None = None
    retried: tuple[str, ...] = ()
    score: float | None = None
    continues: str | None = None
    float_val_accuracy: float | None = None
    int8_val_accuracy: float | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None    # the epoch EarlyStopping kept (the final retrain's epochs)
    train_seconds: float | None = None
    tflite: str | None = None
    keras: str | None = None
    worker_rss_bytes: int | None = None
    device: str | None = None        # where it trained: "cpu", "gpu:0", ... (None: not trained
    #                                  or recorded before edgeml said)
    seconds: float | None = None
    rss_bytes: int | None = None
    family: str | None = None        # a classical model's family (None: a network)
    cmodel: str | None = None        # a classical model's arrays (.npz), its C export's source
    worker: str | None = None        # where it was checked and trained: "<host>/<slot>"
    wait_seconds: float | None = None  # from drawn by the oracle to the start of its training
    # (trials the oracle had been told the end of when it drew this one, this one's place
    # among those ends); recorded only when it is not (n, n), the order of a one-slot search
    order: tuple[int, int] | None = None
    origin: str | None = None        # "knowledge-base" / "portfolio" (warm start); None: drawn
    # what was predicted before training: a network's screen of its drafts (proposals);
    # a classical candidate's training seconds (``predicted_s``)
    screen: dict[str, Any] | None = None

    # -- state ---------------------------------------------------------------
    @property
    def trained(self) -> bool:
        return self.status is TrialStatus.TRAINED

    @property
    def checked(self) -> bool:
        """Whether the candidate was estimated (it has per-limit results)."""
        return self.targets is not None or self.violations is not None

    @property
    def failed_training(self) -> bool:
        return self.status is TrialStatus.FAILED and self.stage == "train"

    @property
    def deployable(self) -> bool:
        """Trained and within every limit on every target: a point of the Pareto front."""
        return self.trained and bool(self.feasible)

    @property
    def number(self) -> int:
        return int(self.trial_id)

    def with_(self, **changes: Any) -> Trial:
        return replace(self, **changes)

    # -- JSON ----------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The record as written to disk: unset fields are left out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name in ("note", "retried") and not value):
                continue
            if f.name == "broken" and not value and not self.checked:
                continue
            if isinstance(value, TrialStatus):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trial:
        """Read a record (of this or an earlier edgeml version; unknown keys are ignored)."""
        if not isinstance(data, dict) or "trial_id" not in data or "status" not in data:
            raise ValueError("not a trial record (no trial_id/status)")
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known and k not in _DEAD_KEYS}
        kw["trial_id"] = str(data["trial_id"])
        kw["status"] = TrialStatus(data["status"])
        for key in ("broken", "retried"):
            if key in kw:
                kw[key] = tuple(str(x) for x in kw[key] or ())
        if kw.get("order") is not None:
            kw["order"] = tuple(int(x) for x in kw["order"])
        if kw.get("note") is None:
            kw.pop("note", None)
        return cls(**kw)


class TrialStore:
    """``<run>/trials/trial_0007.json`` records, keyed by the trial's number.

    A record is written once, when its trial has finished, after its artifacts:
    a run killed at any moment has, for each trial, a complete record or none.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.root = Path(run_dir) / "trials"

    def path(self, number: int) -> Path:
        return self.root / f"trial_{number:04d}.json"

    def artifact_dir(self, number: int) -> Path:
        d = self.root / f"trial_{number:04d}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def put(self, trial: Trial, *, name: str | None = None) -> Path:
        if trial.status is TrialStatus.RUNNING:
            raise ValueError(f"trial {trial.trial_id} has not finished: its record is written "
                             "when it has")
        target = self.root / f"{name}.json" if name else self.path(trial.number)
        return dump_json(target, trial.to_json())

    def get(self, name: str) -> Trial | None:
        p = self.root / f"{name}.json"
        return self._read(p) if p.exists() else None

    def load(self) -> dict[int, Trial]:
        """Every finished trial's record, by trial number."""
        out: dict[int, Trial] = {}
        if not self.root.is_dir():
            return out
        for p in sorted(self.root.glob("trial_*.json")):
            try:
                number = int(p.stem.split("_", 1)[1])
            except ValueError:
                continue
            out[number] = self._read(p)
        return out

    @staticmethod
    def _read(p: Path) -> Trial:
        try:
            return Trial.from_json(json.loads(p.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise RunDirError(f"trial record {p} is unreadable ({exc})",
                              hint="delete that file to run the trial again") from exc


@dataclass(frozen=True)
class RunDir:
    """A run directory: its paths, its two JSON files, its trials and its chosen model.

    :meth:`open` checks what the caller needs and raises one
    :class:`~edgeml.errors.RunDirError` line otherwise.
    """

    path: Path

    @classmethod
    def open(cls, path: str | Path, *, finished: bool = False) -> RunDir:
        """An existing run; ``finished=True``: one whose ``report.json`` and model are there."""
        p = Path(path)
        if not p.exists():
            raise RunDirError(f"{p}: no such directory",
                              hint="pass the run directory an earlier `edgeml search` wrote "
                                   "(its --out)")
        if not p.is_dir():
            raise RunDirError(f"{p} is a file, not a run directory",
                              hint="pass the run directory an earlier `edgeml search` wrote "
                                   "(its --out)")
        run = cls(p)
        if finished:
            # the chosen model: an int8 network, or a classical model / ensemble in C
            model = "edgeml_predict.h" if (p / "edgeml_predict.h").is_file() else "model.tflite"
            for name in (REPORT_FILE, model):
                if not (p / name).is_file():
                    more = (f"; finish it with `edgeml search --resume {p}`"
                            if run.run_json.is_file() else "")
                    raise RunDirError(f"{p} is not a finished edgeml run (no {name})",
                                      hint="pass the --out directory of a completed "
                                           f"`edgeml search`{more}")
        elif not run.run_json.is_file():
            raise RunDirError(f"{p} is not an edgeml run directory (no {RUN_FILE})",
                              hint="pass the run directory an earlier `edgeml search` wrote "
                                   "(its --out)")
        return run

    # -- paths ---------------------------------------------------------------
    @property
    def run_json(self) -> Path:
        return self.path / RUN_FILE

    @property
    def report_json(self) -> Path:
        return self.path / REPORT_FILE

    @property
    def model_tflite(self) -> Path:
        """The deployable model of a finished run (the chosen one, compressed if it was)."""
        return self.path / "model.tflite"

    @property
    def finished(self) -> bool:
        return self.report_json.is_file()

    def trials(self) -> TrialStore:
        return TrialStore(self.path)

    # -- JSON ------------------------------------------------------------------
    def _json(self, p: Path, keys: tuple[str, ...]) -> dict[str, Any]:
        try:
            data = json.loads(p.read_text())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            for k in keys:
                if k not in data:
                    raise KeyError(k)
        except FileNotFoundError as exc:
            raise RunDirError(f"{self.path} has no {p.name}",
                              hint="pass the run directory an earlier `edgeml search` wrote "
                                   "(its --out)") from exc
        except (OSError, ValueError, KeyError) as exc:
            what = f"no {exc.args[0]!r} entry" if isinstance(exc, KeyError) else str(exc)
            raise RunDirError(f"{p} is unreadable ({what})",
                              hint="the run directory is damaged; start a new run") from exc
        return data

    def meta(self) -> dict[str, Any]:
        """``run.json``: ``{"config": {...}, "dataset_fingerprint", "space", ...}``."""
        meta = self._json(self.run_json, ("config",))
        if not isinstance(meta["config"], dict):
            raise RunDirError(f"{self.run_json} is unreadable ('config' is not an object)",
                              hint="the run directory is damaged; start a new run")
        return meta

    def config(self) -> dict[str, Any]:
        """The run's settings (``{}`` for a run written before run.json existed)."""
        return dict(self.meta()["config"]) if self.run_json.is_file() else {}

    def report(self) -> dict[str, Any]:
        return self._json(self.report_json, ("chosen", "target", "dataset", "search"))

    def chosen(self) -> dict[str, Any]:
        """The chosen trial's entry of ``report.json`` (with its test accuracy, compression)."""
        chosen = self.report()["chosen"]
        if not isinstance(chosen, dict) or "trial_id" not in chosen:
            raise RunDirError(f"{self.report_json} is unreadable (no chosen model)",
                              hint="the run directory is damaged; start a new run")
        return chosen

    def resolve(self, recorded: str) -> Path:
        """A path recorded in the run's files, found again if the run was moved or the
        command runs from another directory."""
        p = Path(recorded)
        if p.exists():
            return p
        parts = p.parts
        for i in range(len(parts)):
            q = self.path.joinpath(*parts[i:])
            if q.exists():
                return q
        raise RunDirError(f"{recorded} (recorded in {self.path}) does not exist",
                          hint="the run directory is incomplete; run the search again")
