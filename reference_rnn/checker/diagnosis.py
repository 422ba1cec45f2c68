"""Naming the mistake: which catalogued wrong variants the user's failed results match.

Long on purpose: the diagnosis is one procedure (match, rule out, tell apart, cover, pair), and
its steps read each other's results.

For every check, every applicable variant (reference_rnn.checker.catalogue) is computed on the same case
and compared with the user's value:

- the variant *explains* a failed check when the user's value agrees with the variant's within
  the tolerance, where the variant's differs from the reference's;
- a *passed* check where the variant differs from the reference rules the variant out for the code
  that made it (the step functions and the sequence functions of a module are separate code): it
  does the right thing exactly where the mistake would not; so does a failed value far from the
  variant's (its own evidence contradicts it): the states, for a forward mistake; a gradient, for
  a backward one, where the user's states were right on that case. Hypotheses are localised: a
  passed check of the states rules out only a mistake in the forward pass, and a passed gradient
  check only a mistake in the backward pass, and only where the user's own states were right on
  that case (a backward that is right given a wrong forward says nothing about the forward).

A mistake is named only on evidence that tells it apart: a failed check it explains on a case
that has what it needs (``Mistake.needs``: T > 1, N > 1), where no other mistake left explains
the same check. One matched only where nothing tells it apart (a degenerate case: at T = 1 dWh
from ``h_t`` is also dWh from the last state) is reported as consistent with the failures, not
named. ``batch-of-one-only`` is named only for code whose batch-of-one cases pass, but those
another mistake explains.

Some mistakes are found from the user's own code, run again on other cases, or seen by the API's
adapter as it called it (:mod:`reference_rnn.checker.behaviours`).

A mistake often explains a few checks that another explains too (at one step, ignoring h0 and
dropping the recurrence are the same thing). The diagnoses are the smallest set, chosen greedily,
that explains every failed check any mistake named explains; mistakes that explain exactly the
same checks are named together (two variants that do are not named: nothing tells them apart).
A forward mistake is also tried with a backward right for its states: it then explains their
gradients too. When failed checks with values are left that no single mistake explains, pairs
are searched (:data:`MAX_PAIRS` at most): a mistake that changes only the inputs, the results or
their layout, with any other (first those with one mistake that explains some checks alone); a
pair that explains more than the single mistakes, on a case that tells it apart, is named as
the pair. Where the pair leaves failed values, a third mistake with it that explains some is
searched; where no pair explains anything, groups of three (:data:`MAX_TRIPLES`). Two mistakes
inside a backward written by hand (``Mistake.stages``) combine where each is in a stage of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from itertools import combinations, islice
from typing import Any

import numpy as np

from reference_rnn.checker.battery import FORWARD_KEYS, Case, Values, evaluate, expected_value
from reference_rnn.checker.behaviours import BEHAVIOURS, MISSED_BY, Found, excused
from reference_rnn.checker.catalogue import MISTAKES, NEEDS, Mistake, combined
from reference_rnn.checker.evidence import Evidence, Record, against, evidence, measured_error
from reference_rnn.checker.variants import backward_of_states
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
#: The most groups of three tried when no pair explains anything (each first on one case).
MAX_TRIPLES = 1500


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
        """``{"mistake", "description", "evidence"}``: the catalogue's description; the evidence's
        fields (``detail`` the sentence the reports show), ``weights`` only when there are any,
        ``checks_explained``, and ``with`` (the partner) only for a pair."""
        shown = asdict(self.evidence)
        weights = shown.pop("weights")
        shown |= {"weights": list(weights)} if weights else {}
        shown |= {"checks_explained": self.checks_explained}
        shown |= {"with": self.partner} if self.partner is not None else {}
        return {"mistake": self.mistake, "description": MISTAKES[self.mistake], "evidence": shown}


def mistake_line(mistake: str) -> str:
    """A named mistake and what it is, in a line, as every report shows it (text, HTML, pytest)."""
    return f"{mistake}: {MISTAKES[mistake]}"


def diagnose(
    records: Sequence[Record], mistakes: Sequence[Mistake], dtype: str
) -> tuple[list[Diagnosis], list[str], dict[str, list[str]]]:
    """Long on purpose: singles, then a pair, then a third, in order.

    The mistakes that explain the failed ``records``, the failed checks none explains, and the
    mistakes those checks are consistent with but that nothing there tells apart (by id, the
    checks each explains).

    A mistake is named only on evidence that tells it apart (:func:`_telling`). The evidence of
    a diagnosis (:class:`~reference_rnn.checker.evidence.Evidence`) is its first explained check
    on the forward pass's values, or its first explained check if it explains none there; a
    mistake named as one of a pair has the other's id as its ``partner``, also said at the end
    of the evidence's ``detail``.
    """
    if all(r.passed for r in records):
        return [], [], {}  # nothing to explain: no variant need run
    tolerance = TOLERANCE[dtype]
    needed = {need for need, meets in NEEDS.items() if any(meets(r.case) for r in records)}
    matched, explained = _singles(records, mistakes, tolerance, needed)
    explains = {mistake: {i for i, _ in found} for mistake, found in explained.items()}
    chosen = _cover(explains)
    covered = set().union(*(explains[m] for m in chosen))
    failed = {i for i, r in enumerate(records) if not r.passed}
    partners: dict[str, str] = {}
    if any(records[i].output.value is not None for i in failed - covered):
        alone = covered | {i for found in matched.values() for i, _ in found}
        best = _best_combination(records, mistakes, tolerance, alone, set(explained), needed)
        if best is None:  # three mistakes, no two of which explain anything together
            best = _best_combination(records, mistakes, tolerance, alone, set(explained), needed, 3)
        if best is not None:
            ids, found = best
            together = dict.fromkeys(ids, found)  # what each explains, as one of the mistakes
            closed = alone | {i for i, _ in found}
            if any(records[i].output.value is not None for i in failed - closed):
                third = _best_combination(
                    records, mistakes, tolerance, closed, set(explained), needed, ids
                )
                if third is not None:  # a third mistake closes what the pair leaves
                    ids, found = third
                    together = {m: together.get(m, []) + found for m in ids}
            partners = {m: "+".join(other for other in ids if other != m) for m in ids}
            for m in ids:  # each explains what it did alone, and the combination's
                explained[m] = sorted(dict(explained.get(m, []) + together[m]).items())
                explains[m] = {i for i, _ in explained[m]}
            chosen = _cover(explains, start=list(ids))
            covered = set().union(*(explains[m] for m in chosen))
    diagnoses = []
    by_id = {mistake.id: mistake for mistake in mistakes}
    for m in chosen:
        found = _own(records, explained[m], by_id[m], tolerance) if m in partners else explained[m]
        evidence_shown = _strongest(records, found, by_id[m].phase == "backward")
        if m in partners:
            detail = f"{evidence_shown.detail}, with {partners[m]}"
            evidence_shown = replace(evidence_shown, detail=detail)
        diagnoses.append(Diagnosis(m, evidence_shown, len(explained[m]), partners.get(m)))
    left = failed - covered
    unexplained = [records[i].name for i in sorted(left)]
    consistent = {
        m: [records[i].name for i, _ in found if i in left]
        for m, found in matched.items()
        if m not in explained and any(i in left for i, _ in found)
    }
    return diagnoses, unexplained, consistent


def _singles(
    records: Sequence[Record], mistakes: Sequence[Mistake], tolerance: float, needed: set[str]
) -> tuple[dict[str, Found], dict[str, Found]]:
    """What each variant matches, and what each mistake shown alone explains (a variant told
    apart, or a behaviour), by id."""
    matched: dict[str, Found] = {}
    for mistake in mistakes:
        if mistake.variant is not None:
            found = _matches(records, mistake, tolerance)
            states = any(records[i].output.key in _STATES for i, _ in found)
            if states and mistake.phase == "forward" and not mistake.time_major:
                # its states, with a backward right for them: it explains their gradients too
                own = replace(mistake, variant=backward_of_states(mistake.variant))
                found = sorted(dict(found + _matches(records, own, tolerance)).items())
            if found:
                matched[mistake.id] = found
    by_id = {mistake.id: mistake for mistake in mistakes}
    shown = _telling(records, matched, by_id, needed)
    explained = {
        m: found + _not_run_after(records, found) for m, found in matched.items() if m in shown
    }
    for m in [m for m in explained if by_id[m].raises_at_one_step]:
        crashed = _raised_at_one_step(records, explained[m])
        explained[m] = sorted(
            dict(explained[m] + crashed + _not_run_after(records, crashed)).items()
        )
    skip = {i for found in explained.values() for i, _ in found}
    behaving = [m.id for m in mistakes if m.variant is None and m.id in BEHAVIOURS]
    by_behaviour: dict[str, Found] = {}
    # batch-of-one-only last: a batch of one's failures another mistake explains leave it possible
    for mistake_id in sorted(behaving, key=lambda m: m == "batch-of-one-only"):
        found = BEHAVIOURS[mistake_id](records, tolerance, skip)
        if found:
            by_behaviour[mistake_id] = found
            skip |= {i for i, _ in found}
    explained |= {m: by_behaviour[m] for m in behaving if m in by_behaviour}  # catalogue order
    return matched, explained


def _raised_at_one_step(records: Sequence[Record], found: Found) -> Found:
    """The states that raised on a one-step case, in the code ``found`` is in."""
    groups = {records[i].group for i, _ in found}
    why = "at T = 1 the loop runs no step, and code that reads a state it never made raises"
    return [
        (i, evidence(r, None, detail=f"{against(r)}; {why}"))
        for i, r in enumerate(records)
        if r.group in groups and r.case.shape[1] == 1 and r.output.key in _STATES
        if not r.passed and r.output.value is None
        if not (r.output.problem or "").startswith("not run")
    ]


def _meets(mistake: Mistake, case: Case, needed: set[str]) -> bool:
    """Whether ``case`` has what ``mistake`` needs to be told apart, of what the run has."""
    return all(NEEDS[need](case) for need in mistake.needs & needed)


def _telling(
    records: Sequence[Record],
    matched: dict[str, Found],
    by_id: dict[str, Mistake],
    needed: set[str],
) -> set[str]:
    """The mistakes in ``matched`` that explain a failed check that tells them apart.

    Telling: on a case with what the mistake needs (:attr:`Mistake.needs`), where no other
    mistake left in ``matched`` explains the same check (there the two give the same value).
    A mistake without such a check is only consistent with the failures.
    """
    explaining: dict[int, int] = {}  # by record: how many mistakes explain it
    for found in matched.values():
        for i, _ in found:
            explaining[i] = explaining.get(i, 0) + 1
    return {
        m
        for m, found in matched.items()
        if any(explaining[i] == 1 and _meets(by_id[m], records[i].case, needed) for i, _ in found)
    }


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


def _best_combination(
    records: Sequence[Record],
    mistakes: Sequence[Mistake],
    tolerance: float,
    covered: set[int],
    seen: set[str],
    needed: set[str],
    base: tuple[str, ...] | int = (),
) -> tuple[tuple[str, ...], Found] | None:
    """The pair of mistakes (given a pair as ``base``, the third one with it; given ``3``, the
    group of three) that explains the most failed checks outside ``covered`` (those single
    mistakes, or the pair, explain: there the combination tells nothing apart), if any.

    Any two mistakes that make one code together (:func:`~reference_rnn.checker.catalogue.combined`:
    two inside the backward, in stages of their own, too). Tried first: those with a mistake in
    ``seen``, those that explain some checks alone (a forward mistake explains the states of code
    with a backward mistake too; the reverse is rarer); each run on the whole battery only if it
    explains the first failed value left (its case alone is run first, and always for a group of
    three), at most :data:`MAX_PAIRS` (:data:`MAX_TRIPLES` groups of three). Counted: only a combination that explains a new check on a case with what
    its mistakes need.
    """
    variants = [m for m in mistakes if m.variant is not None]
    limit = MAX_PAIRS
    if isinstance(base, int):  # every group of ``base`` of them
        groups, base, limit = list(combinations(variants, base)), (), MAX_TRIPLES
    elif base:
        fixed = tuple(m for m in variants if m.id in base)
        groups = [(*fixed, m) for m in variants if m.id not in base]
    else:
        groups = list(combinations(variants, 2))
    candidates = [(group, both) for group in groups if (both := combined(*group)) is not None]
    candidates.sort(key=lambda c: not any(m.id in seen for m in c[0][len(base) :]))  # stable
    left = [i for i, r in enumerate(records) if not r.passed and r.output.value is not None]
    target = next((i for i in left if i not in covered), None)
    if target is None:
        return None  # every failed value is explained already: a pair would tell nothing apart
    scored: list[tuple[int, tuple[str, ...], Found]] = []
    for group, both in islice(candidates, limit):
        alone = base or len(group) > 2 or not any(m.id in seen for m in group)
        if alone and not _explains(records[target], both, tolerance):
            continue
        found = _matches(records, both, tolerance)
        new = {i for i, _ in found} - covered
        if not any(_meets(both, records[i].case, needed) for i in new):
            continue  # nothing new it is told apart by
        scored.append((len(new), tuple(m.id for m in group), found))
    if not scored:
        return None
    _, ids, found = max(scored, key=lambda s: s[0])  # the first of those that explain the most
    return ids, found


def _explains(record: Record, mistake: Mistake, tolerance: float) -> bool:
    """Whether ``mistake``'s variant, run on ``record``'s case alone, gives the user's value."""
    assert record.output.value is not None
    wrong = _value(mistake, record, {})
    tolerance = TOLERANCE["float32"] if mistake.float32_values else tolerance
    user = record.output.value
    return user.shape == wrong.shape and scaled_error(user, wrong) <= tolerance


