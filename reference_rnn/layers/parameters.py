"""A stack's parameters: torch's names and layout, their initialisation, a state dict's checks.

torch keeps ``weight_ih (G, D_l)``, ``weight_hh (G, H)`` and two biases ``(G,)`` per layer and
direction, ``G = gates * H`` (:class:`~reference_rnn.core.config.RNNConfig` names them and gives
their shapes for its cell); how a cell's core takes them is the cell's business
(:mod:`~reference_rnn.layers.elman_cell`).

Every value is checked in the dtype it is stored in: cast to the layer's dtype first, then checked
finite (1e300 is finite in float64 and inf in float32).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from reference_rnn.core.config import RNNConfig, require_parameter_memory
from reference_rnn.core.validation import FloatArray, as_real_array, cast_finite

__all__ = [
    "Parameters",
    "checked_state_dict",
    "initial_parameters",
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
    """torch's initialisation, U(-1/sqrt(H), 1/sqrt(H)), drawn from ``rng`` in torch's order.

    Parameters larger than the machine's physical memory are a MemoryError before anything is
    allocated (:func:`~reference_rnn.core.config.require_parameter_memory`).
    """
    require_parameter_memory(config, dtype)
    k = 1 / np.sqrt(config.hidden_size)
    return {
        name: rng.uniform(-k, k, size=shape).astype(dtype)
        for name, shape in config.param_shapes().items()
    }


def checked_state_dict(
    config: RNNConfig,
    state_dict: object,
    dtype: np.dtype[Any],
    shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> dict[str, FloatArray]:
    """Every parameter of ``state_dict`` (NumPy arrays or torch tensors) as a new array of ``dtype``.

    Missing, unexpected and misshapen keys are a ValueError that lists them, a value that is not
    finite in ``dtype`` one that names it. The names and shapes are ``config``'s, or ``shapes``
    (a single cell's, ``LSTMCell``'s).
    """
    if not isinstance(state_dict, Mapping):
        msg = f"state_dict must be a mapping of parameter names to arrays, got {type(state_dict).__name__}"
        raise TypeError(msg)
    shapes = config.param_shapes() if shapes is None else shapes
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
