"""Firmware-ready exports of an int8 model: ``tflite``, ``c``, ``esp-idf``, ``arduino``, ``zephyr``.

``load_artifact`` reads what an export needs from a run directory (or a bare
``.tflite`` plus a target) and checks it: a TFLite flatbuffer, fully int8 when
the target runs int8 kernels only, operators the target's runtime has, and the
tensor arena measured in the TFLite Micro interpreter. ``export_model`` renders
the files of one format and writes them atomically: everything is built in a
temporary folder next to the destination and moved into place only when
complete. Existing files are never overwritten unless ``force=True``.

Layout (``name`` = ``model`` unless given):

* ``tflite``:  ``OUT/model.tflite``
* ``c``:       ``OUT/model_data.cc``, ``OUT/model_data.h``, ``OUT/op_resolver.h``
* ``esp-idf``: ``OUT/edgeml_model/`` (``CMakeLists.txt``, ``idf_component.yml``, C files)
* ``arduino``: ``OUT/edgeml_model/`` (``library.properties``, ``src/`` with the C files)
* ``zephyr``:  ``OUT/edgeml_model/`` (``zephyr/module.yml``, ``CMakeLists.txt``, ``Kconfig``, C files)

A model trained on features (``edgeml search --data`` a folder of recordings) also
gets ``features.c`` / ``features.h`` in every C format: ``edgeml_features(raw, out)``
computes its int8 input from raw samples (``edgeml.export.features_c``).

With another ``name`` (e.g. ``kws``) the C files are ``kws_data.cc/.h`` and
``kws_op_resolver.h`` and the symbols are prefixed (``g_kws``, ``RegisterKwsOps``),
so several models can live in one firmware.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExportError, ModelError
from .c_array import CModelInfo, c_identifier, render_header, render_source, symbols
from .features_c import feature_file_names
from .op_resolver import render_op_resolver, resolver_methods, resolver_symbols

__all__ = ["FORMATS", "ModelArtifact", "ExportResult", "load_artifact", "export_model",
           "render_files", "c_file_names", "write_c_files", "feature_files"]

FORMATS = ("tflite", "c", "esp-idf", "arduino", "zephyr")
TFLM_IDF_COMPONENT = "espressif/esp-tflite-micro"
TFLM_IDF_VERSION = "^1.3.0"


@dataclass(frozen=True)
class ModelArtifact:
    """An int8 model and what firmware needs to run it."""

    model: bytes
    arena_bytes: int                  # measured in TFLM (smallest arena that runs it)
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
    source: str = ""
    description: str = ""
    features: dict[str, Any] | None = None   # FittedFeatures.to_dict(): raw samples -> input

    def c_info(self) -> CModelInfo:
        import hashlib

        sha = hashlib.sha256(self.model).hexdigest()[:16]
        comments = tuple(c for c in (self.description, f"model sha256 {sha}...") if c)
        return CModelInfo(model=self.model, arena_bytes=self.arena_bytes,
                          input_scale=self.input_scale, input_zero_point=self.input_zero_point,
                          output_scale=self.output_scale,
                          output_zero_point=self.output_zero_point, labels=self.labels,
                          raw_input_scale=self.raw_input_scale,
                          raw_input_offset=self.raw_input_offset, input_shape=self.input_shape,
                          extra_comments=comments)


@dataclass(frozen=True)
class ExportResult:
    format: str
    root: Path                        # the folder the user points the firmware build at
    files: tuple[Path, ...]


# ----------------------------------------------------------------------------- loading
def load_artifact(source: str | Path, *, target: str | None = None,
                  arena_bytes: int | None = None) -> ModelArtifact:
    """Read a run directory (``report.json`` + ``model.tflite``) or a ``.tflite`` file.

    ``target`` is required for a bare ``.tflite`` file (it decides whether a float
    model is acceptable and which operators the runtime has); for a run directory
    it defaults to the run's target. ``arena_bytes`` skips the TFLM measurement.
    """
    from ..estimate import estimate_graph, read_graph
    from ..targets import load_target
    from ..tflite.tflm import run_tflm, tflm_available

    path = Path(source)
    report: dict[str, Any] = {}
    if not path.exists():
        raise ExportError(f"{path} does not exist",
                          hint="pass a run directory (edgeml search --out) or a .tflite file")
    if path.is_dir():
        rp = path / "report.json"
        model_path = path / "model.tflite"
        if not rp.exists() or not model_path.exists():
            raise ExportError(f"{path} is not a finished edgeml run (no report.json/model.tflite)",
                              hint="pass the --out folder of a completed `edgeml search`, "
                                   "or a .tflite file with --target")
        try:
            report = json.loads(rp.read_text())
        except (OSError, ValueError) as exc:
            raise ExportError(f"{rp} is not readable JSON ({exc})",
                              hint="re-run the search or export the .tflite with --target") from exc
        target = target or (report.get("target") or {}).get("name")
    else:
        model_path = path
        if not target:
            raise ExportError(f"exporting the file {path.name} needs --target",
                              hint="e.g. --target esp32 (see `edgeml targets`)")
    model = model_path.read_bytes()
    graph = read_graph(model, where=str(model_path))
    tgt = load_target(target) if target else None
    if tgt is not None and tgt.int8_only and not graph.is_int8:
        kinds = sorted({graph.input(0).dtype, graph.output(0).dtype}
                       | {t.dtype for t in graph.tensors if t.dtype.startswith("float")})
        raise ModelError(f"{model_path} is not a fully int8 model ({'/'.join(kinds)} tensors) "
                         f"but {tgt.name} runs int8 kernels only",
                         hint="convert it with full-integer quantization (int8 input and "
                              "output), e.g. `edgeml compress RUN_DIR`")
    if tgt is not None:
        missing = [op for op in graph.op_names if op not in tgt.ops]
        if missing:
            raise ModelError(f"{model_path} uses operators {', '.join(missing)} that "
                             f"{tgt.name}'s runtime does not register",
                             hint="choose a target whose runtime has them, or add them to the "
                                  "target profile's runtime.ops")
    resolver_methods(graph.op_names)  # every operator must be registrable
    if arena_bytes is None:
        if tflm_available():
            res = run_tflm(model, bisect=True)
            arena_bytes = int(res.bisected_bytes or res.arena_bytes)
        elif tgt is not None:  # no interpreter on this host: lifetime-based estimate
            from ..estimate import analytic_arena

            arena_bytes = int(estimate_graph(graph, tgt, arena_bytes=analytic_arena(graph),
                                             source="analytic").arena_bytes)
        else:
            raise ExportError("cannot measure the tensor arena on this host",
                              hint="install tflite-micro (Linux x86-64) or pass --target")
    inp, out = graph.input(0), graph.output(0)
    n_out = int(out.shape[-1]) if out.shape else 1
    ds = report.get("dataset") or {}
    labels = tuple(str(c) for c in ds.get("classes") or [])
    if len(labels) != n_out:
        labels = tuple(str(i) for i in range(n_out))
    prep = ds.get("preprocessing") or {}
    desc = ""
    if report:
        chosen = report.get("chosen") or {}
        acc = chosen.get("int8_test_accuracy")
        desc = f"edgeml model for {target}: {ds.get('name', '?')}" + \
            (f", int8 test accuracy {acc:.4f} (TFLM)" if isinstance(acc, (int, float)) else "")
    features = (report.get("features") or {}).get("fitted")
    return ModelArtifact(model=model, arena_bytes=int(arena_bytes), labels=labels,
                         ops=graph.op_names, input_shape=tuple(inp.shape[1:]),
                         input_scale=float(inp.scale or 1.0),
                         input_zero_point=int(inp.zero_point or 0),
                         output_scale=float(out.scale or 1.0),
                         output_zero_point=int(out.zero_point or 0),
                         raw_input_scale=float(prep.get("scale", 1.0)),
                         raw_input_offset=float(prep.get("offset", 0.0)),
                         target=target, source=str(path), description=desc, features=features)


# ----------------------------------------------------------------------------- rendering
def c_file_names(name: str, *, source_ext: str = ".cc") -> dict[str, str]:
    stem = "model" if name == "model" else name
    return {"source": f"{stem}_data{source_ext}", "header": f"{stem}_data.h",
            "resolver": "op_resolver.h" if name == "model" else f"{name}_op_resolver.h"}


def _c_files(art: ModelArtifact, name: str, *, source_ext: str = ".cc") -> dict[str, bytes]:
    names = c_file_names(name, source_ext=source_ext)
    info = art.c_info()
    return {
        names["header"]: render_header(info, name=name).encode(),
        names["source"]: render_source(info, name=name, header=names["header"]).encode(),
        names["resolver"]: render_op_resolver(art.ops, name=name).encode(),
        **feature_files(art, name),
    }


def feature_files(art: ModelArtifact, name: str) -> dict[str, bytes]:
    """The feature stage's C (``features.c/.h``) when the model was trained on features:
    firmware calls one function from raw samples to the model's int8 input."""
    if not art.features:
        return {}
    import math

    from ..features.spec import FittedFeatures
    from .features_c import render_feature_files

    fitted = FittedFeatures.from_dict(art.features)
    n_feat, n_in = math.prod(fitted.spec.output_shape), math.prod(art.input_shape or (0,))
    if n_feat != n_in:
        raise ExportError(f"the feature stage makes {n_feat} values but the model takes {n_in}",
                          hint="export the run the features were fitted for")
    return render_feature_files(fitted, name=name, input_scale=art.input_scale,
                                input_zero_point=art.input_zero_point)


