"""The Elman cell as the stack driver runs it: torch's parameters to the core's and back.

torch keeps ``weight_ih (H, D_l)``, ``weight_hh (H, H)`` and two biases per layer and direction;
the core (:mod:`~reference_rnn.core.elman`) takes ``Wx = weight_ih.T (D_l, H)``,
``Wh = weight_hh.T (H, H)`` and one ``b = bias_ih + bias_hh (H,)``, whose gradient is both
biases' gradient. Its one state is ``h (N, H)``. The driver checked the arguments: the core checks
its results only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.elman import RNNCache, backward_sequence, forward_sequence
from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.stack import Cell, CoreArrays, States

__all__ = ["ELMAN"]


def _weights(
    config: RNNConfig, params: Mapping[str, FloatArray], layer: int, direction: int
) -> CoreArrays:
    """``Wx (D_l, H)``, ``Wh (H, H)`` and ``b (H,)`` of the functional core, from torch's."""
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    W_ih = params[w_ih]
    b = params[b_ih] + params[b_hh] if config.bias else np.zeros(config.hidden_size, W_ih.dtype)
    return W_ih.T, params[w_hh].T, b


def _state_sizes(config: RNNConfig) -> tuple[int, ...]:
    return (config.hidden_size,)


def _forward(
    config: RNNConfig, x: FloatArray, s0: States, weights: CoreArrays
) -> tuple[States, RNNCache]:
    Wx, Wh, b = weights
    (h0,) = s0
    h, cache = forward_sequence(
        x, h0, Wx, Wh, b, "hx", config.nonlinearity, check_finite=False, check_results=True
    )
    return (h,), cache


def _backward(g: States, cache: RNNCache) -> tuple[FloatArray, States, CoreArrays]:
    (g_h,) = g
    dx, dh0, *dweights = backward_sequence(
        g_h, cache, "grad_output", check_finite=False, check_results=True
    )
    return dx, (dh0,), tuple(dweights)


def _gradients(
    config: RNNConfig, layer: int, direction: int, dweights: CoreArrays
) -> dict[str, FloatArray]:
    """The core's gradients of one layer and direction, named and laid out as torch's."""
    dWx, dWh, db = dweights
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    grads = {w_ih: dWx.T, w_hh: dWh.T}
    if config.bias:
        grads |= {b_ih: db, b_hh: db.copy()}
    return grads


def _gradient_names(config: RNNConfig, layer: int, direction: int) -> dict[str, str]:
    w_ih, w_hh, b_ih, _ = config.param_names(layer, direction)
    return {
        "the gradient dWx": f"the gradient of {w_ih}",
        "the gradient dWh": f"the gradient of {w_hh}",
        "the gradient db": f"the gradient of {b_ih}",
    }


#: ``torch.nn.RNN``'s cell, tanh or relu.
ELMAN = Cell(
    modes=("RNN_TANH", "RNN_RELU"),
    torch_module="RNN",
    states=("h",),
    state_sizes=_state_sizes,
    weights=_weights,
    forward=_forward,
    backward=_backward,
    gradients=_gradients,
    gradient_names=_gradient_names,
)
