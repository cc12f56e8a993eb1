"""Pruning: structured (channels removed, a smaller model rebuilt) and unstructured
(tensorflow-model-optimization magnitude pruning).

Unstructured sparsity leaves every tensor its full size: TFLite Micro runs dense
kernels, so the ``.tflite`` keeps its size and latency (it only compresses
better). Structured pruning removes whole filters / units, so the rebuilt
model really has fewer MACs, fewer weights and smaller activations.

Structured pruning follows the channels through the layer graph. A *channel
group* is the set of tensors whose last axis indexes the same channels: a
``Conv2D`` / ``Dense`` output starts one, ``BatchNormalization``, activations,
pooling, dropout and (depth multiplier 1) ``DepthwiseConv2D`` pass it on,
``Add``-like merges join groups, and ``Flatten`` spreads it over the spatial
positions. A group is pruned as a whole: its producers lose output channels,
its pass-through layers lose the same channels and its consumers lose the
matching input rows. Groups that reach the model output or an unknown layer
are left intact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._tf import keras as _keras
from ..errors import EdgeMLError
from . import _graph
from ._train import FitSettings, fine_tune

__all__ = ["StructuredPlan", "plan_structured", "structured_prune", "magnitude_prune",
           "kernel_sparsity", "check_fraction"]


def check_fraction(value: float | None, flag: str) -> float | None:
    if value is None:
        return None
    if not 0.0 < float(value) < 1.0:
        raise EdgeMLError(f"{flag} must be a fraction between 0 and 1 (got {value})",
                          hint=f"e.g. {flag} 0.3 removes 30%")
    return float(value)


# ----------------------------------------------------------------------------- groups
@dataclass
class _Group:
    gid: int
    size: int
    fixed: bool = False
    producers: list[Any] = field(default_factory=list)
    members: list[Any] = field(default_factory=list)   # BN / depthwise along the channels
    consumers: list[tuple[Any, Any, int]] = field(default_factory=list)  # layer, tensor, spatial
    keep: np.ndarray | None = None                      # kept channel indices (sorted)


@dataclass(frozen=True)
class _Chan:
    gid: int
    spatial: int = 1     # Flatten: feature index = position * channels + channel


class _Groups:
    def __init__(self) -> None:
        self.groups: dict[int, _Group] = {}
        self.parent: dict[int, int] = {}

    def new(self, size: int, *, fixed: bool = False) -> int:
        gid = len(self.parent)
        self.parent[gid] = gid
        self.groups[gid] = _Group(gid, int(size), fixed=fixed)
        return gid

    def find(self, gid: int) -> int:
        while self.parent[gid] != gid:
            self.parent[gid] = self.parent[self.parent[gid]]
            gid = self.parent[gid]
        return gid

    def get(self, gid: int) -> _Group:
        return self.groups[self.find(gid)]

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        ga, gb = self.groups[ra], self.groups[rb]
        if ga.size != gb.size:
            ga.fixed = gb.fixed = True
        self.parent[rb] = ra
        ga.fixed = ga.fixed or gb.fixed
        ga.producers += gb.producers
        ga.members += gb.members
        ga.consumers += gb.consumers
        del self.groups[rb]
        return ra

    def fix(self, chan: _Chan | None) -> None:
        if chan is not None:
            self.get(chan.gid).fixed = True


def _layer_kinds() -> dict[str, tuple[type, ...]]:
    L = _keras().layers
    opt = [getattr(L, n) for n in ("SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
                                   "GaussianDropout", "AlphaDropout", "ActivityRegularization",
                                   "UpSampling1D", "UpSampling2D", "Cropping1D", "Cropping2D",
                                   "ZeroPadding1D", "ZeroPadding2D") if hasattr(L, n)]
    return {
        "producer": (L.Conv1D, L.Conv2D, L.Dense),
        "pass": (L.ReLU, L.Activation, L.LeakyReLU, L.ELU, L.Dropout, L.MaxPooling1D,
                 L.MaxPooling2D, L.AveragePooling1D, L.AveragePooling2D,
                 L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalMaxPooling1D,
                 L.GlobalMaxPooling2D, *opt),
        "merge": (L.Add, L.Subtract, L.Maximum, L.Minimum, L.Average, L.Multiply),
        "bn": (L.BatchNormalization,),
        "depthwise": (L.DepthwiseConv2D,),
        "flatten": (L.Flatten,),
    }


def _is(layer: Any, kinds: tuple[type, ...]) -> bool:
    return type(layer) in kinds  # exact: Conv2DTranspose / SeparableConv subclass Conv


def _channels_last(layer: Any) -> bool:
    return getattr(layer, "data_format", "channels_last") == "channels_last"


@dataclass
class StructuredPlan:
    """Which channels of which layer survive (indices into the original model)."""

    fraction: float
    groups: _Groups
    chan_in: dict[str, _Chan | None]      # layer name -> its input channels
    chan_out: dict[str, _Chan | None]     # layer name -> its output channels
    roles: dict[str, str]                 # layer name -> producer / bn / depthwise / other

    @property
    def pruned_groups(self) -> list[_Group]:
        return [g for g in self.groups.groups.values() if g.keep is not None]

    def summary(self) -> dict[str, Any]:
        out = {}
        for g in self.pruned_groups:
            for p in g.producers:
                out[p.name] = {"channels": g.size, "kept": int(len(g.keep))}
        return out

    def keep_index(self, chan: _Chan | None) -> np.ndarray | None:
        if chan is None:
            return None
        g = self.groups.get(chan.gid)
        if g.keep is None:
            return None
        if chan.spatial == 1:
            return g.keep
        return (np.arange(chan.spatial)[:, None] * g.size + g.keep[None, :]).reshape(-1)


def plan_structured(model: Any, fraction: float, x: np.ndarray | None = None) -> StructuredPlan:
    """Decide which channels to remove: the lowest-importance ``fraction`` of every
    prunable group.

    With sample inputs ``x``, a channel's importance is what it feeds forward: its
    mean absolute activation where the next Conv/Dense layers read it, times the
    norm of their weights on it. Without data it is the L1 norm of the channel's
    filters times the scale of the BatchNorm / depthwise layers along its path.
    """
    kinds = _layer_kinds()
    groups = _Groups()
    chans: dict[str, _Chan | None] = {t: None for t in _graph.input_ids(model)}
    chan_in: dict[str, _Chan | None] = {}
    chan_out: dict[str, _Chan | None] = {}
    roles: dict[str, str] = {}
    for node in _graph.nodes(model):
        layer = node.layer
        ins = [chans.get(t) for t in node.inputs]
        first = ins[0] if ins else None
        name = layer.name
        chan_in[name] = first
        out: _Chan | None
        if _is(layer, kinds["producer"]) and _channels_last(layer) \
                and getattr(layer, "groups", 1) == 1 and len(ins) == 1:
            size = int(layer.filters if hasattr(layer, "filters") else layer.units)
            if first is not None:
                groups.get(first.gid).consumers.append((layer, node.tensors[0], first.spatial))
            gid = groups.new(size)
            groups.get(gid).producers.append(layer)
            out = _Chan(gid)
            roles[name] = "producer"
        elif _is(layer, kinds["depthwise"]) and layer.depth_multiplier == 1 \
                and first is not None and first.spatial == 1:
            groups.get(first.gid).members.append(layer)
            out = first
            roles[name] = "depthwise"
        elif _is(layer, kinds["bn"]) and first is not None and layer.axis in \
                ([-1], [len(layer.input_shape) - 1], -1):
            groups.get(first.gid).members.append(layer)
            out = first
            roles[name] = "bn"
        elif _is(layer, kinds["pass"]) and len(ins) == 1 and _channels_last(layer):
            out = first
            roles[name] = "other"
        elif _is(layer, kinds["flatten"]) and first is not None and first.spatial == 1 \
                and _channels_last(layer):
            spatial = int(np.prod([int(d) for d in layer.input_shape[1:-1]] or [1]))
            out = _Chan(first.gid, spatial)
            roles[name] = "other"
        elif _is(layer, kinds["merge"]) and all(c is not None and c.spatial == 1 for c in ins) \
                and len(ins) > 1:
            gid = ins[0].gid
            for c in ins[1:]:
                gid = groups.union(gid, c.gid)
            out = _Chan(gid)
            roles[name] = "other"
        else:
            for c in ins:
                groups.fix(c)
            out = None
            roles[name] = "other"
        chan_out[name] = out
        for t in node.outputs:
            chans[t] = out
        if len(node.outputs) > 1:
            for c in ins:
                groups.fix(c)
    for t in _graph.output_ids(model):
        groups.fix(chans.get(t))
    # Tensors read by a layer that cannot be sliced were fixed above; a Flatten feeding
    # anything but a Dense or pass-through layer fixes its group too.
    for node in _graph.nodes(model):
        c = chan_in.get(node.layer.name)
        if c is not None and c.spatial > 1 and roles[node.layer.name] not in ("producer", "other"):
            groups.fix(c)
    todo = [g for g in groups.groups.values() if not g.fixed and g.producers and g.size >= 2
            and max(1, int(round(g.size * (1.0 - fraction)))) < g.size]
    act = _activation_importance(model, todo, x) if x is not None and len(x) else {}
    for g in todo:
        n_keep = max(1, int(round(g.size * (1.0 - fraction))))
        score = act.get(g.gid)
        if score is None:
            score = _importance(g)
        g.keep = np.sort(np.argsort(-score, kind="stable")[:n_keep])
    return StructuredPlan(fraction=fraction, groups=groups, chan_in=chan_in, chan_out=chan_out,
                          roles=roles)


def _norm(v: np.ndarray) -> np.ndarray:
    m = float(np.mean(v))
    return v / m if m > 0 else np.ones_like(v)


def _importance(g: _Group) -> np.ndarray:
    score = np.zeros(g.size)
    for p in g.producers:
        k = np.abs(np.asarray(p.kernel.numpy()))
        score += _norm(k.reshape(-1, k.shape[-1]).sum(axis=0))
    for m in g.members:
        if hasattr(m, "moving_variance"):
            gamma = np.abs(m.gamma.numpy()) if m.gamma is not None else np.ones(g.size)
            score *= _norm(gamma / np.sqrt(m.moving_variance.numpy() + m.epsilon))
        elif hasattr(m, "depthwise_kernel"):
            k = np.abs(m.depthwise_kernel.numpy())
            score *= _norm(k.sum(axis=(0, 1))[:, 0])
    return score


def _activation_importance(model: Any, todo: list[_Group], x: np.ndarray) -> dict[int, np.ndarray]:
    """Per group: sum over the layers reading it of mean|activation| x weight norm."""
    keras = _keras()
    reads = [(g.gid, layer, tensor, spatial) for g in todo if g.consumers
             for layer, tensor, spatial in g.consumers]
    if not reads:
        return {}
    probe = keras.Model(model.inputs, [t for _, _, t, _ in reads])
    outs = probe.predict(x, batch_size=256, verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    scores: dict[int, np.ndarray] = {}
    for (gid, layer, _, spatial), a in zip(reads, outs, strict=True):
        size = next(g.size for g in todo if g.gid == gid)
        mean_abs = np.abs(a).reshape(-1, spatial, size).mean(axis=(0, 1))
        k = layer.kernel.numpy()
        rows = k.reshape(-1, spatial, size, k.shape[-1]) if spatial > 1 else \
            k.reshape(-1, 1, size, k.shape[-1])
        w_norm = np.sqrt((rows ** 2).sum(axis=(0, 1, 3)))
        contrib = mean_abs * w_norm
        scores[gid] = scores.get(gid, 0.0) + contrib / (contrib.mean() or 1.0)
    return scores


def _take(a: np.ndarray, idx: np.ndarray | None, axis: int) -> np.ndarray:
    return a if idx is None else np.take(a, idx, axis=axis)


def structured_prune(model: Any, fraction: float,
                     x: np.ndarray | None = None) -> tuple[Any, StructuredPlan]:
    """A new, smaller model with ``fraction`` of the channels of every prunable
    group removed (weights copied, not yet fine-tuned). ``x``: sample inputs that
    rank channels by what they feed forward (see :func:`plan_structured`)."""
    plan = plan_structured(model, fraction, x)
    if not plan.pruned_groups:
        raise EdgeMLError(f"no layer of model {model.name!r} can be structurally pruned",
                          hint="structured pruning needs Conv/Dense layers whose outputs do not "
                               "go straight to the model output; use --prune for sparsity")

    def replace(layer: Any) -> Any:
        name = layer.name
        if plan.roles.get(name) == "producer":
            keep = plan.keep_index(plan.chan_out[name])
            if keep is not None:
                key = "filters" if hasattr(layer, "filters") else "units"
                return _graph.copy_layer(layer, **{key: int(len(keep))})
        return _graph.copy_layer(layer)

    def weights(old: Any, new: Any) -> list[Any] | None:
        name = old.name
        role = plan.roles.get(name)
        w = old.get_weights()
        if role == "producer":
            k_in = plan.keep_index(plan.chan_in[name])
            k_out = plan.keep_index(plan.chan_out[name])
            kernel = _take(_take(w[0], k_in, -2), k_out, -1)
            return [kernel] + [_take(b, k_out, 0) for b in w[1:]]
        if role in ("bn", "depthwise"):
            keep = plan.keep_index(plan.chan_in[name])
            if role == "bn":
                return [_take(a, keep, 0) for a in w]
            return [_take(w[0], keep, 2)] + [_take(b, keep, 0) for b in w[1:]]
        return None

    return _graph.rebuild(model, replace, weights), plan


# ----------------------------------------------------------------------------- unstructured
def _prunable(layer: Any) -> bool:
    L = _keras().layers
    return type(layer) in (L.Conv1D, L.Conv2D, L.Dense) and layer.count_params() > 0


def magnitude_prune(model: Any, dataset: Any, sparsity: float, fit: FitSettings) -> Any:
    """Prune the smallest weights of every Conv/Dense kernel to ``sparsity`` with
    tensorflow-model-optimization while fine-tuning; returns the stripped model
    (plain tf_keras layers whose kernels hold exact zeros)."""
    import tensorflow_model_optimization as tfmot

    keras = _keras()
    steps = int(np.ceil(len(dataset.x_train) / fit.batch_size))
    epochs = max(2, int(fit.epochs))
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=float(sparsity), begin_step=0,
        end_step=max(1, steps * max(1, (2 * epochs) // 3)), frequency=max(1, steps // 2))

    def wrap(layer: Any) -> Any:
        if _prunable(layer):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    # Wrap an independent copy: the pruning wrappers train the layers they wrap.
    base = _graph.rebuild(model, _graph.copy_layer)
    wrapped = keras.models.clone_model(base, clone_function=wrap)
    fine_tune(wrapped, dataset, FitSettings(epochs=epochs, lr=fit.lr, batch_size=fit.batch_size,
                                            seed=fit.seed, patience=0),
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()], early_stop=False)
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    # A fresh model graph (no pruning wrappers anywhere, weights copied).
    return _graph.rebuild(stripped, _graph.copy_layer)


def kernel_sparsity(model: Any) -> float:
    """Fraction of exact zeros over the Conv/Dense kernels of ``model``."""
    zeros = total = 0
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)  # inside a QAT / pruning wrapper
        if _prunable(inner):
            # a QAT wrapper holds the kernel variable itself (inner.kernel is its fake-quant)
            var = next((w for w in layer.weights if w.name.endswith("kernel:0")), None)
            k = np.asarray(var.numpy() if var is not None else inner.kernel.numpy())
            zeros += int(np.sum(k == 0))
            total += k.size
    return zeros / total if total else 0.0
