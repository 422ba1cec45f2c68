"""The package's layout: the import rules each subpackage states, no circle, one meaning per name.

The rules are read from the source with ``ast`` (every ``import``, at any depth, under
``TYPE_CHECKING`` too, and ``importlib.import_module("reference_rnn...")`` with a literal name),
so they hold for code that has not run. The planted-import tests show that each rule can fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reference_rnn"

#: Each subsystem, and what it may import of the package besides itself: subsystems, or single
#: modules (``checker.battery``). Top-level modules are their own subsystem, by stem.
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "layers": {"core"},
    "oracles": {"core"},
    "training": {"core", "layers"},
    "pages": {"core"},
    "checker": {"core", "layers", "pages"},
    "verify": {"core", "layers", "oracles", "training", "pages"},
    # the cases it writes, not the checker's runner or worker
    "export": {"core", "layers", "checker.battery"},
    "testing": {"core", "checker"},
    "cli": {"verify", "checker", "export", "__init__"},
    # the public front doors the README shows (the old import paths among them)
    "__init__": {"core", "layers"},
    "__main__": {"cli"},
    "testing_strategies": {"testing"},
    "compare": {"core"},
    "optim": {"training"},
    "initializers": {"training"},
    "models": {"training"},
}
FRONT_DOORS = {
    "__init__",
    "__main__",
    "testing_strategies",
    "compare",
    "optim",
    "initializers",
    "models",
}
#: Optional frameworks: imported on demand through ``reference_rnn.core.optional``, which says
#: which extra to install, and never by name.
FRAMEWORKS = {"torch", "jax", "jaxlib", "keras", "onnx", "onnxruntime", "mpmath", "matplotlib"}

#: Module stems that several subpackages use for the same job.
SHARED_STEMS = {
    "__init__": "a package",
    "command": "a subsystem's subcommand: add_arguments(parser) and command(args)",
    "html": "a subsystem's report as one HTML page",
    "gru": "a cell: its math in core (core.gru), torch's module in layers (layers.gru)",
    # the public paths the README shows, kept as re-exports of the module of the same job
    "optim": "reference_rnn.optim re-exports reference_rnn.training.optim",
    "initializers": "reference_rnn.initializers re-exports reference_rnn.training.initializers",
    "models": "reference_rnn.models re-exports reference_rnn.training.models",
}

#: One concept per module, grouped as one reader reads it, not split to fit a length: a module
#: longer than one sitting's reading, or a function longer than a screen, says in its first lines
#: why it is one idea (after the marker) instead. The other side of the same rule: a module that
#: takes another module's private name is half of a concept split in two.
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
LONG_ON_PURPOSE = "Long on purpose:"


def _modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module under ``root`` (a package folder)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, list[str], int]]:
    """Every import in ``tree``: the absolute module, the names taken from it, and the line.

    ``import a.b`` and ``import_module("a.b")`` take no names.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base, [alias.name for alias in node.names], node.lineno
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, [], node.lineno


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """module -> {what it imports: the line}, for every module of the package at ``root``.

    What it imports: modules of the package, and third-party packages by their top-level name.
    ``from pkg import mod`` is an arrow to ``pkg.mod``; to ``pkg`` itself only where a name
    defined in ``pkg/__init__.py`` is taken.
    """
    modules = _modules(root)
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: dict[str, int] = {}
        for base, names, line in _imports(tree, module, path.name == "__init__.py"):
            if base.partition(".")[0] != root.name:
                edges.setdefault(base.partition(".")[0], line)
                continue
            submodules = [f"{base}.{name}" for name in names if f"{base}.{name}" in modules]
            targets = submodules + [base] * (len(submodules) < len(names) or not names)
            for target in targets:
                if target != module:
                    edges.setdefault(target, line)
        graph[module] = edges
    return graph


