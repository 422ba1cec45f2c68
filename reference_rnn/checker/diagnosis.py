"""Naming the mistake: which catalogued wrong variants the user's failed results match.

For every check, every applicable variant (reference_rnn.checker.catalogue) is computed on the same case
and compared with the user's value:

- the variant *explains* a failed check when the user's value agrees with the variant's within
  the tolerance, where the variant's differs from the reference's;
- a *passed* check where the variant differs from the reference rules the variant out for the code
  that made it (the step functions and the sequence functions of a module are separate code): it
  does the right thing exactly where the mistake would not; so do failed states far from the
  variant's, for a forward mistake (its own evidence contradicts it). Hypotheses are localised: a passed
  check of the states rules out only a mistake in the forward pass, and a passed gradient check
  only a mistake in the backward pass, and only where the user's own states were right on that
  case (a backward that is right given a wrong forward says nothing about the forward).

Some mistakes are found from the user's own code, run again on other cases, or seen by the API's
adapter as it called it (:mod:`reference_rnn.checker.behaviours`).

A mistake often explains a few checks that another explains too (at one step, ignoring h0 and
dropping the recurrence are the same thing). The diagnoses are the smallest set, chosen greedily,
that explains every failed check any mistake explains; mistakes that explain exactly the same
checks are named together, since nothing here tells them apart. When failed checks with values
are left that no single mistake explains, pairs are searched (:data:`MAX_PAIRS` at most): a
mistake that changes only the inputs, the results or their layout, with any other, one of the two
explaining some checks alone; a pair that explains more than the single mistakes is named as the
pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from itertools import islice
from typing import Any

import numpy as np

from reference_rnn.checker.battery import FORWARD_KEYS, Values, evaluate, expected_value
from reference_rnn.checker.behaviours import BEHAVIOURS, MISSED_BY, Found
from reference_rnn.checker.catalogue import MISTAKES, Mistake, pair
from reference_rnn.checker.evidence import Evidence, Record, evidence, measured_error
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import FloatArray

__all__ = [
    "MAX_PAIRS",
    "Diagnosis",
    "Evidence",
    "Record",
    "diagnose",
    "measured_error",
    "mistake_line",
]

_STATES = FORWARD_KEYS
#: The most pairs of mistakes tried when no single one explains the failures.
MAX_PAIRS = 250


@dataclass(frozen=True)
class Diagnosis:
    """A named mistake, the evidence for it, and how many failed checks it explains.

    ``partner``: the other mistake, when this one is named as one of a pair (see :func:`diagnose`).
    """

    mistake: str
    evidence: Evidence
    checks_explained: int
    partner: str | None = None

    def evidence_line(self) -> str:
        """The evidence in a line, as every report shows it (text, HTML, pytest)."""
        e, explains = self.evidence, self.checks_explained
        return f"{e.check}: {e.detail}; explains {explains} failed check{'s' * (explains > 1)}"

    def to_json(self) -> dict[str, Any]:
        """``{"mistake", "evidence"}``: the evidence's fields, ``weights`` only when there are any,
        ``checks_explained``, and ``with`` (the partner) only for a pair."""
        shown = asdict(self.evidence)
        weights = shown.pop("weights")
        shown |= {"weights": list(weights)} if weights else {}
        shown |= {"checks_explained": self.checks_explained}
        shown |= {"with": self.partner} if self.partner is not None else {}
        return {"mistake": self.mistake, "evidence": shown}


def mistake_line(mistake: str) -> str:
    """A named mistake and what it is, in a line, as every report shows it (text, HTML, pytest)."""
    return f"{mistake}: {MISTAKES[mistake]}"


def diagnose(
    records: Sequence[Record], mistakes: Sequence[Mistake], dtype: str
) -> tuple[list[Diagnosis], list[str]]:
    """The mistakes that explain the failed ``records``, and the failed checks none explains.

    The evidence of a diagnosis (:class:`~reference_rnn.checker.evidence.Evidence`) is its first
    explained check on the forward pass's values, or its first explained check if it explains
    none there; a mistake named as one of a pair has the other's id as its ``partner``, also
    said at the end of the evidence's ``detail``.
    """
    tolerance = TOLERANCE[dtype]
    explained: dict[str, Found] = {}
    for mistake in mistakes:
        if mistake.variant is not None:
            found = _matches(records, mistake, tolerance)
            if found:
                explained[mistake.id] = found
    for mistake_id, found in list(explained.items()):
        explained[mistake_id] = found + _not_run_after(records, found)
    by_variants = {i for found in explained.values() for i, _ in found}
    for mistake in mistakes:
        if mistake.variant is None and mistake.id in BEHAVIOURS:
            found = BEHAVIOURS[mistake.id](records, tolerance, by_variants)
            if found:
                explained[mistake.id] = found
    explains = {mistake: {i for i, _ in found} for mistake, found in explained.items()}
    chosen = _cover(explains)
    covered = set().union(*(explains[m] for m in chosen))
    failed = {i for i, r in enumerate(records) if not r.passed}
    partners: dict[str, str] = {}
    if any(records[i].output.value is not None for i in failed - covered):
        best = _best_pair(records, mistakes, tolerance, covered, set(explained))
        if best is not None:
            (first, second), found = best
            partners = {first: second, second: first}
            for m in (first, second):  # each explains what it did alone, and the pair's
                explained[m] = sorted(dict(explained.get(m, []) + found).items())
                explains[m] = {i for i, _ in explained[m]}
            chosen = _cover(explains, start=[first, second])
            covered = set().union(*(explains[m] for m in chosen))
    diagnoses = []
    for m in chosen:
        shown = _strongest(records, explained[m])
        if m in partners:
            shown = replace(shown, detail=f"{shown.detail}, with {partners[m]}")
        diagnoses.append(Diagnosis(m, shown, len(explained[m]), partners.get(m)))
    unexplained = [records[i].name for i in sorted(failed - covered)]
    return diagnoses, unexplained


def _not_run_after(records: Sequence[Record], found: Found) -> Found:
    """The checks not run because the states they follow failed, where ``found`` explains those."""
    states = {
        (records[i].group, id(records[i].case)): shown
        for i, shown in found
        if records[i].output.key in _STATES
    }
    return [
        (i, states[(r.group, id(r.case))])
        for i, r in enumerate(records)
        if (r.group, id(r.case)) in states and (r.output.problem or "").startswith("not run")
    ]


def _best_pair(
    records: Sequence[Record],
    mistakes: Sequence[Mistake],
    tolerance: float,
    covered: set[int],
    seen: set[str],
) -> tuple[tuple[str, str], Found] | None:
    """The pair of mistakes that explains the most failed checks outside ``covered``, if any.

    Tried: pairs with one mistake in ``seen``, those that explain some checks alone (a forward
    mistake explains the states of code with a backward mistake too; the reverse is rarer).
    """
    variants = [m for m in mistakes if m.variant is not None]
    candidates = (
        (first, second)
        for i, first in enumerate(variants)
        for j, second in enumerate(variants)
        if first.composable and i != j and not (second.composable and j < i)
        if first.id in seen or second.id in seen
    )
    best: tuple[tuple[str, str], Found] | None = None
    most = 0
    for first, second in islice(candidates, MAX_PAIRS):
        found = _matches(records, pair(first, second), tolerance)
        new = len({i for i, _ in found} - covered)
        if new > most:
            best, most = ((first.id, second.id), found), new
    return best


def _strongest(records: Sequence[Record], found: Found) -> Evidence:
    """The evidence to show: the first on the forward pass's values if any, else the first."""
    forward = [shown for i, shown in found if records[i].output.key in _STATES]
    return forward[0] if forward else found[0][1]


