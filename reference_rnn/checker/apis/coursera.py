"""``--api coursera``: the Deep Learning Specialization's "Building your RNN - Step by Step".

A module with four functions in the column layout, every array (features, batch[, time]):

- ``rnn_cell_forward(xt, a_prev, parameters) -> (a_next, yt_pred, cache)``: xt (n_x, m),
  a_prev (n_a, m), ``yt_pred = softmax(Wya @ a_next + by)`` over its n_y rows;
- ``rnn_forward(x, a0, parameters) -> (a, y_pred, caches)``: x (n_x, m, T_x), a (n_a, m, T_x),
  y_pred (n_y, m, T_x);
- ``rnn_cell_backward(da_next, cache) -> gradients``: a dict with dxt, da_prev, dWax, dWaa, dba;
- ``rnn_backward(da, caches) -> gradients``: dx, da0, dWax, dWaa, dba, where da (n_a, m, T_x) is
  the upstream gradient of every state (the output layer is not backpropagated).

``parameters`` = {Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1)}: the
reference's ``Wx.T``, ``Wh.T``, ``Wy.T``, ``b`` and ``by`` as columns. Many solutions name the
input gradient ``dx`` in one backward and ``dxt`` in the other: either name is read, with a note.
Two mistakes of the layout are seen here: ``dba`` returned as (n_a,), and x read as (m, n_x),
which gives the batch axis n_x's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import (
    Output,
    UserCodeError,
    call_user,
    called_backward,
    describe,
    one_step,
    output,
    unpack,
)
from reference_rnn.checker.apis.spec import ApiSpec, Call, OutputSpec, RunnerSpec, function_pair
from reference_rnn.checker.battery import Case
from reference_rnn.core.validation import FloatArray

__all__ = ["SPEC"]

#: The other name of the input gradient, read when the declared one is not there.
_OTHER_NAME = {"dx": "dxt", "dxt": "dx"}


def _columns(a: FloatArray, step: bool) -> FloatArray:
    """The reference's (N, T, .) in the column layout: (., N) for one step, else (., N, T)."""
    return np.ascontiguousarray(a[:, 0].T if step else a.transpose(2, 0, 1))


def _rows(step: bool) -> Callable[[FloatArray], FloatArray]:
    """The column layout back in the reference's: (., N) -> (N, 1, .); (., N, T) -> (N, T, .)."""
    return (lambda a: one_step(a.T)) if step else (lambda a: a.transpose(1, 2, 0))


def _steps(module: Any, call: Call) -> Iterator[None]:
    """A forward function on columns and a ``parameters`` dict, then its backward's dict."""
    runner, step = call.runner, call.runner.one_step
    N, T, D, H = call.case.shape
    x, h0, Wx, Wh, b, dh = call.copies()
    parameters = _parameters(Wx, Wh, b, call.case)
    Q = parameters["Wya"].shape[0]
    forward = getattr(module, runner.forward)
    out = call_user(runner.forward, lambda: forward(_columns(x, step), h0.T.copy(), parameters))
    a, y, cache = unpack(runner.forward, out, 3)
    back_to_rows = _rows(step)
    per_step = (N, T) if not step else (N,)
    _column_output(call, "h", a, (H, *per_step), back_to_rows, D)
    _column_output(call, "y", y, (Q, *per_step), back_to_rows, D)
    yield
    b_name = str(runner.backward)
    backward = getattr(module, b_name)
    back = called_backward(b_name, lambda: backward(_columns(dh, step), cache), call.seen)
    if not isinstance(back, dict):
        msg = f"{b_name} returned {describe(back)}, expected a dict of gradients"
        raise UserCodeError(msg)
    shapes = {"dx": (D, *per_step), "dh0": (H, N), "dWx": (H, D), "dWh": (H, H), "db": (H, 1)}
    canonical = {"dx": back_to_rows, "db": lambda g: g[:, 0]}
    for spec in runner.gradients:
        key, name = spec.key, spec.name
        found = name
        if name not in back and _OTHER_NAME.get(name) in back:
            found = _OTHER_NAME[name]
            call.notes.append(f"{b_name} names the input gradient {found!r}: read as {name!r}")
        if found not in back:
            call.outputs.append(Output(key, name, None, f"{b_name}'s gradients have no {name!r}"))
            continue
        to_rows = canonical.get(key, np.transpose)
        _column_output(call, key, back[found], shapes[key], to_rows, D)


def _parameters(Wx: FloatArray, Wh: FloatArray, b: FloatArray, case: Case) -> dict[str, Any]:
    """The ``parameters`` dict: the reference's weights as the column layout has them."""
    assert case.readout is not None  # the runner's cases have a softmax output layer
    Wy, by = (np.array(a) for a in case.readout[1:3])
    columns = {"Wax": Wx.T, "Waa": Wh.T, "Wya": Wy.T, "ba": b[:, None], "by": by[:, None]}
    return {name: np.ascontiguousarray(a) for name, a in columns.items()}


def _column_output(
    call: Call,
    key: str,
    value: object,
    shape: tuple[int, ...],
    canonical: Callable[[FloatArray], FloatArray],
    D: int,
) -> None:
    """``call.add(...)``, and the layout mistakes its shape shows (added to ``call.seen``)."""
    result = output(key, call.name(key), value, shape, canonical)
    if result.problem is not None and result.value is not None:
        got = result.value.shape
        if key == "db" and got == shape[:1]:
            call.seen.append("column-bias-gradient-flat")
        if key == "db" and len(got) == 2:  # (n_a, m): not summed over the batch, compared as rows
            result = replace(result, value=result.value.T)
        # the batch axis (after the features') with n_x's size: x read as rows
        per_example = key in ("h", "y", "dx", "dh0")
        rows = len(got) == len(shape) and got[0] == shape[0] and got[1] == D != shape[1]
        if per_example and rows:
            call.seen.append("column-input-as-rows")
    call.outputs.append(result)


def _runner(label: str, names: tuple[str, str], outputs: tuple[str, ...], step: bool) -> RunnerSpec:
    """A forward function and its backward: ``outputs``, the names of a, y and the gradients."""
    keys = ("h", "y", "dx", "dh0", "dWx", "dWh", "db")
    specs = tuple(OutputSpec(key, name) for key, name in zip(keys, outputs, strict=True))
    return function_pair(
        label, names, specs[:2], specs[2:], _steps, one_step=step, readout="softmax"
    )


SPEC = ApiSpec(
    "coursera",
    "module",
    (
        _runner(
            "cell:",
            ("rnn_cell_forward", "rnn_cell_backward"),
            ("a_next", "yt_pred", "dxt", "da_prev", "dWax", "dWaa", "dba"),
            step=True,
        ),
        _runner(
            "",
            ("rnn_forward", "rnn_backward"),
            ("a", "y_pred", "dx", "da0", "dWax", "dWaa", "dba"),
            step=False,
        ),
    ),
    layout="columns",
)
