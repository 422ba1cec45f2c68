"""Test your own RNN against the reference, from Python or pytest.

    from reference_rnn import testing

    report = testing.check(my_module, api="cs231n")   # or a class: "dlfs2", "dlfs2-cell", "sprint"
    assert report.passed, report.format()

    @pytest.mark.parametrize("case", testing.cases(), ids=str)
    def test_my_rnn(case):
        h, cache = my_rnn_forward(case.x, case.h0, case.Wx, case.Wh, case.b)
        testing.assert_close(h, case.expected["h"], dtype=case.dtype)

- :func:`check`: the battery of ``python -m reference_rnn check``, with the same report: a check
  per value and case, and the named mistakes (:data:`MISTAKES`) when something is wrong.
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
from reference_rnn.checker.runner import Check, Report, run
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


def check(
    obj: object, *, api: str, dtype: str = "float64", cases: Iterable[Case] | None = None
) -> Report:
    """Check ``obj`` (a module for ``api="cs231n"``, else a class) against the reference.

    ``cases`` defaults to the battery in ``dtype``; :func:`make_case` makes others. Nothing the
    user's code does (raise, return a wrong shape or NaN) makes this raise: it fails a check.
    """
    return run(obj, api=api, dtype=dtype, cases=cases)


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
