"""The mistakes found from the user's own code, run again on other cases, not from a variant.

Long on purpose: each behaviour is a few lines, read with the others.

- ``batch-of-one-only`` explains a failed check on a batch when the batch's sequences run one at
  a time are right, and the batch's result (or error) differs from theirs, in code that passes
  every case of a batch of one (but those another mistake explains);
- ``reads-global-weights``: a weight is not taken from the arguments when a case that passes
  fails once that weight alone is given other values of its shape (where the reference's value
  changes). Such code crashes, or returns the wrong shape, where the weights have other sizes
  than the array it reads: it explains the checks that failed so and that run when their case is
  given the passing case's sizes and weights;
- ``time-major-throughout``: code whose failed case, given time-major (x (T, N, D), dh
  (T, N, H)), returns the reference's values time-major: it explains every failed check of that
  code, with the message that the values are right in the time-major layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from reference_rnn.checker.apis.calling import Observation, Output
from reference_rnn.checker.battery import (
    FORWARD_KEYS,
    Case,
    expected_value,
    make_case,
    with_readout,
)
from reference_rnn.checker.evidence import (
    Evidence,
    Record,
    against,
    evidence,
    find,
    measured_error,
)
from reference_rnn.core.measure import scaled_error

__all__ = ["BEHAVIOURS", "MISSED_BY", "excused"]

# stacked along the batch; weight gradients add up
_PER_SEQUENCE = ("h", "h_last", "y", "dx", "dh0")
_WEIGHTS = ("Wx", "Wh", "b")

#: Found: (index of the record, evidence), for the records a mistake explains.
Found = list[tuple[int, Evidence]]


def _batch_dependence(records: Sequence[Record], tolerance: float, skip: set[int]) -> Found:
    """Failed batch records whose sequences one at a time are right, and differ from the batch.

    Records in ``skip`` (explained by a catalogued variant) are left alone, and so is code
    that fails a case of a batch of one that no variant explains: it does not work for a batch
    of one either.
    """
    singles: dict[int, list[Observation]] = {}
    found = []
    alone_fails = {
        r.group
        for i, r in enumerate(records)
        if r.case.shape[0] == 1 and not r.passed
        if i not in skip
    }
    for i, record in enumerate(records):
        case = record.case
        if record.passed or case.shape[0] == 1 or i in skip or record.group in alone_fails:
            continue
        if id(case) not in singles:
            singles[id(case)] = [record.rerun(case.sequence(n)) for n in range(case.shape[0])]
        # by name: a layer may return another kind of value for a batch of one (sprint's (T, H))
        outputs = [find(observation, record.output.name) for observation in singles[id(case)]]
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
        if alone_error > tolerance:
            continue  # wrong one at a time too: the batch is not the cause
        detail = (
            f"a batch of {case.shape[0]}: "
            f"{record.output.problem or f'error {record.error:.1e} against the reference'}; "
            f"the same sequences one at a time: error {alone_error:.1e} against the reference"
        )
        found.append((i, evidence(record, difference, detail=detail)))
    return found


def _fixed_weights(records: Sequence[Record], tolerance: float, _skip: set[int]) -> Found:
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
        weights = tuple(weight for weight, _ in witnesses)
        weight, witness = witnesses[0]
        _, _, D, H = witness.case.shape
        resized: dict[int, Observation] = {}  # by id(case): each case once
        for i, record in members:
            case = record.case
            if record.passed or record.output.problem is None:
                continue  # the values tell more: a variant's, or none
            if id(case) not in resized:
                resized[id(case)] = record.rerun(_resized(case, witness.case))
            output = find(resized[id(case)], record.output.name)
            if output is None or output.problem is not None:
                continue  # it fails with those sizes too: something else is wrong
            detail = (
                f"{against(record)}; it runs with the sizes and weights of "
                f"{witness.case.name} (D={D}, H={H}), where it does not use the "
                f"{', '.join(weights)} passed in: "
                f"{witness.name} passes, but with another {weight} of that shape, "
                f"{against(witness)}"
            )
            found.append((i, evidence(record, None, detail=detail, weights=weights)))
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
    if like.readout is not None:  # an output layer of its own sizes, and dh from its dy
        new = with_readout(new, softmax=like.readout.softmax)
    return replace(new, Wx=like.Wx, Wh=like.Wh, b=like.b)


def _seen(
    mistake: str,
    why: str,
    *,
    layout: bool = False,
    every_value: bool = False,
    keys: frozenset[str] | None = None,
) -> Callable[[Sequence[Record], float, set[int]], Found]:
    """A mistake the API's adapter saw as it called the code: the failed checks of those calls.

    The gradients' checks only, since forward ran as it should; for a mistake of the ``layout``
    of the inputs, every failed check of the code that made it (where the shapes happen to
    broadcast it is seen; elsewhere the same code raised); with ``every_value``, every failed
    check of the calls where it was seen; with ``keys``, the failed checks of those values only,
    and every value of a case in two blocks (the second block runs after the first's backward).
    """

    def look(records: Sequence[Record], _tolerance: float, _skip: set[int]) -> Found:
        groups = {r.group for r in records if mistake in r.seen} if layout else set()
        found = []
        for i, record in enumerate(records):
            seen = mistake in record.seen or record.group in groups
            own = (
                record.output.key not in FORWARD_KEYS if keys is None else _accounted(record, keys)
            )
            counted = layout or every_value or own
            if seen and counted and not record.passed:
                found.append((i, evidence(record, None, detail=f"{against(record)}; {why}")))
        return found

    return look


def _left_graph(records: Sequence[Record], _tolerance: float, _skip: set[int]) -> Found:
    """Gradients torch could not compute from code whose forward values were right.

    Right values on every case, with no gradient: the forward computed them outside torch's
    graph. (Values wrong on some case, with no gradient, are another mistake's: a weight read
    from elsewhere, or an initial state ignored, which a zero h0 hides.)
    """
    wrong = {r.group for r in records if r.output.key in FORWARD_KEYS and not r.passed}
    found = []
    for i, record in enumerate(records):
        gradient = record.output.key not in FORWARD_KEYS
        right = record.group not in wrong
        if "leaves-the-graph" in record.seen and gradient and right and not record.passed:
            detail = (
                f"{against(record)}; the outputs were right, but torch has no "
                "gradient for them: the forward left the graph"
            )
            found.append((i, evidence(record, None, detail=detail)))
    return found


def _time_major(records: Sequence[Record], tolerance: float, _skip: set[int]) -> Found:
    """Every failed check of code that is right when given its case time-major.

    The code is given a failed case of N > 1 sequences of T > 1 steps, N != T (so that
    batch-first code cannot run it right), with x (T, N, D) and dh (T, N, H); it is right there
    when every value it returns is the reference's, the states and dx read as (T, N, .).
    """
    found = []
    for group in dict.fromkeys(r.group for r in records if not r.passed):
        members = [(i, r) for i, r in enumerate(records) if r.group == group]
        failed = [r.case for _, r in members if not r.passed]
        case = next((c for c in failed if _tells_layouts_apart(c)), None)
        if any(r.output.key == "h_last" for _, r in members):
            continue  # the final state only (N, H): it has no time axis to lay out
        if case is None or not _right_time_major(
            members[0][1].rerun(_transposed(case)), case, tolerance
        ):
            continue
        given = f"{case.name} given time-major, x (T, N, D) and dh (T, N, H)"
        for i, record in members:
            if not record.passed:
                detail = f"{against(record)}; {given}: values are right in the time-major layout"
                found.append((i, evidence(record, None, detail=detail)))
    return found


def _tells_layouts_apart(case: Case) -> bool:
    """Whether ``case`` runs right in one layout only: N > 1, T > 1, N != T, in one call."""
    N, T, _, _ = case.shape
    return N > 1 and T > 1 and N != T and case.split is None and case.readout is None


def _transposed(case: Case) -> Case:
    """``case`` laid out time-major: x (T, N, D) and dh (T, N, H); h0 stays (N, H).

    Its expected values are ``case``'s in that layout, set here: the reference cannot compute
    them (to it, N would be T, and h0 of another shape), and a worker's values are read against
    their shapes.
    """
    laid_out = replace(case, x=case.x.swapaxes(0, 1).copy(), dh=case.dh.swapaxes(0, 1).copy())
    expected = {k: v.swapaxes(0, 1) if k in _TIME_AXIS else v for k, v in case.expected.items()}
    laid_out.__dict__["expected"] = expected  # the cached_property's own slot
    return laid_out


def _right_time_major(observation: Observation, case: Case, tolerance: float) -> bool:
    """Whether every value in ``observation`` is ``case``'s, those with a time axis (T, N, .)."""
    outputs = observation.outputs
    return bool(outputs) and all(_right_value(o, case, tolerance) for o in outputs)


def _right_value(output: Output, case: Case, tolerance: float) -> bool:
    """Whether ``output`` is ``case``'s value, read time-major if it has a time axis."""
    if output.value is None:
        return False
    value = output.value.swapaxes(0, 1) if output.key in _TIME_AXIS else output.value
    right = expected_value(case.expected, output.key)
    return value.shape == right.shape and scaled_error(value, right) <= tolerance


_TIME_AXIS = ("h", "dx", "y")  # (N, T, .) in the reference's layout


_WEIGHT_GRADIENTS = frozenset({"dWx", "dWh", "db"})
#: The values a mistake seen in a call accounts for, whatever else is wrong in that code: a
#: layer that takes an optimizer step in backward leaves no weight gradients to read, and its
#: other values (dx) still show any other mistake.
_ACCOUNTS_FOR = {"weights-updated-in-backward": _WEIGHT_GRADIENTS}


def excused(record: Record) -> bool:
    """Whether ``record``'s value is one a mistake seen in its call accounts for: it then says
    nothing for or against a variant."""
    return any(_accounted(record, _ACCOUNTS_FOR[m]) for m in record.seen if m in _ACCOUNTS_FOR)


def _accounted(record: Record, keys: frozenset[str]) -> bool:
    """Whether ``record`` is one of ``keys``, or of a case in two blocks: its second block ran
    with the weights the first block's backward changed."""
    return record.output.key in keys or record.case.split is not None


#: How the mistakes without a variant are found, by id.
BEHAVIOURS: dict[str, Callable[[Sequence[Record], float, set[int]], Found]] = {
    "weights-updated-in-backward": _seen(
        "weights-updated-in-backward",
        "backward changed the weights it was given (an optimizer step inside backward)",
        keys=_WEIGHT_GRADIENTS,
    ),
    "backward-is-generator": _seen(
        "backward-is-generator",
        "backward returned a generator: its body never ran until iterated",
    ),
    "column-bias-gradient-flat": _seen(
        "column-bias-gradient-flat", "dba came back as (n_a,), where the layout has (n_a, 1)"
    ),
    "column-input-as-rows": _seen(
        "column-input-as-rows",
        "the batch axis came back with n_x's size: x was read as (m, n_x), not (n_x, m)",
        layout=True,
    ),
    "leaves-the-graph": _left_graph,
    "in-place-write": _seen(
        "in-place-write",
        "torch's backward raised: the forward wrote in place into a tensor autograd needs",
    ),
    "imports-the-reference": _seen(
        "imports-the-reference",
        "the worker refused it: the checked code's values must be its own",
        every_value=True,
    ),
    "modifies-its-arguments": _seen(
        "modifies-its-arguments",
        "the arrays it was given were not the same after the call",
        every_value=True,
    ),
    "batch-of-one-only": _batch_dependence,
    "time-major-throughout": _time_major,
    "reads-global-weights": _fixed_weights,
}
