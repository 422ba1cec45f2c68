"""Initializers: their distributions within sampling error, orthogonality, seeds, bad arguments.

The bounds are four standard errors of the statistic under the documented distribution, so a
correct initializer fails one of these tests with probability below 1e-4, and a wrong scale (for
example n_nodes2 where n_nodes1 is meant, a factor 2 here) fails all of them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference_rnn.training import initializers as init

N1, N2 = 500, 2000  # 10^6 draws; unequal, so that a scale taken from the wrong size shows
n = N1 * N2
Z = 4  # standard errors

GAUSSIAN = [
    (init.SimpleInitializer(seed=0), 0.01),
    (init.SimpleInitializer(sigma=0.3, seed=0), 0.3),
    (init.XavierInitializer(seed=0), 1 / math.sqrt(N1)),
    (init.HeInitializer(seed=0), math.sqrt(2 / N1)),
]


@pytest.mark.parametrize(("initializer", "sigma"), GAUSSIAN, ids=lambda v: type(v).__name__)
def test_gaussian_weights(initializer, sigma):
    W = initializer.W(N1, N2)
    assert W.shape == (N1, N2)
    assert W.dtype == np.float64
    # the sample mean ~ N(0, sigma^2 / n); the sample std ~ N(sigma, sigma^2 / (2 (n - 1)))
    assert abs(W.mean()) <= Z * sigma / math.sqrt(n)
    assert abs(W.std(ddof=1) - sigma) <= Z * sigma / math.sqrt(2 * (n - 1))
    # normal, not merely centred and scaled: P(|w| < sigma) = erf(1 / sqrt 2), a binomial share
    p = math.erf(1 / math.sqrt(2))
    assert abs(np.mean(np.abs(W) < sigma) - p) <= Z * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize(
    "initializer",
    [
        init.SimpleInitializer(seed=1),
        init.XavierInitializer(seed=1),
        init.HeInitializer(seed=1),
        init.OrthogonalInitializer(seed=1),
    ],
    ids=lambda v: type(v).__name__,
)
def test_biases_are_zeros(initializer):
    b = initializer.B(7)
    assert b.shape == (7,)
    assert b.dtype == np.float64
    np.testing.assert_array_equal(b, 0.0)


def _check_uniform(a, k):
    """``a`` ~ U(-k, k): bounds, mean, std (delta method on the variance) and the middle half."""
    m = a.size
    assert np.abs(a).max() <= k
    # the draws reach the bounds, not a narrower law: P(max|a| < k (1 - 10/m)) = (1 - 10/m)^m < e^-10
    assert np.abs(a).max() > k * (1 - 10 / m)
    sigma = k / math.sqrt(3)
    assert abs(a.mean()) <= Z * sigma / math.sqrt(m)
    # Var(w^2) = E w^4 - (E w^2)^2 = k^4 / 5 - k^4 / 9; SE(s) = SE(s^2) / (2 sigma)
    se_var = math.sqrt((k**4 / 5 - k**4 / 9) / m)
    assert abs(a.std(ddof=1) - sigma) <= Z * se_var / (2 * sigma)
    assert abs(np.mean(np.abs(a) < k / 2) - 0.5) <= Z * math.sqrt(0.25 / m)


def test_torch_initializer_is_torchs_rnn_default():
    initializer = init.TorchInitializer(seed=2)
    W = initializer.W(N1, N2)
    assert W.shape == (N1, N2)
    _check_uniform(W, 1 / math.sqrt(N2))  # k = 1 / sqrt(hidden_size), whatever the input size
    b = initializer.B(n)
    assert b.shape == (n,)
    _check_uniform(b, 1 / math.sqrt(n))


def test_torchs_rnn_draws_what_torch_initializer_draws(torch):
    # the law that _check_uniform checks ours against is torch's own: nn.RNN(D=N1, H=N2)
    torch.manual_seed(0)
    module = torch.nn.RNN(N1, N2, dtype=torch.float64)
    weight_ih = module.weight_ih_l0.detach().numpy()  # (H, D) = W(D, H).T
    assert weight_ih.shape == (N2, N1)
    _check_uniform(weight_ih, 1 / math.sqrt(N2))
    _check_uniform(module.bias_ih_l0.detach().numpy(), 1 / math.sqrt(N2))


@pytest.mark.parametrize("gain", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("shape", [(40, 40), (60, 25), (25, 60), (1, 1), (1, 9)])
def test_orthogonal(gain, shape):
    W = init.OrthogonalInitializer(gain, seed=3).W(*shape)
    assert W.shape == shape
    # the Gram matrix of the shorter side is gain^2 I
    gram = W.T @ W if shape[0] >= shape[1] else W @ W.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(shape)), rtol=0, atol=1e-12)


def test_orthogonal_entries_are_haar_distributed():
    # Q uniform on O(n): every entry has mean 0 and E q^2 = 1 / n exactly (rows are unit vectors);
    # the grand mean 1^T Q 1 / n^2 has variance 1 / n^3, as for independent entries
    m = 400
    W = init.OrthogonalInitializer(seed=4).W(m, m)
    assert abs(W.mean()) <= Z * math.sqrt(1 / m**3)
    assert np.mean(W**2) == pytest.approx(1 / m, rel=1e-12)
    # Q[0, 0] is a coordinate of a uniform unit vector of R^3 (mean 0, variance 1/3); without the
    # sign correction of R's diagonal, LAPACK's Householder QR makes it always negative
    initializer = init.OrthogonalInitializer(seed=5)
    corner = np.array([initializer.W(3, 3)[0, 0] for _ in range(4000)])
    assert abs(corner.mean()) <= Z * math.sqrt(1 / 3 / corner.size)
    assert abs(np.mean(corner**2) - 1 / 3) <= 0.02


@pytest.mark.parametrize(
    "make",
    [
        init.SimpleInitializer,
        init.XavierInitializer,
        init.HeInitializer,
        init.TorchInitializer,
        init.OrthogonalInitializer,
    ],
)
def test_the_same_seed_gives_the_same_arrays(make):
    def draws(seed):
        a = make(seed=seed)
        return [a.W(4, 6), a.W(6, 6), a.B(6), a.W(6, 3)]

    first, again, other = draws(7), draws(7), draws(8)
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], first[3][:4, :3])  # the stream moves on between calls
    from_generator = make(seed=np.random.default_rng(7))
    np.testing.assert_array_equal(from_generator.W(4, 6), first[0])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: init.SimpleInitializer(0.0), ValueError, "sigma must be greater than zero"),
        (lambda: init.SimpleInitializer("1"), TypeError, "sigma must be a real number, got str"),
        (lambda: init.OrthogonalInitializer(-1), ValueError, "gain must be greater than zero"),
        (lambda: init.OrthogonalInitializer(math.inf), ValueError, "gain must be finite"),
        (lambda: init.HeInitializer().W(0, 3), ValueError, "n_nodes1 must be greater than zero"),
        (lambda: init.XavierInitializer().W(3, 2.0), TypeError, "n_nodes2 should be of type int"),
        (lambda: init.TorchInitializer().W(True, 2), TypeError, "n_nodes1 should be of type int"),
        (lambda: init.TorchInitializer().B(-2), ValueError, "n_nodes2 must be greater than zero"),
        (lambda: init.SimpleInitializer().B(None), TypeError, "n_nodes2 should be of type int"),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_every_initializer_has_the_course_interface():
    for make in (
        init.SimpleInitializer,
        init.XavierInitializer,
        init.HeInitializer,
        init.TorchInitializer,
        init.OrthogonalInitializer,
    ):
        assert isinstance(make(), init.Initializer)
    assert not isinstance(object(), init.Initializer)
