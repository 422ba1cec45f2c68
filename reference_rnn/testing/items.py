"""The checker's report as test items: one per case, dtype and value, each able to fail alone.

:func:`checked_values` runs the check of TARGET once per dtype, the code under test in a worker
process as ``python -m reference_rnn check`` runs it, and returns a :class:`CheckedValue` per
check, with the id a test gets (``cs231n-sample_h0-float64-dWh``), where its error first
exceeds the tolerance along time, and the mistakes the run's diagnosis names for it. The pytest
plugin (:mod:`reference_rnn.testing.plugin`) and :func:`reference_rnn.testing.parametrize` make
their items from these; nothing here needs pytest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.battery import Case
from reference_rnn.checker.diagnosis import mistake_line
from reference_rnn.checker.evidence import first_time_step
from reference_rnn.checker.runner import Check, Report
from reference_rnn.checker.sandbox import Limits, check_target

__all__ = ["CheckedValue", "checked_values"]


@dataclass(frozen=True, repr=False)
class CheckedValue:
    """One value of one case of a check, as one test.

    ``mistakes``: the run's named mistakes that explain this value's failure (empty when it
    passed, or when no catalogued mistake explains it); ``report``: the whole run's report.
    """

    id: str
    check: Check
    first_time_step: int | None
    mistakes: tuple[str, ...]
    report: Report = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.id

    def __repr__(self) -> str:  # a line in pytest's traceback
        return f"<CheckedValue {self.id}: {'passed' if self.passed else 'failed'}>"

    @property
    def passed(self) -> bool:
        return self.check.passed

    def failure(self) -> str:
        """Why this value fails, in a few lines: the value, the error, where, and the mistake."""
        check, report = self.check, self.report
        case, _, value = check.name.rpartition("/")
        named = ", ".join(self.mistakes) or "no catalogued mistake"
        lines = [f"{value} of case {case} ({report.heading}): {named}"]
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
        steps: dict[str, int | None] = {}

        def observe(
            check: str, output: Output, case: Case, steps: dict[str, int | None] = steps
        ) -> None:
            steps[check] = first_time_step(output, case)

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
        values += _values(report, steps)
    return values


def _values(report: Report, steps: dict[str, int | None]) -> list[CheckedValue]:
    named = tuple(d.mistake for d in report.diagnoses)
    values = []
    for check in report.checks:
        case, _, value = check.name.rpartition("/")
        explained = not check.passed and check.name not in report.unexplained
        mistakes = _naming(report, check.name) if explained else ()
        row = re.sub(r"\W|-", "_", case)
        values.append(
            CheckedValue(
                f"{report.api}-{row}-{report.dtype}-{value}",
                check,
                steps.get(check.name) if not check.passed else None,
                mistakes or (named if explained else ()),
                report,
            )
        )
    return values


def _naming(report: Report, check: str) -> tuple[str, ...]:
    """The mistakes whose own evidence is ``check``: the report gives one check of each."""
    return tuple(d.mistake for d in report.diagnoses if d.evidence.check == check)
