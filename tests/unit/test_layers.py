"""Imports go one way: no import circle among the modules of app/ and server/, and server/'s packages
(http, config, store, auth, live, uploads, ...) form layers, none importing one that imports it back.

Why a test: a circle is where two modules are one in disguise, and a type-only import (under
`if TYPE_CHECKING:`) still is one, so every import counts, wherever it sits (a function body, a
TYPE_CHECKING block). Where two objects meet, the lower layer names what it needs as a `Protocol`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "server")


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of app/ and server/ (a package is its __init__)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of app/ and server/ that `name` imports, anywhere in its file."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                out.add(target)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in modules else base)   # `from pkg import submodule` needs the submodule
    return {m for m in out if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> str:
    """One closed path through the component, to name in the failure: `a -> b -> a`."""
    members, path = set(component), [component[0]]
    while True:
        step = min(m for m in graph[path[-1]] if m in members)
        if step in path:
            return " -> ".join(path[path.index(step):] + [step])
        path.append(step)


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    found = circles(graph)
    assert not found, "import circles:\n" + "\n".join(a_cycle(graph, c) for c in found)


def test_server_packages_form_layers():
    """server.uploads may import server.store, never the other way round (and so for every pair)."""
    packages: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        if name.startswith("server."):
            top = ".".join(name.split(".")[:2])
            packages.setdefault(top, set()).update(
                ".".join(t.split(".")[:2]) for t in targets if t.startswith("server."))
    graph = {p: {t for t in targets if t != p and t in packages} for p, targets in packages.items()}
    found = circles(graph)
    assert not found, "server packages importing each other:\n" + "\n".join(a_cycle(graph, c) for c in found)


def test_the_checker_finds_a_type_only_circle(tmp_path):
    """The checker itself: an import under `if TYPE_CHECKING:` closes a circle too."""
    (tmp_path / "a.py").write_text("from b import B\n")
    (tmp_path / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import A\n")
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    graph = {name: imported(name, path, modules) for name, path in modules.items()}
    assert circles(graph) == [["a", "b"]]
    assert a_cycle(graph, ["a", "b"]) == "a -> b -> a"


# app/'s layers, lowest first, and the app/ modules and third-party packages each may import (docs/CONTRACT.md).
APP_LAYERS = {
    "app.core": (set(), set()),
    "app.backends": ({"app.core"}, set()),
    "app.render": ({"app.core"}, {"jinja2", "markupsafe"}),
    "app.page": ({"app.core"}, {"jinja2", "markupsafe"}),
    "app.browser": ({"app.core", "app.backends", "app.render"}, {"js", "pyodide", "pyodide_js", "pyscript"}),
}


def third_party(path: Path) -> set[str]:
    """Top-level names of the packages `path` imports that are neither the stdlib nor app/ or server/."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return {name for name in out if name not in sys.stdlib_module_names and name not in PACKAGES}


def test_app_layers_import_only_downwards():
    """app/core is pure stdlib, the adapters build requests and parse answers, only app/browser touches the page."""
    modules, wrong = module_files(), []
    for name, path in modules.items():
        layer = next((top for top in APP_LAYERS if name == top or name.startswith(top + ".")), None)
        if layer is None:
            continue
        own, packages = APP_LAYERS[layer]
        for target in imported(name, path, modules):
            if not target.startswith(layer) and not any(target == t or target.startswith(t + ".") for t in own):
                wrong.append(f"{name} imports {target}")
        wrong += [f"{name} imports {package}" for package in sorted(third_party(path) - packages)]
    assert not wrong, "\n".join(wrong)


def test_the_server_imports_nothing_of_the_browser_shell():
    modules = module_files()
    wrong = [f"{name} imports {target}" for name, path in modules.items() if name.startswith("server")
             for target in imported(name, path, modules) if target.startswith(("app.browser", "app.main"))]
    assert not wrong, "\n".join(wrong)