def _value(mistake: Mistake, record: Record, results: dict[int, Values]) -> FloatArray:
    """``mistake``'s value for ``record``, in the user's layout; ``results`` keeps each case's."""
    assert mistake.variant is not None
    case = record.case
    if id(case) not in results:
        results[id(case)] = evaluate(mistake.variant, case, carries_state=mistake.carries_state)
    wrong = expected_value(results[id(case)], record.output.key)
    if mistake.time_major and record.output.key == "h":
        wrong = wrong.swapaxes(0, 1)  # (N, T, H) -> (T, N, H)
    return wrong


def _own(records: Sequence[Record], found: Found, mistake: Mistake, tolerance: float) -> Found:
    """Of what a combination explains, the checks where ``mistake``'s own variant differs from the
    reference (its evidence among the others'), or all of them where there is none."""
    results: dict[int, Values] = {}
    own = []
    for i, shown in found:
        wrong = _value(mistake, records[i], results)
        right = expected_value(records[i].case.expected, records[i].output.key)
        if wrong.shape != right.shape or scaled_error(wrong, right) > tolerance:
            own.append((i, shown))
    return own or found


def _strongest(records: Sequence[Record], found: Found, backward: bool) -> Evidence:
    """The evidence to show: for a mistake in the forward pass (or both), the first on the
    forward pass's values if any; else, and for a backward mistake, the first on a gradient."""
    forward = [shown for i, shown in found if (records[i].output.key in _STATES) != backward]
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


