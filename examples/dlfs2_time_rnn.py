"""deep-learning-from-scratch-2-style ``RNN`` and ``TimeRNN`` (common/time_layers.py), in float64.

They pass ``check --api dlfs2-cell`` (``RNN``) and ``check --api dlfs2`` (``TimeRNN``). The book's
TimeRNN stores ``hs`` and ``dxs`` in ``np.empty(..., dtype='f')``: float32, so in a float64 check
those fail and are named ``float32-buffers``; here the buffers take the inputs' dtype.

    python -m reference_rnn check examples/dlfs2_time_rnn.py:TimeRNN --api dlfs2
"""

import numpy as np


class RNN:
    """One step: h_next = tanh(x @ Wx + h_prev @ Wh + b); x (N, D), h_prev (N, H)."""

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        h_next = np.tanh(h_prev @ Wh + x @ Wx + b)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next):
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next**2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh.T


class TimeRNN:
    """T steps of RNN over xs (N, T, D).

    With stateful=True, each forward starts where the last one ended, or from set_state's h.
    """

    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers = None
        self.h, self.dh = None, None
        self.stateful = stateful

    def set_state(self, h):
        self.h = h

    def reset_state(self):
        self.h = None

    def forward(self, xs):
        Wx = self.params[0]
        N, T, _ = xs.shape
        H = Wx.shape[1]
        dtype = np.result_type(xs, Wx)
        hs = np.empty((N, T, H), dtype=dtype)
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype=dtype)
        self.layers = []
        for t in range(T):
            layer = RNN(*self.params)
            self.h = layer.forward(xs[:, t], self.h)
            hs[:, t] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        N, T, _ = dhs.shape
        D = self.params[0].shape[0]
        dxs = np.empty((N, T, D), dtype=dhs.dtype)
        dh = 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dxs[:, t], dh = layer.backward(dhs[:, t] + dh)
            for i, grad in enumerate(layer.grads):
                grads[i] += grad
        for i, grad in enumerate(grads):
            self.grads[i][...] = grad
        self.dh = dh
        return dxs
