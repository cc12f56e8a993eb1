"""Every import inside edgeml points down the layers of the README's architecture
section, and no module imports back into a module that imports it.

The imports are read from the source (ast), including imports inside functions
and under ``TYPE_CHECKING``: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "edgeml"

#: bottom to top; a module may import from its own layer's package and from lower layers.
#: Packages that share a layer (search, compress) must not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("edgeml.errors",),
    ("edgeml._io", "edgeml._tf"),
    ("edgeml.records",),
    ("edgeml.targets",),
    ("edgeml.data",),
    ("edgeml.features",),
    ("edgeml.tflite",),
    ("edgeml.estimate",),
    ("edgeml.search", "edgeml.compress", "edgeml.classical"),
    ("edgeml.export",),
    ("edgeml.pipeline",),
    ("edgeml.hil", "edgeml.api"),
    ("edgeml.cli",),
    ("edgeml.__main__",),  # `python -m edgeml`
)
#: what ``import edgeml`` itself loads (the rest of its public API is loaded lazily)
ROOT_EAGER_LAYERS = 3


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The edgeml module ``name`` is, or the package/module it lives in."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported edgeml module, line, at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    out: list[tuple[str, int, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from pkg import name` pkg
            names = [f"{src}.{a.name}" if f"{src}.{a.name}" in modules else src
                     for a in node.names]
        else:
            continue
        for name in names:
            if name == "edgeml" or name.startswith("edgeml."):
                target = _resolve(name, modules)
                if target and target != module:
                    out.append((target, node.lineno, id(node) in top_level))
    return out


def _layer(module: str) -> tuple[int, str] | None:
    """(layer index, the layer entry ``module`` belongs to)."""
    for i, entries in enumerate(LAYERS):
        for entry in entries:
            if module == entry or module.startswith(entry + "."):
                return i, entry
    return None


def _graph() -> dict[str, list[tuple[str, int, bool]]]:
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def upward_imports(graph: dict[str, list[tuple[str, int, bool]]]) -> list[str]:
    bad = []
    for module, imports in sorted(graph.items()):
        if module == "edgeml":  # the package's lazy public API may reach any stage
            for target, line, eager in imports:
                layer = _layer(target)
                if eager and (layer is None or layer[0] > ROOT_EAGER_LAYERS):
                    bad.append(f"edgeml/__init__.py:{line}: `import edgeml` loads {target}")
            continue
        here = _layer(module)
        for target, line, _ in imports:
            if target == "edgeml":  # e.g. __version__; `import edgeml` loads the bottom only
                continue
            there = _layer(target)
            if here is None or there is None:
                continue  # reported by test_every_module_has_a_layer
            if there[0] > here[0] or (there[0] == here[0] and there[1] != here[1]):
                bad.append(f"{module} (layer {here[1]}) imports {target} (layer {there[1]}) "
                           f"at line {line}")
    return bad


def circles(graph: dict[str, list[tuple[str, int, bool]]]) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w, _, _ in graph.get(v, []):
            if w == "edgeml":
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    missing = [m for m in _modules() if m != "edgeml" and _layer(m) is None]
    assert not missing, f"place these modules in LAYERS (and the README): {missing}"


def test_imports_point_down_the_layers():
    bad = upward_imports(_graph())
    assert not bad, "imports that point up or sideways:\n" + "\n".join(bad)


def test_no_circle_between_modules():
    found = circles(_graph())
    assert not found, "modules that import each other: " + "; ".join(" <-> ".join(g) for g in found)


def test_the_checks_see_an_upward_import_and_a_circle():
    graph = {"edgeml.estimate.zoo": [("edgeml.compress.chain", 3, False)],
             "edgeml.compress.chain": [("edgeml.estimate.zoo", 5, True)],
             "edgeml.search.tuner": [("edgeml.compress", 7, True)]}
    bad = upward_imports(graph)
    assert any(b.startswith("edgeml.estimate.zoo (layer edgeml.estimate) imports "
                            "edgeml.compress.chain") for b in bad)
    assert any(b.startswith("edgeml.search.tuner") for b in bad)  # sideways: peers
    assert circles(graph) == [["edgeml.compress.chain", "edgeml.estimate.zoo"]]


@pytest.mark.parametrize("source, expected", [
    ("def f():\n    from ..compress import chain\n", "edgeml.compress.chain"),
    ("from . import zoo\n", "edgeml.estimate.zoo"),
    ("import edgeml.search.tuner as t\n", "edgeml.search.tuner"),
    ("from ..estimate.zoo import to_int8\n", "edgeml.estimate.zoo"),
])
def test_imports_are_read_inside_functions_and_relative(tmp_path, source, expected):
    path = tmp_path / "prior.py"
    path.write_text(source)
    modules = _modules()
    found = [t for t, _, _ in _imports("edgeml.estimate.prior", path, modules)]
    assert found == [expected]


def test_readme_lists_the_layers_bottom_up():
    text = (ROOT.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    line = next(ln for ln in section.splitlines() if ln.lower().startswith("layers, bottom to top:"))
    named = [part.strip(" `.") for part in line.split(":", 1)[1].split("->")]
    expected = [", ".join(e.removeprefix("edgeml.") for e in entries)
                for entries in LAYERS if entries != ("edgeml.__main__",)]
    assert named == expected
