"""The GRU cell as the stack driver runs it: torch's parameters to the core's and back.

torch keeps ``weight_ih (3H, D_l)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)`` and ``bias_hh (3H,)``
per layer and direction, the gates r, z, n stacked in that order; the core
(:mod:`~reference_rnn.core.gru`) takes ``Wx = weight_ih.T (D_l, 3H)``, ``Wh = weight_hh.T
(H, 3H)``, ``b = bias_ih`` and ``bh = bias_hh`` (zeros without bias): the two biases stay apart,
as the reset gate scales ``bias_hh``'s n part with ``reset_after``. Its one state is
``h (N, H)``. The driver checked the arguments: the core checks its results only.
"""

from __future__ import annotations

from reference_rnn.core import gru
from reference_rnn.core.config import RNNConfig
from reference_rnn.layers.cell_parts import gradient_names, one_state_cell

__all__ = ["GRU_CELL"]


def _gradient_names(config: RNNConfig, layer: int, direction: int) -> dict[str, str]:
    b_hh = config.param_names(layer, direction)[3]
    return gradient_names(config, layer, direction) | {
        "the gradient dbh": f"the gradient of {b_hh}"
    }


#: ``torch.nn.GRU``'s cell, with either place of the reset gate (``config.reset_after``).
GRU_CELL = one_state_cell(
    ("GRU",), "GRU", gru, "reset_after", summed_bias=False, names=_gradient_names
)
