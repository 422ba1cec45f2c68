"""The stack driver: any cell over torch's layers, directions and layouts, forward and backward.

Long on purpose: a layer class (``RNN``) hands its arguments and its cell to this module, and
everything between the caller's arrays and the cell's sequence functions is here, read in one
go: the arguments' checks and layouts (batch_first, unbatched), the layers and directions, the
lengths, the dropout masks, and an overflow's location in the caller's terms. The cell is an
argument (:class:`Cell`): the driver never names one.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = num_directions; D_l = D for the first layer and K * H above it; F is any feature width.

    x (N, T, D), h0 (L * K, N, H)  ->  output (N, T, K * H), h_n (L * K, N, H)

The caller lays arrays out as torch does, ``(T, N, F)``, ``(N, T, F)`` with batch_first or
``(T, F)`` unbatched; inside, every array is batch-first ``(N, T, F)``, the layout of the
functional core, and an unbatched call is a batch of one.

Layer ``l``'s input is layer ``l - 1``'s output: its directions' states ``[forward, reverse]`` on
the last axis, zero past each sequence's length, times a dropout mask below the last layer in
training. The reverse direction is the cell's forward recurrence on each sequence reversed within
its length, so it starts at the sequence's last valid step; each direction's final state is its
state at its own step ``length - 1``. The backward pass runs the same in reverse.

The cell checks every direction's results (the arguments were checked here): an overflow is
re-raised with the layer, the direction and the time step in the caller's time order. The
input is zero past each sequence's length, so padding cannot overflow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.cell_common import sealed
from reference_rnn.core.config import Mode, RNNConfig
from reference_rnn.core.validation import (
    FloatArray,
    NonFiniteResultError,
    as_array,
    as_real_array,
    check_shape,
    require_finite,
)

__all__ = [
    "Cell",
    "StackCache",
    "checked_initial_state",
    "checked_input",
    "checked_lengths",
    "checked_upstream",
    "from_batch_first",
    "read_only_view",
    "reverse",
    "stack_backward",
    "stack_forward",
    "to_batch_first",
]

#: The core's arrays for one layer and direction: weights, or their gradients, in the core's layout.
CoreArrays = tuple[FloatArray, ...]


@dataclass(frozen=True)
class Cell:
    """What the driver needs of a cell; the parameters' names and shapes come from ``config.mode``.

    Attributes
    ----------
    modes : torch's modes the cell computes (``RNNConfig.mode``)
    torch_module : the name of torch's module in ``torch.nn`` (``"RNN"``)
    weights : ``(config, params, layer, direction) -> weights``
        One layer and direction's parameters, torch-named, in the core's layout.
    forward : ``(config, x (N, T, D_l), h0 (N, H), weights) -> (h (N, T, H), cache)``
        The cell's sequence forward, checking its results only (``NonFiniteResultError``).
    backward : ``(g (N, T, H), cache) -> (dx (N, T, D_l), dh0 (N, H), *dweights)``
        Its backpropagation through time, checking its results only.
    gradients : ``(config, layer, direction, dweights) -> grads``
        The core's gradients of the weights, torch-named and laid out.
    """

    modes: tuple[Mode, ...]
    torch_module: str
    weights: Callable[[RNNConfig, Mapping[str, FloatArray], int, int], CoreArrays]
    forward: Callable[[RNNConfig, FloatArray, FloatArray, CoreArrays], tuple[FloatArray, Any]]
    backward: Callable[[FloatArray, Any], CoreArrays]
    gradients: Callable[[RNNConfig, int, int, CoreArrays], dict[str, FloatArray]]


Lengths = NDArray[np.intp] | None  # (N,), or None: every sequence has T steps


@dataclass(frozen=True, eq=False)
class StackCache:
    """What the backward pass needs from the forward pass."""

    caches: list[list[Any]]  # [layer][direction]: the cell's caches
    masks: list[FloatArray | None]  # the dropout mask of each layer's output, (N, T, K * H)
    lengths: Lengths
    valid: NDArray[np.bool_] | None  # (N, T, 1): True up to each length


def stack_forward(
    cell: Cell,
    config: RNNConfig,
    params: Mapping[str, FloatArray],
    x: FloatArray,
    h0: FloatArray,
    lengths: Lengths,
    rng: np.random.Generator | None,
) -> tuple[FloatArray, FloatArray, StackCache]:
    """``output (N, T, K * H)`` and ``h_n (L * K, N, H)`` for checked arrays; the cache.

    ``params`` has torch's names and layout, for ``cell``; dropout masks are drawn from ``rng`` when one is
    given (training), with ``config.dropout``.
    """
    T = x.shape[1]
    valid = None if lengths is None else (np.arange(T) < lengths[:, None])[:, :, None]
    if valid is not None:
        x = np.where(valid, x, 0)  # the padding is never read: let it not overflow either
    caches, masks, h_n = [], [], []
    for layer in range(config.num_layers):
        x, layer_caches, finals = _layer_forward(cell, config, params, layer, x, h0, lengths)
        if valid is not None:
            x = np.where(valid, x, 0)
        mask = None if rng is None else _dropout_mask(config, rng, layer, x)
        if mask is not None:
            x = x * mask
        caches.append(layer_caches)
        masks.append(mask)
        h_n += finals
    return x, np.stack(h_n), StackCache(caches, masks, lengths, valid)


def stack_backward(
    cell: Cell, config: RNNConfig, g: FloatArray, g_hn: FloatArray | None, cache: StackCache
) -> tuple[FloatArray, FloatArray, dict[str, FloatArray]]:
    """``grad_input (N, T, D)``, ``grad_hx (L * K, N, H)`` and the parameters' gradients.

    ``g (N, T, K * H)`` is ``dL/d output``, ``g_hn (L * K, N, H)`` ``dL/d h_n`` or None (zeros);
    the gradients have torch's names and layout, in no particular order.
    """
    grads: dict[str, FloatArray] = {}
    grad_hx: list[FloatArray] = []
    for layer in reversed(range(config.num_layers)):
        mask = cache.masks[layer]
        if mask is not None:
            g = g * mask
        if cache.valid is not None:
            g = np.where(cache.valid, g, 0)
        g, layer_grad_hx, layer_grads = _layer_backward(cell, config, layer, g, g_hn, cache)
        grad_hx = layer_grad_hx + grad_hx
        grads |= layer_grads
    return g, np.stack(grad_hx), grads


def reverse(a: FloatArray, lengths: Lengths) -> FloatArray:
    """Reverse each sequence of ``a (N, T, F)`` within its length; padding stays in place.

    The reordering is its own inverse, so it also maps a reversed sequence back.
    """
    if lengths is None:
        return a[:, ::-1]
    T = a.shape[1]
    t = np.arange(T)
    order = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (N, T)
    return np.take_along_axis(a, order[:, :, None], axis=1)


def _layer_forward(
    cell: Cell,
    config: RNNConfig,
    params: Mapping[str, FloatArray],
    layer: int,
    x: FloatArray,
    h0: FloatArray,
    lengths: Lengths,
) -> tuple[FloatArray, list[Any], list[FloatArray]]:
    """Layer ``layer`` on ``x (N, T, D_l)``: its output (N, T, K * H), caches and final states.

    The output is not yet zeroed past the lengths.
    """
    N, K = x.shape[0], config.num_directions
    caches, outputs, finals = [], [], []
    for direction in range(K):
        weights = cell.weights(config, params, layer, direction)
        x_dir = x if direction == 0 else reverse(x, lengths)
        try:
            h, cache = cell.forward(config, x_dir, h0[layer * K + direction], weights)
        except NonFiniteResultError as exc:
            raise _located(exc, layer, direction, x.shape[1], lengths) from None
        caches.append(cache)
        finals.append(h[:, -1] if lengths is None else h[np.arange(N), lengths - 1])
        outputs.append(h if direction == 0 else reverse(h, lengths))
    out = outputs[0] if K == 1 else np.concatenate(outputs, axis=2)
    return out, caches, finals


def _dropout_mask(
    config: RNNConfig, rng: np.random.Generator, layer: int, out: FloatArray
) -> FloatArray | None:
    """The mask for layer ``layer``'s output: 0, or 1 / (1 - p) where a unit is kept."""
    p = config.dropout
    if p == 0 or layer == config.num_layers - 1:
        return None
    keep = rng.random(out.shape) >= p
    scale = 0.0 if p == 1 else 1 / (1 - p)
    # read-only down to its memory: RNN hands it out (dropout_masks) and the backward reads it
    return sealed(np.where(keep, scale, 0.0).astype(out.dtype))


