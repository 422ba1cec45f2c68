"""``reference_rnn.initializers``, kept importable where the README shows it: the code is
:mod:`reference_rnn.training.initializers`.
"""

from reference_rnn.training.initializers import (
    HeInitializer,
    Initializer,
    OrthogonalInitializer,
    SimpleInitializer,
    TorchInitializer,
    XavierInitializer,
)

__all__ = [
    "HeInitializer",
    "Initializer",
    "OrthogonalInitializer",
    "SimpleInitializer",
    "TorchInitializer",
    "XavierInitializer",
]
