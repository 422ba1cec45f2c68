"""CS231n's rnn_layers.py with two mistakes inside one backward: tanh's derivative multiplied in
twice, and dWh from the state after the step, next_h, instead of prev_h."""

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, _prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2) * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, next_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, caches, prev = np.zeros((N, T, Wh.shape[0])), [], h0
    for t in range(T):
        prev, cache = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        h[:, t] = prev
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    N, T, _ = dh.shape
    _, _, Wx, Wh, _ = caches[0]
    dx = np.zeros((N, T, Wx.shape[0]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
    dprev = np.zeros((N, Wh.shape[0]))
    for t in reversed(range(T)):
        dx[:, t], dprev, gWx, gWh, gb = rnn_step_backward(dh[:, t] + dprev, caches[t])
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return dx, dprev, dWx, dWh, db
