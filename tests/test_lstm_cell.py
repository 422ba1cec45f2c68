"""LSTMCell against torch.nn.LSTMCell, forward and backward separately, and its contract.

The torch side: ``torch.nn.LSTMCell`` made with torch's constructor, its parameters copied in
from raw arrays drawn here, differentiated through ``(h_1 * GH).sum() + (c_1 * GC).sum()``.
"""

from __future__ import annotations

import re
from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import DTYPES, NonFiniteResultError

D, H, N = 3, 5, 4

CASES = [
    pytest.param(dtype, bias, unbatched, hx, id=f"{dtype}-{bias=}-{unbatched=}-{hx=}")
    for dtype in DTYPES
    for bias in (True, False)
    for unbatched in (False, True)
    for hx in (True, False)
]


def _draw(dtype, bias, unbatched, seed=0):
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    params = {"weight_ih": (4 * H, D), "weight_hh": (4 * H, H)}
    params |= {"bias_ih": (4 * H,), "bias_hh": (4 * H,)} if bias else {}
    params = {name: rng.uniform(-k, k, s).astype(dtype) for name, s in params.items()}
    lead = () if unbatched else (N,)
    arrays = {
        "x": rng.standard_normal((*lead, D)),
        "h0": rng.uniform(-1, 1, (*lead, H)),
        "c0": rng.uniform(-2, 2, (*lead, H)),
        "GH": rng.standard_normal((*lead, H)),
        "GC": rng.standard_normal((*lead, H)),
    }
    return params, {name: value.astype(dtype) for name, value in arrays.items()}


def _torch(torch, params, a, hx, bias):
    dtype = getattr(torch, a["x"].dtype.name)
    module = torch.nn.LSTMCell(D, H, bias=bias, dtype=dtype)
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.from_numpy(params[name]))
    x = torch.tensor(a["x"], requires_grad=True)
    h0 = torch.tensor(a["h0"], requires_grad=True)
    c0 = torch.tensor(a["c0"], requires_grad=True)
    h1, c1 = module(x, (h0, c0) if hx else None)
    ((h1 * torch.tensor(a["GH"])).sum() + (c1 * torch.tensor(a["GC"])).sum()).backward()
    results = {"h_1": h1.detach().numpy(), "c_1": c1.detach().numpy(), "grad_input": x.grad.numpy()}
    if hx:
        results |= {"grad_h0": h0.grad.numpy(), "grad_c0": c0.grad.numpy()}
    return results | {f"grad.{n}": p.grad.numpy() for n, p in module.named_parameters()}


def _ours(params, a, hx, bias):
    cell = rr.LSTMCell(D, H, bias=bias, dtype=a["x"].dtype)
    cell.load_state_dict(params)
    h1, c1 = cell(a["x"], (a["h0"], a["c0"]) if hx else None)
    grad_input, (grad_h0, grad_c0) = cell.backward(a["GH"], a["GC"])
    results = {"h_1": h1, "c_1": c1, "grad_input": grad_input}
    if hx:
        results |= {"grad_h0": grad_h0, "grad_c0": grad_c0}
    return results | {f"grad.{n}": g for n, g in cell.grads.items()}


def _compare(torch, dtype, bias, unbatched, hx, forward):
    params, a = _draw(dtype, bias, unbatched)
    mine, theirs = _ours(params, a, hx, bias), _torch(torch, params, a, hx, bias)
    assert mine.keys() == theirs.keys()
    for name in theirs:
        if name.startswith(("h_", "c_")) == forward:
            assert mine[name].shape == theirs[name].shape, name
            assert mine[name].dtype == dtype, name
            assert scaled_error(mine[name], theirs[name]) <= TOLERANCE[dtype], name


@pytest.mark.parametrize(("dtype", "bias", "unbatched", "hx"), CASES)
def test_forward_matches_torch(torch: ModuleType, dtype, bias, unbatched, hx):
    _compare(torch, dtype, bias, unbatched, hx, forward=True)


@pytest.mark.parametrize(("dtype", "bias", "unbatched", "hx"), CASES)
def test_backward_matches_torch(torch: ModuleType, dtype, bias, unbatched, hx):
    _compare(torch, dtype, bias, unbatched, hx, forward=False)


def test_backward_without_grad_c_is_zero_grad_c(torch: ModuleType):
    params, a = _draw("float64", True, False, seed=1)
    cell = rr.LSTMCell(D, H)
    cell.load_state_dict(params)
    cell(a["x"], (a["h0"], a["c0"]))
    grad_input, (grad_h0, grad_c0) = cell.backward(a["GH"])
    a["GC"] = np.zeros_like(a["GC"])
    theirs = _torch(torch, params, a, True, True)
    for name, value in [("grad_input", grad_input), ("grad_h0", grad_h0), ("grad_c0", grad_c0)]:
        assert scaled_error(value, theirs[name]) <= TOLERANCE["float64"], name


