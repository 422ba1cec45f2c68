"""Test your own RNN against the reference, from Python or pytest.

    from reference_rnn import testing

    report = testing.check(my_module, api="cs231n")   # or a class: "dlfs2", "dlfs2-cell", "sprint"
    assert report.passed, report.format()

    @pytest.mark.parametrize("case", testing.cases(), ids=testing.case_id)
    def test_my_rnn(case):
        h, cache = my_rnn_forward(case.x, case.h0, case.Wx, case.Wh, case.b)
        testing.assert_close(h, case.expected["h"], dtype=case.dtype, name="h")

    # or a test per case and value, the code run in a worker process as `check` runs it
    @pytest.mark.parametrize(*testing.parametrize("my_package.rnn", api="cs231n"))
    def test_rnn(rnn_check):
        rnn_check.assert_passed()

- :func:`check`: the battery of ``python -m reference_rnn check``, with the same report: a check
  per value and case, and the named mistakes (:data:`MISTAKES`) when something is wrong. The
  code is called in a worker process under a time limit, as the command calls it.
- :func:`assert_close`: the project's error measure, ``max|actual - expected| / max|expected|``,
  against its tolerance for the dtype (1e-12 for float64, 1e-5 for float32).
- :func:`parametrize`: the check as a test per case, dtype and value; the pytest plugin
  (``pytest --rnn-target TARGET --rnn-api API``) collects the same tests without a test module.
- :func:`cases`: the battery's cases. Each has the inputs ``x (N, T, D)``, ``h0 (N, H)``, ``Wx``,
  ``Wh``, ``b`` and the upstream gradient ``dh (N, T, H)`` in its dtype, and ``expected``: the
  reference's ``h``, ``dx``, ``dh0``, ``dWx``, ``dWh`` and ``db`` for them (float64).

The package also holds the pytest plugin (:mod:`~reference_rnn.testing.plugin`, the ``pytest11``
entry point), a report's checks as test items (:mod:`~reference_rnn.testing.items`) and hypothesis
strategies (:mod:`~reference_rnn.testing.strategies`). May import the core and the checker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, cast

import numpy as np

from reference_rnn.checker.apis import APIS, with_tensors
from reference_rnn.checker.battery import DTYPES, Case, battery, make_case
from reference_rnn.checker.catalogue import MISTAKES
from reference_rnn.checker.diagnosis import Diagnosis
from reference_rnn.checker.limits import megabytes, named, seconds
from reference_rnn.checker.runner import Check, Report, run, target_name, validated
from reference_rnn.checker.sandbox import Limits, check_target
from reference_rnn.checker.target import load_target, locate
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import FloatArray
from reference_rnn.testing.items import CheckedValue, checked_values

__all__ = [
    "APIS",
    "MISTAKES",
    "Api",
    "Case",
    "Check",
    "CheckedValue",
    "Diagnosis",
    "Dtype",
    "Report",
    "assert_close",
    "case_id",
    "cases",
    "check",
    "make_case",
    "parametrize",
]

_LIMITS = Limits()  # the command's defaults

#: The APIs :func:`check` takes, and the dtypes a case comes in.
Api = Literal["cs231n", "cs231n-torch", "coursera", "d2l", "dlfs2", "dlfs2-cell", "sprint"]
Dtype = Literal["float64", "float32"]
Tensors = Literal["numpy", "torch"]


def check(
    obj: object,
    *,
    api: Api,
    dtype: Dtype = "float64",
    cases: Iterable[Case] | None = None,
    isolate: bool = True,
    timeout: float = _LIMITS.timeout,
    memory_limit: int = _LIMITS.memory,
    tensors: Tensors | None = None,
    worker_user: str | None = None,
    seed: int | None = None,
    forward_only: bool = False,
) -> Report:
    """Check ``obj`` against the reference: a module (``cs231n``, ``coursera``), a class, or
    d2l's ``rnn`` function.

    ``tensors="torch"`` with ``api="cs231n"``: the module's functions take torch tensors
    (EECS 498-007's), the same as ``api="cs231n-torch"``; ``d2l`` always takes them.

    ``obj`` may also be a TARGET string, as ``python -m reference_rnn check`` takes it
    (``"path/to/file.py:NAME"``). ``cases`` defaults to the battery in ``dtype``, drawn from
    ``seed`` (a fresh one each run if None: ``report.seed`` says which); :func:`make_case` makes
    others. ``forward_only=True``: a backward the API's exercise asks for (``cs231n``, ``dlfs2``)
    may be missing, the forward then checked alone. Nothing the user's code does (raise, return a wrong shape or
    NaN, exit, crash, hang) makes this raise: it fails a check.

    The code is loaded again and called in a worker process, as the command does: each call
    within ``timeout`` seconds, with ``memory_limit`` more megabytes of address space (0: no
    limit), as ``worker_user`` (default ``nobody``) when run as root. So ``obj`` must be importable there: a module, or a class defined at the top of one
    (ValueError otherwise). ``isolate=False`` calls ``obj`` itself, in this process: for
    debugging only, never for grading, since the code can then end, hang or change the checker.
    """
    api = cast("Api", with_tensors(api, tensors))
    limits = _limits(timeout, memory_limit, worker_user)
    if not isolate:
        checked = load_target(obj) if isinstance(obj, str) else obj
        target = obj if isinstance(obj, str) else None
        return run(
            checked,
            api=api,
            dtype=dtype,
            cases=cases,
            target=target,
            seed=seed,
            forward_only=forward_only,
        )
    cases = validated(api, dtype, cases, seed)  # before anything is loaded
    target, name = (obj, None) if isinstance(obj, str) else (locate(obj), target_name(obj))
    return check_target(
        target,
        api=api,
        dtype=dtype,
        cases=cases,
        limits=limits,
        name=name,
        seed=seed,
        forward_only=forward_only,
    )


def parametrize(
    target: object,
    *,
    api: Api,
    dtype: Dtype | Sequence[Dtype] = "float64",
    argname: str = "rnn_check",
    timeout: float = _LIMITS.timeout,
    memory_limit: int = _LIMITS.memory,
    seed: int | None = None,
    forward_only: bool = False,
) -> tuple[str, list[Any]]:
    """The check of ``target`` as ``pytest.mark.parametrize``'s arguments: a test per value.

        @pytest.mark.parametrize(*testing.parametrize("my_package.rnn", api="cs231n"))
        def test_rnn(rnn_check):
            rnn_check.assert_passed()

    ``target`` is what :func:`check` takes, and the result ``(argname, params)``. The check
    runs once, when the test module is
    collected, with the code under test in a worker process; each :class:`CheckedValue` then
    passes or fails alone, its id naming the function or method that returned the value, the
    case, the dtype and the value (``test_rnn[rnn_step_backward-sample-h0-float64-dWh]``), its
    failure the error, the first failing time step, the mistake the diagnosis names and the
    first mismatching element. ``seed`` and ``forward_only`` as for :func:`check`.
    """
    dtypes = [dtype] if isinstance(dtype, str) else list(dtype)
    for each in dtypes:
        validated(api, each, None, seed)
    limits = _limits(timeout, memory_limit)
    found, name = (
        (target, None) if isinstance(target, str) else (locate(target), target_name(target))
    )
    values = checked_values(
        found,
        api=api,
        dtypes=dtypes,
        limits=limits,
        name=name,
        seed=seed,
        forward_only=forward_only,
    )
    import pytest  # noqa: PLC0415  (only here: the rest of this module runs without pytest)

    return argname, [pytest.param(value, id=value.id) for value in values]


def _limits(timeout: float, memory_limit: int, worker_user: str | None = None) -> Limits:
    """The worker's limits; ValueError naming the argument that is out of range."""
    named("timeout", seconds, timeout)
    named("memory_limit", megabytes, memory_limit)
    return Limits(timeout=timeout, memory=memory_limit, worker_user=worker_user)


