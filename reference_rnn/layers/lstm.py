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

from typing import ClassVar

import numpy as np
from numpy.typing import DTypeLike

from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.lstm_cell import LSTM_CELL
from reference_rnn.layers.stack import Cell
from reference_rnn.layers.stack_layer import StackLayer

__all__ = ["LSTM"]

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
    grads : dict
        The gradients of the last ``backward``, keyed and shaped as ``named_parameters()`` in torch.
    dropout_masks : list of arrays
        The masks the last forward multiplied into each layer's output but the last (training with
        dropout > 0 only), in the layout of ``output``; values are 0 or 1 / (1 - dropout).
    training : bool
        Dropout is applied only while training (``train()``, the default, or ``eval()``).
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
        options = {
            "input_size": input_size,
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "bias": bias,
            "batch_first": batch_first,
            "dropout": dropout,
            "bidirectional": bidirectional,
            "proj_size": proj_size,
            "cell": "LSTM",
        }
        super().__init__(options, dtype=dtype, seed=seed)

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
            The valid length of each sequence, in any order: exactly what
            ``pack_padded_sequence(input, lengths, enforce_sorted=False)`` through torch's LSTM and
            ``pad_packed_sequence(..., total_length=T)`` give. Outputs past a length are zero,
            ``h_n`` and ``c_n`` hold each sequence's last valid states, and the reverse direction
            starts at each sequence's last valid step.

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
        """Gradients for the last ``forward``.

        Parameters
        ----------
        grad_output : array_like in the shape of ``output``
            ``dL/d output``.
        grad_hx : (grad_h_n, grad_c_n), each array_like in the shape of ``h_n``, ``c_n`` or None
            (zeros); or None (both zeros). ``dL/d h_n`` and ``dL/d c_n``.

        Returns
        -------
        grad_input : the shape of ``input``
        (grad_h0, grad_c0) : the shapes of ``h_n`` and ``c_n``; the gradients of the initial
            states, also when hx was None

        Fills ``grads`` with the gradient of every parameter.
        """
        grad_input, (grad_h0, grad_c0) = self._backward_states(grad_output, grad_hx, "grad_hx")
        return grad_input, (grad_h0, grad_c0)
