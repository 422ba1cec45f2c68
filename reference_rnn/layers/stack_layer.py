"""``StackLayer``: the stateful shell every torch-equivalent layer shares, over its cell.

Long on purpose: the shell is what torch's users meet of every layer (attributes, parameters,
modes, interop, forward and backward for one state or several), read as one class.

A layer class (``RNN``, ``LSTM``, ``GRU``) is its constructor (torch's signature, whose arguments
:func:`torch_options` makes an :class:`~reference_rnn.core.config.RNNConfig`), its cell
(:class:`~reference_rnn.layers.stack.Cell`, a class attribute) and its ``forward``/``backward``,
which map torch's signature for the cell's states (``h_n``; ``(h_n, c_n)``) onto
:meth:`StackLayer._forward_states` and :meth:`StackLayer._backward_states`: a cell of one state
takes them from :class:`OneStateLayer`. Everything else is here: torch's attributes read from the
configuration, the parameters (``params``, ``state_dict``, attribute access by torch's names),
training and evaluation, ``__call__``, the repr, and the conversions to and from torch and ONNX.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = 2 if bidirectional else 1; S_i the width of the cell's state ``i``.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np
from numpy.typing import DTypeLike

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.validation import FloatArray, check_flag, check_seed, require_finite
from reference_rnn.layers import torch_interop
from reference_rnn.layers.parameters import Parameters, checked_state_dict, initial_parameters
from reference_rnn.layers.stack import (
    Cell,
    StackCache,
    States,
    checked_initial_state,
    checked_input,
    checked_lengths,
    checked_upstream,
    from_batch_first,
    read_only_view,
    stack_backward,
    stack_forward,
)

__all__ = ["OneStateLayer", "StackLayer", "checked_dtype", "torch_options"]

#: What ``forward`` returns beside ``output``: ``h_n`` for the Elman cell, ``(h_n, c_n)`` for an LSTM.
StateT = TypeVar("StateT")


@dataclass(frozen=True, eq=False)
class _Forward:
    """The last forward pass: the network's cache and how the caller laid out the arrays."""

    cache: StackCache
    unbatched: bool
    hx_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]


