"""The LSTM cell as the stack driver runs it: torch's parameters to the core's and back.

torch keeps ``weight_ih (4H, D_l)``, ``weight_hh (4H, P)``, two biases ``(4H,)`` and, with
``proj_size = P``, ``weight_hr (P, H)`` per layer and direction, the gates' rows in the order
i, f, g, o; the core (:mod:`~reference_rnn.core.lstm`) takes ``Wx = weight_ih.T (D_l, 4H)``,
``Wh = weight_hh.T (P, 4H)``, one ``b = bias_ih + bias_hh (4H,)``, whose gradient is both biases'
gradient, and ``Wr = weight_hr.T (H, P)`` or None. Its states are ``h (N, P)`` and ``c (N, H)``
(P = H without a projection). The driver checked the arguments: the core checks its results only.
"""

from __future__ import annotations

from collections.abc import Mapping

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.lstm import LSTMCache, backward_sequence, forward_sequence
from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.cell_parts import core_weights, gradient_names, torch_gradients
from reference_rnn.layers.stack import Cell, CoreArrays, States

__all__ = ["LSTM_CELL"]


def _weights(
    config: RNNConfig, params: Mapping[str, FloatArray], layer: int, direction: int
) -> CoreArrays:
    """``Wx (D_l, 4H)``, ``Wh (P, 4H)``, ``b (4H,)`` and, with a projection, ``Wr (H, P)``."""
    weights = core_weights(config, params, layer, direction, summed=True)
    if config.proj_size:
        weights += (params[config.projection_name(layer, direction)].T,)
    return weights


def _state_sizes(config: RNNConfig) -> tuple[int, ...]:
    return config.output_size, config.hidden_size


def _forward(
    config: RNNConfig,  # noqa: ARG001  (the Cell's signature)
    x: FloatArray,
    s0: States,
    weights: CoreArrays,
) -> tuple[States, LSTMCache]:
    Wx, Wh, b, *projection = weights
    h0, c0 = s0
    Wr = projection[0] if projection else None
    h, c, cache = forward_sequence(
        x, h0, c0, Wx, Wh, b, Wr, ("hx[0]", "hx[1]"), check_finite=False, check_results=True
    )
    return (h, c), cache


def _backward(g: States, cache: LSTMCache) -> tuple[FloatArray, States, CoreArrays]:
    g_h, g_c = g
    dx, dh0, dc0, dWx, dWh, db, dWr = backward_sequence(
        g_h, g_c, cache, ("grad_output", "grad_hx[1]"), check_finite=False, check_results=True
    )
    return dx, (dh0, dc0), (dWx, dWh, db) + (() if dWr is None else (dWr,))


def _gradients(
    config: RNNConfig, layer: int, direction: int, dweights: CoreArrays
) -> dict[str, FloatArray]:
    """The core's gradients of one layer and direction, named and laid out as torch's."""
    grads = torch_gradients(config, layer, direction, dweights[:3])
    if projection := dweights[3:]:
        grads[config.projection_name(layer, direction)] = projection[0].T
    return grads


def _gradient_names(config: RNNConfig, layer: int, direction: int) -> dict[str, str]:
    projection = config.projection_name(layer, direction)
    return gradient_names(config, layer, direction) | {
        "the gradient dWr": f"the gradient of {projection}"
    }


#: ``torch.nn.LSTM``'s cell.
LSTM_CELL = Cell(
    modes=("LSTM",),
    torch_module="LSTM",
    states=("h", "c"),
    state_sizes=_state_sizes,
    weights=_weights,
    forward=_forward,
    backward=_backward,
    gradients=_gradients,
    gradient_names=_gradient_names,
)
