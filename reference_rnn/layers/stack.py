"""The stack driver: any cell over torch's layers, directions and layouts, forward and backward.

Long on purpose: a layer class (``RNN``) hands its arguments and its cell to this module, and
everything between the caller's arrays and the cell's sequence functions is here, read in one
go: the arguments' checks and layouts (batch_first, unbatched), the layers and directions, the
lengths, the dropout masks, and an overflow's location in the caller's terms. The cell is an
argument (:class:`Cell`): the driver never names one.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = num_directions; D_l = D for the first layer and K * H above it; F is any feature width.
S_i is the width of the cell's state ``i`` (:attr:`Cell.states`; the Elman cell has one, ``h``,
of width H; an LSTM's are ``h`` and ``c``); state 0 is the one the cell outputs.

    x (N, T, D), h0 = (h0_i (L * K, N, S_i), ...)
        ->  output (N, T, K * S_0), h_n = (h_n_i (L * K, N, S_i), ...)

The caller lays arrays out as torch does, ``(T, N, F)``, ``(N, T, F)`` with batch_first or
``(T, F)`` unbatched; inside, every array is batch-first ``(N, T, F)``, the layout of the
functional core, and an unbatched call is a batch of one.

Layer ``l``'s input is layer ``l - 1``'s output: its directions' states ``[forward, reverse]`` on
the last axis, zero past each sequence's length, times a dropout mask below the last layer in
training. The reverse direction is the cell's forward recurrence on each sequence reversed within
its length, so it starts at the sequence's last valid step; each direction's final state is its
state at its own step ``length - 1``. The backward pass runs the same in reverse.

Each direction's final states are the cell's states at its own step ``length - 1``; the gradient
of ``h_n`` enters each state's sequence of gradients there.

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
from reference_rnn.core.config import CellName, Mode, RNNConfig
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
#: One array per state of the cell, in the order of :attr:`Cell.states`.
States = tuple[FloatArray, ...]


@dataclass(frozen=True)
class Cell:
    """What the driver needs of a cell; the parameters' names and shapes come from ``config.mode``.

    Attributes
    ----------
    modes : torch's modes the cell computes (``RNNConfig.mode``)
    torch_module : the name of torch's module in ``torch.nn`` (``"RNN"``)
    states : the names of the cell's states, the output's first (``("h",)``; an LSTM's ``("h", "c")``)
        The core calls the gradient of state ``s``'s initial value ``"the gradient d{s}0"``.
    state_sizes : ``config -> (S_0, S_1, ...)``
        The width of each state (an LSTM with ``proj_size`` has ``h`` narrower than ``c``).
    weights : ``(config, params, layer, direction) -> weights``
        One layer and direction's parameters, torch-named, in the core's layout.
    forward : ``(config, x (N, T, D_l), (s0_i (N, S_i), ...), weights) -> ((s_i (N, T, S_i), ...), cache)``
        The cell's sequence forward: every state at every step, checking its results only
        (``NonFiniteResultError``).
    backward : ``((g_i (N, T, S_i), ...), cache) -> (dx (N, T, D_l), (ds0_i (N, S_i), ...), dweights)``
        Its backpropagation through time from the gradient of every state at every step,
        checking its results only.
    gradients : ``(config, layer, direction, dweights) -> grads``
        The core's gradients of the weights, torch-named and laid out.
    gradient_names : ``(config, layer, direction) -> {core's name: torch's}``
        The core's names of the weights' gradients in its messages (``"the gradient dWx"``), as
        the layer's messages say them (``"the gradient of weight_ih_l0"``).
    """

    modes: tuple[Mode, ...]
    torch_module: CellName
    states: tuple[str, ...]
    state_sizes: Callable[[RNNConfig], tuple[int, ...]]
    weights: Callable[[RNNConfig, Mapping[str, FloatArray], int, int], CoreArrays]
    forward: Callable[[RNNConfig, FloatArray, States, CoreArrays], tuple[States, Any]]
    backward: Callable[[States, Any], tuple[FloatArray, States, CoreArrays]]
    gradients: Callable[[RNNConfig, int, int, CoreArrays], dict[str, FloatArray]]
    gradient_names: Callable[[RNNConfig, int, int], Mapping[str, str]]

    def state_label(self, name: str, i: int) -> str:
        """The caller's spelling of state ``i`` of argument ``name``: ``hx``, or ``hx[1]`` of several."""
        return name if len(self.states) == 1 else f"{name}[{i}]"


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
    h0: States,
    lengths: Lengths,
    rng: np.random.Generator | None,
) -> tuple[FloatArray, States, StackCache]:
    """``output (N, T, K * S_0)`` and ``h_n`` (each state ``(L * K, N, S_i)``) for checked arrays;
    the cache.

    ``params`` has torch's names and layout, for ``cell``; dropout masks are drawn from ``rng`` when one is
    given (training), with ``config.dropout``.
    """
    T = x.shape[1]
    valid = None if lengths is None else (np.arange(T) < lengths[:, None])[:, :, None]
    if valid is not None:
        x = np.where(valid, x, 0)  # the padding is never read: let it not overflow either
    caches, masks = [], []
    h_n: list[States] = []  # [layer * K + direction]: the final states
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
    return x, _stacked(h_n), StackCache(caches, masks, lengths, valid)


