"""What every cell's core module shares: sealed caches, their checks, and the finiteness checks.

A cell's module (:mod:`~reference_rnn.core.elman` today) computes; this module holds the rest of
the contract its functions keep, written once so that a new cell reuses it:

- the caches are read-only down to their memory (:func:`sealed`), and a backward function takes
  only a cache that one of its cell's forward functions made (:func:`register`,
  :func:`check_cache`);
- a sequence has at least one step, and an initial state is the caller's or zeros
  (:func:`caller_shape`, :func:`initial_state`);
- NaN and inf: arguments are refused by name (:func:`require_all_finite`), and results that
  overflow from finite arguments are a :class:`NonFiniteResultError` that names the result and its
  first bad time step (:func:`require_finite_steps`, :func:`require_finite_gradients`,
  :func:`non_finite`).

Per-step arrays are time-major, ``(T, N, F)``, as inside every cell's module.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np

from reference_rnn.core.validation import (
    FloatArray,
    NonFiniteResultError,
    as_real_array,
    check_shape,
    require_finite,
)

__all__ = [
    "caller_shape",
    "check_cache",
    "finite",
    "initial_state",
    "non_finite",
    "register",
    "require_all_finite",
    "require_finite_gradients",
    "require_finite_steps",
    "sealed",
]


def sealed(arr: FloatArray) -> FloatArray:
    """A read-only view of C-contiguous ``arr`` whose base is a read-only buffer.

    ``flags.writeable = True`` raises on it and on every view of it, so the memory cannot be
    written through it; whoever still holds ``arr`` itself can (callers drop it).
    """
    return np.asarray(arr.data.toreadonly())


#: Every cache a forward function made and that is still alive: backward takes no other.
_MADE: weakref.WeakSet[object] = weakref.WeakSet()


def register(cache: object) -> None:
    """Record ``cache`` as made by a forward function (the only caches a backward takes)."""
    _MADE.add(cache)


def check_cache(cache: object, kind: type[Any], *, step: bool, made_by: tuple[str, str]) -> None:
    """``cache`` is a ``kind`` that a forward function made, of the step form or not.

    ``made_by`` names the cell's step forward and its sequence forward, for the message.
    """
    step_forward, sequence_forward = made_by
    wanted, other = (step_forward, sequence_forward) if step else (sequence_forward, step_forward)
    if not isinstance(cache, kind):
        msg = f"cache must be the cache returned by {wanted}, got {type(cache).__name__}"
        raise TypeError(msg)
    if cache not in _MADE:
        msg = (
            f"cache must be the cache returned by {wanted}, got an {kind.__name__} that no "
            "forward function made (built by hand or with dataclasses.replace)"
        )
        raise TypeError(msg)
    if cache.step != step:
        msg = f"cache must be the cache returned by {wanted}, got the cache of {other}"
        raise TypeError(msg)


def caller_shape(x: FloatArray, step: bool) -> tuple[int, ...]:
    """The shape of the time-major ``x (T, N, D)`` as the caller passed it; T is at least 1."""
    T, N, D = x.shape
    x_shape = (N, D) if step else (N, T, D)
    if T == 0:
        msg = f"x must have at least one time step, got shape {x_shape}"
        raise ValueError(msg)
    return x_shape


def initial_state(
    name: str, h0: object | None, shape: tuple[int, ...], why: str, *arrays: FloatArray
) -> FloatArray:
    """``h0`` checked to ``shape`` (``why`` says where its sizes come from), or zeros for None.

    The zeros have the dtype of ``arrays`` (the other arguments) together.
    """
    if h0 is None:
        return np.zeros(shape, dtype=np.result_type(*arrays))
    h0_arr = as_real_array(name, h0)
    check_shape(name, h0_arr, shape, why)
    return h0_arr


def require_all_finite(named: Iterable[tuple[str, FloatArray]]) -> None:
    """No NaN or inf in any of the named arguments; the first bad one is named."""
    for name, arr in named:
        require_finite(name, arr)


def finite(*arrays: FloatArray) -> bool:
    """No NaN or inf in ``arrays``, by their sums: one pass each and no temporary.

    A NaN or inf makes a sum NaN or inf; a sum that overflows from finite values is a false
    alarm, which the caller's element-wise check then clears. Callers hold
    ``np.errstate(over="ignore", invalid="ignore")``: entering it costs as much as a small sum.
    """
    return all(math.isfinite(float(a.sum())) for a in arrays)


def require_finite_steps(what: str, a: FloatArray) -> None:
    """No NaN or inf in the time-major ``a (T, N, F)``; otherwise an error at its first bad step."""
    if not finite(a) and not np.isfinite(a).all():
        bad = ~np.all(np.isfinite(a).reshape(a.shape[0], a.shape[1], -1), axis=2)  # (T, N)
        t = int(np.argmax(np.any(bad, axis=1)))
        raise non_finite(what, a[t : t + 1], t, row=int(np.argmax(bad[t])))


def require_finite_gradients(named: tuple[tuple[str, FloatArray], ...]) -> None:
    """No NaN or inf in the named gradients that have no time steps (``dh0``, ``dWx``, ...)."""
    for name, grad in () if finite(*(grad for _, grad in named)) else named:
        if not np.isfinite(grad).all():
            msg = f"the gradient {name}"
            raise non_finite(msg, grad[None, None], None)


def non_finite(what: str, a: FloatArray, step: int | None, row: int = 0) -> NonFiniteResultError:
    """The error for a non-finite ``a (1, N, F)``, found at ``step``."""
    detail = "it is NaN" if np.isnan(a).any() else "it reached inf"
    return NonFiniteResultError(what, a.dtype, detail, step, row)
