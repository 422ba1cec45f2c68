"""Naming the mistake: which catalogued wrong variants the user's failed results match.

For every check, every applicable variant (reference_rnn.checker.catalogue) is computed on the same case
and compared with the user's value:

- the variant *explains* a failed check when the user's value agrees with the variant's within
  the tolerance, where the variant's differs from the reference's;
- a *passed* check where the variant differs from the reference rules the variant out for the code
  that made it (the step functions and the sequence functions of a module are separate code): it
  does the right thing exactly where the mistake would not.

Two mistakes are found from the user's own code, run again on other cases:

- ``batch-of-one-only`` explains a failed check on a batch when the batch's result (or error)
  differs from its sequences run one at a time;
- ``reads-global-weights``: a weight is not taken from the arguments when a case that passes
  fails once that weight alone is given other values of its shape (where the reference's value
  changes). Such code crashes, or returns the wrong shape, where the weights have other sizes
  than the array it reads: it explains the checks that failed so and that run when their case is
  given the passing case's sizes and weights.

A mistake often explains a few checks that another explains too (at one step, ignoring h0 and
dropping the recurrence are the same thing). The diagnoses are the smallest set, chosen greedily,
that explains every failed check any mistake explains; mistakes that explain exactly the same
checks are named together, since nothing here tells them apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import Observation, Output
from reference_rnn.checker.battery import Case, Values, evaluate, expected_value, make_case
from reference_rnn.checker.catalogue import Mistake
from reference_rnn.core.measure import TOLERANCE, scaled_error

__all__ = ["Diagnosis", "Record", "diagnose", "measured_error"]

_PER_SEQUENCE = ("h", "h_last", "dx", "dh0")  # stacked along the batch; weight gradients add up
_WEIGHTS = ("Wx", "Wh", "b")


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


@dataclass(frozen=True)
class Diagnosis:
    """A named mistake and the evidence for it (see :func:`diagnose`)."""

    mistake: str
    evidence: dict[str, Any]


def diagnose(
    records: Sequence[Record], mistakes: Sequence[Mistake], dtype: str
) -> tuple[list[Diagnosis], list[str]]:
    """The mistakes that explain the failed ``records``, and the failed checks none explains.

    The evidence of a diagnosis is its first explained check on the forward pass's values, or
    its first explained check if it explains none there: ``check``, ``output`` (the API's
    name for it), ``first_time_step`` (where the error first exceeds the tolerance, counted over
    the whole sequence; None for values without a time axis), ``error_vs_reference``,
    ``error_vs_mistake``, ``checks_explained`` and a sentence, ``detail``.
    """
    tolerance = TOLERANCE[dtype]
    explained: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for mistake in mistakes:
        if mistake.variant is None:
            found = _BEHAVIOURS[mistake.id](records, tolerance)
        else:
            found = _matches(records, mistake, tolerance)
        if found:
            explained[mistake.id] = found
    chosen = _cover({mistake: {i for i, _ in found} for mistake, found in explained.items()})
    diagnoses = [
        Diagnosis(m, _strongest(records, explained[m]) | {"checks_explained": len(explained[m])})
        for m in chosen
    ]
    covered = {i for m in chosen for i, _ in explained[m]}
    unexplained = [r.name for i, r in enumerate(records) if not r.passed and i not in covered]
    return diagnoses, unexplained


def measured_error(output: Output, case: Case) -> float | None:
    """``output``'s error against the reference on ``case``; None when it has a problem."""
    if output.problem is not None or output.value is None:
        return None
    return scaled_error(output.value, expected_value(case.expected, output.key))


def _strongest(
    records: Sequence[Record], found: list[tuple[int, dict[str, Any]]]
) -> dict[str, Any]:
    """The evidence to show: the first on the forward pass's values if any, else the first."""
    forward = [evidence for i, evidence in found if records[i].output.key in ("h", "h_last")]
    return forward[0] if forward else found[0][1]