def _subsystem(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def rule_violations(root: Path) -> list[str]:
    """Every import that breaks a subsystem's rule: ``"module:line imports name (why)"``."""
    modules = _modules(root)
    found = []
    for module, edges in import_graph(root).items():
        own = _subsystem(module)
        for name, line in edges.items():
            where = f"{module}:{line} imports {name}"
            if name in modules:
                other = _subsystem(name)
                allowed = MAY_IMPORT[own]
                if other != own and other not in allowed and name.partition(".")[2] not in allowed:
                    found.append(f"{where} ({own} may import {sorted(MAY_IMPORT[own])})")
            elif name in FRAMEWORKS:
                found.append(f"{where} (a framework: import it with reference_rnn.core.optional)")
    return found


def private_takes(root: Path) -> list[str]:
    """Every ``from module import _name`` of one package module from another: ``"module:line _name"``."""
    modules = _modules(root)
    found = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for base, names, line in _imports(tree, module, path.name == "__init__.py"):
            for name in names:
                private = name.startswith("_") and not name.startswith("__")
                if base in modules and private and f"{base}.{name}" not in modules:
                    found.append(f"{module}:{line} takes {base}.{name}")
    return found


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Every import circle among the package's modules (each once, from its smallest module)."""
    found: list[list[str]] = []

    def visit(path: list[str]) -> None:
        for nxt in graph[path[-1]]:
            if nxt == path[0]:
                found.append(path)
            elif nxt in graph and nxt not in path and nxt > path[0]:
                visit([*path, nxt])

    for start in sorted(graph):
        visit([start])
    return found


def _long(path: Path) -> Iterator[str]:
    """Modules and functions over the limits that do not say why."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    head = "\n".join(lines[:12])
    if len(lines) > MAX_MODULE_LINES and LONG_ON_PURPOSE not in head:
        yield f"{path.name}: {len(lines)} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            top = "\n".join(lines[node.lineno - 1 : node.lineno + 6])
            if length > MAX_FUNCTION_LINES and LONG_ON_PURPOSE not in top:
                yield f"{path.name}:{node.lineno} {node.name}: {length} lines"


# -- the package as it is ------------------------------------------------------------------------


def test_every_import_keeps_its_subsystems_rule() -> None:
    assert rule_violations(PACKAGE) == []


def test_there_is_no_import_circle() -> None:
    assert circles(import_graph(PACKAGE)) == []


def test_every_subpackage_says_what_it_is_for_and_what_it_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, init
        assert "May import" in doc, f"{init}: its docstring does not say what it may import"


def test_the_architecture_page_states_the_rules_held_here() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| [^\n]* \| ([^|\n]+) \|$", page, re.MULTILINE)
    stated = {
        name: set() if may == "nothing of the package" else set(may.replace("`", "").split(", "))
        for name, may in rows
    }
    assert stated == {name: MAY_IMPORT[name] for name in stated}
    assert set(MAY_IMPORT) - set(stated) <= FRONT_DOORS


def test_the_architecture_pages_recipes_name_files_that_exist() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = []
    for cell in re.findall(r"^\| ([^|\n]*`[^|\n]*) \| [^\n]*\|$", page, re.MULTILINE):
        if "(new)" not in cell:
            named += re.findall(r"`([\w/]+\.(?:py|md))`", cell)
    assert {"core/config.py", "layers/onnx_export.py", "checker/apis/__init__.py"} <= set(named)
    for name in named:
        where = [PACKAGE / name, PACKAGE.parent / name, PACKAGE / "oracles" / name]
        assert any(path.exists() for path in where), name


def test_no_module_takes_another_modules_private_name() -> None:
    assert private_takes(PACKAGE) == []


def test_no_two_classes_share_a_name() -> None:
    seen: dict[str, str] = {}
    for module, path in _modules(PACKAGE).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                assert node.name not in seen, f"{node.name}: in {seen[node.name]} and {module}"
                seen[node.name] = module


def test_no_two_modules_share_a_stem_with_different_jobs() -> None:
    stems: dict[str, list[str]] = {}
    for module in _modules(PACKAGE):
        stems.setdefault(module.rpartition(".")[2], []).append(module)
    shared = {stem for stem, where in stems.items() if len(where) > 1} - {"reference_rnn"}
    assert shared <= set(SHARED_STEMS), {stem: stems[stem] for stem in shared - set(SHARED_STEMS)}


def test_no_module_or_function_is_long_without_saying_why() -> None:
    assert [item for path in sorted(PACKAGE.rglob("*.py")) for item in _long(path)] == []


# -- the rules can fail ----------------------------------------------------------------------------


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of the package with ``files`` (relative path -> source) added or replaced."""
    root = tmp_path / "reference_rnn"
    for path in PACKAGE.rglob("*.py"):
        target = root / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    for relative, source in files.items():
        (root / relative).write_text(source, encoding="utf-8")
    return root


def test_a_planted_import_breaks_each_rule(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "core/planted.py": "import torch\nfrom reference_rnn.layers.rnn import RNN\n",
            "layers/planted.py": "from reference_rnn.oracles import torch\n",
            "oracles/planted.py": "from reference_rnn.layers import rnn\n",
            "checker/planted.py": (
                "import importlib\nimportlib.import_module('reference_rnn.oracles.jax')\n"
            ),
            "training/planted.py": "def f():\n    from reference_rnn.verify import plan\n",
        },
    )
    assert sorted(set(rule_violations(root)) - set(rule_violations(PACKAGE))) == [
        (
            "reference_rnn.checker.planted:2 imports reference_rnn.oracles.jax "
            "(checker may import ['core', 'layers', 'pages'])"
        ),
        "reference_rnn.core.planted:1 imports torch (a framework: import it with reference_rnn.core.optional)",
        "reference_rnn.core.planted:2 imports reference_rnn.layers.rnn (core may import [])",
        (
            "reference_rnn.layers.planted:1 imports reference_rnn.oracles.torch "
            "(layers may import ['core'])"
        ),
        (
            "reference_rnn.oracles.planted:1 imports reference_rnn.layers.rnn "
            "(oracles may import ['core'])"
        ),
        (
            "reference_rnn.training.planted:2 imports reference_rnn.verify.plan "
            "(training may import ['core', 'layers'])"
        ),
    ]


def test_a_planted_circle_is_found(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "core/circle_a.py": "from reference_rnn.core import circle_b\n",
            "core/circle_b.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from reference_rnn.core.circle_a import x\n",
        },
    )
    planted = [c for c in circles(import_graph(root)) if c not in circles(import_graph(PACKAGE))]
    assert planted == [["reference_rnn.core.circle_a", "reference_rnn.core.circle_b"]]


def test_a_planted_private_take_is_found(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {"core/planted.py": "from reference_rnn.core.validation import _private, as_array\n"},
    )
    assert private_takes(root) == [
        "reference_rnn.core.planted:1 takes reference_rnn.core.validation._private"
    ]


def test_a_planted_long_function_is_found(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    path = tmp_path / "long.py"
    path.write_text(f"def f():\n{body}\n\ndef g():\n    # {LONG_ON_PURPOSE} a test\n{body}")
    assert list(_long(path)) == [f"long.py:1 f: {MAX_FUNCTION_LINES + 1} lines"]