def _summary(art: ModelArtifact) -> str:
    return art.description or f"int8 model for {art.target or 'TFLite Micro'}"


def _esp_idf(art: ModelArtifact, name: str) -> dict[str, bytes]:
    files = _c_files(art, name)
    src = " ".join(f'"{f}"' for f in files if f.endswith((".cc", ".c")))
    cmake = "\n".join([
        f"# Generated by edgeml: {_summary(art)}.",
        f"# {TFLM_IDF_COMPONENT} is declared in idf_component.yml; the component manager",
        "# downloads it and adds it to this component's requirements, so op_resolver.h",
        "# finds the TensorFlow Lite Micro headers.",
        f'idf_component_register(SRCS {src}',
        '                       INCLUDE_DIRS ".")',
        "",
    ])
    manifest = "\n".join([
        f"# Generated by edgeml: the edgeml_{name} component.",
        'version: "1.0.0"',
        f"description: {json.dumps(_summary(art))}",
        "dependencies:",
        '  idf: ">=4.4"',
        f'  {TFLM_IDF_COMPONENT}: "{TFLM_IDF_VERSION}"',
        "",
    ])
    return {"CMakeLists.txt": cmake.encode(), "idf_component.yml": manifest.encode(), **files}


def _arduino(art: ModelArtifact, name: str) -> dict[str, bytes]:
    # The Arduino builder compiles .cpp (not always .cc) files under src/.
    files = {f"src/{k}": v for k, v in _c_files(art, name, source_ext=".cpp").items()}
    names = c_file_names(name)
    lib = f"edgeml_{name}"
    umbrella = "\n".join([
        "// Generated by edgeml. Include this after your TensorFlow Lite Micro library's header.",
        f"#ifndef EDGEML_{name.upper()}_LIBRARY_H_",
        f"#define EDGEML_{name.upper()}_LIBRARY_H_",
        f'#include "{names["header"]}"',
        f'#include "{names["resolver"]}"',
        *([f'#include "{feature_file_names(name)["header"]}"'] if art.features else []),
        "#endif",
        "",
    ])
    props = "\n".join([
        f"name={lib}",
        "version=1.0.0",
        "author=edgeml",
        "maintainer=edgeml",
        f"sentence={_summary(art)}.",
        "paragraph=The int8 model as a C array with its tensor arena size, quantization and "
        "preprocessing constants, labels, and an op resolver with exactly the model's "
        "operators. Needs a TensorFlow Lite Micro library for your board.",
        "category=Data Processing",
        "url=",
        "architectures=*",
        f"includes={lib}.h",
        "",
    ])
    return {"library.properties": props.encode(), f"src/{lib}.h": umbrella.encode(), **files}


