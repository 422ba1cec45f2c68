"""A CS231n-style LSTM (assignment 3's ``rnn_layers.py``): four functions, explicit caches.

Written from the equations, gates in CS231n's order i, f, o, g (torch's is i, f, g, o):

    a = x @ Wx + prev_h @ Wh + b          split into a_i, a_f, a_o, a_g, each (N, H)
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o)        g = tanh(a_g)
    next_c = f * prev_c + i * g           next_h = o * tanh(next_c)

Shapes: x (N, T, D), h0 and every state (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,). ``lstm_forward``
starts from the cell state c0 = 0, as the assignment does.
"""

import numpy as np


def sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large negative x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One step: next_h, next_c (N, H) and the cache; x (N, D), prev_h and prev_c (N, H)."""
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H)
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 2 * H : 3 * H])
    g = np.tanh(a[:, 3 * H :])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """dx (N, D), dprev_h, dprev_c (N, H), dWx, dWh, db, given dL/dnext_h and dL/dnext_c."""
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)  # both paths into next_c
    da = np.concatenate(
        [
            dc * g * i * (1 - i),  # a_i
            dc * prev_c * f * (1 - f),  # a_f
            dnext_h * tanh_c * o * (1 - o),  # a_o
            dc * i * (1 - g**2),  # a_g
        ],
        axis=1,
    )  # (N, 4H), in the gates' order
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    """Every hidden state h (N, T, H), from h0 (N, H) and c0 = 0."""
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0, Wx, Wh, b))
    prev_h, prev_c, caches = h0, np.zeros_like(h0), []
    for t in range(T):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def lstm_backward(dh, caches):
    """dx (N, T, D), dh0 (N, H), dWx, dWh, db, given dh = dL/dh_t at every step (N, T, H)."""
    N, T, H = dh.shape
    x0, _, _, Wx, Wh = caches[0][:5]
    dx = np.empty((N, T, x0.shape[1]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H, dtype=dh.dtype)
    dprev_h, dprev_c = np.zeros((N, H), dh.dtype), np.zeros((N, H), dh.dtype)
    for t in reversed(range(T)):
        grads = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, caches[t])
        dx[:, t], dprev_h, dprev_c = grads[:3]
        dWx, dWh, db = dWx + grads[3], dWh + grads[4], db + grads[5]
    return dx, dprev_h, dWx, dWh, db
