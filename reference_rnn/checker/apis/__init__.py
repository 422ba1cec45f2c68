"""How the checker calls someone else's RNN, for each API it knows, without trusting it.

- ``cs231n``: a module with ``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)``,
  ``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``,
  ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` and ``rnn_backward(dh, cache) -> (dx, dh0, dWx,
  dWh, db)``, the functional core's signatures.
- ``dlfs2``: deep-learning-from-scratch-2's ``TimeRNN(Wx, Wh, b, stateful=False)``:
  ``forward(xs) -> hs``, ``backward(dhs) -> dxs``, ``.grads == [dWx, dWh, db]``, ``.dh``,
  ``set_state(h)``, ``reset_state()``. A nonzero initial state is given with ``stateful=True`` and
  ``set_state``; the case in two blocks feeds consecutive blocks to one stateful layer.
- ``dlfs2-cell``: that file's ``RNN(Wx, Wh, b)``: ``forward(x, h_prev) -> h_next``,
  ``backward(dh_next) -> (dx, dh_prev)``, ``.grads``. One step.
- ``sprint``: the exercise's ``SimpleRNN(Wx, Wh, b)``: ``forward(x, h_prev)`` returns the final
  state (N, H), every state (N, T, H), or (T, H) for a batch of one, as the exercise's code does;
  ``backward(dout)`` (optional) takes the gradient of what forward returned and returns dx, with
  ``.grads`` and, if the layer has it, ``.dh_prev``.

Missing backward methods or functions mean forward-only checks, and the plan says so. Every call
gets fresh copies of the case's arrays and runs with its printing swallowed (a ``--json`` report
stays one document); whatever it raises or returns that is not a finite array of the right shape
becomes an :class:`Output` with a ``problem``, the exception and where it was raised in the
user's code, or the shapes. The checker itself never fails because of the code it checks.
"""

from __future__ import annotations

import contextlib
import io
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from reference_rnn.checker.battery import Case
from reference_rnn.core.validation import FloatArray

__all__ = ["Observation", "Output", "Plan", "Runner", "UserCodeError", "call_user", "plan"]

_LIBRARIES = (Path(__file__).parent, Path(np.__file__).parent)


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


@dataclass(frozen=True)
class Runner:
    """One way of running the user's code: ``label`` prefixes its checks' names."""

    label: str
    run: Callable[[Case], Observation]
    one_step: bool = False  # given each case's first step only
    blocks: bool = False  # also given the case in two blocks


@dataclass(frozen=True)
class Plan:
    """How to check the user's object: the runners, what is not checked, and what is missing."""

    runners: list[Runner] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class UserCodeError(Exception):
    """The user's code raised, or returned something that is not what the API says."""


# -- calling the user's code ------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # the user's prints would corrupt the JSON report; its warnings are not ours to raise, and
    # what they warn about (overflow, NaN) is checked in the results
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def call_user(what: str, thunk: Callable[[], Any]) -> Any:
    """``thunk()``, or a :class:`UserCodeError` saying what raised what, and where in the user's code."""
    try:
        with _quiet():
            return thunk()
    except Exception as exc:  # noqa: BLE001  (anything the user's code raises is a finding)
        msg = f"{what} raised {type(exc).__name__}: {exc}{_where(exc)}"
        raise UserCodeError(msg) from None


def _where(exc: BaseException) -> str:
    """`` (at file.py:12: the line)`` for the innermost frame outside NumPy and this package.

    Frames of code with no file (``<__array_function__ internals>`` on NumPy < 1.25) are not the
    user's either.
    """
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<")
        and not any(Path(frame.filename).is_relative_to(lib) for lib in _LIBRARIES)
    ]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {Path(frame.filename).name}:{frame.lineno}: {frame.line})"


def _unpack(what: str, value: object, n: int) -> Sequence[object]:
    if not isinstance(value, tuple | list) or len(value) != n:
        msg = f"{what} returned {_describe(value)}, expected a tuple of {n}"
        raise UserCodeError(msg)
    return value


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def _as_array(name: str, value: object) -> FloatArray:
    """A float64 copy of ``value`` (later calls of the user's code cannot change it)."""
    try:
        with _quiet():
            arr = np.array(value)
    except Exception as exc:  # noqa: BLE001
        msg = f"{name} is {_describe(value)} that NumPy cannot read: {exc}"
        raise UserCodeError(msg) from None
    if arr.dtype.kind not in "fiu":
        msg = f"{name} is {_describe(value)} of dtype {arr.dtype}, not real numbers"
        raise UserCodeError(msg)
    return arr.astype(np.float64)


