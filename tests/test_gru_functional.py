"""The GRU core against torch (reset_after=True), forward and backward separately, and its contract.

The torch side is written out here, independent of the package: a one-layer ``torch.nn.GRU`` with
``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``bias_ih = b``, ``bias_hh = bh``, differentiated
through ``(h * dh).sum().backward()`` so that an arbitrary upstream gradient at every step is
checked. torch computes only ``reset_after=True``; the other convention is checked against JAX,
exact arithmetic and finite differences (test_gru_jax.py, test_gru_exact.py).
"""

from __future__ import annotations

import dataclasses
from types import ModuleType

import numpy as np
import pytest
from gru_arrays import GRADIENTS, OPERANDS, RESETS, forward_args, gru_arrays, reset_id

import reference_rnn as rr
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import DTYPES

# (N, T, D, H): ones, primes, a single step, a single unit, a batch of one, a larger one
SHAPES = [(1, 1, 1, 1), (2, 3, 5, 4), (3, 7, 1, 9), (5, 2, 3, 1), (1, 13, 4, 6), (16, 20, 8, 32)]
RESET_IDS = pytest.mark.parametrize("reset_after", RESETS, ids=reset_id)


def _strided(a):
    """``a``'s values in every other element of a larger buffer."""
    big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def torch_gru(torch, x, h0, Wx, Wh, b, bh, dh):
    """torch's h and its gradients for the same network, named as the core's."""
    dtype = getattr(torch, x.dtype.name)
    D, H = Wx.shape[0], Wh.shape[0]
    gru = torch.nn.GRU(D, H, batch_first=True, dtype=dtype)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.tensor(Wx.T))
        gru.weight_hh_l0.copy_(torch.tensor(Wh.T))
        gru.bias_ih_l0.copy_(torch.tensor(b))
        gru.bias_hh_l0.copy_(torch.tensor(bh))
    x_t = torch.tensor(x, requires_grad=True)
    h0_t = torch.tensor(h0[None], requires_grad=True)
    h, _ = gru(x_t, h0_t)
    (h * torch.tensor(dh)).sum().backward()
    return {
        "h": h.detach().numpy(),
        "dx": x_t.grad.numpy(),
        "dh0": h0_t.grad[0].numpy(),
        "dWx": gru.weight_ih_l0.grad.T.numpy(),
        "dWh": gru.weight_hh_l0.grad.T.numpy(),
        "db": gru.bias_ih_l0.grad.numpy(),
        "dbh": gru.bias_hh_l0.grad.numpy(),
    }


def assert_close(actual, expected, dtype):
    __tracebackhide__ = True
    assert actual.shape == expected.shape
    assert actual.dtype == np.dtype(dtype)
    error = scaled_error(actual, expected)
    assert error <= TOLERANCE[dtype], f"scaled error {error:.2e} > {TOLERANCE[dtype]:.0e}"


GRID = pytest.mark.parametrize(
    ("shape", "dtype", "zero_h0", "contiguous"),
    [
        (shape, dtype, zero_h0, contiguous)
        for shape in SHAPES
        for dtype in DTYPES
        for zero_h0, contiguous in ((False, True), (True, True), (False, False))
    ],
)


def _args(shape, dtype, zero_h0, contiguous, seed=0):
    a = gru_arrays(*shape, dtype=dtype, zero_h0=zero_h0, seed=seed)
    return a if contiguous else {name: _strided(value) for name, value in a.items()}


@GRID
def test_forward_matches_torch(torch: ModuleType, shape, dtype, zero_h0, contiguous):
    a = _args(shape, dtype, zero_h0, contiguous)
    h, _ = rr.gru_forward(*forward_args(a))
    assert_close(h, torch_gru(torch, **a)["h"], dtype)


