"""The verification report as text: the table, a line per source, and the summary."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from reference_rnn.verify.rows import Row, Verification

# -- how it is shown --------------------------------------------------------------------------


def _result(check: Row) -> str:
    if check.status == "known difference":
        return f"known difference: {check.known_difference}"
    if check.passed:
        return "pass"
    return f"FAIL{': ' + check.error if check.error else ''}"


def format_table(report: Verification) -> str:
    """The report as an aligned text table, a summary row per source, and a one-line summary."""
    header = ("check", "against", "dtype", "max error", "tolerance", "result")
    rows = [
        (
            check.name,
            check.against,
            check.dtype,
            "-" if check.max_error is None else f"{check.max_error:.1e}",
            f"{check.tolerance:.0e}",
            _result(check),
        )
        for check in report.checks
    ]
    rows += [
        (f"every {name} check", name, "-", "-", "-", f"SKIPPED: {reason}")
        for name, reason in report.skipped.items()
    ]
    summary_rows = [
        (f"{source}: {line}", "", "", "", "", "") for source, line in per_source(report).items()
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]

    def render(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        return "  ".join([*cells, row[-1]]).rstrip()

    lines = [render(row) for row in [header, *rows]]
    rule = "-" * len(lines[0])
    lines.insert(1, rule)
    return "\n".join(
        [
            *lines,
            rule,
            *(row[0] for row in summary_rows),
            *_accuracy_lines(report.accuracy),
            "",
            summary(report),
        ]
    )


def _accuracy_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The accuracy table after a blank line: a title, a header and a row per case."""
    if not rows:
        return []
    names = [name for name in rows[0] if name != "case"]
    table = [("case", *names)] + [
        (row["case"], *("-" if row[name] is None else f"{row[name]:.1f}" for name in names))
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(names) + 1)]
    title = (
        "Error against exact arithmetic, in float64 eps of the values' scale "
        "(max|a - e| / max|e| / eps, the worst of the outputs and every gradient):"
    )
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in table
    ]
    return ["", title, *rendered]


def per_source(report: Verification) -> dict[str, str]:
    """For each source of evidence: its version, how many checks passed, the worst error."""
    lines: dict[str, str] = {}
    for source in dict.fromkeys(check.against for check in report.checks):
        checks = [check for check in report.checks if check.against == source]
        counted = [check for check in checks if check.status != "known difference"]
        errors = [check.max_error for check in counted if check.max_error is not None]
        version = f" {report.versions[source]}" if source in report.versions else ""
        line = f"{sum(check.passed for check in counted)} of {len(counted)} passed"
        if errors:
            line += f", worst error {max(errors):.1e}"
        known = len(checks) - len(counted)
        if known:
            line += f", {known} known difference{'s' * (known > 1)}"
        lines[f"{source}{version}"] = line
    return lines


def summary(report: Verification) -> str:
    """One line: passed or failed, the counts, the versions and anything skipped."""
    counted = [check for check in report.checks if check.status != "known difference"]
    passed = sum(check.passed for check in counted)
    kinds = {check.against: 0 for check in counted}
    for check in counted:
        kinds[check.against] += 1
    counts = ", ".join(f"{n} against {kind}" for kind, n in kinds.items())
    known = len(report.checks) - len(counted)
    versions = ", ".join(f"{name} {version}" for name, version in report.versions.items())
    line = (
        f"{'PASSED' if report.passed else 'FAILED'}: {passed} of {len(counted)} checks "
        f"passed ({counts}); {known} known differences; numpy {np.__version__}"
        + (f", {versions}" if versions else "")
    )
    if report.skipped:
        line += f"; SKIPPED: {', '.join(report.skipped)} (not installed)"
    return line


def progress_to(stream: TextIO) -> Callable[[int, int, str], None] | None:
    """A one-line progress display on a terminal; nothing when piped."""
    if not stream.isatty():
        return None

    def show(i: int, n: int, name: str) -> None:
        stream.write(f"\r\033[K[{i + 1}/{n}] {name}")
        stream.flush()

    return show
