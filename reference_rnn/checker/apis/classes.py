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
        """``thunk()``, the layer's backward; whether it changed the weights is seen: in place,
        or by binding other values where the layer held them (``self.params = [...]``,
        ``self.Wx = self.Wx - lr * dWx``)."""
        held = _holders(self.obj, self.weights)
        result = called_backward(what, thunk, call.seen)
        case = call.case
        originals = (case.Wx, case.Wh, case.b)
        if any(not np.array_equal(a, o) for a, o in zip(self.weights, originals, strict=True)):
            how = "changed the weights it was given in place"
        elif _rebound(self.obj, held, originals):
            how = "bound new values to the weights it was given"
        else:
            return result
        call.seen.append("weights-updated-in-backward")
        call.notes.append(
            f"{self.name}.backward {how}: "
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


#: Where a layer holds an array: its attribute, and the index in a list there (None: itself).
_Place = tuple[str, int | None]


def _arrays(obj: Any) -> dict[_Place, FloatArray]:
    """The arrays ``obj``'s attributes hold: an attribute, or an item of a list or tuple in one
    (dlfs2's ``params``)."""
    found: dict[_Place, FloatArray] = {}
    for name, value in dict(getattr(obj, "__dict__", {})).items():  # slots only: nothing
        items = enumerate(value) if isinstance(value, list | tuple) else [(None, value)]
        found |= {(name, i): item for i, item in items if isinstance(item, np.ndarray)}
    return found


def _holders(obj: Any, weights: tuple[FloatArray, ...]) -> dict[_Place, int]:
    """Where ``obj`` holds the arrays ``weights``, by their index in it."""
    arrays = _arrays(obj)
    return {place: k for place, a in arrays.items() for k, w in enumerate(weights) if a is w}


def _rebound(obj: Any, held: dict[_Place, int], originals: tuple[FloatArray, ...]) -> bool:
    """Whether a place in ``held`` now holds an array of its weight's shape with other values:
    an update bound where the weight was."""
    now = _arrays(obj)
    return any(
        place in now
        and now[place].shape == originals[k].shape
        and not np.array_equal(now[place], originals[k])
        for place, k in held.items()
    )


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
