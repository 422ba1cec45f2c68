"""The functional core: every cell's public functions, batch-first, in one namespace.

Each cell computes in its own module (:mod:`~reference_rnn.core.elman`: ``rnn_step_forward``,
``rnn_step_backward``, ``rnn_forward``, ``rnn_backward``; :mod:`~reference_rnn.core.lstm`:
``lstm_step_forward``, ``lstm_step_backward``, ``lstm_forward``, ``lstm_backward``;
:mod:`~reference_rnn.core.gru`: the ``gru_*`` functions); this module gathers their public names,
as ``torch.nn.functional`` does, so that ``reference_rnn`` and its users import them from one place.
"""

from __future__ import annotations

from reference_rnn.core.elman import (
    NonFiniteResultError,
    Nonlinearity,
    RNNCache,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from reference_rnn.core.gru import (
    GRUCache,
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
)
from reference_rnn.core.lstm import (
    LSTMCache,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)

__all__ = [
    "GRUCache",
    "LSTMCache",
    "NonFiniteResultError",
    "Nonlinearity",
    "RNNCache",
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
]
