"""What is particular to the LSTM's core among bad inputs: its shapes' messages, its caches,
``check_finite``, and results that overflow from finite arguments, named with their step.

The generic checks of every argument (wrong shapes, NaN, non-real dtypes, ragged lists, nothing
modified) are ``tests/test_errors.py``'s, whose ``ENTRIES`` hold the four public functions.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_errors import BAD, D, H, N, T, call, lstm_args, lstm_step_args, raises

import reference_rnn as rr
from reference_rnn.core import lstm
from reference_rnn.core.validation import NonFiniteResultError

P = 3


def _sequence(a, Wr=None, **kwargs):
    return lstm.forward_sequence(
        a["x"], a["h0"], a["c0"], a["Wx"], a["Wh"], a["b"], Wr, ("hx[0]", "hx[1]"), **kwargs
    )


SHAPE_ERRORS = [
    ("lstm_forward", "Wx", (D, BAD), ("Wx", "4H columns", "i, f, g, o", (D, BAD), "multiple of 4")),
    ("lstm_forward", "Wx", (BAD, 4 * H), ("Wx", (D, 4 * H), (N, T, D), (BAD, 4 * H), "D = 7")),
    ("lstm_forward", "Wh", (H, H), ("Wh", (H, 4 * H), "4H = 16 from Wx", (H, H))),
    ("lstm_forward", "b", (H,), ("b", (4 * H,), "4H = 16 from Wx", (H,))),
    ("lstm_forward", "h0", (N, 4 * H), ("h0", (N, H), "H = 4 from Wx", (N, 4 * H))),
    ("lstm_forward", "c0", (BAD, H), ("c0", (N, H), "N = 2 from x", (BAD, H))),
    ("lstm_step_forward", "prev_c", (N, BAD), ("prev_c", (N, H), (N, BAD))),
    ("lstm_step_backward", "dnext_c", (N, BAD), ("dnext_c", (N, H), "next_c", (N, BAD))),
    ("lstm_backward", "dcT", (N, T, H), ("dcT", (N, H), "the shape of cT", (N, T, H))),
    ("lstm_backward", "dh", (N, T, BAD), ("dh", (N, T, H), "the shape of h", (N, T, BAD))),
]


@pytest.mark.parametrize(("entry", "name", "shape", "parts"), SHAPE_ERRORS)
def test_shape_error_says_what_was_expected_and_what_came(entry, name, shape, parts):
    call(entry, ValueError, *parts, **{name: np.ones(shape)})


def test_the_projection_sets_the_hidden_states_width():
    a = lstm_args()
    Wr = np.ones((H, P))
    with raises(ValueError, "Wh", (P, 4 * H), f"P = {P} from Wr", (H, 4 * H)):
        _sequence(a, Wr, check_finite=True)
    a["Wh"] = np.ones((P, 4 * H))
    with raises(ValueError, "hx[0]", (N, P), f"P = {P} from Wr", (N, H)):
        _sequence(a, Wr, check_finite=True)
    with raises(ValueError, "Wr", (H, P), f"H = {H} from Wx", (BAD, P)):
        _sequence(a, np.ones((BAD, P)), check_finite=True)
    with raises(ValueError, "Wr", "2-D", "(H, P)", "1-D"):
        _sequence(a, np.ones(H), check_finite=True)
    a["h0"] = np.ones((N, P))
    with raises(ValueError, "Wr", "finite"):
        _sequence(a, np.full((H, P), np.nan), check_finite=True)


def test_the_sequence_functions_name_the_callers_arguments():
    a = lstm_args()
    with raises(ValueError, "hx[1]", "finite"):
        _sequence(a | {"c0": np.full((N, H), np.inf)}, check_finite=True)
    *_, cache = _sequence(a, check_finite=True)
    dh = np.ones((N, T, H))
    with raises(ValueError, "g_c", (N, T, H), "the shape of c", (N, 1, H)):
        lstm.backward_sequence(dh, np.ones((N, 1, H)), cache, ("g_h", "g_c"), check_finite=True)
    with raises(ValueError, "g_c", "finite"):
        lstm.backward_sequence(
            dh, np.full((N, T, H), np.nan), cache, ("g_h", "g_c"), check_finite=True
        )
    with raises(ValueError, "g_h", "finite"):
        lstm.backward_sequence(dh * np.nan, None, cache, ("g_h", "g_c"), check_finite=True)


NOT_A_CACHE = [None, (1, 2), {"h": np.zeros((T + 1, N, H))}]


@pytest.mark.parametrize("cache", NOT_A_CACHE, ids=["None", "tuple", "dict"])
@pytest.mark.parametrize("entry", ["lstm_step_backward", "lstm_backward"])
def test_a_cache_that_is_not_one_is_a_type_error(entry, cache):
    made_by = entry.replace("backward", "forward")
    call(entry, TypeError, "cache", made_by, type(cache).__name__, cache=cache)


def test_the_step_and_sequence_caches_are_not_interchangeable():
    *_, step_cache = rr.lstm_step_forward(**lstm_step_args())
    *_, seq_cache = rr.lstm_forward(**lstm_args())
    call("lstm_backward", TypeError, "lstm_forward", "lstm_step_forward", cache=step_cache)
    call("lstm_step_backward", TypeError, "lstm_step_forward", "lstm_forward", cache=seq_cache)


def test_a_cache_built_by_hand_or_replaced_is_refused():
    import dataclasses

    *_, cache = rr.lstm_forward(**lstm_args())
    with raises(TypeError, "cache", "no forward function made"):
        rr.lstm_backward(np.ones((N, T, H)), None, dataclasses.replace(cache))


# an RNN cache is no LSTM cache, and the other way round
def test_the_cells_caches_are_not_interchangeable():
    _, rnn_cache = rr.rnn_forward(
        np.ones((N, T, D)), np.ones((N, H)), np.ones((D, H)), np.ones((H, H)), np.ones(H)
    )
    *_, lstm_cache = rr.lstm_forward(**lstm_args())
    with raises(TypeError, "lstm_forward", "RNNCache"):
        rr.lstm_backward(np.ones((N, T, H)), None, rnn_cache)
    with raises(TypeError, "rnn_forward", "LSTMCache"):
        rr.rnn_backward(np.ones((N, T, H)), lstm_cache)


PUBLIC = ["lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"]


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("entry", PUBLIC)
def test_check_finite_false_lets_what_the_default_refuses_through(entry, value):
    from test_errors import ENTRIES, unchanged

    fn, kwargs = ENTRIES[entry]()
    for name in [n for n in kwargs if n != "cache"]:
        bad = kwargs | {name: kwargs[name].copy()}
        bad[name].flat[-1] = value
        with pytest.raises(ValueError, match=f"{name} must be finite"):
            fn(**bad)
        with unchanged(bad), np.errstate(all="ignore"):
            result = fn(**bad, check_finite=False)
        assert len(result) == (3 if entry.endswith("forward") else 6)
        if np.isnan(value):  # a NaN cannot vanish (unlike inf, which sigmoid maps to 1)
            assert any(np.isnan(r).any() for r in result if isinstance(r, np.ndarray)), name


# -- overflow from finite arguments ------------------------------------------------------------


def test_an_input_projection_that_overflows_is_named():
    a = lstm_args()
    a["x"] = a["x"] * 1e300
    a["Wx"] = a["Wx"] * 1e300
    with pytest.raises(NonFiniteResultError, match="the input projection x @ Wx \\+ b overflowed"):
        rr.lstm_forward(**a)


def _saturated(a):
    """x = 0 and b = 10: i, f, o are 1 and g is 1 to within 1e-8, so c_1 = c_0 + 1 lies in
    [0.5, 1.5] and h_1 = tanh(c_1) in [0.46, 0.91]."""
    return a | {"x": np.zeros_like(a["x"]), "b": np.full_like(a["b"], 10)}


def test_a_pre_activation_that_overflows_is_named_with_its_step():
    """h0 = 0 and a huge Wh: step 0 is finite, step 1's h_1 @ Wh > 4 * 0.46 * 1e308 overflows."""
    a = _saturated(lstm_args())
    a["h0"] = np.zeros((N, H))
    a["Wh"] = np.full((H, 4 * H), 1e308)
    with pytest.raises(NonFiniteResultError, match=r"pre-activation.* at time step 1") as info:
        rr.lstm_forward(**a)
    assert info.value.step == 1
    # unchecked, sigmoid and tanh turn the overflow into finite gates: the reason for the check
    h, _, _ = rr.lstm_forward(**a, check_finite=False)
    assert np.isfinite(h).all()


