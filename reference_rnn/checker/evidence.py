"""The evidence a check gives: one record of the user's output, and how it compares.

Shared by :mod:`reference_rnn.checker.diagnosis` (matching the catalogue's variants) and
:mod:`reference_rnn.checker.behaviours` (the mistakes found by running the user's code again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import Observation, Output
from reference_rnn.checker.battery import Case, expected_value
from reference_rnn.core.measure import scaled_error

__all__ = ["Record", "against", "evidence", "find", "first_time_step", "looks", "measured_error"]


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


def evidence(record: Record, error: float | None, tolerance: float) -> dict[str, Any]:
    """The evidence ``record`` gives for a mistake whose values differ from the user's by ``error``."""
    return {
        "check": record.name,
        "output": record.output.name,
        "first_time_step": first_time_step(record, tolerance),
        "error_vs_reference": record.error,
        "error_vs_mistake": error,
        "detail": f"{against(record, tolerance)}, {_e(error)} against this mistake",
    }


def against(record: Record, tolerance: float) -> str:
    """How ``record``'s value compares with the reference's, or why it could not be compared."""
    if record.error is None:
        return str(record.output.problem)
    step = first_time_step(record, tolerance)
    at = "" if step is None else f", first at time step {step}"
    return f"error {record.error:.1e} against the reference{at}"


def _e(error: float | None) -> str:
    return "-" if error is None else f"{error:.1e}"


def first_time_step(record: Record, tolerance: float) -> int | None:
    """The first step whose error exceeds the tolerance, for values with a time axis."""
    user, key = record.output.value, record.output.key
    if key not in ("h", "dx") or user is None:
        return None
    right = expected_value(record.case.expected, key)
    if user.shape != right.shape:
        return None
    scale = float(np.abs(right).max()) or 1.0
    per_step = np.abs(user - right).max(axis=(0, 2)) / scale  # (N, T, .) -> (T,)
    # the check failed, so some step is wrong
    return int(np.argmax(per_step > tolerance)) + (record.case.split or 0)


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
        step = first_time_step(record, tolerance)
        if step is not None and step > (record.case.split or 0):
            return f"{name} right for t < {step}, wrong from t = {step} (of {T})"
    ratio = float(np.vdot(user, right) / (np.vdot(right, right) or 1.0))
    if ratio and scaled_error(user, ratio * right) <= tolerance:
        return f"{name} is {ratio:.4g} times the reference's"
    return None
