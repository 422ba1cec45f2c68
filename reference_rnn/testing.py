"""Test your own RNN against the reference, from Python or pytest.

    from reference_rnn import testing

    report = testing.check(my_module, api="cs231n")   # or a class: "dlfs2", "dlfs2-cell", "sprint"
    assert report.passed, report.format()

    @pytest.mark.parametrize("case", testing.cases(), ids=str)
    def test_my_rnn(case):
        h, cache = my_rnn_forward(case.x, case.h0, case.Wx, case.Wh, case.b)
        testing.assert_close(h, case.expected["h"], dtype=case.dtype)

- :func:`check`: the battery of ``python -m reference_rnn check``, with the same report: a check
  per value and case, and the named mistakes (:data:`MISTAKES`) when something is wrong. The
  code is called in a worker process under a time limit, as the command calls it.
- :func:`assert_close`: the project's error measure, ``max|actual - expected| / max|expected|``,
  against its tolerance for the dtype (1e-12 for float64, 1e-5 for float32).
- :func:`cases`: the battery's cases. Each has the inputs ``x (N, T, D)``, ``h0 (N, H)``, ``Wx``,
  ``Wh``, ``b`` and the upstream gradient ``dh (N, T, H)`` in its dtype, and ``expected``: the
  reference's ``h``, ``dx``, ``dh0``, ``dWx``, ``dWh`` and ``db`` for them (float64).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from reference_rnn.checker.apis import APIS
from reference_rnn.checker.battery import DTYPES, Case, battery, make_case
from reference_rnn.checker.catalogue import MISTAKES
from reference_rnn.checker.diagnosis import Diagnosis
from reference_rnn.checker.runner import Check, Report, run, target_name, validated
from reference_rnn.checker.sandbox import Limits, check_target
from reference_rnn.checker.target import load_target, locate
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import FloatArray

__all__ = [
    "APIS",
    "MISTAKES",
    "Case",
    "Check",
    "Diagnosis",
    "Report",
    "assert_close",
    "cases",
    "check",
    "make_case",
]

_LIMITS = Limits()  # the command's defaults


def check(
    obj: object,
    *,
    api: str,
    dtype: str = "float64",
    cases: Iterable[Case] | None = None,
    isolate: bool = True,
    timeout: float = _LIMITS.timeout,
    memory_limit: int = _LIMITS.memory,
) -> Report:
    """Check ``obj`` (a module for ``api="cs231n"``, else a class) against the reference.

    ``obj`` may also be a TARGET string, as ``python -m reference_rnn check`` takes it
    (``"path/to/file.py:NAME"``). ``cases`` defaults to the battery in ``dtype``;
    :func:`make_case` makes others. Nothing the user's code does (raise, return a wrong shape or
    NaN, exit, crash, hang) makes this raise: it fails a check.

    The code is loaded again and called in a worker process, as the command does: each call
    within ``timeout`` seconds, with ``memory_limit`` more megabytes of address space (0: no
    limit). So ``obj`` must be importable there: a module, or a class defined at the top of one
    (ValueError otherwise). ``isolate=False`` calls ``obj`` itself, in this process: for
    debugging only, never for grading, since the code can then end, hang or change the checker.
    """
    if not isolate:
        checked = load_target(obj) if isinstance(obj, str) else obj
        target = obj if isinstance(obj, str) else None
        return run(checked, api=api, dtype=dtype, cases=cases, target=target)
    limits = Limits(timeout=timeout, memory=memory_limit)
    cases = validated(api, dtype, cases)  # before anything is loaded
    if isinstance(obj, str):
        return check_target(obj, api=api, dtype=dtype, cases=cases, limits=limits)
    name = target_name(obj)
    return check_target(locate(obj), api=api, dtype=dtype, cases=cases, limits=limits, name=name)


def cases(dtype: str = "float64", *, seed: int = 0, stateful: bool = False) -> Iterator[Case]:
    """The battery's cases in ``dtype``; ``stateful`` adds the case fed in two blocks.

    ``ids=str`` in ``pytest.mark.parametrize`` names each test after its case.
    """
    yield from battery(dtype, seed=seed, stateful=stateful)


def assert_close(actual: object, expected: object, *, dtype: str) -> None:
    """Raise AssertionError unless ``actual`` is within the project's tolerance of ``expected``.

    The error is ``max|actual - expected| / max|expected|`` (the absolute error where
    ``expected`` is all zero), the tolerance ``TOLERANCE[dtype]``; shapes must be equal.
    """
    if dtype not in DTYPES:
        msg = f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
        raise ValueError(msg)
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    tolerance = TOLERANCE[dtype]
    header = (
        f"\nNot equal to tolerance {tolerance:g} ({dtype}; "
        "error = max|actual - expected| / max|expected|)\n\n"
    )
    if a.shape != e.shape:
        raise AssertionError(header + f"(shapes {a.shape}, {e.shape} mismatch)" + _arrays(a, e))
    error = scaled_error(a, e)
    if error <= tolerance:
        return
    difference = np.abs(a - e)
    difference[np.isnan(difference)] = np.inf  # a NaN is the worst element
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(difference), a.shape))
    lines = [
        f"Error: {error:.3g}",
        (
            f"Max absolute difference: {difference[worst]:.3g} at index {worst} "
            f"(actual {a[worst]:.17g}, expected {e[worst]:.17g})"
        ),
        f"Max absolute expected: {np.abs(e).max():.3g}",
    ]
    raise AssertionError(header + "\n".join(lines) + _arrays(a, e))


def _arrays(actual: FloatArray, expected: FloatArray) -> str:
    with np.printoptions(threshold=20, edgeitems=2, precision=8):
        return f"\n ACTUAL: {actual!r}\n EXPECTED: {expected!r}"