def _contradicts(
    mistake: Mistake,
    record: Record,
    error: float | None,
    tolerance: float,
    states_right: set[tuple[str, int]],
) -> bool:
    """Whether the user's failed value, far from ``mistake``'s (``error``), rules it out.

    Far: by over ``MISSED_BY`` times the tolerance, or of another size, so that rounding (float32
    states through a saturating case) never does. A forward mistake is ruled out so by the
    states; a backward one by a gradient, where the user's own states were right on that case
    (given other states, its gradients are not the code's).
    """
    states = record.output.key in _STATES
    right = (record.group, id(record.case)) in states_right
    in_forward, in_backward = mistake.phase != "backward", mistake.phase != "forward"  # or both
    telling = (states and in_forward) or (not states and in_backward and right)
    return telling and (error is None or error > MISSED_BY * tolerance)


def _matches(records: Sequence[Record], mistake: Mistake, tolerance: float) -> Found:
    """The failed records ``mistake``'s variant explains; none if a passed record rules it out."""
    match_tolerance = TOLERANCE["float32"] if mistake.float32_values else tolerance
    states = [(r.group, id(r.case), r.passed) for r in records if r.output.key in _STATES]
    states_right = {(g, c) for g, c, ok in states if ok} - {(g, c) for g, c, ok in states if not ok}
    results: dict[int, Values] = {}  # by id(case): the variant once per case
    found: dict[str, Found] = {}  # by group
    ruled_out: set[str] = set()
    for i, record in enumerate(records):
        if excused(record):
            continue  # the weight gradients of a layer that stepped the weights itself
        case = record.case
        wrong = _value(mistake, record, results)
        right = expected_value(case.expected, record.output.key)
        here = max(tolerance, case.tolerance(record.output.key))  # the case's conditioning's
        if wrong.shape == right.shape and scaled_error(wrong, right) <= here:
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
        if error is not None and error <= max(match_tolerance, here):
            found.setdefault(record.group, []).append((i, evidence(record, error)))
        elif _contradicts(mistake, record, error, tolerance, states_right):
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
