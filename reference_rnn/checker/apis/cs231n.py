"""``--api cs231n``: a module with CS231n's four functions, the functional core's signatures.

``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)``,
``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``,
``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` and
``rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``. The exercise asks for both backward
functions: a missing one is a failed check, unless the check is forward only (``--forward-only``:
the forward function is then checked alone, and the verdict says so).

``--api cs231n-torch`` (``--api cs231n --tensors torch``): the same functions written with torch
tensors, as EECS 498-007's exercise has them: every array is given as a CPU tensor of the case's
dtype, and what comes back is read as a tensor's values; the backward is the code's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from reference_rnn.checker.apis.calling import (
    call_user,
    called_backward,
    one_step,
    unpack,
    weight_grads,
)
from reference_rnn.checker.apis.d2l import torch_module
from reference_rnn.checker.apis.spec import (
    WEIGHTS,
    ApiSpec,
    Call,
    OutputSpec,
    RunnerSpec,
    function_pair,
)

__all__ = ["SPEC", "TORCH_SPEC"]


def _steps(tensors: bool, module: Any, call: Call) -> Iterator[None]:
    """A forward function, then its backward; ``tensors``: each array given as a torch tensor."""
    runner, step = call.runner, call.runner.one_step
    N, T, D, H = call.case.shape
    x, h0, Wx, Wh, b, dh = call.copies()
    if tensors:
        x, h0, Wx, Wh, b, dh = (torch_module().from_numpy(a) for a in (x, h0, Wx, Wh, b, dh))
    forward = getattr(module, runner.forward)
    out = call_user(runner.forward, lambda: forward(x[:, 0] if step else x, h0, Wx, Wh, b))
    h, cache = unpack(runner.forward, out, 2)
    per_step = one_step if step else None
    call.add("h", h, (N, H) if step else (N, T, H), per_step)
    yield
    what = str(runner.backward)
    backward = getattr(module, what)
    back = called_backward(what, lambda: backward(dh[:, 0] if step else dh, cache), call.seen)
    grads = unpack(what, back, 5)
    call.add("dx", grads[0], (N, D) if step else (N, T, D), per_step)
    call.add("dh0", grads[1], (N, H))
    call.outputs += weight_grads(grads[2:], D, H)


def _runners(tensors: bool) -> tuple[RunnerSpec, ...]:
    """The step functions and the sequence's, named as CS231n names their values."""
    steps = partial(_steps, tensors)

    def pair(label: str, names: tuple[str, str], h: str, dh0: str) -> RunnerSpec:
        gradients = (OutputSpec("dx", "dx"), OutputSpec("dh0", dh0), *WEIGHTS)
        step = label == "step:"
        return function_pair(label, names, (OutputSpec("h", h),), gradients, steps, one_step=step)

    return (
        pair("step:", ("rnn_step_forward", "rnn_step_backward"), "next_h", "dprev_h"),
        pair("", ("rnn_forward", "rnn_backward"), "h", "dh0"),
    )


SPEC = ApiSpec(
    "cs231n",
    "module",
    _runners(tensors=False),
    torch_form="cs231n-torch",
    backward_required=True,
)
TORCH_SPEC = ApiSpec(
    "cs231n-torch", "module", _runners(tensors=True), tensors="torch", backward_required=True
)
