"""mkdocs hook: every page's footer names the versions this build's report page was made with.

``nox -s docs`` makes ``report.html`` (``verify --html``) in the same environment that builds the
site, so the frameworks installed here are the report's. Each page says them in its footer, the
same line on every page, and a page that names another version of an oracle's framework in its
text (``torch 2.12.0`` where the report ran 2.13.0) stops the build: a number measured on one
version is not shown beside a report made with another. NumPy is named in the footer but not held
in the text, where pages name other NumPy versions on purpose (the oldest supported, or the one an
export was compared on).
"""

from __future__ import annotations

import functools
import re
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the tests read this module's rules without mkdocs installed
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.pages import Page

#: The distributions the report's oracles run on, as the pages spell them.
FRAMEWORKS = {
    "numpy": "NumPy",
    "torch": "torch",
    "jax": "JAX",
    "keras": "Keras",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "mpmath": "mpmath",
}
HELD_IN_TEXT = {name for name in FRAMEWORKS if name != "numpy"}
#: A framework's name, then a version after a space or a table's cell border: ``torch 2.13.0``,
#: ``JAX 0.10``, ``| onnxruntime | 1.32.0 |``.
NAMED = re.compile(
    r"(?<![\w.-])(torch|jax|keras|onnxruntime|onnx|mpmath)(?: +| *\| *)(\d+(?:\.\d+)+)(?![\w.])",
    re.IGNORECASE,
)


@functools.cache
def installed() -> dict[str, str]:
    """Each framework's public version in this environment (``2.13.0+cpu`` is ``2.13.0``)."""
    versions = {}
    for name in FRAMEWORKS:
        try:
            versions[name] = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:
            continue
    return versions


def footer(versions: dict[str, str]) -> str:
    named = ", ".join(f"{FRAMEWORKS[name]} {version}" for name, version in versions.items())
    return f"The report page and this site were built with {named}."


def agree(said: str, have: str) -> bool:
    """One version is the other or a dotted prefix of it: ``2.13`` agrees with ``2.13.0``."""
    return f"{have}.".startswith(f"{said}.") or f"{said}.".startswith(f"{have}.")


def mismatches(markdown: str, versions: dict[str, str]) -> list[str]:
    """The versions of oracles' frameworks a page names that disagree with ``versions``."""
    wrong = []
    for match in NAMED.finditer(markdown):
        name, said = match.group(1).lower(), match.group(2)
        have = versions.get(name)
        if name in HELD_IN_TEXT and have is not None and not agree(said, have):
            wrong.append(f"{match.group(0)} (this build has {have})")
    return wrong


def on_config(config: MkDocsConfig, **_: Any) -> MkDocsConfig:
    config["copyright"] = footer(installed())
    return config


def on_page_markdown(markdown: str, page: Page, **_: Any) -> str:
    from mkdocs.exceptions import PluginError  # noqa: PLC0415 (the tests have no mkdocs)

    wrong = mismatches(markdown, installed())
    if wrong:
        msg = f"{page.file.src_uri} names versions the report was not made with: {', '.join(wrong)}"
        raise PluginError(msg)
    return markdown
