"""A plain RNN written here, independently of reference_rnn, for each API the checker knows.

``make(api, mistake)`` gives the correct implementation (``mistake=None``) or the same code with
one catalogued mistake planted, written as a person would make it. Shapes: x (N, T, D),
h0 (N, H), Wx (D, H), Wh (H, H), b (H,), states and dh (N, T, H).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

# the exercise's module-level w_x (D=2, H=4), which its SimpleRNN reads instead of its argument
W_X = np.array([[1, 3, 5, 7], [3, 5, 7, 8]]) / 100


def forward(x, h0, Wx, Wh, b, mistake=None):
    """Every state (N, T, H), and the cache for :func:`backward`."""
    T = x.shape[1]
    if mistake == "reads-global-weights":
        Wx = W_X
    if mistake == "ignores-initial-state":
        h0 = np.zeros_like(h0)
    if mistake == "batch-of-one-only":
        h0 = h0[0]  # fine for a batch of one; a batch starts from its first sequence's state
    W = Wh.T if mistake == "recurrent-weight-transposed" else Wh
    if mistake == "no-recurrence":
        W = np.zeros_like(Wh)
    bias = np.zeros_like(b) if mistake == "missing-bias" else b
    states, pre = [], []
    h_prev = h0
    for t in range(T - 1 if mistake == "last-step-not-computed" else T):
        a = x[:, t] @ Wx + h_prev @ W + bias
        h_prev = np.tanh(a)
        pre.append(a)
        states.append(h_prev)
    if mistake == "last-step-not-computed":  # as if allocated with zeros and filled in a loop
        zeros = np.zeros((x.shape[0], Wx.shape[1]), dtype=np.result_type(x, Wx))
        states.append(zeros)
        pre.append(zeros)
    h = np.stack(states, axis=1)
    h0 = np.broadcast_to(h0, h[:, 0].shape)
    return h, (x, h0, Wx, W, h, np.stack(pre, axis=1))


def backward(dh, cache, mistake=None):
    """dx, dh0, dWx, dWh, db for the upstream gradient dh (N, T, H)."""
    x, h0, Wx, W, h, a = cache
    N, T, H = h.shape
    previous = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    dx = np.zeros_like(x, dtype=h.dtype)
    dWx, dW = np.zeros_like(Wx, dtype=h.dtype), np.zeros_like(W, dtype=h.dtype)
    db = np.zeros((N, H) if mistake == "bias-gradient-not-summed" else H, dtype=h.dtype)
    if mistake == "dWh-missing-initial-state-term":
        previous[:, 0] = 0
    g = np.zeros_like(h[:, 0])  # dL/dh_t from step t + 1
    for t in reversed(range(T - 1 if mistake == "last-step-not-computed" else T)):
        upstream = dh[:, t]
        if mistake == "gradient-from-last-step-only" and t < T - 1:
            upstream = 0
        if mistake == "last-state-gradient-at-every-step":
            upstream = dh[:, T - 1]
        if mistake == "no-gradient-through-time":
            g = 0
        if mistake == "modifies-its-arguments":  # da made in place: in the caller's dh
            da = dh[:, t]
            da += g
            da *= 1 - h[:, t] ** 2
        elif mistake == "derivative-of-preactivation":
            da = (upstream + g) * (1 - a[:, t] ** 2)
        elif mistake == "tanh-derivative-of-output":
            da = (upstream + g) * (1 - np.tanh(h[:, t]) ** 2)
        else:
            da = (upstream + g) * (1 - h[:, t] ** 2)
        if mistake == "tanh-derivative-applied-twice":
            da = da * (1 - h[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        state = h[:, t] if mistake == "dWh-uses-current-state" else previous[:, t]
        if mistake == "weight-gradients-overwritten":
            dWx, dW, db = x[:, t].T @ da, state.T @ da, da.sum(axis=0)
        else:
            dWx += x[:, t].T @ da
            dW += state.T @ da
            db += da if mistake == "bias-gradient-not-summed" else da.sum(axis=0)
        g = da @ W.T
    dWh = dW.T if mistake == "recurrent-weight-transposed" else dW
    dh0 = np.zeros_like(g) if mistake == "initial-state-gradient-missing" else g
    if mistake == "gradients-averaged-over-batch":  # the mini-batch mean, on purpose
        dWx, dWh, db = dWx / N, dWh / N, db / N
    return dx, dh0, dWx, dWh, db


def _layout(mistake):
    """How every state is returned: (N, T, H), or time-major (T, N, H)."""
    if mistake in ("time-major-output", "time-major-throughout"):
        return lambda h: h.swapaxes(0, 1)
    return lambda h: h


def _read(mistake):
    """How x and dh are read: (N, T, .), or time-major (T, N, .), swapped to the math's layout."""
    if mistake == "time-major-throughout":
        return lambda a: a.swapaxes(0, 1)
    return lambda a: a


