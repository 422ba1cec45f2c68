"""Optional frameworks: one helper imports them, and its advice names an extra that brings them."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from reference_rnn.core.optional import require

ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_framework_names_who_needs_it_and_the_extra():
    with pytest.raises(ImportError) as raised:
        require("absent_framework.sub", extra="oracle-absent", purpose="the absent oracle")
    assert str(raised.value) == (
        'the absent oracle needs absent_framework: pip install "reference-rnn[oracle-absent]" '
        "(No module named 'absent_framework')"
    )
    assert raised.value.name == "absent_framework.sub"


def test_an_installed_module_is_returned():
    assert require("json", extra="none", purpose="a test").dumps([1]) == "[1]"


def _requirements() -> list[tuple[str, str, str]]:
    """Every ``require(module, extra=..., purpose=...)`` in the package: module, extra, where."""
    found = []
    for path in sorted((ROOT / "reference_rnn").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require":
                module, extra = node.args[0], {k.arg: k.value for k in node.keywords}["extra"]
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                assert isinstance(module, ast.Constant), f"{where}: name the module"
                assert isinstance(extra, ast.Constant), f"{where}: name the extra"
                found.append((module.value, extra.value, where))
    return found


def test_every_extra_named_exists_and_brings_the_framework():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    requirements = _requirements()
    assert {module.partition(".")[0] for module, _, _ in requirements} >= {
        "torch",
        "jax",
        "keras",
        "onnx",
        "onnxruntime",
        "mpmath",
    }
    for module, extra, where in requirements:
        assert extra in extras, where
        package = module.partition(".")[0]
        assert any(re.match(rf"{package}\b", spec) for spec in extras[extra]), where
