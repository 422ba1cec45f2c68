"""The verification report as one self-contained HTML page: tables, and plots inline as SVG.

    python -m reference_rnn verify --html report.html

The page needs no network and no script: the per-source summary, every check with its status,
and three plots drawn by matplotlib (the ``[report]`` extra):

- every check's measured error against its tolerance, grouped by source and dtype;
- accuracy against exact arithmetic in units of the dtype's eps, when the report has it;
- float32's error against float64 as the sequence grows and as the recurrent weights grow: why
  the float32 tolerance holds at torch's initialisation, and where the chaotic regime begins.

``python -m reference_rnn check TARGET --api API --html PATH`` writes the same kind of page for
someone else's implementation, with the error of its states and input gradient per time step, so
that the first step that goes wrong is visible.
"""

from __future__ import annotations

import html
import importlib
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.battery import Case, expected_value
from reference_rnn.checker.catalogue import MISTAKES
from reference_rnn.checker.runner import Report
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.layers.rnn import RNN
from reference_rnn.oracles import Problem, Results
from reference_rnn.verify import Row, Verification, per_source, summary
from reference_rnn.verify.cases import CoreCase, run_rnn

__all__ = [
    "Drift",
    "measure_drift",
    "render",
    "render_check",
    "require_matplotlib",
    "step_errors",
    "write",
    "write_check",
]

#: Errors below this (an exact 0 among them) are drawn at it: a log axis has no 0.
ERROR_FLOOR = 1e-17
#: Errors against exact arithmetic below this many eps (0 among them) are drawn at it.
EPS_FLOOR = 0.01
STATUS_COLORS = {"pass": "#2b6cb0", "FAIL": "#c53030", "known difference": "#dd6b20"}
#: Sequence lengths and recurrent-weight scales (times torch's initialisation) of the drift plot.
LENGTHS = (1, 3, 10, 30, 100, 300, 1000)
LENGTH_SCALES = (1.0, 2.0, 3.0)
SCALES = tuple(float(s) for s in np.geomspace(0.25, 8.0, 16))
SCALE_LENGTH = 200


def require_matplotlib() -> ModuleType:
    """matplotlib with its SVG backend, or an ImportError that says how to install it."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as exc:
        msg = (
            "the HTML report draws its plots with matplotlib: "
            f"pip install 'reference-rnn[report]' (or pip install matplotlib): {exc}"
        )
        raise ImportError(msg) from exc
    matplotlib.use("svg")
    return importlib.import_module("matplotlib.pyplot")


# -- float32 against float64 --------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """float32's worst scaled error (output and every gradient) against float64, same arrays.

    ``by_length[scale]`` has one error per entry of ``lengths``; ``by_scale`` one per entry of
    ``scales``, at ``T = scale_length``; ``radii`` is the spectral radius of the recurrent weights
    at each scale.
    """

    baseline: str  # what computed the float64 side
    lengths: tuple[int, ...]
    by_length: dict[float, list[float]]
    scales: tuple[float, ...]
    scale_length: int
    radii: list[float]
    by_scale: list[float]
    tolerance: float


def _ours(problem: Problem) -> Results:
    """This package's ``RNN`` (one layer, batch-first) on the problem, in its dtype."""
    rnn = RNN(problem.input_size, problem.hidden_size, batch_first=True, dtype=problem.dtype)
    rnn.load_state_dict(problem.params)
    return run_rnn(rnn, problem)


def _float64_baseline() -> tuple[str, Callable[[Problem], Results]]:
    """torch in float64 when it is installed (independent of this package), else ourselves."""
    torch_oracle = importlib.import_module("reference_rnn.oracles.torch")
    try:
        version = torch_oracle.version()
    except ImportError:
        return "reference_rnn float64 (torch is not installed)", _ours
    torch = torch_oracle.import_torch()

    def run(problem: Problem) -> Results:
        # H = 32: a second thread only waits for the first (here 11 s instead of 0.2 s at T = 1000)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return dict(torch_oracle.run(problem))
        finally:
            torch.set_num_threads(threads)

    return f"torch {version} float64", run


