"""The GRU cell as the stack driver runs it: torch's parameters to the core's and back.

torch keeps ``weight_ih (3H, D_l)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)`` and ``bias_hh (3H,)``
per layer and direction, the gates r, z, n stacked in that order; the core
(:mod:`~reference_rnn.core.gru`) takes ``Wx = weight_ih.T (D_l, 3H)``, ``Wh = weight_hh.T
(H, 3H)``, ``b = bias_ih`` and ``bh = bias_hh`` (zeros without bias): the two biases stay apart,
as the reset gate scales ``bias_hh``'s n part with ``reset_after``. Its one state is
``h (N, H)``. The driver checked the arguments: the core checks its results only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.gru import GRUCache, backward_sequence, forward_sequence
from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.stack import Cell, CoreArrays, States

__all__ = ["GRU_CELL"]


def _weights(
    config: RNNConfig, params: Mapping[str, FloatArray], layer: int, direction: int
) -> CoreArrays:
    """``Wx (D_l, 3H)``, ``Wh (H, 3H)``, ``b (3H,)`` and ``bh (3H,)`` of the core, from torch's."""
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    W_ih = params[w_ih]
    if config.bias:
        return W_ih.T, params[w_hh].T, params[b_ih], params[b_hh]
    zeros = np.zeros(config.gate_size, W_ih.dtype)
    return W_ih.T, params[w_hh].T, zeros, zeros


def _state_sizes(config: RNNConfig) -> tuple[int, ...]:
    return (config.hidden_size,)


def _forward(
    config: RNNConfig, x: FloatArray, s0: States, weights: CoreArrays
) -> tuple[States, GRUCache]:
    Wx, Wh, b, bh = weights
    (h0,) = s0
    h, cache = forward_sequence(
        x, h0, Wx, Wh, b, bh, "hx", config.reset_after, check_finite=False, check_results=True
    )
    return (h,), cache


def _backward(g: States, cache: GRUCache) -> tuple[FloatArray, States, CoreArrays]:
    (g_h,) = g
    dx, dh0, *dweights = backward_sequence(
        g_h, cache, "grad_output", check_finite=False, check_results=True
    )
    return dx, (dh0,), tuple(dweights)


def _gradients(
    config: RNNConfig, layer: int, direction: int, dweights: CoreArrays
) -> dict[str, FloatArray]:
    """The core's gradients of one layer and direction, named and laid out as torch's."""
    dWx, dWh, db, dbh = dweights
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    grads = {w_ih: dWx.T, w_hh: dWh.T}
    if config.bias:
        grads |= {b_ih: db, b_hh: dbh}
    return grads


def _gradient_names(config: RNNConfig, layer: int, direction: int) -> dict[str, str]:
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    return {
        "the gradient dWx": f"the gradient of {w_ih}",
        "the gradient dWh": f"the gradient of {w_hh}",
        "the gradient db": f"the gradient of {b_ih}",
        "the gradient dbh": f"the gradient of {b_hh}",
    }


#: ``torch.nn.GRU``'s cell, with either place of the reset gate (``config.reset_after``).
GRU_CELL = Cell(
    modes=("GRU",),
    torch_module="GRU",
    states=("h",),
    state_sizes=_state_sizes,
    weights=_weights,
    forward=_forward,
    backward=_backward,
    gradients=_gradients,
    gradient_names=_gradient_names,
)
