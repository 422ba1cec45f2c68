"""Coursera's LSTM ("Building your Recurrent Neural Network - Step by Step"), from its equations.

The column layout: an example per column, xt (n_x, m), a_prev and c_prev (n_a, m); the sequence
x (n_x, m, T_x) and every state (n_a, m, T_x). Each gate has its own matrix over the concatenation
[a_prev; xt], (n_a, n_a + n_x), and its bias (n_a, 1):

    ft = sigmoid(Wf @ concat + bf)    it = sigmoid(Wi @ concat + bi)    ot = sigmoid(Wo @ concat + bo)
    cct = tanh(Wc @ concat + bc)      c_next = ft * c_prev + it * cct   a_next = ot * tanh(c_next)
    yt_pred = softmax(Wy @ a_next + by)

``lstm_forward`` starts from c0 = 0; ``lstm_backward`` takes the gradient of every hidden state,
``da`` (n_a, m, T_x), and carries both the hidden and the cell state's gradients back in time.
"""

import numpy as np

GATES = ("f", "i", "c", "o")


def sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large negative x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(x):
    """Over the classes, axis 0."""
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    """One step: a_next, c_next (n_a, m), yt_pred (n_y, m) and the cache."""
    p = parameters
    concat = np.concatenate([a_prev, xt], axis=0)  # (n_a + n_x, m)
    ft = sigmoid(p["Wf"] @ concat + p["bf"])
    it = sigmoid(p["Wi"] @ concat + p["bi"])
    cct = np.tanh(p["Wc"] @ concat + p["bc"])
    ot = sigmoid(p["Wo"] @ concat + p["bo"])
    c_next = ft * c_prev + it * cct
    a_next = ot * np.tanh(c_next)
    yt_pred = softmax(p["Wy"] @ a_next + p["by"])
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next, c_next, yt_pred, cache


def lstm_forward(x, a0, parameters):
    """Every hidden state a, prediction y and cell state c over x (n_x, m, T_x), from a0 and c0 = 0."""
    _, m, T_x = x.shape
    n_y, n_a = parameters["Wy"].shape
    dtype = np.result_type(x, a0, *parameters.values())
    a, c, y = (np.zeros((rows, m, T_x), dtype) for rows in (n_a, n_a, n_y))
    a_next, c_next, caches = a0, np.zeros_like(a0), []
    for t in range(T_x):
        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t], c[:, :, t], y[:, :, t] = a_next, c_next, yt
        caches.append(cache)
    return a, y, c, (caches, x)


def lstm_cell_backward(da_next, dc_next, cache):
    """The gradients of one step: dxt, da_prev, dc_prev and each gate's dW (n_a, n_a + n_x), db (n_a, 1)."""
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p = cache
    n_a = a_next.shape[0]
    tanh_c = np.tanh(c_next)
    dc = dc_next + da_next * ot * (1 - tanh_c**2)  # both paths into c_next
    dpre = {  # the gradient of each gate's pre-activation
        "f": dc * c_prev * ft * (1 - ft),
        "i": dc * cct * it * (1 - it),
        "c": dc * it * (1 - cct**2),
        "o": da_next * tanh_c * ot * (1 - ot),
    }
    concat = np.concatenate([a_prev, xt], axis=0)
    dconcat = sum(p[f"W{g}"].T @ dpre[g] for g in GATES)  # (n_a + n_x, m)
    gradients = {"dxt": dconcat[n_a:], "da_prev": dconcat[:n_a], "dc_prev": dc * ft}
    for g in GATES:
        gradients[f"dW{g}"] = dpre[g] @ concat.T
        gradients[f"db{g}"] = dpre[g].sum(axis=1, keepdims=True)
    return gradients


def lstm_backward(da, caches):
    """dx (n_x, m, T_x), da0 (n_a, m) and each gate's dW, db, given da = dL/da_t at every step."""
    caches, x = caches
    n_a, m, T_x = da.shape
    gradients = {"dx": np.zeros_like(x, dtype=da.dtype)}
    for g in GATES:
        gradients[f"dW{g}"] = np.zeros_like(caches[0][9][f"W{g}"], dtype=da.dtype)
        gradients[f"db{g}"] = np.zeros((n_a, 1), da.dtype)
    da_prev, dc_prev = np.zeros((n_a, m), da.dtype), np.zeros((n_a, m), da.dtype)
    for t in reversed(range(T_x)):
        step = lstm_cell_backward(da[:, :, t] + da_prev, dc_prev, caches[t])
        gradients["dx"][:, :, t] = step["dxt"]
        da_prev, dc_prev = step["da_prev"], step["dc_prev"]
        for g in GATES:
            gradients[f"dW{g}"] += step[f"dW{g}"]
            gradients[f"db{g}"] += step[f"db{g}"]
    gradients["da0"] = da_prev
    return gradients
