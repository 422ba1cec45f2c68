"""The verification report as one self-contained HTML page: tables, and plots inline as SVG.

    python -m reference_rnn verify --html report.html

The page needs no network and no script: the per-source summary, every check with its status,
and three plots drawn by matplotlib (the ``[report]`` extra):

- every check's measured error against its tolerance, grouped by source and dtype;
- accuracy against exact arithmetic in units of the dtype's eps, when the report has it;
- float32's error against float64 as the sequence grows and as the recurrent weights grow: why
  the float32 tolerance holds at torch's initialisation, and where the chaotic regime begins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from reference_rnn.pages import CSS, ERROR_FLOOR, escape, number, require_matplotlib, svg
from reference_rnn.verify.drift import Drift
from reference_rnn.verify.rows import Row, Verification
from reference_rnn.verify.text import per_source, summary

#: Errors against exact arithmetic below this many eps (0 among them) are drawn at it.
EPS_FLOOR = 0.01
STATUS_COLORS = {"pass": "#2b6cb0", "FAIL": "#c53030", "known difference": "#dd6b20"}


def _groups(checks: Iterable[Row]) -> dict[tuple[str, str], list[Row]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for check in checks:
        groups.setdefault((check.against, check.dtype), []).append(check)
    return groups


def plot_errors(plt: ModuleType, report: Verification) -> str:
    """Every check's error (a dot) against its tolerance (a bar), one row per source and dtype."""
    groups = _groups(report.checks)
    figure, ax = plt.subplots(figsize=(9, 0.45 * len(groups) + 1.2))
    crashed_at = 10 * max(check.tolerance for check in report.checks)
    for row, checks in enumerate(groups.values()):
        for i, check in enumerate(checks):
            y = row + 0.6 * (i / max(len(checks) - 1, 1) - 0.5)  # spread the dots of a row
            if check.max_error is None:  # it crashed: no error to draw, a cross at the right
                ax.plot(crashed_at, y, "x", color=STATUS_COLORS["FAIL"], markersize=7)
            else:
                x = max(check.max_error, ERROR_FLOOR)
                ax.plot(x, y, "o", color=STATUS_COLORS[check.status], markersize=4, alpha=0.8)
        for tolerance in {check.tolerance for check in checks} - {0.0}:  # 0: not on a log axis
            ax.plot([tolerance] * 2, [row - 0.42, row + 0.42], color="black", linewidth=2)
    ax.set_xscale("log")
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels([f"{s} · {d} ({len(c)})" for (s, d), c in groups.items()])
    ax.set_ylim(len(groups) - 0.5, -0.5)
    ax.set_xlabel("max|ours - theirs| / max|theirs|  (black bar: the tolerance; x: crashed)")
    for status, color in STATUS_COLORS.items():
        ax.plot([], [], "o", color=color, label=status)
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(axis="x", which="major", alpha=0.3)
    return svg(plt, figure)


def plot_accuracy(plt: ModuleType, rows: Sequence[dict[str, Any]]) -> str:
    """Each implementation's error against exact arithmetic in eps: one row per case."""
    names = [name for name in rows[0] if name != "case"]
    figure, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.4))
    for k, (name, marker) in enumerate(zip(names, "os^vD<>", strict=False)):
        y = [i + 0.5 * (k / max(len(names) - 1, 1) - 0.25) for i in range(len(rows))]
        x = [np.nan if row[name] is None else max(row[name], EPS_FLOOR) for row in rows]
        ax.plot(x, y, marker, linestyle="none", markersize=5, label=name)
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([row["case"] for row in rows], fontsize="small")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("float64 error against exact arithmetic, in eps of the values' scale")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    return svg(plt, figure)


