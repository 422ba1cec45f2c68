"""The stack driver's seam for cells of several states (an LSTM's ``(h, c)``), and the shared shell.

The package's one cell has one state; these tests run the driver with a cell of two, defined here
(``c`` is a copy of ``h``, so every result is the Elman layer's, computed another way), to hold
what an LSTM will rely on: a tuple of states per layer and direction, each carried, returned
read-only and differentiated, with its own argument checks and messages.
"""

from __future__ import annotations

import re
import warnings
from typing import ClassVar

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.elman import RNNCache, backward_sequence, forward_sequence
from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.elman_cell import ELMAN
from reference_rnn.layers.stack import Cell, CoreArrays, States, checked_initial_state
from reference_rnn.layers.stack_layer import StackLayer

Pair = tuple[FloatArray, FloatArray]


def _forward(
    config: RNNConfig, x: FloatArray, s0: States, weights: CoreArrays
) -> tuple[States, RNNCache]:
    h0, _ = s0  # c_t = h_t: c0 is never read
    h, cache = forward_sequence(
        x, h0, *weights, "hx[0]", config.nonlinearity, check_finite=False, check_results=True
    )
    return (h, h.copy()), cache


def _backward(g: States, cache: RNNCache) -> tuple[FloatArray, States, CoreArrays]:
    g_h, g_c = g
    dx, dh0, *dweights = backward_sequence(
        g_h + g_c, cache, "grad_output", check_finite=False, check_results=True
    )
    return dx, (dh0, np.zeros_like(dh0)), tuple(dweights)


TWO_STATES = Cell(
    modes=("RNN_TANH", "RNN_RELU"),
    torch_module="TwoStates",
    states=("h", "c"),
    state_sizes=lambda config: (config.hidden_size, config.hidden_size),
    weights=ELMAN.weights,
    forward=_forward,
    backward=_backward,
    gradients=ELMAN.gradients,
    gradient_names=ELMAN.gradient_names,
)


class TwoStates(StackLayer[Pair]):
    """torch's LSTM signatures over the two-state cell; RNN's constructor without nonlinearity."""

    cell: ClassVar[Cell] = TWO_STATES

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **options: object):
        given = {"input_size": input_size, "hidden_size": hidden_size, "num_layers": num_layers}
        given |= {"dropout": 0.0} | {k: v for k, v in options.items() if k != "seed"}
        super().__init__(given, dtype=np.float64, seed=options.get("seed"))  # type: ignore[arg-type]

    def forward(
        self, input: object, hx: object | None = None, lengths: object | None = None
    ) -> tuple[FloatArray, Pair]:
        output, (h_n, c_n) = self._forward_states(input, hx, lengths)
        return output, (h_n, c_n)

    def backward(
        self, grad_output: object, grad_hx: object | None = None
    ) -> tuple[FloatArray, Pair]:
        grad_input, (grad_h0, grad_c0) = self._backward_states(grad_output, grad_hx, "grad_hx")
        return grad_input, (grad_h0, grad_c0)