class StackLayer(ABC, Generic[StateT]):
    """The shell of a stack of ``cell`` over torch's layers and directions; see the module.

    Subclasses set ``cell``, call ``__init__`` with torch's options as given, and define
    ``forward`` and ``backward`` (whose signature is torch's for the cell: ``grad_h_n``, or
    ``grad_hx``) on :meth:`_forward_states` and :meth:`_backward_states`.
    """

    #: The recurrence this layer runs (``ELMAN`` for ``RNN``).
    cell: ClassVar[Cell]

    def __init__(
        self,
        options: Mapping[str, Any],
        *,
        dtype: DTypeLike,
        seed: int | np.random.Generator | None,
    ) -> None:
        """``options`` are torch's constructor arguments as the caller gave them, by name."""
        self.config = RNNConfig(**options)
        if self.config.dropout > 0 and self.config.num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={options['dropout']} "
                f"and num_layers={options['num_layers']}",
                UserWarning,
                stacklevel=3,  # the caller of the layer's constructor
            )
        self.dtype: np.dtype[Any] = checked_dtype(dtype)
        self.rng: np.random.Generator = check_seed("seed", seed)
        self.training: bool = True
        self.grads: dict[str, FloatArray] = {}
        self.dropout_masks: list[FloatArray] = []
        self._last: _Forward | None = None
        self._params = Parameters(
            self.config, initial_parameters(self.config, self.dtype, self.rng)
        )

    # -- torch's attributes, read from the configuration ----------------------------------------

    @property
    def input_size(self) -> int:
        return self.config.input_size

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    @property
    def num_layers(self) -> int:
        return self.config.num_layers

    @property
    def bias(self) -> bool:
        return self.config.bias

    @property
    def batch_first(self) -> bool:
        return self.config.batch_first

    @property
    def dropout(self) -> float:
        return self.config.dropout

    @property
    def bidirectional(self) -> bool:
        return self.config.bidirectional

    @property
    def num_directions(self) -> int:
        return self.config.num_directions

    @property
    def proj_size(self) -> int:
        return self.config.proj_size

    # -- parameters ---------------------------------------------------------------------------

    def __getattr__(self, name: str) -> FloatArray:
        # rnn.weight_ih_l0 and friends, as on a torch module
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]  # type: ignore[no-any-return]
        msg = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg)

    @property
    def params(self) -> Parameters:
        """The live parameters, with torch's names, shapes and order; update them in place.

        A mapping that checks what is assigned to it (the name, the shape, the dtype, finiteness
        after the cast to the layer's dtype) and refuses deletion.
        """
        return self._params

    def state_dict(self) -> dict[str, FloatArray]:
        """Copies of the parameters, with torch's names, shapes and order."""
        return {name: value.copy() for name, value in self._params.items()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Replace every parameter; values are NumPy arrays or torch tensors.

        Missing, unexpected and misshapen keys are a ValueError that lists them; every value is
        cast to the layer's dtype and must be finite there; nothing is changed unless every value
        is right.
        """
        for name, value in checked_state_dict(self.config, state_dict, self.dtype).items():
            # in place: whoever holds rnn.params (an optimizer) keeps the live arrays
            self._params[name][...] = value

    # -- other frameworks ---------------------------------------------------------------------

    @classmethod
    def from_torch(cls, module: Any, *, seed: int | np.random.Generator | None = None) -> Self:
        """This layer with a torch module's configuration, weights, dtype and mode.

        The module is the cell's in ``torch.nn`` (``torch.nn.RNN`` for ``RNN``).
        """
        config, dtype = torch_interop.config_of(cls.cell, module)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch has already warned about dropout
            layer = cls(**config.layer_options(), dtype=dtype, seed=seed)
        layer.load_state_dict(module.state_dict())
        layer.train(module.training)
        return layer

    def to_torch(self) -> Any:
        """torch's module of this cell (``torch.nn.RNN`` for ``RNN``) with this configuration,
        weights, dtype and mode (needs torch)."""
        return torch_interop.to_torch(
            self.cell, self.config, self.state_dict(), self.dtype, self.training
        )

    def to_onnx(self, *, hx: bool = True, lengths: bool = False, opset: int = 22) -> Any:
        """An ``onnx.ModelProto`` equivalent to this layer in evaluation mode (needs onnx).

        One ONNX node of the cell's operator (``RNN`` for ``RNN``) per layer. Graph inputs
        ``input`` (T, N, D) or (N, T, D) with batch_first, ``hx`` (L * K, N, H) when ``hx``
        (otherwise the initial state is zero) and ``lengths`` (N,) int64 when ``lengths``
        (packed-sequence semantics); outputs ``output`` and ``h_n``: the layouts of ``forward``
        for batched input, in this layer's dtype.
        """
        from reference_rnn.layers.onnx_export import build_model  # noqa: PLC0415  (onnx on demand)

        return build_model(
            self.config,
            self.state_dict(),
            dtype=self.dtype.name,
            hx=hx,
            lengths=lengths,
            opset=opset,
        )

    # -- mode ---------------------------------------------------------------------------------

    def train(self, mode: bool = True) -> Self:
        """Training mode (dropout on) or not; returns self, as torch does. ``mode`` is a bool."""
        self.training = check_flag("mode", mode)
        return self

    def eval(self) -> Self:
        """Evaluation mode: no dropout. Returns self."""
        return self.train(False)

    def __repr__(self) -> str:
        options = self.config.options()
        options.pop("cell", None)  # the class's name says it
        sizes = [f"{options.pop('input_size')}", f"{options.pop('hidden_size')}"]
        if "proj_size" in options:  # where torch's repr has it
            sizes.append(f"proj_size={options.pop('proj_size')}")
        name = self.cell.torch_module
        return f"{name}({', '.join(sizes + [f'{k}={v!r}' for k, v in options.items()])})"

    # -- forward and backward -----------------------------------------------------------------

    def __call__(
        self, input: object, hx: object | None = None, lengths: object | None = None
    ) -> tuple[FloatArray, StateT]:
        return self.forward(input, hx, lengths)

    @abstractmethod
    def forward(
        self, input: object, hx: object | None = None, lengths: object | None = None
    ) -> tuple[FloatArray, StateT]:
        """``output`` and the final states, in torch's form for the cell."""

    def _forward_states(
        self, input: object, hx: object | None, lengths: object | None
    ) -> tuple[FloatArray, States]:
        """``output`` and the final states, one read-only array per state of the cell.

        ``hx`` is what the caller gave: one array for a cell of one state, a tuple for several.
        """
        self._last = None  # a failed call must not leave the previous forward behind
        for name, param in self._params.items():
            # the parameters are writable (optimizers update them), so they are checked here
            require_finite(name, param)
        x, unbatched = checked_input(self.config, input)
        N, T, _ = x.shape
        h0 = checked_initial_state(self.cell, self.config, hx, unbatched, N, self.dtype)
        steps = checked_lengths(lengths, unbatched, N, T)

        rng = self.rng if self.training else None
        out, h_n, cache = stack_forward(self.cell, self.config, self._params, x, h0, steps, rng)
        output = from_batch_first(self.config, read_only_view(out), unbatched)
        finals = tuple(read_only_view(h) for h in h_n)
        finals = tuple(h[:, 0] for h in finals) if unbatched else finals
        self.dropout_masks = [
            from_batch_first(self.config, mask, unbatched)
            for mask in cache.masks
            if mask is not None
        ]
        self._last = _Forward(cache, unbatched, tuple(h.shape for h in finals), output.shape)
        return output, finals

    def _backward_states(
        self, grad_output: object, grad_h_n: object | None, name: str
    ) -> tuple[FloatArray, States]:
        """``grad_input`` and the initial states' gradients, one per state; fills ``grads``.

        ``grad_h_n`` (the argument ``name``) is what the caller gave: None, one array for a cell
        of one state, a tuple of arrays or None for several.
        """
        if self._last is None:
            msg = f"{self.cell.torch_module}.backward needs a successful forward first"
            raise RuntimeError(msg)
        last = self._last
        g, g_hn = checked_upstream(
            self.cell,
            self.config,
            last.output_shape,
            last.hx_shapes,
            last.unbatched,
            grad_output,
            grad_h_n,
            name,
        )
        g_in, g_hx, grads = stack_backward(self.cell, self.config, g, g_hn, last.cache)
        self.grads = {key: grads[key] for key in self._params}  # torch's order
        grad_input = from_batch_first(self.config, g_in, last.unbatched)
        return grad_input, tuple(g[:, 0] for g in g_hx) if last.unbatched else g_hx


class OneStateLayer(StackLayer[FloatArray]):
    """The shell of a stack of a cell of one state, ``h``: torch's ``forward`` and ``backward``
    for ``h_n`` as one array (``RNN``, ``GRU``)."""

    def forward(
        self, input: object, hx: object | None = None, lengths: object | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Run every layer and direction over ``input``.

        Parameters
        ----------
        input : (T, N, D), (N, T, D) with batch_first, or (T, D) unbatched; array_like
        hx : (L * K, N, H), or (L * K, H) unbatched; array_like or None (zeros)
        lengths : (N,) integers in [1, T], or None
            The valid length of each sequence, in any order: the result is exactly what
            ``pack_padded_sequence(input, lengths, enforce_sorted=False)`` through torch's module
            and ``pad_packed_sequence(..., total_length=T)`` give. Outputs past a length are zero,
            ``h_n`` holds each sequence's last valid state, and the reverse direction starts at
            each sequence's last valid step.

        Returns
        -------
        output : (T, N, K * H), (N, T, K * H) with batch_first, or (T, K * H); read-only
        h_n : (L * K, N, H), or (L * K, H) unbatched; read-only
        """
        output, (h_n,) = self._forward_states(input, hx, lengths)
        return output, h_n

    def backward(
        self, grad_output: object, grad_h_n: object | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Gradients for the last ``forward``.

        Parameters
        ----------
        grad_output : array_like in the shape of ``output``
            ``dL/d output``.
        grad_h_n : array_like in the shape of ``h_n``, or None (zeros)
            ``dL/d h_n``.

        Returns
        -------
        grad_input : the shape of ``input``
        grad_hx : the shape of ``h_n``; the gradient of the initial state, also when hx was None

        Fills ``grads`` with the gradient of every parameter.
        """
        grad_input, (grad_hx,) = self._backward_states(grad_output, grad_h_n, "grad_h_n")
        return grad_input, grad_hx


def torch_options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """torch's constructor arguments, by name, from a layer constructor's ``locals()``: all of
    them but ``dtype`` and ``seed`` (this package's), so that each is written once, in the
    signature."""
    return {
        name: value
        for name, value in arguments.items()
        if name not in ("self", "__class__", "dtype", "seed")
    }


def checked_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    """float32 or float64 as a NumPy dtype; anything else is a TypeError."""
    try:
        checked = np.dtype(dtype)
    except TypeError:
        msg = f"dtype must be float32 or float64, got {dtype!r}"
        raise TypeError(msg) from None
    if checked not in (np.float32, np.float64):
        msg = f"dtype must be float32 or float64, got {checked}"
        raise TypeError(msg)
    return checked
