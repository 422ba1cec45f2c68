"""The GRU cell, the fast version: ``forward(...) -> (out, cache)``, ``backward(dout, cache)``.

Long on purpose: the four functions, their cache and the two loops they share are one idea, and
are read together. The same math in a screen each, plain loops over t, is
:mod:`~reference_rnn.core.gru_textbook`: the version to read and compare one's own code with.
What every cell shares (sealed caches, their checks, the finiteness checks) is
:mod:`~reference_rnn.core.cell_common`.

Shapes, named once and used throughout::

    N  batch size          T  number of time steps
    D  input features      H  hidden units

    x_t (N, D), h_t (N, H), Wx (D, 3H), Wh (H, 3H), b (3H,), bh (3H,)

The three gates sit side by side in torch's order r, z, n: ``Wx[:, :H]`` is the reset gate's,
``Wx[:, H:2H]`` the update gate's, ``Wx[:, 2H:]`` the candidate's, and so in ``Wh``, ``b`` (the
input bias, torch's ``bias_ih``) and ``bh`` (the recurrent bias, torch's ``bias_hh``)::

    r_t = sigmoid(x_t @ Wx_r + b_r + h_{t-1} @ Wh_r + bh_r)
    z_t = sigmoid(x_t @ Wx_z + b_z + h_{t-1} @ Wh_z + bh_z)
    n_t = tanh(x_t @ Wx_n + b_n + r_t * (h_{t-1} @ Wh_n + bh_n))     reset_after=True (torch)
    n_t = tanh(x_t @ Wx_n + b_n + (r_t * h_{t-1}) @ Wh_n + bh_n)     reset_after=False
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

``reset_after=True`` is torch's, cuDNN's and Keras 3's default: the reset gate scales the
recurrent product, bias included. ``reset_after=False`` is the ONNX operator's default
(``linear_before_reset=0``), Keras' ``reset_after=False``, and the GRU of d2l and of
deep-learning-from-scratch-2: the reset gate scales the state before the product. The two are
different functions of the same weights (docs/gru.md). With ``reset_after=False`` only the sum
``b_n + bh_n`` matters, as only ``b + bh`` does for r and z in both.

The public functions are batch-first, ``x (N, T, D)``. Inside, every per-step array is time-major,
``(T, N, .)``, so that the state of step ``t`` is one contiguous ``(N, H)`` block and the input
projection of every gate is a single matrix product over all ``T * N`` rows; ``dWx``, ``dWh`` and
``dx`` are single products after the backward loop.

The functions never modify their arguments. The cache holds private, read-only copies of what the
backward pass needs, so the same cache can be used any number of times, in any order: their memory
is reachable only through read-only views, and a backward function takes only a cache that a
forward function made. The returned hidden states are read-only views of the cache.

With ``check_finite=True`` (the default) the arguments are checked for NaN and inf, and so are the
results: finite arguments whose arithmetic overflows raise :class:`NonFiniteResultError` naming
the result and the time step. The states cannot overflow: each is a convex combination of the
previous one and ``n_t`` in [-1, 1], so ``|h_t| <= max(1, max|h0|) = m``. The pre-activations are
at most ``p + H * m * max|Wh| + max|bh|`` with ``p`` the largest ``|x @ Wx + b|`` (checked once,
before the loop): below half the dtype's largest value nothing can overflow, and only where that
bound fails is each step's pre-activations checked. The backward pass checks the gradients it
returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference_rnn.core import cell_common
from reference_rnn.core.validation import (
    FloatArray,
    NonFiniteResultError,
    as_real_array,
    check_flag,
    check_shape,
)

__all__ = [
    "GRUCache",
    "NonFiniteResultError",
    "backward_sequence",
    "forward_sequence",
    "gru_backward",
    "gru_forward",
    "gru_step_backward",
    "gru_step_forward",
]

#: The gradients the backward functions return, in order: dx, dh0 (or dprev_h), dWx, dWh, db, dbh.
Grads = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


@dataclass(frozen=True, eq=False)
class GRUCache(cell_common.CellCache):
    """What the backward pass needs from the forward pass; build it with a forward function.

    The attributes of :class:`~reference_rnn.core.cell_common.CellCache` (read-only, ``h (T + 1,
    N, H)``, ``Wx (D, 3H)``, ``Wh (H, 3H)``; ``step`` for :func:`gru_step_forward`'s), and:

    gates : (T, N, 3H) array, read-only
        ``r_t``, ``z_t`` and ``n_t`` side by side, after their nonlinearities.
    hn : (T, N, H) array, read-only, or None
        With ``reset_after``, the recurrent term the reset gate scales, ``h_{t-1} @ Wh_n + bh_n``;
        None otherwise (the backward pass then forms ``r_t * h_{t-1}`` from ``gates`` and ``h``).
    reset_after : bool
    """

    gates: FloatArray
    hn: FloatArray | None
    reset_after: bool


def gru_step_forward(
    x: object,
    prev_h: object,
    Wx: object,
    Wh: object,
    b: object,
    bh: object,
    *,
    reset_after: bool = True,
    check_finite: bool = True,
) -> tuple[FloatArray, GRUCache]:
    """One step of the GRU: ``next_h = (1 - z) * n + z * prev_h`` (the module's equations).

    Parameters
    ----------
    x : (N, D) array_like
    prev_h : (N, H) array_like
    Wx : (D, 3H) array_like
        The input weights of the gates r, z, n side by side (torch's ``weight_ih.T``).
    Wh : (H, 3H) array_like
        The recurrent weights, in the same order (torch's ``weight_hh.T``).
    b : (3H,) array_like
        The input bias (torch's ``bias_ih``).
    bh : (3H,) array_like
        The recurrent bias (torch's ``bias_hh``); with ``reset_after`` the reset gate scales its
        n part.
    reset_after : bool
        True: torch's ``n = tanh(x @ Wx_n + b_n + r * (prev_h @ Wh_n + bh_n))``; False: the ONNX
        default's ``n = tanh(x @ Wx_n + b_n + (r * prev_h) @ Wh_n + bh_n)``.
    check_finite : bool
        Reject NaN and inf in the arguments, and results that overflow (the default).

    Returns
    -------
    next_h : (N, H) ndarray, read-only
    cache : GRUCache, for :func:`gru_step_backward`
    """
    cache = _forward(
        cell_common.step_input(x),  # (N, D) -> (1, N, D): one time-major step
        prev_h,
        Wx,
        Wh,
        b,
        bh,
        "prev_h",
        reset_after,
        check_finite=check_finite,
        step=True,
    )
    return cache.h[1], cache


def gru_step_backward(dnext_h: object, cache: GRUCache, *, check_finite: bool = True) -> Grads:
    """Gradients of one step, given ``dnext_h = dL/dnext_h``.

    Parameters
    ----------
    dnext_h : (N, H) array_like
    cache : GRUCache from :func:`gru_step_forward`
    check_finite : bool
        Reject NaN and inf in ``dnext_h``, and gradients that overflow (the default).

    Returns
    -------
    dx : (N, D), dprev_h : (N, H), dWx : (D, 3H), dWh : (H, 3H), db : (3H,), dbh : (3H,)
    """
    _check_cache(cache, step=True)
    dh = cell_common.upstream("dnext_h", dnext_h, cache.h.shape[1:], "the shape of next_h")
    # (N, H) -> (1, N, H): one time-major step.
    dx, *grads = _backward(
        dh[None], cache, "dnext_h", check_finite=check_finite, check_results=check_finite
    )
    dprev_h, dWx, dWh, db, dbh = grads
    return dx[0], dprev_h, dWx, dWh, db, dbh


def gru_forward(
    x: object,
    h0: object,
    Wx: object,
    Wh: object,
    b: object,
    bh: object,
    *,
    reset_after: bool = True,
    check_finite: bool = True,
) -> tuple[FloatArray, GRUCache]:
    """Run the GRU over a whole batch of sequences.

    Parameters
    ----------
    x : (N, T, D) array_like
        Inputs, batch-first; T must be at least 1.
    h0 : (N, H) array_like
        Initial hidden state.
    Wx, Wh, b, bh : (D, 3H), (H, 3H), (3H,), (3H,) array_like
        As in :func:`gru_step_forward`: the gates r, z, n side by side.
    reset_after : bool
        Where the reset gate acts (:func:`gru_step_forward`); True is torch's.
    check_finite : bool
        Reject NaN and inf in the arguments, and results that overflow (the default).

    Returns
    -------
    h : (N, T, H) ndarray, read-only
        The hidden state after every step; ``h[:, -1]`` is the final state.
    cache : GRUCache, for :func:`gru_backward`
    """
    return forward_sequence(x, h0, Wx, Wh, b, bh, "h0", reset_after, check_finite=check_finite)


def gru_backward(dh: object, cache: GRUCache, *, check_finite: bool = True) -> Grads:
    """Backpropagation through time.

    Parameters
    ----------
    dh : (N, T, H) array_like
        ``dL/dh_t`` from above, for every step (zeros where the loss does not use a step).
    cache : GRUCache from :func:`gru_forward`
    check_finite : bool
        Reject NaN and inf in ``dh``, and gradients that overflow (the default).

    Returns
    -------
    dx : (N, T, D), dh0 : (N, H), dWx : (D, 3H), dWh : (H, 3H), db : (3H,), dbh : (3H,)
    """
    return backward_sequence(dh, cache, "dh", check_finite=check_finite)


def forward_sequence(
    x: object,
    h0: object | None,
    Wx: object,
    Wh: object,
    b: object,
    bh: object,
    h0_name: str,
    reset_after: bool,
    *,
    check_finite: bool,
    check_results: bool | None = None,
) -> tuple[FloatArray, GRUCache]:
    """:func:`gru_forward`, with the name by which the caller knows ``h0`` (for messages).

    ``h0=None`` starts from zeros. ``check_results`` (default: ``check_finite``) checks the
    results alone, for a caller that has checked the arguments itself.
    """
    cache = _forward(
        cell_common.sequence_input(x),  # (N, T, D) -> (T, N, D): a view; _forward copies it
        h0,
        Wx,
        Wh,
        b,
        bh,
        h0_name,
        reset_after,
        check_finite=check_finite,
        step=False,
        check_results=check_results,
    )
    return cell_common.batch_first(cache.h), cache


def backward_sequence(
    dh: object,
    cache: GRUCache,
    dh_name: str,
    *,
    check_finite: bool,
    check_results: bool | None = None,
) -> Grads:
    """:func:`gru_backward`, with the name by which the caller knows ``dh`` (for messages).

    ``check_results`` (default: ``check_finite``) checks the gradients alone.
    """
    _check_cache(cache, step=False)
    dh_steps = cell_common.upstream_steps(dh_name, dh, cache.h, "the shape of h")  # (T, N, H)
    dx, *grads = _backward(
        dh_steps,
        cache,
        dh_name,
        check_finite=check_finite,
        check_results=check_finite if check_results is None else check_results,
    )
    dh0, dWx, dWh, db, dbh = grads
    return dx.transpose(1, 0, 2), dh0, dWx, dWh, db, dbh  # dx (T, N, D) -> (N, T, D)


def _weights(
    Wx: object, Wh: object, b: object, bh: object
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``Wx (D, 3H)``, ``Wh (H, 3H)``, ``b (3H,)`` and ``bh (3H,)`` as arrays; H comes from Wx."""
    uneven = (
        "Wx must have shape (D, 3H), the gates r, z, n side by side, got {shape}: "
        "{columns} columns is not a multiple of 3"
    )
    Wx_arr, H = cell_common.gate_weights(Wx, 3, uneven)
    why = f"H = {H} from Wx"
    Wh_arr = as_real_array("Wh", Wh)
    check_shape("Wh", Wh_arr, (H, 3 * H), why)
    b_arr = as_real_array("b", b)
    check_shape("b", b_arr, (3 * H,), why)
    bh_arr = as_real_array("bh", bh)
    check_shape("bh", bh_arr, (3 * H,), why)
    return Wx_arr, Wh_arr, b_arr, bh_arr


def _arguments(
    x: FloatArray,
    h0: object | None,
    Wx: object,
    Wh: object,
    b: object,
    bh: object,
    h0_name: str,
    step: bool,
    check_finite: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``Wx``, ``Wh``, ``b``, ``bh`` and ``h0`` (zeros for None) checked, for ``x (T, N, D)``."""
    N = x.shape[1]
    cell_common.caller_shape(x, step)  # T >= 1, checked before the weights
    Wx_arr, Wh_arr, b_arr, bh_arr = _weights(Wx, Wh, b, bh)
    cell_common.check_features(Wx_arr, x, step)
    H = Wh_arr.shape[0]
    why = f"N = {N} from x, H = {H} from Wx"
    h0_arr = cell_common.initial_state(h0_name, h0, (N, H), why, x, Wx_arr, Wh_arr, b_arr, bh_arr)
    if check_finite:
        named = (("x", x), ("Wx", Wx_arr), ("Wh", Wh_arr), ("b", b_arr), ("bh", bh_arr))
        cell_common.require_all_finite((*named, (h0_name, h0_arr)))
    return Wx_arr, Wh_arr, b_arr, bh_arr, h0_arr


def _forward(
    x: FloatArray,
    h0: object | None,
    Wx: object,
    Wh: object,
    b: object,
    bh: object,
    h0_name: str,
    reset_after: bool,
    *,
    check_finite: bool,
    step: bool,
    check_results: bool | None = None,
) -> GRUCache:
    """Check the arguments (``x`` is a time-major ``(T, N, D)`` view) and run the recurrence."""
    reset_after = check_flag("reset_after", reset_after)
    Wx_arr, Wh_arr, b_arr, bh_arr, h0_arr = _arguments(
        x, h0, Wx, Wh, b, bh, h0_name, step, check_finite
    )
    T, N, D = x.shape
    H = Wh_arr.shape[0]
    dtype = np.result_type(x, Wx_arr, Wh_arr, b_arr, bh_arr, h0_arr)

    x1, Wx1 = cell_common.bias_trick(x, Wx_arr, b_arr, dtype)
    # Private copies, C-contiguous whatever the caller's layout (GRU passes torch's weight_hh.T).
    Wh_arr = np.array(Wh_arr, dtype=dtype, order="C")
    bh_arr = np.array(bh_arr, dtype=dtype)

    h = np.empty((T + 1, N, H), dtype=dtype)
    h[0] = h0_arr
    gates = np.empty((T, N, 3 * H), dtype=dtype)
    hn = np.empty((T, N, H), dtype=dtype) if reset_after else None
    # The input projection of every gate at every step at once: (T * N, D + 1) @ (D + 1, 3H).
    with np.errstate(over="ignore", invalid="ignore"):  # checked in _recur, or not at all
        np.matmul(x1.reshape(T * N, D + 1), Wx1, out=gates.reshape(T * N, 3 * H))
    checks = check_finite if check_results is None else check_results
    _recur(h, gates, hn, Wh_arr, bh_arr, checks)
    sealed_x, sealed_x1, sealed_Wx = cell_common.sealed_inputs(x1, Wx1)
    cache = GRUCache(
        x=sealed_x,
        x1=sealed_x1,
        Wx=sealed_Wx,
        h=cell_common.sealed(h),
        gates=cell_common.sealed(gates),
        hn=None if hn is None else cell_common.sealed(hn),
        Wh=cell_common.sealed(Wh_arr),
        reset_after=reset_after,
        step=step,
    )
    cell_common.register(cache)
    return cache


def _recur(
    h: FloatArray,
    gates: FloatArray,
    hn: FloatArray | None,
    Wh: FloatArray,
    bh: FloatArray,
    checks: bool,
) -> None:
    """The loop, in place: ``h[0]`` is ``h0``; ``gates`` holds the input projections, then the
    gates ``r, z, n`` of every step; ``h[1:]`` the states; ``hn`` (reset_after) the recurrent term
    of n. With ``checks``, what overflows is an error at its step (the module docstring says how).
    """
    _, N, H = h.shape
    per_step = checks and not _bounded(h, gates, Wh, bh)
    # (H, 3H) -> the r and z columns, and n's, each C-contiguous for the products
    Wh_rz, Wh_n = np.ascontiguousarray(Wh[:, : 2 * H]), np.ascontiguousarray(Wh[:, 2 * H :])
    bh_n = bh[2 * H :]
    recurrent = np.empty((N, 3 * H), dtype=h.dtype)  # h_{t-1} @ Wh, one buffer for every step
    rh = np.empty((N, H), dtype=h.dtype)  # r_t * h_{t-1} (reset_after=False), or r_t * hn_t
    with np.errstate(over="ignore", invalid="ignore"):
        # The recurrent biases that no gate multiplies join the input projection, every step at
        # once, after its check (an overflow here is then the pre-activation's, at its step): r's
        # and z's, and n's too without reset_after. The loop adds the products alone.
        folded = 2 * H if hn is not None else 3 * H
        gates[:, :, :folded] += bh[:folded]
        for t in range(gates.shape[0]):
            h_prev, g = h[t], gates[t]
            rz, n = g[:, : 2 * H], g[:, 2 * H :]
            if hn is not None:  # reset_after
                np.matmul(h_prev, Wh, out=recurrent)
                hn_t = hn[t]
                np.add(recurrent[:, 2 * H :], bh_n, out=hn_t)  # h_{t-1} @ Wh_n + bh_n
                rz += recurrent[:, : 2 * H]
                if per_step:
                    _check_pre_activation("the pre-activation of the gates r and z", rz, t)
                cell_common.sigmoid(rz)
                np.multiply(rz[:, :H], hn_t, out=rh)  # r_t * (h_{t-1} @ Wh_n + bh_n)
                n += rh
            else:
                recurrent_rz = recurrent[:, : 2 * H]
                np.matmul(h_prev, Wh_rz, out=recurrent_rz)
                rz += recurrent_rz
                if per_step:
                    _check_pre_activation("the pre-activation of the gates r and z", rz, t)
                cell_common.sigmoid(rz)
                np.multiply(rz[:, :H], h_prev, out=rh)  # r_t * h_{t-1}
                recurrent_n = recurrent[:, 2 * H :]
                np.matmul(rh, Wh_n, out=recurrent_n)
                n += recurrent_n
            if per_step:
                _check_pre_activation("the pre-activation of the candidate n", n, t)
            np.tanh(n, out=n)
            # h_t = (1 - z) * n + z * h_{t-1} = n + z * (h_{t-1} - n)
            h_t = h[t + 1]
            np.subtract(h_prev, n, out=h_t)
            h_t *= rz[:, H:]
            h_t += n


def _check_pre_activation(what: str, a: FloatArray, t: int) -> None:
    if not np.isfinite(a).all():
        raise cell_common.non_finite(what, a[None], t)


def _bounded(h: FloatArray, gates: FloatArray, Wh: FloatArray, bh: FloatArray) -> bool:
    """Check the input projection ``gates``; then whether no pre-activation can overflow.

    The module docstring gives the bound. The largest and smallest values of the projection,
    two passes without a temporary, are also its check: a NaN or inf makes one of them
    non-finite.
    """
    if not gates.size:
        return True
    H = h.shape[2]
    projection = cell_common.checked_projection(gates)
    m = max(1.0, float(np.abs(h[0]).max(initial=0)))
    recurrent = H * m * float(np.abs(Wh).max()) + float(np.abs(bh).max())
    # a longdouble's largest value is inf as a float: then a finite bound is always below it
    return bool(projection + recurrent < float(np.finfo(h.dtype).max) / 2)


def _backward(
    dh: FloatArray, cache: GRUCache, dh_name: str, *, check_finite: bool, check_results: bool
) -> Grads:
    """The backward pass for a checked time-major ``dh (T, N, H)``; ``dx`` comes time-major."""
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, or not at all
        if check_finite:
            cell_common.require_finite_upstream((dh_name, dh))
        grads = _backward_loop(dh, cache)
        if check_results:
            dx, *rest = grads
            names = ("dh0", "dWx", "dWh", "db", "dbh")
            cell_common.require_finite_results(dx, tuple(zip(names, rest, strict=True)))
    return grads


def _backward_loop(dh: FloatArray, cache: GRUCache) -> Grads:
    """``dx (T, N, D)``, ``dh0``, ``dWx``, ``dWh``, ``db``, ``dbh`` for a checked ``dh (T, N, H)``.

    Long on purpose: the step's derivatives fill the buffers that the products after the loop
    read, one computation in two halves.

    With ``g = dL/dh_t`` (from above and from step t + 1), the step's derivatives are::

        dn = g * (1 - z);  dz = g * (h_{t-1} - n);  dL/dh_{t-1} gets g * z
        da_n = dn * (1 - n**2);  da_z = dz * z * (1 - z)
        reset_after:  dr = da_n * hn;            recurrent gradient [da_r, da_z, da_n * r]
        otherwise:    d(r h) = da_n @ Wh_n.T;     dr = d(r h) * h_{t-1}
        da_r = dr * r * (1 - r)

    where ``da_*`` are the gradients of the pre-activations, the input side's ``[da_r, da_z,
    da_n]`` for ``dWx``, ``db`` and ``dx``.
    """
    T, N, H = dh.shape
    D = cache.x.shape[2]
    dtype = np.result_type(cache.h, dh)
    h, x1, gates = cache.h, cache.x1, cache.gates
    hn = cache.hn  # None unless reset_after
    # Transposes, C-contiguous: OpenBLAS's small products run up to 2x slower with a transposed
    # operand.
    Wh_T = np.ascontiguousarray(cache.Wh.T, dtype=dtype)  # (3H, H)
    Wh_rz_T, Wh_n_T = Wh_T[: 2 * H], Wh_T[2 * H :]

    da = np.empty((T, N, 3 * H), dtype=dtype)  # dL/d the input side's pre-activations r, z, n
    # reset_after: dL/d (h_{t-1} @ Wh_n + bh_n), da_n times r; the r, z parts are da's own
    dhn = None if hn is None else np.empty((T, N, H), dtype=dtype)
    g = np.zeros((N, H), dtype=dtype)  # dL/dh_t through step t + 1, zero after the last
    d = np.empty((N, H), dtype=dtype)  # scratch: d(r * h_{t-1}) (reset_after=False)
    back = np.empty((N, H), dtype=dtype)  # a product's share of dL/dh_{t-1}
    # The steps run last to first in blocks of B: first the block's factors of da that need no
    # gradient (see _factors), all at once while the block's gates are in cache; then each step
    # multiplies them by its gradient in place: still in a core's cache when the steps read them.
    B = cell_common.steps_per_block(N * 3 * H * da.itemsize)
    for end in range(T, 0, -B):
        start = max(0, end - B)
        _factors(
            gates[start:end], h[start:end], None if hn is None else hn[start:end], da[start:end]
        )
        for t in reversed(range(start, end)):
            g += dh[t]
            r, z = gates[t, :, :H], gates[t, :, H : 2 * H]
            da_r, da_z, da_n = da[t, :, :H], da[t, :, H : 2 * H], da[t, :, 2 * H :]
            da_n *= g  # g * (1 - z) * (1 - n**2)
            da_z *= g  # g * (h_{t-1} - n) * z * (1 - z)
            g *= z  # the state's direct path: dL/dh_{t-1} gets g * z
            if dhn is not None:  # reset_after: da_r = da_n * hn * r (1 - r)
                da_r *= da_n
                dhn_t = dhn[t]
                np.multiply(da_n, r, out=dhn_t)
                np.matmul(dhn_t, Wh_n_T, out=back)
            else:  # da_r = d(r * h_{t-1}) * h_{t-1} * r (1 - r)
                np.matmul(da_n, Wh_n_T, out=d)
                da_r *= d
                np.multiply(d, r, out=back)
            g += back
            np.matmul(da[t, :, : 2 * H], Wh_rz_T, out=back)
            g += back
    # Every step's gradients as rows: (T, N, .) -> (T * N, .).
    rows = T * N
    da_rows = da.reshape(rows, 3 * H)
    dWx1 = x1.reshape(rows, D + 1).T @ da_rows  # dWx, then db as its last row (the bias trick)
    dx = (da_rows @ cache.Wx.T).reshape(T, N, D)
    h_rows = h[:-1].reshape(rows, H)
    dWh = np.empty((H, 3 * H), dtype=dtype)
    dWh[:, : 2 * H] = h_rows.T @ da_rows[:, : 2 * H]
    dbh = dWx1[D].copy()  # b and bh enter r's and z's pre-activations alike (and n's, before)
    if dhn is not None:  # reset_after: the n part went through r
        dhn_rows = dhn.reshape(rows, H)
        dWh[:, 2 * H :] = h_rows.T @ dhn_rows
        dbh[2 * H :] = dhn_rows.sum(axis=0)
    else:
        rh = gates[:, :, :H] * h[:-1]  # r_t * h_{t-1}, (T, N, H)
        dWh[:, 2 * H :] = rh.reshape(rows, H).T @ da_rows[:, 2 * H :]
    return dx, g, dWx1[:D], dWh, dWx1[D], dbh


def _factors(gates: FloatArray, h_prev: FloatArray, hn: FloatArray | None, out: FloatArray) -> None:
    """The factors of dL/da that need no gradient, for a block of steps, into ``out (n, N, 3H)``.

    From the block's gates ``[r z n] (n, N, 3H)``, ``h_{t-1} (n, N, H)`` and ``hn`` (reset_after) or None:
    ``[r (1 - r) * hn, (h_{t-1} - n) * z (1 - z), (1 - z) * (1 - n**2)]``, with ``h_{t-1}`` in
    place of ``hn`` when reset_after is False (see ``_backward_loop``).
    """
    H = h_prev.shape[2]
    r, z, n = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H :]
    k_r, k_z, k_n = out[..., :H], out[..., H : 2 * H], out[..., 2 * H :]
    np.subtract(1, r, out=k_r)
    k_r *= r
    k_r *= h_prev if hn is None else hn
    np.subtract(1, z, out=k_n)
    np.multiply(z, k_n, out=k_z)
    scratch = np.subtract(h_prev, n)  # (n, N, H), then 1 - n**2
    k_z *= scratch
    np.multiply(n, n, out=scratch)
    np.subtract(1, scratch, out=scratch)
    k_n *= scratch


def _check_cache(cache: object, *, step: bool) -> None:
    cell_common.check_cache(cache, GRUCache, step=step, made_by=("gru_step_forward", "gru_forward"))
