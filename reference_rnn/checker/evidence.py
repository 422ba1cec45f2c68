"""The evidence a check gives: one record of the user's output, how it compares, and what it shows.

Shared by :mod:`reference_rnn.checker.diagnosis` (matching the catalogue's variants) and
:mod:`reference_rnn.checker.behaviours` (the mistakes found by running the user's code again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference_rnn.checker.apis.calling import Observation, Output
from reference_rnn.checker.battery import FORWARD_KEYS, Case, expected_value
from reference_rnn.core.measure import TOLERANCE, scaled_error, step_errors
from reference_rnn.core.validation import FloatArray

__all__ = [
    "STEP_KEYS",
    "Evidence",
    "Record",
    "against",
    "along_time",
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
    back = "" if record.output.key in FORWARD_KEYS else " going back from the last"
    at = "" if step is None else f", first at time step {step}{back}"
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
    """The first step where ``output``'s error exceeds the tolerance of ``case``'s dtype, in the
    order the pass computes the steps: from t = 0 for the states, from the last step back for a
    gradient (backpropagation through time starts there).

    Counted over the whole sequence: for a case in two blocks, the first block's steps come
    first. None for a value without a time axis, and where no step's error exceeds it.
    """
    errors = time_step_errors(output, case)
    if errors is None:
        return None
    over = np.flatnonzero(errors > TOLERANCE[case.dtype])
    if not over.size:
        return None
    step = over[0] if output.key in FORWARD_KEYS else over[-1]
    return int(step) + (case.split or 0)


def looks(record: Record, tolerance: float) -> str | None:
    """A failed value that no mistake explains, in a line; None where there is no value to read.

    Its first mismatching entry (index, the value and the reference's, as numpy.testing shows
    it) and how many are wrong; where along time the error starts (:func:`along_time`); and what
    it looks like: a last step left at zero, all zeros, the reference's times a constant, or the
    reference's values in another shape.
    """
    user, key, name = record.output.value, record.output.key, record.output.name
    if user is None:
        return None
    right = expected_value(record.case.expected, key)
    if user.shape != right.shape:  # a failure the report's errors name: what the values are
        same = (
            user.size == right.size and scaled_error(user.reshape(right.shape), right) <= tolerance
        )
        values = "the reference's values" if same else "other values"
        return f"{name} has shape {user.shape}, the reference {right.shape}: {values}"
    if record.output.problem is not None:
        return None  # not a number everywhere: the report's errors say what
    parts = [_first_mismatch(user, right, tolerance), along_time(record.output, record.case)]
    last_zero = key in STEP_KEYS and user.shape[1] > 1 and not np.abs(user[:, -1]).any()
    if not np.abs(user).any():
        parts.append(f"{name} is all zeros")
    elif last_zero and scaled_error(user[:, :-1], right[:, :-1]) <= tolerance:
        parts.append(f"{name}[:, T-1] is all zeros; the steps before are right")
    ratio = float(np.vdot(user, right) / (np.vdot(right, right) or 1.0))
    if ratio and scaled_error(user, ratio * right) <= tolerance:
        parts.append(f"{name} is {ratio:.4g} times the reference's")
    return "; ".join(part for part in parts if part)


def _first_mismatch(user: FloatArray, right: FloatArray, tolerance: float) -> str:
    """The first entry, in C order, off by more than the tolerance of the value's scale."""
    scale = float(np.abs(right).max()) or 1.0
    wrong = ~(np.abs(user - right) <= tolerance * scale)  # a NaN is wrong
    index = tuple(int(i) for i in np.argwhere(wrong)[0])
    return (
        f"first mismatch at [{', '.join(map(str, index))}]: {user[index]:.6g} where the "
        f"reference has {right[index]:.6g} ({int(wrong.sum())} of {wrong.size} entries wrong)"
    )


def along_time(output: Output, case: Case) -> str | None:
    """Where along time ``output``'s error starts (:func:`first_time_step`), in words; None for a
    value without a time axis, or none over the tolerance.

    The states: ``h right for t < 4, wrong from t = 4 (of 6)``; a gradient, computed from the last
    step back: ``dx right for t > 2, wrong from t = 2 back (of 6)``.
    """
    step = first_time_step(output, case)
    if step is None:
        return None
    name, first = output.name, case.split or 0
    T = case.shape[1]  # the whole sequence: for a case in two blocks, both
    of = f"(of {T})"
    if output.key not in FORWARD_KEYS:
        if step == T - 1:
            return f"{name} wrong from the last step, t = {step}, where backward starts {of}"
        return f"{name} right for t > {step}, wrong from t = {step} back {of}"
    if step == first:
        return f"{name} wrong from its first step, t = {step} {of}"
    return f"{name} right for t < {step}, wrong from t = {step} {of}"
