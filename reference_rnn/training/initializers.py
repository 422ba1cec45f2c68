"""Weight initializers with the exercise's course interface: ``.W(n_nodes1, n_nodes2)``, ``.B(n_nodes2)``.

``W`` returns an ``(n_nodes1, n_nodes2)`` array (a layer from n_nodes1 to n_nodes2 nodes, the
layout of ``Wx (D, H)`` and ``Wh (H, H)``), ``B`` an ``(n_nodes2,)`` array, both float64. Each
initializer draws from its own generator, made from ``seed`` (an int, a ``numpy.random.Generator``
or None), so the same seed gives the same sequence of arrays.

    SimpleInitializer(sigma)   W ~ N(0, sigma^2)
    XavierInitializer()        W ~ N(0, 1 / n_nodes1)          (the course's Xavier)
    HeInitializer()            W ~ N(0, 2 / n_nodes1)
    TorchInitializer()         W, B ~ U(-k, k), k = 1 / sqrt(n_nodes2)   (torch.nn.RNN's default)
    OrthogonalInitializer(g)   W = g * Q, Q with orthonormal columns (or rows, if wider than tall)

Biases are zeros except for ``TorchInitializer``, whose ``B`` draws as torch draws each of its
RNN's two biases (torch's ``b = bias_ih + bias_hh`` is the sum of two such draws).
"""

from __future__ import annotations

import numpy as np

from reference_rnn.core.protocols import Initializer
from reference_rnn.core.validation import FloatArray, check_real, check_seed, check_size

__all__ = [
    "HeInitializer",
    "Initializer",
    "OrthogonalInitializer",
    "SimpleInitializer",
    "TorchInitializer",
    "XavierInitializer",
]


class _Seeded:
    """The generator, and zero biases."""

    def __init__(self, seed: int | np.random.Generator | None) -> None:
        self.rng = check_seed("seed", seed)

    def B(self, n_nodes2: int) -> FloatArray:
        """An ``(n_nodes2,)`` bias: zeros."""
        return np.zeros(check_size("n_nodes2", n_nodes2))


def _normal(rng: np.random.Generator, std: float, n_nodes1: int, n_nodes2: int) -> FloatArray:
    with np.errstate(over="ignore"):  # checked just below
        W = std * rng.standard_normal((n_nodes1, n_nodes2))
    if not np.isfinite(W).all():
        msg = f"sigma = {std!r} is too large: the weights are not finite in float64"
        raise ValueError(msg)
    return W


class SimpleInitializer(_Seeded):
    """``W ~ N(0, sigma^2)``; zero biases."""

    def __init__(
        self, sigma: float = 0.01, *, seed: int | np.random.Generator | None = None
    ) -> None:
        super().__init__(seed)
        self.sigma = check_real("sigma", sigma)
        if self.sigma <= 0:
            msg = f"sigma must be greater than zero, got {sigma!r}"
            raise ValueError(msg)

    def W(self, n_nodes1: int, n_nodes2: int) -> FloatArray:
        """An ``(n_nodes1, n_nodes2)`` matrix, N(0, sigma^2)."""
        n1, n2 = _sizes(n_nodes1, n_nodes2)
        return _normal(self.rng, self.sigma, n1, n2)


class XavierInitializer(_Seeded):
    """``W ~ N(0, 1 / n_nodes1)``, the course's Xavier (Glorot's uses both fans); zero biases."""

    def __init__(self, *, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)

    def W(self, n_nodes1: int, n_nodes2: int) -> FloatArray:
        """An ``(n_nodes1, n_nodes2)`` matrix, N(0, 1 / n_nodes1)."""
        n1, n2 = _sizes(n_nodes1, n_nodes2)
        return _normal(self.rng, 1 / np.sqrt(n1), n1, n2)


class HeInitializer(_Seeded):
    """``W ~ N(0, 2 / n_nodes1)``; zero biases."""

    def __init__(self, *, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)

    def W(self, n_nodes1: int, n_nodes2: int) -> FloatArray:
        """An ``(n_nodes1, n_nodes2)`` matrix, N(0, 2 / n_nodes1)."""
        n1, n2 = _sizes(n_nodes1, n_nodes2)
        return _normal(self.rng, np.sqrt(2 / n1), n1, n2)


class TorchInitializer(_Seeded):
    """``W, B ~ U(-k, k)`` with ``k = 1 / sqrt(n_nodes2)``: ``torch.nn.RNN``'s default (H = n_nodes2)."""

    def __init__(self, *, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)

    def W(self, n_nodes1: int, n_nodes2: int) -> FloatArray:
        """An ``(n_nodes1, n_nodes2)`` matrix, U(-k, k)."""
        n1, n2 = _sizes(n_nodes1, n_nodes2)
        k = 1 / np.sqrt(n2)
        return self.rng.uniform(-k, k, (n1, n2))

    def B(self, n_nodes2: int) -> FloatArray:
        """An ``(n_nodes2,)`` bias, U(-k, k) like the weights."""
        n_nodes2 = check_size("n_nodes2", n_nodes2)
        k = 1 / np.sqrt(n_nodes2)
        return self.rng.uniform(-k, k, n_nodes2)


class OrthogonalInitializer(_Seeded):
    """``W = gain * Q``: ``W.T @ W = gain^2 I`` when tall or square, ``W @ W.T`` when wide.

    ``torch.nn.init.orthogonal_``'s algorithm: the QR decomposition of a standard normal matrix
    (transposed when wide), with the signs of R's diagonal moved into Q so that Q is uniformly
    (Haar) distributed. Zero biases.
    """

    def __init__(self, gain: float = 1.0, *, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(seed)
        self.gain = check_real("gain", gain)
        if self.gain <= 0:
            msg = f"gain must be greater than zero, got {gain!r}"
            raise ValueError(msg)

    def W(self, n_nodes1: int, n_nodes2: int) -> FloatArray:
        """An ``(n_nodes1, n_nodes2)`` matrix with orthogonal columns (rows if wide), norm gain."""
        n1, n2 = _sizes(n_nodes1, n_nodes2)
        wide = n1 < n2
        a = self.rng.standard_normal((n1, n2))
        if wide:
            a = a.T  # (n_nodes2, n_nodes1): QR needs at least as many rows as columns
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # without this, Q would not be uniformly distributed
        if wide:
            q = q.T
        return self.gain * q


def _sizes(n_nodes1: int, n_nodes2: int) -> tuple[int, int]:
    return check_size("n_nodes1", n_nodes1), check_size("n_nodes2", n_nodes2)
