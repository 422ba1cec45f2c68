"""``python -m reference_rnn check TARGET --api API --html PATH``: the report as one HTML page.

Every check with its status, the mistakes found, and the error of the states and the input
gradient per time step, so that the first step that goes wrong is visible.
"""

from __future__ import annotations

from types import ModuleType

from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.battery import Case
from reference_rnn.checker.diagnosis import mistake_line
from reference_rnn.checker.evidence import time_step_errors
from reference_rnn.checker.runner import Report
from reference_rnn.core.measure import TOLERANCE, first_step_over
from reference_rnn.pages import CSS, ERROR_FLOOR, escape, number, require_matplotlib, svg


def step_errors(output: Output, case: Case) -> list[float] | None:
    """The error of each time step of ``h`` or ``dx`` (:func:`.evidence.time_step_errors`).

    None also for a value with a problem (no value, a wrong shape, NaN): only what was compared
    is drawn.
    """
    errors = None if output.problem is not None else time_step_errors(output, case)
    return None if errors is None else errors.tolist()


def plot_steps(plt: ModuleType, steps: dict[str, list[float]], tolerance: float) -> str:
    """The error per time step: a panel per value (h, dx, ...), a line per case."""
    panels: dict[str, list[list[float]]] = {}  # the value's name (after the case's) -> lines
    for name, errors in steps.items():
        panels.setdefault(name.rpartition("/")[2], []).append(errors)
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (value, lines) in zip(axes[0], sorted(panels.items()), strict=True):
        for errors in lines:
            first = first_step_over(errors, tolerance)
            color = "#c53030" if first is not None else "#a0aec0"
            ax.plot([max(e, ERROR_FLOOR) for e in errors], "-", color=color, linewidth=1)
            if first is not None:
                ax.plot(first, max(errors[first], ERROR_FLOOR), "x", color=color, markersize=7)
        ax.axhline(tolerance, color="black", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.set_title(value)
        ax.set_xlabel("time step t")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.set_ylabel("max|yours_t - reference_t| / max|reference|")
        ax.grid(alpha=0.3)
    return svg(plt, figure)


def render_check(report: Report, steps: dict[str, list[float]]) -> str:
    """The page for a ``check`` report; ``steps`` maps check names to their errors per step."""
    plt = require_matplotlib()
    tolerance = TOLERANCE[report.dtype]
    rows = []
    for i, check in enumerate(report.checks, 1):
        status = "pass" if check.passed else "FAIL"
        first = first_step_over(steps[check.name], tolerance) if check.name in steps else None
        rows.append(
            f'<tr class="check" data-status="{status}"><td class="num">{i}</td>'
            f"<td>{escape(check.name)}</td>"
            f'<td class="num">{number(check.max_error, ".1e")}</td>'
            f'<td class="num">{check.tolerance:.0e}</td><td class="{status}">{status}</td>'
            f'<td class="num">{"&ndash;" if first is None else first}</td>'
            f"<td>{escape(check.detail or '')}</td></tr>"
        )
    diagnoses = "".join(
        f"<li><b>{escape(mistake_line(d.mistake))}</b><br>{escape(d.evidence_line())}</li>"
        for d in report.diagnoses
    )
    steps_html = (
        f'<figure id="plot-steps">{plot_steps(plt, steps, tolerance)}</figure>'
        if steps
        else '<p class="note">No value with a time axis could be compared.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reference_rnn check: {escape(report.target)}</title><style>{CSS}</style></head>
<body>
<h1>{escape(report.heading)}</h1>
<p class="verdict {"pass" if report.passed else "FAIL"}" id="summary">{report.verdict} against
reference_rnn (tolerance {tolerance:.0e})</p>
{f'<h2>Mistakes found</h2><ul id="diagnoses">{diagnoses}</ul>' if diagnoses else ""}
{_printed(report.output)}
<h2>Error per time step</h2>
<p>Each line is one case's states <code>h</code> or input gradient <code>dx</code>, step by step,
scaled by the reference's largest magnitude; red lines cross the tolerance (dashed), and the
cross marks the first step that does.</p>
{steps_html}
<h2>Every check</h2>
<table id="checks" data-count="{len(report.checks)}"><tr><th>#</th><th>check</th>
<th>max error</th><th>tolerance</th><th>status</th><th>first bad step</th><th>detail</th></tr>
{"".join(rows)}</table>
</body></html>
"""


def _printed(lines: list[str]) -> str:
    """What the checked code printed (the first lines, as the worker captured them), if anything."""
    if not lines:
        return ""
    text = escape("\n".join(lines))
    return f'<h2>Printed by the checked code</h2><pre id="output">{text}</pre>'


__all__ = ["render_check", "step_errors"]
