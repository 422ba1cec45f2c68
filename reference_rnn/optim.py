"""``reference_rnn.optim``, kept importable where the README shows it: the code is
:mod:`reference_rnn.training.optim`.
"""

from reference_rnn.training.optim import (
    SGD,
    AdaGrad,
    Adam,
    Optimizer,
    RMSprop,
    clip_grad_norm,
    clip_grad_value,
)

__all__ = [
    "SGD",
    "AdaGrad",
    "Adam",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm",
    "clip_grad_value",
]
