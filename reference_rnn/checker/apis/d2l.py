"""``--api d2l``: Dive into Deep Learning's "RNN from scratch", in torch.

``rnn(inputs, state, params) -> (outputs, (H,))``: inputs (T, N, V) tensors, ``state`` a
one-element tuple of H (N, h), ``params`` = [W_xh (V, h), W_hh (h, h), b_h (h,), W_hq (h, q),
b_q (q,)], ``outputs`` the ``torch.cat`` of every step's ``H @ W_hq + b_q``, (T * N, q). TARGET is
the function, or a module that has ``rnn``.

The gradients come from torch's autograd through the code's own forward: the checker gives every
input, the state and every parameter ``requires_grad``, backpropagates ``sum(outputs * dy)`` for
the case's upstream gradient ``dy`` of the outputs, and reads each ``.grad``. A forward that
leaves the graph (``.numpy()``, ``.detach()``, a tensor built anew from values) leaves some
``.grad`` empty, and one that writes in place into what autograd needs makes backward raise:
both are named. The tensors are the case's dtype, on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np

from reference_rnn.checker.apis.calling import (
    Output,
    UserCodeError,
    call_user,
    copies,
    describe,
    output,
    unpack,
)
from reference_rnn.checker.apis.spec import ApiSpec, Call, OutputSpec, RunnerSpec, is_function
from reference_rnn.core.optional import require

__all__ = ["SPEC", "torch_module"]

#: What each tensor the code is given is called, and the reference's key of its gradient.
_GRADIENTS = (
    ("inputs", "dx"),
    ("state", "dh0"),
    ("W_xh", "dWx"),
    ("W_hh", "dWh"),
    ("b_h", "db"),
    ("W_hq", "dWy"),
    ("b_q", "dby"),
)


def torch_module() -> ModuleType:
    """torch, for the APIs whose code takes torch tensors."""
    return require("torch", extra="oracle-torch", purpose="checking code that takes torch tensors")


def warm_torch() -> None:
    """torch imported, and a backward with a given upstream gradient run once: the first one
    imports more of torch (its symbolic shapes, SymPy: seconds), which is the worker's start
    then, not the judged call's time under ``--timeout``."""
    torch = torch_module()
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (2 * x).backward(torch.ones(1, dtype=torch.float64))


def _steps(target: Any, call: Call) -> Iterator[None]:
    """``rnn`` on tensors that require their gradients, then torch's backward through it."""
    rnn = target if is_function(target) else target.rnn
    torch = torch_module()
    case = call.case
    N, T, D, H = case.shape
    assert case.readout is not None  # the runner's cases have a linear output layer
    x, h0, Wx, Wh, b, _ = copies(case)
    Wy, by, dy = (np.array(a) for a in case.readout[1:])
    Q = Wy.shape[1]
    given = [x.transpose(1, 0, 2), h0, Wx, Wh, b, Wy, by]  # inputs (T, N, D), time-major
    tensors = [torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in given]
    inputs, state, *params = tensors
    out = call_user("rnn", lambda: rnn(inputs, (state,), list(params)))
    outputs, (last,) = unpack("rnn", out, 2)[0], unpack("rnn's state", out[1], 1)
    outputs = _joined(torch, outputs, T, call.notes)
    # outputs: the steps one after another, (T * N, Q) -> (T, N, Q) -> (N, T, Q)
    call.add("y", _values(torch, outputs), (T * N, Q), _batch_first(T, N, Q))
    call.add("h_last", _values(torch, last), (N, H))
    yield
    _backward(torch, outputs, dy, T * N, call.seen)
    inputs_grad, *grads = (
        _gradient(spec, tensor, call.seen)
        for tensor, spec in zip(tensors, call.runner.gradients, strict=True)
    )
    call.outputs += [_input_gradient(inputs_grad, T, N, D), *grads]


def _joined(torch: ModuleType, outputs: object, T: int, notes: list[str]) -> object:
    """``outputs``, or, for a list of T tensors of one shape (one per step), their ``torch.cat``
    (in the graph): d2l's layout, which the report then says it read so."""
    if not isinstance(outputs, list | tuple) or len(outputs) != T:
        return outputs
    if not all(isinstance(o, torch.Tensor) for o in outputs):
        return outputs
    if len({tuple(o.shape) for o in outputs}) != 1:
        return outputs
    notes.append(
        "rnn returns its outputs as a list of one (N, q) tensor per step: checked as their "
        "torch.cat"
    )
    return torch.cat(list(outputs), dim=0)


def _values(torch: ModuleType, value: object) -> object:
    """A tensor's values, without its graph: what NumPy reads of it."""
    return value.detach() if isinstance(value, torch.Tensor) else value


def _batch_first(T: int, N: int, Q: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda y: y.reshape(T, N, Q).transpose(1, 0, 2)


def _backward(
    torch: ModuleType, outputs: object, dy: np.ndarray, rows: int, seen: list[str]
) -> None:
    """``sum(outputs * dy)`` backpropagated through the code's graph; UserCodeError if it cannot."""
    if not isinstance(outputs, torch.Tensor):
        seen.append("leaves-the-graph")  # values, but no graph to backpropagate through
        msg = f"not run: outputs is {describe(outputs)}, not a tensor: autograd cannot reach it"
        raise UserCodeError(msg)
    if outputs.shape != (rows, dy.shape[-1]):
        msg = (
            f"not run: outputs has shape {tuple(outputs.shape)}, expected ({rows}, {dy.shape[-1]})"
        )
        raise UserCodeError(msg)
    if outputs.grad_fn is None:
        seen.append("leaves-the-graph")
        msg = "not run: outputs has no grad_fn: the forward left torch's graph"
        raise UserCodeError(msg)
    upstream = torch.tensor(np.ascontiguousarray(dy.transpose(1, 0, 2)).reshape(rows, -1))
    try:
        call_user("backpropagating outputs", lambda: outputs.backward(upstream.to(outputs.dtype)))
    except UserCodeError as exc:
        if "inplace operation" in str(exc):
            seen.append("in-place-write")
        raise


def _gradient(spec: OutputSpec, tensor: Any, seen: list[str]) -> Output:
    if tensor.grad is None:
        seen.append("leaves-the-graph")
        name = spec.name.removesuffix(".grad")
        why = f"{spec.name} is None: outputs do not depend on {name} through torch"
        return Output(spec.key, spec.name, None, why)
    return output(spec.key, spec.name, tensor.grad.numpy(), tuple(tensor.shape))


def _input_gradient(found: Output, T: int, N: int, D: int) -> Output:
    """inputs.grad, (T, N, D), in the reference's layout (N, T, D)."""
    if found.value is None or found.problem is not None:
        return found
    return Output(found.key, found.name, found.value.reshape(T, N, D).transpose(1, 0, 2))


SPEC = ApiSpec(
    "d2l",
    "function",
    (
        RunnerSpec(
            "",
            "rnn",
            None,  # the gradients are torch's autograd through the code's own forward
            (OutputSpec("y", "outputs"), OutputSpec("h_last", "H")),
            tuple(OutputSpec(key, f"{name}.grad") for name, key in _GRADIENTS),
            _steps,
            None,  # what stopped the forward stops autograd too
            readout="linear",
        ),
    ),
    tensors="torch",
    layout="time-major",
    by_hand=False,
)
