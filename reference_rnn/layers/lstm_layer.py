"""``LSTM``: the executable equivalent of ``torch.nn.LSTM``, built on the functional core.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = 2 if bidirectional else 1, P = proj_size if proj_size > 0 else H.

    input     (T, N, D), or (N, T, D) with batch_first, or (T, D) unbatched
    h_0, h_n  (L * K, N, P) whatever batch_first says, or (L * K, P) unbatched
    c_0, c_n  (L * K, N, H), or (L * K, H) unbatched
    output    (T, N, K * P), or (N, T, K * P) with batch_first, or (T, K * P) unbatched

Layer ``l`` direction ``k`` runs torch's equations, the gates in the order i, f, g, o::

    i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)   (@ W_hr.T with proj_size)

with torch's parameter names and layouts (``weight_ih_l{l}{_reverse}`` is ``(4H, D_l)``,
``weight_hr_l{l}{_reverse}`` ``(P, H)``). The cell is :mod:`~reference_rnn.layers.lstm_cell`;
everything else (the stack driver, the shell, the parameters) is shared with ``RNN``. This module
is what is the LSTM's own: torch's constructor and the states as a pair ``(h, c)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.lstm import LSTMCache, backward_sequence, forward_sequence
from reference_rnn.core.optional import require
from reference_rnn.core.validation import (
    FloatArray,
    as_real_array,
    check_seed,
    check_shape,
    require_finite,
)
from reference_rnn.layers.cell_parts import checked_step_input
from reference_rnn.layers.lstm_cell import LSTM_CELL
from reference_rnn.layers.parameters import Parameters, checked_state_dict
from reference_rnn.layers.stack import Cell
from reference_rnn.layers.stack_layer import StackLayer, checked_dtype, torch_options

__all__ = ["LSTM", "LSTMCell"]

#: ``(h, c)``: an LSTM's hidden and cell states.
Pair = tuple[FloatArray, FloatArray]


class LSTM(StackLayer[Pair]):
    """A multi-layer LSTM with ``torch.nn.LSTM``'s constructor, semantics and parameter names.

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size
        As in ``torch.nn.LSTM``; they are also attributes (read-only), and together ``config``,
        an :class:`~reference_rnn.core.config.RNNConfig`.
    dtype : float64 (default) or float32
        The parameters' dtype.
    seed : int, numpy.random.Generator or None
        Source of the initial parameters, U(-1/sqrt(H), 1/sqrt(H)) as in torch, and of the
        dropout masks.

    Attributes
    ----------
    grads, dropout_masks, training
        As :class:`~reference_rnn.layers.rnn.RNN`'s: the gradients of the last ``backward`` with
        torch's names, the masks of the last forward, and whether dropout is applied.
    """

    cell: ClassVar[Cell] = LSTM_CELL

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(torch_options(locals()) | {"cell": "LSTM"}, dtype=dtype, seed=seed)

    def forward(
        self, input: object, hx: object | None = None, lengths: object | None = None
    ) -> tuple[FloatArray, Pair]:
        """Run every layer and direction over ``input``.

        Parameters
        ----------
        input : (T, N, D), (N, T, D) with batch_first, or (T, D) unbatched; array_like
        hx : (h_0, c_0), a tuple of array_likes (L * K, N, P) and (L * K, N, H) (unbatched
            (L * K, P) and (L * K, H)), or None (zeros)
        lengths : (N,) integers in [1, T], or None
            As :meth:`~reference_rnn.layers.rnn.RNN.forward`'s (torch's packed sequences):
            ``h_n`` and ``c_n`` hold each sequence's last valid states.

        Returns
        -------
        output : (T, N, K * P), (N, T, K * P) with batch_first, or (T, K * P); read-only
        (h_n, c_n) : (L * K, N, P) and (L * K, N, H), or without N unbatched; read-only
        """
        output, (h_n, c_n) = self._forward_states(input, hx, lengths)
        return output, (h_n, c_n)

    def backward(
        self, grad_output: object, grad_hx: object | None = None
    ) -> tuple[FloatArray, Pair]:
        """Gradients for the last ``forward``: ``grad_input`` (the shape of ``input``) and
        ``(grad_h0, grad_c0)`` (the shapes of ``h_n`` and ``c_n``: the initial states' gradients,
        also when hx was None); fills ``grads`` with the gradient of every parameter.

        ``grad_output`` is ``dL/d output`` in the shape of ``output``; ``grad_hx`` is ``(grad_h_n,
        grad_c_n)``, ``dL/d h_n`` and ``dL/d c_n`` in their shapes or None (zeros), or None (both
        zeros).
        """
        grad_input, (grad_h0, grad_c0) = self._backward_states(grad_output, grad_hx, "grad_hx")
        return grad_input, (grad_h0, grad_c0)


class LSTMCell:
    """One LSTM step with ``torch.nn.LSTMCell``'s constructor, semantics and parameter names.

    ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, ``bias_ih`` and ``bias_hh (4H,)`` (with bias),
    the gates' rows in the order i, f, g, o; ``forward(input, hx=None) -> (h_1, c_1)`` with
    ``input (N, D)`` or ``(D,)`` unbatched and ``hx = (h_0, c_0)``, each ``(N, H)`` or ``(H,)``;
    ``backward(grad_h, grad_c=None) -> (grad_input, (grad_h0, grad_c0))`` fills ``grads``. The
    step is the core's sequence functions (:mod:`~reference_rnn.core.lstm`) on one time step.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.config = RNNConfig(input_size, hidden_size, bias=bias, cell="LSTM")
        self.dtype: np.dtype[Any] = checked_dtype(dtype)
        rng = check_seed("seed", seed)
        G, H = self.config.gate_size, self.config.hidden_size
        shapes = {"weight_ih": (G, self.config.input_size), "weight_hh": (G, H)}
        self._shapes = shapes | ({"bias_ih": (G,), "bias_hh": (G,)} if self.config.bias else {})
        k = 1 / np.sqrt(H)  # torch's initialisation, in torch's order
        arrays = {n: rng.uniform(-k, k, s).astype(self.dtype) for n, s in self._shapes.items()}
        self._params = Parameters(self.config, arrays)
        self.grads: dict[str, FloatArray] = {}
        self._last: tuple[LSTMCache, tuple[int, ...]] | None = None  # and the states' shape

    @property
    def input_size(self) -> int:
        return self.config.input_size

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    @property
    def bias(self) -> bool:
        return self.config.bias

    @property
    def params(self) -> Parameters:
        """The live parameters, torch's names, shapes and order; checked on write."""
        return self._params

    def __getattr__(self, name: str) -> FloatArray:
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]  # type: ignore[no-any-return]
        msg = f"'LSTMCell' object has no attribute {name!r}"
        raise AttributeError(msg)

    def state_dict(self) -> dict[str, FloatArray]:
        return {name: value.copy() for name, value in self._params.items()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Replace every parameter (NumPy arrays or torch tensors), all or none, as ``LSTM``'s."""
        checked = checked_state_dict(self.config, state_dict, self.dtype, self._shapes)
        for name, value in checked.items():
            self._params[name][...] = value

    @classmethod
    def from_torch(cls, module: Any) -> LSTMCell:
        """This cell with a ``torch.nn.LSTMCell``'s sizes, bias, weights and dtype."""
        if type(module).__name__ != "LSTMCell" or not hasattr(module, "weight_ih"):
            msg = f"module must be a torch.nn.LSTMCell, got {type(module).__name__}"
            raise TypeError(msg)
        dtype = str(module.weight_ih.dtype).removeprefix("torch.")
        cell = cls(module.input_size, module.hidden_size, module.bias, dtype=dtype)
        cell.load_state_dict(module.state_dict())
        return cell

    def to_torch(self) -> Any:
        """A ``torch.nn.LSTMCell`` with this cell's sizes, bias, weights and dtype (needs torch)."""
        torch = require("torch", extra="oracle-torch", purpose="LSTMCell.to_torch")
        dtype = getattr(torch, self.dtype.name)
        module = torch.nn.LSTMCell(self.input_size, self.hidden_size, self.bias, dtype=dtype)
        module.load_state_dict({n: torch.from_numpy(v) for n, v in self.state_dict().items()})
        return module

    def __repr__(self) -> str:
        bias = "" if self.bias else ", bias=False"
        return f"LSTMCell({self.input_size}, {self.hidden_size}{bias})"

    def __call__(self, input: object, hx: object | None = None) -> Pair:
        return self.forward(input, hx)

    def forward(self, input: object, hx: object | None = None) -> Pair:
        """``(h_1, c_1)``, each ``(N, H)`` (``(H,)`` unbatched), read-only, for ``input (N, D)``
        or ``(D,)`` and ``hx = (h_0, c_0)`` or None (zeros)."""
        self._last = None  # a failed call must not leave the previous forward behind
        layout = "2-D (N, D), or 1-D (D,) unbatched, with"
        x = checked_step_input(self._params, input, self.input_size, layout)
        shape = (*x.shape[:-1], self.hidden_size)  # of each state: (N, H), or (H,) unbatched
        why = f"for input of shape {x.shape} and hidden_size {self.hidden_size}"
        x = x.reshape(-1, 1, self.input_size)  # (N, D) or (D,) -> (N, 1, D): one step
        zeros = np.zeros(shape, self.dtype)
        h0, c0 = (zeros, zeros) if hx is None else _pair("hx", hx, shape, why)
        W = self._params
        H = self.hidden_size
        b = W["bias_ih"] + W["bias_hh"] if self.bias else np.zeros(4 * H, self.dtype)
        rows = (-1, H)  # (N, H) or (H,) -> (N, H)
        h, c, cache = forward_sequence(
            x,
            h0.reshape(rows),
            c0.reshape(rows),
            W["weight_ih"].T,
            W["weight_hh"].T,
            b,
            None,
            ("hx[0]", "hx[1]"),
            check_finite=False,
            check_results=True,
        )
        self._last = (cache, shape)
        return h.reshape(shape), c.reshape(shape)  # (N, 1, H) -> each state's shape

    def backward(self, grad_h: object, grad_c: object | None = None) -> tuple[FloatArray, Pair]:
        """``grad_input`` and ``(grad_h0, grad_c0)`` for the last forward, from ``dL/dh_1`` and
        ``dL/dc_1`` (None: zeros) in the states' shape; fills ``grads``."""
        if self._last is None:
            msg = "LSTMCell.backward needs a successful forward first"
            raise RuntimeError(msg)
        cache, shape = self._last
        dh = _upstream("grad_h", grad_h, shape)
        dc = None if grad_c is None else _upstream("grad_c", grad_c, shape)
        steps = (-1, 1, self.hidden_size)  # (N, H) or (H,) -> (N, 1, H)
        dx, dh0, dc0, dWx, dWh, db, _ = backward_sequence(
            dh.reshape(steps),
            None if dc is None else dc.reshape(steps),
            cache,
            ("grad_h", "grad_c"),
            check_finite=False,
            check_results=True,
        )
        grads = {"weight_ih": dWx.T, "weight_hh": dWh.T}
        self.grads = grads | ({"bias_ih": db, "bias_hh": db.copy()} if self.bias else {})
        return dx.reshape((*shape[:-1], self.input_size)), (dh0.reshape(shape), dc0.reshape(shape))


def _pair(name: str, value: object, shape: tuple[int, ...], why: str) -> Pair:
    """``value``, a tuple of two finite arrays of ``shape``, checked by the name ``name[i]``."""
    if not isinstance(value, tuple | list) or len(value) != 2:  # h and c
        msg = f"{name} must be a tuple (h, c) of 2 arrays, got {type(value).__name__}"
        raise TypeError(msg)
    h, c = (_upstream(f"{name}[{i}]", v, shape, why) for i, v in enumerate(value))
    return h, c


def _upstream(
    name: str, value: object, shape: tuple[int, ...], why: str = "the shape of h_1"
) -> FloatArray:
    arr = as_real_array(name, value)
    check_shape(name, arr, shape, why)
    require_finite(name, arr)
    return arr
