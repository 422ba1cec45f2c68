"""The JAX oracle: torch's documented recurrences in ``jax.numpy`` and ``lax.scan``, gradients by vjp.

Written from the equation in ``torch.nn.RNN``'s documentation, for layer ``l`` and direction ``k``:

    h_t = act(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh)

one ``lax.scan`` per layer and direction, directly on the problem's raw arrays (torch's names and
layout). A layer's input is the previous layer's output, ``[forward, reverse]`` on the last axis,
times the problem's dropout mask when it has one. Lengths follow packed-sequence semantics with
this module's own masking: steps past a sequence's length leave its state alone and output zero,
and the reverse direction reads each sequence's valid steps backwards from its last one.
``jax.vjp`` of ``(x, hx, params) -> (output, h_n)``, applied to ``(grad_output, grad_h_n)``, gives
every gradient, so any upstream gradient is checked. The LSTM (``_lstm``) is written the same way
from ``torch.nn.LSTM``'s equations; its state is the pair (h, c), a tree to ``lax.scan`` and
``vjp``. The GRU (``_gru``) is written from ``torch.nn.GRU``'s equations, or with
``reset_after=False`` the ONNX default's. Forward and backward are one ``jax.jit`` function,
compiled once per network structure, shapes and dtypes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache, partial
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from reference_rnn.core.config import Mode, RNNConfig
from reference_rnn.core.optional import require
from reference_rnn.oracles import Problem, Results

__all__ = ["GRADIENTS", "NAME", "import_jax", "known_difference", "run", "unsupported", "version"]

NAME = "jax"
GRADIENTS = True


def import_jax() -> ModuleType:
    """jax, restricted to the CPU, or an ImportError that says how to get it."""
    # Unless told the platform, jax probes every accelerator on first use: with an NVIDIA GPU or a
    # TPU beside a CPU-only jaxlib it logs "Falling back to cpu", with a broken plugin it fails,
    # and on recent NVIDIA GPUs float32 products default to TF32, far less precise than 1e-5.
    # The oracle is a CPU computation; a platform the caller chose is left alone.
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return require("jax", extra="oracle-jax", purpose="the JAX oracle")


def version() -> str:
    return str(import_jax().__version__)


def unsupported(problem: Problem) -> str | None:  # noqa: ARG001  (JAX expresses every problem)
    return None


def known_difference(problem: Problem) -> str | None:  # noqa: ARG001
    return None


def run(problem: Problem) -> Results:
    """JAX's output, h_n, grad_input, grad_hx and ``grad.<name>`` for every parameter."""
    jax = import_jax()
    # jax makes float64 arrays float32 unless jax_enable_x64 is set. It is set for this call
    # only, with jax's context manager, rather than process-wide by jax.config.update: other
    # JAX users in the process (Keras on its JAX backend, the caller's code) keep their
    # setting. Every array is made inside it from a NumPy array of the problem's dtype, so
    # float32 problems stay float32.
    with jax.enable_x64(True):
        return _run(problem)


class _Network(NamedTuple):
    """A problem's structure, which the compiled function is specialised to (jit's static arg)."""

    config: RNNConfig  # frozen, so hashable
    unbatched: bool


def _run(problem: Problem) -> Results:
    c = problem.config
    network = _Network(c, problem.unbatched)
    LK = c.num_layers * c.num_directions
    batch = (LK,) if problem.unbatched else (LK, problem.x.shape[0 if c.batch_first else 1])
    hx: Any = problem.hx
    if hx is None:
        hx = np.zeros((*batch, c.output_size), dtype=problem.dtype)
    grad_h_n: Any = problem.grad_h_n
    if c.cell == "LSTM":  # the states are a pair (h, c), and so are their gradients
        cx = problem.cx
        cx = np.zeros((*batch, c.hidden_size), dtype=problem.dtype) if cx is None else cx
        hx, grad_h_n = (hx, cx), (grad_h_n, problem.grad_c_n)
    # one (weight_ih, weight_hh[, bias_ih, bias_hh][, weight_hr]) per layer and direction, in
    # h_n's order
    names = [
        [
            name
            for name in (*c.param_names(layer, direction), c.projection_name(layer, direction))
            if name in problem.params
        ]
        for layer in range(c.num_layers)
        for direction in range(c.num_directions)
    ]
    weights = [[problem.params[name] for name in group] for group in names]
    # NumPy arrays go in as they are: jit keeps their dtypes (x64 is on here), and converting
    # them first would compile a copy for each shape
    output, h_n, grad_input, grad_hx, grad_weights = _forward_backward()(
        network,
        problem.x,
        hx,
        weights,
        problem.lengths,
        problem.dropout_masks,
        problem.grad_output,
        grad_h_n,
    )
    if c.cell == "LSTM":
        (h_n, c_n), (grad_hx, grad_cx) = h_n, grad_hx
        results = {"c_n": np.asarray(c_n), "grad_cx": np.asarray(grad_cx)}
    else:
        results = {}
    results |= {
        "output": np.asarray(output),
        "h_n": np.asarray(h_n),
        "grad_input": np.asarray(grad_input),
        "grad_hx": np.asarray(grad_hx),
    }
    for group, grads in zip(names, grad_weights, strict=True):
        results |= {
            f"grad.{name}": np.asarray(grad) for name, grad in zip(group, grads, strict=True)
        }
    return results


