"""The LSTM cell, the textbook version: the forward pass and backpropagation through time, to read.

The readable reference a student compares their own code with, written as CS231n's
``rnn_layers.py`` is: a step forward and a step backward, and the sequence functions as plain
loops over t that call them. It computes what the fast version, :mod:`~reference_rnn.core.lstm`,
computes (the same names and arguments; the results agree to rounding, tested in float64 and
float32), without what makes that one fast and safe: no hoisted products, no blocking, no
argument checks, no overflow checks, no projection, and a plain tuple for a cache.

Shapes: N batch, T time steps, D input features, H hidden units; batch-first; the gates in
torch's order i, f, g, o, each a block of H columns of ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``::

    a = x_t @ Wx + h_{t-1} @ Wh + b;  i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)
    c_t = f * c_{t-1} + i * g;        h_t = o * tanh(c_t)

    dc = dL/dc_t + dL/dh_t * o * (1 - tanh(c_t)**2)
    di, df, dg, do = dc * g, dc * c_{t-1}, dc * i, dL/dh_t * tanh(c_t)
    da = [di * i(1 - i), df * f(1 - f), dg * (1 - g**2), do * o(1 - o)]
    dWx += x_t.T @ da;  dWh += h_{t-1}.T @ da;  db += da.sum(0)
    dx_t = da @ Wx.T;   dL/dh_{t-1} gets da @ Wh.T;  dL/dc_{t-1} = dc * f
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_rnn.core.validation import FloatArray

__all__ = ["lstm_backward", "lstm_forward", "lstm_step_backward", "lstm_step_forward"]

#: What a step's backward needs: x, prev_h, prev_c, Wx, Wh, the gates i, f, g, o and next_c.
StepCache = tuple[FloatArray, ...]
Grads = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


def sigmoid(a: FloatArray) -> FloatArray:
    return 1 / (1 + np.exp(-a))


def lstm_step_forward(
    x: FloatArray,
    prev_h: FloatArray,
    prev_c: FloatArray,
    Wx: FloatArray,
    Wh: FloatArray,
    b: FloatArray,
) -> tuple[FloatArray, FloatArray, StepCache]:
    """x (N, D), prev_h (N, H), prev_c (N, H) -> next_h (N, H), next_c (N, H), cache."""
    H = Wh.shape[0]
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H): the four gates side by side
    i = sigmoid(a[:, :H])  # input gate: how much of the candidate enters the cell
    f = sigmoid(a[:, H : 2 * H])  # forget gate: how much of the old cell stays
    g = np.tanh(a[:, 2 * H : 3 * H])  # the candidate values
    o = sigmoid(a[:, 3 * H :])  # output gate: how much of the cell is shown
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)


def lstm_step_backward(dnext_h: FloatArray, dnext_c: FloatArray, cache: StepCache) -> Grads:
    """dnext_h, dnext_c (N, H) -> dx (N, D), dprev_h, dprev_c (N, H), dWx, dWh, db."""
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c = cache
    tanh_c = np.tanh(next_c)
    # next_c reaches the loss directly and through next_h = o * tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)
    di, df, dg, do = dc * g, dc * prev_c, dc * i, dnext_h * tanh_c
    # through the nonlinearities: sigmoid' = s (1 - s), tanh' = 1 - tanh**2
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)], 1)
    dx = da @ Wx.T  # (N, D)
    dprev_h = da @ Wh.T  # (N, H)
    dprev_c = dc * f  # (N, H)
    dWx = x.T @ da  # (D, 4H)
    dWh = prev_h.T @ da  # (H, 4H)
    db = da.sum(axis=0)  # (4H,): b was added to every row of the batch
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(
    x: FloatArray,
    h0: FloatArray,
    Wx: FloatArray,
    Wh: FloatArray,
    b: FloatArray,
    c0: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, list[StepCache]]:
    """x (N, T, D), h0 (N, H), c0 (N, H) or zeros -> h (N, T, H), the final c (N, H), caches."""
    N, T, _ = x.shape
    H = Wh.shape[0]
    dtype = np.result_type(x, h0, Wx, Wh, b, *([] if c0 is None else [c0]))
    h = np.zeros((N, T, H), dtype=dtype)
    caches = []
    prev_h, prev_c = h0, np.zeros((N, H), dtype=dtype) if c0 is None else c0
    for t in range(T):
        # both states carry over: step t starts from step t - 1's results, the first from h0, c0
        prev_h, prev_c, cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, prev_c, caches


def lstm_backward(dh: FloatArray, dcT: FloatArray | None, caches: list[StepCache]) -> Grads:
    """dh (N, T, H) = dL/dh_t at every step, dcT (N, H) = dL/dc_T or None (zeros)
    -> dx (N, T, D), dh0, dc0 (N, H), dWx, dWh, db."""
    x, h0, _, Wx, Wh, *_ = caches[0]
    N, H = h0.shape
    T, D = len(caches), Wx.shape[0]
    dtype: Any = np.result_type(dh, x, h0, Wx, Wh, *([] if dcT is None else [dcT]))
    dx = np.zeros((N, T, D), dtype=dtype)
    dWx = np.zeros((D, 4 * H), dtype=dtype)
    dWh = np.zeros((H, 4 * H), dtype=dtype)
    db = np.zeros(4 * H, dtype=dtype)
    dprev_h = np.zeros((N, H), dtype=dtype)  # dL/dh_t through step t + 1: none after the last
    dprev_c = np.zeros((N, H), dtype=dtype) if dcT is None else dcT  # dL/dc_T from outside
    for t in reversed(range(T)):
        # h_t feeds both the loss at step t and step t + 1: its gradient is the sum of the two;
        # c_t feeds step t + 1 only
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, caches[t]
        )
        dx[:, t] = dx_t
        # the weights are shared by every step: their gradients add up over time
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dprev_c, dWx, dWh, db  # dprev_h, dprev_c are now dL/dh0, dL/dc0
