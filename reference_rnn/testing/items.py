"""The checker's report as test items: one per case, dtype and value, each able to fail alone.

:func:`checked_values` runs the check of TARGET once per dtype, the code under test in a worker
process as ``python -m reference_rnn check`` runs it, and returns a :class:`CheckedValue` per
check: the id a test gets, the user's function and the value
(``rnn_step_backward-sample-h0-float64-dWh``: :func:`~reference_rnn.checker.printing.check_id`), where
its error first exceeds the tolerance along time, its first mismatching element (as
``numpy.testing`` shows one), and the mistakes the run's diagnosis names for it. The pytest
plugin (:mod:`reference_rnn.testing.plugin`) and :func:`reference_rnn.testing.parametrize` make
their items from these; nothing here needs pytest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.battery import Case, expected_value
from reference_rnn.checker.diagnosis import mistake_line
from reference_rnn.checker.evidence import first_time_step
from reference_rnn.checker.printing import check_id
from reference_rnn.checker.runner import Check, Report
from reference_rnn.checker.sandbox import Limits, check_target
from reference_rnn.core.measure import TOLERANCE

__all__ = ["CheckedValue", "Mismatch", "checked_values", "mismatch"]


@dataclass(frozen=True)
class Mismatch:
    """The elements of a value beyond the tolerance: how many, and the first (in C order) with
    its actual and expected values. ``index`` is in the reference's layout, ``h`` (N, T, H)."""

    index: tuple[int, ...]
    actual: float
    expected: float
    count: int
    size: int

    def lines(self) -> list[str]:
        """numpy.testing's words for it."""
        return [
            f"Mismatched elements: {self.count} / {self.size} ({100 * self.count / self.size:.3g}%)",
            (
                f"First mismatch at index {self.index}: "
                f"actual {self.actual!r}, expected {self.expected!r}"
            ),
        ]


def mismatch(actual: object, expected: object, tolerance: float) -> Mismatch | None:
    """Where ``actual`` is beyond ``tolerance`` of ``expected`` in the project's measure.

    An element is beyond it where ``|actual - expected| > tolerance * max|expected|`` (the
    absolute error where ``expected`` is all zero), or is NaN: the error
    ``max|actual - expected| / max|expected|`` exceeds the tolerance exactly where one is.
    None where none is, and where the shapes differ (the check says so).
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape or a.size == 0:
        return None
    scale = float(np.abs(e).max()) or 1.0
    beyond = ~(np.abs(a - e) <= tolerance * scale)  # NaN compares False: beyond
    if not beyond.any():
        return None
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(beyond)), a.shape))
    return Mismatch(index, float(a[index]), float(e[index]), int(beyond.sum()), a.size)


@dataclass(frozen=True, repr=False)
class CheckedValue:
    """One value of one case of a check, as one test.

    ``made_by``: the user's function or method that returned the value (``rnn_step_backward``,
    ``TimeRNN.backward``); ``case``: the battery's name of the case (``""`` for a check of no
    case: a missing function, a target that did not load); ``value``: the API's name of the
    value; ``mistakes``: the run's named mistakes that explain this value's failure (empty when
    it passed, or when no catalogued mistake explains it); ``report``: the whole run's report.
    """

    id: str
    check: Check
    made_by: str
    case: str
    value: str
    first_time_step: int | None
    mismatch: Mismatch | None
    mistakes: tuple[str, ...]
    report: Report = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.id

    def __repr__(self) -> str:  # a line in pytest's traceback
        return f"<CheckedValue {self.id}: {'passed' if self.passed else 'failed'}>"

    @property
    def passed(self) -> bool:
        return self.check.passed

    @property
    def title(self) -> str:
        """The check as every report names it: ``rnn_step_backward: dWh of case sample-h0``."""
        return self.check.name

    def failure(self) -> str:
        """Why this value fails, in a few lines: the value, the error, where, the mistake, and the
        first mismatching element."""
        check = self.check
        named = ", ".join(self.mistakes) or "no catalogued mistake"
        lines = [f"{self.title} ({self.report.heading}): {named}"]
        if check.max_error is None:
            lines.append(f"  not compared: {check.detail}")
        else:
            lines.append(
                f"  error {check.max_error:.3g} > tolerance {check.tolerance:g} "
                "(max|actual - expected| / max|expected|)"
            )
        if self.first_time_step is not None:
            lines.append(f"  first failing time step: {self.first_time_step}")
        if self.mistakes:
            lines += [f"  mistake: {mistake_line(m)}" for m in self.mistakes]
        else:
            lines.append("  mistake: none of the catalogued mistakes explains it")
        if self.mismatch is not None:
            lines += [f"  {line}" for line in self.mismatch.lines()]
        return "\n".join(lines)

    def assert_passed(self) -> None:
        """Raise AssertionError with :meth:`failure` unless this value passed."""
        __tracebackhide__ = True
        if not self.passed:
            raise AssertionError(self.failure())


def checked_values(
    target: str,
    *,
    api: str,
    dtypes: Iterable[str] = ("float64",),
    limits: Limits | None = None,
    name: str | None = None,
    seed: int | None = None,
    forward_only: bool = False,
) -> list[CheckedValue]:
    """Check TARGET as ``api`` in each dtype (a worker process each): a value per check.

    Each dtype's battery is drawn from ``seed`` (a fresh one each if None); ``forward_only`` as
    :func:`~reference_rnn.checker.sandbox.check_target` takes it.

    TargetNotFoundError when TARGET does not exist; code that fails to load is one failed value.
    """
    values = []
    for dtype in dtypes:
        seen: dict[str, tuple[int | None, Mismatch | None]] = {}

        def observe(
            check: str,
            output: Output,
            case: Case,
            seen: dict[str, tuple[int | None, Mismatch | None]] = seen,
        ) -> None:
            wrong = None
            if output.value is not None:
                expected = expected_value(case.expected, output.key)
                wrong = mismatch(output.value, expected, TOLERANCE[case.dtype])
            seen[check] = (first_time_step(output, case), wrong)

        report = check_target(
            target,
            api=api,
            dtype=dtype,
            limits=limits,
            name=name,
            observe=observe,
            seed=seed,
            forward_only=forward_only,
        )
        values += _values(report, seen)
    return values


def _values(
    report: Report, seen: dict[str, tuple[int | None, Mismatch | None]]
) -> list[CheckedValue]:
    """A value per check of ``report``; ``seen``: each compared check's first failing time step
    and first mismatch."""
    named = tuple(d.mistake for d in report.diagnoses)
    values = []
    for check in report.checks:
        explained = not check.passed and check.name not in report.unexplained
        mistakes = _naming(report, check.name) if explained else ()
        step, wrong = seen.get(check.name, (None, None)) if not check.passed else (None, None)
        values.append(
            CheckedValue(
                check_id(check.function, check.case, report.dtype, check.value),
                check,
                check.function,
                check.case,
                check.value,
                step,
                wrong,
                mistakes or (named if explained else ()),
                report,
            )
        )
    return values


def _naming(report: Report, check: str) -> tuple[str, ...]:
    """The mistakes whose own evidence is ``check``: the report gives one check of each."""
    return tuple(d.mistake for d in report.diagnoses if d.evidence.check == check)
