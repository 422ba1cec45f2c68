"""What a layer takes from the training side, as types: the course's initializer and optimizer.

The layers use them (``SimpleRNN.create(..., initializer, optimizer)``) and the training package
implements them (:mod:`~reference_rnn.training.initializers`, :mod:`~reference_rnn.training.optim`);
both import them from here, so neither imports the other for a type.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from reference_rnn.core.validation import FloatArray

__all__ = ["Initializer", "Updater"]


@runtime_checkable
class Initializer(Protocol):
    """What ``SimpleRNN.create`` needs from an initializer (the course's interface)."""

    def W(self, n_nodes1: int, n_nodes2: int) -> FloatArray: ...

    def B(self, n_nodes2: int) -> FloatArray: ...


class Updater(Protocol):
    """What ``SimpleRNN.update`` needs from an optimizer (:mod:`reference_rnn.training.optim`)."""

    def update(self, params: object, grads: object = None) -> None: ...
