"""Calling someone else's RNN without trusting it: what every API module of the checker shares.

Every call gets fresh copies of the case's arrays; whatever the user's code raises or returns
that is not a finite array of the right shape becomes an :class:`Output` with a ``problem`` (the
exception and where it was raised in the user's code, or the shapes), never an error of the
checker's own.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import linecache
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reference_rnn.checker.battery import Case
from reference_rnn.checker.printing import cut
from reference_rnn.core.validation import FloatArray

__all__ = [
    "ARGUMENTS",
    "Observation",
    "Output",
    "Plan",
    "Runner",
    "UserCodeError",
    "as_array",
    "call_user",
    "called_backward",
    "class_name",
    "copies",
    "describe",
    "exception_text",
    "final_state_only",
    "one_step",
    "output",
    "quiet",
    "refused",
    "stray_methods",
    "unpack",
    "weight_grads",
    "worker_mode",
]

#: Code that is not the user's: the checker's own (its call of the user's code), NumPy's, and
#: the import system's (an import the worker refuses is the user's line, not importlib's).
_LIBRARIES = tuple(
    f"{p}{os.sep}"
    for p in (Path(__file__).parents[1], Path(np.__file__).parent, Path(importlib.__file__).parent)
)


@dataclass(frozen=True)
class Output:
    """One value the user's code produced, laid out as the reference's ``key`` for comparison.

    key : ``h`` (N, T, H), ``h_last`` (N, H), ``dx`` (N, T, D), ``dh0``, ``dWx``, ``dWh`` or ``db``
    name : what the API calls it (``next_h``, ``dprev_h``, ``hs``, ``.dh``, ...)
    value : float64, or None when there is nothing to compare
    problem : why the check fails whatever the values (an exception, a shape, NaN), or None
    """

    key: str
    name: str
    value: FloatArray | None
    problem: str | None = None


@dataclass(frozen=True)
class Observation:
    """What one run of the user's code gave on ``case`` (with the upstream gradient it was given)."""

    case: Case
    outputs: list[Output]
    seen: tuple[str, ...] = ()  # catalogued mistakes the adapter saw as it called the code
    notes: tuple[str, ...] = ()  # what the adapter found out about the code, for the report


@dataclass(frozen=True)
class Runner:
    """One way of running the user's code: ``label`` names it in the API's spec."""

    label: str
    run: Callable[[Case], Observation]
    one_step: bool = False  # given each case's first step only
    blocks: bool = False  # also given the case in two blocks
    readout: str | None = None  # "linear" or "softmax": the cases get that output layer


@dataclass(frozen=True)
class Plan:
    """How to check the user's object: the runners, what is not checked, and what is missing."""

    runners: list[Runner] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    forward_only: list[str] = field(default_factory=list)  # forwards checked without a backward


class UserCodeError(Exception):
    """The user's code raised, or returned something that is not what the API says."""


@dataclass
class _Mode:
    """How the user's code is called: in-process (the default), or in the worker process."""

    caught: type[BaseException] = Exception  # what it may raise and be a finding
    swallow_prints: bool = True
    refused: list[str] = field(default_factory=list)  # the worker's refused imports, in order


_MODE = _Mode()


def worker_mode() -> None:
    """Call the user's code as the worker process (reference_rnn.checker.worker) does, from now on.

    In-process, the user's code may raise an Exception and be a finding, so that Ctrl-C still
    stops the checker, and what it prints is swallowed, since it would corrupt the report. In the
    worker, whatever it raises is a finding, SystemExit and KeyboardInterrupt included (Ctrl-C at
    the terminal reaches the checker, not the worker), and what it prints goes to the worker's
    stdout, which the checker captures.
    """
    _MODE.caught, _MODE.swallow_prints = BaseException, False


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    # the user's warnings are not ours to raise, and what they warn about (overflow, NaN) is
    # checked in the results
    with contextlib.ExitStack() as stack:
        if _MODE.swallow_prints:
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        yield


def call_user(what: str, thunk: Callable[[], Any]) -> Any:
    """``thunk()``, or a :class:`UserCodeError` saying what raised what, and where in the user's code."""
    try:
        with quiet():
            return thunk()
    except _MODE.caught as exc:  # anything the user's code raises is a finding
        msg = f"{what} raised {exception_text(exc)}"
        raise UserCodeError(msg) from None


def exception_text(exc: BaseException) -> str:
    """``Type: message (at file.py:12: the line)``, even when the exception's ``str`` raises."""
    name, message = _printed(lambda: type(exc).__name__, "an exception"), _message(exc)
    return f"{name}{': ' * bool(message)}{message}{_printed(lambda: _where(exc), '')}"


def _message(exc: BaseException) -> str:
    return _printed(lambda: str(exc), "(its message cannot be printed: str() raised)")


def _printed(thunk: Callable[[], object], otherwise: str) -> str:
    try:  # cut at once: a message of 10 MB is carried no further than its first lines
        return cut(str(thunk()))
    except _MODE.caught:
        return otherwise


