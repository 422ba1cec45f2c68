"""``RNN``: the executable equivalent of ``torch.nn.RNN``, built on the functional core.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = 2 if bidirectional else 1 (the number of directions).

    input   (T, N, D), or (N, T, D) with batch_first, or (T, D) unbatched
    hx, h_n (L * K, N, H) whatever batch_first says, or (L * K, H) unbatched
    output  (T, N, K * H), or (N, T, K * H) with batch_first, or (T, K * H) unbatched

Layer ``l`` direction ``k`` runs ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``
with torch's parameter names and layouts (``weight_ih_l{l}{_reverse}`` is ``(H, D_l)``).

This class is the stateful shell that torch users know: the parameters, the mode, the last
forward pass. Its parts: the cell (:mod:`~reference_rnn.layers.elman_cell`), the parameters
(:mod:`~reference_rnn.layers.parameters`) and the stack driver, which checks the arguments, moves
them between the caller's layouts and the core's batch-first ``(N, T, .)`` and runs the cell over
the layers and directions (:mod:`~reference_rnn.layers.stack`).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.functional import Nonlinearity
from reference_rnn.core.validation import FloatArray, check_flag, check_seed, require_finite
from reference_rnn.layers import torch_interop
from reference_rnn.layers.elman_cell import ELMAN
from reference_rnn.layers.parameters import Parameters, checked_state_dict, initial_parameters
from reference_rnn.layers.stack import (
    StackCache,
    checked_initial_state,
    checked_input,
    checked_lengths,
    checked_upstream,
    from_batch_first,
    read_only_view,
    stack_backward,
    stack_forward,
)

__all__ = ["RNN"]


@dataclass(frozen=True, eq=False)
class _Forward:
    """The last forward pass: the network's cache and how the caller laid out the arrays."""

    cache: StackCache
    unbatched: bool
    hx_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