def _rules_out(mistake: Mistake, record: Record, states_right: set[tuple[str, int]]) -> bool:
    """Whether ``record``, passed where ``mistake`` differs, rules the mistake out."""
    if mistake.float32_values:
        return False  # buffers are per value: others may be float64
    forward = record.output.key in _STATES
    if mistake.phase == "forward":
        return forward
    if mistake.phase == "backward":
        return not forward and (record.group, id(record.case)) in states_right
    return True


def _contradicts(mistake: Mistake, record: Record, error: float | None, tolerance: float) -> bool:
    """Whether the user's failed states, far from ``mistake``'s (``error``), rule it out.

    Far: by over ``MISSED_BY`` times the tolerance, or of another shape, so that rounding (float32
    states through a saturating case) never does. Only a forward mistake's states are so telling.
    """
    if mistake.phase == "backward" or record.output.key not in _STATES:
        return False
    return error is None or error > MISSED_BY * tolerance


def _matches(records: Sequence[Record], mistake: Mistake, tolerance: float) -> Found:
    """The failed records ``mistake``'s variant explains; none if a passed record rules it out."""
    assert mistake.variant is not None
    variant = mistake.variant
    match_tolerance = TOLERANCE["float32"] if mistake.float32_values else tolerance
    states = [(r.group, id(r.case), r.passed) for r in records if r.output.key in _STATES]
    states_right = {(g, c) for g, c, ok in states if ok} - {(g, c) for g, c, ok in states if not ok}
    results: dict[int, Values] = {}  # by id(case): the variant once per case
    found: dict[str, Found] = {}  # by group
    ruled_out: set[str] = set()
    for i, record in enumerate(records):
        case = record.case
        if id(case) not in results:
            results[id(case)] = evaluate(variant, case, carries_state=mistake.carries_state)
        wrong = expected_value(results[id(case)], record.output.key)
        if mistake.time_major and record.output.key == "h":
            wrong = wrong.swapaxes(0, 1)  # (N, T, H) -> (T, N, H)
        right = expected_value(case.expected, record.output.key)
        if wrong.shape == right.shape and scaled_error(wrong, right) <= tolerance:
            continue  # here the mistake makes no difference
        if record.passed:
            if _same_values(wrong, right, tolerance):
                continue  # another shape only, which the API's layout can hide: (n_a, 1) for (1, H)
            if _rules_out(mistake, record, states_right):
                ruled_out.add(record.group)
            continue
        user = record.output.value
        if user is None:
            continue
        error = scaled_error(user, wrong) if user.shape == wrong.shape else None
        if mistake.float32_values and not np.array_equal(user, user.astype(np.float32)):
            continue
        if error is not None and error <= match_tolerance:
            found.setdefault(record.group, []).append((i, evidence(record, error)))
        elif _contradicts(mistake, record, error, tolerance):
            ruled_out.add(record.group)  # wrong states, but not as this mistake's
    kept = [item for group, items in found.items() if group not in ruled_out for item in items]
    return sorted(kept, key=lambda item: item[0])


def _same_values(wrong: FloatArray, right: FloatArray, tolerance: float) -> bool:
    """Whether ``wrong`` is ``right`` laid out with other axes of size one."""
    return wrong.size == right.size and scaled_error(wrong.reshape(right.shape), right) <= tolerance


def _cover(explains: dict[str, set[int]], start: Sequence[str] = ()) -> list[str]:
    """Greedily, the mistakes that explain the most checks not yet explained, ties together."""
    chosen: list[str] = list(start)
    uncovered = set().union(*explains.values()) - set().union(*(explains[m] for m in start))
    while uncovered:
        best = max(explains, key=lambda m: len(explains[m] & uncovered))
        new = explains[best] & uncovered
        chosen += [m for m in explains if m not in chosen and explains[m] & uncovered == new]
        uncovered -= new
    return chosen
