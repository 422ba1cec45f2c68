"""Checking someone else's RNN: run the battery through its API, measure, and name the mistake.

Long on purpose: the check and its report (text, JSON) are read together.

Every value the user's code returns (the states and each gradient, separately) is one check, with
its error ``max|actual - expected| / max|expected|`` against the reference and the project's
tolerance for the dtype (:data:`reference_rnn.core.measure.TOLERANCE`). A check that fails is then
compared with the catalogued mistakes (:mod:`reference_rnn.checker.diagnosis`).

:func:`check_plan` does that for a plan's runners, wherever they run the user's code: in a worker
process (:mod:`reference_rnn.checker.sandbox`), or in this one (:func:`run`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from types import ModuleType
from typing import Any

from reference_rnn.checker.apis import APIS, made_by, plan
from reference_rnn.checker.apis.calling import Output, Plan
from reference_rnn.checker.battery import (
    DTYPES,
    ROUNDING,
    SEEDS,
    Case,
    battery,
    fresh_seed,
    with_readout,
)
from reference_rnn.checker.catalogue import applicable
from reference_rnn.checker.diagnosis import (
    Diagnosis,
    Record,
    diagnose,
    measured_error,
    mistake_line,
)
from reference_rnn.checker.evidence import looks
from reference_rnn.checker.printing import check_title, printable
from reference_rnn.core.measure import TOLERANCE

__all__ = ["Check", "Report", "check_plan", "run", "target_name", "validated"]


@dataclass(frozen=True)
class Check:
    """One value of one case: ``max_error`` is None when there was nothing to measure.

    ``name`` is how every report spells it (:func:`~reference_rnn.checker.printing.check_title`),
    from its parts: ``function``, the user's function or method that returned the value
    (``rnn_step_backward``, ``TimeRNN.backward``); ``value``, the API's name of the value; ``case``,
    the battery's name of the case (``""`` for a check of no case: a function that is missing,
    the target that did not load).
    """

    name: str
    passed: bool
    max_error: float | None
    tolerance: float
    detail: str | None = None  # the exception, the shapes or the NaN that made it fail
    function: str = ""
    case: str = ""
    value: str = ""

    @classmethod
    def of(
        cls,
        function: str,
        value: str,
        case: str,
        *,
        passed: bool,
        error: float | None,
        tolerance: float,
        detail: str | None,
    ) -> Check:
        """The check of ``function``'s ``value`` on ``case``, named as every report names it."""
        name = check_title(function, value, case)
        return cls(name, passed, error, tolerance, detail, function, case, value)


@dataclass(frozen=True)
class Report:
    """Every check, the named mistakes, and what was not checked or not explained."""

    api: str
    target: str
    dtype: str
    checks: list[Check]
    diagnoses: list[Diagnosis]
    notes: list[str] = field(default_factory=list)  # what is not checked, and why
    unexplained: list[str] = field(default_factory=list)  # failed checks no mistake explains
    looks: list[str] = field(default_factory=list)  # each unexplained value described, a line each
    # by mistake, the unexplained checks it explains where nothing tells it apart (not named)
    consistent: dict[str, list[str]] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)  # the first lines the checked code printed
    seed: int | None = None  # the battery's inputs were drawn from it (None: the caller's cases)
    forward_only: bool = False  # a forward was checked without a backward

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def heading(self) -> str:
        """What was checked, as every report names it (text, HTML, pytest)."""
        return f"{self.target} as {self.api}, {self.dtype}"

    @property
    def tally(self) -> str:
        """How many checks passed, as every report counts them (text, HTML, pytest)."""
        return f"{sum(check.passed for check in self.checks)} of {len(self.checks)} checks passed"

    @property
    def verdict(self) -> str:
        """PASSED or FAILED, forward only if so, and the tally (text, HTML)."""
        only = " (forward only)" if self.forward_only else ""
        return f"{'PASSED' if self.passed else 'FAILED'}{only}: {self.tally}"

    def to_json(self) -> dict[str, Any]:
        """``{"passed", "api", "target", "dtype", "seed", "forward_only", "checks", "diagnoses",
        "unexplained", "looks", "consistent", "output"}``."""
        return {
            "passed": self.passed,
            "api": self.api,
            "target": self.target,
            "dtype": self.dtype,
            "seed": self.seed,
            "forward_only": self.forward_only,
            "checks": [asdict(check) for check in self.checks],
            "diagnoses": [diagnosis.to_json() for diagnosis in self.diagnoses],
            "unexplained": self.unexplained,
            "looks": self.looks,
            "consistent": self.consistent,
            "output": self.output,
        }

    def format(self) -> str:
        """The report as text: a row per case, a column per value, then what failed and why."""
        lines = [
            (
                f"{self.heading}: error = max|actual - expected| / "
                f"max|expected| against the reference, tolerance {TOLERANCE[self.dtype]:.0e}"
                f"{_widened(self.checks, TOLERANCE[self.dtype])}"
            ),
            *([] if self.seed is None else [_drawn(self.seed)]),
            *self.notes,
        ]
        lines += _tables(self.checks)
        failures: dict[str, list[str]] = {}  # one line per message: a crash fails many checks
        for check in self.checks:
            if not check.passed and check.detail:
                failures.setdefault(check.detail, []).append(check.name)
        if failures:
            lines += ["", "Errors:"]
            lines += [_failure(detail, names) for detail, names in failures.items()]
        if self.diagnoses:
            lines += ["", "Mistakes found:"]
            for diagnosis in self.diagnoses:
                lines.append(f"  {mistake_line(diagnosis.mistake)}")
                if diagnosis.partner is not None:
                    lines.append(f"    together with {diagnosis.partner}")
                lines.append(f"    {diagnosis.evidence_line()}")
        if self.unexplained:
            lines += ["", "Failed checks: no catalogued mistake explains these"]
            lines.append(f"  {', '.join(self.unexplained)}")
            lines += [f"  {line}" for line in self.looks]
            lines += [f"  {_consistent(m, checks)}" for m, checks in self.consistent.items()]
        if self.output:
            lines += ["", "Printed by the checked code (stdout and stderr, first lines):"]
            lines += [f"  | {line}" for line in self.output]
        found = ", ".join(d.mistake for d in self.diagnoses) or "none"
        lines += ["", f"{self.verdict}; mistakes: {found}"]
        return "\n".join(lines)