@cache
def _forward_backward() -> Callable[..., Any]:
    """``(network, x, hx, weights, lengths, masks, grad_output, grad_h_n)`` -> the results.

    Compiled once per network, shapes and dtypes: the networks are tiny, so compiling is nearly
    all of this oracle's cost, and without LLVM's optimisations it takes half as long.
    """
    jax = import_jax()

    def forward_backward(
        network: _Network,
        x: Any,
        hx: Any,
        weights: Any,
        lengths: Any,
        masks: Any,
        grad_output: Any,
        grad_h_n: Any,
    ) -> tuple[Any, ...]:
        forward = partial(_network, jax, network, lengths, masks)
        (output, h_n), pullback = jax.vjp(forward, x, hx, weights)
        return output, h_n, *pullback((grad_output, grad_h_n))

    compiled: Callable[..., Any] = jax.jit(
        forward_backward,
        static_argnums=0,
        compiler_options={"xla_backend_optimization_level": 0},
    )
    return compiled


def _network(
    jax: Any, network: _Network, lengths: Any, masks: Any, x: Any, hx: Any, weights: Any
) -> tuple[Any, Any]:
    """``(output, h_n)`` in the problem's layouts, from x and hx in its layouts.

    lengths (N,) or None; masks: the problem's dropout masks or None; weights: (weight_ih,
    weight_hh[, bias_ih, bias_hh][, weight_hr]) per layer and direction, in h_n's order. An
    LSTM's hx and h_n are pairs (h, c) (a tree of arrays to JAX).
    """
    jnp = jax.numpy
    tree_map = jax.tree_util.tree_map
    L, K = network.config.num_layers, network.config.num_directions
    layer_in = _time_major(network, x)  # (T, N, D)
    if network.unbatched:
        hx = tree_map(lambda s: s[:, None], hx)  # (LK, S) -> (LK, 1, S)
    T, N, _ = layer_in.shape
    lengths = jnp.full(N, T) if lengths is None else lengths
    steps = jnp.arange(T)[:, None]  # (T, 1)
    valid = steps < lengths  # (T, N): step t of sequence n lies within its length
    # Step t of the reverse direction reads step reverse[t, n]: a sequence's valid steps from its
    # last one back, its padding in place (masked anyway). The index is its own inverse, so it
    # also puts the reverse outputs back in time order.
    reverse = jnp.where(valid, lengths - 1 - steps, steps)  # (T, N)
    finals = []
    for layer in range(L):
        outputs = []
        for direction in range(K):
            i = layer * K + direction
            inputs = layer_in if direction == 0 else _gather(jnp, layer_in, reverse)
            h0 = tree_map(lambda s: s[i], hx)  # noqa: B023  (called at once)
            out, final = _direction(jax, network, inputs, valid, h0, *weights[i])
            outputs.append(out if direction == 0 else _gather(jnp, out, reverse))
            finals.append(final)
        layer_in = jnp.concatenate(outputs, axis=-1)  # (T, N, K * H)
        if masks is not None and layer < L - 1:
            layer_in = layer_in * _time_major(network, masks[layer])
    h_n = tree_map(lambda *states: jnp.stack(states), *finals)  # (LK, N, S) each
    if network.unbatched:
        # (T, 1, K * H) -> (T, K * H), (LK, 1, S) -> (LK, S)
        return layer_in[:, 0], tree_map(lambda s: s[:, 0], h_n)
    if network.config.batch_first:
        return layer_in.swapaxes(0, 1), h_n  # (T, N, K * H) -> (N, T, K * H)
    return layer_in, h_n


def _direction(
    jax: Any, network: _Network, inputs: Any, valid: Any, h0: Any, *weights: Any
) -> tuple[Any, Any]:
    """One layer in one direction: every step's output (T, N, H) and the final state (N, H).

    inputs (T, N, D_l) in the order the direction reads them; valid (T, N) marks real steps.
    An LSTM's state is a pair (h, c) and its output h.
    """
    jnp = jax.numpy
    cell = _CELLS[network.config.mode](jax, network, *weights)

    def step(h: Any, inputs_t: tuple[Any, Any]) -> tuple[Any, Any]:
        x_t, valid_t = inputs_t  # (N, D_l), (N,)
        h_new = cell(x_t, h)
        keep = valid_t[:, None]  # (N,) -> (N, 1)
        output = h_new[0] if isinstance(h_new, tuple) else h_new
        held = jax.tree_util.tree_map(lambda new, old: jnp.where(keep, new, old), h_new, h)
        return held, jnp.where(keep, output, 0)

    final, out = jax.lax.scan(step, h0, (inputs, valid))
    return out, final


