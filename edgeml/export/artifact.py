"""The deployable model: an int8 ``.tflite`` and what firmware needs to run it.

:class:`ModelArtifact` is the one type every writer of C files uses (the search
and ``edgeml compress`` for the run directory, ``edgeml export`` for firmware
packages). It is built by one of three constructors, which check the model
for the target the same way and compute the tensor arena the same way:

* :meth:`ModelArtifact.from_model`: model bytes, a target and the dataset summary
  (what a run writes);
* :meth:`ModelArtifact.from_run`: the chosen model of a finished run directory;
* :meth:`ModelArtifact.from_tflite`: a ``.tflite`` file and a target.

The arena is the target's: :func:`edgeml.estimate.arena.arena_estimate` for the
target's pointer width, measured in the TFLite Micro interpreter where it is
installed (cached by model hash) and planned analytically where it is not. The
same model for the same target therefore gets the same ``kTensorArenaMeasured``
whichever command writes ``model_data.h``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExportError, ModelError
from ..targets import Target

__all__ = ["ModelArtifact", "ARENA_MARGIN", "ARENA_MIN_MARGIN", "arena_with_margin"]

# Added to the target's arena: optimized kernels (ESP-NN, CMSIS-NN) ask for scratch
# buffers the reference kernels do not, and TFLM versions differ a little.
ARENA_MARGIN = 0.25
ARENA_MIN_MARGIN = 1024


def arena_with_margin(arena: int, *, margin: float = ARENA_MARGIN,
                      minimum: int = ARENA_MIN_MARGIN) -> int:
    """``arena`` plus ``margin`` of it (at least ``minimum`` bytes), rounded up to 16."""
    import math

    extra = max(int(math.ceil(arena * margin)), int(minimum))
    return (int(arena) + extra + 15) // 16 * 16


@dataclass(frozen=True)
class ModelArtifact:
    """An int8 model and what firmware needs to run it on one target."""

    model: bytes
    arena_bytes: int                  # the target's tensor arena (see the module docstring)
    labels: tuple[str, ...]
    ops: tuple[str, ...]
    input_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    raw_input_scale: float = 1.0
    raw_input_offset: float = 0.0
    target: str | None = None
    pointer_bytes: int = 4
    arena_source: str = "tflm"        # "tflm" (measured) or "analytic"
    dataset: str = ""                 # the data it was trained on, for the files' comments
    source: str = ""                  # where it was read from
    description: str = ""             # one line for package manifests
    features: dict[str, Any] | None = None   # FittedFeatures.to_dict(): raw samples -> input
    arena_margin: float = ARENA_MARGIN
    arena_min_margin: int = ARENA_MIN_MARGIN
    #: a run whose chosen model is a classical model or an ensemble: its ``edgeml_predict``
    #: C files (``edgeml.export.predict``), which every C format writes instead of the
    #: int8 model's (``model`` is then empty)
    predict_files: tuple[tuple[str, bytes], ...] = ()

    # -- constructors ----------------------------------------------------------
    @classmethod
    def from_model(cls, model: bytes, target: Target, *, dataset: dict[str, Any] | None = None,
                   where: str = "model", source: str = "", description: str = "",
                   features: dict[str, Any] | None = None) -> ModelArtifact:
        """Check ``model`` for ``target`` and describe it; ``dataset`` is the run's dataset
        summary (class names, preprocessing, name), if there is one."""
        from ..estimate.arena import arena_estimate
        from ..tflite.graph import read_graph
        from .op_resolver import resolver_methods

        graph = read_graph(model, where=where)
        if target.int8_only and not graph.is_int8:
            kinds = sorted({graph.input(0).dtype, graph.output(0).dtype}
                           | {t.dtype for t in graph.tensors if t.dtype.startswith("float")})
            raise ModelError(f"{where} is not a fully int8 model ({'/'.join(kinds)} tensors) "
                             f"but {target.name} runs int8 kernels only",
                             hint="convert it with full-integer quantization (int8 input and "
                                  "output), e.g. `edgeml compress RUN_DIR`")
        missing = [op for op in graph.op_names if op not in target.ops]
        if missing:
            raise ModelError(f"{where} uses operators {', '.join(missing)} that "
                             f"{target.name}'s runtime does not register",
                             hint="choose a target whose runtime has them, or add them to the "
                                  "target profile's runtime.ops")
        resolver_methods(graph.op_names)  # every operator must be registrable
        arena = arena_estimate(model, graph, pointer_bytes=target.pointer_bytes,
                               kernels=target.kernels, core=target.core)
        inp, out = graph.input(0), graph.output(0)
        n_out = int(out.shape[-1]) if out.shape else 1
        ds = dataset or {}
        labels = tuple(str(c) for c in ds.get("classes") or [])
        if len(labels) != n_out:
            labels = tuple(str(i) for i in range(n_out))
        prep = ds.get("preprocessing") or {}
        return cls(model=model, arena_bytes=int(arena.bytes), labels=labels, ops=graph.op_names,
                   input_shape=tuple(int(d) for d in inp.shape[1:]),
                   input_scale=float(inp.scale or 1.0), input_zero_point=int(inp.zero_point or 0),
                   output_scale=float(out.scale or 1.0),
                   output_zero_point=int(out.zero_point or 0),
                   raw_input_scale=float(prep.get("scale", 1.0)),
                   raw_input_offset=float(prep.get("offset", 0.0)), target=target.name,
                   pointer_bytes=int(target.pointer_bytes), arena_source=arena.source,
                   dataset=str(ds.get("name") or ""), source=source, description=description,
                   features=features)

    @classmethod
    def from_tflite(cls, path: str | Path, target: str | Target | None) -> ModelArtifact:
        """A ``.tflite`` file for ``target`` (required: it decides whether a float model is
        acceptable, which operators the runtime has and the pointer width)."""
        from ..targets import load_target

        path = Path(path)
        if not path.exists():
            raise ExportError(f"{path} does not exist",
                              hint="pass a run directory (edgeml search --out) or a .tflite file")
        if not target:
            raise ExportError(f"exporting the file {path.name} needs --target",
                              hint="e.g. --target esp32 (see `edgeml targets`)")
        tgt = target if isinstance(target, Target) else load_target(target)
        try:
            model = path.read_bytes()
        except OSError as exc:
            raise ExportError(f"cannot read {path} ({exc.strerror or exc})",
                              hint="pass a readable .tflite file") from exc
        return cls.from_model(model, tgt, where=str(path), source=str(path))

    @classmethod
    def from_run(cls, run_dir: str | Path, *, target: str | Target | None = None) -> ModelArtifact:
        """The chosen model of a finished run, for the run's (first) target by default."""
        from ..records import RunDir
        from ..targets import load_target

        run = RunDir.open(run_dir, finished=True)
        report = run.report()
        name = target or (report.get("target") or {}).get("name")
        tgt = name if isinstance(name, Target) else load_target(str(name))
        ds = report.get("dataset") or {}
        acc = (report.get("chosen") or {}).get("int8_test_accuracy")
        desc = f"edgeml model for {tgt.name}: {ds.get('name', '?')}" + \
            (f", int8 test accuracy {acc:.4f} (TFLM)" if isinstance(acc, (int, float)) else "")
        chosen = report.get("chosen") or {}
        if chosen.get("c_files"):  # a classical model or an ensemble: edgeml_predict
            files = []
            for fname in chosen["c_files"]:
                try:
                    files.append((str(fname), (run.path / str(fname)).read_bytes()))
                except OSError as exc:
                    raise ExportError(f"cannot read {run.path / str(fname)} ({exc.strerror or exc})",
                                      hint="the run directory is damaged; run the search again"
                                      ) from exc
            labels = tuple(str(c) for c in ds.get("classes") or [])
            prep = ds.get("preprocessing") or {}
            return cls(model=b"", arena_bytes=0, labels=labels, ops=(),
                       input_shape=tuple(int(d) for d in ds.get("input_shape") or ()),
                       input_scale=1.0, input_zero_point=0, output_scale=1.0,
                       output_zero_point=0, raw_input_scale=float(prep.get("scale", 1.0)),
                       raw_input_offset=float(prep.get("offset", 0.0)), target=tgt.name,
                       pointer_bytes=int(tgt.pointer_bytes), dataset=str(ds.get("name") or ""),
                       source=str(run.path),
                       description=f"edgeml {chosen.get('family', 'classical')} model for "
                                   f"{tgt.name}: {ds.get('name', '?')}, edgeml_predict()",
                       predict_files=tuple(files))
        return cls.from_model(run.model_tflite.read_bytes(), tgt, dataset=ds,
                              where=str(run.model_tflite), source=str(run.path),
                              description=desc,
                              features=(report.get("features") or {}).get("fitted"))

    # -- derived ------------------------------------------------------------------
    @property
    def arena_size(self) -> int:
        """``kTensorArenaSize``: the arena plus the stated margin."""
        return arena_with_margin(self.arena_bytes, margin=self.arena_margin,
                                 minimum=self.arena_min_margin)

    @property
    def raw_to_input(self) -> tuple[float, float]:
        """``q = round(raw * mul + add)``: preprocessing and int8 quantization in one step."""
        mul = self.raw_input_scale / self.input_scale
        add = self.raw_input_offset / self.input_scale + self.input_zero_point
        return mul, add

    @property
    def comments(self) -> tuple[str, ...]:
        """What the generated C files say about the model (the same for every command)."""
        sha = hashlib.sha256(self.model).hexdigest()[:16]
        what = f"edgeml model for {self.target or 'TFLite Micro'}" + \
            (f": {self.dataset}" if self.dataset else "")
        return (what, f"model sha256 {sha}...")

    @property
    def arena_origin(self) -> str:
        """How the arena was found, for the header's comment."""
        bits = 8 * self.pointer_bytes
        if self.arena_source == "analytic":
            return (f"planned analytically for {self.target} ({bits}-bit pointers; TFLite Micro "
                    "was not installed where this was generated)")
        return (f"measured in the TFLite Micro interpreter (reference kernels) and converted "
                f"to {self.target}'s {bits}-bit pointers")
