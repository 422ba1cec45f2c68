"""The network of ``RNN``: its layers and directions over the functional core, batch-first.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = num_directions; D_l = D for the first layer and K * H above it.

    x (N, T, D), h0 (L * K, N, H)  ->  output (N, T, K * H), h_n (L * K, N, H)

Layer ``l``'s input is layer ``l - 1``'s output: its directions' states ``[forward, reverse]`` on
the last axis, zero past each sequence's length, times a dropout mask below the last layer in
training. The reverse direction is the core's forward recurrence on each sequence reversed within
its length, so it starts at the sequence's last valid step; each direction's final state is its
state at its own step ``length - 1``. The backward pass runs the same in reverse.

The core checks every direction's results (the arguments were checked by ``RNN``): an overflow is
re-raised here with the layer, the direction and the time step in the caller's time order. The
input is zero past each sequence's length, so padding cannot overflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.cell_common import sealed
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.elman import RNNCache, backward_sequence, forward_sequence
from reference_rnn.core.validation import FloatArray, NonFiniteResultError
from reference_rnn.layers.rnn_parameters import core_weights, torch_gradients

__all__ = ["StackCache", "reverse", "stack_backward", "stack_forward"]

Lengths = NDArray[np.intp] | None  # (N,), or None: every sequence has T steps


@dataclass(frozen=True, eq=False)
class StackCache:
    """What the backward pass needs from the forward pass."""

    caches: list[list[RNNCache]]  # [layer][direction]
    masks: list[FloatArray | None]  # the dropout mask of each layer's output, (N, T, K * H)
    lengths: Lengths
    valid: NDArray[np.bool_] | None  # (N, T, 1): True up to each length


def stack_forward(
    config: RNNConfig,
    params: Mapping[str, FloatArray],
    x: FloatArray,
    h0: FloatArray,
    lengths: Lengths,
    rng: np.random.Generator | None,
) -> tuple[FloatArray, FloatArray, StackCache]:
    """``output (N, T, K * H)`` and ``h_n (L * K, N, H)`` for checked arrays; the cache.

    ``params`` has torch's names and layout; dropout masks are drawn from ``rng`` when one is
    given (training), with ``config.dropout``.
    """
    T = x.shape[1]
    valid = None if lengths is None else (np.arange(T) < lengths[:, None])[:, :, None]
    if valid is not None:
        x = np.where(valid, x, 0)  # the padding is never read: let it not overflow either
    caches, masks, h_n = [], [], []
    for layer in range(config.num_layers):
        x, layer_caches, finals = _layer_forward(config, params, layer, x, h0, lengths)
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
    config: RNNConfig, g: FloatArray, g_hn: FloatArray | None, cache: StackCache
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
        g, layer_grad_hx, layer_grads = _layer_backward(config, layer, g, g_hn, cache)
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
    config: RNNConfig,
    params: Mapping[str, FloatArray],
    layer: int,
    x: FloatArray,
    h0: FloatArray,
    lengths: Lengths,
) -> tuple[FloatArray, list[RNNCache], list[FloatArray]]:
    """Layer ``layer`` on ``x (N, T, D_l)``: its output (N, T, K * H), caches and final states.

    The output is not yet zeroed past the lengths.
    """
    N, K = x.shape[0], config.num_directions
    caches, outputs, finals = [], [], []
    for direction in range(K):
        Wx, Wh, b = core_weights(config, params, layer, direction)
        try:
            h, cache = forward_sequence(
                x if direction == 0 else reverse(x, lengths),
                h0[layer * K + direction],
                Wx,
                Wh,
                b,
                "hx",
                config.nonlinearity,
                check_finite=False,
                check_results=True,
            )
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
    config: RNNConfig, layer: int, g: FloatArray, g_hn: FloatArray | None, cache: StackCache
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
            dx, dh0, dWx, dWh, db = backward_sequence(
                g_dir,
                cache.caches[layer][direction],
                "grad_output",
                check_finite=False,
                check_results=True,
            )
        except NonFiniteResultError as exc:
            raise _located(exc, layer, direction, g.shape[1], lengths, config) from None
        g_inputs.append(dx if direction == 0 else reverse(dx, lengths))
        grad_hx.append(dh0)
        grads |= torch_gradients(config, layer, direction, dWx, dWh, db)
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