@pytest.mark.parametrize(
    ("layers", "bidirectional", "batch_first", "lengths"),
    [(1, False, False, None), (3, True, False, [4, 2, 5]), (2, True, True, [1, 5, 3])],
)
def test_two_states_are_carried_returned_and_differentiated(
    layers, bidirectional, batch_first, lengths
):
    options = {"bidirectional": bidirectional, "batch_first": batch_first, "seed": 1}
    two, rnn = TwoStates(4, 6, layers, **options), rr.RNN(4, 6, layers, **options)
    rng = np.random.default_rng(0)
    LK = layers * (2 if bidirectional else 1)
    x = rng.normal(size=(3, 5, 4) if batch_first else (5, 3, 4))
    h0, c0 = rng.normal(size=(LK, 3, 6)), rng.normal(size=(LK, 3, 6))

    output, (h_n, c_n) = two(x, (h0, c0), lengths)
    expected_output, expected_h_n = rnn(x, h0, lengths)
    np.testing.assert_array_equal(output, expected_output)
    np.testing.assert_array_equal(h_n, expected_h_n)
    np.testing.assert_array_equal(c_n, expected_h_n)
    assert not any(a.flags.writeable for a in (output, h_n, c_n))

    g, g_h, g_c = (rng.normal(size=a.shape) for a in (output, h_n, c_n))
    grad_input, (grad_h0, grad_c0) = two.backward(g, (g_h, g_c))
    expected_input, expected_h0 = rnn.backward(g, g_h + g_c)
    np.testing.assert_allclose(grad_input, expected_input, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(grad_h0, expected_h0, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(grad_c0, 0)
    for name, grad in rnn.grads.items():
        np.testing.assert_allclose(two.grads[name], grad, rtol=1e-13, atol=1e-13)

    grad_input, _ = two.backward(g, [None, g_c])  # one state's gradient only, as a list
    np.testing.assert_allclose(grad_input, rnn.backward(g, g_c)[0], rtol=1e-13, atol=1e-13)


def test_two_states_unbatched_and_without_hx():
    two = TwoStates(4, 6, 2, bidirectional=True, seed=1)
    output, (h_n, c_n) = two(np.ones((5, 4)))
    assert (output.shape, h_n.shape, c_n.shape) == ((5, 12), (4, 6), (4, 6))
    _, (grad_h0, grad_c0) = two.backward(np.ones(output.shape), (np.ones(h_n.shape), None))
    assert grad_h0.shape == grad_c0.shape == (4, 6)
    assert repr(two) == "TwoStates(4, 6, num_layers=2, bidirectional=True)"


@pytest.mark.parametrize(
    ("hx", "error", "message"),
    [
        (np.zeros((1, 3, 6)), TypeError, "hx must be a tuple (h, c) of 2 arrays, got ndarray"),
        (
            (np.zeros((1, 3, 6)),),
            TypeError,
            "hx must be a tuple (h, c) of 2 arrays, got tuple of length 1",
        ),
        (
            (np.zeros((1, 3, 6)), np.zeros((1, 7, 6))),
            ValueError,
            (
                "hx[1] must have shape (1, 3, 6) (num_layers * num_directions, N, H; "
                "N from input), got (1, 7, 6)"
            ),
        ),
        (
            (np.zeros((1, 3, 6)), np.zeros((3, 6))),
            ValueError,
            "For batched 3-D input, hx[1] should also be 3-D but got 2-D array",
        ),
    ],
)
def test_two_states_hx_is_checked_state_by_state(hx, error, message):
    with pytest.raises(error, match=re.escape(message)):
        TwoStates(4, 6)(np.zeros((5, 3, 4)), hx)


def test_two_states_grad_hx_is_checked_state_by_state():
    two = TwoStates(4, 6)
    output, _ = two(np.zeros((5, 3, 4)))
    with pytest.raises(ValueError, match=re.escape("grad_hx[0] must have shape (1, 3, 6)")):
        two.backward(np.zeros(output.shape), (np.zeros((1, 2, 6)), None))
    with pytest.raises(TypeError, match=re.escape("grad_hx must be a tuple (h, c) of 2 arrays")):
        two.backward(np.zeros(output.shape), np.zeros((1, 3, 6)))
    with pytest.raises(RuntimeError, match=re.escape("TwoStates.backward needs a successful")):
        TwoStates(4, 6).backward(np.zeros(output.shape))


def test_a_state_of_another_width_is_named_in_the_message():
    wide = Cell(**{**TWO_STATES.__dict__, "state_sizes": lambda _config: (6, 9)})
    config = RNNConfig(4, 6)
    with pytest.raises(ValueError, match=re.escape("(num_layers * num_directions, c's size 9)")):
        checked_initial_state(
            wide, config, (np.zeros((1, 6)), np.zeros((1, 6))), True, 1, np.float64
        )


def test_overflow_in_the_backward_names_the_state():
    two = TwoStates(1, 1, nonlinearity="relu", seed=0)
    two.load_state_dict(
        {"weight_ih_l0": [[0.0]], "weight_hh_l0": [[1e300]], "bias_ih_l0": [0], "bias_hh_l0": [0]}
    )
    output, _ = two(np.zeros((1, 1, 1)), (np.full((1, 1, 1), 1e-300), np.zeros((1, 1, 1))))
    with pytest.raises(FloatingPointError, match=re.escape("grad_hx[0] overflowed")):
        two.backward(np.zeros(output.shape), (np.full((1, 1, 1), 1e300), None))


def test_the_dropout_warning_points_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rr.RNN(3, 4, dropout=0.5)
    assert [w.filename for w in caught] == [__file__]
