"""``--api sprint``: the exercise's ``SimpleRNN(Wx, Wh, b)``.

``forward(x, h_prev)`` returns the final state (N, H), every state (N, T, H), or (T, H) for a
batch of one, as the exercise's code does; ``backward(dout)`` (optional) takes the gradient of
what forward returned and returns dx, with ``.grads`` and, if the layer has it, ``.dh_prev``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import Output, as_array, call_user, final_state_only
from reference_rnn.checker.apis.classes import layer_api, made
from reference_rnn.checker.apis.spec import Call, OutputSpec
from reference_rnn.core.validation import FloatArray

__all__ = ["SPEC"]


def _steps(cls: Any, call: Call) -> Iterator[None]:
    """A layer, forward, and, if what it returned has a state's shape, backward and .grads."""
    N, T, D, H = call.case.shape
    layer = made(cls, call)
    x, h0, dh, obj = layer.x, layer.h0, layer.dh, layer.obj
    arr, form = _read(call_user("forward(x, h_prev)", lambda: obj.forward(x, h0)))
    # What forward returned decides what backward is given: the gradient of that.
    dout, unbatched = dh, False
    call.notes += [f"forward returns {form}: hs is checked"] if form else []
    if arr.shape == (N, H):
        call.case, dout = final_state_only(call.case), dh[:, -1]
        forward = call.add("h_last", arr, (N, H))
    elif arr.shape == (T, H) and N == 1:
        dout, unbatched = dh[0], True
        forward = call.add("h", arr, (T, H), lambda a: a[None])  # (T, H) -> (1, T, H)
    elif arr.shape == (N, T, H):
        forward = call.add("h", arr, (N, T, H))
    else:
        why = (
            f"h has shape {arr.shape}; forward must return every state (N, T, H) = {(N, T, H)}, "
            f"the final state (N, H) = {(N, H)}, or for a batch of one (T, H)"
        )
        forward = Output("h", "h", arr, why)
        call.outputs.append(forward)
    if forward.problem is not None:
        return  # no backward for what forward should not have returned
    yield
    dx = layer.backward("backward(dout)", lambda: obj.backward(dout), call)
    if unbatched:  # dx as forward's states, (T, D)
        call.add("dx", dx, (T, D), lambda a: a[None])
    else:
        call.add("dx", dx, (N, T, D))
    layer.gradients(call)
    dh_prev = call_user("dh_prev", lambda: getattr(obj, "dh_prev", None))
    if dh_prev is not None:  # optional in this API
        call.add("dh0", dh_prev, (N, H))


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


SPEC = layer_api(
    "sprint",
    _steps,
    (
        OutputSpec("h", "h", or_last=True),  # every state, or the final one
        OutputSpec("dx", "dx"),
        OutputSpec("dh0", "dh_prev", optional=True),
    ),
)
