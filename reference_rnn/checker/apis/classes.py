"""What the class APIs share: the user's layer, made with the case's weights, and its backward.

A class API (dlfs2's ``TimeRNN`` and ``RNN``, the exercise's ``SimpleRNN``) gives a layer copies
of Wx, Wh and b, calls its ``forward`` and ``backward`` methods and reads its gradients from
``.grads``. Its backward may also take an optimizer step on the weights it was given: that is
seen, and said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import (
    call_user,
    called_backward,
    class_name,
    unpack,
    weight_grads,
)
from reference_rnn.checker.apis.spec import WEIGHTS, ApiSpec, Call, OutputSpec, RunnerSpec, Steps
from reference_rnn.core.validation import FloatArray

__all__ = ["Layer", "layer_api", "made"]


@dataclass(frozen=True)
class Layer:
    """The user's layer for one call, and the copies of the case's arrays it was given."""

    obj: Any
    name: str
    x: FloatArray
    h0: FloatArray
    dh: FloatArray
    weights: tuple[FloatArray, FloatArray, FloatArray]  # Wx, Wh, b

    def backward(self, what: str, thunk: Callable[[], Any], call: Call) -> Any:
        """``thunk()``, the layer's backward; whether it changed the weights is seen."""
        result = called_backward(what, thunk, call.seen)
        case = call.case
        originals = (case.Wx, case.Wh, case.b)
        if any(not np.array_equal(a, o) for a, o in zip(self.weights, originals, strict=True)):
            call.seen.append("weights-updated-in-backward")
            call.notes.append(
                f"{self.name}.backward changed the weights it was given in place: "
                "it takes an optimizer step itself. The checker reads the gradients from .grads; "
                "to check the step instead, give the layer an optimizer of learning rate 0, or "
                "read the change: dW = (W_before - W_after) / lr"
            )
        return result

    def gradients(self, call: Call) -> None:
        """``.grads``, ``[dWx, dWh, db]``, added to the call's outputs."""
        _, _, D, H = call.case.shape
        grads = unpack(".grads", call_user(".grads", lambda: self.obj.grads), 3)
        call.outputs += weight_grads(grads, D, H)


def made(cls: Any, call: Call, **options: bool) -> Layer:
    """``cls(Wx, Wh, b, **options)`` with copies of the case's weights."""
    # the weights are the layer's parameters: its backward may update them (which is said)
    x, h0, Wx, Wh, b, dh = call.copies(owned=("Wx", "Wh", "b"))
    name = class_name(cls)
    given = "".join(f", {option}={value}" for option, value in options.items())
    layer = call_user(f"{name}(Wx, Wh, b{given})", lambda: cls(Wx, Wh, b, **options))
    return Layer(layer, name, x, h0, dh, (Wx, Wh, b))


def layer_api(
    name: str,
    steps: Steps,
    returns: tuple[OutputSpec, OutputSpec, OutputSpec],
    *,
    required: tuple[str, ...] = (),
    backward_required: bool = False,
    one_step: bool = False,
    blocks: bool = False,
) -> ApiSpec:
    """A class API: one runner, of the layer's ``forward`` and ``backward`` methods.

    ``returns``: the states, dx and dh0 as the API names them; the weights' gradients are
    ``.grads``.
    """
    h, dx, dh0 = returns
    gradients = (dx, dh0, *WEIGHTS)
    forward = RunnerSpec(
        "", "forward", "backward", (h,), gradients, steps, one_step=one_step, blocks=blocks
    )
    return ApiSpec(
        name, "class", (forward,), required=required, backward_required=backward_required
    )
