"""The LSTM's core against central differences in float64, and against exact arithmetic.

Exact: torch's documented equations (``torch.nn.LSTM``) written out here scalar by scalar in
mpmath at 50 digits, on the same binary inputs; the gradients of
``L = sum(h * dh) + sum(c * dc)`` are central differences of that forward at 60 digits with a
step of 1e-20 (truncation and rounding errors about 1e-40), so that nothing of the core's
backpropagation formulas is on the expected side.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_lstm_core import make_args

import reference_rnn as rr
from reference_rnn.core import lstm
from reference_rnn.core.measure import FD_TOLERANCE, central_differences, scaled_error

#: float64 against the correctly rounded result: about ten units of rounding (2.2e-16); 4e-16 measured
EXACT_TOLERANCE = 2e-15
INPUTS = ["x", "h0", "c0", "Wx", "Wh", "b"]


def _sequence_loss(a):
    """``sum(h * dh) + sum(c * dc)`` over every step, by the fast core."""
    h, c, _ = lstm.forward_sequence(
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
    return float((h * a["dh"]).sum() + (c * a["dc"]).sum())


def _sequence_gradients(a):
    *_, cache = lstm.forward_sequence(
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
    grads = lstm.backward_sequence(a["dh"], a["dc"], cache, ("dh", "dc"), check_finite=True)
    names = INPUTS + ["Wr"] * ("Wr" in a)
    return dict(zip(names, grads, strict=False))


@pytest.mark.parametrize(("shape", "P"), [((2, 4, 3, 3), 0), ((3, 3, 2, 4), 2), ((1, 5, 1, 1), 0)])
def test_sequence_gradients_are_central_differences(shape, P):
    a = make_args(*shape, P, seed=11)
    params = {name: a[name] for name in INPUTS + ["Wr"] * bool(P)}
    expected = central_differences(lambda p: _sequence_loss(a | dict(p)), params)
    for name, grad in _sequence_gradients(a).items():
        assert scaled_error(grad, expected[name]) < FD_TOLERANCE, name


def test_public_gradients_are_central_differences():
    a = make_args(2, 3, 2, 3, seed=12)

    def loss(p):
        h, cT, _ = rr.lstm_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"], p["c0"])
        return float((h * a["dh"]).sum() + (cT * a["dcT"]).sum())

    params = {name: a[name] for name in INPUTS}
    expected = central_differences(loss, params)
    *_, cache = rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["c0"])
    grads = rr.lstm_backward(a["dh"], a["dcT"], cache)
    for name, grad in zip(INPUTS, grads, strict=True):
        assert scaled_error(grad, expected[name]) < FD_TOLERANCE, name


def test_finite_differences_catch_a_wrong_gate_derivative(monkeypatch):
    """The check has teeth: the forget gate's factor off by 0.1% fails it."""
    right = lstm._factors

    def wrong(gates, c_prev, tanh_c, out, k):
        right(gates, c_prev, tanh_c, out, k)
        H = gates.shape[2] // 4
        out[:, :, H : 2 * H] *= 1.001

    monkeypatch.setattr(lstm, "_factors", wrong)
    a = make_args(2, 4, 3, 3, seed=11)
    params = {name: a[name] for name in INPUTS}
    expected = central_differences(lambda p: _sequence_loss(a | dict(p)), params)
    errors = [scaled_error(g, expected[n]) for n, g in _sequence_gradients(a).items()]
    assert max(errors) > 1e3 * FD_TOLERANCE


# Exact arithmetic

mpmath = pytest.importorskip("mpmath")