def _consistent(mistake: str, checks: list[str]) -> str:
    """A mistake the failures are consistent with, though no case tells it apart: not named."""
    return (
        f"consistent with {mistake}, not shown: it explains {', '.join(checks)} only, "
        "where it cannot be told apart"
    )


def _widened(checks: list[Check], tolerance: float) -> str:
    """Where a case's own rounding widened the tolerance, the most it was; else nothing."""
    widest = max((check.tolerance for check in checks), default=tolerance)
    if widest <= tolerance:
        return ""
    return (
        f" (up to {widest:.0e} where a case is ill-conditioned: {ROUNDING} times what rounding "
        "moves the reference by there)"
    )


def _drawn(seed: int) -> str:
    return f"Inputs drawn from seed {seed}: the same seed (--seed {seed}) draws them again"


def _failure(detail: str, names: list[str]) -> str:
    """One line for the checks one message failed: all of them, or the first few and the count."""
    if len(names) <= 3:
        return f"  {', '.join(names)}: {detail}"
    return f"  {len(names)} checks ({', '.join(names[:2])}, ...): {detail}"


def _tables(checks: list[Check]) -> list[str]:
    """A table per run of rows of the same functions and values: a row per case, a column per
    value, the error and FAIL where it fails; above it, the functions that returned them.

    A row is a run of checks of one case (a check of no case is a row of its own, named by its
    function); the checks come a runner at a time, so a new row starts where the case changes or
    a value comes again.
    """
    rows: list[tuple[str, dict[str, Check]]] = []
    for check in checks:
        label = check.case or check.function
        if not rows or rows[-1][0] != label or check.value in rows[-1][1]:
            rows.append((label, {}))
        rows[-1][1][check.value] = check
    lines: list[str] = []
    groups: list[tuple[tuple[str, ...], tuple[str, ...], list[tuple[str, ...]]]] = []
    for label, cells in rows:
        columns = tuple(cells)
        functions = tuple(dict.fromkeys(check.function for check in cells.values()))
        if not groups or groups[-1][:2] != (columns, functions):
            groups.append((columns, functions, []))
        groups[-1][2].append((label, *(_cell(cells[column]) for column in columns)))
    for columns, functions, body in groups:
        table = [("case", *columns), *body]
        widths = [max(len(cells[i]) for cells in table) for i in range(len(columns) + 1)]
        lines += ["", f"{' and '.join(functions)}:"]
        lines += [
            "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
            for cells in table
        ]
    return lines


def _cell(check: Check) -> str:
    error = "-" if check.max_error is None else f"{check.max_error:.1e}"
    return error if check.passed else f"{error} FAIL"


