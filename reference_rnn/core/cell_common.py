"""What every cell's core module shares: sealed caches, their checks, and the finiteness checks.

A cell's module (:mod:`~reference_rnn.core.elman` today) computes; this module holds the rest of
the contract its functions keep, written once so that a new cell reuses it:

- the caches are read-only down to their memory (:func:`sealed`), hold what every cell's holds
  (:class:`CellCache`), and a backward function takes only a cache that one of its cell's forward
  functions made (:func:`register`, :func:`check_cache`);
- the shells of the step and sequence functions: ``x`` as one time-major step or a time-major
  view of a batch-first sequence (:func:`step_input`, :func:`sequence_input`), a sequence has at
  least one step (:func:`caller_shape`), ``Wx``'s rows match its features
  (:func:`check_features`), an initial state is the caller's or zeros (:func:`initial_state`),
  upstream gradients checked to their states' shapes (:func:`upstream`, :func:`upstream_steps`),
  states back batch-first (:func:`batch_first`); the bias trick's copies (:func:`bias_trick`,
  :func:`sealed_inputs`);
- NaN and inf: arguments are refused by name (:func:`require_all_finite`), and results that
  overflow from finite arguments are a :class:`NonFiniteResultError` that names the result and its
  first bad time step (:func:`require_finite_steps`, :func:`require_finite_gradients`,
  :func:`non_finite`); the input projection's check (:func:`checked_projection`), the
  upstream gradients' (:func:`require_finite_upstream`) and the backward results'
  (:func:`require_finite_results`);
- the gates' sigmoid, in place (:func:`sigmoid`), and the backward pass's blocks of steps
  (:func:`steps_per_block`).

Per-step arrays are time-major, ``(T, N, F)``, as inside every cell's module.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference_rnn.core.validation import (
    FloatArray,
    NonFiniteResultError,
    as_real_array,
    check_ndim,
    check_shape,
    require_finite,
)

__all__ = [
    "CellCache",
    "batch_first",
    "bias_trick",
    "caller_shape",
    "check_cache",
    "check_features",
    "checked_projection",
    "finite",
    "gate_weights",
    "initial_state",
    "non_finite",
    "register",
    "require_all_finite",
    "require_finite_gradients",
    "require_finite_results",
    "require_finite_steps",
    "require_finite_upstream",
    "sealed",
    "sealed_inputs",
    "sequence_input",
    "sigmoid",
    "step_input",
    "steps_per_block",
    "upstream",
    "upstream_steps",
]

#: The backward passes work on blocks of steps of about this many bytes of dL/da: small enough
#: to stay in a core's cache, large enough for efficient matrix products.
_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True, eq=False)
class CellCache:
    """What every cell's backward pass needs from its forward pass; a cell's cache adds its own.

    Attributes (all read-only)
    --------------------------
    x : (T, N, D) array
        The inputs, time-major: a view of ``x1``.
    x1 : (T, N, D + 1) array
        ``x`` with a column of ones after its ``D`` features (the bias trick, :func:`bias_trick`).
    h : (T + 1, N, .) array
        ``h[0]`` is the initial (hidden) state, ``h[t + 1]`` the state after step ``t``.
    Wx, Wh : (D, G), (., G) arrays
        The weights the forward pass used; G is the width of the cell's pre-activations.
    step : bool
        True for the cache of the cell's step forward, False for its sequence functions'.

    The arrays' memory is reachable only through read-only views. A backward function refuses a
    cache that no forward function made (one built by hand or by ``dataclasses.replace``).
    """

    x: FloatArray
    x1: FloatArray
    h: FloatArray
    Wx: FloatArray
    Wh: FloatArray
    step: bool


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


def step_input(x: object) -> FloatArray:
    """A step function's ``x (N, D)``, checked, as one time-major step ``(1, N, D)``."""
    x_arr = as_real_array("x", x)
    check_ndim("x", x_arr, 2, "(N, D)")
    return x_arr[None]


