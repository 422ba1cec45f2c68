"""``--api dlfs2``: deep-learning-from-scratch-2's ``TimeRNN(Wx, Wh, b, stateful=False)``.

``forward(xs) -> hs``, ``backward(dhs) -> dxs``, ``.grads == [dWx, dWh, db]``, ``.dh``,
``set_state(h)``, ``reset_state()``. A nonzero initial state is given with ``stateful=True`` and
``set_state``; the case in two blocks feeds consecutive blocks to one stateful layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reference_rnn.checker.apis.calling import call_user
from reference_rnn.checker.apis.classes import layer_api, made
from reference_rnn.checker.apis.spec import Call, OutputSpec

__all__ = ["SPEC"]


def _steps(cls: Any, call: Call) -> Iterator[None]:
    """A layer, its state set (or the first block run), forward, then backward and .grads."""
    case = call.case
    N, T, D, H = case.shape
    s = case.split or 0  # for a case in two blocks, the checked call is the second block's
    stateful = bool(s) or not case.zero_h0
    layer = made(cls, call, stateful=stateful)
    x, h0, dh, obj = layer.x, layer.h0, layer.dh, layer.obj
    if s:
        if case.zero_h0:
            # the lambdas look the method up inside call_user: it may not exist
            call_user("reset_state()", lambda: obj.reset_state())  # noqa: PLW0108
        else:
            call_user("set_state(h0)", lambda: obj.set_state(h0))
        call_user("forward(the first block)", lambda: obj.forward(x[:, :s]))
        if call.backward:
            call_user("backward(the first block)", lambda: obj.backward(dh[:, :s]))
    elif stateful:
        call_user("set_state(h0)", lambda: obj.set_state(h0))
    call.add("h", call_user("forward(xs)", lambda: obj.forward(x[:, s:])), (N, T - s, H))
    yield
    call.add(
        "dx", layer.backward("backward(dhs)", lambda: obj.backward(dh[:, s:]), call), (N, T - s, D)
    )
    call.add("dh0", call_user(".dh", lambda: obj.dh), (N, H))
    layer.gradients(call)


SPEC = layer_api(
    "dlfs2",
    _steps,
    (OutputSpec("h", "hs"), OutputSpec("dx", "dxs"), OutputSpec("dh0", "dh")),
    # each missing one is a failed check: a TimeRNN without them is not one
    required=("set_state", "reset_state"),
    backward_required=True,  # the exercise's TimeRNN has one
    blocks=True,
)