def _as_float64(problem: Problem) -> Problem:
    """The same values in float64: the float32 inputs are exact in float64."""

    def up(a: Any) -> Any:
        return None if a is None else np.asarray(a, dtype=np.float64)

    return replace(
        problem,
        dtype="float64",
        params={name: up(value) for name, value in problem.params.items()},
        x=up(problem.x),
        hx=up(problem.hx),
        grad_output=up(problem.grad_output),
        grad_h_n=up(problem.grad_h_n),
    )


def _scaled(problem: Problem, scale: float, T: int) -> Problem:
    """The problem's first T steps, with the recurrent weights multiplied by ``scale``."""
    weight_hh = (problem.params["weight_hh_l0"] * np.float32(scale)).astype(np.float32)
    return replace(
        problem,
        params=problem.params | {"weight_hh_l0": weight_hh},
        x=problem.x[:, :T],  # batch-first (N, T, D)
        grad_output=problem.grad_output[:, :T],  # (N, T, H)
    )


def measure_drift(
    lengths: Sequence[int] = LENGTHS,
    length_scales: Sequence[float] = LENGTH_SCALES,
    scales: Sequence[float] = SCALES,
    scale_length: int = SCALE_LENGTH,
    H: int = 32,
) -> Drift:
    """float32 against float64 on one tanh layer at torch's initialisation times a scale.

    One float32 problem of ``max(lengths, scale_length)`` steps is drawn; shorter sequences are its
    prefixes. Both sides get exactly the same (float32) values, so the error is the arithmetic's.
    """
    T_max = max(*lengths, scale_length)
    base = CoreCase("drift", "sequence", N=4, T=T_max, D=8, H=H, dtype="float32").problem()
    label, float64 = _float64_baseline()

    def error(scale: float, T: int) -> float:
        problem = _scaled(base, scale, T)
        ours, theirs = _ours(problem), float64(_as_float64(problem))
        return max(scaled_error(ours[name], theirs[name]) for name in theirs)

    weight_hh = base.params["weight_hh_l0"].astype(np.float64)
    return Drift(
        baseline=label,
        lengths=tuple(lengths),
        by_length={s: [error(s, T) for T in lengths] for s in length_scales},
        scales=tuple(scales),
        scale_length=scale_length,
        radii=[float(np.abs(np.linalg.eigvals(weight_hh * s)).max()) for s in scales],
        by_scale=[error(s, scale_length) for s in scales],
        tolerance=TOLERANCE["float32"],
    )


# -- plots --------------------------------------------------------------------------------------


def _svg(plt: ModuleType, figure: Any) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog), text kept as text."""
    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "reference_rnn"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


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
    return _svg(plt, figure)


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
    return _svg(plt, figure)


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
    return _svg(plt, figure)


# -- the page -----------------------------------------------------------------------------------

_CSS = """
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


def _e(text: object) -> str:
    return html.escape(str(text))


def _number(value: float | None, spec: str) -> str:
    return "&ndash;" if value is None else format(value, spec)


def _check_row(i: int, check: Row) -> str:
    css = {"pass": "pass", "FAIL": "FAIL", "known difference": "known"}[check.status]
    # a tolerance of 0 (an exact check: the same seed, the same arrays) has no ratio to show
    exact = check.tolerance == 0
    ratio = None if check.max_error is None or exact else check.max_error / check.tolerance
    note = check.error or check.known_difference or ""
    return (
        f'<tr class="check" data-status="{_e(check.status)}"><td class="num">{i}</td>'
        f"<td>{_e(check.name)}</td><td>{_e(check.against)}</td><td>{_e(check.dtype)}</td>"
        f'<td class="num">{_number(check.max_error, ".1e")}</td>'
        f'<td class="num">{check.tolerance:.0e}</td><td class="num">{_number(ratio, ".2g")}</td>'
        f'<td class="{css}">{_e(check.status)}</td><td>{_e(note)}</td></tr>'
    )


