"""``--api dlfs2-cell``: deep-learning-from-scratch-2's cell, ``RNN(Wx, Wh, b)``: one step.

``forward(x, h_prev) -> h_next``, ``backward(dh_next) -> (dx, dh_prev)``, ``.grads``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reference_rnn.checker.apis.calling import call_user, one_step, unpack
from reference_rnn.checker.apis.classes import layer_api, made
from reference_rnn.checker.apis.spec import Call, OutputSpec

__all__ = ["SPEC"]


def _steps(cls: Any, call: Call) -> Iterator[None]:
    """A cell, one step forward, then backward and .grads."""
    N, _, D, H = call.case.shape
    layer = made(cls, call)
    x, h0, dh, obj = layer.x, layer.h0, layer.dh, layer.obj
    call.add(
        "h", call_user("forward(x, h_prev)", lambda: obj.forward(x[:, 0], h0)), (N, H), one_step
    )
    yield
    back = layer.backward("backward(dh_next)", lambda: obj.backward(dh[:, 0]), call)
    dx, dh_prev = unpack("backward(dh_next)", back, 2)
    call.add("dx", dx, (N, D), one_step)
    call.add("dh0", dh_prev, (N, H))
    layer.gradients(call)


SPEC = layer_api(
    "dlfs2-cell",
    _steps,
    (OutputSpec("h", "h_next"), OutputSpec("dx", "dx"), OutputSpec("dh0", "dh_prev")),
    backward_required=True,
    one_step=True,
)