def test_round_trips_through_torch(torch: ModuleType):
    cell = rr.LSTMCell(D, H, bias=False, dtype=np.float32, seed=2)
    module = cell.to_torch()
    assert isinstance(module, torch.nn.LSTMCell)
    assert (module.bias, module.weight_ih.dtype) == (False, torch.float32)
    back = rr.LSTMCell.from_torch(module)
    assert (back.input_size, back.hidden_size, back.bias, back.dtype) == (D, H, False, np.float32)
    for name, value in back.state_dict().items():
        np.testing.assert_array_equal(value, cell.state_dict()[name])
        np.testing.assert_array_equal(getattr(back, name), value)
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.LSTMCell, got LSTM"):
        rr.LSTMCell.from_torch(torch.nn.LSTM(D, H))


def test_parameters_repr_and_attributes(torch: ModuleType):
    cell = rr.LSTMCell(D, H, seed=0)
    module = torch.nn.LSTMCell(D, H)
    assert [(n, v.shape) for n, v in cell.params.items()] == [
        (n, tuple(p.shape)) for n, p in module.named_parameters()
    ]
    assert np.abs(cell.weight_hh).max() <= 1 / np.sqrt(H)
    assert repr(cell) == repr(module) == "LSTMCell(3, 5)"
    assert repr(rr.LSTMCell(D, H, bias=False)) == repr(torch.nn.LSTMCell(D, H, bias=False))
    with pytest.raises(AttributeError, match="'LSTMCell' object has no attribute 'weight_hr'"):
        _ = cell.weight_hr


def test_outputs_are_read_only_and_grads_replaced():
    cell = rr.LSTMCell(D, H, seed=0)
    x = np.ones((N, D))
    h1, c1 = cell(x)
    for out in (h1, c1):
        with pytest.raises(ValueError, match="read-only"):
            out[...] = 0
    cell.backward(np.ones((N, H)))
    first = {n: g.copy() for n, g in cell.grads.items()}
    cell.backward(np.ones((N, H)))
    for name, grad in cell.grads.items():
        np.testing.assert_array_equal(grad, first[name])
    assert not np.shares_memory(cell.grads["bias_ih"], cell.grads["bias_hh"])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda c: c(np.ones((N, 7))),
            ValueError,
            "input must be 2-D (N, D), or 1-D (D,) unbatched",
        ),
        (lambda c: c(np.ones((1, N, D))), ValueError, "D = input_size = 3, got shape (1, 4, 3)"),
        (lambda c: c(np.full((N, D), np.nan)), ValueError, "input must be finite"),
        (lambda c: c(np.ones((N, D)), np.ones((N, H))), TypeError, "hx must be a tuple (h, c)"),
        (
            lambda c: c(np.ones((N, D)), (np.ones((N, H)), np.ones((H,)))),
            ValueError,
            "hx[1] must have shape (4, 5) (for input of shape (4, 3) and hidden_size 5), got (5,)",
        ),
        (
            lambda c: c(np.ones(D), (np.ones(H), np.ones((1, H)))),
            ValueError,
            "hx[1] must have shape (5,)",
        ),
        (
            lambda c: c(np.ones((N, D)), (np.full((N, H), np.inf), np.ones((N, H)))),
            ValueError,
            "hx[0] must be finite",
        ),
        (lambda c: c.backward(np.ones((N, H))), RuntimeError, "needs a successful forward first"),
    ],
)
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(rr.LSTMCell(D, H, seed=0))


def test_bad_upstream_gradients_are_named():
    cell = rr.LSTMCell(D, H, seed=0)
    cell(np.ones((N, D)))
    with pytest.raises(ValueError, match=re.escape("grad_h must have shape (4, 5)")):
        cell.backward(np.ones((N, 7)))
    with pytest.raises(ValueError, match="grad_c must be finite"):
        cell.backward(np.ones((N, H)), np.full((N, H), np.nan))
    with pytest.raises(ValueError, match=re.escape("missing keys ['bias_hh']")):
        cell.load_state_dict({n: v for n, v in cell.state_dict().items() if n != "bias_hh"})
    cell.params["weight_ih"][0, 0] = np.nan
    with pytest.raises(ValueError, match="weight_ih must be finite"):
        cell(np.ones((N, D)))
    with pytest.raises(RuntimeError, match="needs a successful forward"):
        cell.backward(np.ones((N, H)))


def test_an_overflow_is_named():
    cell = rr.LSTMCell(D, H, seed=0)
    cell.params["weight_ih"] = np.full((4 * H, D), 1e200)
    with pytest.raises(NonFiniteResultError, match="the input projection"):
        cell(np.full((N, D), 1e200))