def _output(
    key: str,
    name: str,
    value: object,
    shape: tuple[int, ...],
    canonical: Callable[[FloatArray], FloatArray] | None = None,
) -> Output:
    """``value`` in the reference's layout, or the reason it cannot be checked.

    ``shape`` is what the API promises; ``canonical`` turns that into the reference's layout. A
    value of another shape is kept (a wrong shape can still match a mistake's), with a problem.
    """
    try:
        arr = _as_array(name, value)
    except UserCodeError as exc:
        return Output(key, name, None, str(exc))
    if arr.shape != shape:
        return Output(key, name, arr, f"{name} has shape {arr.shape}, expected {shape}")
    if not np.isfinite(arr).all():
        return Output(key, name, None, f"{name} has NaN or inf")
    return Output(key, name, arr if canonical is None else canonical(arr))


def _not_run(specs: Sequence[tuple[str, str]], why: str) -> list[Output]:
    return [Output(key, name, None, why) for key, name in specs]


def _copies(case: Case) -> tuple[FloatArray, ...]:
    """Fresh copies of x, h0, Wx, Wh, b, dh: the user's code may write into what it is given."""
    return tuple(np.array(a) for a in (case.x, case.h0, case.Wx, case.Wh, case.b, case.dh))


def _step(a: FloatArray) -> FloatArray:
    return a[:, None]  # one step (N, .) -> (N, 1, .)


def _weight_grads(values: Sequence[object], D: int, H: int) -> list[Output]:
    """dWx (D, H), dWh (H, H) and db (H,)."""
    keys, shapes = ("dWx", "dWh", "db"), ((D, H), (H, H), (H,))
    return [_output(k, k, v, shape) for k, v, shape in zip(keys, values, shapes, strict=True)]


def _grads_attribute(layer: Any, D: int, H: int) -> list[Output]:
    grads = _unpack(".grads", call_user(".grads", lambda: layer.grads), 3)
    return _weight_grads(grads, D, H)


def _class_name(cls: Any) -> str:
    return str(getattr(cls, "__name__", type(cls).__name__))


# -- cs231n: four functions -------------------------------------------------------------------


def _run_cs231n(
    forward: Callable[..., Any],
    backward: Callable[..., Any] | None,
    names: tuple[str, str],
    step: bool,
    case: Case,
) -> Observation:
    N, T, D, H = case.shape
    x, h0, Wx, Wh, b, dh = _copies(case)
    f_name, b_name = names
    h_name, dh0_name = ("next_h", "dprev_h") if step else ("h", "dh0")
    grad_specs = [("dx", "dx"), ("dh0", dh0_name), ("dWx", "dWx"), ("dWh", "dWh"), ("db", "db")]
    try:
        out = call_user(f_name, lambda: forward(x[:, 0] if step else x, h0, Wx, Wh, b))
        h, cache = _unpack(f_name, out, 2)
    except UserCodeError as exc:
        return Observation(
            case,
            _not_run([("h", h_name)], str(exc))
            + _not_run(grad_specs if backward else [], f"not run: {f_name} failed"),
        )
    outputs = [_output("h", h_name, h, (N, H) if step else (N, T, H), _step if step else None)]
    if backward is None:
        return Observation(case, outputs)
    try:
        grads = _unpack(
            b_name, call_user(b_name, lambda: backward(dh[:, 0] if step else dh, cache)), 5
        )
    except UserCodeError as exc:
        return Observation(case, outputs + _not_run(grad_specs, str(exc)))
    dx_shape = (N, D) if step else (N, T, D)
    return Observation(
        case,
        [
            *outputs,
            _output("dx", "dx", grads[0], dx_shape, _step if step else None),
            _output("dh0", dh0_name, grads[1], (N, H)),
            *_weight_grads(grads[2:], D, H),
        ],
    )


