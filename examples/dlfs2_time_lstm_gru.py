"""deep-learning-from-scratch-2-style ``LSTM``, ``TimeLSTM``, ``GRU`` and ``TimeGRU``, from their equations.

The book's layouts (common/time_layers.py), batch-first, x (N, D), every state (N, H):

- LSTM: ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``, gates in the order f, g, i, o;
  ``c_next = f * c_prev + g * i``, ``h_next = o * tanh(c_next)``.
- GRU: ``Wx (D, 3H)``, ``Wh (H, 3H)``, no bias, gates in the order z, r, h; the reset gate before
  the product and the update gate flipped against torch's:
  ``h_hat = tanh(x @ Wxh + (r * h_prev) @ Whh)``, ``h_next = (1 - z) * h_prev + z * h_hat``.

The book's Time layers keep their buffers in float32 (``dtype='f'``); here they take the inputs'
dtype, so the float64 checks hold too. ``stateful`` layers carry their state between calls.
"""

import numpy as np


def sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large negative x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class LSTM:
    """One step; ``params`` and ``grads`` are [Wx, Wh, b]."""

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev, c_prev):
        Wx, Wh, b = self.params
        H = h_prev.shape[1]
        A = x @ Wx + h_prev @ Wh + b  # (N, 4H): f, g, i, o
        f, g = sigmoid(A[:, :H]), np.tanh(A[:, H : 2 * H])
        i, o = sigmoid(A[:, 2 * H : 3 * H]), sigmoid(A[:, 3 * H :])
        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)
        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next):
        Wx, Wh, _ = self.params
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache
        tanh_c = np.tanh(c_next)
        ds = dc_next + dh_next * o * (1 - tanh_c**2)  # both paths into c_next
        dA = np.hstack(
            [
                ds * c_prev * f * (1 - f),  # f
                ds * i * (1 - g**2),  # g
                ds * g * i * (1 - i),  # i
                dh_next * tanh_c * o * (1 - o),  # o
            ]
        )
        self.grads[0][...] = x.T @ dA
        self.grads[1][...] = h_prev.T @ dA
        self.grads[2][...] = dA.sum(axis=0)
        return dA @ Wx.T, dA @ Wh.T, ds * f


class TimeLSTM:
    """T steps of ``LSTM``: ``forward(xs (N, T, D)) -> hs (N, T, H)``, ``backward(dhs) -> dxs``."""

    def __init__(self, Wx, Wh, b, stateful=False):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.layers = None
        self.h, self.c, self.dh = None, None, None
        self.stateful = stateful

    def set_state(self, h, c=None):
        self.h, self.c = h, c

    def reset_state(self):
        self.h, self.c = None, None

    def forward(self, xs):
        Wx, Wh, b = self.params
        N, T, _ = xs.shape
        H = Wh.shape[0]
        dtype = np.result_type(xs, Wx)
        hs = np.empty((N, T, H), dtype)
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype)
        if not self.stateful or self.c is None:
            self.c = np.zeros((N, H), dtype)
        self.layers = []
        for t in range(T):
            layer = LSTM(Wx, Wh, b)
            self.h, self.c = layer.forward(xs[:, t], self.h, self.c)
            hs[:, t] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        Wx, _, _ = self.params
        N, T, _ = dhs.shape
        dxs = np.empty((N, T, Wx.shape[0]), dhs.dtype)
        dh, dc = 0, 0
        grads = [0, 0, 0]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dxs[:, t], dh, dc = layer.backward(dhs[:, t] + dh, dc)
            for k, grad in enumerate(layer.grads):
                grads[k] = grads[k] + grad
        for k, grad in enumerate(grads):
            self.grads[k][...] = grad
        self.dh = dh
        return dxs


class GRU:
    """One step; the weights ``Wx``, ``Wh`` and their gradients ``dWx``, ``dWh``, as the book keeps them."""

    def __init__(self, Wx, Wh):
        self.Wx, self.Wh = Wx, Wh
        self.dWx, self.dWh = None, None
        self.cache = None

    def forward(self, x, h_prev):
        H = self.Wh.shape[0]
        Wxz, Wxr, Wxh = self.Wx[:, :H], self.Wx[:, H : 2 * H], self.Wx[:, 2 * H :]
        Whz, Whr, Whh = self.Wh[:, :H], self.Wh[:, H : 2 * H], self.Wh[:, 2 * H :]
        z = sigmoid(x @ Wxz + h_prev @ Whz)
        r = sigmoid(x @ Wxr + h_prev @ Whr)
        h_hat = np.tanh(x @ Wxh + (r * h_prev) @ Whh)
        h_next = (1 - z) * h_prev + z * h_hat
        self.cache = (x, h_prev, z, r, h_hat)
        return h_next

    def backward(self, dh_next):
        H = self.Wh.shape[0]
        Wxz, Wxr, Wxh = self.Wx[:, :H], self.Wx[:, H : 2 * H], self.Wx[:, 2 * H :]
        Whz, Whr, Whh = self.Wh[:, :H], self.Wh[:, H : 2 * H], self.Wh[:, 2 * H :]
        x, h_prev, z, r, h_hat = self.cache
        dt = dh_next * z * (1 - h_hat**2)  # h_hat's pre-activation
        drh = dt @ Whh.T  # the gradient of r * h_prev
        dz = dh_next * (h_hat - h_prev) * z * (1 - z)
        dr = drh * h_prev * r * (1 - r)
        dh_prev = dh_next * (1 - z) + drh * r + dz @ Whz.T + dr @ Whr.T
        dx = dz @ Wxz.T + dr @ Wxr.T + dt @ Wxh.T
        self.dWx = np.hstack([x.T @ dz, x.T @ dr, x.T @ dt])
        self.dWh = np.hstack([h_prev.T @ dz, h_prev.T @ dr, (r * h_prev).T @ dt])
        return dx, dh_prev


class TimeGRU:
    """T steps of ``GRU``: ``forward(xs (N, T, D)) -> hs (N, T, H)``, ``backward(dhs) -> dxs``."""

    def __init__(self, Wx, Wh, stateful=False):
        self.Wx, self.Wh = Wx, Wh
        self.dWx, self.dWh = None, None
        self.layers = None
        self.h, self.dh = None, None
        self.stateful = stateful

    def set_state(self, h):
        self.h = h

    def reset_state(self):
        self.h = None

    def forward(self, xs):
        N, T, _ = xs.shape
        H = self.Wh.shape[0]
        dtype = np.result_type(xs, self.Wx)
        hs = np.empty((N, T, H), dtype)
        if not self.stateful or self.h is None:
            self.h = np.zeros((N, H), dtype)
        self.layers = []
        for t in range(T):
            layer = GRU(self.Wx, self.Wh)
            self.h = layer.forward(xs[:, t], self.h)
            hs[:, t] = self.h
            self.layers.append(layer)
        return hs

    def backward(self, dhs):
        N, T, _ = dhs.shape
        dxs = np.empty((N, T, self.Wx.shape[0]), dhs.dtype)
        self.dWx, self.dWh = np.zeros_like(self.Wx), np.zeros_like(self.Wh)
        dh = 0
        for t in reversed(range(T)):
            layer = self.layers[t]
            dxs[:, t], dh = layer.backward(dhs[:, t] + dh)
            self.dWx += layer.dWx
            self.dWh += layer.dWh
        self.dh = dh
        return dxs
