"""Every array the core returns or caches has the computing dtype; its messages, word for word.

The computing dtype is NumPy's promotion of every floating argument (np.result_type): float32
work stays float32, and one float64 argument makes all of it float64. Work silently done in
another dtype passes every comparison within tolerance, so the dtypes are checked one by one.
The messages are the documented ones: the argument as the caller spelled it, what was expected
(with the reason in parentheses) and what came.
"""

from __future__ import annotations

import re
from dataclasses import fields

import numpy as np
import pytest

import reference_rnn as rr

N, T, D, H = 2, 4, 3, 5
OPERANDS = ("x", "h0", "Wx", "Wh", "b")


def _arrays(dtypes: dict[str, type], step: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    k = 1 / np.sqrt(H)
    shapes = {"x": (N, D) if step else (N, T, D), "h0": (N, H), "Wx": (D, H), "Wh": (H, H)}
    arrays = {name: rng.uniform(-k, k, shape) for name, shape in shapes.items()}
    arrays["b"] = rng.uniform(-k, k, H)
    return {name: value.astype(dtypes.get(name, np.float32)) for name, value in arrays.items()}


def _cache_arrays(cache: rr.RNNCache) -> dict[str, np.ndarray]:
    arrays = {f.name: getattr(cache, f.name) for f in fields(cache)}
    return {name: value for name, value in arrays.items() if isinstance(value, np.ndarray)}


# one float64 operand among float32 ones (and none): NumPy says what the result is
PROMOTIONS = [{}, *({name: np.float64} for name in OPERANDS)]


@pytest.mark.parametrize("dtypes", PROMOTIONS, ids=lambda d: next(iter(d), "all float32"))
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_the_sequence_functions_compute_in_the_promoted_dtype(dtypes, nonlinearity):
    a = _arrays(dtypes)
    expected = np.result_type(*(a[name].dtype for name in OPERANDS))
    assert expected == (np.float64 if dtypes else np.float32)
    h, cache = rr.rnn_forward(*(a[name] for name in OPERANDS), nonlinearity=nonlinearity)
    assert h.dtype == expected
    cached = _cache_arrays(cache)
    assert set(cached) >= {"x", "h", "Wx", "Wh"}
    assert {name: arr.dtype for name, arr in cached.items()} == dict.fromkeys(cached, expected)
    dh = np.ones((N, T, H), dtype=np.float32)
    grads = rr.rnn_backward(dh, cache)
    assert [g.dtype for g in grads] == [expected] * 5


@pytest.mark.parametrize("dtypes", PROMOTIONS, ids=lambda d: next(iter(d), "all float32"))
def test_the_step_functions_compute_in_the_promoted_dtype(dtypes):
    a = _arrays(dtypes, step=True)
    expected = np.result_type(*(a[name].dtype for name in OPERANDS))
    next_h, cache = rr.rnn_step_forward(*(a[name] for name in OPERANDS))
    assert next_h.dtype == expected
    cached = _cache_arrays(cache)
    assert {name: arr.dtype for name, arr in cached.items()} == dict.fromkeys(cached, expected)
    grads = rr.rnn_step_backward(np.ones((N, H), dtype=np.float32), cache)
    assert [g.dtype for g in grads] == [expected] * 5


@pytest.mark.parametrize("step", [False, True])
def test_a_float64_upstream_gradient_makes_the_gradients_float64(step):
    a = _arrays({}, step=step)
    forward, backward = (
        (rr.rnn_step_forward, rr.rnn_step_backward) if step else (rr.rnn_forward, rr.rnn_backward)
    )
    h, cache = forward(*(a[name] for name in OPERANDS))
    grads = backward(np.ones(h.shape, dtype=np.float64), cache)
    assert [g.dtype for g in grads] == [np.float64] * 5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_simple_rnn_without_h_prev_starts_from_zeros_of_the_weights_dtype(dtype):
    a = _arrays(dict.fromkeys(OPERANDS, dtype))
    layer = rr.SimpleRNN(a["Wx"], a["Wh"], a["b"], return_sequences=True)
    h = layer.forward(a["x"])  # no h_prev: zeros
    assert h.dtype == dtype
    dx = layer.backward(np.ones((N, T, H), dtype=dtype))
    assert dx.dtype == dtype
    assert layer.dh_prev is not None
    assert [layer.dh_prev.dtype, *(g.dtype for g in layer.grads)] == [dtype] * 4
    # zeros, as documented: the same as passing them
    zeros = rr.SimpleRNN(a["Wx"], a["Wh"], a["b"], return_sequences=True)
    np.testing.assert_array_equal(h, zeros.forward(a["x"], np.zeros((N, H), dtype=dtype)))


def _raises(error: type[Exception], message: str):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def test_the_step_functions_messages():
    a = _arrays({}, step=True)
    args = [a[name] for name in OPERANDS]
    with _raises(TypeError, "x must be a real floating or integer array, got dtype complex64"):
        rr.rnn_step_forward(args[0] + np.complex64(0), *args[1:])
    with _raises(ValueError, "x must be 2-D (N, D), got 3-D array of shape (2, 1, 3)"):
        rr.rnn_step_forward(args[0][:, None], *args[1:])
    _, cache = rr.rnn_step_forward(*args)
    with _raises(
        TypeError, "dnext_h must be a real floating or integer array, got dtype complex128"
    ):
        rr.rnn_step_backward(np.ones((N, H)) + 0j, cache)
    with _raises(ValueError, "dnext_h must have shape (2, 5) (the shape of next_h), got (3, 5)"):
        rr.rnn_step_backward(np.ones((3, H)), cache)


def test_the_sequence_functions_messages():
    a = _arrays({})
    args = [a[name] for name in OPERANDS]
    with _raises(TypeError, "x must be a real floating or integer array, got dtype complex64"):
        rr.rnn_forward(args[0] + np.complex64(0), *args[1:])
    with _raises(ValueError, "x must be 3-D (N, T, D), got 2-D array of shape (2, 3)"):
        rr.rnn_forward(args[0][:, 0], *args[1:])
    _, cache = rr.rnn_forward(*args)
    with _raises(ValueError, "dh must have shape (2, 4, 5) (the shape of h), got (2, 3, 5)"):
        rr.rnn_backward(np.ones((N, 3, H)), cache)


def test_a_cache_from_the_other_forward_or_none_at_all_is_named():
    a = _arrays({})
    _, sequence_cache = rr.rnn_forward(*(a[name] for name in OPERANDS))
    s = _arrays({}, step=True)
    _, step_cache = rr.rnn_step_forward(*(s[name] for name in OPERANDS))
    with _raises(
        TypeError,
        "cache must be the cache returned by rnn_forward, got the cache of rnn_step_forward",
    ):
        rr.rnn_backward(np.ones((N, 1, H)), step_cache)
    with _raises(
        TypeError,
        "cache must be the cache returned by rnn_step_forward, got the cache of rnn_forward",
    ):
        rr.rnn_step_backward(np.ones((N, H)), sequence_cache)
    with _raises(TypeError, "cache must be the cache returned by rnn_forward, got dict"):
        rr.rnn_backward(np.ones((N, T, H)), {})
    with _raises(TypeError, "cache must be the cache returned by rnn_step_forward, got NoneType"):
        rr.rnn_step_backward(np.ones((N, H)), None)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_float32_gradients_are_the_formula_in_float32_arithmetic(nonlinearity):
    """``da = dnext_h * (1 - next_h**2)`` (relu: ``* (next_h > 0)``), every operation in float32.

    With one row (N = 1) the bias gradient is ``da`` itself, with no sum to reorder; the same
    values computed in float64 and rounded once differ from it in the last bit for about half of
    the entries, so this catches float32 work done in a wider dtype.
    """
    rng = np.random.default_rng(0)
    H = 64
    x, h0 = rng.standard_normal((1, D)), rng.uniform(-1, 1, (1, H))
    Wx, Wh, b = rng.uniform(-1, 1, (D, H)), rng.uniform(-0.3, 0.3, (H, H)), rng.uniform(-1, 1, H)
    dnext_h = rng.standard_normal((1, H))
    args = [a.astype(np.float32) for a in (x, h0, Wx, Wh, b, dnext_h)]
    next_h, cache = rr.rnn_step_forward(*args[:5], nonlinearity=nonlinearity)
    db = rr.rnn_step_backward(args[5], cache)[4]
    one = np.float32(1)
    slope = one - next_h * next_h if nonlinearity == "tanh" else (next_h > 0).astype(np.float32)
    np.testing.assert_array_equal(db, (args[5] * slope)[0])
    assert db.dtype == np.float32