def _updated(layer, mistake):
    """The gradients filled in, or an optimizer step taken inside backward instead."""

    def keep(grads):
        if mistake == "weights-updated-in-backward":
            for param, grad in zip(layer.params, grads, strict=True):
                np.subtract(param, 0.1 * grad, out=param)  # in place, as an optimizer does
        else:
            layer.grads = list(grads)

    return keep


def _generator(backward, mistake):
    """backward as written, or with a stray yield that makes it a generator."""
    if mistake != "backward-is-generator":
        return backward

    def generator(*args):
        yield backward(*args)

    return generator


def _stored(mistake):
    """How results are stored: float32 buffers, as deep-learning-from-scratch-2 does."""
    if mistake == "float32-buffers":
        return lambda a: a.astype(np.float32)
    return lambda a: a


def cs231n(mistake=None) -> SimpleNamespace:
    store = _stored(mistake)

    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        h, cache = forward(x[:, None], prev_h, Wx, Wh, b, mistake)
        return store(h[:, 0]), cache

    def rnn_step_backward(dnext_h, cache):
        dx, dprev_h, dWx, dWh, db = backward(dnext_h[:, None], cache, mistake)
        return store(dx[:, 0]), dprev_h, dWx, dWh, db

    def rnn_forward(x, h0, Wx, Wh, b):
        h, cache = forward(_read(mistake)(x), h0, Wx, Wh, b, mistake)
        return _layout(mistake)(store(h)), cache

    def rnn_backward(dh, cache):
        dx, dh0, dWx, dWh, db = backward(_read(mistake)(dh), cache, mistake)
        return _read(mistake)(store(dx)), dh0, dWx, dWh, db

    return SimpleNamespace(
        rnn_step_forward=rnn_step_forward,
        rnn_step_backward=_generator(rnn_step_backward, mistake),
        rnn_forward=rnn_forward,
        rnn_backward=_generator(rnn_backward, mistake),
    )


def time_rnn(mistake=None) -> type:
    store = _stored(mistake)

    class TimeRNN:
        def __init__(self, Wx, Wh, b, stateful=False):
            self.params = [Wx, Wh, b]
            self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
            self.h, self.dh, self.stateful = None, None, stateful

        def set_state(self, h):
            self.h = h

        def reset_state(self):
            self.h = None

        def forward(self, xs):
            xs = _read(mistake)(xs)
            Wx, Wh, b = self.params
            h0 = self.h
            if not self.stateful or h0 is None:
                h0 = np.zeros((xs.shape[0], Wx.shape[1]), dtype=xs.dtype)
            hs, self.cache = forward(xs, h0, Wx, Wh, b, mistake)
            self.h = None if mistake == "state-not-carried" else hs[:, -1]
            return _layout(mistake)(store(hs))

        def backward(self, dhs):
            dxs, self.dh, *grads = backward(_read(mistake)(dhs), self.cache, mistake)
            _updated(self, mistake)(grads)
            return _read(mistake)(store(dxs))

    TimeRNN.backward = _generator(TimeRNN.backward, mistake)
    return TimeRNN


