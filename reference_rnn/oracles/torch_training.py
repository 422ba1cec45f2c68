"""torch's training parts, from raw arrays: ``torch.optim``, clipping, a classifier, truncated BPTT.

The torch side of the verification report's training checks (:mod:`reference_rnn.verify.training_rows`).
Like every oracle, it takes NumPy arrays and options, builds torch's own objects from them with
torch's public API (``torch.optim``, ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``,
``nn.RNN``, ``nn.Linear``, ``nn.CrossEntropyLoss``) and returns NumPy arrays; it never calls this
package's computation, so that a mistake of ours cannot be mirrored on both sides. Everything is
float64.

Weights come in the reference's layout, ``Wx (D, H)``, ``Wh (H, H)``, ``b (H,)``, ``W (H, K)``,
``c (K,)``; torch holds the transposes of the matrices. ``nn.RNN`` has two biases where the
reference has one ``b``: ``bias_hh`` is kept at zero and frozen (outside the optimizer and the
clipping), so that ``bias_ih`` is ``b``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.oracles import FloatArray
from reference_rnn.oracles.torch import import_torch, one_thread

__all__ = [
    "classifier_steps",
    "clip_grad_norm",
    "clip_grad_value",
    "optimizer_steps",
    "truncated_bptt",
]

Arrays = dict[str, FloatArray]

#: The classifier's parameters, in the order and with the names of ``RNNClassifier.params``.
CLASSIFIER_PARAMS = ("rnn.Wx", "rnn.Wh", "rnn.b", "fc.W", "fc.b")


def optimizer_steps(
    name: str,
    options: Mapping[str, Any],
    params: Mapping[str, FloatArray],
    grads: Sequence[Mapping[str, FloatArray]],
) -> list[Arrays]:
    """``torch.optim.<name>(**options)`` from ``params``, one step per entry of ``grads``.

    ``name`` is torch's class name: ``"SGD"``, ``"Adagrad"``, ``"RMSprop"``, ``"Adam"``. Returns
    the parameters after every step (one dict per step, with the keys of ``params``).
    """
    torch = import_torch()
    tensors = {key: torch.nn.Parameter(torch.tensor(value)) for key, value in params.items()}
    optimizer = getattr(torch.optim, name)(list(tensors.values()), **options)
    history = []
    for step_grads in grads:
        for key, param in tensors.items():
            param.grad = torch.tensor(step_grads[key])
        optimizer.step()
        history.append(_numpy(tensors))
    return history


def clip_grad_norm(
    grads: Mapping[str, FloatArray], max_norm: float, norm_type: float
) -> tuple[Arrays, float]:
    """``torch.nn.utils.clip_grad_norm_`` on ``grads``: the clipped gradients and the total norm."""
    torch = import_torch()
    tensors = _with_grads(torch, grads)
    total = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm, norm_type=norm_type)
    return _grads(tensors), float(total.item())


def clip_grad_value(grads: Mapping[str, FloatArray], clip_value: float) -> Arrays:
    """``torch.nn.utils.clip_grad_value_`` on ``grads``: the clipped gradients."""
    torch = import_torch()
    tensors = _with_grads(torch, grads)
    torch.nn.utils.clip_grad_value_(list(tensors.values()), clip_value)
    return _grads(tensors)


def classifier_steps(
    params: Mapping[str, FloatArray],
    batches: Sequence[tuple[FloatArray, NDArray[np.intp]]],
    optimizer: str,
    options: Mapping[str, Any],
    max_norm: float,
) -> tuple[list[float], list[Arrays]]:
    """Training steps of ``nn.RNN`` (tanh, batch_first) -> ``nn.Linear`` on its final state.

    ``params`` has the keys of :data:`CLASSIFIER_PARAMS`: ``rnn.Wx (D, H)``, ``rnn.Wh (H, H)``,
    ``rnn.b (H,)``, ``fc.W (H, K)``, ``fc.b (K,)``. Each batch ``(x (N, T, D), y (N,))`` of class
    indices in ``[0, K)`` takes one step: ``nn.CrossEntropyLoss`` (the mean over the batch),
    backward, ``clip_grad_norm_(max_norm)`` over every trainable parameter, then
    ``torch.optim.<optimizer>(**options)``.

    Returns the loss before each step and the parameters after it, in ``params``' layout.
    """
    torch = import_torch()
    Wx = params["rnn.Wx"]
    D, H = Wx.shape
    K = params["fc.W"].shape[1]
    rnn = _rnn(torch, D, H, Wx, params["rnn.Wh"], params["rnn.b"])
    fc = torch.nn.Linear(H, K, dtype=torch.float64)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor(params["fc.W"].T))
        fc.bias.copy_(torch.tensor(params["fc.b"]))
    trainable = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, fc.weight, fc.bias]
    opt = getattr(torch.optim, optimizer)(trainable, **options)
    criterion = torch.nn.CrossEntropyLoss()
    losses, history = [], []
    with one_thread(torch):
        for x, y in batches:
            opt.zero_grad()
            output, _ = rnn(torch.tensor(x))  # (N, T, H)
            loss = criterion(fc(output[:, -1]), torch.tensor(y, dtype=torch.int64))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, max_norm)
            opt.step()
            losses.append(float(loss.item()))
            weights = [p.detach().numpy() for p in trainable]
            # back to the reference's layout: the matrices transposed
            layout = [weights[0].T, weights[1].T, weights[2], weights[3].T, weights[4]]
            history.append(
                {key: value.copy() for key, value in zip(CLASSIFIER_PARAMS, layout, strict=True)}
            )
    return losses, history


def truncated_bptt(
    Wx: FloatArray,
    Wh: FloatArray,
    b: FloatArray,
    blocks: Sequence[tuple[FloatArray, FloatArray]],
    return_sequences: bool,
) -> list[Arrays]:
    """``nn.RNN`` (tanh, batch_first) block by block, each from the last ``h_n``, detached.

    Each block ``(x (N, T, D), dout)`` starts from the state the previous one ended in (zeros at
    first) with the gradient stopped there, and backpropagates ``sum(out * dout)``, where ``out``
    is every state ``(N, T, H)`` with ``return_sequences`` and the final state ``(N, H)`` without.

    Returns per block: ``out``, ``dx (N, T, D)``, ``dh_prev (N, H)`` (the gradient at the block's
    initial state), ``dWx``, ``dWh``, ``db`` and ``h_n (N, H)``.
    """
    torch = import_torch()
    D, H = Wx.shape
    rnn = _rnn(torch, D, H, Wx, Wh, b)
    h_n = torch.zeros(1, blocks[0][0].shape[0], H, dtype=torch.float64)  # (1, N, H)
    results = []
    for x, dout in blocks:
        hx = h_n.detach().requires_grad_()  # truncated BPTT: no gradient into the last block
        xt = torch.tensor(x, requires_grad=True)
        rnn.zero_grad()
        output, h_n = rnn(xt, hx)  # (N, T, H), (1, N, H)
        out = output if return_sequences else output[:, -1]
        (out * torch.tensor(dout)).sum().backward()
        results.append(
            {
                "out": out.detach().numpy().copy(),
                "dx": xt.grad.numpy().copy(),
                "dh_prev": hx.grad[0].numpy().copy(),
                "dWx": rnn.weight_ih_l0.grad.numpy().T.copy(),
                "dWh": rnn.weight_hh_l0.grad.numpy().T.copy(),
                "db": rnn.bias_ih_l0.grad.numpy().copy(),
                "h_n": h_n[0].detach().numpy().copy(),
            }
        )
    return results


def _rnn(torch: Any, D: int, H: int, Wx: FloatArray, Wh: FloatArray, b: FloatArray) -> Any:
    """``nn.RNN(D, H, batch_first=True)`` in float64 holding Wx, Wh, b; bias_hh zero and frozen."""
    rnn = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(Wx.T))
        rnn.weight_hh_l0.copy_(torch.tensor(Wh.T))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
    rnn.bias_hh_l0.requires_grad_(False)
    return rnn


def _with_grads(torch: Any, grads: Mapping[str, FloatArray]) -> dict[str, Any]:
    """A zero parameter per gradient, its ``.grad`` a copy of the gradient."""
    tensors = {}
    for key, grad in grads.items():
        param = torch.nn.Parameter(torch.zeros(grad.shape, dtype=torch.float64))
        param.grad = torch.tensor(grad)
        tensors[key] = param
    return tensors


def _numpy(tensors: Mapping[str, Any]) -> Arrays:
    return {key: tensor.detach().numpy().copy() for key, tensor in tensors.items()}


def _grads(tensors: Mapping[str, Any]) -> Arrays:
    return {key: tensor.grad.numpy().copy() for key, tensor in tensors.items()}
