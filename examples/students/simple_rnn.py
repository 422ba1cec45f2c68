"""The exercise's SimpleRNN as a student wrote it: forward returns (h_last, hs) and multiplies
by Wh.T, and backward takes an optimizer step itself.

    python -m reference_rnn check examples/students/simple_rnn.py:SimpleRNN --api sprint
"""

import numpy as np


class SimpleRNN:
    def __init__(self, Wx, Wh, b, lr=0.01):
        self.Wx, self.Wh, self.b, self.lr = Wx, Wh, b, lr
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]

    def forward(self, x, h_prev):
        N, T, _ = x.shape
        self.x, self.h0 = x, h_prev
        self.hs = np.zeros((N, T, self.Wh.shape[0]))
        h = h_prev
        for t in range(T):
            h = np.tanh(x[:, t] @ self.Wx + h @ self.Wh.T + self.b)
            self.hs[:, t] = h
        return h, self.hs

    def backward(self, dhs):
        T = self.x.shape[1]
        dx = np.zeros_like(self.x)
        dWx, dWh, db = np.zeros_like(self.Wx), np.zeros_like(self.Wh), np.zeros_like(self.b)
        dnext = np.zeros_like(self.h0)
        for t in reversed(range(T)):
            prev = self.hs[:, t - 1] if t > 0 else self.h0
            da = (dhs[:, t] + dnext) * (1 - self.hs[:, t] ** 2)
            dx[:, t] = da @ self.Wx.T
            dWx += self.x[:, t].T @ da
            dWh += prev.T @ da
            db += da.sum(axis=0)
            dnext = da @ self.Wh
        self.dh_prev = dnext
        self.Wx -= self.lr * dWx  # the update, here instead of in an optimizer
        self.Wh -= self.lr * dWh
        self.b -= self.lr * db
        return dx