def _where(exc: BaseException) -> str:
    """`` (at file.py:12: the line)`` for the innermost frame outside NumPy and the checker.

    Frames of code with no file (``<__array_function__ internals>`` on NumPy < 1.25, importlib's
    ``<frozen ...>``) are not the user's either.
    """
    where = None
    for frame, line in traceback.walk_tb(exc.__traceback__):  # not extract_tb: a RecursionError
        file = frame.f_code.co_filename  # has a thousand frames, and only one line is shown
        if not file.startswith(("<", *_LIBRARIES)):
            where = file, line
    if where is None:
        return ""
    file, line = where
    return f" (at {Path(file).name}:{line}: {linecache.getline(file, line).strip()})"


def unpack(what: str, value: object, n: int) -> Sequence[object]:
    if not isinstance(value, tuple | list) or len(value) != n:
        msg = f"{what} returned {describe(value)}, expected a tuple of {n}"
        raise UserCodeError(msg)
    return value


def describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, tuple | list):
        shapes = [np.shape(v) if isinstance(v, np.ndarray) else None for v in value[:3]]
        known = len(value) <= 3 and all(shape is not None for shape in shapes)
        of = f" (shapes {', '.join(map(str, shapes))})" * known
        return f"a {type(value).__name__} of {len(value)}{of}"
    return f"a {type(value).__name__}"


def as_array(name: str, value: object) -> FloatArray:
    """A float64 copy of ``value`` (later calls of the user's code cannot change it)."""
    try:
        with quiet():
            arr = np.array(value)
    except _MODE.caught as exc:
        if isinstance(value, tuple | list):  # a ragged list: NumPy's words would say nothing
            msg = f"{name} is {describe(value)} of unequal shapes, not one array"
        else:
            msg = f"{name} is {describe(value)} that NumPy cannot read: {_message(exc)}"
        raise UserCodeError(msg) from None
    if arr.dtype.kind not in "fiu":
        msg = f"{name} is {describe(value)} of dtype {arr.dtype}, not real numbers"
        raise UserCodeError(msg)
    return arr.astype(np.float64)


def output(
    key: str,
    name: str,
    value: object,
    shape: tuple[int, ...],
    canonical: Callable[[FloatArray], FloatArray] | None = None,
) -> Output:
    """``value`` in the reference's layout, or the reason it cannot be checked.

    ``shape`` is what the API promises; ``canonical`` turns that into the reference's layout. A
    value of another shape is kept (a wrong shape can still match a mistake's), with a problem.
    ``Output.key`` is the reference's: :data:`~reference_rnn.checker.battery.KEYS`, ``h_last``,
    or (with an output layer) ``y``, ``dWy``, ``dby``.
    """
    try:
        arr = as_array(name, value)
    except UserCodeError as exc:
        return Output(key, name, None, str(exc))
    if arr.shape != shape:
        return Output(key, name, arr, f"{name} has shape {arr.shape}, expected {shape}")
    if not np.isfinite(arr).all():
        return Output(key, name, None, f"{name} has NaN or inf")
    return Output(key, name, arr if canonical is None else canonical(arr))


def refused() -> list[str]:
    """The imports of the reference the worker refused to the code so far (in-process: none)."""
    return _MODE.refused


#: The arrays of a case given to the code, as :func:`copies` returns them.
ARGUMENTS = ("x", "h0", "Wx", "Wh", "b", "dh")


def copies(case: Case) -> tuple[FloatArray, ...]:
    """Fresh copies of x, h0, Wx, Wh, b, dh: the user's code may write into what it is given."""
    return tuple(np.array(a) for a in (case.x, case.h0, case.Wx, case.Wh, case.b, case.dh))


def one_step(a: FloatArray) -> FloatArray:
    return a[:, None]  # one step (N, .) -> (N, 1, .)


def final_state_only(case: Case) -> Case:
    """``case`` for a layer that returns the final state: the loss sees only that state."""
    last = np.zeros_like(case.dh)
    last[:, -1] = case.dh[:, -1]
    return case.with_upstream(last)


def weight_grads(values: Sequence[object], D: int, H: int) -> list[Output]:
    """dWx (D, H), dWh (H, H) and db (H,)."""
    keys, shapes = ("dWx", "dWh", "db"), ((D, H), (H, H), (H,))
    return [output(k, k, v, shape) for k, v, shape in zip(keys, values, shapes, strict=True)]


def called_backward(what: str, thunk: Callable[[], Any], seen: list[str]) -> Any:
    """``thunk()``, the user's backward; a generator it returns is a :class:`UserCodeError`."""
    result = call_user(what, thunk)
    if inspect.isgenerator(result):
        seen.append("backward-is-generator")
        msg = f"{what} returned a generator: backward has a yield, so none of its body ran"
        raise UserCodeError(msg)
    return result


def stray_methods(cls: Any) -> list[str]:
    """Functions at the module level of ``cls`` whose first parameter is ``self``.

    A method indented one level too little (a copy-paste accident) is one of those.
    """
    module = sys.modules.get(str(getattr(cls, "__module__", "")))
    found = []
    for name, value in vars(module).items() if module is not None else ():
        code = getattr(value, "__code__", None)
        if inspect.isfunction(value) and code is not None and code.co_varnames[:1] == ("self",):
            found.append(name)
    return found


def class_name(cls: Any) -> str:
    return str(getattr(cls, "__name__", type(cls).__name__))
