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
