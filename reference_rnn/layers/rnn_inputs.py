"""``RNN``'s arguments: checked, and moved between the caller's layouts and the core's.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = num_directions; F is any feature width.

The caller lays arrays out as torch does, ``(T, N, F)``, ``(N, T, F)`` with batch_first or
``(T, F)`` unbatched; inside, every array is batch-first ``(N, T, F)``, the layout of the
functional core, and an unbatched call is a batch of one.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.cell_common import sealed
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.validation import (
    FloatArray,
    as_array,
    as_real_array,
    check_shape,
    require_finite,
)

__all__ = [
    "checked_initial_state",
    "checked_input",
    "checked_lengths",
    "checked_upstream",
    "from_batch_first",
    "read_only_view",
    "to_batch_first",
]


def checked_input(config: RNNConfig, input: object) -> tuple[FloatArray, bool]:
    """The checked input as an ``(N, T, D)`` view, and whether it was unbatched."""
    x = as_real_array("input", input)
    if x.ndim not in (2, 3):
        msg = (
            "input must be 3-D (T, N, D), or (N, T, D) with batch_first, or 2-D (T, D) "
            f"unbatched, got {x.ndim}-D array of shape {x.shape}"
        )
        raise ValueError(msg)
    if x.shape[-1] != config.input_size:
        msg = (
            f"input must have input_size = {config.input_size} features on its last axis, "
            f"got shape {x.shape}"
        )
        raise ValueError(msg)
    time_axis = 1 if config.batch_first and x.ndim == 3 else 0
    if x.shape[time_axis] == 0:
        msg = f"input must have at least one time step, got shape {x.shape}"
        raise ValueError(msg)
    require_finite("input", x)
    unbatched = x.ndim == 2
    return to_batch_first(config, x, unbatched), unbatched


def checked_initial_state(
    config: RNNConfig, hx: object | None, unbatched: bool, N: int, dtype: np.dtype[np.floating]
) -> FloatArray:
    """The checked initial state as ``(L * K, N, H)``; zeros of ``dtype`` for None."""
    shape = (config.num_layers * config.num_directions, N, config.hidden_size)
    if hx is None:
        return np.zeros(shape, dtype=dtype)
    h0 = as_real_array("hx", hx)
    ndim = 2 if unbatched else 3
    if h0.ndim != ndim:
        kind = "unbatched 2-D" if unbatched else "batched 3-D"
        msg = f"For {kind} input, hx should also be {ndim}-D but got {h0.ndim}-D array"
        raise ValueError(msg)
    if unbatched:
        check_shape("hx", h0, (shape[0], shape[2]), "num_layers * num_directions, H")
    else:
        check_shape("hx", h0, shape, "num_layers * num_directions, N, H; N from input")
    require_finite("hx", h0)
    return h0[:, None] if unbatched else h0


def checked_lengths(
    lengths: object | None, unbatched: bool, N: int, T: int
) -> NDArray[np.intp] | None:
    """The checked sequence lengths, ``(N,)``, or None."""
    if lengths is None:
        return None
    if unbatched:
        msg = "lengths needs batched 3-D input, got unbatched 2-D input"
        raise ValueError(msg)
    steps = as_array("lengths", lengths)
    if steps.dtype.kind not in "iu" and steps.size:  # an empty list is float64 to NumPy
        msg = f"lengths must be an array of integers, got dtype {steps.dtype}"
        raise TypeError(msg)
    check_shape("lengths", steps, (N,), "one length per sequence of input")
    if N and (steps.min() < 1 or steps.max() > T):
        msg = f"lengths must lie in [1, T] = [1, {T}] (T: input's steps), got {steps.tolist()}"
        raise ValueError(msg)
    return steps.astype(np.intp)


def checked_upstream(
    config: RNNConfig,
    output_shape: tuple[int, ...],
    hx_shape: tuple[int, ...],
    unbatched: bool,
    grad_output: object,
    grad_h_n: object | None,
) -> tuple[FloatArray, FloatArray | None]:
    """``grad_output`` as (N, T, K * H) and ``grad_h_n`` as (L * K, N, H) or None, checked."""
    g_out = as_real_array("grad_output", grad_output)
    check_shape("grad_output", g_out, output_shape, "the shape of output")
    require_finite("grad_output", g_out)
    g_hn = None
    if grad_h_n is not None:
        g_hn = as_real_array("grad_h_n", grad_h_n)
        check_shape("grad_h_n", g_hn, hx_shape, "the shape of h_n")
        require_finite("grad_h_n", g_hn)
        if unbatched:
            g_hn = g_hn[:, None]  # (L * K, H) -> (L * K, 1, H)
    return to_batch_first(config, g_out, unbatched), g_hn


def to_batch_first(config: RNNConfig, a: FloatArray, unbatched: bool) -> FloatArray:
    """A view of ``a``, laid out as the caller's input or output, as ``(N, T, F)``."""
    if unbatched:
        return a[None]  # (T, F) -> (1, T, F)
    return a if config.batch_first else a.transpose(1, 0, 2)  # (T, N, F) -> (N, T, F)


def from_batch_first(config: RNNConfig, a: FloatArray, unbatched: bool) -> FloatArray:
    """The inverse of :func:`to_batch_first`."""
    if unbatched:
        return a.reshape(a.shape[1:])  # (1, T, F) -> (T, F)
    return a if config.batch_first else a.transpose(1, 0, 2)


def read_only_view(a: FloatArray) -> FloatArray:
    """``a`` read-only down to its memory: ``flags.writeable = True`` raises on it and its base.

    A view of the core's cache already is (its base is a read-only buffer); an array that owns its
    memory is wrapped without a copy; anything else is copied first.
    """
    base: object = a
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview) and base.readonly:
        view = a.view()
        view.flags.writeable = False
        return view
    return sealed(a if a.base is None and a.flags.c_contiguous else np.ascontiguousarray(a))
