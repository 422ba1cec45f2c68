"""One portable case file's content: :class:`Portable`, what every kind of case is built as."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.functional import Nonlinearity

__all__ = ["Nonlinearity", "Portable", "rounded"]


@dataclass(frozen=True, eq=False)
class Portable:
    """One case file: its arrays (inputs, then expected values) in the case's dtype.

    ``lengths`` is int64 in any dtype. ``sizes``: N, T, D, H (and for ``stateful``, T1 and T2;
    for ``rnn``, L and K); ``config``: the ``RNN``'s options (``rnn`` only).
    """

    name: str
    kind: str
    about: str
    dtype: str
    nonlinearity: Nonlinearity
    inputs: dict[str, NDArray[Any]]
    expected: dict[str, NDArray[Any]]
    layouts: dict[str, str]
    sizes: dict[str, int]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return f"{self.name}.{self.dtype}.npz"

    @property
    def arrays(self) -> dict[str, NDArray[Any]]:
        return self.inputs | self.expected


def rounded(values: dict[str, Any], dtype: str) -> dict[str, NDArray[Any]]:
    """Expected values computed in float64, rounded once to the case's dtype."""
    return {key: np.asarray(value).astype(dtype) for key, value in values.items()}
