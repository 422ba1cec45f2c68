"""``reference_rnn.models``, kept importable where the README shows it: the code is
:mod:`reference_rnn.training.models`.
"""

from reference_rnn.training.models import (
    RNNClassifier,
)

__all__ = [
    "RNNClassifier",
]