def _plan_cs231n(module: object) -> Plan:
    result = Plan()
    for label, names, step in (
        ("step:", ("rnn_step_forward", "rnn_step_backward"), True),
        ("", ("rnn_forward", "rnn_backward"), False),
    ):
        forward, backward = (getattr(module, name, None) for name in names)
        if not callable(forward):
            result.missing.append(names[0])
            continue
        if not callable(backward):
            backward = None
            result.notes.append(f"forward only: no {names[1]}, so {names[0]} is checked alone")
        result.runners.append(
            Runner(label, partial(_run_cs231n, forward, backward, names, step), one_step=step)
        )
    return result


# -- dlfs2: TimeRNN ---------------------------------------------------------------------------


def _run_time_rnn(cls: Any, with_backward: bool, case: Case) -> Observation:
    N, T, D, H = case.shape
    x, h0, Wx, Wh, b, dh = _copies(case)
    name = _class_name(cls)
    s = case.split or 0  # for a case in two blocks, the checked call is the second block's
    stateful = bool(s) or not case.zero_h0
    grad_specs = [("dx", "dxs"), ("dh0", "dh"), ("dWx", "dWx")]
    grad_specs += [("dWh", "dWh"), ("db", "db")]
    try:
        layer = call_user(
            f"{name}(Wx, Wh, b, stateful={stateful})", lambda: cls(Wx, Wh, b, stateful=stateful)
        )
        if s:
            if case.zero_h0:
                # the lambdas look the method up inside call_user: it may not exist
                call_user("reset_state()", lambda: layer.reset_state())  # noqa: PLW0108
            else:
                call_user("set_state(h0)", lambda: layer.set_state(h0))
            call_user("forward(the first block)", lambda: layer.forward(x[:, :s]))
            if with_backward:
                call_user("backward(the first block)", lambda: layer.backward(dh[:, :s]))
        elif stateful:
            call_user("set_state(h0)", lambda: layer.set_state(h0))
        hs = call_user("forward(xs)", lambda: layer.forward(x[:, s:]))
    except UserCodeError as exc:
        failed = _not_run([("h", "hs")], str(exc))
        return Observation(case, failed + _not_run(grad_specs * with_backward, "not run"))
    outputs = [_output("h", "hs", hs, (N, T - s, H))]
    if not with_backward:
        return Observation(case, outputs)
    try:
        dxs = call_user("backward(dhs)", lambda: layer.backward(dh[:, s:]))
        outputs.append(_output("dx", "dxs", dxs, (N, T - s, D)))
        outputs.append(_output("dh0", "dh", call_user(".dh", lambda: layer.dh), (N, H)))
        outputs += _grads_attribute(layer, D, H)
    except UserCodeError as exc:
        done = {output.key for output in outputs}
        outputs += _not_run([spec for spec in grad_specs if spec[0] not in done], str(exc))
    return Observation(case, outputs)


# -- dlfs2-cell: RNN --------------------------------------------------------------------------


def _run_cell(cls: Any, with_backward: bool, case: Case) -> Observation:
    N, _, D, H = case.shape
    x, h0, Wx, Wh, b, dh = _copies(case)
    name = _class_name(cls)
    grad_specs = [("dx", "dx"), ("dh0", "dh_prev"), ("dWx", "dWx")]
    grad_specs += [("dWh", "dWh"), ("db", "db")]
    try:
        layer = call_user(f"{name}(Wx, Wh, b)", lambda: cls(Wx, Wh, b))
        h_next = call_user("forward(x, h_prev)", lambda: layer.forward(x[:, 0], h0))
    except UserCodeError as exc:
        failed = _not_run([("h", "h_next")], str(exc))
        return Observation(case, failed + _not_run(grad_specs * with_backward, "not run"))
    outputs = [_output("h", "h_next", h_next, (N, H), _step)]
    if not with_backward:
        return Observation(case, outputs)
    try:
        back = call_user("backward(dh_next)", lambda: layer.backward(dh[:, 0]))
        dx, dh_prev = _unpack("backward(dh_next)", back, 2)
        outputs.append(_output("dx", "dx", dx, (N, D), _step))
        outputs.append(_output("dh0", "dh_prev", dh_prev, (N, H)))
        outputs += _grads_attribute(layer, D, H)
    except UserCodeError as exc:
        done = {output.key for output in outputs}
        outputs += _not_run([spec for spec in grad_specs if spec[0] not in done], str(exc))
    return Observation(case, outputs)