def plot_drift(plt: ModuleType, drift: Drift) -> str:
    """float32 against float64: by sequence length (left), by recurrent weight scale (right)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    radius_per_scale = drift.radii[0] / drift.scales[0]  # the radius is linear in the scale
    for scale, errors in drift.by_length.items():
        label = f"Wh x {scale:g} (radius {scale * radius_per_scale:.2f})"
        left.plot(drift.lengths, errors, "o-", markersize=3, label=label)
    left.set_xscale("log")
    left.set_xlabel("sequence length T")
    left.set_title("as T grows")
    left.legend(fontsize="small")
    right.plot(drift.radii, drift.by_scale, "o-", markersize=3, color="#2b6cb0")
    right.axvline(1.0, color="gray", linestyle=":", label="spectral radius 1")
    over = [r for r, e in zip(drift.radii, drift.by_scale, strict=True) if e > drift.tolerance]
    if over:
        right.axvspan(min(over), max(drift.radii), color="#c53030", alpha=0.08)
        right.annotate(
            f"over the tolerance\nfrom radius {min(over):.2f}",
            (min(over), drift.tolerance),
            xytext=(6, 12),
            textcoords="offset points",
            fontsize="small",
        )
    right.set_xscale("log")
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10) if min(drift.radii) <= t <= max(drift.radii)]
    right.set_xticks(ticks, labels=[f"{t:g}" for t in ticks])
    right.xaxis.set_minor_formatter(plt.NullFormatter())  # log minor labels collide here
    right.set_xlabel(f"spectral radius of Wh (T = {drift.scale_length})")
    right.set_title("as the recurrent weights grow")
    right.legend(fontsize="small", loc="upper left")
    for ax in (left, right):
        ax.set_yscale("log")
        ax.axhline(drift.tolerance, color="black", linestyle="--", linewidth=1)
        ax.set_ylabel("float32 error (worst of output and gradients)")
        ax.grid(alpha=0.3)
    return svg(plt, figure)


def _check_row(i: int, check: Row) -> str:
    css = {"pass": "pass", "FAIL": "FAIL", "known difference": "known"}[check.status]
    # a tolerance of 0 (an exact check: the same seed, the same arrays) has no ratio to show
    exact = check.tolerance == 0
    ratio = None if check.max_error is None or exact else check.max_error / check.tolerance
    note = check.error or check.known_difference or ""
    return (
        f'<tr class="check" data-status="{escape(check.status)}"><td class="num">{i}</td>'
        f"<td>{escape(check.name)}</td><td>{escape(check.against)}</td><td>{escape(check.dtype)}</td>"
        f'<td class="num">{number(check.max_error, ".1e")}</td>'
        f'<td class="num">{check.tolerance:.0e}</td><td class="num">{number(ratio, ".2g")}</td>'
        f'<td class="{css}">{escape(check.status)}</td><td>{escape(note)}</td></tr>'
    )


def _accuracy(plt: ModuleType, rows: Sequence[dict[str, Any]]) -> str:
    """The accuracy section's body: a note when the exact oracle did not run."""
    if not rows:
        return (
            '<p class="note" id="accuracy-absent">This report has no comparison with exact '
            "arithmetic (the <code>exact</code> oracle did not run: it needs mpmath).</p>"
        )
    names = [name for name in rows[0] if name != "case"]
    head = "".join(f"<th>{escape(name)}</th>" for name in names)
    body = "".join(
        f"<tr><td>{escape(row['case'])}</td>"
        + "".join(f'<td class="num">{number(row[name], ".2f")}</td>' for name in names)
        + "</tr>"
        for row in rows
    )
    return (
        "<p>The worst of the outputs and every gradient, "
        "<code>max|a &minus; e| / max|e|</code> with <code>e</code> computed exactly and "
        "correctly rounded, divided by float64's eps "
        f"(values below {EPS_FLOOR} eps, an exact match among them, are drawn at {EPS_FLOOR}).</p>"
        f'<figure id="plot-accuracy">{plot_accuracy(plt, rows)}</figure>'
        f'<table id="accuracy"><tr><th>case</th>{head}</tr>{body}</table>'
    )


def render(report: Verification, drift: Drift | None) -> str:
    """The whole page for ``report``; ``drift`` adds the float32 plot (None: a note instead)."""
    plt = require_matplotlib()
    sources = "".join(
        f"<tr><td>{escape(source)}</td><td>{escape(line)}</td></tr>"
        for source, line in per_source(report).items()
    )
    skipped = "".join(
        f"<li><b>{escape(name)}</b>: {escape(reason)}</li>"
        for name, reason in report.skipped.items()
    )
    rows = "".join(_check_row(i, check) for i, check in enumerate(report.checks, 1))
    drift_html = (
        '<p class="note">Not measured for this page.</p>'
        if drift is None
        else (
            f"<p>One tanh layer (N = 4, D = 8, H = 32) in float32 by reference_rnn, against "
            f"{escape(drift.baseline)} on exactly the same values. Dashed: the float32 tolerance "
            f"({drift.tolerance:.0e}). At torch's initialisation the error stays near float32's "
            f"eps however long the sequence; once the recurrent weights' spectral radius passes "
            f"about 1 the dynamics turn chaotic, rounding differences grow along the sequence, "
            f"and two correct implementations drift apart.</p>"
            f'<figure id="plot-drift">{plot_drift(plt, drift)}</figure>'
        )
    )
    verdict_class = "pass" if report.passed else "FAIL"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reference_rnn verification report</title><style>{CSS}</style></head>
<body>
<h1>reference_rnn verification report</h1>
<p class="verdict {verdict_class}" id="summary">{escape(summary(report))}</p>
<h2>Per source</h2>
<table id="sources"><tr><th>source</th><th>result</th></tr>{sources}</table>
{f'<p>Not run:</p><ul id="skipped">{skipped}</ul>' if skipped else ""}
<h2>Measured error against tolerance</h2>
<p>Each dot is one check: the worst of its outputs and gradients, scaled by the expected values'
largest magnitude. Errors below {ERROR_FLOOR:.0e} (an exact 0 among them) are drawn at
{ERROR_FLOOR:.0e}.</p>
<figure id="plot-errors">{plot_errors(plt, report)}</figure>
<h2>Accuracy against exact arithmetic</h2>
{_accuracy(plt, report.accuracy)}
<h2>float32 against float64</h2>
{drift_html}
<h2>Every check</h2>
<table id="checks" data-count="{len(report.checks)}"><tr><th>#</th><th>check</th><th>against</th>
<th>dtype</th><th>max error</th>
<th>tolerance</th><th>error / tolerance</th><th>status</th><th>note</th></tr>{rows}</table>
</body></html>
"""


def write(report: Verification, path: str | Path, drift: Drift | None = None) -> None:
    """Write the page for ``report`` to ``path`` (UTF-8)."""
    Path(path).write_text(render(report, drift), encoding="utf-8")


__all__ = ["render", "write"]