def run(
    obj: object,
    *,
    api: str,
    dtype: str = "float64",
    cases: Iterable[Case] | None = None,
    target: str | None = None,
    observe: Callable[[str, Output, Case], None] | None = None,
    seed: int | None = None,
    forward_only: bool = False,
) -> Report:
    """Check ``obj`` as an ``api`` implementation in this process (see :func:`check_plan`)."""
    checked = validated(api, dtype, cases, seed)
    target = target_name(obj) if target is None else target
    how = plan(api, obj, forward_only=forward_only)
    return check_plan(
        how, api=api, dtype=dtype, cases=checked, target=target, observe=observe, seed=seed
    )


def validated(
    api: str, dtype: str, cases: Iterable[Case] | None, seed: int | None = None
) -> list[Case] | None:
    """``cases`` as a list, each in ``dtype``; ValueError for another dtype, or API, or a seed
    that is not an integer in [0, 2**32), or given with ``cases``."""
    if seed is not None:
        if type(seed) is not int or not 0 <= seed < SEEDS:
            msg = f"seed must be an integer from 0 to {SEEDS - 1}, got {seed!r}"
            raise ValueError(msg)
        if cases is not None:
            msg = "seed draws the battery's cases: give cases or a seed, not both"
            raise ValueError(msg)
    if api not in APIS:
        msg = f"api must be one of {', '.join(APIS)}, got {api!r}"
        raise ValueError(msg)
    if dtype not in DTYPES:
        msg = f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
        raise ValueError(msg)
    if cases is None:
        return None
    cases = list(cases)
    for case in cases:
        if case.dtype != dtype:
            msg = f"case {case.name!r} is {case.dtype}, but dtype is {dtype!r}"
            raise ValueError(msg)
    return cases


def check_plan(  # Long on purpose: the runners' loop, each check made as it comes
    how: Plan,
    *,
    api: str,
    dtype: str,
    cases: list[Case] | None,
    target: str,
    observe: Callable[[str, Output, Case], None] | None = None,
    seed: int | None = None,
) -> Report:
    """Run ``how``'s runners on ``cases`` (default: the battery in ``dtype``, drawn from ``seed``,
    a fresh one if None), measure, diagnose. ``observe(check name, output, case)``, if given, sees
    every value the code returned, with its case (``check --html`` draws the error per step).
    """
    if cases is None:
        seed = fresh_seed() if seed is None else seed
        cases = battery(dtype, seed=seed, stateful=any(runner.blocks for runner in how.runners))
    target, tolerance = printable(target), TOLERANCE[dtype]  # escaped, in-process too
    checks = [
        Check.of(
            name,
            "exists",
            "",
            passed=False,
            error=None,
            tolerance=tolerance,
            detail=f"{target} has no {name}",
        )
        for name in how.missing
    ]
    records = []
    notes = list(how.notes)
    for runner in how.runners:
        for case in cases:
            if case.split is not None and not runner.blocks:
                continue
            given = case.first_step() if runner.one_step else case
            if runner.readout is not None:
                given = with_readout(given, softmax=runner.readout == "softmax")
            observation = runner.run(given)
            for output in observation.outputs:
                error = measured_error(output, observation.case)
                allowed = observation.case.tolerance(output.key)  # the case's conditioning's
                passed = error is not None and error <= allowed
                problem = output.problem and printable(output.problem)  # None stays None
                function = made_by(api, target, runner.label, output.name)
                check = Check.of(
                    function,
                    output.name,
                    case.name,
                    passed=passed,
                    error=error,
                    tolerance=allowed,
                    detail=problem,
                )
                checks.append(check)
                name = check.name
                if observe is not None:
                    observe(name, output, observation.case)
                seen = frozenset(observation.seen)
                made = (runner.label, observation.case, output, error, passed, runner.run, seen)
                records.append(Record(name, *made))
            notes += [note for note in observation.notes if note not in notes]
    diagnoses, unexplained, consistent = diagnose(records, applicable(api, dtype), dtype)
    shown: dict[tuple[str, str], str] = {}  # each unexplained value: its code's first failure
    for record in (r for r in records if r.name in set(unexplained)):
        line = looks(record, tolerance)
        value = (record.group, record.output.name)
        if line is not None and value not in shown:
            shown[value] = f"{record.name}: {line}"
    looked, notes = list(shown.values()), [printable(note) for note in notes]  # escaped
    report = Report(api, target, dtype, checks, diagnoses, notes, unexplained, looked, consistent)
    return replace(report, seed=seed, forward_only=bool(how.forward_only))


def target_name(obj: object) -> str:
    """How a report names ``obj``: ``module:Class``, or a module's name."""
    if isinstance(obj, ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", type(obj).__name__)
    return f"{module}:{qualname}" if module else str(qualname)