def _zephyr(art: ModelArtifact, name: str) -> dict[str, bytes]:
    files = _c_files(art, name)
    src = " ".join(f for f in files if f.endswith((".cc", ".c")))
    sym = f"EDGEML_{name.upper()}"
    module = "\n".join([
        f"# Generated by edgeml: the edgeml_{name} module.",
        f"name: edgeml_{name}",
        "build:",
        "  cmake: .",
        "  kconfig: Kconfig",
        "",
    ])
    cmake = "\n".join([
        f"# Generated by edgeml: {_summary(art)}.",
        f"if(CONFIG_{sym})",
        f"  zephyr_library_named(edgeml_{name})",
        f"  zephyr_library_sources({src})",
        "  zephyr_include_directories(.)",
        "endif()",
        "",
    ])
    s = symbols(name)
    r = resolver_symbols(name)
    kconfig = "\n".join([
        f"# Generated by edgeml: the edgeml_{name} module.",
        f"config {sym}",
        f'\tbool "edgeml model {name}"',
        "\thelp",
        f"\t  The int8 model exported by edgeml: {s['array']}, {s['arena']},",
        f"\t  {s['quantize']} and {r['register']}. Use it with the TensorFlow Lite Micro",
        "\t  module (CONFIG_TENSORFLOW_LITE_MICRO=y) and C++ enabled.",
        "",
    ])
    return {"zephyr/module.yml": module.encode(), "CMakeLists.txt": cmake.encode(),
            "Kconfig": kconfig.encode(), **files}


