"""Search spaces: Keras Tuner hypermodels fitted to the input kind.

Each built-in space is a ``build(hp)`` function that returns a ``tf_keras``
classifier made only of operators every shipped target's TFLM build has
(CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX_POOL_2D, AVERAGE_POOL_2D,
MEAN, RESHAPE, SOFTMAX; batch norm and ReLU fold into the convolutions). The
last layer is a separate ``Softmax`` ("probs") after a ``Dense`` ("logits").

Hyperparameters that only make sense for one architecture live in a Keras
Tuner conditional scope, so the oracles neither sample nor model them when they
are inactive. In every built-in space the first value of each choice (the
default) gives the smallest model for most limits; :attr:`Space.smallest` lists
the few candidates that are together the smallest of the space for every limit
(e.g. a global-pooling head for flash and latency, a flatten head for RAM). The
search checks them after the first rejection and stops at once when none fits.

Shared training hyperparameters: ``lr``, ``batch_size``, ``dropout``.

A user's own space is a Python file with a ``build(hp)`` function returning a
compiled-or-not ``tf_keras`` model that ends in a softmax over the classes
(:func:`load_space_file`). It may define ``SMALLEST``: the hyperparameter values
of its smallest candidate (a dict), or of a few candidates that together are the
smallest for every limit (a list of dicts); without it an impossible budget is
only noticed after many rejected candidates.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._tf import keras as _keras
from ..data import InputKind
from ..errors import EdgeMLError

__all__ = ["Space", "SpaceError", "build_space", "load_space_file", "check_space_model", "SPACES"]


class SpaceError(EdgeMLError):
    """A search space (built-in or the user's ``--space`` file) cannot be used."""


@dataclass(frozen=True)
class Space:
    """A ``build(hp)`` function plus what the search needs to know about it."""

    build: Callable[[Any], Any]
    name: str
    description: str = ""
    #: hyperparameter values of the candidates that together are the smallest of the
    #: space for every limit ({} = all defaults); None if unknown
    smallest: tuple[dict[str, Any], ...] | None = None
    source: str = "builtin"           # "builtin" or the path of the user's file
    digest: str = ""                  # sha256 of the user's file (resume checks it)
    #: how another process rebuilds this space: ("builtin", kind, input_shape, num_classes)
    #: or ("file", path, input_shape, num_classes, digest); None: send the object itself
    recipe: tuple[Any, ...] | None = None
    #: classes the user's file defines (custom layers), to load its saved models by name
    custom_objects: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __call__(self, hp: Any) -> Any:
        return self.build(hp)


# --------------------------------------------------------------------------- helpers
def _training_hps(hp: Any) -> None:
    hp.Float("lr", 1e-3, 1e-2, sampling="log")
    hp.Choice("batch_size", [32, 64])


def _head(keras: Any, x: Any, hp: Any, num_classes: int) -> Any:
    drop = hp.Float("dropout", 0.0, 0.3, step=0.1)
    if drop > 0:
        x = keras.layers.Dropout(drop, name="dropout")(x)
    x = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.layers.Softmax(name="probs")(x)


def _bn_relu(keras: Any, x: Any, name: str) -> Any:
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _stage(keras: Any, x: Any, i: int, *, ds: bool, filters: int, kernel: Any, stride: Any,
           pool: Any = None, prefix: str = "") -> Any:
    """Stage ``i`` of a conv stack: a plain convolution, or (``ds``) a depthwise +
    pointwise pair, each followed by BatchNorm + ReLU; then max pooling if ``pool``."""
    if not ds:
        x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same",
                                use_bias=False, name=f"{prefix}conv{i}")(x)
        x = _bn_relu(keras, x, f"{prefix}conv{i}")
    else:
        x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                         use_bias=False, name=f"{prefix}dw{i}")(x)
        x = _bn_relu(keras, x, f"{prefix}dw{i}")
        x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{prefix}pw{i}")(x)
        x = _bn_relu(keras, x, f"{prefix}pw{i}")
    if pool is not None:
        x = keras.layers.MaxPooling2D(pool, name=f"pool{i}")(x)
    return x


def _channels(base: int, width: float, stage: int) -> int:
    """MobileNet-style channel count: base * width, doubled per stage up to 4x."""
    return max(4, int(round(base * width * (2 ** min(stage, 2)))))


