"""The functional core against torch, forward and backward separately, and its contract.

The torch side is written out here, independent of the package: a one-layer ``torch.nn.RNN`` with
``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``bias_ih = b``, ``bias_hh = 0``, differentiated through
``(h * dh).sum().backward()`` so that an arbitrary upstream gradient at every step is checked.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core import cell_common
from reference_rnn.core.draw import draw_arrays
from reference_rnn.core.measure import TOLERANCE, scaled_error

# (N, T, D, H): ones, primes, a single step, a single unit, a batch of one; and a sequence the
# backward pass splits into blocks of steps, the last one short (64 and 6 steps in float32;
# 32, 32 and 6 in float64).
SHAPES = [
    (1, 1, 1, 1),
    (2, 3, 5, 4),
    (3, 7, 1, 9),
    (5, 2, 3, 1),
    (1, 13, 4, 6),
    (4, 11, 6, 7),
    (64, 70, 8, 64),
]
DTYPES = ["float64", "float32"]
NONLINEARITIES = ["tanh", "relu"]


def make_args(N, T, D, H, *, dtype="float64", zero_h0=False, contiguous=True, seed=0):
    """x, h0, Wx, Wh, b at torch's init scale and an upstream gradient dh, as NumPy arrays."""
    args = draw_arrays(N, T, D, H, seed=seed, zero_h0=zero_h0)
    args = {name: value.astype(dtype) for name, value in args.items()}
    if not contiguous:
        # the same values in strided and Fortran-ordered memory
        args = {name: _strided(value) for name, value in args.items()}
    return args


def _strided(a):
    """``a``'s values in every other element of a larger buffer."""
    big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
    big[..., ::2] = a
    view = big[..., ::2]
    assert not view.flags.c_contiguous or a.shape[-1] == 1
    return view


def torch_rnn(torch, x, h0, Wx, Wh, b, dh, nonlinearity):
    """torch's h, dx, dh0, dWx, dWh and both bias gradients for the same network."""
    dtype = getattr(torch, x.dtype.name)
    D, H = Wx.shape
    rnn = torch.nn.RNN(D, H, nonlinearity=nonlinearity, batch_first=True, dtype=dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(Wx.T))
        rnn.weight_hh_l0.copy_(torch.tensor(Wh.T))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
    x_t = torch.tensor(x, requires_grad=True)
    h0_t = torch.tensor(h0[None], requires_grad=True)
    h, _ = rnn(x_t, h0_t)
    (h * torch.tensor(dh)).sum().backward()
    return {
        "h": h.detach().numpy(),
        "dx": x_t.grad.numpy(),
        "dh0": h0_t.grad[0].numpy(),
        "dWx": rnn.weight_ih_l0.grad.T.numpy(),
        "dWh": rnn.weight_hh_l0.grad.T.numpy(),
        "db": rnn.bias_ih_l0.grad.numpy(),
        "db_hh": rnn.bias_hh_l0.grad.numpy(),
    }


def assert_close(actual, expected, dtype):
    assert actual.shape == expected.shape
    error = scaled_error(actual, expected)
    assert error <= TOLERANCE[dtype], f"scaled error {error:.2e} > {TOLERANCE[dtype]:.0e}"


GRID = pytest.mark.parametrize(
    ("shape", "dtype", "nonlinearity", "zero_h0", "contiguous"),
    [
        (shape, dtype, nonlinearity, zero_h0, contiguous)
        for shape in SHAPES
        for dtype in DTYPES
        for nonlinearity in NONLINEARITIES
        for zero_h0 in (False, True)
        for contiguous in (True, False)
        if not (zero_h0 and not contiguous)  # strided memory matters once, not per h0
    ],
)


@GRID
def test_forward_matches_torch(torch: ModuleType, shape, dtype, nonlinearity, zero_h0, contiguous):
    a = make_args(*shape, dtype=dtype, zero_h0=zero_h0, contiguous=contiguous)
    h, _ = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], nonlinearity=nonlinearity)
    expected = torch_rnn(torch, **a, nonlinearity=nonlinearity)
    assert h.dtype == dtype
    assert_close(h, expected["h"], dtype)


@GRID
def test_backward_matches_torch(torch: ModuleType, shape, dtype, nonlinearity, zero_h0, contiguous):
    a = make_args(*shape, dtype=dtype, zero_h0=zero_h0, contiguous=contiguous)
    _, cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], nonlinearity=nonlinearity)
    grads = dict(
        zip(["dx", "dh0", "dWx", "dWh", "db"], rr.rnn_backward(a["dh"], cache), strict=True)
    )
    expected = torch_rnn(torch, **a, nonlinearity=nonlinearity)
    for name, grad in grads.items():
        assert grad.dtype == dtype, name
        assert_close(grad, expected[name], dtype)
    assert_close(grads["db"], expected["db_hh"], dtype)  # torch's two biases share one gradient


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_step_functions_match_torch(torch: ModuleType, dtype, nonlinearity):
    a = make_args(4, 1, 3, 5, dtype=dtype, seed=1)
    next_h, cache = rr.rnn_step_forward(
        a["x"][:, 0], a["h0"], a["Wx"], a["Wh"], a["b"], nonlinearity=nonlinearity
    )
    dx, dprev_h, dWx, dWh, db = rr.rnn_step_backward(a["dh"][:, 0], cache)
    expected = torch_rnn(torch, **a, nonlinearity=nonlinearity)
    assert_close(next_h, expected["h"][:, 0], dtype)
    for actual, name in [(dx, "dx"), (dprev_h, "dh0"), (dWx, "dWx"), (dWh, "dWh"), (db, "db")]:
        assert_close(actual if name != "dx" else actual[:, None], expected[name], dtype)


