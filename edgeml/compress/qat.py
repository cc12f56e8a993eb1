"""Quantization-aware training (tensorflow-model-optimization), BatchNorm folded.

Before QAT, every ``BatchNormalization`` that directly follows a ``Conv`` /
``DepthwiseConv2D`` / ``Dense`` layer is folded into that layer's kernel and
bias (``w * gamma / sqrt(var + eps)``, ``(b - mean) * gamma / sqrt(var + eps) +
beta``), so the fake-quantized weights seen in training are exactly the int8
weights the converter writes.

Layers tfmot's 8-bit scheme cannot wrap (``Conv1D``, ``Rescaling``,
``LayerNormalization``, ``Lambda``, custom layers, ...) are left unannotated:
they train in float and the converter quantizes them from the calibration data
like post-training quantization does. They are listed in the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._tf import keras as _keras
from ..errors import RuntimeFailure
from . import _graph
from ._train import FitSettings, fine_tune

__all__ = ["fold_batchnorm", "QatModel", "quantize_aware"]


def _foldable_producer(layer: Any) -> bool:
    L = _keras().layers
    if type(layer) not in (L.Conv1D, L.Conv2D, L.DepthwiseConv2D, L.Dense):
        return False
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", "linear") == "linear" and \
        getattr(layer, "data_format", "channels_last") == "channels_last"


def fold_batchnorm(model: Any) -> tuple[Any, tuple[str, ...]]:
    """A copy of ``model`` with BatchNorm folded into the preceding layer.

    Returns the new model and the names of the folded BatchNorm layers. A
    BatchNorm that does not directly follow a foldable layer (or whose input is
    read by another layer too) is kept.
    """
    L = _keras().layers
    usage = _graph.usage_counts(model)
    producer_of: dict[str, Any] = {}
    for node in _graph.nodes(model):
        for t in node.outputs:
            producer_of[t] = node.layer
    fold: dict[str, Any] = {}       # producer name -> bn layer
    folded_bn: set[str] = set()
    for node in _graph.nodes(model):
        bn = node.layer
        if type(bn) is not L.BatchNormalization or len(node.inputs) != 1:
            continue
        src = producer_of.get(node.inputs[0])
        axis = bn.axis if isinstance(bn.axis, (list, tuple)) else [bn.axis]
        if src is None or not _foldable_producer(src) or usage.get(node.inputs[0], 0) != 1 \
                or list(axis) not in ([-1], [len(bn.input_shape) - 1]):
            continue
        fold[src.name] = bn
        folded_bn.add(bn.name)

    def replace(layer: Any) -> Any:
        if layer.name in folded_bn:
            return _graph.IDENTITY
        if layer.name in fold:
            return _graph.copy_layer(layer, use_bias=True)
        return _graph.copy_layer(layer)

    def weights(old: Any, new: Any) -> list[Any] | None:
        bn = fold.get(old.name)
        if bn is None:
            return None
        w = old.get_weights()
        kernel = w[0]
        bias = w[1] if len(w) > 1 else np.zeros(kernel.shape[-1] if not hasattr(
            old, "depthwise_kernel") else kernel.shape[2] * kernel.shape[3], dtype=kernel.dtype)
        n = bias.shape[0]
        gamma = bn.gamma.numpy() if bn.gamma is not None else np.ones(n, dtype=kernel.dtype)
        beta = bn.beta.numpy() if bn.beta is not None else np.zeros(n, dtype=kernel.dtype)
        factor = gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
        if hasattr(old, "depthwise_kernel"):  # [kh, kw, in_c, mult]; out = in_c * mult + m
            kernel = kernel * factor.reshape(kernel.shape[2], kernel.shape[3])
        else:
            kernel = kernel * factor
        new_bias = (bias - bn.moving_mean.numpy()) * factor + beta
        return [kernel.astype(w[0].dtype), new_bias.astype(w[0].dtype)]

    return _graph.rebuild(model, replace, weights), tuple(sorted(folded_bn))


@dataclass(frozen=True)
class QatModel:
    model: Any                       # tfmot-quantized tf_keras model (fake-quant)
    unwrapped: tuple[str, ...]       # layers left in float (QAT cannot wrap them)
    folded_bn: tuple[str, ...]
    epochs_run: int


def _registry() -> Any:
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg,
    )

    return reg.Default8BitQuantizeRegistry()


def quantize_aware(model: Any, dataset: Any, fit: FitSettings, *,
                   preserve_sparsity: bool = False) -> QatModel:
    """Fold BatchNorm, wrap every layer tfmot supports, fine-tune with fake quantization.

    ``preserve_sparsity`` keeps the zeros of a magnitude-pruned model
    (tfmot's prune-preserving QAT scheme).
    """
    import tensorflow_model_optimization as tfmot

    keras = _keras()
    qk = tfmot.quantization.keras
    folded, folded_bn = fold_batchnorm(model)
    registry = _registry()
    unwrapped: list[str] = []

    def annotate(layer: Any) -> Any:
        if registry.supports(layer):
            return qk.quantize_annotate_layer(layer)
        if layer.count_params() or not isinstance(layer, keras.layers.InputLayer):
            unwrapped.append(layer.name)
        return layer

    scheme = (tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
              if preserve_sparsity else None)
    try:
        annotated = keras.models.clone_model(folded, clone_function=annotate)
        with qk.quantize_scope():
            qmodel = qk.quantize_apply(annotated, scheme) if scheme is not None \
                else qk.quantize_apply(annotated)
    except Exception as exc:  # tfmot raises ValueError/RuntimeError with long texts
        text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise RuntimeFailure(f"quantization-aware training could not wrap the model ({text})",
                             hint="edgeml falls back to post-training quantization") from exc
    epochs = fine_tune(qmodel, dataset, fit)
    return QatModel(model=qmodel, unwrapped=tuple(unwrapped), folded_bn=folded_bn,
                    epochs_run=epochs)
