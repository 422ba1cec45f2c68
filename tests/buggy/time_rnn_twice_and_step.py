"""A deep-learning-from-scratch-2 TimeRNN with two mistakes in its backward: tanh's derivative
multiplied in twice, and an optimizer step taken on the weights in place instead of filling
.grads."""

import numpy as np


class TimeRNN:
    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.stateful, self.h, self.dh, self.lr = stateful, None, None, 0.1

    def set_state(self, h):
        self.h = h

    def reset_state(self):
        self.h = None

    def forward(self, xs):
        Wx, Wh, b = self.params
        N, T, _ = xs.shape
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, Wh.shape[0]))
        self.xs, self.h0 = xs, self.h
        hs = np.empty((N, T, Wh.shape[0]))
        for t in range(T):
            self.h = np.tanh(xs[:, t] @ Wx + self.h @ Wh + b)
            hs[:, t] = self.h
        self.hs = hs
        return hs

    def backward(self, dhs):
        Wx, Wh, b = self.params
        N, T, _ = dhs.shape
        dxs = np.empty((N, T, Wx.shape[0]))
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        dh = np.zeros_like(self.h0)
        for t in reversed(range(T)):
            prev = self.hs[:, t - 1] if t else self.h0
            dt = (dhs[:, t] + dh) * (1 - self.hs[:, t] ** 2)
            dt = dt * (1 - self.hs[:, t] ** 2)  # the derivative once more
            dxs[:, t] = dt @ Wx.T
            dWx += self.xs[:, t].T @ dt
            dWh += prev.T @ dt
            db += dt.sum(axis=0)
            dh = dt @ Wh.T
        self.dh = dh
        for param, grad in zip(self.params, (dWx, dWh, db), strict=True):
            param -= self.lr * grad  # noqa: PLW2901 (in place: the update an optimizer makes)
        return dxs
