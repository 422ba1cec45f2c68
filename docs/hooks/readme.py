"""mkdocs hook: ``{{ readme("Heading") }}`` in a page becomes that section of README.md.

Only the front page uses it: the README's "Quick start" and "A tour" are the site's too, and the
README stays their one source (CI runs the Quick start's commands as written there). Every other
subject is its own page under docs/, which the README links to. A missing section stops the
build. The files of ``examples/`` are published beside the pages, so that the links to them (in
the pages and in the tour) work on the site as they do in the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PLACEHOLDER = re.compile(r'\{\{ readme\("([^"]+)"\) \}\}')
# The README links absolutely (PyPI shows it away from the repository); on the site, the pages
# and images of docs/ and the files of examples/ are local, so the links become relative.
REPOSITORY_LINK = re.compile(
    r"\]\(https://(?:github\.com/reference-rnn/reference-rnn/blob|"
    r"raw\.githubusercontent\.com/reference-rnn/reference-rnn)/main/(docs/|examples/)"
)


def section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of ``text``, up to the next ``## `` heading."""
    match = re.search(
        rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL
    )
    if match is None:
        msg = f"README.md has no section '## {heading}'"
        raise ValueError(msg)
    body = REPOSITORY_LINK.sub(lambda m: "](" + m.group(1), match.group(1).strip())
    # the README's paths start at the repository; a page's, at docs/
    return body.replace("](docs/", "](") + "\n"


def on_page_markdown(markdown: str, **_: Any) -> str:
    text = README.read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda m: section(text, m.group(1)), markdown)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for path in sorted((ROOT / "examples").iterdir()):
        if path.is_file():
            files.append(
                File(
                    f"examples/{path.name}",
                    src_dir=str(ROOT),
                    dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls,
                )
            )
    return files