def _exact_forward(v, P):
    """h (N, T, P or H) and c (N, T, H) as mpmath numbers, from torch's documented equations:

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi), f, g = tanh(...), o likewise,
    c' = f * c + i * g, h' = o * tanh(c'), and h' = W_hr (o * tanh(c')) with proj_size;
    weight_ih = Wx.T has the rows [W_ii; W_if; W_ig; W_io].
    """
    x, h0, c0, Wx, Wh, b = (v[name] for name in INPUTS)
    N, T, D = x.shape
    H = c0.shape[1]
    sigmoid = lambda z: 1 / (1 + mpmath.exp(-z))
    hs = np.empty((N, T, h0.shape[1]), dtype=object)
    cs = np.empty((N, T, H), dtype=object)
    for n in range(N):
        h, c = list(h0[n]), list(c0[n])
        for t in range(T):
            pre = [
                mpmath.fsum(
                    [x[n, t, d] * Wx[d, j] for d in range(D)]
                    + [h[p] * Wh[p, j] for p in range(len(h))]
                    + [b[j]]
                )
                for j in range(4 * H)
            ]
            i = [sigmoid(pre[j]) for j in range(H)]
            f = [sigmoid(pre[H + j]) for j in range(H)]
            g = [mpmath.tanh(pre[2 * H + j]) for j in range(H)]
            o = [sigmoid(pre[3 * H + j]) for j in range(H)]
            c = [f[j] * c[j] + i[j] * g[j] for j in range(H)]
            m = [o[j] * mpmath.tanh(c[j]) for j in range(H)]
            # with proj_size, h = W_hr m: weight_hr = Wr.T
            h = [mpmath.fsum(m[j] * v["Wr"][j, p] for j in range(H)) for p in range(P)] if P else m
            hs[n, t], cs[n, t] = h, c
    return hs, cs


def _exact(a, P):
    """The exact h, c and gradients of ``sum(h * dh) + sum(c * dc)`` rounded to float64."""
    names = INPUTS + ["Wr"] * bool(P)
    with mpmath.workdps(60):
        point = {
            name: np.vectorize(lambda value: mpmath.mpf(float(value)), otypes=[object])(a[name])
            for name in names
        }
        dh = [mpmath.mpf(float(value)) for value in a["dh"].flat]
        dc = [mpmath.mpf(float(value)) for value in a["dc"].flat]

        def loss(p):
            h, c = _exact_forward(p, P)
            return mpmath.fdot(list(h.flat), dh) + mpmath.fdot(list(c.flat), dc)

        step = mpmath.mpf("1e-20")
        grads = {}
        for name in names:
            grad = np.empty(point[name].shape, dtype=object)
            for index in np.ndindex(grad.shape):
                original = point[name][index]
                point[name][index] = original + step
                plus = loss(point)
                point[name][index] = original - step
                minus = loss(point)
                point[name][index] = original
                grad[index] = (plus - minus) / (2 * step)
            grads[name] = grad
        with mpmath.workdps(50):
            h, c = _exact_forward(point, P)
    to_float = np.vectorize(float, otypes=[np.float64])
    return to_float(h), to_float(c), {name: to_float(g) for name, g in grads.items()}


@pytest.mark.parametrize("P", [0, 2])
def test_forward_and_gradients_agree_with_exact_arithmetic(P):
    a = make_args(2, 3, 2, 3, P, seed=13)
    h_exact, c_exact, grads_exact = _exact(a, P)
    h, c, cache = lstm.forward_sequence(
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
    assert scaled_error(h, h_exact) < EXACT_TOLERANCE
    assert scaled_error(c, c_exact) < EXACT_TOLERANCE
    grads = lstm.backward_sequence(a["dh"], a["dc"], cache, ("dh", "dc"), check_finite=True)
    for name, grad in zip(INPUTS + ["Wr"] * bool(P), grads, strict=False):
        assert scaled_error(grad, grads_exact[name]) < EXACT_TOLERANCE, name


def test_exact_arithmetic_catches_a_wrong_output_gate(monkeypatch):
    """The check has teeth: sigmoid's derivative left out of the output gate's factor fails it."""
    right = lstm._factors

    def wrong(gates, c_prev, tanh_c, out, k):
        right(gates, c_prev, tanh_c, out, k)
        H = gates.shape[2] // 4
        out[:, :, 3 * H :] = tanh_c  # dL/da_o = dL/do, as if o were not a sigmoid's output

    monkeypatch.setattr(lstm, "_factors", wrong)
    a = make_args(2, 3, 2, 3, seed=13)
    *_, grads_exact = _exact(a, 0)
    *_, cache = lstm.forward_sequence(
        a["x"], a["h0"], a["c0"], a["Wx"], a["Wh"], a["b"], None, ("h0", "c0"), check_finite=True
    )
    grads = lstm.backward_sequence(a["dh"], a["dc"], cache, ("dh", "dc"), check_finite=True)
    assert scaled_error(grads[3], grads_exact["Wx"]) > 1e-3
