"""The LSTM's functional core against torch, forward and backward separately, and its contract.

The torch side is written out here, independent of the package: a one-layer ``torch.nn.LSTM``
with ``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``weight_hr = Wr.T``, ``bias_ih = b``,
``bias_hh = 0``, differentiated through ``(h * dh).sum() + (c * dc).sum()`` so that an arbitrary
upstream gradient at every step and on the cell state is checked.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core import cell_common, lstm
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import DTYPES

# torch warns that its oneDNN kernel has no projection, then runs its own
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

# (N, T, D, H): ones, primes, a single step, a single unit; and a sequence the backward pass
# splits into blocks of steps, the last one short (N * 4H * 8 bytes = 256 KiB a step in float64:
# 16 steps a block of lstm._BLOCK_BYTES, 20 = 16 + 4).
SHAPES = [(1, 1, 1, 1), (2, 3, 5, 4), (3, 7, 1, 9), (5, 2, 3, 1), (4, 11, 6, 7), (16, 20, 8, 512)]


def make_args(N, T, D, H, P=0, *, dtype="float64", seed=0, zero_states=False):
    """x, h0, c0, Wx, Wh, b (and Wr with P > 0) at torch's init scale, and upstream gradients:
    dh at every step, dc at every step and dcT on the final cell state."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    width = P or H
    args = {
        "x": rng.standard_normal((N, T, D)),
        "h0": np.zeros((N, width)) if zero_states else rng.uniform(-1, 1, (N, width)),
        "c0": np.zeros((N, H)) if zero_states else rng.uniform(-2, 2, (N, H)),
        "Wx": rng.uniform(-k, k, (D, 4 * H)),
        "Wh": rng.uniform(-k, k, (width, 4 * H)),
        "b": rng.uniform(-k, k, 4 * H),
        "dh": rng.standard_normal((N, T, width)),
        "dc": rng.standard_normal((N, T, H)),
        "dcT": rng.standard_normal((N, H)),
    }
    if P:
        args["Wr"] = rng.uniform(-k, k, (H, P))
    return {name: value.astype(dtype) for name, value in args.items()}


def torch_lstm(torch, a, *, per_step_c=False):
    """torch's h (N, T, P), c (N, T, H) and the gradients of the loss
    ``sum(h * dh) + sum(c * dc)`` (per_step_c) or ``sum(h * dh) + sum(c_T * dcT)``."""
    dtype = getattr(torch, a["x"].dtype.name)
    D, H4 = a["Wx"].shape
    P = a["Wr"].shape[1] if "Wr" in a else 0
    module = torch.nn.LSTM(D, H4 // 4, batch_first=True, proj_size=P, dtype=dtype)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(a["Wx"].T))
        module.weight_hh_l0.copy_(torch.tensor(a["Wh"].T))
        module.bias_ih_l0.copy_(torch.tensor(a["b"]))
        module.bias_hh_l0.zero_()
        if P:
            module.weight_hr_l0.copy_(torch.tensor(a["Wr"].T))
    x = torch.tensor(a["x"], requires_grad=True)
    h0 = torch.tensor(a["h0"][None], requires_grad=True)
    c0 = torch.tensor(a["c0"][None], requires_grad=True)
    if per_step_c:
        # one call per step, to read the cell state of every step
        hs, cs, state = [], [], (h0, c0)
        for t in range(x.shape[1]):
            _, state = module(x[:, t : t + 1], state)
            hs.append(state[0][0])
            cs.append(state[1][0])
        h, c = torch.stack(hs, 1), torch.stack(cs, 1)
        loss = (h * torch.tensor(a["dh"])).sum() + (c * torch.tensor(a["dc"])).sum()
    else:
        h, (_, c_n) = module(x, (h0, c0))
        c = c_n[0]
        loss = (h * torch.tensor(a["dh"])).sum() + (c * torch.tensor(a["dcT"])).sum()
    loss.backward()
    expected = {
        "h": h.detach().numpy(),
        "c": c.detach().numpy(),
        "dx": x.grad.numpy(),
        "dh0": h0.grad[0].numpy(),
        "dc0": c0.grad[0].numpy(),
        "dWx": module.weight_ih_l0.grad.T.numpy(),
        "dWh": module.weight_hh_l0.grad.T.numpy(),
        "db": module.bias_ih_l0.grad.numpy(),
        "db_hh": module.bias_hh_l0.grad.numpy(),
    }
    if P:
        expected["dWr"] = module.weight_hr_l0.grad.T.numpy()
    return expected


def assert_close(actual, expected, dtype, name=""):
    __tracebackhide__ = True
    assert actual.dtype == np.dtype(dtype), name
    assert actual.shape == expected.shape, name
    error = scaled_error(actual, expected)
    assert error <= TOLERANCE[dtype], f"{name}: scaled error {error:.2e} > {TOLERANCE[dtype]:.0e}"


GRADS = ["dx", "dh0", "dc0", "dWx", "dWh", "db"]
GRID = pytest.mark.parametrize(
    ("shape", "dtype", "zero_states"),
    [(s, d, z) for s in SHAPES for d in DTYPES for z in (False, True) if not (z and s[0] > 4)],
)


def _forward(a):
    return rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["c0"])


