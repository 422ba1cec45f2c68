"""reference_rnn: a plain-NumPy reference implementation of the Elman RNN, checked against torch.

Shapes: N batch, T time steps, D input features, H hidden units.

    h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)

- :func:`rnn_step_forward`, :func:`rnn_step_backward`, :func:`rnn_forward`, :func:`rnn_backward`:
  the functional core, batch-first ``x (N, T, D)``.
- :class:`SimpleRNN`: the exercise's layer.
- :class:`RNN`: the equivalent of ``torch.nn.RNN``, with its constructor, semantics and names.

``python -m reference_rnn verify`` checks all of them against torch, finite differences and the
exercise's documented sample.
"""

from reference_rnn.core.functional import (
    RNNCache,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from reference_rnn.layers.rnn import RNN
from reference_rnn.layers.simple_rnn import SimpleRNN

__version__ = "0.1.0"

__all__ = [
    "RNN",
    "RNNCache",
    "SimpleRNN",
    "__version__",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
]
