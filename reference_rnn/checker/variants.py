"""The catalogue's wrong variants, each written the way the mistake is usually made.

A variant is a whole wrong implementation (its values keyed as
:func:`reference_rnn.checker.battery.reference`'s), or a change of the reference's inputs or
results (``transformed`` in :mod:`reference_rnn.checker.catalogue` runs those).
Shapes: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,), dh and every state (N, T, H).
"""

from __future__ import annotations

__all__ = [
    "averaged",
    "backward_of_states",
    "bias_gradient_not_summed",
    "derivative_of_preactivation",
    "dwh_missing_initial_term",
    "dwh_uses_current_state",
    "float32_buffers",
    "h0_gradient_zero",
    "last_state_gradient_everywhere",
    "last_step_not_computed",
    "last_step_upstream_only",
    "no_gradient_through_time",
    "recurrent_weight_transposed",
    "tanh_derivative_of_output",
    "tanh_derivative_twice",
    "transposed",
    "weight_gradients_overwritten",
    "zero",
]

from collections.abc import Callable

import numpy as np

from reference_rnn.checker.battery import Implementation, Inputs, Values, reference
from reference_rnn.core.validation import FloatArray


def zero(name: str) -> Callable[[Inputs], Inputs]:
    return lambda a: a._replace(**{name: np.zeros_like(getattr(a, name))})


def h0_gradient_zero(values: Values, a: Inputs) -> Values:
    return values | {"dh0": np.zeros_like(a.h0)}


def last_step_upstream_only(a: Inputs) -> Inputs:
    dh = np.zeros_like(a.dh)
    dh[:, -1] = a.dh[:, -1]
    return a._replace(dh=dh)


def transposed(a: Inputs) -> Inputs:
    return a._replace(Wh=a.Wh.T)  # h_{t-1} @ Wh.T


def recurrent_weight_transposed(values: Values, _: Inputs) -> Values:
    return values | {"dWh": values["dWh"].T}  # the gradient of h_{t-1} @ Wh.T with respect to Wh


def averaged(values: Values, a: Inputs) -> Values:
    N = a.x.shape[0]
    return values | {key: values[key] / N for key in ("dWx", "dWh", "db")}


def last_state_gradient_everywhere(a: Inputs) -> Inputs:
    return a._replace(dh=np.broadcast_to(a.dh[:, -1:], a.dh.shape).copy())


def last_step_not_computed(a: Inputs) -> Values:
    T = a.x.shape[1]
    if T == 1:  # the loop runs no step: everything stays as allocated, zeros
        return {key: np.zeros_like(value) for key, value in reference(a).items()}
    r = reference(a._replace(x=a.x[:, :-1], dh=a.dh[:, :-1]))
    pad = [(0, 0), (0, 1), (0, 0)]  # h[:, T-1] and dx[:, T-1] stay zero
    return r | {"h": np.pad(r["h"], pad), "dx": np.pad(r["dx"], pad)}


def dwh_missing_initial_term(a: Inputs) -> Values:
    r = reference(a)
    da = _bptt(a, 1 - r["h"] ** 2)
    return r | {"dWh": r["dWh"] - a.h0.T @ da[:, 0]}  # the previous state at t = 0 taken as zeros


def tanh_derivative_twice(a: Inputs) -> Values:
    h = reference(a)["h"]
    return {"h": h} | _gradients(a, h, _bptt(a, (1 - h**2) ** 2))


def tanh_derivative_of_output(a: Inputs) -> Values:
    h = reference(a)["h"]
    return {"h": h} | _gradients(a, h, _bptt(a, 1 - np.tanh(h) ** 2))


def derivative_of_preactivation(a: Inputs) -> Values:
    h = reference(a)["h"]
    preactivation = a.x @ a.Wx + _previous(a, h) @ a.Wh + a.b
    return {"h": h} | _gradients(a, h, _bptt(a, 1 - preactivation**2))


def dwh_uses_current_state(a: Inputs) -> Values:
    r = reference(a)
    da = _bptt(a, 1 - r["h"] ** 2)
    return r | {"dWh": np.einsum("nti,ntj->ij", r["h"], da)}  # h_t, not h_{t-1}


def no_gradient_through_time(a: Inputs) -> Values:
    h = reference(a)["h"]
    return {"h": h} | _gradients(a, h, a.dh * (1 - h**2))  # no dL/dh_t from step t + 1


def bias_gradient_not_summed(a: Inputs) -> Values:
    r = reference(a)
    return r | {"db": _bptt(a, 1 - r["h"] ** 2).sum(axis=1)}  # (N, H): summed over time only


def weight_gradients_overwritten(a: Inputs) -> Values:
    r = reference(a)
    da = _bptt(a, 1 - r["h"] ** 2)[:, 0]  # the last step a reversed loop visits, t = 0
    return r | {"dWx": a.x[:, 0].T @ da, "dWh": a.h0.T @ da, "db": da.sum(axis=0)}


def float32_buffers(values: Values, _: Inputs) -> Values:
    return {key: value.astype(np.float32).astype(np.float64) for key, value in values.items()}


def backward_of_states(variant: Implementation) -> Implementation:
    """``variant``'s forward, with a backward right for the states it computed: the reference's
    backpropagation through time from those states (a right backward after a wrong forward,
    which reads the states the forward cached)."""

    def run(a: Inputs) -> Values:
        values = variant(a)
        h = values["h"]
        return values | _gradients(a, h, _bptt(a, 1 - h**2))

    return run


def _previous(a: Inputs, h: FloatArray) -> FloatArray:
    """h_{t-1} for every step: (N, T, H), h0 first."""
    return np.concatenate([a.h0[:, None], h[:, :-1]], axis=1)


def _bptt(a: Inputs, slope: FloatArray) -> FloatArray:
    """dL/da_t (N, T, H) for ``slope = dh_t/da_t``, with the gradient flowing back through time."""
    da = np.empty_like(a.dh)
    g = np.zeros_like(a.h0)  # dL/dh_t through step t + 1
    for t in reversed(range(a.dh.shape[1])):
        da[:, t] = (a.dh[:, t] + g) * slope[:, t]
        g = da[:, t] @ a.Wh.T
    return da


def _gradients(a: Inputs, h: FloatArray, da: FloatArray) -> Values:
    """dx, dh0, dWx, dWh and db, correct given the states ``h`` and ``da = dL/da_t``."""
    return {
        "dx": da @ a.Wx.T,
        "dh0": da[:, 0] @ a.Wh.T,
        "dWx": np.einsum("ntd,nth->dh", a.x, da),
        "dWh": np.einsum("nti,ntj->ij", _previous(a, h), da),
        "db": da.sum(axis=(0, 1)),
    }