@GRID
def test_backward_matches_torch(torch: ModuleType, shape, dtype, zero_h0, contiguous):
    a = _args(shape, dtype, zero_h0, contiguous)
    _, cache = rr.gru_forward(*forward_args(a))
    expected = torch_gru(torch, **a)
    for name, grad in zip(GRADIENTS, rr.gru_backward(a["dh"], cache), strict=True):
        assert_close(grad, expected[name], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_step_functions_match_torch(torch: ModuleType, dtype):
    a = gru_arrays(4, 1, 3, 5, dtype=dtype, seed=1)
    next_h, cache = rr.gru_step_forward(a["x"][:, 0], *forward_args(a)[1:])
    grads = rr.gru_step_backward(a["dh"][:, 0], cache)
    expected = torch_gru(torch, **a)
    assert_close(next_h, expected["h"][:, 0], dtype)
    for name, grad in zip(GRADIENTS, grads, strict=True):
        assert_close(grad if name != "dx" else grad[:, None], expected[name], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_steps_by_the_step_functions_are_the_sequence(dtype):
    # the step cache and the sequence cache agree: the state and its gradient chain through
    a = gru_arrays(3, 2, 4, 5, dtype=dtype, seed=2)
    _, Wx, Wh, b, bh = forward_args(a)[1:]
    for reset_after in RESETS:
        h, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
        h1, c1 = rr.gru_step_forward(a["x"][:, 0], a["h0"], Wx, Wh, b, bh, reset_after=reset_after)
        h2, c2 = rr.gru_step_forward(a["x"][:, 1], h1, Wx, Wh, b, bh, reset_after=reset_after)
        assert_close(np.stack([h1, h2], axis=1), h, dtype)
        dx, dh0, dWx, dWh, db, dbh = rr.gru_backward(a["dh"], cache)
        g2 = rr.gru_step_backward(a["dh"][:, 1], c2)
        g1 = rr.gru_step_backward(a["dh"][:, 0] + g2[1], c1)
        assert_close(np.stack([g1[0], g2[0]], axis=1), dx, dtype)
        assert_close(g1[1], dh0, dtype)
        for i, total in zip(range(2, 6), (dWx, dWh, db, dbh), strict=True):
            assert_close(g1[i] + g2[i], total, dtype)


@RESET_IDS
def test_empty_batch_is_allowed(reset_after):
    a = gru_arrays(0, 4, 3, 5)
    h, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    dx, dh0, *grads = rr.gru_backward(a["dh"], cache)
    assert (h.shape, dx.shape, dh0.shape) == ((0, 4, 5), (0, 4, 3), (0, 5))
    for grad in grads:
        np.testing.assert_array_equal(grad, 0)


@RESET_IDS
def test_arguments_are_never_modified_and_the_cache_is_private(reset_after):
    a = gru_arrays(3, 6, 4, 5)
    before = {name: value.copy() for name, value in a.items()}
    _, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    first = rr.gru_backward(a["dh"], cache)
    for name, value in a.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
        assert value.flags.writeable
    # changing the caller's arrays afterwards changes nothing the cache holds
    for value in a.values():
        value[...] += 1.0
    second = rr.gru_backward(before["dh"], cache)
    for g1, g2 in zip(first, second, strict=True):
        np.testing.assert_array_equal(g1, g2)


@RESET_IDS
def test_outputs_are_read_only_and_the_cache_frozen_down_to_its_memory(reset_after):
    a = gru_arrays(2, 3, 4, 5)
    h, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    next_h, _ = rr.gru_step_forward(a["x"][:, 0], *forward_args(a)[1:], reset_after=reset_after)
    for out in (h, next_h):
        with pytest.raises(ValueError, match="read-only"):
            out[...] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        cache.h = np.zeros(1)  # type: ignore[misc]
    arrays = [getattr(cache, f.name) for f in dataclasses.fields(cache)]
    arrays = [value for value in arrays if isinstance(value, np.ndarray)]
    assert len(arrays) == (7 if reset_after else 6)  # hn only with reset_after
    for array in arrays:
        with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
            array.flags.writeable = True
    assert (cache.hn is None) is not reset_after
    h.copy()[...] = 0  # copies are ordinary arrays


def test_a_cache_that_no_forward_made_is_refused():
    a = gru_arrays(2, 3, 4, 5)
    _, cache = rr.gru_forward(*forward_args(a))
    forged = dataclasses.replace(cache)
    with pytest.raises(TypeError, match="got an GRUCache that no forward function made"):
        rr.gru_backward(a["dh"], forged)
    _, elman_cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"][:, :5], a["Wh"][:, :5], a["b"][:5])
    with pytest.raises(
        TypeError, match=r"^cache must be the cache returned by gru_forward, got RNNCache$"
    ):
        rr.gru_backward(a["dh"], elman_cache)


def test_the_step_and_sequence_caches_are_not_interchangeable():
    a = gru_arrays(2, 3, 4, 5)
    _, sequence_cache = rr.gru_forward(*forward_args(a))
    _, step_cache = rr.gru_step_forward(a["x"][:, 0], *forward_args(a)[1:])
    with pytest.raises(
        TypeError,
        match=r"^cache must be the cache returned by gru_forward, got the cache of gru_step_forward$",
    ):
        rr.gru_backward(a["dh"][:, :1], step_cache)
    with pytest.raises(
        TypeError,
        match=r"^cache must be the cache returned by gru_step_forward, got the cache of gru_forward$",
    ):
        rr.gru_step_backward(a["dh"][:, 0], sequence_cache)


@RESET_IDS
def test_float32_stays_float32_and_integers_become_float64(reset_after):
    a = gru_arrays(2, 3, 4, 5, dtype="float32")
    h, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    assert h.dtype == np.float32
    cached = [getattr(cache, f.name) for f in dataclasses.fields(cache)]
    assert {v.dtype for v in cached if isinstance(v, np.ndarray)} == {np.dtype(np.float32)}
    assert [g.dtype for g in rr.gru_backward(a["dh"], cache)] == [np.float32] * 6

    ints = {name: np.arange(value.size).reshape(value.shape) % 3 - 1 for name, value in a.items()}
    h, cache = rr.gru_forward(*forward_args(ints), reset_after=reset_after)
    assert h.dtype == np.float64
    assert [g.dtype for g in rr.gru_backward(ints["dh"], cache)] == [np.float64] * 6


@pytest.mark.parametrize("wide", [*OPERANDS, "dh"])
def test_one_float64_operand_makes_the_work_float64(wide):
    # NumPy's promotion of every operand: one float64 among float32 ones makes all of it float64
    a = gru_arrays(2, 3, 4, 5, dtype="float32")
    a[wide] = a[wide].astype(np.float64)
    h, cache = rr.gru_forward(*forward_args(a))
    expected = np.float32 if wide == "dh" else np.float64
    assert h.dtype == expected
    assert [g.dtype for g in rr.gru_backward(a["dh"], cache)] == [np.float64] * 6


def test_float32_work_is_float32_arithmetic():
    # the float32 result equals no float64 computation rounded once: the work is done in float32
    a = gru_arrays(4, 6, 3, 64, dtype="float32")
    h, cache = rr.gru_forward(*forward_args(a))
    wide = {name: value.astype(np.float64) for name, value in a.items()}
    h64, cache64 = rr.gru_forward(*forward_args(wide))
    assert scaled_error(h, h64) < 1e-5
    assert np.mean(h != h64.astype(np.float32)) > 0.1
    g, g64 = rr.gru_backward(a["dh"], cache), rr.gru_backward(wide["dh"], cache64)
    assert np.mean(g[4] != g64[4].astype(np.float32)) > 0.1


def test_longdouble_stays_longdouble():
    a = gru_arrays(2, 3, 4, 5)
    h64, cache64 = rr.gru_forward(*forward_args(a))
    long = {name: value.astype(np.longdouble) for name, value in a.items()}
    h, cache = rr.gru_forward(*forward_args(long))
    assert h.dtype == np.longdouble
    assert scaled_error(h, h64) < 1e-15
    for g, g64 in zip(
        rr.gru_backward(long["dh"], cache), rr.gru_backward(a["dh"], cache64), strict=True
    ):
        assert g.dtype == np.longdouble
        assert scaled_error(g, g64) < 1e-14


def test_nested_lists_are_array_like():
    a = gru_arrays(1, 2, 2, 3)
    lists = {name: value.tolist() for name, value in a.items()}
    h, cache = rr.gru_forward(*forward_args(lists))
    expected, expected_cache = rr.gru_forward(*forward_args(a))
    np.testing.assert_array_equal(h, expected)
    for g, want in zip(
        rr.gru_backward(lists["dh"], cache), rr.gru_backward(a["dh"], expected_cache), strict=True
    ):
        np.testing.assert_array_equal(g, want)


@RESET_IDS
def test_check_finite_false_lets_nan_through(reset_after):
    a = gru_arrays(2, 3, 4, 5)
    a["x"][0, 1, 2] = np.nan
    h, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after, check_finite=False)
    assert np.isnan(h[0, 1:]).all()
    assert np.isfinite(h[1]).all()  # the other sequence is untouched
    dx, *_ = rr.gru_backward(a["dh"], cache, check_finite=False)
    assert np.isnan(dx[0]).any()
