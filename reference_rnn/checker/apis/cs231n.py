"""``--api cs231n``: a module with CS231n's four functions, the functional core's signatures.

``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)``,
``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``,
``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` and
``rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``. A missing backward function means the
forward function is checked alone, and the plan says so.

``--api cs231n-torch`` (``--api cs231n --tensors torch``): the same functions written with torch
tensors, as EECS 498-007's exercise has them: every array is given as a CPU tensor of the case's
dtype, and what comes back is read as a tensor's values; the backward is the code's own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from reference_rnn.checker.apis.calling import (
    Observation,
    Plan,
    Runner,
    UserCodeError,
    call_user,
    called_backward,
    copies,
    is_stand_in,
    not_run,
    one_step,
    output,
    unpack,
    weight_grads,
)
from reference_rnn.checker.apis.d2l import torch_module
from reference_rnn.checker.apis.pairs import plan_pairs
from reference_rnn.checker.battery import Case
from reference_rnn.core.validation import FloatArray

__all__ = ["plan", "plan_tensors", "run"]


def run(
    forward: Callable[..., Any],
    backward: Callable[..., Any] | None,
    names: tuple[str, str],
    step: bool,
    tensors: bool,
    case: Case,
) -> Observation:
    N, T, D, H = case.shape
    given = tensors and not is_stand_in(forward)
    x, h0, Wx, Wh, b, dh = (_tensor(a) if given else a for a in copies(case))
    f_name, b_name = names
    h_name, dh0_name = ("next_h", "dprev_h") if step else ("h", "dh0")
    grad_specs = [("dx", "dx"), ("dh0", dh0_name), ("dWx", "dWx"), ("dWh", "dWh"), ("db", "db")]
    try:
        out = call_user(f_name, lambda: forward(x[:, 0] if step else x, h0, Wx, Wh, b))
        h, cache = unpack(f_name, out, 2)
    except UserCodeError as exc:
        return Observation(
            case,
            not_run([("h", h_name)], str(exc))
            + not_run(grad_specs if backward else [], f"not run: {f_name} failed"),
        )
    outputs = [output("h", h_name, h, (N, H) if step else (N, T, H), one_step if step else None)]
    if backward is None:
        return Observation(case, outputs)
    seen: list[str] = []
    try:
        back = called_backward(b_name, lambda: backward(dh[:, 0] if step else dh, cache), seen)
        grads = unpack(b_name, back, 5)
    except UserCodeError as exc:
        return Observation(case, outputs + not_run(grad_specs, str(exc)), tuple(seen))
    dx_shape = (N, D) if step else (N, T, D)
    return Observation(
        case,
        [
            *outputs,
            output("dx", "dx", grads[0], dx_shape, one_step if step else None),
            output("dh0", dh0_name, grads[1], (N, H)),
            *weight_grads(grads[2:], D, H),
        ],
    )


def _tensor(a: FloatArray) -> Any:
    return torch_module().from_numpy(a)


def plan(module: object, *, tensors: bool = False) -> Plan:
    """The runners of ``module``'s functions; ``tensors``: they take torch tensors."""
    pairs = (
        ("step:", ("rnn_step_forward", "rnn_step_backward"), True),
        ("", ("rnn_forward", "rnn_backward"), False),
    )
    return plan_pairs(
        module,
        pairs,
        lambda label, forward, backward, names, step: Runner(
            label, partial(run, forward, backward, names, step, tensors), one_step=step
        ),
    )


def plan_tensors(module: object) -> Plan:
    """The plan of ``module``'s functions written with torch tensors."""
    return plan(module, tensors=True)
