"""A CS231n-style ``rnn_layers.py``: four functions, explicit caches. It passes ``check --api cs231n``.

Shapes: x (N, T, D), h0 and every state (N, H), Wx (D, H), Wh (H, H), b (H,).

    python -m reference_rnn check examples/cs231n_rnn_layers.py --api cs231n
"""

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step: next_h = tanh(x @ Wx + prev_h @ Wh + b); x (N, D), prev_h (N, H)."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """dx (N, D), dprev_h (N, H), dWx, dWh, db, given dnext_h = dL/dnext_h (N, H)."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)  # tanh' written with the output
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """Every state h (N, T, H), from h0 (N, H)."""
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx, Wh, b))
    caches, prev_h = [], h0
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    """dx (N, T, D), dh0, dWx, dWh, db, given dh = dL/dh_t at every step (N, T, H)."""
    N, T, _ = dh.shape
    D = caches[0][0].shape[1]
    dx = np.empty((N, T, D), dtype=dh.dtype)
    dWx, dWh, db = 0, 0, 0
    dprev_h = np.zeros_like(dh[:, 0])  # what flows back from step t + 1
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, caches[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db