@GRID
def test_forward_matches_torch(torch: ModuleType, shape, dtype, zero_states):
    a = make_args(*shape, dtype=dtype, zero_states=zero_states)
    h, cT, _ = _forward(a)
    expected = torch_lstm(torch, a)
    assert_close(h, expected["h"], dtype, "h")
    assert_close(cT, expected["c"], dtype, "cT")


@GRID
def test_backward_matches_torch(torch: ModuleType, shape, dtype, zero_states):
    a = make_args(*shape, dtype=dtype, zero_states=zero_states)
    *_, cache = _forward(a)
    grads = rr.lstm_backward(a["dh"], a["dcT"], cache)
    expected = torch_lstm(torch, a)
    for name, grad in zip(GRADS, grads, strict=True):
        assert_close(grad, expected[name], dtype, name)
    assert_close(grads[-1], expected["db_hh"], dtype)  # torch's two biases share one gradient


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_without_dct_is_zero_dct(torch: ModuleType, dtype):
    a = make_args(3, 4, 2, 5, dtype=dtype, seed=3)
    *_, cache = _forward(a)
    grads = rr.lstm_backward(a["dh"], None, cache)
    a["dcT"] = np.zeros_like(a["dcT"])
    expected = torch_lstm(torch, a)
    for name, grad in zip(GRADS, grads, strict=True):
        assert_close(grad, expected[name], dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_c0_none_starts_from_zeros(torch: ModuleType, dtype):
    a = make_args(3, 4, 2, 5, dtype=dtype, seed=4)
    h, cT, cache = rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    a["c0"] = np.zeros_like(a["c0"])
    expected = torch_lstm(torch, a)
    assert_close(h, expected["h"], dtype, "h")
    assert_close(cT, expected["c"], dtype, "cT")
    grads = rr.lstm_backward(a["dh"], a["dcT"], cache)
    assert_close(grads[2], expected["dc0"], dtype, "dc0")


@pytest.mark.parametrize("dtype", DTYPES)
def test_step_functions_match_torch(torch: ModuleType, dtype):
    a = make_args(4, 1, 3, 5, dtype=dtype, seed=1)
    next_h, next_c, cache = rr.lstm_step_forward(
        a["x"][:, 0], a["h0"], a["c0"], a["Wx"], a["Wh"], a["b"]
    )
    grads = rr.lstm_step_backward(a["dh"][:, 0], a["dcT"], cache)
    expected = torch_lstm(torch, a)
    assert_close(next_h, expected["h"][:, 0], dtype, "next_h")
    assert_close(next_c, expected["c"], dtype, "next_c")
    assert_close(grads[0], expected["dx"][:, 0], dtype, "dx")
    for name, grad in zip(GRADS[1:], grads[1:], strict=True):
        assert_close(grad, expected[name], dtype, name)


# What the layer calls: a projection, and the gradient of the cell state at every step.
SEQUENCE = pytest.mark.parametrize(
    ("shape", "P", "dtype"),
    [
        (s, P, d)
        for s in [(3, 5, 4, 6), (2, 7, 3, 4), (16, 20, 8, 128)]
        for P in (0, 3)
        for d in DTYPES
    ],
)


def _sequence_forward(a):
    return lstm.forward_sequence(
        a["x"],
        a["h0"],
        a["c0"],
        a["Wx"],
        a["Wh"],
        a["b"],
        a.get("Wr"),
        ("h0", "c0"),
        check_finite=True,
    )


@SEQUENCE
def test_sequence_forward_matches_torch(torch: ModuleType, shape, P, dtype):
    a = make_args(*shape, P, dtype=dtype, seed=5)
    h, c, _ = _sequence_forward(a)
    expected = torch_lstm(torch, a, per_step_c=True)
    assert_close(h, expected["h"], dtype, "h")
    assert_close(c, expected["c"], dtype, "c")


@SEQUENCE
def test_sequence_backward_matches_torch(torch: ModuleType, shape, P, dtype):
    a = make_args(*shape, P, dtype=dtype, seed=5)
    *_, cache = _sequence_forward(a)
    grads = lstm.backward_sequence(a["dh"], a["dc"], cache, ("dh", "dc"), check_finite=True)
    expected = torch_lstm(torch, a, per_step_c=True)
    names = [*GRADS, "dWr"]
    for name, grad in zip(names, grads, strict=True):
        if name == "dWr" and not P:
            assert grad is None
            continue
        assert_close(grad, expected[name], dtype, name)


@pytest.mark.parametrize("block_steps", [1, 4, 5, 12])
@pytest.mark.parametrize("P", [0, 3])
def test_backward_blocks_of_any_length_match_torch(
    torch: ModuleType, monkeypatch: pytest.MonkeyPatch, block_steps: int, P: int
) -> None:
    """Blocks of one step, of 4 and of 5 steps (5, 5, 2), and one block for all 12 steps."""
    N, T, D, H = 4, 12, 6, 7
    a = make_args(N, T, D, H, P, seed=2)
    monkeypatch.setattr(lstm, "_BLOCK_BYTES", block_steps * N * 4 * H * 8)
    *_, cache = _sequence_forward(a)
    grads = lstm.backward_sequence(a["dh"], a["dc"], cache, ("dh", "dc"), check_finite=True)
    expected = torch_lstm(torch, a, per_step_c=True)
    for name, grad in zip([*GRADS, "dWr"], grads, strict=True):
        if grad is not None:
            assert_close(grad, expected[name], "float64", name)


def test_sequence_backward_without_dc_is_zero_dc():
    a = make_args(3, 4, 2, 5, 2, seed=6)
    *_, cache = _sequence_forward(a)
    without = lstm.backward_sequence(a["dh"], None, cache, ("dh", "dc"), check_finite=True)
    zeros = lstm.backward_sequence(
        a["dh"], np.zeros_like(a["dc"]), cache, ("dh", "dc"), check_finite=True
    )
    for g1, g2 in zip(without, zeros, strict=True):
        np.testing.assert_array_equal(g1, g2)


def test_the_final_cell_gradient_is_the_last_steps():
    """lstm_backward's dcT and backward_sequence's dc at the last step are the same gradient."""
    a = make_args(3, 4, 2, 5, seed=7)
    *_, cache = _forward(a)
    dc = np.zeros_like(a["dc"])
    dc[:, -1] = a["dcT"]
    public = rr.lstm_backward(a["dh"], a["dcT"], cache)
    inner = lstm.backward_sequence(a["dh"], dc, cache, ("dh", "dc"), check_finite=True)
    for g1, g2 in zip(public, inner, strict=False):
        np.testing.assert_allclose(g1, g2, rtol=1e-14, atol=1e-15)


def test_empty_batch_is_allowed():
    a = make_args(0, 4, 3, 5)
    h, cT, cache = _forward(a)
    dx, dh0, dc0, dWx, dWh, db = rr.lstm_backward(a["dh"], a["dcT"], cache)
    assert (h.shape, cT.shape, dx.shape, dh0.shape, dc0.shape) == (
        (0, 4, 5),
        (0, 5),
        (0, 4, 3),
        (0, 5),
        (0, 5),
    )
    for grad in (dWx, dWh, db):
        np.testing.assert_array_equal(grad, 0)


def test_arguments_are_never_modified_and_the_cache_is_private():
    a = make_args(3, 6, 4, 5, 2)
    before = {name: value.copy() for name, value in a.items()}
    *_, cache = _sequence_forward(a)
    first = lstm.backward_sequence(a["dh"], a["dc"], cache, ("dh", "dc"), check_finite=True)
    for name, value in a.items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
        assert value.flags.writeable
    # changing the caller's arrays afterwards changes nothing the cache holds
    for value in a.values():
        value[...] += 1.0
    second = lstm.backward_sequence(
        before["dh"], before["dc"], cache, ("dh", "dc"), check_finite=True
    )
    for g1, g2 in zip(first, second, strict=True):
        np.testing.assert_array_equal(g1, g2)


def test_outputs_and_cache_are_read_only():
    a = make_args(2, 3, 4, 5, 2)
    h, c, cache = _sequence_forward(a)
    p = make_args(2, 3, 4, 5)
    h1, c1, _ = _forward(p)
    next_h, next_c, _ = rr.lstm_step_forward(
        p["x"][:, 0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"]
    )
    for out in (h, c, h1, c1, next_h, next_c):
        with pytest.raises(ValueError, match="read-only"):
            out[...] = 0
        with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
            out.flags.writeable = True
    with pytest.raises(AttributeError):
        cache.h = np.zeros(1)  # type: ignore[misc]
    for name in ("x", "x1", "h", "c", "gates", "tanh_c", "Wx", "Wh", "Wr"):
        array = getattr(cache, name)
        assert not array.flags.writeable, name
        with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
            array.flags.writeable = True


def test_float32_stays_float32_and_integers_become_float64():
    a = make_args(2, 3, 4, 5, dtype="float32")
    h, cT, cache = _forward(a)
    assert h.dtype == cT.dtype == np.float32
    assert all(g.dtype == np.float32 for g in rr.lstm_backward(a["dh"], a["dcT"], cache))
    ints = {name: np.arange(value.size).reshape(value.shape) % 3 - 1 for name, value in a.items()}
    h, cT, cache = rr.lstm_forward(
        ints["x"], ints["h0"], ints["Wx"], ints["Wh"], ints["b"] > 0, ints["c0"]
    )
    assert h.dtype == cT.dtype == np.float64
    assert all(g.dtype == np.float64 for g in rr.lstm_backward(ints["dh"], ints["dcT"], cache))


@pytest.mark.parametrize("wide", ["x", "h0", "c0", "Wx", "Wh", "b", "Wr"])
def test_mixed_widths_follow_numpy_promotion(wide):
    a = make_args(2, 3, 4, 5, 2, dtype="float32")
    a[wide] = a[wide].astype(np.float64)
    h, c, _ = _sequence_forward(a)
    assert h.dtype == c.dtype == np.float64
    a32 = make_args(2, 3, 4, 5, 2, dtype="float32")
    *_, cache32 = _sequence_forward(a32)
    wide_dh, wide_dc = a32["dh"].astype(np.float64), a32["dc"].astype(np.float64)
    for dh, dc in [(wide_dh, a32["dc"]), (a32["dh"], wide_dc)]:
        grads = lstm.backward_sequence(dh, dc, cache32, ("dh", "dc"), check_finite=True)
        assert all(g.dtype == np.float64 for g in grads)
    p = make_args(2, 3, 4, 5, dtype="float32")
    grads = rr.lstm_backward(p["dh"], p["dcT"].astype(np.float64), _forward(p)[2])
    assert all(g.dtype == np.float64 for g in grads)


def test_nested_lists_are_array_like():
    a = make_args(1, 2, 2, 3)
    lists = {name: value.tolist() for name, value in a.items()}
    h, cT, cache = rr.lstm_forward(
        lists["x"], lists["h0"], lists["Wx"], lists["Wh"], lists["b"], lists["c0"]
    )
    expected_h, expected_c, _ = _forward(a)
    np.testing.assert_array_equal(h, expected_h)
    np.testing.assert_array_equal(cT, expected_c)
    assert len(rr.lstm_backward(lists["dh"], lists["dcT"], cache)) == 6


def test_check_finite_false_lets_nan_through():
    a = make_args(2, 3, 4, 5)
    a["x"][0, 1, 2] = np.nan
    h, cT, cache = rr.lstm_forward(
        a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["c0"], check_finite=False
    )
    assert np.isnan(h[0, 1:]).all()
    assert np.isnan(cT[0]).all()
    assert np.isfinite(h[1]).all()  # the other sequence is untouched
    dx, *_ = rr.lstm_backward(a["dh"], a["dcT"], cache, check_finite=False)
    assert np.isnan(dx[0]).any()
    assert np.isfinite(dx[1]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("columns", [np.s_[:, 3:], np.s_[:, :2], np.s_[::2, 1:3]])
def test_sigmoid_in_place_on_strided_columns(dtype, columns):
    """The gates are columns of one array: NumPy 2.4.6's in-place np.negative gets such views
    wrong in float32 (the first fast version failed torch's H = 1 cases that way)."""
    a = np.linspace(-3, 3, 16, dtype=dtype).reshape(4, 4)
    expected = 1 / (1 + np.exp(-a[columns].astype(np.float64)))
    cell_common.sigmoid(a[columns])
    np.testing.assert_allclose(a[columns], expected, rtol=1e-6)
