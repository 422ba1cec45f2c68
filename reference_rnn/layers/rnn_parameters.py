"""``RNN``'s parameters: torch's names and layout, their initialisation, a state dict's checks.

torch keeps ``weight_ih (H, D_l)``, ``weight_hh (H, H)`` and two biases per layer and direction
(:class:`~reference_rnn.core.config.RNNConfig` names them); the functional core takes
``Wx = weight_ih.T (D_l, H)``, ``Wh = weight_hh.T (H, H)`` and one ``b = bias_ih + bias_hh (H,)``,
whose gradient is both biases' gradient.

Every value is checked in the dtype it is stored in: cast to the layer's dtype first, then checked
finite (1e300 is finite in float64 and inf in float32).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.validation import FloatArray, as_real_array, cast_finite

__all__ = [
    "Parameters",
    "checked_state_dict",
    "core_weights",
    "initial_parameters",
    "torch_gradients",
]


class Parameters(MutableMapping[str, FloatArray]):
    """``RNN.params``: the live parameters, torch's names in torch's order, checked on write.

    Assigning ``params[name] = value`` checks the name (torch's names for this configuration only),
    the shape, the dtype (cast to the layer's) and finiteness after the cast, and then writes into
    the existing array, so whoever holds it (an optimizer) sees the change; a refused assignment
    changes nothing. Deleting a parameter is refused: the configuration fixes the set.
    """

    def __init__(self, config: RNNConfig, arrays: dict[str, FloatArray]) -> None:
        self._config = config
        self._arrays = arrays

    def __getitem__(self, name: str) -> FloatArray:
        try:
            return self._arrays[name]
        except KeyError:
            msg = f"{name!r} is not a parameter of this RNN, whose parameters are {list(self)}"
            raise KeyError(msg) from None

    def __setitem__(self, name: str, value: object) -> None:
        if name not in self._arrays:
            msg = (
                f"params[{name!r}]: not a parameter of this RNN, whose parameters are {list(self)}"
            )
            raise ValueError(msg)
        current = self._arrays[name]
        label = f"params[{name!r}]"
        arr = parameter_array(label, value)
        if arr.shape != current.shape:
            msg = f"{label} must have shape {current.shape}, got {arr.shape}"
            raise ValueError(msg)
        current[...] = cast_finite(label, arr, current.dtype, "the layer's dtype")

    def __delitem__(self, name: str) -> None:
        msg = (
            f"params[{name!r}] cannot be deleted: an RNN has every parameter its configuration "
            "names (assign a new value instead)"
        )
        raise TypeError(msg)

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        return f"Parameters({self._arrays!r})"


def parameter_array(label: str, value: object) -> FloatArray:
    """A parameter's value (a NumPy array_like or a torch tensor) as a real array, not yet cast.

    A tensor of a dtype NumPy lacks (bfloat16) is widened to float64 first, exactly.
    """
    if hasattr(value, "detach"):  # a torch tensor; torch itself is not needed here
        tensor = value.detach().cpu()
        try:
            value = tensor.numpy()
        except (TypeError, RuntimeError):
            if not tensor.is_floating_point():
                msg = f"{label} must be a real floating or integer tensor, got {tensor.dtype}"
                raise TypeError(msg) from None
            value = tensor.double().numpy()
    return as_real_array(label, value)


def initial_parameters(
    config: RNNConfig, dtype: np.dtype[Any], rng: np.random.Generator
) -> dict[str, FloatArray]:
    """torch's initialisation, U(-1/sqrt(H), 1/sqrt(H)), drawn from ``rng`` in torch's order."""
    k = 1 / np.sqrt(config.hidden_size)
    return {
        name: rng.uniform(-k, k, size=shape).astype(dtype)
        for name, shape in config.param_shapes().items()
    }


def checked_state_dict(
    config: RNNConfig, state_dict: object, dtype: np.dtype[Any]
) -> dict[str, FloatArray]:
    """Every parameter of ``state_dict`` (NumPy arrays or torch tensors) as a new array of ``dtype``.

    Missing, unexpected and misshapen keys are a ValueError that lists them, a value that is not
    finite in ``dtype`` one that names it.
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
    params = {name: parameter_array(f"state_dict[{name!r}]", state_dict[name]) for name in shapes}
    misshapen = [
        f"state_dict[{name!r}] must have shape {shape}, got {params[name].shape}"
        for name, shape in shapes.items()
        if params[name].shape != shape
    ]
    if misshapen:
        msg = "; ".join(misshapen)
        raise ValueError(msg)
    return {
        name: cast_finite(f"state_dict[{name!r}]", value, dtype, "the layer's dtype")
        for name, value in params.items()
    }


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