def cases(dtype: Dtype = "float64", *, seed: int = 0, stateful: bool = False) -> list[Case]:
    """The battery's cases in ``dtype``; ``stateful`` adds the case fed in two blocks.

    ``ids=testing.case_id`` in ``pytest.mark.parametrize`` names each test after its case and
    dtype (``sample-h0-float32``).
    """
    return battery(dtype, seed=seed, stateful=stateful)


def case_id(case: Case) -> str:
    """A test id for ``case``: its name and dtype, ``sample-h0-float64``."""
    return f"{case.name}-{case.dtype}"


def assert_close(
    actual: object,
    expected: object,
    *,
    dtype: Dtype | None = None,
    msg: str | None = None,
    name: str | None = None,
    check_dtype: bool = True,
) -> None:
    """Raise AssertionError unless ``actual`` is within the project's tolerance of ``expected``.

    The error is ``max|actual - expected| / max|expected|`` (the absolute error where
    ``expected`` is all zero), the tolerance ``TOLERANCE[dtype]``; shapes must be equal.
    ``dtype`` defaults to ``actual``'s (float64 for a list or integers); with ``check_dtype``, a
    floating ``actual`` must have that dtype (a float64 result of a float32 case fails). ``name`` (``"dWh"``) and ``msg`` go into the failure's first lines.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    own = np.asarray(actual).dtype
    if dtype is None:
        dtype = "float64" if own.kind in "biu" else cast("Dtype", str(own))
    if dtype not in DTYPES:
        message = f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}"
        raise ValueError(message)
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    tolerance = TOLERANCE[dtype]
    what = "" if name is None else f" for {name}"
    header = [
        "",
        (
            f"Not equal to tolerance {tolerance:g}{what} ({dtype}; "
            "error = max|actual - expected| / max|expected|)"
        ),
        *([] if msg is None else [msg]),
    ]
    if check_dtype and own.kind == "f" and own != np.dtype(dtype):
        raise AssertionError("\n".join([*header, f"(dtypes {own}, {dtype} mismatch)"]))
    if a.shape != e.shape:
        raise AssertionError("\n".join([*header, f"(shapes {a.shape}, {e.shape} mismatch)"]))
    error = scaled_error(a, e)
    if error <= tolerance:
        return
    difference = np.abs(a - e)
    difference[np.isnan(difference)] = np.inf  # a NaN is the worst element
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(difference), a.shape))
    lines = [
        *header,
        f"Error: {error:.3g}",
        (
            f"Max absolute difference: {difference[worst]:.3g} at index {worst} "
            f"(actual {a[worst]:.17g}, expected {e[worst]:.17g})"
        ),
        f"Max absolute expected: {np.abs(e).max():.3g}",
    ]
    raise AssertionError("\n".join(lines) + _arrays(a, e))


def _arrays(actual: FloatArray, expected: FloatArray) -> str:
    with np.printoptions(threshold=12, edgeitems=2, precision=8, linewidth=100):
        return f"\n ACTUAL: {actual!r}\n EXPECTED: {expected!r}"
