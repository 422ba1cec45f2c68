"""The textbook GRU against the fast one, forward and backward separately, both dtypes, both conventions.

An arbitrary upstream gradient, a nonzero initial state, several steps and several sequences, so
that a textbook version that ignored ``h0``, the recurrence, the gradient through time, the batch
or the reset gate's place would fail here.
"""

from __future__ import annotations

import numpy as np
import pytest
from gru_arrays import RESETS, forward_args, gru_arrays, reset_id

import reference_rnn as rr
from reference_rnn.core import gru_textbook as textbook
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import DTYPES

N, T, D, H = 3, 5, 4, 6


def _assert_agree(actual, expected, dtype):
    __tracebackhide__ = True
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert got.dtype == want.dtype == np.dtype(dtype)
        assert got.shape == want.shape
        assert scaled_error(got, want) <= TOLERANCE[dtype]


@pytest.fixture(
    params=[(d, r) for d in DTYPES for r in RESETS], ids=lambda p: f"{p[0]}-{reset_id(p[1])}"
)
def case(request):
    """A dtype, reset_after, the arrays, and the forward's arguments."""
    dtype, reset_after = request.param
    a = gru_arrays(N, T, D, H, dtype=dtype)
    return dtype, reset_after, a, forward_args(a)


def test_sequence_forward(case):
    dtype, reset_after, _, args = case
    h, _ = textbook.gru_forward(*args, reset_after)
    _assert_agree([h], [rr.gru_forward(*args, reset_after=reset_after)[0]], dtype)


def test_sequence_backward(case):
    dtype, reset_after, a, args = case
    _, caches = textbook.gru_forward(*args, reset_after)
    _, cache = rr.gru_forward(*args, reset_after=reset_after)
    _assert_agree(textbook.gru_backward(a["dh"], caches), rr.gru_backward(a["dh"], cache), dtype)


def test_step_forward_and_backward(case):
    dtype, reset_after, a, args = case
    step = (args[0][:, 0], *args[1:])  # the first step's x (N, D)
    next_h, cache = textbook.gru_step_forward(*step, reset_after)
    expected, expected_cache = rr.gru_step_forward(*step, reset_after=reset_after)
    _assert_agree([next_h], [expected], dtype)
    dnext_h = a["dh"][:, 0]
    grads = textbook.gru_step_backward(dnext_h, cache)
    _assert_agree(grads, rr.gru_step_backward(dnext_h, expected_cache), dtype)


def test_the_two_conventions_are_different_functions():
    # the same weights: the reset gate's place changes the state by far more than rounding
    args = forward_args(gru_arrays(N, T, D, H))
    after, _ = textbook.gru_forward(*args, True)
    before, _ = textbook.gru_forward(*args, False)
    assert scaled_error(before, after) > 1e-2
