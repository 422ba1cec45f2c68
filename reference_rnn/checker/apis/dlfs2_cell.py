"""``--api dlfs2-cell``: deep-learning-from-scratch-2's cell, ``RNN(Wx, Wh, b)``: one step.

``forward(x, h_prev) -> h_next``, ``backward(dh_next) -> (dx, dh_prev)``, ``.grads``.
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
    one_step,
    unpack,
    weights_changed,
)
from reference_rnn.checker.apis.spec import WEIGHTS, ApiSpec, Call, OutputSpec, RunnerSpec

__all__ = ["SPEC"]


def _steps(cls: Any, call: Call) -> Iterator[None]:
    """A cell, one step forward, then backward and .grads."""
    N, _, D, H = call.case.shape
    x, h0, Wx, Wh, b, dh = copies(call.case)
    name = class_name(cls)
    layer = call_user(f"{name}(Wx, Wh, b)", lambda: cls(Wx, Wh, b))
    call.add(
        "h", call_user("forward(x, h_prev)", lambda: layer.forward(x[:, 0], h0)), (N, H), one_step
    )
    yield
    back = called_backward("backward(dh_next)", lambda: layer.backward(dh[:, 0]), call.seen)
    weights_changed(name, (Wx, Wh, b), call.case, call.seen, call.notes)
    dx, dh_prev = unpack("backward(dh_next)", back, 2)
    call.add("dx", dx, (N, D), one_step)
    call.add("dh0", dh_prev, (N, H))
    call.outputs += grads_attribute(layer, D, H)


SPEC = ApiSpec(
    "dlfs2-cell",
    "class",
    (
        RunnerSpec(
            "",
            "forward",
            "backward",
            (OutputSpec("h", "h_next"),),
            (OutputSpec("dx", "dx"), OutputSpec("dh0", "dh_prev"), *WEIGHTS),
            _steps,
            one_step=True,
        ),
    ),
)
