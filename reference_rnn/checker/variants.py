"""The catalogue's wrong variants, each written the way the mistake is usually made.

A variant is a whole wrong implementation (its values keyed as
:func:`reference_rnn.checker.battery.reference`'s), or a change of the reference's inputs or
results (``transformed`` in :mod:`reference_rnn.checker.catalogue` runs those).
Shapes: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,), dh and every state (N, T, H).
"""

from __future__ import annotations

__all__ = [
    "STAGES",
    "averaged",
    "backward_of_states",
    "backward_with",
    "float32_buffers",
    "h0_gradient_zero",
    "last_state_gradient_everywhere",
    "last_step_not_computed",
    "last_step_upstream_only",
    "recurrent_weight_transposed",
    "transposed",
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


#: A backward written by hand, by its stages: each a choice, the first the right one. A mistake
#: inside the backward is one stage's other choice (:func:`backward_with`), so that two or three
#: of them, in different stages, make one backward together, as one person's code has them.
STAGES: dict[str, tuple[str, ...]] = {
    # dh_t/da_t: 1 - h_t**2; of the pre-activation, 1 - a_t**2; or 1 - tanh(h_t)**2
    "slope": ("output", "preactivation", "tanh-of-output"),
    "twice": ("no", "yes"),  # tanh's derivative multiplied in once more
    "through-time": ("yes", "no"),  # da_{t+1} @ Wh.T added to dL/dh_t
    "dWh-state": ("previous", "current", "no-initial"),  # h_{t-1}; h_t; h_{t-1} with h_{-1} = 0
    "weights": ("summed", "overwritten"),  # summed over t, or only t = 0's left
    "bias": ("summed", "unsummed"),  # db summed over the batch, or (N, H)
}


_RIGHT = {stage: options[0] for stage, options in STAGES.items()}


def backward_with(**choices: str) -> Implementation:
    """The reference's states with a backward whose stages are :data:`STAGES`' ``choices``."""
    chosen = _RIGHT | choices

    def run(a: Inputs) -> Values:
        h = reference(a)["h"]
        return {"h": h} | _staged(a, h, chosen)

    return run


def _staged(a: Inputs, h: FloatArray, chosen: dict[str, str]) -> Values:
    """dx, dh0, dWx, dWh and db given the states ``h``, by the ``chosen`` stages."""
    previous = _previous(a, h)
    slope: FloatArray  # dh_t/da_t as the code takes it
    if chosen["slope"] == "preactivation":
        slope = 1 - (a.x @ a.Wx + previous @ a.Wh + a.b) ** 2
    elif chosen["slope"] == "tanh-of-output":
        slope = np.asarray(1 - np.tanh(h) ** 2, dtype=np.float64)
    else:
        slope = 1 - h**2
    if chosen["twice"] == "yes":
        slope = slope * (1 - h**2)
    # without the gradient through time, no dL/dh_t from step t + 1
    da = _bptt(a, slope) if chosen["through-time"] == "yes" else a.dh * slope
    state = {"previous": previous, "current": h, "no-initial": previous.copy()}[chosen["dWh-state"]]
    if chosen["dWh-state"] == "no-initial":
        state[:, 0] = 0  # the state before t = 0 taken as zeros
    if chosen["weights"] == "overwritten":  # assigned at each step: the last a reversed loop
        steps = slice(0, 1)  # visits, t = 0, is left
        x, state, da_w = a.x[:, steps], state[:, steps], da[:, steps]
    else:
        x, da_w = a.x, da
    db = da_w.sum(axis=1) if chosen["bias"] == "unsummed" else da_w.sum(axis=(0, 1))
    return {
        "dx": da @ a.Wx.T,
        "dh0": da[:, 0] @ a.Wh.T,
        "dWx": np.einsum("ntd,nth->dh", x, da_w),
        "dWh": np.einsum("nti,ntj->ij", state, da_w),
        "db": db,
    }


def float32_buffers(values: Values, _: Inputs) -> Values:
    return {key: value.astype(np.float32).astype(np.float64) for key, value in values.items()}


def backward_of_states(variant: Implementation) -> Implementation:
    """``variant``'s forward, with a backward right for the states it computed: the reference's
    backpropagation through time from those states (a right backward after a wrong forward,
    which reads the states the forward cached)."""

    def run(a: Inputs) -> Values:
        values = variant(a)
        h = values["h"]
        return values | _staged(a, h, _RIGHT)

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
