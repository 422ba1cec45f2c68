"""The Elman cell, the fast version: ``forward(...) -> (out, cache)``, ``backward(dout, cache)``.

Long on purpose: the four functions, their cache and the two loops they share are one idea, and
are read together. The same math in a screen each, plain loops over t, is
:mod:`~reference_rnn.core.elman_textbook`: the version to read and compare one's own code with.
What every cell shares (sealed caches, their checks, the finiteness checks) is
:mod:`~reference_rnn.core.cell_common`.

Shapes, named once and used throughout::

    N  batch size          T  number of time steps
    D  input features      H  hidden units

    a_t = x_t @ Wx + h_{t-1} @ Wh + b        x_t (N, D), h_t (N, H), Wx (D, H), Wh (H, H), b (H,)
    h_t = tanh(a_t)                          (or relu(a_t))

The public functions are batch-first, ``x (N, T, D)``. Inside, every per-step array is time-major,
``(T, N, .)``, so that the state of step ``t`` is one contiguous ``(N, H)`` block, the input
projection is a single matrix product over all ``T * N`` rows, and ``dWx``, ``dWh`` and ``dx`` are
one product per block of consecutive steps (see ``_backward``).

The functions never modify their arguments. The cache holds private, read-only copies of what the
backward pass needs, so the same cache can be used any number of times, in any order: their memory
is reachable only through read-only views (``flags.writeable = True`` raises), and a backward
function takes only a cache that a forward function made. The returned hidden states are read-only
views of the cache: copy them (``h.copy()``) to modify them.

With ``check_finite=True`` (the default) the arguments are checked for NaN and inf, and so are the
results: finite arguments whose arithmetic overflows raise :class:`NonFiniteResultError` (a
``FloatingPointError``) naming the result and the time step, instead of returning NaN or inf.
Under tanh the forward pass checks the input projection once before the loop, and a bound,
``m + H * max(1, m) * m`` below half the dtype's largest value with ``m`` the largest magnitude of
the arguments and of ``x @ Wx + b``, proves that no step can overflow: only where it fails is each
step's pre-activation checked. Under relu the states are checked after the loop. The backward
pass checks the gradients it returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from reference_rnn.core import cell_common
from reference_rnn.core.validation import (
    FloatArray,
    NonFiniteResultError,
    check_nonlinearity,
    check_weights,
)

Nonlinearity = Literal["tanh", "relu"]

#: The largest step output (N * H numbers) whose product is np.dot's, not np.matmul's.
_DOT_MAX_SIZE = 256

__all__ = [
    "NonFiniteResultError",
    "Nonlinearity",
    "RNNCache",
    "backward_sequence",
    "forward_sequence",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
]


@dataclass(frozen=True, eq=False)
class RNNCache(cell_common.CellCache):
    """What the backward pass needs from the forward pass; build it with a forward function.

    The attributes of :class:`~reference_rnn.core.cell_common.CellCache` (read-only, ``h (T + 1,
    N, H)``, ``Wx (D, H)``, ``Wh (H, H)``; ``step`` for :func:`rnn_step_forward`'s), and
    ``nonlinearity``, "tanh" or "relu".
    """

    nonlinearity: Nonlinearity


def rnn_step_forward(
    x: object,
    prev_h: object,
    Wx: object,
    Wh: object,
    b: object,
    *,
    nonlinearity: Nonlinearity = "tanh",
    check_finite: bool = True,
) -> tuple[FloatArray, RNNCache]:
    """One step of the recurrence: ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``.

    Parameters
    ----------
    x : (N, D) array_like
    prev_h : (N, H) array_like
    Wx : (D, H) array_like
    Wh : (H, H) array_like
    b : (H,) array_like
    nonlinearity : "tanh" or "relu"
    check_finite : bool
        Reject NaN and inf in the arguments, and results that overflow (the default).

    Returns
    -------
    next_h : (N, H) ndarray, read-only
    cache : RNNCache, for :func:`rnn_step_backward`
    """
    x_step = cell_common.step_input(x)  # (N, D) -> (1, N, D): one time-major step
    cache = _forward(
        x_step, prev_h, Wx, Wh, b, "prev_h", nonlinearity, check_finite=check_finite, step=True
    )
    return cache.h[1], cache


def rnn_step_backward(
    dnext_h: object, cache: RNNCache, *, check_finite: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Gradients of one step, given ``dnext_h = dL/dnext_h``.

    Parameters
    ----------
    dnext_h : (N, H) array_like
    cache : RNNCache from :func:`rnn_step_forward`
    check_finite : bool
        Reject NaN and inf in ``dnext_h``, and gradients that overflow (the default).

    Returns
    -------
    dx : (N, D), dprev_h : (N, H), dWx : (D, H), dWh : (H, H), db : (H,)
    """
    _check_cache(cache, step=True)
    dh = cell_common.upstream("dnext_h", dnext_h, cache.h.shape[1:], "the shape of next_h")
    # (N, H) -> (1, N, H): one time-major step.
    dx, dprev_h, dWx, dWh, db = _backward(
        dh[None], cache, "dnext_h", check_finite=check_finite, check_results=check_finite
    )
    return dx[0], dprev_h, dWx, dWh, db


def rnn_forward(
    x: object,
    h0: object,
    Wx: object,
    Wh: object,
    b: object,
    *,
    nonlinearity: Nonlinearity = "tanh",
    check_finite: bool = True,
) -> tuple[FloatArray, RNNCache]:
    """Run the recurrence over a whole batch of sequences.

    Parameters
    ----------
    x : (N, T, D) array_like
        Inputs, batch-first; T must be at least 1.
    h0 : (N, H) array_like
        Initial hidden state.
    Wx : (D, H) array_like
    Wh : (H, H) array_like
    b : (H,) array_like
    nonlinearity : "tanh" or "relu"
    check_finite : bool
        Reject NaN and inf in the arguments, and results that overflow (the default).

    Returns
    -------
    h : (N, T, H) ndarray, read-only
        The hidden state after every step; ``h[:, -1]`` is the final state.
    cache : RNNCache, for :func:`rnn_backward`
    """
    return forward_sequence(x, h0, Wx, Wh, b, "h0", nonlinearity, check_finite=check_finite)


def rnn_backward(
    dh: object, cache: RNNCache, *, check_finite: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Backpropagation through time.

    Parameters
    ----------
    dh : (N, T, H) array_like
        ``dL/dh_t`` from above, for every step (zeros where the loss does not use a step).
    cache : RNNCache from :func:`rnn_forward`
    check_finite : bool
        Reject NaN and inf in ``dh``, and gradients that overflow (the default).

    Returns
    -------
    dx : (N, T, D), dh0 : (N, H), dWx : (D, H), dWh : (H, H), db : (H,)
    """
    return backward_sequence(dh, cache, "dh", check_finite=check_finite)


def forward_sequence(
    x: object,
    h0: object | None,
    Wx: object,
    Wh: object,
    b: object,
    h0_name: str,
    nonlinearity: Nonlinearity,
    *,
    check_finite: bool,
    check_results: bool | None = None,
) -> tuple[FloatArray, RNNCache]:
    """:func:`rnn_forward`, with the name by which the caller knows ``h0`` (for messages).

    ``h0=None`` starts from zeros. ``check_results`` (default: ``check_finite``) checks the
    results alone, for a caller that has checked the arguments itself.
    """
    cache = _forward(
        cell_common.sequence_input(x),  # (N, T, D) -> (T, N, D): a view; _forward copies it
        h0,
        Wx,
        Wh,
        b,
        h0_name,
        nonlinearity,
        check_finite=check_finite,
        step=False,
        check_results=check_results,
    )
    return cell_common.batch_first(cache.h), cache


def backward_sequence(
    dh: object,
    cache: RNNCache,
    dh_name: str,
    *,
    check_finite: bool,
    check_results: bool | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`rnn_backward`, with the name by which the caller knows ``dh`` (for messages).

    ``check_results`` (default: ``check_finite``) checks the gradients alone.
    """
    _check_cache(cache, step=False)
    dh_steps = cell_common.upstream_steps(dh_name, dh, cache.h, "the shape of h")  # (T, N, H)
    dx, dh0, dWx, dWh, db = _backward(
        dh_steps,
        cache,
        dh_name,
        check_finite=check_finite,
        check_results=check_finite if check_results is None else check_results,
    )
    # (T, N, D) -> (N, T, D)
    return dx.transpose(1, 0, 2), dh0, dWx, dWh, db


def _arguments(
    x: FloatArray,
    h0: object | None,
    Wx: object,
    Wh: object,
    b: object,
    h0_name: str,
    step: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``Wx``, ``Wh``, ``b`` and ``h0`` (zeros for None) as arrays of checked shapes, for ``x (T, N, D)``.

    Their finiteness is checked on the cache's copies (``_forward``).
    """
    N = x.shape[1]
    cell_common.caller_shape(x, step)  # T >= 1, checked before the weights
    Wx_arr, Wh_arr, b_arr = check_weights(Wx, Wh, b)
    cell_common.check_features(Wx_arr, x, step)
    H = Wx_arr.shape[1]
    why = f"N = {N} from x, H = {H} from Wx"
    h0_arr = cell_common.initial_state(h0_name, h0, (N, H), why, x, Wx_arr, Wh_arr, b_arr)
    return Wx_arr, Wh_arr, b_arr, h0_arr


def _forward(
    x: FloatArray,
    h0: object | None,
    Wx: object,
    Wh: object,
    b: object,
    h0_name: str,
    nonlinearity: Nonlinearity,
    *,
    check_finite: bool,
    step: bool,
    check_results: bool | None = None,
) -> RNNCache:
    """Check the arguments (``x`` is a time-major ``(T, N, D)`` view) and run the recurrence."""
    nonlinearity = check_nonlinearity(nonlinearity)  # type: ignore[assignment]
    Wx_arr, Wh_arr, b_arr, h0_arr = _arguments(x, h0, Wx, Wh, b, h0_name, step)
    T, N, D = x.shape
    H = Wx_arr.shape[1]
    dtype = np.result_type(x, Wx_arr, Wh_arr, b_arr, h0_arr)

    buffer, (x1, Wx1, Wh_copy, h) = _cache_buffer(x, Wx_arr, Wh_arr, b_arr, h0_arr, dtype)
    checks = check_finite if check_results is None else check_results
    tanh_checks = checks and nonlinearity == "tanh"
    # Entered once for the whole pass: overflow is checked here, or not at all.
    with np.errstate(over="ignore", invalid="ignore"):
        # The input projection of every step at once: (T * N, D + 1) @ (D + 1, H), into h[1:].
        np.matmul(x1.reshape(T * N, D + 1), Wx1, out=h[1:].reshape(T * N, H))
        # The largest magnitude in the buffer: its largest and smallest values, two passes without
        # a temporary (initial=0: an empty buffer has none). A NaN or inf makes it non-finite:
        # then each argument is checked, which names the first bad one (the copies widen to the
        # result dtype, so they are finite where the arguments are), then the projection.
        largest = 0.0
        if check_finite or tanh_checks:
            largest = max(float(buffer.max(initial=0)), -float(buffer.min(initial=0)))
        if not math.isfinite(largest):
            if check_finite:
                named = (("x", x), ("Wx", Wx_arr), ("Wh", Wh_arr), ("b", b_arr), (h0_name, h0_arr))
                cell_common.require_all_finite(named)
            if tanh_checks:
                cell_common.require_finite_steps("the input projection x @ Wx + b", h[1:])
        per_step = tanh_checks and not _tanh_bounded(largest, H, dtype)
        _recur(h, Wh_copy, nonlinearity, per_step)
        if checks and nonlinearity == "relu":
            cell_common.require_finite_steps("the state", h[1:])
    sealed_x, sealed_x1, sealed_Wx = cell_common.sealed_inputs(x1, Wx1)
    cache = RNNCache(
        x=sealed_x,
        x1=sealed_x1,
        Wx=sealed_Wx,
        h=cell_common.sealed(h),
        Wh=cell_common.sealed(Wh_copy),
        nonlinearity=nonlinearity,
        step=step,
    )
    cell_common.register(cache)
    return cache


def _cache_buffer(
    x: FloatArray,
    Wx: FloatArray,
    Wh: FloatArray,
    b: FloatArray,
    h0: FloatArray,
    dtype: np.dtype[Any],
) -> tuple[FloatArray, tuple[FloatArray, FloatArray, FloatArray, FloatArray]]:
    """Everything the cache holds, in one new buffer laid out ``[x1 | Wx1 | Wh | h]``, and its parts.

    The arguments are copied in (``x (T, N, D)`` time-major), ``h[1:]`` is left to fill. One
    buffer, so that one pair of passes over it checks every argument's copy and the input
    projection and bounds every tanh step (``_forward``): at small sizes the number of NumPy
    calls is the cost, not the bytes.
    """
    T, N, D = x.shape
    H = Wx.shape[1]
    x1_end = T * N * (D + 1)
    Wx1_end = x1_end + (D + 1) * H
    Wh_end = Wx1_end + H * H
    buffer = np.empty(Wh_end + (T + 1) * N * H, dtype=dtype)
    # The bias trick: a column of ones after x's D features makes b one more row of Wx. The input
    # projection then adds b inside its product instead of in a pass of its own over the states,
    # and backward's x1.T @ da gives db as its last row. x1 is also the cache's private copy of x.
    x1 = buffer[:x1_end].reshape(T, N, D + 1)
    x1[..., :D] = x
    x1[..., D] = 1
    Wx1 = buffer[x1_end:Wx1_end].reshape(D + 1, H)
    Wx1[:D] = Wx
    Wx1[D] = b
    # A private copy, C-contiguous whatever the caller's layout (RNN passes torch's weight_hh.T):
    # OpenBLAS's small products run up to 2x slower with a transposed operand.
    Wh_copy = buffer[Wx1_end:Wh_end].reshape(H, H)
    Wh_copy[...] = Wh
    h = buffer[Wh_end:].reshape(T + 1, N, H)
    h[0] = h0
    return buffer, (x1, Wx1, Wh_copy, h)


def _recur(h: FloatArray, Wh: FloatArray, nonlinearity: Nonlinearity, per_step: bool) -> None:
    """The loop, in place: ``h[0]`` is ``h0``, ``h[1:]`` the input projections, then the states.

    With ``per_step``, a pre-activation that overflows is an error at its step. The caller holds
    ``np.errstate(over="ignore", invalid="ignore")``.
    """
    activation = np.tanh if nonlinearity == "tanh" else _relu
    recurrent = np.empty(h.shape[1:], dtype=h.dtype)  # h_{t-1} @ Wh, one buffer for every step
    product = _step_product(recurrent.size)
    for t in range(h.shape[0] - 1):
        h_t = h[t + 1]
        product(h[t], Wh, out=recurrent)
        np.add(h_t, recurrent, out=h_t)
        if per_step and not np.isfinite(h_t).all():
            what = "the pre-activation x_t @ Wx + h_{t-1} @ Wh + b"
            raise cell_common.non_finite(what, h_t[None], t)
        activation(h_t, out=h_t)


def _backward(
    dh: FloatArray, cache: RNNCache, dh_name: str, *, check_finite: bool, check_results: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """The backward pass for a checked time-major ``dh (T, N, H)``; ``dx`` comes time-major."""
    # Entered once for the whole pass: overflow is checked below, or not at all.
    with np.errstate(over="ignore", invalid="ignore"):
        if check_finite:
            cell_common.require_finite_upstream((dh_name, dh))
        dx, grads, (dh0, dWx1, dWh) = _backward_loop(dh, cache)
        D = dx.shape[2]
        dWx, db = dWx1[:D], dWx1[D]
        if check_results:  # one pass over all four gradients (grads); each named where one is bad
            named = (("dh0", dh0), ("dWx", dWx), ("dWh", dWh), ("db", db))
            cell_common.require_finite_results(dx, named, whole=grads)
    return dx, dh0, dWx, dWh, db


def _backward_loop(
    dh: FloatArray, cache: RNNCache
) -> tuple[FloatArray, FloatArray, tuple[FloatArray, ...]]:
    """``dx (T, N, D)``, then ``dh0``, ``dWx1 = [dWx; db]`` and ``dWh`` as one flat array and as
    views of it, for a checked ``dh (T, N, H)``: one pass checks all three.
    """
    T, N, H = dh.shape
    D = cache.x.shape[2]
    dtype = np.result_type(cache.h, dh)
    h, x1 = cache.h, cache.x1

    # The steps run last to first in blocks of B. The step loop fills da = dL/da_t for one block;
    # the block's share of every weight gradient and its rows of dx are then one product each,
    # while da is still in cache. So da is never stored for all T steps, which would write N*T*H
    # numbers to memory and read them back three times.
    B = cell_common.steps_per_block(N * H * dtype.itemsize)
    da = np.empty((min(B, T), N, H), dtype=dtype)  # the current block's dL/da_t
    # [g | dWx1 | dWh]. g: dL/dh_t through step t + 1, zero after the last, and dh0 in the end.
    # dWx1: dWx, then db as its last row (the bias trick).
    grads = np.zeros(N * H + (D + 1) * H + H * H, dtype=dtype)
    g = grads[: N * H].reshape(N, H)
    dWx1 = grads[N * H : N * H + (D + 1) * H].reshape(D + 1, H)
    dWh = grads[N * H + (D + 1) * H :].reshape(H, H)
    # Wh.T, C-contiguous: OpenBLAS's small products run up to 2x slower with a transposed
    # operand (float32, (32, 128) @ (128, 128): 20 us against 10 us, measured here).
    Wh_T = np.ascontiguousarray(cache.Wh.T, dtype=dtype)
    product = _step_product(g.size)
    dx = np.empty((T, N, D), dtype=dtype)
    for end in range(T, 0, -B):
        start = max(0, end - B)
        da_block = da[: end - start]
        # First dh_t/da_t for all the block's steps at once (h[t + 1] is the state step t
        # produced), then, step by step, times dL/dh_t.
        h_block = h[start + 1 : end + 1]
        if cache.nonlinearity == "tanh":
            np.multiply(h_block, h_block, out=da_block)
            np.subtract(1, da_block, out=da_block)
        else:
            np.greater(h_block, 0, out=da_block)
        for t in range(end - 1, start - 1, -1):
            da_t = da_block[t - start]
            g += dh[t]
            np.multiply(da_t, g, out=da_t)
            product(da_t, Wh_T, out=g)
        # The block's steps as rows: (n, N, .) -> (n * N, .).
        rows = (end - start) * N
        da_rows = da_block.reshape(rows, H)
        if end == T:  # the first block written: the products are the gradients so far
            np.matmul(x1[start:end].reshape(rows, D + 1).T, da_rows, out=dWx1)
            np.matmul(h[start:end].reshape(rows, H).T, da_rows, out=dWh)
        else:
            dWx1 += x1[start:end].reshape(rows, D + 1).T @ da_rows
            dWh += h[start:end].reshape(rows, H).T @ da_rows
        np.matmul(da_rows, cache.Wx.T, out=dx[start:end].reshape(rows, D))
    return dx, grads, (g, dWx1, dWh)


def _step_product(size: int) -> Any:
    """The function for a step's product into an ``out`` of ``size`` numbers.

    np.dot and np.matmul make the same BLAS call (the same bits). np.dot costs about 0.25 us less
    a call, and first zeroes its ``out``: where ``out`` is small, np.dot is faster (a step at the
    exercise's size is a few us); from a few KB on, the zeroing costs more (1-2% of a step at
    (N, H) = (64, 256), measured here).
    """
    return np.dot if size <= _DOT_MAX_SIZE else np.matmul


def _relu(a: FloatArray, out: FloatArray) -> FloatArray:
    return np.maximum(a, 0, out=out)


def _tanh_bounded(largest: float, H: int, dtype: np.dtype[Any]) -> bool:
    """Whether no tanh step can overflow, given the ``largest`` magnitude of ``Wh``, ``h0`` and
    the input projections ``x_t @ Wx + b`` (and of more: the bound is only looser for it).

    ``|a_t| <= |x_t @ Wx + b| + H * max|h_{t-1}| * max|Wh|``, and ``|h_{t-1}| <= 1`` after the
    first step: below half the dtype's largest value (room for rounding), nothing overflows.
    """
    bound = largest + H * max(1.0, largest) * largest
    return bound < _LARGEST[dtype.char] / 2 if dtype.char in _LARGEST else False


#: The largest finite value of each floating dtype whose range a Python float holds.
_LARGEST = {dtype.char: float(np.finfo(dtype).max) for dtype in map(np.dtype, "efd")}


def _check_cache(cache: object, *, step: bool) -> None:
    cell_common.check_cache(cache, RNNCache, step=step, made_by=("rnn_step_forward", "rnn_forward"))