def _layer_backward(
    cell: Cell,
    config: RNNConfig,
    layer: int,
    g: FloatArray,
    g_hn: FloatArray | None,
    cache: StackCache,
) -> tuple[FloatArray, list[FloatArray], dict[str, FloatArray]]:
    """Back through layer ``layer`` from ``g (N, T, K * H)``, the gradient of its output.

    Returns the gradient of its input (N, T, D_l), of its directions' initial states and of its
    parameters.
    """
    N, H, K = g.shape[0], config.hidden_size, config.num_directions
    lengths = cache.lengths
    final = (slice(None), -1) if lengths is None else (np.arange(N), lengths - 1)
    g_inputs, grad_hx = [], []
    grads: dict[str, FloatArray] = {}
    for direction in range(K):
        g_dir = g[:, :, direction * H : (direction + 1) * H]
        if direction == 1:
            g_dir = reverse(g_dir, lengths)
        if g_hn is not None:
            # in the direction's own time order, h_n is the state at step length - 1
            g_dir = np.array(g_dir)
            g_dir[final] += g_hn[layer * K + direction]
        try:
            dx, dh0, *dweights = cell.backward(g_dir, cache.caches[layer][direction])
        except NonFiniteResultError as exc:
            raise _located(exc, layer, direction, g.shape[1], lengths, config) from None
        g_inputs.append(dx if direction == 0 else reverse(dx, lengths))
        grad_hx.append(dh0)
        grads |= cell.gradients(config, layer, direction, tuple(dweights))
    return (g_inputs[0] if K == 1 else g_inputs[0] + g_inputs[1]), grad_hx, grads


def _located(
    exc: NonFiniteResultError,
    layer: int,
    direction: int,
    T: int,
    lengths: Lengths,
    config: RNNConfig | None = None,
) -> NonFiniteResultError:
    """``exc`` of the core in ``RNN``'s terms: layer, direction, the caller's time step, torch's
    name for a gradient (``config`` given: the backward pass)."""
    step = exc.step
    if step is not None and direction == 1:  # the core ran the sequence reversed in its length
        step = (T if lengths is None else int(lengths[exc.row])) - 1 - step
    what = exc.what
    if config is not None:
        w_ih, w_hh, b_ih, _ = config.param_names(layer, direction)
        below = "grad_input" if layer == 0 else f"the gradient of layer {layer - 1}'s output"
        what = {
            "the gradient dx": below,
            "the gradient dh0": "grad_hx",
            "the gradient dWx": f"the gradient of {w_ih}",
            "the gradient dWh": f"the gradient of {w_hh}",
            "the gradient db": f"the gradient of {b_ih}",
        }[what]
    where = f"layer {layer}, {'reverse' if direction else 'forward'} direction"
    return exc.relocated(what=what, step=step, where=where)


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
