"""deep-learning-from-scratch-2's TimeRNN retyped, with its last three methods pasted one
indentation level too far left: they are module-level functions, not methods.

    python -m reference_rnn check examples/students/time_rnn.py:TimeRNN --api dlfs2
"""

import numpy as np


class TimeRNN:
    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.h, self.dh, self.stateful = None, None, stateful

    def forward(self, xs):
        Wx, Wh, b = self.params
        N, T, _ = xs.shape
        H = Wh.shape[0]
        hs = np.empty((N, T, H))
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H))
        self.xs, self.h0 = xs, self.h
        for t in range(T):
            self.h = np.tanh(xs[:, t] @ Wx + self.h @ Wh + b)
            hs[:, t] = self.h
        self.hs = hs
        return hs


def backward(self, dhs):
    Wx, Wh, _ = self.params
    T = dhs.shape[1]
    dxs = np.empty(self.xs.shape)
    grads = [np.zeros_like(p) for p in self.params]
    dh = 0
    for t in reversed(range(T)):
        prev = self.hs[:, t - 1] if t > 0 else self.h0
        da = (dhs[:, t] + dh) * (1 - self.hs[:, t] ** 2)
        dxs[:, t] = da @ Wx.T
        dh = da @ Wh.T
        grads[0] += self.xs[:, t].T @ da
        grads[1] += prev.T @ da
        grads[2] += da.sum(axis=0)
    self.grads, self.dh = grads, dh
    return dxs


def set_state(self, h):
    self.h = h


def reset_state(self):
    self.h = None
