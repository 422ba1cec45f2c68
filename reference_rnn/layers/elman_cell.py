"""The Elman cell as the stack driver runs it: torch's parameters to the core's and back.

torch keeps ``weight_ih (H, D_l)``, ``weight_hh (H, H)`` and two biases per layer and direction;
the core (:mod:`~reference_rnn.core.elman`) takes ``Wx = weight_ih.T (D_l, H)``,
``Wh = weight_hh.T (H, H)`` and one ``b = bias_ih + bias_hh (H,)``, whose gradient is both
biases' gradient. The driver checked the arguments: the core checks its results only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.elman import RNNCache, backward_sequence, forward_sequence
from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.stack import Cell, CoreArrays

__all__ = ["ELMAN"]


def _weights(
    config: RNNConfig, params: Mapping[str, FloatArray], layer: int, direction: int
) -> CoreArrays:
    """``Wx (D_l, H)``, ``Wh (H, H)`` and ``b (H,)`` of the functional core, from torch's."""
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    W_ih = params[w_ih]
    b = params[b_ih] + params[b_hh] if config.bias else np.zeros(config.hidden_size, W_ih.dtype)
    return W_ih.T, params[w_hh].T, b


def _forward(
    config: RNNConfig, x: FloatArray, h0: FloatArray, weights: CoreArrays
) -> tuple[FloatArray, RNNCache]:
    Wx, Wh, b = weights
    return forward_sequence(
        x, h0, Wx, Wh, b, "hx", config.nonlinearity, check_finite=False, check_results=True
    )


def _backward(g: FloatArray, cache: RNNCache) -> CoreArrays:
    return backward_sequence(g, cache, "grad_output", check_finite=False, check_results=True)


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


#: ``torch.nn.RNN``'s cell, tanh or relu.
ELMAN = Cell(
    modes=("RNN_TANH", "RNN_RELU"),
    torch_module="RNN",
    weights=_weights,
    forward=_forward,
    backward=_backward,
    gradients=_gradients,
)
