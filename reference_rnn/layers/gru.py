"""``GRU`` and ``GRUCell``: the executable equivalents of ``torch.nn.GRU`` and ``torch.nn.GRUCell``.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = 2 if bidirectional else 1 (the number of directions).

    input   (T, N, D), or (N, T, D) with batch_first, or (T, D) unbatched
    hx, h_n (L * K, N, H) whatever batch_first says, or (L * K, H) unbatched
    output  (T, N, K * H), or (N, T, K * H) with batch_first, or (T, K * H) unbatched

Layer ``l`` direction ``k`` runs torch's equations with torch's parameter names and layouts
(``weight_ih_l{l}{_reverse}`` is ``(3H, D_l)``, the gates r, z, n stacked)::

    r = sigmoid(x W_ir.T + b_ir + h W_hr.T + b_hr)
    z = sigmoid(x W_iz.T + b_iz + h W_hz.T + b_hz)
    n = tanh(x W_in.T + b_in + r * (h W_hn.T + b_hn))       reset_after=True (torch's, the default)
    n = tanh(x W_in.T + b_in + (r * h) W_hn.T + b_hn)       reset_after=False (ONNX's default)
    h' = (1 - z) * n + z * h

``reset_after=False`` is the GRU of the ONNX operator's default (``linear_before_reset=0``),
Keras' ``reset_after=False``, d2l and deep-learning-from-scratch-2: no torch module computes it,
so ``to_torch`` refuses it (docs/gru.md).

``GRU`` is the cell (:mod:`~reference_rnn.layers.gru_cell`) in the shell every stacked layer
shares (:mod:`~reference_rnn.layers.stack_layer`); ``GRUCell`` is one step of it, on the core's
functions directly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from reference_rnn.core.gru import GRUCache, backward_sequence, forward_sequence
from reference_rnn.core.validation import (
    FloatArray,
    as_real_array,
    cast_finite,
    check_flag,
    check_seed,
    check_shape,
    check_size,
    require_finite,
)
from reference_rnn.layers.cell_parts import checked_step_input
from reference_rnn.layers.gru_cell import GRU_CELL
from reference_rnn.layers.parameters import parameter_array
from reference_rnn.layers.stack import Cell, read_only_view
from reference_rnn.layers.stack_layer import OneStateLayer, checked_dtype, torch_options

__all__ = ["GRU", "GRUCell"]


class GRU(OneStateLayer):
    """A multi-layer GRU with ``torch.nn.GRU``'s constructor, semantics and parameter names.

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        As in ``torch.nn.GRU``; they are also attributes (read-only: a layer's shape is fixed),
        and together ``config``, an :class:`~reference_rnn.core.config.RNNConfig`.
    reset_after : bool
        Where the reset gate acts (the module's equations): True is torch's.
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

    ``forward`` and ``backward`` are :class:`~reference_rnn.layers.stack_layer.OneStateLayer`'s.
    """

    cell: ClassVar[Cell] = GRU_CELL

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        reset_after: bool = True,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(torch_options(locals()) | {"cell": "GRU"}, dtype=dtype, seed=seed)

    @property
    def reset_after(self) -> bool:
        return self.config.reset_after


class GRUCell:
    """One GRU step with ``torch.nn.GRUCell``'s constructor, semantics and parameter names.

    Parameters ``weight_ih (3H, D)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)`` and ``bias_hh
    (3H,)`` (with bias), initialised U(-1/sqrt(H), 1/sqrt(H)) as in torch. ``forward(input,
    hx=None)`` takes ``input (N, D)`` or unbatched ``(D,)`` and ``hx (N, H)`` or ``(H,)`` (None:
    zeros) and returns ``h' (N, H)`` or ``(H,)``, read-only; ``backward(grad)`` returns
    ``(grad_input, grad_hx)`` and fills ``grads``. ``reset_after`` as in :class:`GRU`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        reset_after: bool = True,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.bias = check_flag("bias", bias)
        self.reset_after = check_flag("reset_after", reset_after)
        self.dtype: np.dtype[Any] = checked_dtype(dtype)
        rng = check_seed("seed", seed)
        D, H = self.input_size, self.hidden_size
        k = 1 / np.sqrt(H)
        shapes: dict[str, tuple[int, ...]] = {"weight_ih": (3 * H, D), "weight_hh": (3 * H, H)}
        if self.bias:
            shapes |= {"bias_ih": (3 * H,), "bias_hh": (3 * H,)}
        #: the parameters, torch's names, shapes and order; update them in place
        self.params: dict[str, FloatArray] = {
            name: rng.uniform(-k, k, size=shape).astype(self.dtype)
            for name, shape in shapes.items()
        }
        self.grads: dict[str, FloatArray] = {}
        self._last: tuple[GRUCache, bool] | None = None

    def __getattr__(self, name: str) -> FloatArray:
        # cell.weight_ih and friends, as on a torch module
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]  # type: ignore[no-any-return]
        msg = f"'GRUCell' object has no attribute {name!r}"
        raise AttributeError(msg)

    def __repr__(self) -> str:
        options = [f"{self.input_size}", f"{self.hidden_size}"]
        options += ["bias=False"] * (not self.bias) + ["reset_after=False"] * (not self.reset_after)
        return f"GRUCell({', '.join(options)})"

    def state_dict(self) -> dict[str, FloatArray]:
        """Copies of the parameters, with torch's names, shapes and order."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Replace every parameter (NumPy arrays or torch tensors); nothing changes on an error."""
        if set(state_dict) != set(self.params):
            msg = f"state_dict must have the keys {list(self.params)}, got {list(state_dict)}"
            raise ValueError(msg)
        checked = {}
        for name, current in self.params.items():
            label = f"state_dict[{name!r}]"
            value = parameter_array(label, state_dict[name])
            check_shape(label, value, current.shape)
            checked[name] = cast_finite(label, value, self.dtype, "the layer's dtype")
        for name, value in checked.items():
            self.params[name][...] = value

    @classmethod
    def from_torch(cls, module: Any, *, seed: int | np.random.Generator | None = None) -> GRUCell:
        """This cell with a ``torch.nn.GRUCell``'s sizes, bias, weights and dtype."""
        if type(module).__name__ != "GRUCell" or not hasattr(module, "weight_ih"):
            msg = f"module must be a torch.nn.GRUCell, got {type(module).__name__}"
            raise TypeError(msg)
        dtype = str(module.weight_ih.dtype).removeprefix("torch.")
        cell = cls(module.input_size, module.hidden_size, module.bias, dtype=dtype, seed=seed)
        cell.load_state_dict(module.state_dict())
        return cell

    def __call__(self, input: object, hx: object | None = None) -> FloatArray:
        return self.forward(input, hx)

    def forward(self, input: object, hx: object | None = None) -> FloatArray:
        """``h'`` after one step from ``hx`` (zeros for None) on ``input``; see the class."""
        self._last = None  # a failed call must not leave the previous forward behind
        layout = "2-D (N, D) or 1-D (D,) unbatched with"
        x = checked_step_input(self.params, input, self.input_size, layout)
        unbatched = x.ndim == 1
        shape = (*x.shape[:-1], self.hidden_size)  # (N, H) or (H,)
        if hx is None:
            h0 = np.zeros(shape, dtype=self.dtype)
        else:
            h0 = as_real_array("hx", hx)
            check_shape("hx", h0, shape, "N from input, H = hidden_size")
            require_finite("hx", h0)
        # (N, D) -> (N, 1, D): one step of the core's sequence functions; unbatched a batch of one
        x3 = x.reshape(-1, 1, self.input_size)
        h0 = h0.reshape(-1, self.hidden_size)
        p = self.params
        zeros = np.zeros(3 * self.hidden_size, self.dtype)
        b, bh = (p["bias_ih"], p["bias_hh"]) if self.bias else (zeros, zeros)
        h, cache = forward_sequence(
            x3,
            h0,
            p["weight_ih"].T,
            p["weight_hh"].T,
            b,
            bh,
            "hx",
            self.reset_after,
            check_finite=False,
            check_results=True,
        )
        self._last = (cache, unbatched)
        return read_only_view(h.reshape(shape))

    def backward(self, grad: object) -> tuple[FloatArray, FloatArray]:
        """``(grad_input, grad_hx)`` for ``grad = dL/dh'`` of the last forward; fills ``grads``."""
        if self._last is None:
            msg = "GRUCell.backward needs a successful forward first"
            raise RuntimeError(msg)
        cache, unbatched = self._last
        N, H = cache.h.shape[1:]
        shape = (H,) if unbatched else (N, H)
        g = as_real_array("grad", grad)
        check_shape("grad", g, shape, "the shape of the output")
        require_finite("grad", g)
        dx, dh0, dWx, dWh, db, dbh = backward_sequence(
            g.reshape(N, 1, H), cache, "grad", check_finite=False, check_results=True
        )
        self.grads = {"weight_ih": dWx.T, "weight_hh": dWh.T}
        if self.bias:
            self.grads |= {"bias_ih": db, "bias_hh": dbh}
        D = self.input_size
        return dx.reshape((D,) if unbatched else (N, D)), dh0.reshape(shape)