def _matches(
    records: Sequence[Record], mistake: Mistake, tolerance: float
) -> list[tuple[int, dict[str, Any]]]:
    """The failed records ``mistake``'s variant explains; none if a passed record rules it out."""
    assert mistake.variant is not None
    variant = mistake.variant
    match_tolerance = TOLERANCE["float32"] if mistake.float32_values else tolerance
    results: dict[int, Values] = {}  # by id(case): the variant once per case
    found: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # by group
    ruled_out: set[str] = set()
    for i, record in enumerate(records):
        case = record.case
        if id(case) not in results:
            results[id(case)] = evaluate(variant, case, carries_state=mistake.carries_state)
        wrong = expected_value(results[id(case)], record.output.key)
        right = expected_value(case.expected, record.output.key)
        if wrong.shape == right.shape and scaled_error(wrong, right) <= tolerance:
            continue  # here the mistake makes no difference
        if record.passed:
            if not mistake.float32_values:  # buffers are per value: others may be float64
                ruled_out.add(record.group)
            continue
        user = record.output.value
        if user is None or user.shape != wrong.shape:
            continue
        if mistake.float32_values and not np.array_equal(user, user.astype(np.float32)):
            continue
        error = scaled_error(user, wrong)
        if error <= match_tolerance:
            evidence = _evidence(record, error, tolerance)
            found.setdefault(record.group, []).append((i, evidence))
    kept = [item for group, items in found.items() if group not in ruled_out for item in items]
    return sorted(kept, key=lambda item: item[0])


def _batch_dependence(
    records: Sequence[Record], tolerance: float
) -> list[tuple[int, dict[str, Any]]]:
    """Failed batch records whose result differs from the batch's sequences one at a time."""
    singles: dict[int, list[Observation]] = {}
    found = []
    for i, record in enumerate(records):
        case = record.case
        if record.passed or case.shape[0] == 1:
            continue
        if id(case) not in singles:
            singles[id(case)] = [record.rerun(case.sequence(n)) for n in range(case.shape[0])]
        # by name: a layer may return another kind of value for a batch of one (sprint's (T, H))
        outputs = [_find(observation, record.output.name) for observation in singles[id(case)]]
        checked = [o for o in outputs if o is not None and o.problem is None]
        if len(checked) != len(outputs):
            continue  # a sequence alone fails too: no evidence either way
        key = checked[0].key
        values = [o.value for o in checked if o.value is not None]
        alone = np.concatenate(values) if key in _PER_SEQUENCE else np.sum(values, axis=0)
        batched = record.output.value
        if batched is not None and batched.shape == alone.shape:
            if scaled_error(batched, alone) <= tolerance:
                continue
            difference: float | None = scaled_error(batched, alone)
        else:
            difference = None
        alone_error = scaled_error(alone, expected_value(case.expected, key))
        evidence = _evidence(record, difference, tolerance)
        evidence["detail"] = (
            f"a batch of {case.shape[0]}: "
            f"{record.output.problem or f'error {record.error:.1e} against the reference'}; "
            f"the same sequences one at a time: error {alone_error:.1e} against the reference"
        )
        found.append((i, evidence))
    return found


def _fixed_weights(records: Sequence[Record], tolerance: float) -> list[tuple[int, dict[str, Any]]]:
    """Checks failed by a problem where the code reads a fixed array instead of a weight.

    Looked for in the groups with such a failure only: elsewhere the values say more.
    """
    found = []
    groups = dict.fromkeys(r.group for r in records if not (r.passed or r.output.problem is None))
    for group in groups:
        members = [(i, r) for i, r in enumerate(records) if r.group == group]
        witnesses = _not_followed([r for _, r in members], tolerance)
        if not witnesses:
            continue
        weights = [weight for weight, _ in witnesses]
        weight, witness = witnesses[0]
        _, _, D, H = witness.case.shape
        resized: dict[int, Observation] = {}  # by id(case): each case once
        for i, record in members:
            case = record.case
            if record.passed or record.output.problem is None:
                continue  # the values tell more: a variant's, or none
            if id(case) not in resized:
                resized[id(case)] = record.rerun(_resized(case, witness.case))
            output = _find(resized[id(case)], record.output.name)
            if output is None or output.problem is not None:
                continue  # it fails with those sizes too: something else is wrong
            evidence = _evidence(record, None, tolerance)
            evidence["weights"] = weights
            evidence["detail"] = (
                f"{_against(record, tolerance)}; it runs with the sizes and weights of "
                f"{witness.case.name} (D={D}, H={H}), where it does not use the "
                f"{', '.join(weights)} passed in: "
                f"{witness.name} passes, but with another {weight} of that shape, "
                f"{_against(witness, tolerance)}"
            )
            found.append((i, evidence))
    return found


