"""The output layer (reference_rnn.core.readout) against torch: forward, softmax and backward."""

from __future__ import annotations

import numpy as np
import pytest

from reference_rnn.core.readout import readout_backward, readout_forward
from reference_rnn.core.validation import NonFiniteResultError

N, T, H, Q = 3, 4, 5, 6


def arrays(dtype: str, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    h = rng.uniform(-1, 1, (N, T, H)).astype(dtype)
    Wy = rng.standard_normal((H, Q)).astype(dtype)
    by = rng.standard_normal(Q).astype(dtype)
    dy = rng.standard_normal((N, T, Q)).astype(dtype)
    return h, Wy, by, dy


@pytest.mark.parametrize("softmax", [False, True])
def test_the_forward_equals_torch_linear_and_softmax(torch, softmax):
    h, Wy, by, _ = arrays("float64")
    expected = torch.nn.functional.linear(
        torch.from_numpy(h), torch.from_numpy(Wy.T.copy()), torch.from_numpy(by)
    )
    if softmax:
        expected = torch.softmax(expected, dim=-1)
    np.testing.assert_allclose(
        readout_forward(h, Wy, by, softmax=softmax), expected.numpy(), rtol=1e-13
    )


def test_the_backward_equals_torch_autograd_for_an_arbitrary_upstream_gradient(torch):
    h, Wy, by, dy = arrays("float64", seed=1)
    th, tW, tb = (torch.tensor(a, requires_grad=True) for a in (h, Wy, by))
    (th @ tW + tb).backward(torch.from_numpy(dy))
    dh, dWy, dby = readout_backward(dy, h, Wy)
    for ours, theirs in ((dh, th.grad), (dWy, tW.grad), (dby, tb.grad)):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-14)


def test_float32_stays_float32_and_the_arguments_are_not_changed():
    h, Wy, by, dy = arrays("float32")
    before = [a.copy() for a in (h, Wy, by, dy)]
    assert readout_forward(h, Wy, by, softmax=True).dtype == np.float32
    assert {g.dtype for g in readout_backward(dy, h, Wy)} == {np.dtype(np.float32)}
    for a, b in zip((h, Wy, by, dy), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_softmax_of_large_logits_is_finite_and_sums_to_one():
    h = np.full((1, 1, 2), 1.0)
    Wy = np.array([[700.0, 0.0], [0.0, 0.0]])  # exp(700) alone is within float64, exp(1400) not
    y = readout_forward(h * 2, Wy, np.zeros(2), softmax=True)
    np.testing.assert_allclose(y, [[[1.0, 0.0]]], atol=1e-300)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: readout_forward(a[0][0], a[1], a[2]), r"h must be 3-D \(N, T, H\)"),
        (lambda a: readout_forward(a[0], a[1].T, a[2]), r"Wy must have shape \(5, 5\)"),
        (lambda a: readout_forward(a[0], a[1], a[2][:-1]), r"by must have shape \(6,\)"),
        (lambda a: readout_backward(a[3][:, :-1], a[0], a[1]), r"dy must have shape \(3, 4, 6\)"),
        (lambda a: readout_forward(a[0], a[1] * np.nan, a[2]), "Wy must be finite"),
    ],
)
def test_bad_arguments_are_errors_that_name_them(call, message):
    with pytest.raises(ValueError, match=message):
        call(arrays("float64"))  # h, Wy, by, dy


def test_finite_arguments_whose_product_overflows_are_a_named_error():
    h, Wy, by, dy = arrays("float64")
    with pytest.raises(NonFiniteResultError, match="the output y overflowed"):
        readout_forward(h * 1e300, Wy * 1e300, by)
    with pytest.raises(NonFiniteResultError, match="the gradient dWy overflowed"):
        readout_backward(dy * 1e300, h * 1e10, Wy)