def cell(mistake=None) -> type:
    store = _stored(mistake)

    class RNN:
        def __init__(self, Wx, Wh, b):
            self.params = [Wx, Wh, b]
            self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]

        def forward(self, x, h_prev):
            h, self.cache = forward(x[:, None], h_prev, *self.params, mistake)
            return store(h[:, 0])

        def backward(self, dh_next):
            dx, dh_prev, *grads = backward(dh_next[:, None], self.cache, mistake)
            _updated(self, mistake)(grads)
            return store(dx[:, 0]), dh_prev

    RNN.backward = _generator(RNN.backward, mistake)
    return RNN


def sprint(mistake=None, *, sequences=True) -> type:
    """The exercise's SimpleRNN: every state (N, T, H), or the final one (N, H)."""
    store = _stored(mistake)

    class SimpleRNN:
        def __init__(self, Wx, Wh, b):
            self.params = [Wx, Wh, b]
            self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
            self.dh_prev = None

        def forward(self, x, h_prev):
            h, self.cache = forward(_read(mistake)(x), h_prev, *self.params, mistake)
            return _layout(mistake)(store(h)) if sequences else store(h[:, -1])

        def backward(self, dout):
            if sequences:
                dh = _read(mistake)(dout)
            else:
                dh = np.zeros_like(self.cache[4])
                dh[:, -1] = dout
            dx, self.dh_prev, *grads = backward(dh, self.cache, mistake)
            _updated(self, mistake)(grads)
            return _read(mistake)(store(dx))

    SimpleRNN.backward = _generator(SimpleRNN.backward, mistake)
    return SimpleRNN


def cs231n_torch(mistake=None) -> SimpleNamespace:
    """CS231n's functions taking and returning torch tensors (EECS 498), the math as above."""
    import torch

    module = cs231n(mistake)

    def tensors(function):
        def call(*args):
            result = function(*(a.numpy() if isinstance(a, torch.Tensor) else a for a in args))
            if not isinstance(result, tuple):  # a generator: the stray yield's
                return result
            if len(result) == 2:  # forward: (h, cache)
                return torch.tensor(np.asarray(result[0])), result[1]
            return tuple(torch.tensor(np.asarray(r)) for r in result)

        return call

    return SimpleNamespace(**{name: tensors(f) for name, f in vars(module).items()})