@pytest.mark.parametrize("block_steps", [1, 4, 5, 12])
def test_backward_blocks_of_any_length_match_torch(
    torch: ModuleType, monkeypatch: pytest.MonkeyPatch, block_steps: int
) -> None:
    """Blocks of one step, of 4 and of 5 steps (5, 5, 2), and one block for all 12 steps."""
    N, T, D, H = 4, 12, 6, 7
    a = make_args(N, T, D, H, seed=2)
    monkeypatch.setattr(cell_common, "_BLOCK_BYTES", block_steps * N * H * 8)
    _, cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    grads = zip(["dx", "dh0", "dWx", "dWh", "db"], rr.rnn_backward(a["dh"], cache), strict=True)
    expected = torch_rnn(torch, **a, nonlinearity="tanh")
    for name, grad in grads:
        assert_close(grad, expected[name], "float64")


def test_empty_batch_is_allowed():
    a = make_args(0, 4, 3, 5)
    h, cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    dx, dh0, dWx, dWh, db = rr.rnn_backward(a["dh"], cache)
    assert (h.shape, dx.shape, dh0.shape) == ((0, 4, 5), (0, 4, 3), (0, 5))
    for grad in (dWx, dWh, db):
        np.testing.assert_array_equal(grad, 0)


def test_an_empty_batch_of_no_hidden_units_has_nothing_to_check():
    # the forward's checks read the cache's buffer, empty here: they must not fail on it
    h, cache = rr.rnn_forward(
        np.zeros((0, 4, 3)), np.zeros((0, 0)), np.zeros((3, 0)), np.zeros((0, 0)), []
    )
    dx, dh0, dWx, dWh, db = rr.rnn_backward(np.zeros((0, 4, 0)), cache)
    assert (h.shape, dx.shape, dh0.shape) == ((0, 4, 0), (0, 4, 3), (0, 0))
    assert (dWx.shape, dWh.shape, db.shape) == ((3, 0), (0, 0), (0,))


def test_arguments_are_never_modified_and_the_cache_is_private():
    a = make_args(3, 6, 4, 5)
    before = {name: value.copy() for name, value in a.items()}
    _, cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    first = rr.rnn_backward(a["dh"], cache)
    for name, value in a.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
        assert value.flags.writeable
    # changing the caller's arrays afterwards changes nothing the cache holds
    for value in a.values():
        value[...] += 1.0
    second = rr.rnn_backward(before["dh"], cache)
    for g1, g2 in zip(first, second, strict=True):
        np.testing.assert_array_equal(g1, g2)


def test_outputs_are_read_only_views_of_the_cache():
    a = make_args(2, 3, 4, 5)
    h, _ = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    next_h, _ = rr.rnn_step_forward(a["x"][:, 0], a["h0"], a["Wx"], a["Wh"], a["b"])
    for out in (h, next_h):
        with pytest.raises(ValueError, match="read-only"):
            out[...] = 0
    # copies are ordinary arrays
    h_copy = h.copy()
    h_copy[...] = 0


def test_cache_is_frozen():
    a = make_args(2, 3, 4, 5)
    _, cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    with pytest.raises(AttributeError):
        cache.h = np.zeros(1)  # type: ignore[misc]
    for array in (cache.x, cache.h, cache.Wx, cache.Wh):
        assert not array.flags.writeable


def test_float32_stays_float32_and_integers_become_float64():
    a = make_args(2, 3, 4, 5, dtype="float32")
    h, cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rr.rnn_backward(a["dh"], cache))

    ints = {name: np.arange(value.size).reshape(value.shape) % 3 - 1 for name, value in a.items()}
    h, cache = rr.rnn_forward(ints["x"], ints["h0"], ints["Wx"], ints["Wh"], ints["b"] > 0)
    assert h.dtype == np.float64
    assert all(g.dtype == np.float64 for g in rr.rnn_backward(ints["dh"], cache))


def test_mixed_widths_follow_numpy_promotion():
    a = make_args(2, 3, 4, 5, dtype="float32")
    h, _ = rr.rnn_forward(a["x"], a["h0"], a["Wx"].astype(np.float64), a["Wh"], a["b"])
    assert h.dtype == np.float64
    a32 = make_args(2, 3, 4, 5, dtype="float32")
    _, cache32 = rr.rnn_forward(a32["x"], a32["h0"], a32["Wx"], a32["Wh"], a32["b"])
    assert all(
        g.dtype == np.float64 for g in rr.rnn_backward(a32["dh"].astype(np.float64), cache32)
    )


def test_nested_lists_are_array_like():
    a = make_args(1, 2, 2, 3)
    lists = {name: value.tolist() for name, value in a.items()}
    h, cache = rr.rnn_forward(lists["x"], lists["h0"], lists["Wx"], lists["Wh"], lists["b"])
    expected, _ = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    np.testing.assert_array_equal(h, expected)
    assert len(rr.rnn_backward(lists["dh"], cache)) == 5


def test_check_finite_false_lets_nan_through():
    a = make_args(2, 3, 4, 5)
    a["x"][0, 1, 2] = np.nan
    h, cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], check_finite=False)
    assert np.isnan(h[0, 1:]).all()
    assert np.isfinite(h[1]).all()  # the other sequence is untouched
    dx, *_ = rr.rnn_backward(a["dh"], cache, check_finite=False)
    assert np.isnan(dx[0]).any()
