"""The version is stated once: the installed distribution's metadata reads the package's."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import reference_rnn


def test_the_distribution_s_version_is_the_package_s():
    assert importlib.metadata.version("reference-rnn") == reference_rnn.__version__


def test_the_changelog_has_a_section_for_the_version():
    changelog = Path(__file__).resolve().parents[1] / "CHANGELOG.md"
    headings = re.findall(r"^## \[([^\]]+)\]", changelog.read_text(encoding="utf-8"), re.MULTILINE)
    assert reference_rnn.__version__ in headings


PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _project() -> dict:
    import tomllib

    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def test_extras_are_ranges_and_hold_torch_only_where_the_oracle_runs_on_it():
    extras = _project()["project"]["optional-dependencies"]
    for name, requirements in extras.items():
        assert not any("==" in r for r in requirements), name  # exact: the dependency groups
    with_torch = {name for name, rs in extras.items() if any(r.startswith("torch") for r in rs)}
    assert with_torch == {"oracle-torch", "oracle-keras"}  # keras runs on its torch backend


def test_the_metadata_claims_what_is_tested_and_links_off_the_repository():
    project = _project()["project"]
    versions = {c.rpartition(":: ")[2] for c in project["classifiers"] if ":: 3." in c}
    assert versions == {"3.11", "3.12", "3.13"}
    assert set(project["urls"]) == {"Homepage", "Documentation", "Source", "Changelog", "Issues"}
    assert project["entry-points"]["pytest11"] == {"reference_rnn": "reference_rnn.testing.plugin"}
    readme = (PYPROJECT.parent / project["readme"]).read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets
    assert all(t.startswith(("https://", "#")) for t in targets)