# --------------------------------------------------------------------------- images
def image_space(input_shape: tuple[int, ...], num_classes: int) -> Space:
    """Plain conv stacks and depthwise-separable (DS-CNN / MobileNetV1-style) stacks.

    Hyperparameters: ``downscale`` (input average pooling, large inputs only),
    ``arch`` (``dscnn`` | ``conv``), ``width`` (multiplier on 16-32-64 channels),
    ``depth`` (blocks), ``reduce`` (``stride``: strided convolutions, or
    ``maxpool``), ``head`` (``gap`` | ``flatten``); in the ``conv`` scope
    ``kernel``; in the ``dscnn`` scope ``dw_kernel`` and ``stem_kernel``.
    """
    h, w, _ = input_shape
    smallest = min(h, w)
    downs = [d for d in (4, 2) if smallest // d >= 12]

    def build(hp: Any) -> Any:
        keras = _keras()
        _training_hps(hp)
        inputs = keras.Input(shape=input_shape, name="input")
        x = inputs
        size = smallest
        if downs:
            down = hp.Choice("downscale", [*downs, 1])
            if down > 1:
                x = keras.layers.AveragePooling2D(down, name="downscale")(x)
                size //= down
        arch = hp.Choice("arch", ["dscnn", "conv"])
        width = hp.Choice("width", [0.5, 1.0, 2.0])
        max_depth = max(1, min(4, size.bit_length() - 1))
        depth = hp.Int("depth", 1, max_depth) if max_depth > 1 else 1
        reduce = hp.Choice("reduce", ["stride", "maxpool"])
        big = size >= 8
        # Scopes are entered whatever ``arch`` is, so keras-tuner sees (and registers)
        # both branches; inside an inactive scope a hyperparameter is not sampled.
        with hp.conditional_scope("arch", ["conv"]):
            conv_kernel = hp.Choice("kernel", [3, 5]) if big else 3
        with hp.conditional_scope("arch", ["dscnn"]):
            dw_kernel = hp.Choice("dw_kernel", [3, 5]) if big else 3
            ds_stem = hp.Choice("stem_kernel", [3, 5]) if big else 3
        kernel, stem_kernel = (conv_kernel, conv_kernel) if arch == "conv" else (dw_kernel, ds_stem)
        for i in range(depth):
            filters = _channels(16, width, i)
            shrink = size >= 4
            stride = 2 if (shrink and reduce == "stride") else 1
            x = _stage(keras, x, i, ds=not (i == 0 or arch == "conv"), filters=filters,
                       kernel=stem_kernel if i == 0 else kernel, stride=stride,
                       pool=2 if (shrink and reduce == "maxpool") else None)
            if shrink:
                size = (size + 1) // 2
        if hp.Choice("head", ["gap", "flatten"]) == "gap":
            x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        else:
            x = keras.layers.Flatten(name="flatten")(x)
        return keras.Model(inputs, _head(keras, x, hp, num_classes), name="edgeml_image")

    # The MEAN of a pooling head needs arena scratch that a flatten head does not, so
    # the flatten variant is the smallest in RAM and the pooling one in flash/latency.
    return Space(build=build, name="image", smallest=({}, {"head": "flatten"}),
                 description="DS-CNN / MobileNetV1-style and plain conv stacks")


# --------------------------------------------------------------------------- time series
def timeseries_space(input_shape: tuple[int, ...], num_classes: int) -> Space:
    """Temporal convolutions as TFLM-friendly Conv2D (k x 1) over a (T, 1, C) view.

    Hyperparameters: ``downscale`` (temporal average pooling, long series only),
    ``arch`` (``dscnn``: depthwise (k x 1) + pointwise, or ``conv``), ``width``,
    ``depth``, ``reduce`` (``stride`` | ``maxpool``); in the ``conv`` scope ``kernel``
    (k), in the ``dscnn`` scope ``dw_kernel`` and ``stem_kernel``; global
    average pooling over time before the classifier.
    """
    steps, channels = input_shape
    downs = [d for d in (4, 2) if steps // d >= 32]

    def build(hp: Any) -> Any:
        keras = _keras()
        _training_hps(hp)
        inputs = keras.Input(shape=input_shape, name="input")
        x = keras.layers.Reshape((steps, 1, channels), name="as_image")(inputs)
        t = steps
        if downs:
            down = hp.Choice("downscale", [*downs, 1])
            if down > 1:
                x = keras.layers.AveragePooling2D((down, 1), name="downscale")(x)
                t //= down
        arch = hp.Choice("arch", ["dscnn", "conv"])
        width = hp.Choice("width", [0.5, 1.0, 2.0])
        depth = hp.Int("depth", 1, max(1, min(4, t.bit_length() - 3)))
        reduce = hp.Choice("reduce", ["stride", "maxpool"])
        with hp.conditional_scope("arch", ["conv"]):
            conv_kernel = hp.Choice("kernel", [3, 5, 9])
        with hp.conditional_scope("arch", ["dscnn"]):
            dw_kernel = hp.Choice("dw_kernel", [3, 5, 9])
            ds_stem = hp.Choice("stem_kernel", [3, 5, 9])
        kernel, stem_kernel = (conv_kernel, conv_kernel) if arch == "conv" else (dw_kernel, ds_stem)
        for i in range(depth):
            k = min(stem_kernel if i == 0 else kernel, t)
            filters = _channels(16, width, i)
            shrink = t >= 4
            stride = (2, 1) if (shrink and reduce == "stride") else (1, 1)
            x = _stage(keras, x, i, ds=not (i == 0 or arch == "conv"), filters=filters,
                       kernel=(k, 1), stride=stride, prefix="t",
                       pool=(2, 1) if (shrink and reduce == "maxpool") else None)
            if shrink:
                t = (t + 1) // 2
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        return keras.Model(inputs, _head(keras, x, hp, num_classes), name="edgeml_timeseries")

    return Space(build=build, name="timeseries", smallest=({},),
                 description="temporal Conv2D (k x 1) stacks, plain or depthwise-separable")


# --------------------------------------------------------------------------- tabular
def tabular_space(input_shape: tuple[int, ...], num_classes: int) -> Space:
    """Multi-layer perceptrons: ``layers`` (1-3) and ``units{i}`` for each active layer."""

    def build(hp: Any) -> Any:
        keras = _keras()
        _training_hps(hp)
        inputs = keras.Input(shape=input_shape, name="input")
        x = inputs
        n = hp.Int("layers", 1, 3)
        for i in range(3):
            with hp.conditional_scope("layers", list(range(i + 1, 4))):
                units = hp.Choice(f"units{i}", [16, 32, 64, 128])
                if i < n:
                    x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        return keras.Model(inputs, _head(keras, x, hp, num_classes), name="edgeml_mlp")

    return Space(build=build, name="tabular", smallest=({},), description="multi-layer perceptrons")


SPACES = {InputKind.IMAGE: image_space, InputKind.TIMESERIES: timeseries_space,
          InputKind.TABULAR: tabular_space}


def build_space(kind: InputKind, input_shape: tuple[int, ...], num_classes: int) -> Space:
    """The default space for ``kind`` (a :class:`Space`; call it like ``build(hp)``)."""
    shape, n = tuple(int(d) for d in input_shape), int(num_classes)
    space = SPACES[InputKind(kind)](shape, n)
    return replace(space, recipe=("builtin", InputKind(kind).value, shape, n))


def space_from_recipe(recipe: tuple[Any, ...]) -> Space:
    """Rebuild a space from its :attr:`Space.recipe` (in a trial worker process)."""
    if recipe[0] == "builtin":
        _, kind, shape, n = recipe
        return build_space(InputKind(kind), tuple(shape), int(n))
    if recipe[0] == "file":
        _, path, shape, n, digest = recipe
        space = load_space_file(path, input_shape=tuple(shape), num_classes=int(n), check=False)
        if space.digest != digest:
            raise SpaceError(f"space file {path} changed while the search was running",
                             hint="restore it, then resume the run with --resume")
        return space
    raise SpaceError(f"unknown space recipe {recipe[0]!r}", hint="this is a bug in edgeml")


# --------------------------------------------------------------------------- user spaces
def _where(exc: BaseException, path: Path) -> str:
    """' (my_space.py line 12)' for the innermost frame in the user's file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).resolve() == path.resolve()]
    return f" ({path.name} line {frames[-1].lineno})" if frames else ""


def describe_error(exc: BaseException) -> str:
    """'ValueError: first line of the message' (200 characters at most)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def check_space_model(model: Any, *, where: str, input_shape: tuple[int, ...] | None = None,
                      num_classes: int | None = None) -> None:
    """Raise :class:`SpaceError` unless ``model`` is a usable ``tf_keras`` classifier."""
    keras = _keras()
    if not isinstance(model, keras.Model):
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        hint = "build and return a tf_keras model: `import tf_keras as keras` and keras.Model(...)"
        if type(model).__module__.startswith("keras"):
            hint = ("edgeml trains Keras 2 models: use `import tf_keras as keras` in the space "
                    "file, not `import keras`")
        raise SpaceError(f"{where} returned {kind}, not a tf_keras model", hint=hint)
    got_in = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if input_shape is not None and got_in != tuple(input_shape):
        raise SpaceError(f"{where} returned a model with input shape {got_in}; the data has "
                         f"samples of shape {tuple(input_shape)}",
                         hint=f"use keras.Input(shape={tuple(input_shape)})")
    out = model.output_shape
    if num_classes is not None and (isinstance(out, list) or tuple(out[1:]) != (num_classes,)):
        raise SpaceError(f"{where} returned a model with output shape {out}; the data has "
                         f"{num_classes} classes",
                         hint=f"end with keras.layers.Dense({num_classes}) and a softmax")
    last = model.layers[-1]
    act = getattr(getattr(last, "activation", None), "__name__", None)
    if not (isinstance(last, keras.layers.Softmax) or act == "softmax"):
        raise SpaceError(f"{where} returned a model whose last layer {last.name!r} is not a "
                         "softmax", hint="end with keras.layers.Softmax() (edgeml trains with "
                         "sparse categorical cross-entropy on probabilities)")


def load_space_file(path: str | Path, *, input_shape: tuple[int, ...],
                    num_classes: int, check: bool = True) -> Space:
    """Load a user's ``build(hp)`` from a Python file and check it on default values.

    Every problem is a one-line :class:`SpaceError`: a missing file, a file that
    does not import, no ``build`` function, a ``build`` that raises or returns
    something other than a ``tf_keras`` classifier for this data. ``check=False``
    skips building the defaults (a trial worker loading a file already checked).
    """
    p = Path(path)
    if not p.exists():
        raise SpaceError(f"space file {str(path)!r} does not exist",
                         hint="pass a Python file that defines build(hp)")
    if p.is_dir() or p.suffix != ".py":
        raise SpaceError(f"space file {str(path)!r} is not a .py file",
                         hint="pass a Python file that defines build(hp)")
    text = p.read_bytes()
    digest = hashlib.sha256(text).hexdigest()
    name = f"edgeml_user_space_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have a loader
        raise SpaceError(f"space file {p} cannot be imported", hint="check the file name")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise SpaceError(f"space file {p} has a syntax error at line {exc.lineno}: {exc.msg}",
                         hint="fix the file and run again") from exc
    except Exception as exc:
        sys.modules.pop(name, None)
        raise SpaceError(f"importing space file {p} failed{_where(exc, p)}: {describe_error(exc)}",
                         hint="fix the file and run again") from exc
    build = getattr(module, "build", None)
    if build is None or not callable(build):
        found = sorted(n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n])
                       and getattr(vars(module)[n], "__module__", None) == name)
        raise SpaceError(f"space file {p} defines no build(hp) function"
                         + (f" (found {', '.join(found)})" if found else ""),
                         hint="define def build(hp): ... returning a tf_keras model")
    smallest = getattr(module, "SMALLEST", None)
    if isinstance(smallest, dict):
        smallest = [smallest]
    if smallest is not None and not (isinstance(smallest, (list, tuple)) and smallest
                                     and all(isinstance(d, dict) for d in smallest)):
        raise SpaceError(f"SMALLEST in {p} is a {type(smallest).__name__}, not a dict or a "
                         "list of dicts", hint="SMALLEST = {'hyperparameter': value, ...} "
                                               "or leave it out")
    classes = {k: v for k, v in vars(module).items()
               if isinstance(v, type) and getattr(v, "__module__", None) == name}
    space = Space(build=build, name=p.stem, description=(module.__doc__ or "").strip()[:200],
                  smallest=tuple(dict(d) for d in smallest) if smallest is not None else None,
                  source=str(p.resolve()), digest=digest,
                  recipe=("file", str(p.resolve()), tuple(int(d) for d in input_shape),
                          int(num_classes), digest), custom_objects=classes)
    if not check:
        return space
    import keras_tuner as kt

    model = call_build(space, kt.HyperParameters(), what=f"build(hp) in {p.name}")
    check_space_model(model, where=f"build(hp) in {p.name}", input_shape=input_shape,
                      num_classes=num_classes)
    _keras().backend.clear_session()
    return space


def call_build(space: Space, hp: Any, *, what: str | None = None) -> Any:
    """``space.build(hp)``, with any exception turned into a one-line :class:`SpaceError`."""
    try:
        return space.build(hp)
    except EdgeMLError:
        raise
    except Exception as exc:
        where = _where(exc, Path(space.source)) if space.source != "builtin" else ""
        raise SpaceError(f"{what or 'build(hp)'} raised {describe_error(exc)}{where}",
                         hint="fix the space so it builds for every hyperparameter value") from exc
