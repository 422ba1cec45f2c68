"""The GRU core's bad input, word for word, and finite arguments whose arithmetic overflows.

Every message names the argument as the caller spelled it, what was expected and what came; an
overflow is a NonFiniteResultError naming the result and its first bad time step.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from gru_arrays import OPERANDS, RESETS, forward_args, gru_arrays, reset_id

import reference_rnn as rr
from reference_rnn.core.validation import NonFiniteResultError

N, T, D, H = 2, 4, 3, 5


def _raises(kind, message):
    return pytest.raises(kind, match=f"^{re.escape(message)}$")


def _sequence(**changed):
    a = gru_arrays(N, T, D, H) | changed
    return forward_args(a)


def _step(**changed):
    a = gru_arrays(N, T, D, H)
    a = {"x": a["x"][:, 0]} | {name: a[name] for name in OPERANDS[1:]} | changed
    return forward_args(a)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Wx", np.zeros((D, 14)), ("Wx must have shape (D, 3H), the gates r, z, n side by side, "
         "got (3, 14): 14 columns is not a multiple of 3")),
        ("Wx", np.zeros(15), "Wx must be 2-D (D, 3H), got 1-D array of shape (15,)"),
        ("Wx", np.zeros((4, 15)), ("Wx must have shape (3, 15) for x of shape (2, 4, 3), got "
         "(4, 15); or x must have D = 4 features on its last axis")),
        ("Wh", np.zeros((5, 5)), "Wh must have shape (5, 15) (H = 5 from Wx), got (5, 5)"),
        ("Wh", np.zeros((15, 5)), "Wh must have shape (5, 15) (H = 5 from Wx), got (15, 5)"),
        ("b", np.zeros(5), "b must have shape (15,) (H = 5 from Wx), got (5,)"),
        ("bh", np.zeros(5), "bh must have shape (15,) (H = 5 from Wx), got (5,)"),
        ("bh", np.zeros((2, 15)), "bh must have shape (15,) (H = 5 from Wx), got (2, 15)"),
        ("h0", np.zeros((3, 5)), ("h0 must have shape (2, 5) (N = 2 from x, H = 5 from Wx), "
         "got (3, 5)")),
        ("x", np.zeros((2, 3)), "x must be 3-D (N, T, D), got 2-D array of shape (2, 3)"),
        ("x", np.zeros((2, 0, 3)), "x must have at least one time step, got shape (2, 0, 3)"),
        ("bh", np.zeros(15) + 0j, ("bh must be a real floating or integer array, got dtype "
         "complex128")),
        ("bh", np.array(["a"] * 15), "bh must be a real floating or integer array, got dtype <U1"),
    ],
)  # fmt: skip
def test_the_sequence_functions_messages(name, value, message):
    with _raises((ValueError, TypeError), message):
        rr.gru_forward(*_sequence(**{name: value}))


def test_the_step_functions_messages():
    with _raises(ValueError, "x must be 2-D (N, D), got 3-D array of shape (2, 1, 3)"):
        rr.gru_step_forward(*_step(x=np.zeros((N, 1, D))))
    with _raises(
        ValueError, "prev_h must have shape (2, 5) (N = 2 from x, H = 5 from Wx), got (5,)"
    ):
        rr.gru_step_forward(*_step(h0=np.zeros(H)))
    with _raises(ValueError, "prev_h must be finite, got an array with NaN or inf"):
        rr.gru_step_forward(*_step(h0=np.full((N, H), np.inf)))
    _, cache = rr.gru_step_forward(*_step())
    with _raises(ValueError, "dnext_h must have shape (2, 5) (the shape of next_h), got (3, 5)"):
        rr.gru_step_backward(np.ones((3, H)), cache)
    with _raises(ValueError, "dnext_h must be finite, got an array with NaN or inf"):
        rr.gru_step_backward(np.full((N, H), np.nan), cache)


def test_the_backward_messages():
    _, cache = rr.gru_forward(*_sequence())
    with _raises(ValueError, "dh must have shape (2, 4, 5) (the shape of h), got (2, 3, 5)"):
        rr.gru_backward(np.ones((N, 3, H)), cache)
    with _raises(ValueError, "dh must be finite, got an array with NaN or inf"):
        rr.gru_backward(np.full((N, T, H), np.nan), cache)
    with _raises(TypeError, "cache must be the cache returned by gru_forward, got dict"):
        rr.gru_backward(np.ones((N, T, H)), {})


@pytest.mark.parametrize("name", OPERANDS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_arguments_are_named(name, value):
    a = gru_arrays(N, T, D, H)
    a[name].flat[3] = value
    with _raises(ValueError, f"{name} must be finite, got an array with NaN or inf"):
        rr.gru_forward(*forward_args(a))


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_reset_after_must_be_a_bool(value):
    with _raises(TypeError, f"reset_after must be a bool, got {type(value).__name__}"):
        rr.gru_forward(*_sequence(), reset_after=value)
    with _raises(TypeError, f"reset_after must be a bool, got {type(value).__name__}"):
        rr.gru_step_forward(*_step(), reset_after=value)


def test_numpy_bools_are_bools():
    h, cache = rr.gru_forward(*_sequence(), reset_after=np.bool_(False))
    assert cache.reset_after is False
    np.testing.assert_array_equal(h, rr.gru_forward(*_sequence(), reset_after=False)[0])


# -- finite arguments whose arithmetic overflows -------------------------------------------------


@pytest.mark.parametrize("reset_after", RESETS, ids=reset_id)
def test_an_input_projection_that_overflows_names_its_step(reset_after):
    a = gru_arrays(N, T, D, H)
    a["x"][1, 2] = 1e308  # sequence 1, step 2
    a["Wx"][...] = 10.0
    with pytest.raises(
        NonFiniteResultError,
        match=r"^the input projection x @ Wx \+ b overflowed at time step 2: it reached inf in "
        r"float64 from finite arguments \(check_finite=False skips this check\)$",
    ) as info:
        rr.gru_forward(*forward_args(a), reset_after=reset_after)
    assert (info.value.step, info.value.row) == (2, 1)


@pytest.mark.parametrize("reset_after", RESETS, ids=reset_id)
@pytest.mark.parametrize(
    ("gate", "what"),
    [(slice(0, H), "the gates r and z"), (slice(2 * H, 3 * H), "the candidate n")],
)
def test_a_pre_activation_that_overflows_names_its_step(reset_after, gate, what):
    # h0 = 0, so step 0 has no recurrent term; its z = sigmoid(-10) and n = tanh(5) make the
    # first state nearly 1 everywhere, which then meets the huge weights: 5 * 1e308 at step 1
    a = {name: np.zeros_like(value) for name, value in gru_arrays(N, T, D, H).items()}
    a["b"][H : 2 * H], a["b"][2 * H :] = -10.0, 5.0
    a["Wh"][:, gate] = 1e308
    with pytest.raises(NonFiniteResultError) as info:
        rr.gru_forward(*forward_args(a), reset_after=reset_after)
    assert str(info.value).startswith(f"the pre-activation of {what} overflowed at time step 1: ")
    # without the check, the arithmetic runs on (this is what the check stops)
    rr.gru_forward(*forward_args(a), reset_after=reset_after, check_finite=False)


@pytest.mark.parametrize("reset_after", RESETS, ids=reset_id)
def test_weights_past_the_bound_that_do_not_overflow_give_the_unchecked_result(reset_after):
    # the bound fails (1e307 * H > half of float64's largest), so every step is checked, and none
    # overflows: h stays zero, as x = 0 and h0 = 0 give r = z = 1/2, n = tanh(0) = 0
    a = gru_arrays(N, T, D, H, zero_h0=True)
    a["x"][...] = 0
    a["b"][...] = 0
    a["bh"][...] = 0
    a["Wh"][...] = 1e307
    h, _ = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    np.testing.assert_array_equal(h, 0)


@pytest.mark.parametrize("reset_after", RESETS, ids=reset_id)
def test_a_gradient_that_overflows_names_the_gradient_and_its_step(reset_after):
    # x = h0 = 0 and zero biases: r = z = 1/2, n = 0, da_n = dh / 2, dx = da_n @ Wx_n.T: 4 * 0.5e308
    a = {name: np.zeros_like(value) for name, value in gru_arrays(4, 3, 1, 4).items()}
    a["Wx"][...] = 1.0
    a["dh"][:, 1] = 1e308
    _, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    with pytest.raises(NonFiniteResultError) as info:
        rr.gru_backward(a["dh"], cache)
    assert str(info.value).startswith("the gradient dx overflowed at time step 1: it reached inf")
    dx, *_ = rr.gru_backward(a["dh"], cache, check_finite=False)
    assert np.isinf(dx[:, 1]).all()


@pytest.mark.parametrize("reset_after", RESETS, ids=reset_id)
def test_a_weight_gradient_that_overflows_is_named(reset_after):
    # x = 1, Wx = 0: dx = 0, and dWx = x.T @ da sums 4 rows of 0.5e308
    a = {name: np.zeros_like(value) for name, value in gru_arrays(4, 1, 1, 2).items()}
    a["x"][...] = 1.0
    a["dh"][...] = 1e308
    _, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    with pytest.raises(NonFiniteResultError, match=r"^the gradient dWx overflowed: it reached inf"):
        rr.gru_backward(a["dh"], cache)
