"""What the two HTML pages share (``verify --html``, ``check --html``): plots inline as SVG.

matplotlib (the ``[report]`` extra) is imported on demand; the style sheet, escaping and number
formatting are the pages' own. May import the core only.
"""

from __future__ import annotations

import html
import io
from types import ModuleType
from typing import Any

from reference_rnn.core.optional import require

#: Errors below this (an exact 0 among them) are drawn at it: a log axis has no 0.
ERROR_FLOOR = 1e-17


def require_matplotlib() -> ModuleType:
    """matplotlib's pyplot with the SVG backend, or an ImportError that says how to install it."""
    purpose = "the HTML report's plots"
    require("matplotlib", extra="report", purpose=purpose).use("svg")
    return require("matplotlib.pyplot", extra="report", purpose=purpose)


def svg(plt: ModuleType, figure: Any) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog), text kept as text."""
    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "reference_rnn"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 70em;
  color: #1a202c; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #e2e8f0; padding: 0.2em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #2b6cb0; } .FAIL { color: #c53030; font-weight: bold; }
.known { color: #dd6b20; } .verdict { font-weight: bold; } figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; } .note { color: #4a5568; }
"""


def escape(text: object) -> str:
    return html.escape(str(text))


def number(value: float | None, spec: str) -> str:
    return "&ndash;" if value is None else format(value, spec)


__all__ = ["CSS", "ERROR_FLOOR", "escape", "number", "require_matplotlib", "svg"]
