"""``reference_rnn.testing.strategies``: what the strategies draw, and that the reference passes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from reference_rnn import rnn_backward, rnn_forward, testing
from reference_rnn.testing.strategies import cases, sizes, weights


@settings(max_examples=25, deadline=None)
@given(cases(max_size=4))
def test_drawn_cases_are_checked_by_the_reference_itself(case):
    assert 1 <= min(case.shape) <= max(case.shape) <= 4
    assert case.x.dtype == np.float64
    h, cache = rnn_forward(case.x, case.h0, case.Wx, case.Wh, case.b)
    testing.assert_close(h, case.expected["h"], name="h")
    for name, grad in zip(
        ("dx", "dh0", "dWx", "dWh", "db"), rnn_backward(case.dh, cache), strict=True
    ):
        testing.assert_close(grad, case.expected[name], name=name)


@settings(max_examples=10, deadline=None)
@given(sizes(3), weights(3, 5, scale=2.0, dtype="float32"))
def test_sizes_and_weights_at_a_scale(shape, drawn):
    assert all(1 <= n <= 3 for n in shape)
    Wx, Wh, b = drawn
    assert (Wx.shape, Wh.shape, b.shape) == ((3, 5), (5, 5), (5,))
    assert Wx.dtype == np.float32
    assert np.abs(Wh).max() <= 2.0 / np.sqrt(5)
