"""A CS231n rnn_layers.py as students hand it in: the time loop stops one step early, and the
weight gradients are the mini-batch mean. (Two mistakes: `check` names the pair.)

    python -m reference_rnn check examples/students/rnn_layers.py --api cs231n
"""

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    N = x.shape[0]
    return da @ Wx.T, da @ Wh.T, x.T @ da / N, prev_h.T @ da / N, da.sum(axis=0) / N


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, Wh.shape[0]))
    caches = []
    prev_h = h0
    for t in range(T - 1):  # one step short
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    x, _, Wx, Wh, _ = cache[0] if cache else (None, None, None, None, None)
    dx = np.zeros((N, T, x.shape[1]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H)
    dprev = np.zeros((N, H))
    for t in reversed(range(len(cache))):
        dx[:, t], dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev, dWx, dWh, db
