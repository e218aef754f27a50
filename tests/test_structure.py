"""Package structure: no import cycle among the package's own modules.

The imports are read from the source (ast), so every import counts, also one
inside a function: an import moved into a function to break a cycle is still
a cycle. An edge goes to the module named (``from keras_spiking.layers import
TimeFold`` -> ``keras_spiking.layers``; ``from . import rules`` ->
``keras_spiking.converters.rules``); the implicit import of a module's parent
packages is not an edge (a package's ``__init__`` importing its submodules is
how packages work).
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: source folder -> the package it is installed as (see setup.cfg)
PACKAGES = {"keras_spiking": "keras_spiking", "converters": "keras_spiking.converters"}


def modules(root=ROOT, packages=PACKAGES):
    """{module name: (path, is_package)} of every module under ``packages``."""
    found = {}
    for folder, package in packages.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join([package] + parts)] = (path, is_package)
    return found


def imports(name, path, is_package, known):
    """The package modules that module ``name`` imports (anywhere in it)."""
    package = name if is_package else name.rpartition(".")[0]
    edges = set()

    def add(target):
        if target in known and target != name:
            edges.add(target)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                add(submodule if submodule in known else base)
    return edges


def import_graph(root=ROOT, packages=PACKAGES):
    known = modules(root, packages)
    return {name: imports(name, path, is_package, known)
            for name, (path, is_package) in known.items()}


def cycles(graph):
    """Every import cycle of ``graph``, one list of modules per strongly
    connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    graph = import_graph()
    assert cycles(graph) == [], "import cycles among the package's modules"


def test_the_graph_sees_relative_absolute_and_function_imports():
    graph = import_graph()
    c = "keras_spiking.converters"
    assert f"{c}.rules" in graph[f"{c}.convert"]  # from . import rules
    assert f"{c}.base" in graph[f"{c}.rules"]  # from .base import ...
    assert graph[f"{c}.base"] == set()  # the rule machinery imports no converter module
    assert "keras_spiking.layer_facts" in graph["keras_spiking.energy.counting"]
    assert f"{c}.convert" in graph[f"{c}"]
    # an import inside a function counts
    assert "keras_spiking.converters" in graph["keras_spiking.demo"]


def test_cycles_are_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n")
    graph = import_graph(tmp_path, {"pkg": "pkg"})
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]