def stack_backward(
    cell: Cell,
    config: RNNConfig,
    g: FloatArray,
    g_hn: tuple[FloatArray | None, ...],
    cache: StackCache,
) -> tuple[FloatArray, States, dict[str, FloatArray]]:
    """``grad_input (N, T, D)``, ``grad_hx`` (each state ``(L * K, N, S_i)``) and the parameters'
    gradients.

    ``g (N, T, K * S_0)`` is ``dL/d output``, ``g_hn`` ``dL/d h_n``, one ``(L * K, N, S_i)`` or
    None (zeros) per state; the gradients have torch's names and layout, in no particular order.
    """
    grads: dict[str, FloatArray] = {}
    grad_hx: list[States] = []
    for layer in reversed(range(config.num_layers)):
        mask = cache.masks[layer]
        if mask is not None:
            g = g * mask
        if cache.valid is not None:
            g = np.where(cache.valid, g, 0)
        g, layer_grad_hx, layer_grads = _layer_backward(cell, config, layer, g, g_hn, cache)
        grad_hx = layer_grad_hx + grad_hx
        grads |= layer_grads
    return g, _stacked(grad_hx), grads


def _stacked(per_direction: list[States]) -> States:
    """Each state's ``(L * K, N, S_i)`` from every layer and direction's ``(N, S_i)`` states."""
    return tuple(np.stack(states) for states in zip(*per_direction, strict=True))


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
    h0: States,
    lengths: Lengths,
) -> tuple[FloatArray, list[Any], list[States]]:
    """Layer ``layer`` on ``x (N, T, D_l)``: its output (N, T, K * S_0), caches and final states.

    The output is not yet zeroed past the lengths.
    """
    N, K = x.shape[0], config.num_directions
    final = (slice(None), -1) if lengths is None else (np.arange(N), lengths - 1)
    caches, outputs, finals = [], [], []
    for direction in range(K):
        weights = cell.weights(config, params, layer, direction)
        x_dir = x if direction == 0 else reverse(x, lengths)
        s0 = tuple(state[layer * K + direction] for state in h0)
        try:
            states, cache = cell.forward(config, x_dir, s0, weights)
        except NonFiniteResultError as exc:
            raise _located(exc, layer, direction, x.shape[1], lengths, cell) from None
        caches.append(cache)
        finals.append(tuple(s[final] for s in states))
        h = states[0]
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
    g_hn: tuple[FloatArray | None, ...],
    cache: StackCache,
) -> tuple[FloatArray, list[States], dict[str, FloatArray]]:
    """Back through layer ``layer`` from ``g (N, T, K * S_0)``, the gradient of its output.

    Returns the gradient of its input (N, T, D_l), of its directions' initial states and of its
    parameters.
    """
    (N, T, _), K = g.shape, config.num_directions
    sizes = cell.state_sizes(config)
    H = sizes[0]
    lengths = cache.lengths
    final = (slice(None), -1) if lengths is None else (np.arange(N), lengths - 1)
    g_inputs, grad_hx = [], []
    grads: dict[str, FloatArray] = {}
    for direction in range(K):
        g_dir = g[:, :, direction * H : (direction + 1) * H]
        if direction == 1:
            g_dir = reverse(g_dir, lengths)
        # the states past the output reach the loss through h_n only
        g_states = [g_dir] + [np.zeros((N, T, S), g.dtype) for S in sizes[1:]]
        for i, g_final in enumerate(g_hn):
            if g_final is not None:
                # in the direction's own time order, h_n is the state at step length - 1
                g_states[i] = np.array(g_states[i])
                g_states[i][final] += g_final[layer * K + direction]
        try:
            dx, ds0, dweights = cell.backward(tuple(g_states), cache.caches[layer][direction])
        except NonFiniteResultError as exc:
            raise _located(exc, layer, direction, T, lengths, cell, config) from None
        g_inputs.append(dx if direction == 0 else reverse(dx, lengths))
        grad_hx.append(ds0)
        grads |= cell.gradients(config, layer, direction, dweights)
    return (g_inputs[0] if K == 1 else g_inputs[0] + g_inputs[1]), grad_hx, grads


