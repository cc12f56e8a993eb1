"""Progress of a search or a compression for scripts and notebooks.

The same events the pipeline sends the command line (``on_event``), shown as a
progress bar (``tqdm.auto``: a widget in Jupyter, text in a terminal) when tqdm
is installed, as plain lines otherwise, and not at all with ``verbose=0``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["Progress", "describe"]

Event = Callable[[str, Any], None]
KB = 1024


def describe(kind: str, rec: Any) -> str | None:
    """One line for an event worth a line of its own (None for the others)."""
    if kind == "data":
        return (f"data: {rec['name']} ({rec['kind']} {tuple(rec['input_shape'])}, "
                f"{len(rec['classes'])} classes, {rec['train']}/{rec['val']}/{rec['test']} "
                "train/val/test)")
    if kind == "start" and rec.get("stored"):
        return f"resuming: {rec['stored']} finished trial(s) on disk are not run again"
    if kind == "warning":
        return f"warning: {rec['message']}"
    if kind == "warm_start" and rec.get("chosen"):
        return (f"warm start: {len(rec['chosen'])} configuration(s) of similar runs proposed "
                "first (" + ", ".join(dict.fromkeys(c['origin'] for c in rec["chosen"])) + ")")
    if kind == "infeasible":
        return f"candidate {rec.trial_id}: rejected before training: {'; '.join(rec.broken)}"
    if kind == "failed":
        return f"candidate {rec.trial_id}: could not be checked: {rec.error}"
    if kind == "retry":
        return f"trial {rec['trial_id']}: {rec['error']}; training it again in a fresh worker"
    if kind in ("trained", "replayed"):
        if rec.trained:
            e = rec.costs or rec.estimate or {}
            fit = "" if rec.feasible else " (does not fit after training)"
            return (f"trial {rec.trial_id}: int8 val acc {rec.int8_val_accuracy:.3f}, arena "
                    f"{e.get('arena_bytes', 0) / KB:.1f} KB, model "
                    f"{e.get('model_bytes', 0) / KB:.1f} KB, {e.get('latency_ms', 0):.2f} ms{fit}")
        if rec.failed_training:
            return f"trial {rec.trial_id}: failed: {rec.error}; a new candidate takes its place"
    if kind == "compress_stage":
        return (f"{rec['stage']}: int8 acc {rec['int8_accuracy']:.4f}, {rec['macs']:,} MACs, "
                f"model {rec['model_bytes'] / KB:.1f} KB, {rec['latency_ms']:.3f} ms")
    if kind == "final":
        return f"testing the chosen model (trial {rec['trial_id']})"
    if kind == "refit":
        return (f"final retrain: trial {rec['trial_id']} on train + validation "
                f"({rec['samples']} samples, {rec['epochs']} epochs)")
    if kind == "refit_done" and not rec.get("shipped"):
        return f"final retrain: {rec['reason']}; the search's model ships"
    return None


class Progress:
    """An ``on_event`` callback: a bar over the trial budget plus a line per finished
    trial. ``verbose``: 0 silent, 1 bar (or lines), 2 also the per-epoch updates.
    ``forward`` is called with every event as well (the user's own ``on_event``)."""

    def __init__(self, *, verbose: int = 1, total: int | None = None,
                 forward: Event | None = None, stream: TextIO | None = None,
                 bar: bool | None = None) -> None:
        self.verbose = int(verbose)
        self.total = total
        self.forward = forward
        self.stream = stream
        self.bar: Any = None
        self.used = 0.0
        self.running: dict[str, tuple[float, float]] = {}  # trial -> (units, share done)
        self._use_bar = _has_tqdm() if bar is None else bar
        self._lock = threading.RLock()  # events come from every trial slot's thread

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, file=self.stream or sys.stdout, flush=True)

    def _start_bar(self, total: float) -> None:
        if not self._use_bar or self.bar is not None or self.verbose < 1:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc="edgeml search", unit="trial",
                        bar_format="{l_bar}{bar}| {n:.1f}/{total:.0f} trials [{elapsed}<{remaining}"
                                   "{postfix}]")

    def _move(self, used: float, best: float | None = None) -> None:
        if self.bar is None:
            return
        self.bar.n = min(used, self.bar.total or used)
        if best is not None:
            self.bar.set_postfix_str(f"best int8 acc {best:.3f}", refresh=False)
        self.bar.refresh()

    def __call__(self, kind: str, rec: Any) -> None:
        with self._lock:
            self._event(kind, rec)

    def _running(self) -> float:
        return sum(units * done for units, done in self.running.values())

    def _event(self, kind: str, rec: Any) -> None:
        if self.forward is not None:
            self.forward(kind, rec)
        if self.verbose < 1:
            return
        if kind == "start":
            self.total = int(rec.get("budget") or self.total or 0)
            self._start_bar(self.total)
        elif kind == "train":
            self.used = float(rec.get("budget_used", self.used))
            self.running[str(rec["trial_id"])] = (float(rec.get("units", 1.0)), 0.0)
        elif kind == "epoch":
            tid = str(rec["trial_id"])
            units = self.running.get(tid, (1.0, 0.0))[0]
            self.running[tid] = (units, rec["epoch"] / max(rec["epochs"], 1))
            if self.bar is not None:
                self._move(self.used + self._running())
            elif self.verbose >= 2:
                self.write(f"  trial {rec['trial_id']}: epoch {rec['epoch']}/{rec['epochs']}")
        elif kind == "progress":
            self.used = float(rec["budget_used"])
            self._move(self.used + self._running(), rec.get("best"))
            return
        if kind in ("trained", "failed", "infeasible"):
            self.running.pop(str(rec.trial_id), None)
        line = describe(kind, rec)
        if line is not None:
            self.write(line)
        if kind == "final" and self.bar is not None:
            self._move(float(self.bar.total or self.used))
            self.close()


def _has_tqdm() -> bool:
    try:
        import tqdm.auto  # noqa: F401
    except ImportError:
        return False
    return True
