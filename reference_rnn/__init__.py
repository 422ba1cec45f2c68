"""reference_rnn: a plain-NumPy reference implementation of the Elman RNN, checked against torch.

Shapes: N batch, T time steps, D input features, H hidden units.

    h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)

- :func:`rnn_step_forward`, :func:`rnn_step_backward`, :func:`rnn_forward`, :func:`rnn_backward`:
  the functional core, batch-first ``x (N, T, D)``.
- :func:`lstm_step_forward`, :func:`lstm_step_backward`, :func:`lstm_forward`,
  :func:`lstm_backward`: the LSTM's, torch's gate order i, f, g, o.
- :class:`SimpleRNN`: the exercise's layer.
- :class:`RNN`: the equivalent of ``torch.nn.RNN``, with its constructor, semantics and names.
- :class:`LSTM`, :class:`LSTMCell`: the equivalents of ``torch.nn.LSTM`` and ``torch.nn.LSTMCell``.
- :func:`gru_step_forward`, :func:`gru_step_backward`, :func:`gru_forward`, :func:`gru_backward`,
  :class:`GRU` and :class:`GRUCell`: the GRU, ``torch.nn.GRU``'s equations (``reset_after=True``)
  or the ONNX default's (``reset_after=False``).

``python -m reference_rnn verify`` checks all of them against torch, finite differences and the
exercise's documented sample.

The names are imported when first used (PEP 562): importing a subsystem alone, as the checker's
worker process imports its own modules, loads none of the math.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reference_rnn.core.functional import (
        GRUCache,
        LSTMCache,
        RNNCache,
        gru_backward,
        gru_forward,
        gru_step_backward,
        gru_step_forward,
        lstm_backward,
        lstm_forward,
        lstm_step_backward,
        lstm_step_forward,
        rnn_backward,
        rnn_forward,
        rnn_step_backward,
        rnn_step_forward,
    )
    from reference_rnn.layers.gru import GRU, GRUCell
    from reference_rnn.layers.lstm_layer import LSTM, LSTMCell
    from reference_rnn.layers.rnn import RNN
    from reference_rnn.layers.simple_rnn import SimpleRNN

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCache",
    "GRUCell",
    "LSTMCache",
    "LSTMCell",
    "RNNCache",
    "SimpleRNN",
    "__version__",
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

#: Each public name's module.
_MODULES = {
    "LSTM": "reference_rnn.layers.lstm_layer",
    "LSTMCache": "reference_rnn.core.functional",
    "LSTMCell": "reference_rnn.layers.lstm_layer",
    "lstm_backward": "reference_rnn.core.functional",
    "lstm_forward": "reference_rnn.core.functional",
    "lstm_step_backward": "reference_rnn.core.functional",
    "lstm_step_forward": "reference_rnn.core.functional",
    "GRU": "reference_rnn.layers.gru",
    "GRUCell": "reference_rnn.layers.gru",
    "GRUCache": "reference_rnn.core.functional",
    "gru_backward": "reference_rnn.core.functional",
    "gru_forward": "reference_rnn.core.functional",
    "gru_step_backward": "reference_rnn.core.functional",
    "gru_step_forward": "reference_rnn.core.functional",
    "RNN": "reference_rnn.layers.rnn",
    "RNNCache": "reference_rnn.core.functional",
    "SimpleRNN": "reference_rnn.layers.simple_rnn",
    "rnn_backward": "reference_rnn.core.functional",
    "rnn_forward": "reference_rnn.core.functional",
    "rnn_step_backward": "reference_rnn.core.functional",
    "rnn_step_forward": "reference_rnn.core.functional",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        msg = f"module 'reference_rnn' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(_MODULES[name]), name)
    globals()[name] = value  # found at once from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
