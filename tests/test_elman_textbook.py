"""The textbook Elman cell against the fast one, forward and backward separately, in both dtypes.

An arbitrary upstream gradient, a nonzero initial state, several steps and several sequences, so
that a textbook version that ignored ``h0``, the recurrence, the gradient through time or the
batch would fail here.
"""

from __future__ import annotations

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core import elman_textbook as textbook
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import DTYPES

NONLINEARITIES = ["tanh", "relu"]
N, T, D, H = 3, 5, 4, 6


def _arrays(dtype, seed=0):
    """x, h0, Wx, Wh, b at torch's init scale, and an upstream gradient dh for every step."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    arrays = {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.uniform(-k, k, (D, H)),
        "Wh": rng.uniform(-k, k, (H, H)),
        "b": rng.uniform(-k, k, H),
        "dh": rng.standard_normal((N, T, H)),
    }
    return {name: value.astype(dtype) for name, value in arrays.items()}


def _assert_agree(actual, expected, dtype):
    __tracebackhide__ = True
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.dtype == want.dtype == np.dtype(dtype)
        assert got.shape == want.shape
        assert scaled_error(got, want) <= TOLERANCE[dtype]


@pytest.fixture(params=[(d, n) for d in DTYPES for n in NONLINEARITIES], ids="-".join)
def case(request):
    """A dtype, a nonlinearity, the arrays, and the forward's arguments (x, h0, Wx, Wh, b)."""
    dtype, nonlinearity = request.param
    a = _arrays(dtype)
    return dtype, nonlinearity, a, (a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])


def test_sequence_forward(case):
    dtype, nonlinearity, _, args = case
    h, _ = textbook.rnn_forward(*args, nonlinearity)
    _assert_agree([h], [rr.rnn_forward(*args, nonlinearity=nonlinearity)[0]], dtype)


def test_sequence_backward(case):
    dtype, nonlinearity, a, args = case
    _, caches = textbook.rnn_forward(*args, nonlinearity)
    _, cache = rr.rnn_forward(*args, nonlinearity=nonlinearity)
    _assert_agree(textbook.rnn_backward(a["dh"], caches), rr.rnn_backward(a["dh"], cache), dtype)


def test_step_forward_and_backward(case):
    dtype, nonlinearity, a, args = case
    step = (args[0][:, 0], *args[1:])  # the first step's x (N, D)
    next_h, cache = textbook.rnn_step_forward(*step, nonlinearity)
    expected, expected_cache = rr.rnn_step_forward(*step, nonlinearity=nonlinearity)
    _assert_agree([next_h], [expected], dtype)
    dnext_h = a["dh"][:, 0]
    grads = textbook.rnn_step_backward(dnext_h, cache)
    _assert_agree(grads, rr.rnn_step_backward(dnext_h, expected_cache), dtype)


def test_relu_gradient_stops_where_the_state_is_zero():
    # a state clipped to zero passes no gradient: the textbook writes relu' as (h > 0)
    x = np.array([[-1.0], [1.0]])
    h, cache = textbook.rnn_step_forward(
        x, np.zeros((2, 1)), np.eye(1), np.eye(1), np.zeros(1), "relu"
    )
    assert h.tolist() == [[0.0], [1.0]]
    dx, *_ = textbook.rnn_step_backward(np.ones((2, 1)), cache)
    assert dx.tolist() == [[0.0], [1.0]]
