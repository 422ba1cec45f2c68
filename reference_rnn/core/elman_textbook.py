"""The Elman cell, the textbook version: the forward pass and backpropagation through time, to read.

This is the readable reference a student compares their own code with, written as CS231n's
``rnn_layers.py`` and llm.c's ``layernorm.py`` are: a step forward and a step backward, and the
sequence functions as plain loops over t that call them. It computes what the fast version,
:mod:`~reference_rnn.core.elman`, computes (the same names and arguments; the results agree to
rounding, tested in float64 and float32), without what makes that one fast and safe: no hoisted
products, no blocking, no argument checks, no overflow checks, and a plain tuple for a cache.

Shapes: N batch, T time steps, D input features, H hidden units; batch-first::

    a_t = x_t @ Wx + h_{t-1} @ Wh + b        x_t (N, D), h_t (N, H), Wx (D, H), Wh (H, H), b (H,)
    h_t = tanh(a_t)                          (or relu(a_t))

    da_t = g_t * (1 - h_t**2)                (relu: g_t * (h_t > 0)), g_t = dL/dh_t
    dWx += x_t.T @ da_t;  dWh += h_{t-1}.T @ da_t;  db += da_t.sum(0)
    dx_t = da_t @ Wx.T;   dL/dh_{t-1} gets da_t @ Wh.T
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference_rnn.core.elman import Nonlinearity
from reference_rnn.core.validation import FloatArray

__all__ = ["rnn_backward", "rnn_forward", "rnn_step_backward", "rnn_step_forward"]

#: What a step's backward needs: x, prev_h, Wx, Wh, next_h and the nonlinearity.
StepCache = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, Nonlinearity]
Grads = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


def rnn_step_forward(
    x: FloatArray,
    prev_h: FloatArray,
    Wx: FloatArray,
    Wh: FloatArray,
    b: FloatArray,
    nonlinearity: Nonlinearity = "tanh",
) -> tuple[FloatArray, StepCache]:
    """``next_h = tanh(x @ Wx + prev_h @ Wh + b)``: x (N, D), prev_h (N, H) -> next_h (N, H)."""
    a = x @ Wx + prev_h @ Wh + b  # (N, H)
    next_h = np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)
    return next_h, (x, prev_h, Wx, Wh, next_h, nonlinearity)


def rnn_step_backward(dnext_h: FloatArray, cache: StepCache) -> Grads:
    """dnext_h (N, H) = dL/dnext_h -> dx (N, D), dprev_h (N, H), dWx, dWh, db."""
    x, prev_h, Wx, Wh, next_h, nonlinearity = cache
    # dL/da through the nonlinearity, whose derivative is written with its output next_h
    slope = 1 - next_h**2 if nonlinearity == "tanh" else next_h > 0
    da = dnext_h * slope  # (N, H)
    dx = da @ Wx.T  # (N, D)
    dprev_h = da @ Wh.T  # (N, H)
    dWx = x.T @ da  # (D, H)
    dWh = prev_h.T @ da  # (H, H)
    db = da.sum(axis=0)  # (H,): b was added to every row of the batch
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(
    x: FloatArray,
    h0: FloatArray,
    Wx: FloatArray,
    Wh: FloatArray,
    b: FloatArray,
    nonlinearity: Nonlinearity = "tanh",
) -> tuple[FloatArray, list[StepCache]]:
    """x (N, T, D), h0 (N, H) -> h (N, T, H), the state after every step; one cache per step."""
    N, T, _ = x.shape
    H = Wh.shape[0]
    h = np.zeros((N, T, H), dtype=np.result_type(x, h0, Wx, Wh, b))
    caches = []
    prev_h = h0
    for t in range(T):
        # the state carries over: step t starts from step t - 1's result, the first from h0
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b, nonlinearity)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh: FloatArray, caches: list[StepCache]) -> Grads:
    """dh (N, T, H) = dL/dh_t from above at every step -> dx (N, T, D), dh0 (N, H), dWx, dWh, db."""
    x, h0, Wx, Wh, _, _ = caches[0]
    N, H = h0.shape
    T, D = len(caches), Wx.shape[0]
    dtype: Any = np.result_type(dh, x, h0, Wx, Wh)
    dx = np.zeros((N, T, D), dtype=dtype)
    dWx = np.zeros((D, H), dtype=dtype)
    dWh = np.zeros((H, H), dtype=dtype)
    db = np.zeros(H, dtype=dtype)
    dprev_h = np.zeros((N, H), dtype=dtype)  # dL/dh_t through step t + 1: none after the last
    for t in reversed(range(T)):
        # h_t feeds both the loss at step t and step t + 1: its gradient is the sum of the two
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, caches[t])
        dx[:, t] = dx_t
        # the weights are shared by every step: their gradients add up over time
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db  # dprev_h is now dL/dh0
