"""CS231n's four RNN functions written with torch tensors, as in EECS 498-007 (Michigan).

The backward is written by hand, not autograd. It passes ``check --api cs231n --tensors torch``.
Shapes: x (N, T, D), h0 and every state (N, H), Wx (D, H), Wh (H, H), b (H,).

    python -m reference_rnn check examples/eecs498_rnn_torch.py --api cs231n --tensors torch
"""

import torch


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step: next_h = tanh(x @ Wx + prev_h @ Wh + b); x (N, D), prev_h (N, H)."""
    next_h = torch.tanh(x.mm(Wx) + prev_h.mm(Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """dx (N, D), dprev_h (N, H), dWx, dWh, db, given dnext_h = dL/dnext_h (N, H)."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da.mm(Wx.t()), da.mm(Wh.t()), x.t().mm(da), prev_h.t().mm(da), da.sum(dim=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """Every state h (N, T, H), from h0 (N, H)."""
    states, caches, prev_h = [], [], h0
    for t in range(x.shape[1]):
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        states.append(prev_h)
        caches.append(cache)
    return torch.stack(states, dim=1), caches


def rnn_backward(dh, cache):
    """dx (N, T, D), dh0 (N, H), dWx, dWh, db for dh = dL/dh_t at every step (N, T, H)."""
    dx = []
    _, _, Wx, Wh, next_h = cache[0]
    dWx, dWh, db = torch.zeros_like(Wx), torch.zeros_like(Wh), torch.zeros_like(next_h[0])
    dprev = torch.zeros_like(dh[:, 0])
    for t in reversed(range(dh.shape[1])):
        dx_t, dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dx.append(dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return torch.stack(dx[::-1], dim=1), dprev, dWx, dWh, db
