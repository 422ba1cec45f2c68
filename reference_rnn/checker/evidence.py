"""The evidence a check gives: one record of the user's output, how it compares, and what it shows.

Shared by :mod:`reference_rnn.checker.diagnosis` (matching the catalogue's variants) and
:mod:`reference_rnn.checker.behaviours` (the mistakes found by running the user's code again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference_rnn.checker.apis.calling import Observation, Output
from reference_rnn.checker.battery import Case, expected_value
from reference_rnn.core.measure import TOLERANCE, first_step_over, scaled_error, step_errors
from reference_rnn.core.validation import FloatArray

__all__ = [
    "STEP_KEYS",
    "Evidence",
    "Record",
    "against",
    "evidence",
    "find",
    "first_time_step",
    "looks",
    "measured_error",
    "time_step_errors",
]

#: The values with a time axis, (N, T, .): their error is also measured step by step.
STEP_KEYS = ("h", "dx")


@dataclass(frozen=True)
class Record:
    """One check: the user's output on a case, its error against the reference, and the verdict.

    ``group`` names the user's code that made it (the step functions and the sequence functions
    of a module are checked apart); ``rerun`` runs that code on another case (a sequence of the
    batch alone).
    """

    name: str
    group: str
    case: Case
    output: Output
    error: float | None
    passed: bool
    rerun: Callable[[Case], Observation]
    seen: frozenset[str] = frozenset()  # the mistakes the API's adapter saw in that call


def measured_error(output: Output, case: Case) -> float | None:
    """``output``'s error against the reference on ``case``; None when it has a problem."""
    if output.problem is not None or output.value is None:
        return None
    return scaled_error(output.value, expected_value(case.expected, output.key))


def find(observation: Observation, name: str) -> Output | None:
    return next((o for o in observation.outputs if o.name == name), None)


@dataclass(frozen=True)
class Evidence:
    """What one failed check shows of a mistake.

    ``output`` is the API's name for the value; ``first_time_step`` where its error first
    exceeds the tolerance, counted over the whole sequence (None for a value without a time
    axis); ``error_vs_mistake`` its error against the mistake's value (None where that is not
    measured); ``detail`` the sentence the reports show; ``weights`` the weights the code does
    not follow, for ``reads-global-weights`` (empty for every other mistake).
    """

    check: str
    output: str
    first_time_step: int | None
    error_vs_reference: float | None
    error_vs_mistake: float | None
    detail: str
    weights: tuple[str, ...] = ()


def evidence(
    record: Record,
    error: float | None,
    *,
    detail: str | None = None,
    weights: tuple[str, ...] = (),
) -> Evidence:
    """The evidence ``record`` gives for a mistake whose values differ from the user's by ``error``.

    ``detail`` replaces the sentence saying how the value compares with both.
    """
    return Evidence(
        record.name,
        record.output.name,
        first_time_step(record.output, record.case),
        record.error,
        error,
        f"{against(record)}, {_e(error)} against this mistake" if detail is None else detail,
        weights,
    )


def against(record: Record) -> str:
    """How ``record``'s value compares with the reference's, or why it could not be compared."""
    if record.error is None:
        return str(record.output.problem)
    step = first_time_step(record.output, record.case)
    at = "" if step is None else f", first at time step {step}"
    return f"error {record.error:.1e} against the reference{at}"


def _e(error: float | None) -> str:
    return "-" if error is None else f"{error:.1e}"


def time_step_errors(output: Output, case: Case) -> FloatArray | None:
    """``output``'s error at each time step (:func:`~reference_rnn.core.measure.step_errors`).

    None for a value without a time axis, and for one that is missing or of another shape.
    """
    expected = expected_value(case.expected, output.key) if output.key in STEP_KEYS else None
    if expected is None or output.value is None or output.value.shape != expected.shape:
        return None
    return step_errors(output.value, expected)


def first_time_step(output: Output, case: Case) -> int | None:
    """The first step where ``output``'s error exceeds the tolerance of ``case``'s dtype.

    Counted over the whole sequence: for a case in two blocks, the first block's steps come
    first. None for a value without a time axis, and where no step's error exceeds it.
    """
    errors = time_step_errors(output, case)
    step = None if errors is None else first_step_over(errors, TOLERANCE[case.dtype])
    return None if step is None else step + (case.split or 0)


def looks(record: Record, tolerance: float) -> str | None:
    """What a failed value that no mistake explains looks like, in a line; None if nothing plain.

    Where it first goes wrong in time (``h right for t < 4, wrong from t = 4``), a last step left
    at zero, a value all zeros, or a value that is the reference's times a constant.
    """
    user, key, name = record.output.value, record.output.key, record.output.name
    if user is None or record.output.problem is not None:
        return None
    right = expected_value(record.case.expected, key)
    if not np.abs(user).any():
        return f"{name} is all zeros"
    if key in ("h", "dx") and user.shape[1] > 1:
        T = user.shape[1]
        if not np.abs(user[:, -1]).any() and scaled_error(user[:, :-1], right[:, :-1]) <= tolerance:
            return f"{name}[:, T-1] is all zeros; the steps before are right"
        step = first_time_step(record.output, record.case)
        if step is not None and step > (record.case.split or 0):
            return f"{name} right for t < {step}, wrong from t = {step} (of {T})"
    ratio = float(np.vdot(user, right) / (np.vdot(right, right) or 1.0))
    if ratio and scaled_error(user, ratio * right) <= tolerance:
        return f"{name} is {ratio:.4g} times the reference's"
    return None