def test_a_projection_that_overflows_is_named_with_its_step():
    """(o * tanh(c_1)) @ Wr > 4 * 0.46 * 3e38 overflows float32 at step 0."""
    a = {name: value.astype(np.float32) for name, value in _saturated(lstm_args()).items()}
    a["h0"] = np.zeros((N, P), np.float32)
    a["Wh"] = np.zeros((P, 4 * H), np.float32)
    Wr = np.full((H, P), 3e38, np.float32)
    with pytest.raises(NonFiniteResultError, match=r"projected state.* at time step 0") as info:
        _sequence(a, Wr, check_finite=True)
    assert info.value.dtype == np.float32


def test_a_bound_that_fails_checks_every_step_and_finds_nothing():
    """Large weights on small states: the bound cannot prove the steps safe, every step is
    checked, and the results are those of the unchecked run."""
    a = lstm_args()
    a["Wh"] = a["Wh"] * 1e307
    a["h0"] = np.zeros((N, H))
    a["x"] = np.zeros((N, 1, D))
    Wr = np.ones((H, H)) * 1e306
    assert not lstm._bounded(np.ones((1, N, 4 * H)), a["h0"], a["Wh"], Wr)
    checked = _sequence(a, Wr, check_finite=True)
    unchecked = _sequence(a, Wr, check_finite=False)
    for c, u in zip(checked[:2], unchecked[:2], strict=True):
        np.testing.assert_array_equal(c, u)


@pytest.mark.parametrize("name", ["dh", "dcT"])
def test_gradients_that_overflow_are_named(name):
    """Large inputs on small weights (the gates stay in their linear range) and a gradient of
    1e308 from above: dWx = x.T @ da overflows."""
    a = lstm_args()
    a["x"] = a["x"] * 1e10
    a["Wx"] = a["Wx"] * 1e-10
    h, cT, cache = rr.lstm_forward(**a)
    upstream = {"dh": np.zeros(h.shape), "dcT": np.zeros(cT.shape)}
    upstream[name] = np.full(upstream[name].shape, 1e308)
    with pytest.raises(NonFiniteResultError, match="the gradient dWx overflowed"):
        rr.lstm_backward(upstream["dh"], upstream["dcT"], cache)


def test_a_projection_gradient_that_overflows_is_named():
    """dWr = sum over N * T = 6 rows of m.T @ dh, m = tanh(c_t) >= 0.46, dh = 1e308."""
    a = _saturated(lstm_args())
    a["h0"] = np.zeros((N, P))
    a["Wh"] = np.zeros((P, 4 * H))
    *_, cache = _sequence(a, np.full((H, P), 1e-300), check_finite=True)
    with pytest.raises(NonFiniteResultError, match="the gradient dWr overflowed"):
        lstm.backward_sequence(
            np.full((N, T, P), 1e308), None, cache, ("g", "gc"), check_finite=True
        )