def coursera(mistake=None) -> SimpleNamespace:
    """The Deep Learning Specialization's four functions, in its column layout, on the math above.

    Arrays are (features, batch[, time]); the weights come in a ``parameters`` dict.
    """
    store = _stored(mistake)

    def predictions(h, p):  # h (N, T, H) -> softmax(Wya a_t + by) (n_y, N, T)
        z = np.einsum("qh,nth->qnt", p["Wya"], h) + p["by"][:, :, None]
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def weights(p):
        return p["Wax"].T, p["Waa"].T, p["ba"][:, 0]

    def bias(db):
        if mistake == "column-bias-gradient-flat":
            return db  # (n_a,): summed without keepdims
        return db.T if db.ndim == 2 else db[:, None]  # (n_a, m) when not summed over the batch

    def gradients(dx, dh0, dWx, dWh, db, dx_name):
        return {
            dx_name: dx,
            "da" + ("_prev" if dx_name == "dxt" else "0"): dh0.T,
            "dWax": dWx.T,
            "dWaa": dWh.T,
            "dba": bias(db),
        }

    def rnn_cell_forward(xt, a_prev, parameters):
        h, cache = forward(xt.T[:, None], a_prev.T, *weights(parameters), mistake)
        return store(h[:, 0].T), store(predictions(h, parameters)[:, :, 0]), cache

    def rnn_cell_backward(da_next, cache):
        dx, dh0, dWx, dWh, db = backward(da_next.T[:, None], cache, mistake)
        return gradients(store(dx[:, 0].T), dh0, dWx, dWh, db, "dxt")

    def rnn_forward(x, a0, parameters):
        h, cache = forward(x.transpose(1, 2, 0), a0.T, *weights(parameters), mistake)
        _, m, T_x = x.shape  # (n_x, m, T_x)
        if mistake == "column-input-as-rows":
            m, _, T_x = x.shape
        a = np.zeros((a0.shape[0], m, T_x))
        y_pred = np.zeros((parameters["Wya"].shape[0], m, T_x))
        a[:] = h.transpose(2, 0, 1)  # as the loop's a[:, :, t] = a_next broadcasts, or fails
        y_pred[:] = predictions(h, parameters)
        return store(a), store(y_pred), cache

    def rnn_backward(da, caches):
        dx, dh0, dWx, dWh, db = backward(da.transpose(1, 2, 0), caches, mistake)
        return gradients(store(dx.transpose(2, 0, 1)), dh0, dWx, dWh, db, "dx")

    return SimpleNamespace(
        rnn_cell_forward=rnn_cell_forward,
        rnn_cell_backward=_generator(rnn_cell_backward, mistake),
        rnn_forward=rnn_forward,
        rnn_backward=_generator(rnn_backward, mistake),
    )


def d2l(mistake=None):
    """d2l's ``rnn(inputs, state, params)`` in torch, written here; autograd gives the gradients."""
    import torch

    def rnn(inputs, state, params):
        W_xh, W_hh, b_h, W_hq, b_q = params
        if mistake == "reads-global-weights":
            W_xh = torch.tensor(W_X, dtype=inputs.dtype)
        (H,) = state
        if mistake == "ignores-initial-state":
            H = torch.zeros_like(H)
        if mistake == "batch-of-one-only":
            H = H[0]
        W = W_hh.T if mistake == "recurrent-weight-transposed" else W_hh
        if mistake == "no-recurrence":
            W = torch.zeros_like(W_hh)
        bias = 0 * b_h.detach() if mistake == "missing-bias" else b_h
        outputs = []
        for X in inputs[:-1] if mistake == "last-step-not-computed" else inputs:
            H = torch.tanh(X @ W_xh + H @ W + bias)
            if mistake == "in-place-write":
                H.clamp_(-1, 1)  # tanh's backward needs its output as it was
            if mistake == "leaves-the-graph":
                H = torch.from_numpy(H.detach().numpy())
            Y = H @ W_hq + b_q
            if mistake == "float32-buffers":
                H, Y = H.to(torch.float32), Y.to(torch.float32)
            outputs.append(Y)
        if mistake == "last-step-not-computed":  # as if allocated with zeros
            H = torch.zeros((inputs.shape[1], W_hh.shape[0]), dtype=inputs.dtype)
            outputs.append(H @ W_hq + b_q)
        return torch.cat(outputs, dim=0), (H,)

    return rnn


class Both(tuple):
    """Two mistakes planted at once: equal to each of them, as the code above compares."""

    __slots__ = ()

    def __eq__(self, other):
        return other in tuple(self)

    def __ne__(self, other):
        return other not in tuple(self)

    __hash__ = tuple.__hash__


def make(api: str, mistake: str | tuple[str, ...] | None = None) -> Any:
    """The implementation for ``api`` with ``mistake`` planted (None: correct; a tuple: each)."""
    makers = {
        "cs231n": cs231n,
        "cs231n-torch": cs231n_torch,
        "coursera": coursera,
        "d2l": d2l,
        "dlfs2": time_rnn,
        "dlfs2-cell": cell,
        "sprint": sprint,
    }
    return makers[api](Both(mistake) if isinstance(mistake, tuple) else mistake)
