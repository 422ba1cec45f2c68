"""``reference_rnn.compare``, kept importable where the README shows it: the code is
:mod:`reference_rnn.core.measure`.
"""

from reference_rnn.core.measure import (
    FD_STEP,
    FD_TOLERANCE,
    TOLERANCE,
    central_differences,
    entry_errors,
    first_step_over,
    scaled_error,
    step_errors,
)

__all__ = [
    "FD_STEP",
    "FD_TOLERANCE",
    "TOLERANCE",
    "central_differences",
    "entry_errors",
    "first_step_over",
    "scaled_error",
    "step_errors",
]
