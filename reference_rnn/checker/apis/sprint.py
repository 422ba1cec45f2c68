"""``--api sprint``: the exercise's ``SimpleRNN(Wx, Wh, b)``.

``forward(x, h_prev)`` returns the final state (N, H), every state (N, T, H), or (T, H) for a
batch of one, as the exercise's code does; ``backward(dout)`` (optional) takes the gradient of
what forward returned and returns dx, with ``.grads`` and, if the layer has it, ``.dh_prev``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import (
    Observation,
    Output,
    UserCodeError,
    as_array,
    call_user,
    called_backward,
    class_name,
    copies,
    grads_attribute,
    not_run,
    output,
    plan_class,
    weights_changed,
)
from reference_rnn.checker.battery import Case
from reference_rnn.core.validation import FloatArray

__all__ = ["final_state_only", "plan", "run"]


def run(cls: Any, with_backward: bool, case: Case) -> Observation:
    N, T, D, H = case.shape
    x, h0, Wx, Wh, b, dh = copies(case)
    name = class_name(cls)
    grad_specs = [("dx", "dx"), ("dWx", "dWx"), ("dWh", "dWh")]
    grad_specs += [("db", "db")]
    try:
        layer = call_user(f"{name}(Wx, Wh, b)", lambda: cls(Wx, Wh, b))
        out = call_user("forward(x, h_prev)", lambda: layer.forward(x, h0))
    except UserCodeError as exc:
        failed = not_run([("h", "h")], str(exc))
        return Observation(case, failed + not_run(grad_specs * with_backward, "not run"))
    try:
        arr, form = _read(out)
    except UserCodeError as exc:
        failed = not_run([("h", "h")], str(exc))
        return Observation(case, failed + not_run(grad_specs * with_backward, "not run"))
    # What forward returned decides what backward is given: the gradient of that.
    dout, unbatched = dh, False
    notes = [f"forward returns {form}: hs is checked"] if form else []
    if arr.shape == (N, H):
        case, dout = final_state_only(case), dh[:, -1]
        forward = output("h_last", "h", arr, (N, H))
    elif arr.shape == (T, H) and N == 1:
        dout, unbatched = dh[0], True
        forward = output("h", "h", arr, (T, H), lambda a: a[None])  # (T, H) -> (1, T, H)
    elif arr.shape == (N, T, H):
        forward = output("h", "h", arr, (N, T, H))
    else:
        why = (
            f"h has shape {arr.shape}; forward must return every state (N, T, H) = {(N, T, H)}, "
            f"the final state (N, H) = {(N, H)}, or for a batch of one (T, H)"
        )
        forward = Output("h", "h", arr, why)
    if not with_backward or forward.problem is not None:
        outputs = [forward, *not_run(grad_specs * with_backward, "not run")]
        return Observation(case, outputs, notes=tuple(notes))
    outputs = [forward]
    seen: list[str] = []
    try:
        dx = called_backward("backward(dout)", lambda: layer.backward(dout), seen)
        weights_changed(name, (Wx, Wh, b), case, seen, notes)
        if unbatched:  # dx as forward's states, (T, D)
            outputs.append(output("dx", "dx", dx, (T, D), lambda a: a[None]))
        else:
            outputs.append(output("dx", "dx", dx, (N, T, D)))
        outputs += grads_attribute(layer, D, H)
        dh_prev = call_user("dh_prev", lambda: getattr(layer, "dh_prev", None))
        if dh_prev is not None:  # optional in this API
            outputs.append(output("dh0", "dh_prev", dh_prev, (N, H)))
    except UserCodeError as exc:
        done = {output.key for output in outputs}
        outputs += not_run([spec for spec in grad_specs if spec[0] not in done], str(exc))
    return Observation(case, outputs, tuple(seen), tuple(notes))


def _read(out: object) -> tuple[FloatArray, str | None]:
    """forward's result as one array; for a pair of the final state and every state, which order.

    A pair is told by the number of axes: h_last (N, H) has two, hs (N, T, H) three.
    """
    if isinstance(out, tuple | list) and len(out) == 2:
        ndims = [np.ndim(part) if isinstance(part, np.ndarray) else None for part in out]
        if ndims in ([2, 3], [3, 2]):
            form = "(h_last, hs)" if ndims == [2, 3] else "(hs, h_last)"
            return as_array("hs", out[ndims.index(3)]), form
    return as_array("h", out), None


def final_state_only(case: Case) -> Case:
    """``case`` for a layer that returns the final state: the loss sees only that state."""
    last = np.zeros_like(case.dh)
    last[:, -1] = case.dh[:, -1]
    return case.with_upstream(last)


plan = plan_class(run)
