"""The verification report's initializer rows: each initializer against its law, or its definition.

- statistics: each random initializer's 10^6 draws against its documented law. The error is the
  distance of the sample's mean and standard deviation from the law's, in standard errors: each
  statistic of a correct initializer is off by more than 4 with probability 6e-5 (the seeds are
  fixed, so a row's result does not change from run to run).
- definition: what holds exactly, ``W.T @ W = gain^2 I`` for ``OrthogonalInitializer`` and the
  same arrays from the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import FloatArray
from reference_rnn.training import initializers
from reference_rnn.verify.rows import Planned

__all__ = ["planned"]

#: Standard errors allowed to a sample statistic.
Z = 4.0
#: The size of the sampled weight matrices: 10^6 draws, unequal so that a wrong fan shows.
N1, N2 = 500, 2000
# E[w^4] / sigma^4 of the laws, for the standard error of the sample's standard deviation
NORMAL_KURTOSIS = 3.0
UNIFORM_KURTOSIS = 9 / 5
#: What the seed check runs.
SEEDED: list[Callable[..., initializers.Initializer]] = [
    initializers.SimpleInitializer,
    initializers.XavierInitializer,
    initializers.HeInitializer,
    initializers.TorchInitializer,
    initializers.OrthogonalInitializer,
]


def planned() -> Iterator[Planned]:
    """The initializers' rows."""
    # each from its own seed: from one seed, their draws would be the same numbers scaled
    for seed, (make, sigma, law) in enumerate(
        [
            (initializers.SimpleInitializer, 0.01, "N(0, 0.01^2)"),
            (initializers.XavierInitializer, 1 / math.sqrt(N1), "N(0, 1/n_nodes1)"),
            (initializers.HeInitializer, math.sqrt(2 / N1), "N(0, 2/n_nodes1)"),
        ]
    ):
        yield Planned(
            f"{make.__name__}: mean and std of W({N1}, {N2}) in standard errors of {law}",
            "statistics",
            "float64",
            Z,
            partial(gaussian_error, make, sigma, seed),
        )
    yield Planned(
        f"TorchInitializer: mean and std of W({N1}, {N2}), B(10^6) in standard errors of "
        "U(+-1/sqrt(n_nodes2))",
        "statistics",
        "float64",
        Z,
        torch_initializer_error,
    )
    yield Planned(
        "OrthogonalInitializer(gain): W.T @ W = gain^2 I (W @ W.T if wide), gains 1 and 2.5",
        "definition",
        "float64",
        TOLERANCE["float64"],
        orthogonal_error,
    )
    yield Planned(
        "every initializer: the same seed gives the same arrays (max |difference|)",
        "definition",
        "float64",
        0.0,
        seed_error,
    )


def _in_standard_errors(a: FloatArray, sigma: float, kurtosis: float) -> float:
    """How far ``a``'s mean and standard deviation are from 0 and ``sigma``, in standard errors.

    The sample mean has standard error ``sigma / sqrt(n)``; the sample standard deviation
    ``sigma * sqrt((kurtosis - 1) / (4 n))`` (the delta method on the variance).
    """
    n = a.size
    mean_error = abs(float(a.mean())) / (sigma / math.sqrt(n))
    std_error = abs(float(a.std(ddof=1)) - sigma) / (sigma * math.sqrt((kurtosis - 1) / (4 * n)))
    return max(mean_error, std_error)


def gaussian_error(make: Callable[..., initializers.Initializer], sigma: float, seed: int) -> float:
    """``make(seed=seed).W(N1, N2)`` against N(0, sigma^2), in standard errors."""
    return _in_standard_errors(make(seed=seed).W(N1, N2), sigma, NORMAL_KURTOSIS)


def torch_initializer_error() -> float:
    """``TorchInitializer``'s W(N1, N2) and B(10^6) against U(-k, k), k = 1/sqrt(n_nodes2)."""
    initializer = initializers.TorchInitializer(seed=3)
    n = N1 * N2

    def error(a: FloatArray, n_nodes2: int) -> float:
        sigma = 1 / math.sqrt(3 * n_nodes2)  # U(-k, k) has variance k^2 / 3
        return _in_standard_errors(a, sigma, UNIFORM_KURTOSIS)

    return max(error(initializer.W(N1, N2), N2), error(initializer.B(n), n))


def orthogonal_error() -> float:
    """The Gram matrix of the shorter side against ``gain^2 I``, square, tall and wide."""
    worst = 0.0
    for gain in (1.0, 2.5):
        initializer = initializers.OrthogonalInitializer(gain, seed=0)
        for shape in [(64, 64), (100, 40), (40, 100)]:
            W = initializer.W(*shape)
            gram = W.T @ W if shape[0] >= shape[1] else W @ W.T
            worst = max(worst, scaled_error(gram, gain**2 * np.eye(min(shape))))
    return worst


def seed_error() -> float:
    """The largest difference between two runs of each initializer from the same seed.

    A run is ``W(4, 6)``, ``W(6, 6)``, ``B(6)``; an initializer whose runs from two different
    seeds are equal ignores its seed, and the check fails with that said.
    """

    def run(make: Callable[..., initializers.Initializer], seed: int) -> list[FloatArray]:
        initializer = make(seed=seed)
        return [initializer.W(4, 6), initializer.W(6, 6), initializer.B(6)]

    worst = 0.0
    for make in SEEDED:
        first, again, other = run(make, 7), run(make, 7), run(make, 8)
        if np.array_equal(first[0], other[0]):
            msg = f"{make.__name__}: seeds 7 and 8 give the same W(4, 6): the seed is ignored"
            raise ValueError(msg)
        worst = max(worst, *(float(np.abs(a - b).max()) for a, b in zip(first, again, strict=True)))
    return worst
