"""Walk and rebuild a functional ``tf_keras`` model layer by layer.

Structured pruning and BatchNorm folding both need the same two things: the
model's nodes in execution order with the tensors flowing between them, and a
way to rebuild the model with some layers replaced (a smaller ``Conv2D``) or
removed (a folded ``BatchNormalization``). Both use tf_keras' own node records
(``_nodes_by_depth``, ``flat_input_ids``, ``map_arguments``), exactly as
``Functional._run_internal_graph`` does when it calls a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._tf import keras as _keras
from ..errors import ModelError

__all__ = ["Node", "nodes", "rebuild", "copy_layer", "IDENTITY", "usage_counts"]


class _Identity:
    """Marker: drop the layer and pass its (single) input through unchanged."""

    def __repr__(self) -> str:
        return "IDENTITY"


IDENTITY = _Identity()


@dataclass(frozen=True)
class Node:
    layer: Any
    inputs: tuple[str, ...]    # ids of the Keras tensors the layer reads
    outputs: tuple[str, ...]   # ids of the Keras tensors it writes
    tensors: tuple[Any, ...] = ()  # the Keras tensors it reads (for probe models)


def _check_functional(model: Any) -> None:
    if not hasattr(model, "_nodes_by_depth") or not getattr(model, "_is_graph_network", False):
        raise ModelError(f"model {getattr(model, 'name', '?')!r} is not a functional or "
                         "Sequential tf_keras model with a known input shape",
                         hint="build it with keras.Input(...) so its layer graph can be rebuilt")
    seen: set[int] = set()
    for depth_nodes in model._nodes_by_depth.values():
        for node in depth_nodes:
            if node.is_input:
                continue
            if id(node.layer) in seen:
                raise ModelError(f"layer {node.layer.name!r} is called more than once in the "
                                 "model (a shared layer)",
                                 hint="give each call its own layer to compress the model")
            seen.add(id(node.layer))


def nodes(model: Any) -> list[Node]:
    """The model's layer calls in execution order (input layers left out)."""
    _check_functional(model)
    out: list[Node] = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            out.append(Node(node.layer, tuple(node.flat_input_ids), tuple(node.flat_output_ids),
                            tuple(node.keras_inputs)))
    return out


def usage_counts(model: Any) -> dict[str, int]:
    """How many layer calls (and model outputs) read each tensor."""
    return dict(model._tensor_usage_count)


def input_ids(model: Any) -> list[str]:
    return [str(id(t)) for t in model.inputs]


def output_ids(model: Any) -> list[str]:
    return [str(id(t)) for t in model.outputs]


def copy_layer(layer: Any, **config: Any) -> Any:
    """A new, unbuilt layer of the same class with ``config`` overrides."""
    cfg = layer.get_config()
    cfg.update(config)
    return layer.__class__.from_config(cfg)


Replace = Callable[[Any], Any]


def rebuild(model: Any, replace: Replace,
            weights: Callable[[Any, Any], list[Any] | None] | None = None) -> Any:
    """Rebuild ``model`` calling ``replace(layer)`` for every layer.

    ``replace`` returns a new (unbuilt) layer, or :data:`IDENTITY` to drop a
    single-input layer. ``weights(old_layer, new_layer)`` returns the weights to
    load into the new layer once it is built (``None``: copy the old ones).
    """
    keras = _keras()
    _check_functional(model)
    usage = model._tensor_usage_count
    tensors: dict[str, list[Any]] = {}
    new_inputs = []
    for x in model.inputs:
        layer = x._keras_history.layer
        inp = keras.Input(shape=x.shape[1:], batch_size=None, dtype=x.dtype, name=layer.name)
        new_inputs.append(inp)
        tensors[str(id(x))] = [inp] * usage[str(id(x))]
    built: list[tuple[Any, Any]] = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input:
                continue
            args, kwargs = node.map_arguments(tensors)
            kwargs.pop("training", None)
            new = replace(node.layer)
            if new is IDENTITY:
                if len(node.flat_input_ids) != 1:
                    raise ModelError(f"cannot remove layer {node.layer.name!r}: it has "
                                     f"{len(node.flat_input_ids)} inputs",
                                     hint="only single-input layers can be folded away")
                outputs = args[0]
            else:
                outputs = new(*args, **kwargs)
                built.append((node.layer, new))
            out_list = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            for x_id, y in zip(node.flat_output_ids, out_list, strict=False):
                tensors[x_id] = [y] * usage[x_id]
    outputs = [tensors[str(id(x))].pop() for x in model.outputs]
    new_model = keras.Model(new_inputs if len(new_inputs) > 1 else new_inputs[0],
                            outputs if len(outputs) > 1 else outputs[0], name=model.name)
    for old, new in built:
        w = weights(old, new) if weights is not None else None
        new.set_weights(old.get_weights() if w is None else w)
    return new_model