def _elman(
    jax: Any,
    network: _Network,
    weight_ih: Any,
    weight_hh: Any,
    bias_ih: Any = None,
    bias_hh: Any = None,
) -> Callable[[Any, Any], Any]:
    """torch's equation: ``h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``."""
    act = jax.numpy.tanh if network.config.mode == "RNN_TANH" else jax.nn.relu  # relu'(0) = 0

    def cell(x_t: Any, h: Any) -> Any:
        if network.config.bias:
            return act(x_t @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
        return act(x_t @ weight_ih.T + h @ weight_hh.T)

    return cell


def _lstm(jax: Any, network: _Network, *weights: Any) -> Callable[[Any, Any], Any]:
    """torch's equations, written here: with ``a = x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh`` split
    into four blocks of H in the order i, f, g, o, ``c' = sigmoid(a_f) * c + sigmoid(a_i) *
    tanh(a_g)``, ``h' = sigmoid(a_o) * tanh(c')``, then ``h' @ W_hr.T`` with a projection.

    ``weights``: ``weight_ih``, ``weight_hh``, then ``bias_ih`` and ``bias_hh`` with bias, then
    ``weight_hr`` with ``proj_size``.
    """
    jnp = jax.numpy
    c = network.config
    weight_ih, weight_hh, *rest = weights
    biases = rest[:2] if c.bias else []
    weight_hr = rest[-1] if c.proj_size else None

    def cell(x_t: Any, state: Any) -> Any:
        h, cell_state = state
        a = x_t @ weight_ih.T + h @ weight_hh.T
        for bias in biases:
            a = a + bias
        a_i, a_f, a_g, a_o = jnp.split(a, 4, axis=-1)
        c_new = jax.nn.sigmoid(a_f) * cell_state + jax.nn.sigmoid(a_i) * jnp.tanh(a_g)
        h_new = jax.nn.sigmoid(a_o) * jnp.tanh(c_new)
        return (h_new if weight_hr is None else h_new @ weight_hr.T), c_new

    return cell


def _gru(
    jax: Any,
    network: _Network,
    weight_ih: Any,
    weight_hh: Any,
    bias_ih: Any = None,
    bias_hh: Any = None,
) -> Callable[[Any, Any], Any]:
    """torch's GRU equations (``reset_after``), or the ONNX default's, gate by gate (r, z, n)::

    r = sigmoid(x W_ir.T + b_ir + h W_hr.T + b_hr)
    z = sigmoid(x W_iz.T + b_iz + h W_hz.T + b_hz)
    n = tanh(x W_in.T + b_in + r * (h W_hn.T + b_hn))      reset_after
    n = tanh(x W_in.T + b_in + (r * h) W_hn.T + b_hn)      otherwise
    h' = (1 - z) * n + z * h
    """
    jnp, sigmoid = jax.numpy, jax.nn.sigmoid
    W_ir, W_iz, W_in = jnp.split(weight_ih, 3)  # (3H, D) -> three (H, D), torch's gate order
    W_hr, W_hz, W_hn = jnp.split(weight_hh, 3)
    if network.config.bias:
        b_ir, b_iz, b_in = jnp.split(bias_ih, 3)
        b_hr, b_hz, b_hn = jnp.split(bias_hh, 3)
    else:
        b_ir = b_iz = b_in = b_hr = b_hz = b_hn = 0
    reset_after = network.config.reset_after

    def cell(x_t: Any, h: Any) -> Any:
        r = sigmoid(x_t @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = sigmoid(x_t @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        if reset_after:
            n = jnp.tanh(x_t @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        else:
            n = jnp.tanh(x_t @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
        return (1 - z) * n + z * h

    return cell


#: One step of each cell, ``cell(x_t, h) -> h_new``, by ``config.mode``: a new cell is one more
#: function. An LSTM's state is the pair (h, c).
_CELLS: dict[Mode, Callable[..., Callable[[Any, Any], Any]]] = {
    "RNN_TANH": _elman,
    "RNN_RELU": _elman,
    "LSTM": _lstm,
    "GRU": _gru,
}


def _time_major(network: _Network, a: Any) -> Any:
    """An array laid out like the input or the output, as (T, N, F)."""
    if network.unbatched:
        return a[:, None]  # (T, F) -> (T, 1, F)
    return a.swapaxes(0, 1) if network.config.batch_first else a  # (N, T, F) -> (T, N, F)


def _gather(jnp: ModuleType, a: Any, index: Any) -> Any:
    """``a[index[t, n], n]`` for every t and n: a (T, N, F), index (T, N)."""
    return jnp.take_along_axis(a, index[:, :, None], axis=0)
