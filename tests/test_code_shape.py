"""The shape of the code in nas/ (issue 23): no import circles, no class defined inside
a function, no function with more than 8 positional parameters or longer than 80 lines.

The import graph is read from the source with `ast`, imports inside functions included:
a lazy import that only hides a circle still counts as one. Its nodes are modules (a package's
`__init__` is one, with its own imports) and its edges direct imports: an import of `nas.a.b` is an edge
to the module `nas.a.b`, as in grimp's graph (the one import-linter checks). Python also runs
`nas/a/__init__.py` first; those import-order edges are not counted (the package façades `nas.networks`,
`nas.diagnostics` and `nas.search` re-export modules that sit above the families).
"""

import ast
import importlib
import pkgutil
from pathlib import Path

import networkx
import pytest

import nas

PACKAGE_ROOT = Path(nas.__file__).parent
MAX_POSITIONAL = 8
MAX_LINES = 80


def _module_files():
    """{dotted module name: path} for every module of nas/."""
    modules = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _module_files()


def _resolve(module, node):
    """The nas modules an import statement in `module` names (submodules included)."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    if isinstance(node, ast.Import):
        bases = [alias.name for alias in node.names]
        names = []
    else:
        if node.level:
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = f"{base}.{node.module}" if node.module else base
        else:
            base = node.module or ""
        bases = [base]
        names = [alias.name for alias in node.names]
    targets = set()
    for base in bases:
        # `import nas.a.b` imports nas, nas.a and nas.a.b
        parts = base.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if prefix in MODULES and (isinstance(node, ast.Import) or end == len(parts)):
                targets.add(prefix)
        for name in names:
            if f"{base}.{name}" in MODULES:
                targets.add(f"{base}.{name}")
    return targets


def import_graph(sources):
    """The directed graph module -> nas module it imports, for {module: source text}."""
    graph = networkx.DiGraph()
    for module, source in sources.items():
        graph.add_node(module)
        for node in ast.walk(ast.parse(source)):  # every import, at any depth
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(module, node):
                    if target != module and not module.startswith(target + "."):
                        # a package's own __init__ is imported before any of its modules
                        graph.add_edge(module, target)
    return graph


def _functions(sources):
    """(module, function node) for every function of {module: source text}."""
    for module, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield module, node


def classes_inside_functions(sources):
    return [f"{module}.{function.name} defines class {node.name}"
            for module, function in _functions(sources)
            for node in ast.walk(function) if isinstance(node, ast.ClassDef)]


def too_many_positional(sources):
    found = []
    for module, function in _functions(sources):
        positional = function.args.posonlyargs + function.args.args
        names = [arg.arg for arg in positional if arg.arg not in ("self", "cls")]
        if len(names) > MAX_POSITIONAL:
            found.append(f"{module}.{function.name}: {len(names)}")
    return found


def too_long(sources):
    found = []
    for module, function in _functions(sources):
        start = min([function.lineno] + [d.lineno for d in function.decorator_list])
        length = function.end_lineno - start + 1
        if length > MAX_LINES:
            found.append(f"{module}.{function.name}: {length} lines")
    return found


NAS_SOURCES = {module: path.read_text() for module, path in MODULES.items()}


def test_every_module_imports():
    for module in MODULES:
        importlib.import_module(module)
    assert {m.name for m in pkgutil.walk_packages(nas.__path__, "nas.")} <= set(MODULES)


def test_the_import_graph_sees_function_level_and_relative_imports():
    lazy = "def f():\n    from ..stepper import integrate\n    from . import trainable\n    import nas.export.card"
    graph = import_graph({"nas.search.run": lazy})
    assert set(graph.successors("nas.search.run")) == {
        "nas.stepper", "nas.search.trainable", "nas.export", "nas.export.card"}
    # a lazy import that closes a circle is a circle
    lazy_circle = import_graph({"nas.stepper": "def f():\n    from .families import registry",
                                "nas.families.registry": "from ..stepper import integrate"})
    assert max(len(c) for c in networkx.strongly_connected_components(lazy_circle)) == 2
    assert import_graph(NAS_SOURCES).number_of_edges() > 100


def test_no_import_circles():
    graph = import_graph(NAS_SOURCES)
    circles = [sorted(component) for component in networkx.strongly_connected_components(graph)
               if len(component) > 1]
    assert not circles, "import circles in nas/:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_no_class_defined_inside_a_function():
    found = classes_inside_functions(NAS_SOURCES)
    assert not found, "\n".join(found)


def test_no_function_takes_more_than_8_positional_parameters():
    found = too_many_positional(NAS_SOURCES)
    assert not found, "\n".join(found)


def test_no_function_is_longer_than_80_lines():
    found = too_long(NAS_SOURCES)
    assert not found, "\n".join(found)


def test_the_rules_find_what_they_look_for():
    # each rule can fail: made-up sources that break it are found, and ones that keep it are not
    nine = {"x": "def f(a, b, c, d, e, f, g, h, i): pass"}
    eight_and_keywords = {"x": "class C:\n    def f(self, a, b, c, d, e, f, g, h, *, i=1): pass"}
    assert too_many_positional(nine) == ["x.f: 9"]
    assert too_many_positional(eight_and_keywords) == []
    assert classes_inside_functions({"x": "def f():\n    class Inner: pass"}) == ["x.f defines class Inner"]
    assert classes_inside_functions(eight_and_keywords) == []
    body = "\n".join(f"    y{i} = {i}" for i in range(80))
    assert too_long({"x": f"def f():\n{body}"}) == ["x.f: 81 lines"]
    assert too_long({"x": "def f():\n    pass"}) == []
