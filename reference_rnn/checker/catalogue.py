"""The catalogue of well-known RNN mistakes: each a wrong variant of the reference.

The checker runs every variant on the same case as the user's code; where a check fails and the
user's result matches a variant's (see :mod:`reference_rnn.checker.diagnosis`), that mistake is named.
A variant is a whole wrong implementation, forward and backward, written the way the mistake is
usually made: it returns the same keys as :func:`reference_rnn.checker.battery.reference`. The ids are
fixed: tools read them.

Shapes: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,), dh and every state (N, T, H).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference_rnn.checker.apis import APIS
from reference_rnn.checker.battery import Implementation, Inputs, Values, reference
from reference_rnn.core.validation import FloatArray

__all__ = ["CATALOGUE", "MISTAKES", "Mistake", "applicable"]

_SEQUENCE_APIS = frozenset({"cs231n", "dlfs2", "sprint"})  # those that run T > 1 steps themselves
_ALL_APIS = frozenset(APIS)  # the names --api takes


@dataclass(frozen=True)
class Mistake:
    """One catalogued mistake.

    variant : the wrong implementation, or None when the mistake is found by the user's code's
        own behaviour (``batch-of-one-only``: the batch against its sequences one at a time;
        ``reads-global-weights``: the code run again with one weight changed).
    apis : where it can happen; a one-step API cannot get the time loop wrong, and at one step
        ignoring ``h_prev`` is ``ignores-initial-state``.
    carries_state : False when the variant's mistake is to start each block from zeros.
    float32_values : the user's values must be float32 numbers, and are matched at float32's
        tolerance; only float64 checks can show it.
    """

    id: str
    description: str
    variant: Implementation | None
    apis: frozenset[str] = _ALL_APIS
    carries_state: bool = True
    float32_values: bool = False


def _ignores_initial_state(a: Inputs) -> Values:
    return reference(a._replace(h0=np.zeros_like(a.h0)))


def _no_recurrence(a: Inputs) -> Values:
    return reference(a._replace(Wh=np.zeros_like(a.Wh)))  # h_t = tanh(x_t @ Wx + b)


def _recurrent_weight_transposed(a: Inputs) -> Values:
    r = reference(a._replace(Wh=a.Wh.T))  # h_{t-1} @ Wh.T
    return r | {"dWh": r["dWh"].T}  # the gradient of that with respect to Wh


def _missing_bias(a: Inputs) -> Values:
    return reference(a._replace(b=np.zeros_like(a.b)))


def _derivative_of_preactivation(a: Inputs) -> Values:
    h = reference(a)["h"]
    preactivation = a.x @ a.Wx + _previous(a, h) @ a.Wh + a.b
    return {"h": h} | _gradients(a, h, _bptt(a, 1 - preactivation**2))


def _dwh_uses_current_state(a: Inputs) -> Values:
    r = reference(a)
    da = _bptt(a, 1 - r["h"] ** 2)
    return r | {"dWh": np.einsum("nti,ntj->ij", r["h"], da)}  # h_t, not h_{t-1}


def _no_gradient_through_time(a: Inputs) -> Values:
    h = reference(a)["h"]
    return {"h": h} | _gradients(a, h, a.dh * (1 - h**2))  # no dL/dh_t from step t + 1


def _gradient_from_last_step_only(a: Inputs) -> Values:
    dh = np.zeros_like(a.dh)
    dh[:, -1] = a.dh[:, -1]
    return reference(a._replace(dh=dh))


def _bias_gradient_not_summed(a: Inputs) -> Values:
    r = reference(a)
    return r | {"db": _bptt(a, 1 - r["h"] ** 2).sum(axis=1)}  # (N, H): summed over time only


def _initial_state_gradient_missing(a: Inputs) -> Values:
    return reference(a) | {"dh0": np.zeros_like(a.h0)}


def _weight_gradients_overwritten(a: Inputs) -> Values:
    r = reference(a)
    da = _bptt(a, 1 - r["h"] ** 2)[:, 0]  # the last step a reversed loop visits, t = 0
    return r | {"dWx": a.x[:, 0].T @ da, "dWh": a.h0.T @ da, "db": da.sum(axis=0)}


def _float32_buffers(a: Inputs) -> Values:
    return {key: value.astype(np.float32).astype(np.float64) for key, value in reference(a).items()}


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


CATALOGUE = [
    Mistake(
        "ignores-initial-state",
        "the initial state (h0, h_prev) is not used: every sequence starts from zeros",
        _ignores_initial_state,
    ),
    Mistake(
        "no-recurrence",
        "h_{t-1} @ Wh is missing: every step is tanh(x_t @ Wx + b)",
        _no_recurrence,
        _SEQUENCE_APIS,
    ),
    Mistake(
        "recurrent-weight-transposed",
        "h_{t-1} @ Wh.T instead of h_{t-1} @ Wh",
        _recurrent_weight_transposed,
    ),
    Mistake("missing-bias", "the bias b is not added", _missing_bias),
    Mistake(
        "derivative-of-preactivation",
        "tanh's derivative taken as 1 - a_t**2 of the pre-activation a_t, not 1 - h_t**2",
        _derivative_of_preactivation,
    ),
    Mistake(
        "dWh-uses-current-state",
        "dWh sums h_t.T @ da_t instead of h_{t-1}.T @ da_t",
        _dwh_uses_current_state,
    ),
    Mistake(
        "no-gradient-through-time",
        "the gradient from step t + 1 (da_{t+1} @ Wh.T) is not added to dL/dh_t",
        _no_gradient_through_time,
        _SEQUENCE_APIS,
    ),
    Mistake(
        "gradient-from-last-step-only",
        "only the last step's upstream gradient dh[:, -1] is used; the others are dropped",
        _gradient_from_last_step_only,
        _SEQUENCE_APIS,
    ),
    Mistake(
        "bias-gradient-not-summed",
        "db is not summed over the batch: shape (N, H) instead of (H,)",
        _bias_gradient_not_summed,
    ),
    Mistake(
        "initial-state-gradient-missing",
        "the gradient with respect to the initial state (dh0, dh_prev) is zero",
        _initial_state_gradient_missing,
    ),
    Mistake(
        "batch-of-one-only",
        "works for a batch of one only: a batch gives an error or other results than its "
        "sequences one at a time",
        None,
    ),
    Mistake(
        "reads-global-weights",
        "a weight passed in is not used: the code reads a global or another fixed array instead",
        None,
    ),
    Mistake(
        "state-not-carried",
        "a stateful layer starts each block from zeros instead of the previous block's last state",
        reference,
        frozenset({"dlfs2"}),
        carries_state=False,
    ),
    Mistake(
        "weight-gradients-overwritten",
        "dWx, dWh and db are assigned at each step instead of summed: only t = 0's are left",
        _weight_gradients_overwritten,
        _SEQUENCE_APIS,
    ),
    Mistake(
        "float32-buffers",
        "float64 results pass through float32 arrays (deep-learning-from-scratch-2's "
        "np.empty(..., dtype='f'))",
        _float32_buffers,
        float32_values=True,
    ),
]

#: Every mistake's id and one-line description.
MISTAKES: dict[str, str] = {mistake.id: mistake.description for mistake in CATALOGUE}


def applicable(api: str, dtype: str) -> list[Mistake]:
    """The mistakes that ``api`` can make and a ``dtype`` check can show."""
    return [m for m in CATALOGUE if api in m.apis and not (m.float32_values and dtype != "float64")]
