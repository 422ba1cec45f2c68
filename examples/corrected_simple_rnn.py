"""The exercise's SimpleRNN (problems 1-3), corrected: it passes ``check --api sprint``.

Against the exercise's code: the first step uses h_prev, every step uses the layer's own Wx, and
the states are kept per sequence, (N, T, H), so any batch size works. forward returns the final
state (N, H), so the exercise's ``print(rnn.forward(x, h)[-1])`` prints its documented line.
backward (problem 3) takes dL/dh_T and fills ``grads`` and ``dh_prev``.

    python -m reference_rnn check examples/corrected_simple_rnn.py:SimpleRNN --api sprint
"""

import numpy as np


class SimpleRNN:
    """h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b); x (N, T, D), Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.dh_prev = None
        self.cache = None

    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        N, T, _ = x.shape
        H = Wx.shape[1]
        h = np.zeros((N, T + 1, H))  # h[:, 0] = h_prev, h[:, t + 1] = the state after step t
        h[:, 0] = h_prev
        for t in range(T):
            h[:, t + 1] = np.tanh(x[:, t] @ Wx + h[:, t] @ Wh + b)
        self.cache = (x, h)
        return h[:, -1]

    def backward(self, dh_last):
        Wx, Wh, _ = self.params
        x, h = self.cache
        T = x.shape[1]
        dx = np.zeros_like(x, dtype=h.dtype)
        dWx, dWh, db = np.zeros_like(Wx, dtype=h.dtype), np.zeros_like(Wh, dtype=h.dtype), 0
        g = dh_last  # dL/dh_t: only the final state reaches the loss
        for t in reversed(range(T)):
            da = g * (1 - h[:, t + 1] ** 2)
            dx[:, t] = da @ Wx.T
            dWx += x[:, t].T @ da
            dWh += h[:, t].T @ da
            db = db + da.sum(axis=0)
            g = da @ Wh.T
        self.grads = [dWx, dWh, db]
        self.dh_prev = g
        return dx


if __name__ == "__main__":
    x = np.array([[[1, 2], [2, 3], [3, 4]]]) / 100
    w_x = np.array([[1, 3, 5, 7], [3, 5, 7, 8]]) / 100
    w_h = np.array([[1, 3, 5, 7], [2, 4, 6, 8], [3, 5, 7, 8], [4, 6, 8, 10]]) / 100
    h = np.zeros((1, 4))
    b = np.array([1, 1, 1, 1])
    rnn = SimpleRNN(w_x, w_h, b)
    print(rnn.forward(x, h)[-1])  # [0.79494228 0.81839002 0.83939649 0.85584174]
