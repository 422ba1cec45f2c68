"""A sprint SimpleRNN written CS231n-style (step functions in a loop, a cache per step) that
ignores h_prev: every sequence starts from zeros. Its backward is right for that forward."""

import numpy as np


def step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, next_h)


def step_backward(dnext_h, cache, Wx, Wh):
    x, prev_h, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


class SimpleRNN:
    def __init__(self, Wx, Wh, b):
        self.Wx, self.Wh, self.b = Wx, Wh, b
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]

    def forward(self, x, h_prev):  # noqa: ARG002 (the mistake: h_prev is not used)
        N, T, _ = x.shape
        h = np.zeros((N, self.Wh.shape[0]))  # the sprint's sample starts from zeros: h_prev unused
        self.caches, hs = [], []
        for t in range(T):
            h, cache = step_forward(x[:, t], h, self.Wx, self.Wh, self.b)
            self.caches.append(cache)
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        T = len(self.caches)
        dx = np.zeros((dout.shape[0], T, self.Wx.shape[0]))
        dWx, dWh, db = np.zeros_like(self.Wx), np.zeros_like(self.Wh), np.zeros_like(self.b)
        dprev = np.zeros_like(dout[:, 0])
        for t in reversed(range(T)):
            dx[:, t], dprev, gWx, gWh, gb = step_backward(
                dout[:, t] + dprev, self.caches[t], self.Wx, self.Wh
            )
            dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
        self.grads = [dWx, dWh, db]
        self.dh_prev = dprev
        return dx
