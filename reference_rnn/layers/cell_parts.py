"""What the cells' adapters share: torch's parameters to the core's weights, and back.

A cell (:class:`~reference_rnn.layers.stack.Cell`) maps torch's ``weight_ih (G, D_l)``,
``weight_hh (G, S)`` and two biases ``(G,)`` of one layer and direction onto its core's ``Wx =
weight_ih.T``, ``Wh = weight_hh.T`` and biases, and the core's gradients back onto torch's names
and layouts (G: the gates times the hidden size). The Elman cell and the LSTM's core take one
bias, ``b = bias_ih + bias_hh``, whose gradient is both biases' gradient; the GRU's core takes the
two apart. A cell of one state (``h``: the Elman cell, the GRU) is :func:`one_state_cell`. The one-step cells (``GRUCell``,
``LSTMCell``) check their parameters and input as :func:`checked_step_input` says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from operator import attrgetter
from types import ModuleType
from typing import Any

import numpy as np

from reference_rnn.core.config import CellName, Mode, RNNConfig
from reference_rnn.core.validation import FloatArray, as_real_array, require_finite
from reference_rnn.layers.stack import Cell, CoreArrays, States

__all__ = [
    "checked_step_input",
    "core_weights",
    "gradient_names",
    "one_state_cell",
    "torch_gradients",
]


def core_weights(
    config: RNNConfig,
    params: Mapping[str, FloatArray],
    layer: int,
    direction: int,
    *,
    summed: bool,
) -> CoreArrays:
    """``Wx (D_l, G)``, ``Wh (S, G)`` and the biases ``(G,)`` of one layer and direction.

    ``summed``: one ``b = bias_ih + bias_hh``; otherwise ``b = bias_ih`` and ``bh = bias_hh``.
    Zeros without bias.
    """
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    W_ih = params[w_ih]
    biases: CoreArrays
    if config.bias:
        biases = (params[b_ih] + params[b_hh],) if summed else (params[b_ih], params[b_hh])
    else:
        zeros = np.zeros(config.gate_size, W_ih.dtype)
        biases = (zeros,) if summed else (zeros, zeros)
    return W_ih.T, params[w_hh].T, *biases


def torch_gradients(
    config: RNNConfig, layer: int, direction: int, dweights: CoreArrays
) -> dict[str, FloatArray]:
    """The core's ``dWx``, ``dWh`` and ``db`` (and ``dbh``, the biases apart) of one layer and
    direction, named and laid out as torch's: without ``dbh``, ``db`` is both biases' gradient."""
    dWx, dWh, db, *dbh = dweights
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    grads = {w_ih: dWx.T, w_hh: dWh.T}
    if config.bias:
        grads |= {b_ih: db, b_hh: dbh[0] if dbh else db.copy()}
    return grads


def gradient_names(config: RNNConfig, layer: int, direction: int) -> dict[str, str]:
    """The core's names of ``dWx``, ``dWh`` and ``db`` in its messages, as the layer says them."""
    w_ih, w_hh, b_ih, _ = config.param_names(layer, direction)
    return {
        "the gradient dWx": f"the gradient of {w_ih}",
        "the gradient dWh": f"the gradient of {w_hh}",
        "the gradient db": f"the gradient of {b_ih}",
    }


def one_state_cell(
    modes: tuple[Mode, ...],
    torch_module: CellName,
    core: ModuleType,
    option: str,
    *,
    summed_bias: bool,
    names: Callable[[RNNConfig, int, int], Mapping[str, str]] = gradient_names,
) -> Cell:
    """The :class:`~reference_rnn.layers.stack.Cell` of a cell whose one state is ``h (N, H)``.

    ``core`` is its core module: ``forward_sequence(x, h0, *weights, h0_name, option, *,
    check_finite, check_results)`` and ``backward_sequence(dh, cache, dh_name, *, check_finite,
    check_results)`` returning ``dx``, ``dh0`` and the weights' gradients. ``option`` names the
    configuration's field the core takes after the weights (the Elman cell's ``nonlinearity``);
    ``summed_bias``: the core takes one bias (:func:`core_weights`); ``names``: the gradients'
    names in messages, beyond :func:`gradient_names`'s.
    """
    return Cell(
        modes=modes,
        torch_module=torch_module,
        states=("h",),
        state_sizes=_hidden_width,
        weights=partial(core_weights, summed=summed_bias),
        forward=_one_state_forward(core.forward_sequence, attrgetter(option)),
        backward=_one_state_backward(core.backward_sequence),
        gradients=torch_gradients,
        gradient_names=names,
    )


def _hidden_width(config: RNNConfig) -> tuple[int, ...]:
    """The state widths of a cell whose one state is ``h (N, H)``."""
    return (config.hidden_size,)


def _one_state_forward(
    forward_sequence: Callable[..., tuple[FloatArray, Any]],
    option: Callable[[RNNConfig], object],
) -> Callable[[RNNConfig, FloatArray, States, CoreArrays], tuple[States, Any]]:
    """A :attr:`~reference_rnn.layers.stack.Cell.forward` for a cell of one state, ``h``, on its
    core's ``forward_sequence(x, h0, *weights, h0_name, option, *, check_finite, check_results)``
    returning ``h`` and the cache; ``option`` reads the cell's option from the configuration
    (the Elman cell's ``nonlinearity``). The driver checked the arguments: the core checks its
    results only."""

    def forward(
        config: RNNConfig, x: FloatArray, s0: States, weights: CoreArrays
    ) -> tuple[States, Any]:
        (h0,) = s0
        h, cache = forward_sequence(
            x, h0, *weights, "hx", option(config), check_finite=False, check_results=True
        )
        return (h,), cache

    return forward


def _one_state_backward(
    backward_sequence: Callable[..., tuple[FloatArray, ...]],
) -> Callable[[States, Any], tuple[FloatArray, States, CoreArrays]]:
    """A :attr:`~reference_rnn.layers.stack.Cell.backward` for a cell of one state, ``h``, on its
    core's ``backward_sequence(dh, cache, dh_name, *, check_finite, check_results)`` returning
    ``dx``, ``dh0`` and the weights' gradients: the driver checked the arguments, the core checks
    its results only."""

    def backward(g: States, cache: Any) -> tuple[FloatArray, States, CoreArrays]:
        (g_h,) = g
        dx, dh0, *dweights = backward_sequence(
            g_h, cache, "grad_output", check_finite=False, check_results=True
        )
        return dx, (dh0,), tuple(dweights)

    return backward


def checked_step_input(
    params: Mapping[str, FloatArray], input: object, input_size: int, layout: str
) -> FloatArray:
    """A one-step cell's ``input``, ``(N, D)`` or ``(D,)`` unbatched, checked, finite; and its
    parameters finite first (they are writable: an optimizer may have made them non-finite).

    ``layout`` is the cell's words for the two shapes in its message.
    """
    for name, param in params.items():
        require_finite(name, param)
    x = as_real_array("input", input)
    if x.ndim not in (1, 2) or x.shape[-1] != input_size:
        msg = f"input must be {layout} D = input_size = {input_size}, got shape {x.shape}"
        raise ValueError(msg)
    require_finite("input", x)
    return x
