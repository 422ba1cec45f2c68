"""The textbook LSTM against the fast one, forward and backward separately, in both dtypes.

An arbitrary upstream gradient on every hidden state and on the final cell state, nonzero
initial states, several steps and several sequences, so that a textbook version that ignored
``h0`` or ``c0``, the recurrence, the gradient through time or the batch would fail here.
"""

from __future__ import annotations

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core import lstm_textbook as textbook
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import DTYPES

N, T, D, H = 3, 5, 4, 6


def _arrays(dtype, seed=0):
    """x, h0, c0, Wx, Wh, b at torch's init scale, and upstream gradients dh and dcT."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    arrays = {
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "Wx": rng.uniform(-k, k, (D, 4 * H)),
        "Wh": rng.uniform(-k, k, (H, 4 * H)),
        "b": rng.uniform(-k, k, 4 * H),
        "c0": rng.uniform(-2, 2, (N, H)),
        "dh": rng.standard_normal((N, T, H)),
        "dcT": rng.standard_normal((N, H)),
    }
    return {name: value.astype(dtype) for name, value in arrays.items()}


def _assert_agree(actual, expected, dtype):
    __tracebackhide__ = True
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.dtype == want.dtype == np.dtype(dtype)
        assert got.shape == want.shape
        assert scaled_error(got, want) <= TOLERANCE[dtype]


@pytest.fixture(params=DTYPES)
def case(request):
    """A dtype, the arrays, and the forward's arguments (x, h0, Wx, Wh, b, c0)."""
    a = _arrays(request.param)
    return request.param, a, (a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["c0"])


def test_sequence_forward(case):
    dtype, _, args = case
    h, cT, _ = textbook.lstm_forward(*args)
    expected_h, expected_cT, _ = rr.lstm_forward(*args)
    _assert_agree([h, cT], [expected_h, expected_cT], dtype)


@pytest.mark.parametrize("with_dcT", [True, False])
def test_sequence_backward(case, with_dcT):
    dtype, a, args = case
    dcT = a["dcT"] if with_dcT else None
    *_, caches = textbook.lstm_forward(*args)
    *_, cache = rr.lstm_forward(*args)
    _assert_agree(
        textbook.lstm_backward(a["dh"], dcT, caches), rr.lstm_backward(a["dh"], dcT, cache), dtype
    )


def test_without_c0_the_cell_starts_from_zeros(case):
    dtype, _, args = case
    h, cT, _ = textbook.lstm_forward(*args[:5])
    expected_h, expected_cT, _ = rr.lstm_forward(*args[:5])
    _assert_agree([h, cT], [expected_h, expected_cT], dtype)


def test_step_forward_and_backward(case):
    dtype, a, args = case
    x, h0, Wx, Wh, b, c0 = args
    step = (x[:, 0], h0, c0, Wx, Wh, b)  # the first step's x (N, D)
    next_h, next_c, cache = textbook.lstm_step_forward(*step)
    expected_h, expected_c, expected_cache = rr.lstm_step_forward(*step)
    _assert_agree([next_h, next_c], [expected_h, expected_c], dtype)
    dnext_h, dnext_c = a["dh"][:, 0], a["dcT"]
    grads = textbook.lstm_step_backward(dnext_h, dnext_c, cache)
    _assert_agree(grads, rr.lstm_step_backward(dnext_h, dnext_c, expected_cache), dtype)


def test_the_gates_in_torchs_order():
    """One unit, x = 0, h0 = 0: a = b, so i, f, g, o are sigmoid(b_0), sigmoid(b_1), tanh(b_2),
    sigmoid(b_3), and c = i * g + f * c0, h = o * tanh(c), written out by hand."""
    b = np.array([0.3, -0.7, 0.5, 1.1])
    c0 = np.array([[0.25]])
    h, c, _ = textbook.lstm_step_forward(
        np.zeros((1, 1)), np.zeros((1, 1)), c0, np.zeros((1, 4)), np.zeros((1, 4)), b
    )
    sig = [1 / (1 + np.exp(-v)) for v in b]
    expected_c = sig[1] * 0.25 + sig[0] * np.tanh(0.5)
    assert c[0, 0] == pytest.approx(expected_c, rel=1e-15)
    assert h[0, 0] == pytest.approx(sig[3] * np.tanh(expected_c), rel=1e-15)
