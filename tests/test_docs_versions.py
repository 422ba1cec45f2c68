"""The versions the pages name are the ones the docs session installs (docs/hooks/versions.py).

The site's build fails on a page that names another version of an oracle's framework than the
build has; these tests hold the pages to the pins without building, so a stale page fails in
every test session, and show the rule catches a planted stale version.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("versions_hook", ROOT / "docs/hooks/versions.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = _hook()


def _pinned() -> dict[str, str]:
    """What the docs session installs: the measured groups' pins and the noxfile's torch."""
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    pins = [
        requirement
        for name, group in groups.items()
        if name.startswith("oracle-") and name.endswith("-measured")
        for requirement in group
    ]
    torch = re.search(r'^TORCH = "(.+)"$', (ROOT / "noxfile.py").read_text(), re.MULTILINE)
    assert torch is not None
    versions = {}
    for requirement in [*pins, torch.group(1)]:
        name, version = requirement.split("==")
        versions[name] = version.removesuffix(".*")
    return versions


PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def test_every_oracle_framework_the_pages_name_is_pinned():
    # jaxlib goes with jax; flax is the GRU layout test's, no oracle's
    assert set(_pinned()) == HOOK.HELD_IN_TEXT | {"jaxlib", "flax"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_a_page_names_only_the_pinned_versions(page):
    assert HOOK.mismatches(page.read_text(encoding="utf-8"), _pinned()) == []


def test_a_stale_version_in_a_page_is_caught():
    text = (ROOT / "docs/verification.md").read_text(encoding="utf-8")
    assert "| torch | 2.13.0 |" in text
    assert "mpmath 1.4.1" in text
    stale = text.replace("mpmath 1.4.1", "mpmath 1.3.0").replace(
        "| torch | 2.13.0", "| torch | 2.12.0"
    )
    assert HOOK.mismatches(stale, _pinned()) == [
        "torch | 2.12.0 (this build has 2.13.0)",
        "mpmath 1.3.0 (this build has 1.4.1)",
    ]
    # a shorter version agrees where it is a prefix, and NumPy's versions are not held
    assert HOOK.mismatches("torch 2.13 on NumPy 1.23.5, JAX 0.10", _pinned()) == []
    assert HOOK.mismatches("JAX 0.1", _pinned()) == ["JAX 0.1 (this build has 0.10.2)"]


def test_the_footer_names_each_installed_framework_once():
    line = HOOK.footer({"numpy": "2.4.6", "torch": "2.13.0", "mpmath": "1.4.1"})
    built = "The report page and this site were built with"
    assert line == f"{built} NumPy 2.4.6, torch 2.13.0, mpmath 1.4.1."
