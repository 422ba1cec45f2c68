"""The GRU cell, the textbook version: the forward pass and backpropagation through time, to read.

The readable reference a student compares their own code with, written as CS231n's
``rnn_layers.py`` is: a step forward and a step backward, and the sequence functions as plain
loops over t that call them. It computes what the fast version, :mod:`~reference_rnn.core.gru`,
computes (the same names and arguments; the results agree to rounding, tested in float64 and
float32), without what makes that one fast and safe: no hoisted products, no argument checks, no
overflow checks, and a plain tuple for a cache.

Shapes: N batch, T time steps, D input features, H hidden units; batch-first. The gates r, z, n
sit side by side in ``Wx (D, 3H)``, ``Wh (H, 3H)``, ``b (3H,)`` and ``bh (3H,)``, torch's order::

    r = sigmoid(x @ Wx_r + b_r + h @ Wh_r + bh_r)
    z = sigmoid(x @ Wx_z + b_z + h @ Wh_z + bh_z)
    n = tanh(x @ Wx_n + b_n + r * (h @ Wh_n + bh_n))      reset_after=True (torch)
    n = tanh(x @ Wx_n + b_n + (r * h) @ Wh_n + bh_n)      reset_after=False (ONNX's default)
    h' = (1 - z) * n + z * h
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_rnn.core.validation import FloatArray

__all__ = ["gru_backward", "gru_forward", "gru_step_backward", "gru_step_forward"]

#: What a step's backward needs: x, prev_h, Wx, Wh, bh, r, z, n and reset_after.
StepCache = tuple[
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    FloatArray,
    bool,
]
Grads = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


def sigmoid(a: FloatArray) -> FloatArray:
    return 1 / (1 + np.exp(-a))


def gru_step_forward(
    x: FloatArray,
    prev_h: FloatArray,
    Wx: FloatArray,
    Wh: FloatArray,
    b: FloatArray,
    bh: FloatArray,
    reset_after: bool = True,
) -> tuple[FloatArray, StepCache]:
    """x (N, D), prev_h (N, H) -> next_h (N, H), the equations above."""
    H = prev_h.shape[1]
    r_, z_, n_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)  # the gates' columns
    xp = x @ Wx + b  # (N, 3H): every gate's input side
    r = sigmoid(xp[:, r_] + prev_h @ Wh[:, r_] + bh[r_])
    z = sigmoid(xp[:, z_] + prev_h @ Wh[:, z_] + bh[z_])
    if reset_after:
        n = np.tanh(xp[:, n_] + r * (prev_h @ Wh[:, n_] + bh[n_]))
    else:
        n = np.tanh(xp[:, n_] + (r * prev_h) @ Wh[:, n_] + bh[n_])
    next_h = (1 - z) * n + z * prev_h
    return next_h, (x, prev_h, Wx, Wh, bh, r, z, n, reset_after)


def gru_step_backward(dnext_h: FloatArray, cache: StepCache) -> Grads:
    """dnext_h (N, H) = dL/dnext_h -> dx (N, D), dprev_h (N, H), dWx, dWh, db, dbh."""
    x, prev_h, Wx, Wh, bh, r, z, n, reset_after = cache
    H = prev_h.shape[1]
    n_ = slice(2 * H, 3 * H)
    # next_h = (1 - z) * n + z * prev_h
    dn = dnext_h * (1 - z)
    dz = dnext_h * (prev_h - n)
    dprev_h = dnext_h * z
    # through tanh and sigmoid, whose derivatives are written with their outputs
    da_n = dn * (1 - n**2)  # (N, H)
    da_z = dz * z * (1 - z)
    if reset_after:
        hn = prev_h @ Wh[:, n_] + bh[n_]  # what r multiplied
        da_r = da_n * hn * r * (1 - r)
        dhp = np.concatenate([da_r, da_z, da_n * r], axis=1)  # dL/d(prev_h @ Wh + bh), (N, 3H)
        dprev_h = dprev_h + dhp @ Wh.T
        dWh = prev_h.T @ dhp  # (H, 3H)
        dbh = dhp.sum(axis=0)
    else:
        drh = da_n @ Wh[:, n_].T  # dL/d(r * prev_h)
        da_r = drh * prev_h * r * (1 - r)
        da_rz = np.concatenate([da_r, da_z], axis=1)  # (N, 2H)
        dprev_h = dprev_h + drh * r + da_rz @ Wh[:, : 2 * H].T
        dWh = np.concatenate([prev_h.T @ da_rz, (r * prev_h).T @ da_n], axis=1)
        dbh = np.concatenate([da_r, da_z, da_n], axis=1).sum(axis=0)
    da = np.concatenate([da_r, da_z, da_n], axis=1)  # dL/d(x @ Wx + b), (N, 3H)
    dx = da @ Wx.T  # (N, D)
    dWx = x.T @ da  # (D, 3H)
    db = da.sum(axis=0)  # (3H,): b was added to every row of the batch
    return dx, dprev_h, dWx, dWh, db, dbh


def gru_forward(
    x: FloatArray,
    h0: FloatArray,
    Wx: FloatArray,
    Wh: FloatArray,
    b: FloatArray,
    bh: FloatArray,
    reset_after: bool = True,
) -> tuple[FloatArray, list[StepCache]]:
    """x (N, T, D), h0 (N, H) -> h (N, T, H), the state after every step; one cache per step."""
    N, T, _ = x.shape
    H = Wh.shape[0]
    h = np.zeros((N, T, H), dtype=np.result_type(x, h0, Wx, Wh, b, bh))
    caches = []
    prev_h = h0
    for t in range(T):
        # the state carries over: step t starts from step t - 1's result, the first from h0
        prev_h, cache = gru_step_forward(x[:, t], prev_h, Wx, Wh, b, bh, reset_after)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def gru_backward(dh: FloatArray, caches: list[StepCache]) -> Grads:
    """dh (N, T, H) = dL/dh_t from above at every step -> dx (N, T, D), dh0, dWx, dWh, db, dbh."""
    x, h0, Wx, Wh, bh = caches[0][:5]
    N, H = h0.shape
    T, D = len(caches), Wx.shape[0]
    dtype: Any = np.result_type(dh, x, h0, Wx, Wh, bh)
    dx = np.zeros((N, T, D), dtype=dtype)
    dWx = np.zeros((D, 3 * H), dtype=dtype)
    dWh = np.zeros((H, 3 * H), dtype=dtype)
    db = np.zeros(3 * H, dtype=dtype)
    dbh = np.zeros(3 * H, dtype=dtype)
    dprev_h = np.zeros((N, H), dtype=dtype)  # dL/dh_t through step t + 1: none after the last
    for t in reversed(range(T)):
        # h_t feeds both the loss at step t and step t + 1: its gradient is the sum of the two
        dx_t, dprev_h, dWx_t, dWh_t, db_t, dbh_t = gru_step_backward(dh[:, t] + dprev_h, caches[t])
        dx[:, t] = dx_t
        # the weights are shared by every step: their gradients add up over time
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
        dbh += dbh_t
    return dx, dprev_h, dWx, dWh, db, dbh  # dprev_h is now dL/dh0
