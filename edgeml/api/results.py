"""What the Python API returns: a finished run, its chosen model, a model's profile.

Each reads the files edgeml writes (``report.json`` of a run through
:class:`~edgeml.records.RunDir`, the breakdown ``edgeml profile`` shows), so a run
loaded from disk is the same object as the one a search returned. They render as
tables in Jupyter (``_repr_html_``) and as a few plain lines in a terminal.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compress.chain import CompressOptions
from ..records import RunDir, Trial
from .exporting import Exported, export
from .progress import Progress

__all__ = ["Run", "ChosenModel", "Profile", "trials_frame"]

KB = 1024
#: the estimate columns of a trial, in the order the tables show them
ESTIMATE_COLUMNS = ("flash_bytes", "model_bytes", "ram_bytes", "arena_bytes", "latency_ms",
                    "energy_uj", "macs")
TRIAL_COLUMNS = ("trial_id", "status", "feasible", "pareto", "chosen", "int8_val_accuracy",
                 "float_val_accuracy", *ESTIMATE_COLUMNS, "broken", "epochs_run",
                 "train_seconds", "device")


def _refit_of(best: Mapping[str, Any]) -> dict[str, Any] | None:
    r = best.get("refit")
    if not r:
        return None
    return {**r, "search_model": best.get("search_model")} if best.get("search_model") else dict(r)


@dataclass(frozen=True)
class ChosenModel:
    """The model a run chose, as deployed, scored on the test split and costed on the
    run's (first) target: an int8 network scored in the TFLite Micro interpreter
    (:attr:`tflite`), or a classical model or an ensemble (:attr:`family` is set) scored
    as the C code ``edgeml_predict`` it ships as (:attr:`c_files`)."""

    trial_id: str
    target: str
    int8_test_accuracy: float | None
    float_test_accuracy: float | None
    int8_val_accuracy: float | None
    flash_bytes: int
    model_bytes: int
    ram_bytes: int
    arena_bytes: int
    latency_ms: float
    energy_uj: float
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    tflite: Path | None = None
    compression: Mapping[str, Any] | None = None
    per_target: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: None for a network; a classical family ("forest", "gbt", ...) or "ensemble"
    family: str | None = None
    #: an ensemble's members: (trial id, weight, family or "nn")
    members: tuple[tuple[str, float, str], ...] = ()
    #: the edgeml_predict C files of a classical model or an ensemble
    c_files: tuple[Path, ...] = ()
    #: the report's one sentence on which model family won and why
    decision: str = ""
    #: the final retrain on train + validation: epochs, samples, both models' test accuracy
    #: (``report.json``'s ``chosen.refit``, with ``search_model`` the search's own model)
    refit: Mapping[str, Any] | None = None

    @classmethod
    def from_report(cls, report: Mapping[str, Any], run_dir: Path | None = None) -> ChosenModel:
        best = report["chosen"]
        est = best.get("estimate") or {}
        tflite = None
        if run_dir is not None and not best.get("family") and \
                (run_dir / "model.tflite").exists():
            tflite = run_dir / "model.tflite"
        c_files = tuple(run_dir / n for n in best.get("c_files") or ()
                        if (run_dir / n).exists()) if run_dir is not None else ()
        return cls(trial_id=str(best["trial_id"]), target=str(report["target"]["name"]),
                   int8_test_accuracy=best.get("int8_test_accuracy"),
                   float_test_accuracy=best.get("float_test_accuracy"),
                   int8_val_accuracy=best.get("int8_val_accuracy"),
                   flash_bytes=int(est.get("flash_bytes", 0)),
                   model_bytes=int(est.get("model_bytes", 0)),
                   ram_bytes=int(est.get("ram_bytes", 0)),
                   arena_bytes=int(est.get("arena_bytes", 0)),
                   latency_ms=float(est.get("latency_ms", 0.0)),
                   energy_uj=float(est.get("energy_uj", 0.0)),
                   hyperparameters=dict(best.get("hyperparameters") or {}), tflite=tflite,
                   compression=best.get("compression"),
                   refit=_refit_of(best),
                   per_target={n: dict(info.get("estimate") or {})
                               for n, info in (best.get("targets") or {}).items()},
                   family=best.get("family") or None,
                   members=tuple((str(m["trial_id"]), float(m["weight"]), str(m["family"]))
                                 for m in best.get("members") or ()
                                 if best.get("family") == "ensemble"),
                   c_files=c_files, decision=str(report.get("decision") or ""))

    @property
    def kind(self) -> str:
        """What was chosen, in words: "network", "random forest", "ensemble", ..."""
        if self.family is None:
            return "network"
        from ..classical import describe

        return "ensemble" if self.family == "ensemble" else describe(self.family)

    @property
    def accuracy(self) -> float | None:
        """The int8 test accuracy (TFLM): what the device will score."""
        return self.int8_test_accuracy

    def rows(self) -> list[tuple[str, str]]:
        acc = "-" if self.int8_test_accuracy is None else f"{self.int8_test_accuracy:.4f}"
        fl = "" if self.float_test_accuracy is None else f" (float {self.float_test_accuracy:.4f})"
        if self.family is None:
            rows = [("chosen", f"trial {self.trial_id}: {_hp_text(self.hyperparameters)}"),
                    ("int8 accuracy (test, TFLM)", acc + fl)]
        elif self.members:
            rows = [("chosen", f"ensemble (trial {self.trial_id}) of " + ", ".join(
                        f"trial {t} ({f}, weight {w:.2f})" for t, w, f in self.members)),
                    ("accuracy (test, deployed C)", acc)]
        else:
            rows = [("chosen", f"{self.kind} (trial {self.trial_id}): "
                               f"{_hp_text(self.hyperparameters)}"),
                    ("accuracy (test, deployed C)", acc)]
        rows += [("flash", f"{self.flash_bytes / KB:.1f} KB ({self.model_bytes / KB:.1f} KB model)"),
                 ("RAM", f"{self.ram_bytes / KB:.1f} KB ({self.arena_bytes / KB:.1f} KB arena)"),
                 ("latency (estimate)", f"{self.latency_ms:.2f} ms on {self.target}"),
                 ("energy (estimate)", f"{self.energy_uj:.1f} uJ per inference")]
        if self.c_files:
            rows.append(("C files", ", ".join(p.name for p in self.c_files)))
        if self.compression:
            c = self.compression
            rows.append(("compression", f"{c.get('chosen_stage')} "
                                        f"({str(c.get('int8_method', '')).upper()}), "
                                        f"{100 * float(c.get('macs_reduction', 0)):.0f}% fewer MACs"))
        return rows

    def __str__(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.rows())

    def _repr_html_(self) -> str:
        return _table_html(self.rows())


class Run:
    """A finished edgeml run: its directory, report, trials and chosen model.

    Returned by :func:`edgeml.search` and :func:`edgeml.load_run`; both read the same
    files. :meth:`compress` and :meth:`export` work on the run directory like
    ``edgeml compress`` and ``edgeml export``.
    """

    def __init__(self, path: str | Path, *, files: Mapping[str, Path] | None = None) -> None:
        run = RunDir.open(path, finished=True)
        self.path = run.path
        self._report = run.report()  # as written: a returned run equals the run loaded later
        self._files = dict(files) if files is not None else None

    # -- data -----------------------------------------------------------------------
    @property
    def report(self) -> dict[str, Any]:
        """``report.json`` as a dict."""
        return self._report

    @property
    def files(self) -> dict[str, Path]:
        """The run's artifacts: model.tflite, C files, report.md/json, pareto.png."""
        if self._files is not None:
            return dict(self._files)
        from ..pipeline import RESULT_FILES

        return {n: self.path / n for n in RESULT_FILES if (self.path / n).exists()}

    @property
    def best(self) -> ChosenModel:
        """The chosen model (int8 TFLM accuracy, flash, RAM, latency, energy, hyperparameters)."""
        return ChosenModel.from_report(self._report, self.path)

    @property
    def target(self) -> str:
        return str(self._report["target"]["name"])

    @property
    def trials(self) -> Any:
        """A pandas DataFrame, one row per trial: status, accuracy, estimates, hyperparameters."""
        return trials_frame(self._report)

    @property
    def pareto(self) -> Any:
        """The trials on the Pareto front (a DataFrame, the rows of :attr:`trials`)."""
        frame = self.trials
        return frame[frame["pareto"]] if len(frame) else frame

    def plot(self) -> Any:
        """The figure of ``pareto.png`` (a :class:`matplotlib.figure.Figure`), or None when
        no trial was trained."""
        from ..export.report import pareto_figure

        return pareto_figure(self._report)

    # -- actions --------------------------------------------------------------------
    def compress(self, *, structured: float | None = None, qat: bool = False,
                 prune: float | None = None,
                 max_int8_drop: float = CompressOptions.max_int8_drop,
                 epochs: int = CompressOptions.epochs, data: str | Path | None = None,
                 label: str | None = None, verbose: int = 1,
                 on_event: Callable[[str, Any], None] | None = None) -> Run:
        """Compress the chosen model (``edgeml compress``; see :func:`edgeml.compress`);
        rewrites the run's model and C files and returns this run, updated."""
        from ..pipeline import compress_run

        with Progress(verbose=verbose, forward=on_event, bar=False) as progress:
            result = compress_run(self.path, prune=prune, structured=structured, qat=bool(qat),
                                  max_int8_drop=max_int8_drop, epochs=epochs,
                                  data=None if data is None else str(data), label=label,
                                  on_event=progress)
        self._report, self._files = RunDir.open(self.path, finished=True).report(), \
            dict(result.files)
        return self

    def export(self, fmt: str, out: str | Path, *, name: str = "model",
               force: bool = False, target: str | None = None) -> Exported:
        """Write the chosen model for a firmware project (``edgeml export``); see
        :func:`edgeml.export`."""
        return export(self.path, fmt, out, name=name, force=force, target=target)

    # -- rendering ------------------------------------------------------------------
    def _summary_rows(self) -> list[tuple[str, str]]:
        s = self._report.get("search") or {}
        ds = self._report.get("dataset") or {}
        return [("run", str(self.path)),
                ("data", f"{ds.get('name', '?')} ({ds.get('train', '?')}/{ds.get('val', '?')}/"
                         f"{ds.get('test', '?')} train/val/test)"),
                ("trials", f"{s.get('trained', 0)} trained, {s.get('rejected', 0)} rejected "
                           f"before training, {s.get('failed', 0)} failed; objective "
                           f"{s.get('objective', 'accuracy')}"),
                *self.best.rows(),
                *([("decision", self.best.decision)] if self.best.decision else [])]

    def __repr__(self) -> str:
        b = self.best
        acc = "-" if b.int8_test_accuracy is None else f"{b.int8_test_accuracy:.4f}"
        what = "int8 acc" if b.family is None else f"{b.kind}, acc"
        return (f"Run({str(self.path)!r}, target={self.target!r}, best=trial {b.trial_id} "
                f"({what} {acc}, {b.flash_bytes / KB:.1f} KB flash, {b.ram_bytes / KB:.1f} KB "
                f"RAM, {b.latency_ms:.2f} ms)")

    def __str__(self) -> str:
        return f"edgeml run on {self.target}\n" + "\n".join(
            f"  {k}: {v}" for k, v in self._summary_rows())

    def _repr_html_(self) -> str:
        parts = [f"<h4>edgeml run on {html.escape(self.target)}</h4>",
                 _table_html(self._summary_rows())]
        pareto = self.pareto
        if len(pareto):
            parts += ["<h5>Pareto front</h5>", pareto.to_html(float_format=lambda v: f"{v:.4g}")]
        png = self.path / "pareto.png"
        if png.is_file():
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            parts.append(f'<img src="data:image/png;base64,{data}" alt="Pareto front" '
                         'style="max-width:100%"/>')
        return "\n".join(parts)