class RNN:
    """A multi-layer Elman RNN with ``torch.nn.RNN``'s constructor, semantics and parameter names.

    Parameters
    ----------
    input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout, bidirectional
        As in ``torch.nn.RNN``; they are also attributes (read-only: a layer's shape is fixed),
        and together ``config``, an :class:`~reference_rnn.core.config.RNNConfig`.
    dtype : float64 (default) or float32
        The parameters' dtype.
    seed : int, numpy.random.Generator or None
        Source of the initial parameters, U(-1/sqrt(H), 1/sqrt(H)) as in torch, and of the
        dropout masks.

    Attributes
    ----------
    grads : dict
        The gradients of the last ``backward``, keyed and shaped as ``named_parameters()`` in torch.
        They are replaced, not accumulated, by each ``backward``.
    dropout_masks : list of arrays
        The masks the last forward multiplied into each layer's output but the last (training with
        dropout > 0 only), in the layout of ``output``; values are 0 or 1 / (1 - dropout).
        Read-only, as ``output`` and ``h_n`` are: ``flags.writeable = True`` raises.
    training : bool
        Dropout is applied only while training (``train()``, the default, or ``eval()``).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.config = RNNConfig(
            input_size,
            hidden_size,
            num_layers,
            nonlinearity,
            bias,
            batch_first,
            dropout,
            bidirectional,
        )
        if self.config.dropout > 0 and self.config.num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                UserWarning,
                stacklevel=2,
            )
        self.dtype: np.dtype[Any] = _checked_dtype(dtype)
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
    def nonlinearity(self) -> Nonlinearity:
        return self.config.nonlinearity

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
    def from_torch(cls, module: Any, *, seed: int | np.random.Generator | None = None) -> RNN:
        """An ``RNN`` with a ``torch.nn.RNN``'s configuration, weights, dtype and mode."""
        config, dtype = torch_interop.config_of(ELMAN, module)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch has already warned about dropout
            rnn = cls(**asdict(config), dtype=dtype, seed=seed)
        rnn.load_state_dict(module.state_dict())
        rnn.train(module.training)
        return rnn

    def to_torch(self) -> Any:
        """A ``torch.nn.RNN`` with this configuration, weights, dtype and mode (needs torch)."""
        return torch_interop.to_torch(
            ELMAN, self.config, self.state_dict(), self.dtype, self.training
        )

    def to_onnx(self, *, hx: bool = True, lengths: bool = False, opset: int = 22) -> Any:
        """An ``onnx.ModelProto`` equivalent to this layer in evaluation mode (needs onnx).

        One ONNX ``RNN`` node per layer. Graph inputs ``input`` (T, N, D) or (N, T, D) with
        batch_first, ``hx`` (L * K, N, H) when ``hx`` (otherwise the initial state is zero) and
        ``lengths`` (N,) int64 when ``lengths`` (packed-sequence semantics); outputs ``output``
        and ``h_n``: the layouts of ``forward`` for batched input, in this layer's dtype.
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

    def train(self, mode: bool = True) -> RNN:
        """Training mode (dropout on) or not; returns self, as torch does. ``mode`` is a bool."""
        self.training = check_flag("mode", mode)
        return self

    def eval(self) -> RNN:
        """Evaluation mode: no dropout. Returns self."""
        return self.train(False)

    def __repr__(self) -> str:
        options = self.config.options()
        sizes = [f"{options.pop('input_size')}", f"{options.pop('hidden_size')}"]
        return f"RNN({', '.join(sizes + [f'{k}={v!r}' for k, v in options.items()])})"

    # -- forward and backward -----------------------------------------------------------------

    def __call__(
        self, input: object, hx: object | None = None, lengths: object | None = None
    ) -> tuple[FloatArray, FloatArray]:
        return self.forward(input, hx, lengths)

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
            ``pack_padded_sequence(input, lengths, enforce_sorted=False)`` through torch's RNN and
            ``pad_packed_sequence(..., total_length=T)`` give. Outputs past a length are zero,
            ``h_n`` holds each sequence's last valid state, and the reverse direction starts at
            each sequence's last valid step.

        Returns
        -------
        output : (T, N, K * H), (N, T, K * H) with batch_first, or (T, K * H); read-only
        h_n : (L * K, N, H), or (L * K, H) unbatched; read-only
        """
        self._last = None  # a failed call must not leave the previous forward behind
        for name, param in self._params.items():
            # the parameters are writable (optimizers update them), so they are checked here
            require_finite(name, param)
        x, unbatched = checked_input(self.config, input)
        N, T, _ = x.shape
        h0 = checked_initial_state(self.config, hx, unbatched, N, self.dtype)
        steps = checked_lengths(lengths, unbatched, N, T)

        rng = self.rng if self.training else None
        out, h_n, cache = stack_forward(ELMAN, self.config, self._params, x, h0, steps, rng)
        output = from_batch_first(self.config, read_only_view(out), unbatched)
        hidden = read_only_view(h_n)
        hidden = hidden[:, 0] if unbatched else hidden
        self.dropout_masks = [
            from_batch_first(self.config, mask, unbatched)
            for mask in cache.masks
            if mask is not None
        ]
        self._last = _Forward(cache, unbatched, hidden.shape, output.shape)
        return output, hidden

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
        if self._last is None:
            msg = "RNN.backward needs a successful forward first"
            raise RuntimeError(msg)
        last = self._last
        g, g_hn = checked_upstream(
            self.config, last.output_shape, last.hx_shape, last.unbatched, grad_output, grad_h_n
        )
        g_in, g_hx, grads = stack_backward(ELMAN, self.config, g, g_hn, last.cache)
        self.grads = {name: grads[name] for name in self._params}  # torch's order
        grad_input = from_batch_first(self.config, g_in, last.unbatched)
        return grad_input, g_hx[:, 0] if last.unbatched else g_hx


def _checked_dtype(dtype: DTypeLike) -> np.dtype[Any]:
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
