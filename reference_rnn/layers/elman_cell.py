"""The Elman cell as the stack driver runs it: torch's parameters to the core's and back.

torch keeps ``weight_ih (H, D_l)``, ``weight_hh (H, H)`` and two biases per layer and direction;
the core (:mod:`~reference_rnn.core.elman`) takes ``Wx = weight_ih.T (D_l, H)``,
``Wh = weight_hh.T (H, H)`` and one ``b = bias_ih + bias_hh (H,)``, whose gradient is both
biases' gradient. Its one state is ``h (N, H)``. The driver checked the arguments: the core checks
its results only.
"""

from __future__ import annotations

from reference_rnn.core import elman
from reference_rnn.layers.cell_parts import one_state_cell

__all__ = ["ELMAN"]


#: ``torch.nn.RNN``'s cell, tanh or relu.
ELMAN = one_state_cell(("RNN_TANH", "RNN_RELU"), "RNN", elman, "nonlinearity", summed_bias=True)
