"""``--api dlfs2``: deep-learning-from-scratch-2's ``TimeRNN(Wx, Wh, b, stateful=False)``.

``forward(xs) -> hs``, ``backward(dhs) -> dxs``, ``.grads == [dWx, dWh, db]``, ``.dh``,
``set_state(h)``, ``reset_state()``. A nonzero initial state is given with ``stateful=True`` and
``set_state``; the case in two blocks feeds consecutive blocks to one stateful layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reference_rnn.checker.apis.calling import (
    call_user,
    called_backward,
    class_name,
    copies,
    grads_attribute,
    weights_changed,
)
from reference_rnn.checker.apis.spec import WEIGHTS, ApiSpec, Call, OutputSpec, RunnerSpec

__all__ = ["SPEC"]


def _steps(cls: Any, call: Call) -> Iterator[None]:
    """A layer, its state set (or the first block run), forward, then backward and .grads."""
    case = call.case
    N, T, D, H = case.shape
    x, h0, Wx, Wh, b, dh = copies(case)
    name = class_name(cls)
    s = case.split or 0  # for a case in two blocks, the checked call is the second block's
    stateful = bool(s) or not case.zero_h0
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
        if call.backward:
            call_user("backward(the first block)", lambda: layer.backward(dh[:, :s]))
    elif stateful:
        call_user("set_state(h0)", lambda: layer.set_state(h0))
    call.add("h", call_user("forward(xs)", lambda: layer.forward(x[:, s:])), (N, T - s, H))
    yield
    dxs = called_backward("backward(dhs)", lambda: layer.backward(dh[:, s:]), call.seen)
    weights_changed(name, (Wx, Wh, b), case, call.seen, call.notes)
    call.add("dx", dxs, (N, T - s, D))
    call.add("dh0", call_user(".dh", lambda: layer.dh), (N, H))
    call.outputs += grads_attribute(layer, D, H)


SPEC = ApiSpec(
    "dlfs2",
    "class",
    (
        RunnerSpec(
            "",
            "forward",
            "backward",
            (OutputSpec("h", "hs"),),
            (OutputSpec("dx", "dxs"), OutputSpec("dh0", "dh"), *WEIGHTS),
            _steps,
            blocks=True,
        ),
    ),
    # each missing one is a failed check: a TimeRNN without them is not one
    required=("backward", "set_state", "reset_state"),
)