def trials_frame(report: Mapping[str, Any]) -> Any:
    """One row per trial of a run's report (index ``trial_id``): status, Pareto/chosen
    marks, accuracies, the estimate on the run's target, and one column per
    hyperparameter (``hp_<name>`` where a name is taken)."""
    import pandas as pd

    rows = []
    for rec in report.get("trials") or []:
        t = Trial.from_json(rec)
        est = {**(t.estimate or {}), **(t.costs or {})}
        row: dict[str, Any] = {
            "trial_id": t.trial_id, "status": t.status.value, "feasible": t.feasible,
            "pareto": bool(rec.get("pareto")), "chosen": bool(rec.get("chosen")),
            "int8_val_accuracy": t.int8_val_accuracy, "float_val_accuracy": t.float_val_accuracy,
            **{k: est.get(k) for k in ESTIMATE_COLUMNS},
            "broken": "; ".join(t.broken) or None, "epochs_run": t.epochs_run,
            "train_seconds": t.train_seconds, "device": t.device}
        for k, v in t.hyperparameters.items():
            row[f"hp_{k}" if k in TRIAL_COLUMNS else k] = v
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else list(TRIAL_COLUMNS))
    return frame.set_index("trial_id")


@dataclass(frozen=True)
class Profile:
    """What ``edgeml profile`` shows for a model on a target: totals and per-operator
    costs (:attr:`layers`). ``report`` is the JSON form (``edgeml profile --json``)."""

    model: Path
    target: str
    fits: bool
    flash_bytes: int
    ram_bytes: int
    arena_bytes: int
    latency_ms: float
    energy_uj: float
    macs: int
    params: int
    broken: tuple[str, ...]
    notes: tuple[str, ...]
    report: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_report(cls, model: str | Path, rep: Mapping[str, Any]) -> Profile:
        return cls(model=Path(model), target=str(rep["target"]), fits=bool(rep["fits"]),
                   flash_bytes=int(rep["flash_bytes"]), ram_bytes=int(rep["ram_bytes"]),
                   arena_bytes=int(rep["arena_bytes"]), latency_ms=float(rep["latency_ms"]),
                   energy_uj=float(rep["energy_uj"]), macs=int(rep["macs"]),
                   params=int(rep["params"]), broken=tuple(rep.get("broken") or ()),
                   notes=tuple(rep.get("notes") or ()), report=rep)

    @property
    def layers(self) -> Any:
        """Per-operator costs, a pandas DataFrame: op, layer, output shape, MACs, params,
        cycles, latency (ms) and share of the latency."""
        import pandas as pd

        cols = ["index", "op", "layer", "output_shape", "macs", "params", "cycles", "latency_ms",
                "share"]
        rows = [{c: (tuple(r[c]) if c == "output_shape" else r[c]) for c in cols}
                for r in self.report.get("layers") or []]
        return pd.DataFrame(rows, columns=cols).set_index("index")

    def rows(self) -> list[tuple[str, str]]:
        return [("flash", f"{self.flash_bytes / KB:.1f} KB"),
                ("RAM", f"{self.ram_bytes / KB:.1f} KB ({self.arena_bytes:,} B arena)"),
                ("latency (estimate)", f"{self.latency_ms:.3f} ms"),
                ("energy (estimate)", f"{self.energy_uj:.1f} uJ per inference"),
                ("MACs / params", f"{self.macs:,} / {self.params:,}"),
                ("fits", "yes" if self.fits else "no: " + "; ".join(self.broken))]

    def __str__(self) -> str:
        return f"{self.model.name} on {self.target}\n" + "\n".join(
            f"  {k}: {v}" for k, v in self.rows())

    def _repr_html_(self) -> str:
        return (f"<h4>{html.escape(self.model.name)} on {html.escape(self.target)}</h4>"
                + _table_html(self.rows())
                + self.layers.to_html(float_format=lambda v: f"{v:.4g}"))


def _hp_text(hp: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in hp.items()) or "-"


def _table_html(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"