def sequence_input(x: object) -> FloatArray:
    """A sequence function's batch-first ``x (N, T, D)``, checked, as a time-major view ``(T, N, D)``."""
    x_arr = as_real_array("x", x)
    check_ndim("x", x_arr, 3, "(N, T, D)")
    return x_arr.transpose(1, 0, 2)


def batch_first(states: FloatArray) -> FloatArray:
    """Every step's state of the time-major ``states (T + 1, N, F)``, batch-first: ``(N, T, F)``.

    ``states[0]`` is the initial state; the result is a view (read-only where ``states`` is).
    """
    return states[1:].transpose(1, 0, 2)


def upstream(name: str, value: object, shape: tuple[int, ...], why: str) -> FloatArray:
    """The upstream gradient ``value`` as an array of ``shape`` (``why`` says whose shape)."""
    arr = as_real_array(name, value)
    check_shape(name, arr, shape, why)
    return arr


def upstream_steps(name: str, value: object, states: FloatArray, why: str) -> FloatArray:
    """The batch-first upstream gradient of every step of the time-major ``states (T + 1, N, F)``,
    checked to ``(N, T, F)``, as a time-major view ``(T, N, F)``."""
    T, N, F = states.shape[0] - 1, states.shape[1], states.shape[2]
    arr = as_real_array(name, value)
    check_shape(name, arr, (N, T, F), why)
    return arr.transpose(1, 0, 2)


def gate_weights(Wx: object, gates: int, uneven: str) -> tuple[FloatArray, int]:
    """``Wx (D, gates * H)`` of a cell of several gates side by side as an array, and H.

    ``uneven`` is the message where its columns are not a multiple of ``gates``, a format string
    of ``shape`` and ``columns``.
    """
    Wx_arr = as_real_array("Wx", Wx)
    check_ndim("Wx", Wx_arr, 2, f"(D, {gates}H)")
    if Wx_arr.shape[1] % gates:
        raise ValueError(uneven.format(shape=Wx_arr.shape, columns=Wx_arr.shape[1]))
    return Wx_arr, Wx_arr.shape[1] // gates


def check_features(Wx: FloatArray, x: FloatArray, step: bool) -> None:
    """``Wx (D, G)`` has a row for each of the time-major ``x (T, N, D)``'s features."""
    D = x.shape[2]
    if Wx.shape[0] != D:
        msg = (
            f"Wx must have shape {(D, Wx.shape[1])} for x of shape {caller_shape(x, step)}, "
            f"got {Wx.shape}; or x must have D = {Wx.shape[0]} features on its last axis"
        )
        raise ValueError(msg)


def caller_shape(x: FloatArray, step: bool) -> tuple[int, ...]:
    """The shape of the time-major ``x (T, N, D)`` as the caller passed it; T is at least 1."""
    T, N, D = x.shape
    if T == 0:
        msg = f"x must have at least one time step, got shape {(N, D) if step else (N, T, D)}"
        raise ValueError(msg)
    return (N, D) if step else (N, T, D)


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


def bias_trick(
    x: FloatArray, Wx: FloatArray, b: FloatArray, dtype: np.dtype[Any]
) -> tuple[FloatArray, FloatArray]:
    """``x1 (T, N, D + 1)`` and ``Wx1 (D + 1, G)``: new copies of ``dtype``, for ``x (T, N, D)``.

    The bias trick: a column of ones after x's D features makes ``b (G,)`` one more row of
    ``Wx (D, G)``. The input projection ``x1 @ Wx1`` then adds b inside its product, and
    backward's ``x1.T @ da`` gives db as its last row. ``x1`` is also the cache's private copy of x.
    """
    T, N, D = x.shape
    x1 = np.empty((T, N, D + 1), dtype=dtype)
    x1[..., :D] = x
    x1[..., D] = 1
    Wx1 = np.empty((D + 1, Wx.shape[1]), dtype=dtype)
    Wx1[:D] = Wx
    Wx1[D] = b
    return x1, Wx1


