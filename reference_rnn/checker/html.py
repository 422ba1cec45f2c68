"""``python -m reference_rnn check TARGET --api API --html PATH``: the report as one HTML page.

Every check with its status, the mistakes found, and a plot of each failing value's error: per
time step for the states and the input gradient (the first step that goes wrong is visible), per
entry for a value without a time axis (a weight gradient, ``dh0``). The plots need matplotlib (the
``[report]`` extra); without it the page is written without them and says how to get them.
"""

from __future__ import annotations

from types import ModuleType

from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.battery import Case, expected_value
from reference_rnn.checker.diagnosis import mistake_line
from reference_rnn.checker.evidence import STEP_KEYS, time_step_errors
from reference_rnn.checker.runner import Report
from reference_rnn.core.measure import TOLERANCE, entry_errors, first_step_over
from reference_rnn.pages import CSS, ERROR_FLOOR, escape, number, require_matplotlib, svg

#: The most panels in a row of the plots: 3 of 4 inches fill the page's 70em at about 0.9 of
#: their size, so that a 9-point tick label stays readable (tests/test_browser.py measures it).
PER_ROW = 3


def value_errors(output: Output, case: Case) -> list[float] | None:
    """``output``'s error per time step (``h``, ``dx``) or per entry in C order (the others).

    Scaled by the reference value's largest magnitude (:mod:`reference_rnn.core.measure`). None
    for a value with a problem (no value, a wrong shape, NaN): only what was compared is drawn.
    """
    if output.problem is not None or output.value is None:
        return None
    if output.key in STEP_KEYS:
        steps = time_step_errors(output, case)
        return None if steps is None else steps.tolist()
    expected = expected_value(case.expected, output.key)
    if expected.shape != output.value.shape:
        return None
    entries: list[float] = entry_errors(output.value, expected).tolist()
    return entries


def plot_errors(
    plt: ModuleType, errors: dict[str, list[tuple[list[float], int]]], tolerance: float
) -> str:
    """A panel per value (h, dx, dWh, ...), a line per case: ``errors`` maps each value to its
    checks' errors and the first step or entry past ``tolerance``. No panel is empty."""
    panels = {value: lines for value, lines in errors.items() if lines}
    # at most PER_ROW panels a row: the page scales a wider figure down, its labels with it
    columns = min(len(panels), PER_ROW)
    rows = -(-len(panels) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(4.0 * columns, 3.2 * rows), squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(panels) :]:
        ax.remove()  # the last row's empty places: no empty panel
    for ax, (value, lines) in zip(axes, sorted(panels.items()), strict=False):
        for errors_of_case, first in lines:
            floored = [max(e, ERROR_FLOOR) for e in errors_of_case]
            ax.plot(floored, "-", color="#c53030", linewidth=1)
            ax.plot(first, floored[first], "x", color="#c53030", markersize=7)
        ax.axhline(tolerance, color="black", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        # few ticks, each label apart: a log axis over many decades labels every one otherwise
        ax.yaxis.set_major_locator(plt.LogLocator(numticks=5))
        ax.xaxis.set_major_locator(plt.MaxNLocator(nbins=6, integer=True))
        ax.tick_params(labelsize=9)
        ax.set_title(value)
        ax.set_xlabel("time step t" if value in STEP_KEYS else "entry (C order)")
        ax.set_ylabel("|yours - reference| / max|reference|", fontsize=8)
        ax.grid(alpha=0.3)
    figure.tight_layout()
    return svg(plt, figure)


def _figure(errors: dict[str, list[tuple[list[float], int]]], tolerance: float) -> str:
    """The plots' section: the figure, or a note that there is nothing to draw or no matplotlib."""
    if not errors:
        return (
            '<p class="note" id="no-plot">No failing value could be compared: nothing to plot.</p>'
        )
    try:
        plt = require_matplotlib()
    except ImportError as exc:  # the page without its plots, and how to get them
        return f'<p class="note" id="no-plot">No plots: {escape(str(exc))}</p>'
    return f'<figure id="plot-errors">{plot_errors(plt, errors, tolerance)}</figure>'


def render_check(report: Report, errors: dict[str, list[float]]) -> str:
    """The page for a ``check`` report; ``errors`` maps check names to :func:`value_errors`."""
    tolerance = TOLERANCE[report.dtype]
    # each failing value's errors past the tolerance, and where they first are (a check failed
    # only by a problem beside its values, such as its dtype, has none to draw)
    crossing = {name: (line, first_step_over(line, tolerance)) for name, line in errors.items()}
    failing: dict[str, list[tuple[list[float], int]]] = {}  # by value: its failing checks' lines
    for c in report.checks:
        if not c.passed and c.name in crossing and (first := crossing[c.name][1]) is not None:
            failing.setdefault(c.value, []).append((crossing[c.name][0], first))
    rows = []
    for i, check in enumerate(report.checks, 1):
        status = "pass" if check.passed else "FAIL"
        timed = check.name in crossing and check.value in STEP_KEYS
        first = crossing[check.name][1] if timed else None
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
<h2>Where the failing values are wrong</h2>
<p>A panel per failing value, a line per case: the states <code>h</code> and the input gradient
<code>dx</code> step by step, the other values (weight gradients, <code>dh0</code>) entry by entry,
each scaled by the reference's largest magnitude, against the tolerance (dashed); the cross marks the first step or
entry past it.</p>
{_figure(failing, tolerance)}
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


__all__ = ["render_check", "value_errors"]
