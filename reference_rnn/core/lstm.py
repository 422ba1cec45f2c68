"""The LSTM cell, the fast version: ``forward(...) -> (out, cache)``, ``backward(dout, cache)``.

Long on purpose: the four public functions, the sequence functions the layer calls, their cache
and the two loops they share are one idea, and are read together. The same math in a screen
each, plain loops over t, is :mod:`~reference_rnn.core.lstm_textbook`: the version to read and
compare one's own code with. What every cell shares (sealed caches, their checks, the
finiteness checks) is :mod:`~reference_rnn.core.cell_common`.

Shapes, named once and used throughout::

    N  batch size          T  number of time steps
    D  input features      H  hidden units (the cell state's width)
    P  the hidden state's width: H, or proj_size with a projection Wr

torch's equations and gate order i, f, g, o (``torch.nn.LSTM``), batch-first::

    a_t = x_t @ Wx + h_{t-1} @ Wh + b        x_t (N, D), Wx (D, 4H), Wh (P, 4H), b (4H,)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)     a_t = [a_i a_f a_g a_o]
    c_t = f * c_{t-1} + i * g                 c_t (N, H)
    h_t = o * tanh(c_t)                       h_t (N, H)
    h_t = (o * tanh(c_t)) @ Wr                with a projection Wr (H, P): h_t (N, P)

torch's layout is the transpose, ``weight_ih = Wx.T``, ``weight_hh = Wh.T``, ``weight_hr =
Wr.T``, with two biases whose sum is ``b``. The public functions have no projection (CS231n's
exercise, the textbook); :func:`forward_sequence` and :func:`backward_sequence`, which the layer
calls, take ``Wr`` (``torch.nn.LSTM(proj_size=P)``).

Inside, every per-step array is time-major, ``(T, N, .)``, so that the state of step ``t`` is one
contiguous block, the input projection is one matrix product over all ``T * N`` rows, and
``dWx``, ``dWh`` and ``dx`` are one product per block of consecutive steps (see ``_backward_loop``).

The functions never modify their arguments. The cache holds private, read-only copies of what the
backward pass needs, so the same cache can be used any number of times, in any order: their memory
is reachable only through read-only views, and a backward function takes only a cache that a
forward function made. The returned states are read-only views of the cache.

With ``check_finite=True`` (the default) the arguments are checked for NaN and inf, and so are the
results: finite arguments whose arithmetic overflows raise :class:`NonFiniteResultError` naming
the result and the time step, instead of returning NaN or inf. The cell state cannot overflow
(``|c_t| <= |c_{t-1}| + 1``: f and i lie in [0, 1], g in [-1, 1]), and sigmoid and tanh of an
overflowed pre-activation are finite, so what is checked is the gates' pre-activation and the
projection. A bound proves most calls safe before the loop (see ``_bounded``); only where it
fails is every step checked. The backward pass checks the gradients it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference_rnn.core import cell_common
from reference_rnn.core.validation import (
    FloatArray,
    NonFiniteResultError,
    as_real_array,
    check_ndim,
    check_shape,
)

#: The gates, in torch's order, as blocks of H columns of Wx, Wh and b.
GATES = ("i", "f", "g", "o")
#: The backward pass's blocks of steps hold about this many bytes of dL/da: four times the other
#: cells' (cell_common), since the LSTM's 4H columns make a step four times as wide. At the 1 MB
#: of the others, a block at (N, H) = (64, 512) in float64 is one step, and its weight-gradient
#: products have 64 rows: the backward took 462 ms at (N, T, D, H) = (64, 50, 128, 512), 385 ms
#: with 4 MB, 430 ms with 64 MB (float32: 194, 178, 187 ms; one thread, this project's machine).
_BLOCK_BYTES = 4 << 20

__all__ = [
    "GATES",
    "LSTMCache",
    "NonFiniteResultError",
    "backward_sequence",
    "forward_sequence",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
]

#: The gradients of the sequence functions: dx, dh0, dc0, dWx, dWh, db, and dWr (None without Wr).
Gradients = tuple[
    FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray | None
]


@dataclass(frozen=True, eq=False)
class LSTMCache(cell_common.CellCache):
    """What the backward pass needs from the forward pass; build it with a forward function.

    The attributes of :class:`~reference_rnn.core.cell_common.CellCache` (read-only, the hidden
    states ``h (T + 1, N, P)``, ``Wx (D, 4H)``, ``Wh (P, 4H)``; ``step`` for
    :func:`lstm_step_forward`'s), and (read-only too):

    c : (T + 1, N, H) array
        ``c[0]`` is the initial cell state, ``c[t + 1]`` the cell state after step ``t``.
    gates : (T, N, 4H) array
        Step ``t``'s gates after their nonlinearities, ``[i f g o]``.
    tanh_c : (T, N, H) array
        ``tanh(c_t)`` of step ``t``.
    Wr : (H, P) array or None
        The projection, or None without one (then P = H).
    """

    c: FloatArray
    gates: FloatArray
    tanh_c: FloatArray
    Wr: FloatArray | None


def lstm_step_forward(
    x: object,
    prev_h: object,
    prev_c: object,
    Wx: object,
    Wh: object,
    b: object,
    *,
    check_finite: bool = True,
) -> tuple[FloatArray, FloatArray, LSTMCache]:
    """One step of the LSTM: ``next_c = f * prev_c + i * g``, ``next_h = o * tanh(next_c)``.

    Parameters
    ----------
    x : (N, D) array_like
    prev_h, prev_c : (N, H) array_like
    Wx : (D, 4H) array_like
        Columns in torch's gate order i, f, g, o; so are ``Wh``'s and ``b``'s.
    Wh : (H, 4H) array_like
    b : (4H,) array_like
    check_finite : bool
        Reject NaN and inf in the arguments, and results that overflow (the default).

    Returns
    -------
    next_h, next_c : (N, H) ndarrays, read-only
    cache : LSTMCache, for :func:`lstm_step_backward`
    """
    cache = _forward(
        cell_common.step_input(x),  # (N, D) -> (1, N, D): one time-major step
        (prev_h, prev_c),
        (Wx, Wh, b, None),
        ("prev_h", "prev_c"),
        check_finite=check_finite,
        step=True,
    )
    return cache.h[1], cache.c[1], cache


def lstm_step_backward(
    dnext_h: object, dnext_c: object, cache: LSTMCache, *, check_finite: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Gradients of one step, given ``dnext_h = dL/dnext_h`` and ``dnext_c = dL/dnext_c``.

    Parameters
    ----------
    dnext_h, dnext_c : (N, H) array_like
    cache : LSTMCache from :func:`lstm_step_forward`
    check_finite : bool
        Reject NaN and inf in the upstream gradients, and gradients that overflow (the default).

    Returns
    -------
    dx : (N, D), dprev_h : (N, H), dprev_c : (N, H), dWx : (D, 4H), dWh : (H, 4H), db : (4H,)
    """
    _check_cache(cache, step=True)
    dh = cell_common.upstream("dnext_h", dnext_h, cache.h.shape[1:], "the shape of next_h")
    dc = cell_common.upstream("dnext_c", dnext_c, cache.c.shape[1:], "the shape of next_c")
    # (N, H) -> (1, N, H): one time-major step; dnext_c is the final cell state's gradient
    dx, dprev_h, dprev_c, dWx, dWh, db, _ = _backward(
        dh[None],
        None,
        dc,
        cache,
        ("dnext_h", "dnext_c"),
        check_finite=check_finite,
        check_results=check_finite,
    )
    return dx[0], dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(
    x: object,
    h0: object,
    Wx: object,
    Wh: object,
    b: object,
    c0: object | None = None,
    *,
    check_finite: bool = True,
) -> tuple[FloatArray, FloatArray, LSTMCache]:
    """Run the LSTM over a whole batch of sequences.

    Parameters
    ----------
    x : (N, T, D) array_like
        Inputs, batch-first; T must be at least 1.
    h0 : (N, H) array_like
        Initial hidden state.
    Wx : (D, 4H) array_like
        Columns in torch's gate order i, f, g, o; so are ``Wh``'s and ``b``'s.
    Wh : (H, 4H) array_like
    b : (4H,) array_like
    c0 : (N, H) array_like or None
        Initial cell state; None (the default) is zeros.
    check_finite : bool
        Reject NaN and inf in the arguments, and results that overflow (the default).

    Returns
    -------
    h : (N, T, H) ndarray, read-only
        The hidden state after every step; ``h[:, -1]`` is the final one.
    cT : (N, H) ndarray, read-only
        The final cell state.
    cache : LSTMCache, for :func:`lstm_backward`
    """
    h, c, cache = forward_sequence(
        x, h0, c0, Wx, Wh, b, None, ("h0", "c0"), check_finite=check_finite
    )
    return h, c[:, -1], cache


def lstm_backward(
    dh: object, dcT: object | None, cache: LSTMCache, *, check_finite: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Backpropagation through time.

    Parameters
    ----------
    dh : (N, T, H) array_like
        ``dL/dh_t`` from above, for every step (zeros where the loss does not use a step).
    dcT : (N, H) array_like or None
        ``dL/dcT`` for the final cell state; None is zeros (a loss of the hidden states only).
    cache : LSTMCache from :func:`lstm_forward`
    check_finite : bool
        Reject NaN and inf in ``dh`` and ``dcT``, and gradients that overflow (the default).

    Returns
    -------
    dx : (N, T, D), dh0 : (N, H), dc0 : (N, H), dWx : (D, 4H), dWh : (H, 4H), db : (4H,)
    """
    _check_cache(cache, step=False)
    dcT_arr = (
        None
        if dcT is None
        else cell_common.upstream("dcT", dcT, cache.c.shape[1:], "the shape of cT")
    )
    dx, dh0, dc0, dWx, dWh, db, _ = _backward(
        cell_common.upstream_steps("dh", dh, cache.h, "the shape of h"),
        None,
        dcT_arr,
        cache,
        ("dh", "dcT"),
        check_finite=check_finite,
        check_results=check_finite,
    )
    return dx.transpose(1, 0, 2), dh0, dc0, dWx, dWh, db  # dx (T, N, D) -> (N, T, D)


def forward_sequence(
    x: object,
    h0: object | None,
    c0: object | None,
    Wx: object,
    Wh: object,
    b: object,
    Wr: object | None,
    names: tuple[str, str],
    *,
    check_finite: bool,
    check_results: bool | None = None,
) -> tuple[FloatArray, FloatArray, LSTMCache]:
    """Every hidden state ``h (N, T, P)`` and cell state ``c (N, T, H)``, and the cache.

    :func:`lstm_forward` with a projection ``Wr (H, P)`` or None, and the names by which the caller
    knows ``h0`` and ``c0`` (for messages); ``h0=None`` or ``c0=None`` start from zeros.
    ``check_results`` (default: ``check_finite``) checks the results alone, for a caller that has
    checked the arguments itself.
    """
    cache = _forward(
        cell_common.sequence_input(x),  # (N, T, D) -> (T, N, D): a view; _forward copies it
        (h0, c0),
        (Wx, Wh, b, Wr),
        names,
        check_finite=check_finite,
        step=False,
        check_results=check_results,
    )
    return cell_common.batch_first(cache.h), cell_common.batch_first(cache.c), cache


def backward_sequence(
    dh: object,
    dc: object | None,
    cache: LSTMCache,
    names: tuple[str, str],
    *,
    check_finite: bool,
    check_results: bool | None = None,
) -> Gradients:
    """Backpropagation through time from the gradient of every state at every step.

    ``dh (N, T, P)`` is ``dL/dh_t`` and ``dc (N, T, H)`` ``dL/dc_t`` from outside the recurrence
    (None: zeros), named ``names`` in messages. Returns ``dx (N, T, D)``, ``dh0``, ``dc0``,
    ``dWx``, ``dWh``, ``db`` and ``dWr`` (None without a projection). ``check_results`` (default:
    ``check_finite``) checks the gradients alone.
    """
    _check_cache(cache, step=False)
    dh_arr = cell_common.upstream_steps(names[0], dh, cache.h, "the shape of h")
    dc_arr: FloatArray | None = None
    if dc is not None:
        dc_arr = cell_common.upstream_steps(names[1], dc, cache.c, "the shape of c")
    dx, *grads = _backward(
        dh_arr,
        dc_arr,
        None,
        cache,
        names,
        check_finite=check_finite,
        check_results=check_finite if check_results is None else check_results,
    )
    return (dx.transpose(1, 0, 2), *grads)  # type: ignore[return-value]


def _weights(
    Wx: object, Wh: object, b: object, Wr: object | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None]:
    """``Wx (D, 4H)``, ``Wh (P, 4H)``, ``b (4H,)`` and ``Wr (H, P)`` or None, checked; H from Wx."""
    uneven = (
        "Wx must have 4H columns, the gates i, f, g, o of H units each, got shape {shape}: "
        "{columns} is not a multiple of 4"
    )
    Wx_arr, H = cell_common.gate_weights(Wx, 4, uneven)
    P = H
    Wr_arr = None
    if Wr is not None:
        Wr_arr = as_real_array("Wr", Wr)
        check_ndim("Wr", Wr_arr, 2, "(H, P)")
        check_shape("Wr", Wr_arr, (H, Wr_arr.shape[1]), f"H = {H} from Wx")
        P = Wr_arr.shape[1]
    Wh_arr = as_real_array("Wh", Wh)
    what = f"P = {P} from Wr, 4H = {4 * H} from Wx" if Wr is not None else f"4H = {4 * H} from Wx"
    check_shape("Wh", Wh_arr, (P, 4 * H), what)
    b_arr = as_real_array("b", b)
    check_shape("b", b_arr, (4 * H,), f"4H = {4 * H} from Wx")
    return Wx_arr, Wh_arr, b_arr, Wr_arr


def _arguments(
    x: FloatArray,
    s0: tuple[object | None, object | None],
    weights: tuple[object, object, object, object | None],
    names: tuple[str, str],
    step: bool,
    check_finite: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray | None, FloatArray, FloatArray]:
    """``Wx``, ``Wh``, ``b``, ``Wr`` and the initial states (zeros for None) as checked arrays,
    for ``x (T, N, D)``."""
    N = x.shape[1]
    cell_common.caller_shape(x, step)  # T >= 1, checked before the weights
    Wx, Wh, b, Wr = _weights(*weights)
    cell_common.check_features(Wx, x, step)
    H, P = Wx.shape[1] // 4, Wh.shape[0]
    h0_name, c0_name = names
    given = [a for a in (x, Wx, Wh, b, Wr) if a is not None]
    width = f"P = {P} from Wr" if Wr is not None else f"H = {H} from Wx"
    h0 = cell_common.initial_state(h0_name, s0[0], (N, P), f"N = {N} from x, {width}", *given)
    c0 = cell_common.initial_state(
        c0_name, s0[1], (N, H), f"N = {N} from x, H = {H} from Wx", *given
    )
    if check_finite:
        named = [("x", x), ("Wx", Wx), ("Wh", Wh), ("b", b), (h0_name, h0), (c0_name, c0)]
        cell_common.require_all_finite(named + ([("Wr", Wr)] if Wr is not None else []))
    return Wx, Wh, b, Wr, h0, c0


def _forward(
    x: FloatArray,
    s0: tuple[object | None, object | None],
    weights: tuple[object, object, object, object | None],
    names: tuple[str, str],
    *,
    check_finite: bool,
    step: bool,
    check_results: bool | None = None,
) -> LSTMCache:
    """Check the arguments (``x`` is a time-major ``(T, N, D)`` view) and run the recurrence."""
    Wx, Wh, b, Wr, h0, c0 = _arguments(x, s0, weights, names, step, check_finite)
    T, N, D = x.shape
    H, P = Wx.shape[1] // 4, Wh.shape[0]
    dtype = np.result_type(*(a for a in (x, Wx, Wh, b, Wr) if a is not None), h0, c0)

    x1, Wx1 = cell_common.bias_trick(x, Wx, b, dtype)
    # private copies, C-contiguous whatever the caller's layout (the layer passes torch's
    # weight_hh.T): OpenBLAS's small products run up to 2x slower with a transposed operand
    Wh = np.array(Wh, dtype=dtype, order="C")
    Wr = None if Wr is None else np.array(Wr, dtype=dtype, order="C")

    h = np.empty((T + 1, N, P), dtype=dtype)
    h[0] = h0
    c = np.empty((T + 1, N, H), dtype=dtype)
    c[0] = c0
    gates = np.empty((T, N, 4 * H), dtype=dtype)
    tanh_c = np.empty((T, N, H), dtype=dtype)
    # The input projection of every step at once: (T * N, D + 1) @ (D + 1, 4H), into gates.
    with np.errstate(over="ignore", invalid="ignore"):  # checked in _recur, or not at all
        np.matmul(x1.reshape(T * N, D + 1), Wx1, out=gates.reshape(T * N, 4 * H))
    _recur(gates, h, c, tanh_c, Wh, Wr, check_finite if check_results is None else check_results)
    sealed_x, sealed_x1, sealed_Wx = cell_common.sealed_inputs(x1, Wx1)
    cache = LSTMCache(
        x=sealed_x,
        x1=sealed_x1,
        Wx=sealed_Wx,
        h=cell_common.sealed(h),
        c=cell_common.sealed(c),
        gates=cell_common.sealed(gates),
        tanh_c=cell_common.sealed(tanh_c),
        Wh=cell_common.sealed(Wh),
        Wr=None if Wr is None else cell_common.sealed(Wr),
        step=step,
    )
    cell_common.register(cache)
    return cache


def _recur(
    gates: FloatArray,
    h: FloatArray,
    c: FloatArray,
    tanh_c: FloatArray,
    Wh: FloatArray,
    Wr: FloatArray | None,
    checks: bool,
) -> None:
    """The loop, in place: ``gates`` holds the input projections, ``h[0]`` and ``c[0]`` the initial
    states; then the gates after their nonlinearities, the states and ``tanh(c_t)``.

    With ``checks``, what overflows is an error at its step (the module docstring says how).
    """
    H = c.shape[2]
    per_step = checks and not _bounded(gates, h[0], Wh, Wr)
    recurrent = np.empty(gates.shape[1:], dtype=gates.dtype)  # h_{t-1} @ Wh, (N, 4H)
    ig = np.empty(c.shape[1:], dtype=c.dtype)  # i * g, (N, H)
    m = np.empty(c.shape[1:], dtype=c.dtype)  # o * tanh(c_t) before the projection, (N, H)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(gates.shape[0]):
            a = gates[t]
            np.matmul(h[t], Wh, out=recurrent)
            np.add(a, recurrent, out=a)
            if per_step and not np.isfinite(a).all():
                what = "the gates' pre-activation x_t @ Wx + h_{t-1} @ Wh + b"
                raise cell_common.non_finite(what, a[None], t)
            i_f, g, o = a[:, : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            cell_common.sigmoid(i_f)
            cell_common.sigmoid(o)
            np.tanh(g, out=g)
            np.multiply(a[:, H : 2 * H], c[t], out=c[t + 1])  # f * c_{t-1}
            np.multiply(a[:, :H], g, out=ig)
            np.add(c[t + 1], ig, out=c[t + 1])
            np.tanh(c[t + 1], out=tanh_c[t])
            if Wr is None:
                np.multiply(o, tanh_c[t], out=h[t + 1])
            else:
                np.multiply(o, tanh_c[t], out=m)
                np.matmul(m, Wr, out=h[t + 1])
                if per_step and not np.isfinite(h[t + 1]).all():
                    what = "the projected state h_t = (o * tanh(c_t)) @ Wr"
                    raise cell_common.non_finite(what, h[t + 1][None], t)


def _bounded(gates: FloatArray, h0: FloatArray, Wh: FloatArray, Wr: FloatArray | None) -> bool:
    """Check the projection ``gates``; then whether no step's pre-activation or projection can
    overflow.

    ``|a_t| <= |x_t @ Wx + b| + P * max|h_{t-1}| * max|Wh|``, where ``|h_t| <= 1`` after the
    first step (``|o * tanh(c_t)| <= 1``), or ``<= H * max|Wr|`` with a projection: below half the
    dtype's largest value (room for rounding), nothing overflows. The largest and smallest values
    of ``gates``, two passes without a temporary, are also the projection's check: a NaN or inf in
    it makes one of them non-finite.
    """
    if not gates.size:
        return True
    largest = cell_common.checked_projection(gates)
    H, P = gates.shape[2] // 4, h0.shape[1]
    state = 1.0 if Wr is None else H * float(np.abs(Wr).max(initial=0))
    h_largest = max(state, float(np.abs(h0).max(initial=0)))
    bound: float = max(largest + P * h_largest * float(np.abs(Wh).max(initial=0)), state)
    limit: float = float(np.finfo(gates.dtype).max) / 2  # room for rounding
    return bound < limit


def _backward(
    dh: FloatArray,
    dc: FloatArray | None,
    dcT: FloatArray | None,
    cache: LSTMCache,
    names: tuple[str, str],
    *,
    check_finite: bool,
    check_results: bool,
) -> Gradients:
    """The backward pass for checked time-major ``dh (T, N, P)``, ``dc (T, N, H)`` or None, and
    ``dcT (N, H)`` or None; ``dx`` comes time-major."""
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, or not at all
        if check_finite:
            cell_common.require_finite_upstream((names[0], dh), (names[1], dc), (names[1], dcT))
        grads = _backward_loop(dh, dc, dcT, cache)
        if check_results:
            dx, dh0, dc0, dWx, dWh, db, dWr = grads
            named = (("dh0", dh0), ("dc0", dc0), ("dWx", dWx), ("dWh", dWh), ("db", db))
            cell_common.require_finite_results(
                dx, named + ((("dWr", dWr),) if dWr is not None else ())
            )
    return grads


def _backward_loop(
    dh: FloatArray, dc: FloatArray | None, dcT: FloatArray | None, cache: LSTMCache
) -> Gradients:
    """``dx (T, N, D)``, ``dh0``, ``dc0``, ``dWx``, ``dWh``, ``db``, ``dWr`` for checked upstream
    gradients (see :func:`_backward`).

    Long on purpose: the buffers, the loop over blocks and the loop over steps are one
    computation, read together.

    With ``dc_t = dL/dc_t`` through step t + 1 and the output, and ``dm = dL/d(o * tanh(c_t))``
    (``dh_t``, or ``dh_t @ Wr.T`` with a projection)::

        dc_t += dm * o * (1 - tanh(c_t)**2)
        da_i = dc_t * g * i (1 - i);   da_f = dc_t * c_{t-1} * f (1 - f)
        da_g = dc_t * i * (1 - g**2);  da_o = dm * tanh(c_t) * o (1 - o)
        dc_{t-1} = dc_t * f;           dh_{t-1} gets da @ Wh.T
    """
    T, N, P = dh.shape
    H, D = cache.c.shape[2], cache.x.shape[2]
    dtype = np.result_type(cache.h, dh, *(a for a in (dc, dcT) if a is not None))
    h, c, x1, gates, tanh_c, Wr = cache.h, cache.c, cache.x1, cache.gates, cache.tanh_c, cache.Wr

    # The steps run last to first in blocks of B, as the Elman cell's: the step loop fills
    # da = dL/da_t for one block; the block's share of every weight gradient and its rows of dx
    # are then one product each, while da is still in cache. Before the step loop, each block's
    # factors that need no gradient are computed at once (``da`` holds them, then is overwritten
    # with dL/da step by step): [g * i', c_{t-1} * f', i * g', tanh(c_t) * o'] with s' = s (1 - s)
    # for a sigmoid gate and 1 - g**2 for g, and ``k = o * (1 - tanh(c_t)**2)``.
    B = cell_common.steps_per_block(N * 4 * H * dtype.itemsize, _BLOCK_BYTES)
    da = np.empty((min(B, T), N, 4 * H), dtype=dtype)
    k = np.empty((min(B, T), N, H), dtype=dtype)
    g_h = np.zeros((N, P), dtype=dtype)  # dL/dh_t through step t + 1: zero after the last
    g_c = np.zeros((N, H), dtype=dtype) if dcT is None else np.array(dcT, dtype=dtype)
    dm = np.empty((N, H), dtype=dtype) if Wr is not None else g_h
    dm_block = None if Wr is None else np.empty((min(B, T), N, P), dtype=dtype)  # dh_t per step
    # Wh.T and Wr.T, C-contiguous: OpenBLAS's small products run up to 2x slower with a
    # transposed operand
    Wh_T = np.ascontiguousarray(cache.Wh.T, dtype=dtype)
    Wr_T = None if Wr is None else np.ascontiguousarray(Wr.T, dtype=dtype)
    dx = np.empty((T, N, D), dtype=dtype)
    dWx1 = np.zeros((D + 1, 4 * H), dtype=dtype)  # dWx, then db as its last row (the bias trick)
    dWh = np.zeros((P, 4 * H), dtype=dtype)
    dWr = None if Wr is None else np.zeros((H, P), dtype=dtype)
    for end in range(T, 0, -B):
        start = max(0, end - B)
        n = end - start
        _factors(gates[start:end], c[start:end], tanh_c[start:end], da[:n], k[:n])
        # (n, N, 4H) -> (n, N, 4, H): a view of each gate's block
        da4 = da[:n].reshape(n, N, 4, H)
        for s in reversed(range(n)):
            t = start + s
            g_h += dh[t]
            if dc is not None:
                g_c += dc[t]
            if Wr_T is not None:
                dm_block[s] = g_h  # type: ignore[index]
                np.matmul(g_h, Wr_T, out=dm)
            g_c += dm * k[s]
            np.multiply(da4[s, :, :3], g_c[:, None], out=da4[s, :, :3])  # da_i, da_f, da_g
            np.multiply(da4[s, :, 3], dm, out=da4[s, :, 3])  # da_o
            np.multiply(g_c, gates[t, :, H : 2 * H], out=g_c)  # dc_{t-1} = dc_t * f
            np.matmul(da[s], Wh_T, out=g_h)
        # The block's steps as rows: (n, N, .) -> (n * N, .).
        rows = n * N
        da_rows = da[:n].reshape(rows, 4 * H)
        dWx1 += x1[start:end].reshape(rows, D + 1).T @ da_rows
        dWh += h[start:end].reshape(rows, P).T @ da_rows
        np.matmul(da_rows, cache.Wx.T, out=dx[start:end].reshape(rows, D))
        if dWr is not None:
            # dWr = sum over steps of (o * tanh(c_t)).T @ dh_t
            m = gates[start:end, :, 3 * H :] * tanh_c[start:end]
            dWr += m.reshape(rows, H).T @ dm_block[:n].reshape(rows, P)  # type: ignore[index]
    return dx, g_h, g_c, dWx1[:D], dWh, dWx1[D], dWr


def _factors(
    gates: FloatArray, c_prev: FloatArray, tanh_c: FloatArray, out: FloatArray, k: FloatArray
) -> None:
    """A block's factors of dL/da that need no gradient, into ``out (n, N, 4H)`` and ``k (n, N, H)``
    (see ``_backward_loop``), from its gates ``(n, N, 4H)``, ``c_{t-1}`` and ``tanh(c_t)``."""
    n, N, H4 = gates.shape
    H = H4 // 4
    G = gates.reshape(n, N, 4, H)  # [i f g o] as one axis
    out4 = out.reshape(n, N, 4, H)
    i, g, o = G[:, :, 0], G[:, :, 2], G[:, :, 3]
    # the sigmoid gates' derivative s - s**2 for all four, then g's own, 1 - g**2
    np.multiply(G, G, out=out4)
    np.subtract(G, out4, out=out4)
    np.multiply(g, g, out=out4[:, :, 2])
    np.subtract(1, out4[:, :, 2], out=out4[:, :, 2])
    out4[:, :, 0] *= g
    out4[:, :, 1] *= c_prev
    out4[:, :, 2] *= i
    out4[:, :, 3] *= tanh_c
    np.multiply(tanh_c, tanh_c, out=k)
    np.subtract(1, k, out=k)
    np.multiply(k, o, out=k)


def _check_cache(cache: object, *, step: bool) -> None:
    cell_common.check_cache(
        cache, LSTMCache, step=step, made_by=("lstm_step_forward", "lstm_forward")
    )
