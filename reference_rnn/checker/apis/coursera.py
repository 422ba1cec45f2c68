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

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import (
    Observation,
    Output,
    Plan,
    Runner,
    UserCodeError,
    call_user,
    called_backward,
    copies,
    describe,
    not_run,
    one_step,
    output,
    unpack,
)
from reference_rnn.checker.apis.pairs import plan_pairs
from reference_rnn.checker.battery import Case
from reference_rnn.core.validation import FloatArray

__all__ = ["plan", "run"]

#: The gradients' names, the reference's key of each, and the other name of the input gradient.
_GRADIENTS = {
    "step": (("dxt", "dx"), ("da_prev", "dh0"), ("dWax", "dWx"), ("dWaa", "dWh"), ("dba", "db")),
    "sequence": (("dx", "dx"), ("da0", "dh0"), ("dWax", "dWx"), ("dWaa", "dWh"), ("dba", "db")),
}
_OTHER_NAME = {"dx": "dxt", "dxt": "dx"}


def _columns(a: FloatArray, step: bool) -> FloatArray:
    """The reference's (N, T, .) in the column layout: (., N) for one step, else (., N, T)."""
    return np.ascontiguousarray(a[:, 0].T if step else a.transpose(2, 0, 1))


def _rows(step: bool) -> Callable[[FloatArray], FloatArray]:
    """The column layout back in the reference's: (., N) -> (N, 1, .); (., N, T) -> (N, T, .)."""
    return (lambda a: one_step(a.T)) if step else (lambda a: a.transpose(1, 2, 0))


def run(
    forward: Callable[..., Any],
    backward: Callable[..., Any] | None,
    names: tuple[str, str],
    step: bool,
    case: Case,
) -> Observation:
    N, T, D, H = case.shape
    x, h0, Wx, Wh, b, dh = copies(case)
    parameters = _parameters(Wx, Wh, b, case)
    Q = parameters["Wya"].shape[0]
    f_name, b_name = names
    a_name, y_name = ("a_next", "yt_pred") if step else ("a", "y_pred")
    gradients = _GRADIENTS["step" if step else "sequence"]
    states: list[tuple[str, str]] = [("h", a_name), ("y", y_name)]
    grad_specs = [(key, name) for name, key in gradients]
    try:
        out = call_user(f_name, lambda: forward(_columns(x, step), h0.T.copy(), parameters))
        a, y, cache = unpack(f_name, out, 3)
    except UserCodeError as exc:
        return Observation(
            case,
            not_run(states, str(exc))
            + not_run(grad_specs if backward else [], f"not run: {f_name} failed"),
        )
    seen: list[str] = []
    back_to_rows = _rows(step)
    per_step = (N, T) if not step else (N,)
    outputs = [
        _column_output("h", a_name, a, (H, *per_step), back_to_rows, D, seen),
        _column_output("y", y_name, y, (Q, *per_step), back_to_rows, D, seen),
    ]
    if backward is None:
        return Observation(case, outputs, tuple(seen))
    notes: list[str] = []
    try:
        back = called_backward(b_name, lambda: backward(_columns(dh, step), cache), seen)
        if not isinstance(back, dict):
            msg = f"{b_name} returned {describe(back)}, expected a dict of gradients"
            raise UserCodeError(msg)
    except UserCodeError as exc:
        return Observation(case, outputs + not_run(grad_specs, str(exc)), tuple(seen))
    shapes = {"dx": (D, *per_step), "dh0": (H, N), "dWx": (H, D), "dWh": (H, H), "db": (H, 1)}
    canonical = {"dx": back_to_rows, "db": lambda g: g[:, 0]}
    for name, key in gradients:
        found = name
        if name not in back and _OTHER_NAME.get(name) in back:
            found = _OTHER_NAME[name]
            notes.append(f"{b_name} names the input gradient {found!r}: read as {name!r}")
        if found not in back:
            outputs.append(Output(key, name, None, f"{b_name}'s gradients have no {name!r}"))
            continue
        to_rows = canonical.get(key, np.transpose)
        outputs.append(_column_output(key, name, back[found], shapes[key], to_rows, D, seen))
    return Observation(case, outputs, tuple(seen), tuple(notes))


def _parameters(Wx: FloatArray, Wh: FloatArray, b: FloatArray, case: Case) -> dict[str, Any]:
    """The ``parameters`` dict: the reference's weights as the column layout has them."""
    assert case.readout is not None  # the runner's cases have a softmax output layer
    Wy, by = (np.array(a) for a in case.readout[1:3])
    columns = {"Wax": Wx.T, "Waa": Wh.T, "Wya": Wy.T, "ba": b[:, None], "by": by[:, None]}
    return {name: np.ascontiguousarray(a) for name, a in columns.items()}


def _column_output(
    key: str,
    name: str,
    value: object,
    shape: tuple[int, ...],
    canonical: Callable[[FloatArray], FloatArray],
    D: int,
    seen: list[str],
) -> Output:
    """``output(...)``, and the layout mistakes its shape shows (added to ``seen``)."""
    result = output(key, name, value, shape, canonical)
    if result.problem is None or result.value is None:
        return result
    got = result.value.shape
    if key == "db" and got == shape[:1]:
        seen.append("column-bias-gradient-flat")
    if key == "db" and len(got) == 2:  # (n_a, m): not summed over the batch, compared as rows
        return replace(result, value=result.value.T)
    # the batch axis (after the features') with n_x's size: x read as rows
    per_example = key in ("h", "y", "dx", "dh0")
    if per_example and len(got) == len(shape) and got[0] == shape[0] and got[1] == D != shape[1]:
        seen.append("column-input-as-rows")
    return result


def plan(module: object) -> Plan:
    pairs = (
        ("cell:", ("rnn_cell_forward", "rnn_cell_backward"), True),
        ("", ("rnn_forward", "rnn_backward"), False),
    )
    return plan_pairs(
        module,
        pairs,
        lambda label, forward, backward, names, step: Runner(
            label, partial(run, forward, backward, names, step), one_step=step, readout="softmax"
        ),
    )
