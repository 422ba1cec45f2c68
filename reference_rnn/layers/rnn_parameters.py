"""``RNN``'s parameters: torch's names and layout, their initialisation, a state dict's checks.

torch keeps ``weight_ih (H, D_l)``, ``weight_hh (H, H)`` and two biases per layer and direction
(:class:`~reference_rnn.core.config.RNNConfig` names them); the functional core takes
``Wx = weight_ih.T (D_l, H)``, ``Wh = weight_hh.T (H, H)`` and one ``b = bias_ih + bias_hh (H,)``,
whose gradient is both biases' gradient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.validation import FloatArray, as_real_array, require_finite

__all__ = ["checked_state_dict", "core_weights", "initial_parameters", "torch_gradients"]


def initial_parameters(
    config: RNNConfig, dtype: np.dtype[Any], rng: np.random.Generator
) -> dict[str, FloatArray]:
    """torch's initialisation, U(-1/sqrt(H), 1/sqrt(H)), drawn from ``rng`` in torch's order."""
    k = 1 / np.sqrt(config.hidden_size)
    return {
        name: rng.uniform(-k, k, size=shape).astype(dtype)
        for name, shape in config.param_shapes().items()
    }


def checked_state_dict(config: RNNConfig, state_dict: object) -> dict[str, FloatArray]:
    """Every parameter of ``state_dict`` (NumPy arrays or torch tensors) as a checked array.

    Missing, unexpected and misshapen keys are a ValueError that lists them, a non-finite value
    one that names it; the arrays may share memory with ``state_dict``'s.
    """
    if not isinstance(state_dict, Mapping):
        msg = f"state_dict must be a mapping of parameter names to arrays, got {type(state_dict).__name__}"
        raise TypeError(msg)
    shapes = config.param_shapes()
    missing = [name for name in shapes if name not in state_dict]
    unexpected = [name for name in state_dict if name not in shapes]
    if missing or unexpected:
        msg = f"state_dict does not match: missing keys {missing}, unexpected keys {unexpected}"
        raise ValueError(msg)
    params = {}
    for name in shapes:
        value = state_dict[name]
        if hasattr(value, "detach"):  # a torch tensor; torch itself is not needed here
            value = value.detach().cpu().numpy()
        params[name] = as_real_array(f"state_dict[{name!r}]", value)
    misshapen = [
        f"state_dict[{name!r}] must have shape {shape}, got {params[name].shape}"
        for name, shape in shapes.items()
        if params[name].shape != shape
    ]
    if misshapen:
        msg = "; ".join(misshapen)
        raise ValueError(msg)
    for name, value in params.items():
        require_finite(f"state_dict[{name!r}]", value)
    return params


def core_weights(
    config: RNNConfig, params: Mapping[str, FloatArray], layer: int, direction: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``Wx (D_l, H)``, ``Wh (H, H)`` and ``b (H,)`` of the functional core, from torch's."""
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    W_ih = params[w_ih]
    b = params[b_ih] + params[b_hh] if config.bias else np.zeros(config.hidden_size, W_ih.dtype)
    return W_ih.T, params[w_hh].T, b


def torch_gradients(
    config: RNNConfig,
    layer: int,
    direction: int,
    dWx: FloatArray,
    dWh: FloatArray,
    db: FloatArray,
) -> dict[str, FloatArray]:
    """The core's gradients of one layer and direction, named and laid out as torch's."""
    w_ih, w_hh, b_ih, b_hh = config.param_names(layer, direction)
    grads = {w_ih: dWx.T, w_hh: dWh.T}
    if config.bias:
        grads |= {b_ih: db, b_hh: db.copy()}
    return grads