def render_files(art: ModelArtifact, fmt: str, *, name: str = "model") -> tuple[str | None,
                                                                                dict[str, bytes]]:
    """``(package folder or None, {relative path: bytes})`` for one format."""
    c_identifier(name)
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}",
                          hint=f"use --format {', '.join(FORMATS)}")
    if fmt == "tflite":
        return None, {f"{name}.tflite": art.model}
    if fmt == "c":
        return None, _c_files(art, name)
    package = f"edgeml_{name}"
    if fmt == "esp-idf":
        return package, _esp_idf(art, name)
    if fmt == "arduino":
        return package, _arduino(art, name)
    return package, _zephyr(art, name)


# ----------------------------------------------------------------------------- writing
def export_model(art: ModelArtifact, *, fmt: str, out: str | Path, name: str = "model",
                 force: bool = False) -> ExportResult:
    """Write ``art`` in format ``fmt`` under ``out`` (atomically; no overwrite unless ``force``)."""
    package, files = render_files(art, fmt, name=name)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a folder", hint="pass a folder for --out")
    root = out / package if package else out
    if root.exists() and not root.is_dir():
        raise ExportError(f"{root} exists and is not a folder",
                          hint="remove it or choose another --out / --name")
    existing = [root / rel for rel in files if (root / rel).exists() or (root / rel).is_symlink()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ExportError(f"{existing[0]} already exists{more}",
                          hint="pass --force to overwrite it, or choose another --out / --name")
    for rel in files:  # a file where a folder must go cannot be fixed by --force
        for parent in (root / rel).parents:
            if parent == root.parent:
                break
            if parent.exists() and not parent.is_dir():
                raise ExportError(f"{parent} exists and is not a folder",
                                  hint="remove it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".edgeml-export-", dir=out))
    try:
        for rel, data in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if package and not root.exists():
            os.rename(tmp, root)  # the whole package appears at once
        else:
            for rel in files:
                dest = root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / rel, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(format=fmt, root=root, files=tuple(root / rel for rel in files))


def write_c_files(info: CModelInfo, ops: tuple[str, ...] | list[str], out_dir: str | Path, *,
                  name: str = "model") -> dict[str, Path]:
    """Write ``model_data.cc/.h`` and ``op_resolver.h`` into a folder edgeml owns (a run
    directory): each file atomically, overwriting the previous run's copies."""
    from .._io import atomic_write

    names = c_file_names(name)
    out_dir = Path(out_dir)
    return {
        names["header"]: atomic_write(out_dir / names["header"], render_header(info, name=name)),
        names["source"]: atomic_write(out_dir / names["source"],
                                      render_source(info, name=name, header=names["header"])),
        names["resolver"]: atomic_write(out_dir / names["resolver"],
                                        render_op_resolver(ops, name=name)),
    }