def _accuracy(plt: ModuleType, rows: Sequence[dict[str, Any]]) -> str:
    """The accuracy section's body: a note when the exact oracle did not run."""
    if not rows:
        return (
            '<p class="note" id="accuracy-absent">This report has no comparison with exact '
            "arithmetic (the <code>exact</code> oracle did not run: it needs mpmath).</p>"
        )
    names = [name for name in rows[0] if name != "case"]
    head = "".join(f"<th>{_e(name)}</th>" for name in names)
    body = "".join(
        f"<tr><td>{_e(row['case'])}</td>"
        + "".join(f'<td class="num">{_number(row[name], ".2f")}</td>' for name in names)
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
        f"<tr><td>{_e(source)}</td><td>{_e(line)}</td></tr>"
        for source, line in per_source(report).items()
    )
    skipped = "".join(
        f"<li><b>{_e(name)}</b>: {_e(reason)}</li>" for name, reason in report.skipped.items()
    )
    rows = "".join(_check_row(i, check) for i, check in enumerate(report.checks, 1))
    drift_html = (
        '<p class="note">Not measured for this page.</p>'
        if drift is None
        else (
            f"<p>One tanh layer (N = 4, D = 8, H = 32) in float32 by reference_rnn, against "
            f"{_e(drift.baseline)} on exactly the same values. Dashed: the float32 tolerance "
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
<title>reference_rnn verification report</title><style>{_CSS}</style></head>
<body>
<h1>reference_rnn verification report</h1>
<p class="verdict {verdict_class}" id="summary">{_e(summary(report))}</p>
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


# -- a user's implementation: python -m reference_rnn check ... --html PATH ---------------------

#: The values with a time axis, (N, T, .): their error is also measured step by step.
STEP_KEYS = ("h", "dx")


def step_errors(output: Output, case: Case) -> list[float] | None:
    """``max|actual_t - expected_t| / max|expected|`` for each step t of ``h`` or ``dx``.

    The scale is the whole value's, so the worst step's error is the check's error. None for a
    value without a time axis, and for one with a problem (no value, a wrong shape, NaN).
    """
    if output.key not in STEP_KEYS or output.value is None or output.problem is not None:
        return None
    expected = expected_value(case.expected, output.key)
    scale = float(np.abs(expected).max()) or 1.0  # as scaled_error: absolute where all zero
    per_step = np.abs(output.value - expected).max(axis=(0, 2))  # (N, T, .) -> (T,)
    return [float(error) / scale for error in per_step]


def first_step_over(errors: Sequence[float], tolerance: float) -> int | None:
    """The first time step whose error exceeds ``tolerance``, or None."""
    return next((t for t, error in enumerate(errors) if error > tolerance), None)


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
    return _svg(plt, figure)


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
            f"<td>{_e(check.name)}</td>"
            f'<td class="num">{_number(check.max_error, ".1e")}</td>'
            f'<td class="num">{check.tolerance:.0e}</td><td class="{status}">{status}</td>'
            f'<td class="num">{"&ndash;" if first is None else first}</td>'
            f"<td>{_e(check.detail or '')}</td></tr>"
        )
    diagnoses = "".join(
        f"<li><b>{_e(d.mistake)}</b>: {_e(MISTAKES[d.mistake])}<br>"
        f"{_e(d.evidence['check'])}: {_e(d.evidence['detail'])}</li>"
        for d in report.diagnoses
    )
    steps_html = (
        f'<figure id="plot-steps">{plot_steps(plt, steps, tolerance)}</figure>'
        if steps
        else '<p class="note">No value with a time axis could be compared.</p>'
    )
    passed = sum(check.passed for check in report.checks)
    verdict = "PASSED" if report.passed else "FAILED"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reference_rnn check: {_e(report.target)}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(report.target)} as {_e(report.api)}, {_e(report.dtype)}</h1>
<p class="verdict {"pass" if report.passed else "FAIL"}" id="summary">{verdict}: {passed} of
{len(report.checks)} checks passed against reference_rnn (tolerance {tolerance:.0e})</p>
{f'<h2>Mistakes found</h2><ul id="diagnoses">{diagnoses}</ul>' if diagnoses else ""}
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


def write_check(report: Report, path: str | Path, steps: dict[str, list[float]]) -> None:
    """Write the page for a ``check`` report to ``path`` (UTF-8)."""
    Path(path).write_text(render_check(report, steps), encoding="utf-8")
