"""SimpleRNN, the exercise's layer: torch parity, the layer's state, and its contract."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.verify.cases import CoreCase


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("api", ["simple", "simple_sequences"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 5, 4, 6), (2, 9, 7, 3)])
def test_matches_torch(torch: ModuleType, dtype, api, shape):
    N, T, D, H = shape
    case = CoreCase("simple", api, N=N, T=T, D=D, H=H, dtype=dtype)
    from reference_rnn.oracles import torch as torch_oracle

    ours, theirs = case.run_ours(), case.expected(torch_oracle.run(case.problem()))
    assert ours.keys() == theirs.keys()
    for name in theirs:
        assert ours[name].dtype == dtype, name
        assert scaled_error(ours[name], theirs[name]) <= TOLERANCE[dtype], name


def make_layer(return_sequences=False, seed=0):
    rng = np.random.default_rng(seed)
    Wx, Wh, b = rng.uniform(-0.5, 0.5, (3, 4)), rng.uniform(-0.5, 0.5, (4, 4)), np.zeros(4)
    x, h0 = rng.standard_normal((2, 5, 3)), rng.uniform(-1, 1, (2, 4))
    return rr.SimpleRNN(Wx, Wh, b, return_sequences), x, h0


def test_matches_the_functional_core():
    layer, x, h0 = make_layer(return_sequences=True)
    h, cache = rr.rnn_forward(x, h0, *layer.params)
    np.testing.assert_array_equal(layer.forward(x, h0), h)
    dh = np.random.default_rng(1).standard_normal(h.shape)
    dx, dh0, *grads = rr.rnn_backward(dh, cache)
    np.testing.assert_array_equal(layer.backward(dh), dx)
    np.testing.assert_array_equal(layer.dh_prev, dh0)
    for ours, theirs in zip(layer.grads, grads, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_final_state_backward_is_the_sequence_backward_with_zeros_before_the_end():
    last, x, h0 = make_layer()
    seq, _, _ = make_layer(return_sequences=True)
    np.testing.assert_array_equal(last.forward(x, h0), seq.forward(x, h0)[:, -1])
    dout = np.arange(8.0).reshape(2, 4)
    dh = np.zeros((2, 5, 4))
    dh[:, -1] = dout
    np.testing.assert_array_equal(last.backward(dout), seq.backward(dh))
    for g1, g2 in zip(last.grads, seq.grads, strict=True):
        np.testing.assert_array_equal(g1, g2)


def test_h_prev_defaults_to_zeros():
    layer, x, _ = make_layer()
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x, np.zeros((2, 4))))


def test_a_second_forward_replaces_the_cache():
    layer, x, h0 = make_layer()
    dout = np.ones((2, 4))
    layer.forward(x, h0)
    layer.forward(2 * x[:1], h0[:1])  # a different batch size
    dx = layer.backward(dout[:1])
    assert dx.shape == (1, 5, 3)
    fresh, _, _ = make_layer()
    fresh.forward(2 * x[:1], h0[:1])
    np.testing.assert_array_equal(dx, fresh.backward(dout[:1]))


def test_params_are_copies_and_grads_are_in_the_computing_dtype():
    Wx, Wh, b = np.ones((2, 3), dtype=np.float32), np.eye(3, dtype=np.float32), np.array([1, 1, 1])
    layer = rr.SimpleRNN(Wx, Wh, b)
    assert layer.params[2].dtype == np.float64  # the integer bias became float64
    layer.params[0] *= 0  # an optimizer's in-place step touches the layer's arrays only
    np.testing.assert_array_equal(Wx, 1)
    layer.forward(np.ones((1, 2, 2), dtype=np.float32))
    layer.backward(np.full((1, 3), 0.5))
    assert [g.dtype for g in layer.grads] == [np.float64] * 3
    assert not np.all(layer.grads[2] == np.round(layer.grads[2]))  # nothing truncated


def test_grads_list_is_updated_in_place():
    layer, x, h0 = make_layer()
    grads = layer.grads
    layer.forward(x, h0)
    layer.backward(np.ones((2, 4)))
    assert layer.grads is grads
    assert all(np.any(g != 0) for g in grads)


def test_simple_rnn_cases_are_tanh_only():
    with pytest.raises(ValueError, match="tanh only"):
        CoreCase("relu", "simple", nonlinearity="relu")
