"""``RNN`` to ``torch.nn.RNN``: the same configuration, weights, dtype and mode."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from reference_rnn.oracles.torch import import_torch

if TYPE_CHECKING:
    from reference_rnn.layers.rnn import RNN

__all__ = ["to_torch"]


def to_torch(rnn: RNN) -> Any:
    """A ``torch.nn.RNN`` equal to ``rnn`` (needs torch)."""
    torch = import_torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the constructor has already warned about dropout
        module = torch.nn.RNN(
            rnn.input_size,
            rnn.hidden_size,
            rnn.num_layers,
            nonlinearity=rnn.nonlinearity,
            bias=rnn.bias,
            batch_first=rnn.batch_first,
            dropout=rnn.dropout,
            bidirectional=rnn.bidirectional,
            dtype=getattr(torch, rnn.dtype.name),
        )
    module.load_state_dict({name: torch.from_numpy(v) for name, v in rnn.state_dict().items()})
    return module.train(rnn.training)
