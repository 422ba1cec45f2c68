"""``RNN``: the executable equivalent of ``torch.nn.RNN``, built on the functional core.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = 2 if bidirectional else 1 (the number of directions).

    input   (T, N, D), or (N, T, D) with batch_first, or (T, D) unbatched
    hx, h_n (L * K, N, H) whatever batch_first says, or (L * K, H) unbatched
    output  (T, N, K * H), or (N, T, K * H) with batch_first, or (T, K * H) unbatched

Layer ``l`` direction ``k`` runs ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``
with torch's parameter names and layouts (``weight_ih_l{l}{_reverse}`` is ``(H, D_l)``).

This class is the stateful shell that torch users know: the parameters, the mode, the last
forward pass. Its parts: the cell (:mod:`~reference_rnn.layers.elman_cell`), the shell every
layer shares (:mod:`~reference_rnn.layers.stack_layer`: attributes, parameters, modes, torch and
ONNX), the parameters (:mod:`~reference_rnn.layers.parameters`) and the stack driver, which checks
the arguments, moves them between the caller's layouts and the core's batch-first ``(N, T, .)``
and runs the cell over the layers and directions (:mod:`~reference_rnn.layers.stack`). This
module is what is the Elman cell's own: torch's constructor, ``nonlinearity``, and ``h_n`` as
one array.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from numpy.typing import DTypeLike

from reference_rnn.core.functional import Nonlinearity
from reference_rnn.layers.elman_cell import ELMAN
from reference_rnn.layers.stack import Cell
from reference_rnn.layers.stack_layer import OneStateLayer, torch_options

__all__ = ["RNN"]


class RNN(OneStateLayer):
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

    ``forward`` and ``backward`` are :class:`~reference_rnn.layers.stack_layer.OneStateLayer`'s.
    """

    cell: ClassVar[Cell] = ELMAN

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
        super().__init__(torch_options(locals()), dtype=dtype, seed=seed)

    @property
    def nonlinearity(self) -> Nonlinearity:
        return self.config.nonlinearity
