"""The compression chain: structured pruning -> magnitude pruning -> int8 (QAT or PTQ).

Every stage is measured the same way: float accuracy with Keras, int8 accuracy
in the TFLite Micro interpreter (test split), and MACs / flash / arena /
latency from the int8 ``.tflite`` on the target. QAT is kept only when it
beats post-training quantization on the validation split (PTQ is the
fallback, also when QAT cannot wrap the model). Finally the int8 accuracy is
compared with the float accuracy of the model compression started from; a
drop larger than ``max_int8_drop`` points raises :class:`AccuracyDropError`,
naming the stage that lost the most.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import EdgeMLError, RuntimeFailure
from ..estimate import Estimate, estimate_graph, read_graph
from ..targets import Target
from ..tflite.int8 import evaluate_int8, representative_sample, to_int8_tflite
from ._train import FitSettings, evaluate_float, fine_tune
from .prune import check_fraction, kernel_sparsity, magnitude_prune, structured_prune
from .qat import quantize_aware

__all__ = ["CompressOptions", "StageResult", "CompressResult", "AccuracyDropError",
           "compress_model"]

Event = Callable[[str, dict[str, Any]], None]


class AccuracyDropError(EdgeMLError):
    """The int8 model lost more accuracy than ``--max-int8-drop`` allows."""


@dataclass(frozen=True)
class CompressOptions:
    prune: float | None = None         # unstructured sparsity of Conv/Dense kernels
    structured: float | None = None    # fraction of channels removed per layer group
    qat: bool = False
    max_int8_drop: float = 2.0         # percentage points, float -> int8 (TFLM)
    epochs: int = 10                   # fine-tuning epochs per stage
    lr: float | None = None            # None: 1e-3 (the run's learning rate when known)
    batch_size: int = 32
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.prune or self.structured or self.qat)

    def validate(self) -> CompressOptions:
        check_fraction(self.prune, "--prune")
        check_fraction(self.structured, "--structured")
        if not self.max_int8_drop >= 0:
            raise EdgeMLError(f"--max-int8-drop must be 0 or more points (got {self.max_int8_drop})",
                              hint="e.g. --max-int8-drop 2")
        if self.epochs < 1:
            raise EdgeMLError(f"--epochs must be at least 1 (got {self.epochs})",
                              hint="e.g. --epochs 10")
        return self


@dataclass(frozen=True)
class StageResult:
    stage: str
    int8: str                          # "ptq" or "qat": how this stage's .tflite was made
    float_accuracy: float | None       # test split, Keras (None for the QAT model)
    int8_accuracy: float               # test split, TFLM interpreter
    int8_val_accuracy: float           # validation split, TFLM (chooses QAT vs PTQ)
    macs: int
    params: int
    model_bytes: int
    flash_bytes: int
    arena_bytes: int
    latency_ms: float
    sparsity: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CompressResult:
    model_bytes: bytes                 # the chosen int8 .tflite
    float_model: Any                   # the float model after pruning (tf_keras)
    stages: tuple[StageResult, ...]
    chosen: StageResult
    estimate: Estimate
    int8_method: str
    notes: tuple[str, ...] = field(default=())

    @property
    def baseline(self) -> StageResult:
        return self.stages[0]

    @property
    def int8_drop_points(self) -> float:
        return 100.0 * ((self.baseline.float_accuracy or 0.0) - self.chosen.int8_accuracy)

    def as_dict(self) -> dict[str, Any]:
        base, final = self.baseline, self.chosen
        return {
            "stages": [s.as_dict() for s in self.stages],
            "chosen_stage": final.stage,
            "int8_method": self.int8_method,
            "baseline_float_accuracy": base.float_accuracy,
            "int8_accuracy": final.int8_accuracy,
            "int8_drop_points": round(self.int8_drop_points, 3),
            "macs_reduction": 1.0 - final.macs / base.macs if base.macs else 0.0,
            "flash_reduction": 1.0 - final.model_bytes / base.model_bytes if base.model_bytes else 0.0,
            "notes": list(self.notes),
        }


def _measure(stage: str, float_model: Any, model_bytes: bytes, dataset: Any, target: Target,
             *, int8: str, sparsity: float | None = None, note: str = "") -> tuple[StageResult, Estimate]:
    test = evaluate_int8(model_bytes, dataset.x_test, dataset.y_test, bisect=True)
    val = evaluate_int8(model_bytes, dataset.x_val, dataset.y_val, bisect=False)
    est = estimate_graph(read_graph(model_bytes), target,
                         arena_bytes=int(test.tflm.bisected_bytes or test.tflm.arena_bytes))
    f_acc = evaluate_float(float_model, dataset.x_test, dataset.y_test) \
        if float_model is not None else None
    return StageResult(stage=stage, int8=int8, float_accuracy=f_acc, int8_accuracy=test.accuracy,
                       int8_val_accuracy=val.accuracy, macs=est.macs, params=est.params,
                       model_bytes=est.model_bytes, flash_bytes=est.flash_bytes,
                       arena_bytes=est.arena_bytes, latency_ms=est.latency_ms,
                       sparsity=sparsity, note=note), est


def compress_model(model: Any, dataset: Any, target: Target, options: CompressOptions, *,
                   baseline_bytes: bytes | None = None,
                   on_event: Event | None = None) -> CompressResult:
    """Compress the float ``model`` (trained tf_keras) for ``target`` as ``options`` ask.

    ``baseline_bytes`` is the model's existing int8 ``.tflite`` (converted again
    when omitted). Raises :class:`AccuracyDropError` when the final int8
    accuracy is more than ``options.max_int8_drop`` points below the float
    accuracy of ``model``.
    """
    from .._tf import keras as _keras
    from .._tf import set_seed

    options.validate()
    emit = on_event or (lambda kind, rec: None)
    keras = _keras()
    lr = options.lr or 1e-3
    fit = FitSettings(epochs=options.epochs, lr=lr, batch_size=options.batch_size,
                      seed=options.seed)
    calib = representative_sample(dataset.x_train, n=200, seed=options.seed)
    notes: list[str] = []

    def record(stage: StageResult) -> None:
        stages.append(stage)
        emit("compress_stage", stage.as_dict())

    stages: list[StageResult] = []
    base_bytes = baseline_bytes or to_int8_tflite(model, calib)
    first, est = _measure("search model (PTQ int8)", model, base_bytes, dataset, target, int8="ptq")
    record(first)
    current, current_bytes, current_est, current_stage = model, base_bytes, est, first

    if options.structured:
        set_seed(options.seed)
        pruned, plan = structured_prune(current, options.structured, calib)
        epochs = fine_tune(pruned, dataset, fit)
        kept = ", ".join(f"{k} {v['channels']}->{v['kept']}" for k, v in plan.summary().items())
        b = to_int8_tflite(pruned, calib)
        st, est = _measure(f"structured pruning {options.structured:.0%}", pruned, b, dataset,
                           target, int8="ptq",
                           note=f"channels {kept}; fine-tuned {epochs} epochs")
        record(st)
        current, current_bytes, current_est, current_stage = pruned, b, est, st

    if options.prune:
        set_seed(options.seed)
        sparse = magnitude_prune(current, dataset, options.prune, fit)
        sparsity = kernel_sparsity(sparse)
        b = to_int8_tflite(sparse, calib)
        st, est = _measure(f"magnitude pruning {options.prune:.0%}", sparse, b, dataset, target,
                           int8="ptq", sparsity=sparsity,
                           note="unstructured zeros: TFLM runs dense kernels, so flash and "
                                "latency do not drop (use --structured for that)")
        record(st)
        current, current_bytes, current_est, current_stage = sparse, b, est, st

    chosen, method = current_stage, "ptq"
    if options.qat:
        set_seed(options.seed)
        try:
            q = quantize_aware(current, dataset, replace(fit, lr=lr * 0.1),
                               preserve_sparsity=bool(options.prune))
            qb = to_int8_tflite(q.model, calib)
        except RuntimeFailure as exc:
            notes.append(f"QAT not used: {exc.message}; post-training quantization kept")
        else:
            note = f"BatchNorm folded: {len(q.folded_bn)}; fine-tuned {q.epochs_run} epochs"
            if q.unwrapped:
                note += f"; left in float during QAT: {', '.join(q.unwrapped)}"
            st, est = _measure("QAT int8", None, qb, dataset, target, int8="qat",
                               sparsity=kernel_sparsity(q.model) if options.prune else None,
                               note=note)
            record(st)
            if st.int8_val_accuracy >= current_stage.int8_val_accuracy:
                chosen, method = st, "qat"
                current_bytes, current_est = qb, est
            else:
                notes.append(f"QAT int8 validation accuracy {st.int8_val_accuracy:.4f} is below "
                             f"PTQ's {current_stage.int8_val_accuracy:.4f}: PTQ model kept")
        keras.backend.clear_session()

    result = CompressResult(model_bytes=current_bytes, float_model=current, stages=tuple(stages),
                            chosen=chosen, estimate=current_est, int8_method=method,
                            notes=tuple(notes))
    check_int8_drop(result, options.max_int8_drop)
    return result


def check_int8_drop(result: CompressResult, max_drop_points: float) -> None:
    """Raise :class:`AccuracyDropError` naming the stage that lost the most accuracy."""
    drop = result.int8_drop_points
    if drop <= max_drop_points + 1e-9:
        return
    base = result.baseline
    losses: list[tuple[str, float]] = []
    prev_float = base.float_accuracy or 0.0
    for st in result.stages[1:]:
        if st.int8 == "ptq" and st.float_accuracy is not None:  # a pruning stage (float model)
            losses.append((st.stage, 100 * (prev_float - st.float_accuracy)))
            prev_float = st.float_accuracy
    final = result.chosen
    q_name = "QAT int8 conversion" if result.int8_method == "qat" else "PTQ int8 conversion"
    losses.append((q_name, 100 * (prev_float - final.int8_accuracy)))
    worst_name, worst = max(losses, key=lambda kv: kv[1])
    parts = "; ".join(f"{n} {v:+.1f}" for n, v in losses)
    if "pruning" in worst_name:
        hint = "prune less (e.g. a smaller --structured / --prune) or fine-tune longer (--epochs)"
    elif result.int8_method == "ptq":
        hint = "add --qat, or raise --max-int8-drop"
    else:
        hint = "fine-tune longer (--epochs) or raise --max-int8-drop"
    raise AccuracyDropError(
        f"int8 accuracy {final.int8_accuracy:.4f} (TFLM, test split) is {drop:.1f} points below "
        f"the float model's {base.float_accuracy:.4f}, over --max-int8-drop "
        f"{max_drop_points:g}: {worst_name} lost {worst:.1f} points (points lost per stage: {parts})",
        hint=hint)