def _located(
    exc: NonFiniteResultError,
    layer: int,
    direction: int,
    T: int,
    lengths: Lengths,
    cell: Cell,
    config: RNNConfig | None = None,
) -> NonFiniteResultError:
    """``exc`` of the core in the layer's terms: layer, direction, the caller's time step, torch's
    name for a gradient (``config`` given: the backward pass)."""
    step = exc.step
    if step is not None and direction == 1:  # the core ran the sequence reversed in its length
        step = (T if lengths is None else int(lengths[exc.row])) - 1 - step
    what = exc.what
    if config is not None:
        below = "grad_input" if layer == 0 else f"the gradient of layer {layer - 1}'s output"
        states = {
            f"the gradient d{state}0": cell.state_label("grad_hx", i)
            for i, state in enumerate(cell.states)
        }
        what = {
            "the gradient dx": below,
            **states,
            **cell.gradient_names(config, layer, direction),
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
    cell: Cell,
    config: RNNConfig,
    hx: object | None,
    unbatched: bool,
    N: int,
    dtype: np.dtype[np.floating],
) -> States:
    """The checked initial states, each ``(L * K, N, S_i)``; zeros of ``dtype`` for None.

    ``hx`` is one array for a cell of one state, a tuple of one per state (torch's ``(h_0, c_0)``)
    for a cell of several.
    """
    sizes = cell.state_sizes(config)
    LK = config.num_layers * config.num_directions
    if hx is None:
        return tuple(np.zeros((LK, N, S), dtype=dtype) for S in sizes)
    given = (hx,) if len(sizes) == 1 else _per_state(cell, "hx", hx)
    states = []
    for i, (value, S) in enumerate(zip(given, sizes, strict=True)):
        label = cell.state_label("hx", i)
        h0 = as_real_array(label, value)
        ndim = 2 if unbatched else 3
        if h0.ndim != ndim:
            kind = "unbatched 2-D" if unbatched else "batched 3-D"
            msg = f"For {kind} input, {label} should also be {ndim}-D but got {h0.ndim}-D array"
            raise ValueError(msg)
        width = "H" if config.hidden_size == S else f"{cell.states[i]}'s size {S}"
        if unbatched:
            check_shape(label, h0, (LK, S), f"num_layers * num_directions, {width}")
        else:
            why = f"num_layers * num_directions, N, {width}; N from input"
            check_shape(label, h0, (LK, N, S), why)
        require_finite(label, h0)
        states.append(h0[:, None] if unbatched else h0)
    return tuple(states)


def _per_state(cell: Cell, name: str, value: object) -> tuple[object, ...]:
    """``value``, a tuple or list of one entry per state of ``cell``, as a tuple."""
    if not isinstance(value, tuple | list) or len(value) != len(cell.states):
        names = ", ".join(f"{state}" for state in cell.states)
        msg = (
            f"{name} must be a tuple ({names}) of {len(cell.states)} arrays, "
            f"got {type(value).__name__}"
            + (f" of length {len(value)}" if isinstance(value, tuple | list) else "")
        )
        raise TypeError(msg)
    return tuple(value)


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
    cell: Cell,
    config: RNNConfig,
    output_shape: tuple[int, ...],
    hx_shapes: tuple[tuple[int, ...], ...],
    unbatched: bool,
    grad_output: object,
    grad_h_n: object | None,
    name: str = "grad_h_n",
) -> tuple[FloatArray, tuple[FloatArray | None, ...]]:
    """``grad_output`` as (N, T, K * S_0) and the gradient of ``h_n`` (argument ``name``), each
    state's ``(L * K, N, S_i)`` or None, checked.

    ``hx_shapes`` are the shapes of ``h_n`` as the caller got them. For a cell of several states,
    ``grad_h_n`` is None or a tuple of one array or None per state.
    """
    g_out = as_real_array("grad_output", grad_output)
    check_shape("grad_output", g_out, output_shape, "the shape of output")
    require_finite("grad_output", g_out)
    if grad_h_n is None:
        given: tuple[object, ...] = (None,) * len(cell.states)
    else:
        given = (grad_h_n,) if len(cell.states) == 1 else _per_state(cell, name, grad_h_n)
    g_hn: list[FloatArray | None] = []
    for i, (value, shape) in enumerate(zip(given, hx_shapes, strict=True)):
        if value is None:
            g_hn.append(None)
            continue
        label = cell.state_label(name, i)
        g_i = as_real_array(label, value)
        check_shape(label, g_i, shape, f"the shape of {cell.states[i]}_n")
        require_finite(label, g_i)
        g_hn.append(g_i[:, None] if unbatched else g_i)  # (L * K, S) -> (L * K, 1, S)
    return to_batch_first(config, g_out, unbatched), tuple(g_hn)


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