#: How many times the tolerance code must miss by, once a weight changes, not to follow it.
MISSED_BY = 100


def _not_followed(members: Sequence[Record], tolerance: float) -> list[tuple[str, Record]]:
    """The weights the code does not follow, each with a passed check whose value stays put.

    A weight is not followed when, with it drawn again, the code misses the reference's new
    value by far more than rounding: by over ``MISSED_BY`` times the tolerance. The check is
    returned on the case with that weight changed. Correct code follows every weight: changing
    one is only another case, which it misses by rounding alone, if at all (in float32, 1.4e-5
    against the tolerance of 1e-5 was measured); code that reads a fixed array misses by the
    weight's change (the exercise's code: 2.1e-3).
    """
    passed = [r for r in members if r.passed]
    witnesses: dict[str, Record] = {}
    for case in {id(r.case): r.case for r in passed}.values():
        for weight in _WEIGHTS:
            if weight in witnesses:
                continue
            changed = _another(case, weight)
            rerun = passed[0].rerun  # the group's code: every member's is the same
            outputs = {o.name: o for o in rerun(changed).outputs}
            for record in (r for r in passed if r.case is case):
                key, name = record.output.key, record.output.name
                right = expected_value(changed.expected, key)
                if scaled_error(right, expected_value(case.expected, key)) <= tolerance:
                    continue  # the reference's value does not change: nothing to see
                output = outputs.get(name) or Output(key, name, None, f"{name} not returned")
                error = measured_error(output, changed)
                if error is None or error > MISSED_BY * tolerance:
                    witnesses[weight] = replace(
                        record, case=changed, output=output, error=error, passed=False
                    )
                    break
    return [(weight, witnesses[weight]) for weight in _WEIGHTS if weight in witnesses]


def _another(case: Case, weight: str) -> Case:
    """``case`` with ``weight`` (Wx, Wh or b) drawn again, uniform over its own range."""
    value = getattr(case, weight)
    bound = float(np.abs(value).max())
    other = np.random.default_rng(0).uniform(-bound, bound, value.shape)
    return replace(case, **{weight: other.astype(value.dtype)})


def _resized(case: Case, like: Case) -> Case:
    """``case``'s batch, steps and blocks with ``like``'s sizes and weights; new x, h0 and dh."""
    N, T, _, _ = case.shape
    _, _, D, H = like.shape
    new = make_case(case.name, N, T, D, H, dtype=case.dtype, zero_h0=case.zero_h0, split=case.split)
    return replace(new, Wx=like.Wx, Wh=like.Wh, b=like.b)


def _find(observation: Observation, name: str) -> Output | None:
    return next((o for o in observation.outputs if o.name == name), None)


def _evidence(record: Record, error: float | None, tolerance: float) -> dict[str, Any]:
    """The evidence ``record`` gives for a mistake whose values differ from the user's by ``error``."""
    return {
        "check": record.name,
        "output": record.output.name,
        "first_time_step": _first_time_step(record, tolerance),
        "error_vs_reference": record.error,
        "error_vs_mistake": error,
        "detail": f"{_against(record, tolerance)}, {_e(error)} against this mistake",
    }


def _against(record: Record, tolerance: float) -> str:
    """How ``record``'s value compares with the reference's, or why it could not be compared."""
    if record.error is None:
        return str(record.output.problem)
    step = _first_time_step(record, tolerance)
    at = "" if step is None else f", first at time step {step}"
    return f"error {record.error:.1e} against the reference{at}"


def _e(error: float | None) -> str:
    return "-" if error is None else f"{error:.1e}"


def _first_time_step(record: Record, tolerance: float) -> int | None:
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


def _cover(explains: dict[str, set[int]]) -> list[str]:
    """Greedily, the mistakes that explain the most checks not yet explained, ties together."""
    chosen: list[str] = []
    uncovered = set().union(*explains.values())
    while uncovered:
        best = max(explains, key=lambda m: len(explains[m] & uncovered))
        new = explains[best] & uncovered
        chosen += [m for m in explains if m not in chosen and explains[m] & uncovered == new]
        uncovered -= new
    return chosen


#: How the mistakes without a variant are found, by id.
_BEHAVIOURS: dict[str, Callable[[Sequence[Record], float], list[tuple[int, dict[str, Any]]]]] = {
    "batch-of-one-only": _batch_dependence,
    "reads-global-weights": _fixed_weights,
}