def sealed_inputs(x1: FloatArray, Wx1: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A cache's ``x``, ``x1`` and ``Wx`` from the bias trick's ``x1`` and ``Wx1``, sealed."""
    D = Wx1.shape[0] - 1
    x1 = sealed(x1)
    return x1[..., :D], x1, sealed(Wx1)[:D]


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
    for a in arrays:  # noqa: SIM110  (a loop, not all() of a generator: called a few times a step)
        if not math.isfinite(float(a.sum())):
            return False
    return True


def require_finite_steps(what: str, a: FloatArray) -> None:
    """No NaN or inf in the time-major ``a (T, N, F)``; otherwise an error at its first bad step."""
    # finite(a), inlined: this runs on every result of every call
    if not math.isfinite(float(a.sum())) and not np.isfinite(a).all():
        bad = ~np.all(np.isfinite(a).reshape(a.shape[0], a.shape[1], -1), axis=2)  # (T, N)
        t = int(np.argmax(np.any(bad, axis=1)))
        raise non_finite(what, a[t : t + 1], t, row=int(np.argmax(bad[t])))


def checked_projection(projection: FloatArray) -> float:
    """The largest magnitude in the input projection ``(T, N, G)`` (0 if empty), once it is known
    finite: its largest and smallest values, two passes without a temporary, are also its check,
    as a NaN or inf makes one of them non-finite."""
    largest = max(float(projection.max(initial=0)), -float(projection.min(initial=0)))
    if not math.isfinite(largest):
        with np.errstate(over="ignore", invalid="ignore"):
            require_finite_steps("the input projection x @ Wx + b", projection)
    return largest


def require_finite_upstream(*named: tuple[str, FloatArray | None]) -> None:
    """No NaN or inf in the named upstream gradients (None: not given), the first bad one named.

    By their sums first (:func:`finite`): the caller holds ``np.errstate``.
    """
    for name, arr in named:
        if arr is not None and not finite(arr):
            require_finite(name, arr)


def require_finite_results(
    dx: FloatArray, named: Sequence[tuple[str, FloatArray]], whole: FloatArray | None = None
) -> None:
    """No NaN or inf in a backward pass's ``dx (T, N, D)`` and its named gradients.

    ``whole``, where the gradients are views of one array, is summed once for all of them.
    """
    require_finite_steps("the gradient dx", dx)
    if whole is None or not finite(whole):
        require_finite_gradients(named)


def require_finite_gradients(named: Sequence[tuple[str, FloatArray]]) -> None:
    """No NaN or inf in the named gradients that have no time steps (``dh0``, ``dWx``, ...)."""
    for name, grad in () if finite(*(grad for _, grad in named)) else named:
        if not np.isfinite(grad).all():
            msg = f"the gradient {name}"
            raise non_finite(msg, grad[None, None], None)


def non_finite(what: str, a: FloatArray, step: int | None, row: int = 0) -> NonFiniteResultError:
    """The error for a non-finite ``a (1, N, F)``, found at ``step``."""
    detail = "it is NaN" if np.isnan(a).any() else "it reached inf"
    return NonFiniteResultError(what, a.dtype, detail, step, row)


def sigmoid(a: FloatArray) -> None:
    """``a = 1 / (1 + exp(-a))`` in place: exp overflows to inf for very negative ``a``, and
    1 / inf is the right 0 (the caller ignores the overflow).

    ``a`` may be a strided view (some columns of the gates). Not ``np.negative(a, out=a)``: on NumPy
    2.4.6 it writes wrong values into such a view (float32 ``(4, 1)`` columns of a ``(4, 4)``
    array, measured here); ``np.multiply`` is right on every layout.
    """
    np.multiply(a, -1, out=a)
    np.exp(a, out=a)
    np.add(a, 1, out=a)
    np.reciprocal(a, out=a)


def steps_per_block(step_bytes: int, block_bytes: int | None = None) -> int:
    """Steps of ``step_bytes`` bytes of dL/da in ``block_bytes`` (None: ``_BLOCK_BYTES``); >= 1."""
    return max(1, (block_bytes or _BLOCK_BYTES) // max(1, step_bytes))
