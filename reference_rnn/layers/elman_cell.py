"""The Elman cell as the stack driver runs it: torch's parameters to the core's and back.

torch keeps ``weight_ih (H, D_l)``, ``weight_hh (H, H)`` and two biases per layer and direction;
the core (:mod:`~reference_rnn.core.elman`) takes ``Wx = weight_ih.T (D_l, H)``,
``Wh = weight_hh.T (H, H)`` and one ``b = bias_ih + bias_hh (H,)``, whose gradient is both
biases' gradient. Its one state is ``h (N, H)``. The driver checked the arguments: the core checks
its results only.
"""

from __future__ import annotations

from functools import partial
from operator import attrgetter

from reference_rnn.core.elman import backward_sequence, forward_sequence
from reference_rnn.layers.cell_parts import (
    core_weights,
    gradient_names,
    hidden_width,
    one_state_backward,
    one_state_forward,
    torch_gradients,
)
from reference_rnn.layers.stack import Cell

__all__ = ["ELMAN"]


#: ``torch.nn.RNN``'s cell, tanh or relu.
ELMAN = Cell(
    modes=("RNN_TANH", "RNN_RELU"),
    torch_module="RNN",
    states=("h",),
    state_sizes=hidden_width,
    weights=partial(core_weights, summed=True),
    forward=one_state_forward(forward_sequence, attrgetter("nonlinearity")),
    backward=one_state_backward(backward_sequence),
    gradients=torch_gradients,
    gradient_names=gradient_names,
)
