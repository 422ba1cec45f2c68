"""An RNN in the Deep Learning Specialization's column layout. It passes ``check --api coursera``.

Every array is (features, batch[, time]): xt (n_x, m), a_prev (n_a, m), x (n_x, m, T_x); the
weights are in a ``parameters`` dict, Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1),
by (n_y, 1). Each step's prediction is a softmax over the n_y rows; the backward functions take
the gradient of every state and do not backpropagate the predictions.

    python -m reference_rnn check examples/coursera_rnn_step_by_step.py --api coursera
"""

import numpy as np


def softmax(z):
    """Over axis 0, the n_y rows of each column; shifted so that exp never overflows."""
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def rnn_cell_forward(xt, a_prev, parameters):
    """a_next (n_a, m) = tanh(Waa a_prev + Wax xt + ba); yt_pred (n_y, m); the cache."""
    p = parameters
    a_next = np.tanh(p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"])
    yt_pred = softmax(p["Wya"] @ a_next + p["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)


def rnn_forward(x, a0, parameters):
    """Every state a (n_a, m, T_x) and prediction y_pred (n_y, m, T_x), from a0 (n_a, m)."""
    _, m, T_x = x.shape  # (n_x, m, T_x)
    n_y, n_a = parameters["Wya"].shape
    a = np.zeros((n_a, m, T_x), dtype=np.result_type(x, a0))
    y_pred = np.zeros((n_y, m, T_x), dtype=a.dtype)
    caches, a_next = [], a0
    for t in range(T_x):
        a_next, y_pred[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        caches.append(cache)
    return a, y_pred, (caches, x)


def rnn_cell_backward(da_next, cache):
    """The gradients of one step for da_next = dL/da_next (n_a, m): dxt, da_prev, dWax, dWaa, dba."""
    a_next, a_prev, xt, p = cache
    dz = da_next * (1 - a_next**2)  # tanh' written with the output
    return {
        "dxt": p["Wax"].T @ dz,
        "da_prev": p["Waa"].T @ dz,
        "dWax": dz @ xt.T,
        "dWaa": dz @ a_prev.T,
        "dba": dz.sum(axis=1, keepdims=True),
    }


def rnn_backward(da, caches):
    """dx (n_x, m, T_x), da0 (n_a, m), dWax, dWaa, dba for da = dL/da_t at every step."""
    caches, x = caches
    n_a, m, T_x = da.shape
    p = caches[0][3]
    dx = np.zeros_like(x, dtype=da.dtype)
    grads = {"dWax": 0 * p["Wax"], "dWaa": 0 * p["Waa"], "dba": 0 * p["ba"]}
    da_prev = np.zeros((n_a, m), dtype=da.dtype)  # dL/da_t from step t + 1
    for t in reversed(range(T_x)):
        step = rnn_cell_backward(da[:, :, t] + da_prev, caches[t])
        dx[:, :, t], da_prev = step["dxt"], step["da_prev"]
        grads = {name: total + step[name] for name, total in grads.items()}
    return {"dx": dx, "da0": da_prev, **grads}
