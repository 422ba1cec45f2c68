"""``reference_rnn.compare``, kept importable where the README shows it: the code is
:mod:`reference_rnn.core.measure`.
"""

from reference_rnn.core.measure import (
    FD_STEP,
    FD_TOLERANCE,
    TOLERANCE,
    central_differences,
    scaled_error,
)

__all__ = [
    "FD_STEP",
    "FD_TOLERANCE",
    "TOLERANCE",
    "central_differences",
    "scaled_error",
]
