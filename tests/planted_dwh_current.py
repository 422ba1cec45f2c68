"""CS231n's functions with dWh from next_h, the state after the step (a person's mistake)."""

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, _prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, next_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _D = x.shape
    h = np.zeros((N, T, Wh.shape[0]))
    caches = []
    prev = h0
    for t in range(T):
        prev, c = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        h[:, t] = prev
        caches.append(c)
    return h, caches


def rnn_backward(dh, caches):
    N, T, H = dh.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, H))
    dWh = np.zeros((H, H))
    db = np.zeros(H)
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        dxt, dprev, dwx, dwh, dbt = rnn_step_backward(dh[:, t] + dprev, caches[t])
        dx[:, t] = dxt
        dWx += dwx
        dWh += dwh
        db += dbt
    return dx, dprev, dWx, dWh, db