# -- sprint: the exercise's SimpleRNN ---------------------------------------------------------


def _run_sprint(cls: Any, with_backward: bool, case: Case) -> Observation:
    N, T, D, H = case.shape
    x, h0, Wx, Wh, b, dh = _copies(case)
    name = _class_name(cls)
    grad_specs = [("dx", "dx"), ("dWx", "dWx"), ("dWh", "dWh")]
    grad_specs += [("db", "db")]
    try:
        layer = call_user(f"{name}(Wx, Wh, b)", lambda: cls(Wx, Wh, b))
        out = call_user("forward(x, h_prev)", lambda: layer.forward(x, h0))
    except UserCodeError as exc:
        failed = _not_run([("h", "h")], str(exc))
        return Observation(case, failed + _not_run(grad_specs * with_backward, "not run"))
    try:
        arr = _as_array("h", out)
    except UserCodeError as exc:
        failed = _not_run([("h", "h")], str(exc))
        return Observation(case, failed + _not_run(grad_specs * with_backward, "not run"))
    # What forward returned decides what backward is given: the gradient of that.
    dout, unbatched = dh, False
    if arr.shape == (N, H):
        last = np.zeros_like(dh)
        last[:, -1] = dh[:, -1]  # the loss sees only the final state
        case, dout = case.with_upstream(last), dh[:, -1]
        forward = _output("h_last", "h", arr, (N, H))
    elif arr.shape == (T, H) and N == 1:
        dout, unbatched = dh[0], True
        forward = _output("h", "h", arr, (T, H), lambda a: a[None])  # (T, H) -> (1, T, H)
    elif arr.shape == (N, T, H):
        forward = _output("h", "h", arr, (N, T, H))
    else:
        why = (
            f"h has shape {arr.shape}; forward must return every state (N, T, H) = {(N, T, H)}, "
            f"the final state (N, H) = {(N, H)}, or for a batch of one (T, H)"
        )
        forward = Output("h", "h", arr, why)
    if not with_backward or forward.problem is not None:
        return Observation(case, [forward, *_not_run(grad_specs * with_backward, "not run")])
    outputs = [forward]
    try:
        dx = call_user("backward(dout)", lambda: layer.backward(dout))
        if unbatched:  # dx as forward's states, (T, D)
            outputs.append(_output("dx", "dx", dx, (T, D), lambda a: a[None]))
        else:
            outputs.append(_output("dx", "dx", dx, (N, T, D)))
        outputs += _grads_attribute(layer, D, H)
        dh_prev = call_user("dh_prev", lambda: getattr(layer, "dh_prev", None))
        if dh_prev is not None:  # optional in this API
            outputs.append(_output("dh0", "dh_prev", dh_prev, (N, H)))
    except UserCodeError as exc:
        done = {output.key for output in outputs}
        outputs += _not_run([spec for spec in grad_specs if spec[0] not in done], str(exc))
    return Observation(case, outputs)


def _plan_class(
    run: Callable[[Any, bool, Case], Observation], *, one_step: bool = False, blocks: bool = False
) -> Callable[[object], Plan]:
    """The plan for a class API whose runs are ``run(cls, with_backward, case)``."""

    def make(cls: object) -> Plan:
        result = Plan()
        name = _class_name(cls)
        if not callable(cls) or not callable(getattr(cls, "forward", None)):
            result.missing.append(f"{name}.forward")
            return result
        with_backward = callable(getattr(cls, "backward", None))
        if not with_backward:
            result.notes.append(f"forward only: {name} has no backward")
        runner = Runner("", partial(run, cls, with_backward), one_step=one_step, blocks=blocks)
        result.runners.append(runner)
        return result

    return make


_PLANS: dict[str, Callable[[object], Plan]] = {
    "cs231n": _plan_cs231n,
    "dlfs2": _plan_class(_run_time_rnn, blocks=True),
    "dlfs2-cell": _plan_class(_run_cell, one_step=True),
    "sprint": _plan_class(_run_sprint),
}


def plan(api: str, obj: object) -> Plan:
    """How to check ``obj`` as an ``api`` implementation (one of reference_rnn.checker.catalogue.APIS)."""
    if api not in _PLANS:
        msg = f"api must be one of {', '.join(_PLANS)}, got {api!r}"
        raise ValueError(msg)
    return _PLANS[api](obj)
