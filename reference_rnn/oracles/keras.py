"""The Keras 3 oracle: ``keras.layers.SimpleRNN`` (``LSTM``, ``GRU``) built from a problem's raw
arrays.

Long on purpose: each cell's Keras layer and its weights to and from torch's layout (an entry of
``_CELLS``) are read with the driver that runs them.

An LSTM is ``keras.layers.LSTM(use_cudnn=False)``, so that Keras' own ``LSTMCell`` runs (see
``_lstm``); Keras' gate order i, f, c, o is torch's i, f, g, o, so its kernels are torch's
transposed as the Elman cell's are; its states are [h, c] per direction. A GRU is
``keras.layers.GRU(use_cudnn=False)`` in the problem's convention, its gates z, r, h torch's
r, z, n reordered (``_gru``).

Each layer is a ``SimpleRNN`` (``return_sequences=True, return_state=True``), wrapped in
``keras.layers.Bidirectional`` when bidirectional; layers are stacked by hand so that given dropout
masks can be multiplied in between. Its weights are set with ``set_weights`` in Keras' layout:
``kernel = weight_ih.T`` (D, H), ``recurrent_kernel = weight_hh.T`` (H, H) and one
``bias = bias_ih + bias_hh`` (H,). Lengths become Keras' boolean mask (N, T), which expresses
torch's packed semantics: a masked step keeps the state and outputs zero
(``zero_output_for_mask``), so ``h_n`` is the last valid state, and the reverse direction
(``go_backwards``) meets the padding first and so starts at each sequence's last valid step.
Keras is batch-first: time-major arrays are transposed, unbatched ones are a batch of one.
A GRU is ``keras.layers.GRU`` with ``reset_after`` as the problem's, its gates in Keras' order
z, r, h and its bias ``(2, 3H)`` (input, recurrent) with reset_after or one ``(3H,)`` without
(``_gru_weights``), run on Keras' own cell (``use_cudnn=False``).

The backend is torch (:data:`BACKEND`), chosen through ``KERAS_BACKEND`` before keras is first
imported. Autograd differentiates ``(output * grad_output).sum() + (h_n * grad_h_n).sum()``
through Keras' own recurrence loop. Keras expresses all 40 parity cases of the verification
report: the 20 in float32 agree with torch to float32's tolerance; the 20 in float64 run, but Keras
rounds the cell's products to float32 there, a known difference (:data:`FLOAT64_DIFFERENCE`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from reference_rnn.core.config import Mode
from reference_rnn.core.optional import measured_on, require
from reference_rnn.core.validation import FloatArray
from reference_rnn.oracles import Problem, Results

__all__ = [
    "BACKEND",
    "FLOAT64_DIFFERENCE",
    "GRADIENTS",
    "NAME",
    "import_keras",
    "known_difference",
    "run",
    "unsupported",
    "version",
]

NAME = "keras"
GRADIENTS = True
#: Keras' backend here. On the JAX backend float64 does not run at all: the cell's float32 product
#: (FLOAT64_DIFFERENCE) makes lax.scan's carry change dtype, which scan rejects (Keras 3.15.1,
#: jax_enable_x64 on); the torch backend runs it, and torch is pinned for the torch oracle anyway.
#: Keras' type promotion keeps float64 only on its TensorFlow backend (read in dtypes.py, not run).
BACKEND = "torch"

#: Why Keras' float64 is not float64 here, with the evidence.
FLOAT64_DIFFERENCE = (
    "Keras computes float64 matmuls in float32 on its torch and JAX backends: keras.ops.matmul "
    "casts both operands to keras.backend.result_type('float64', 'float64'), which is 'float32' "
    "(keras/src/backend/common/dtypes.py, BIT64_TO_BIT32_DTYPE; keras-team/keras#23704), so "
    "SimpleRNNCell's two products are rounded to float32; measured with Keras 3.15.1 on the "
    "parity set: 9e-8 to 3e-7 relative to the values' scale, and 1.3e-15 with those products "
    "made float64 (GRUCell's products likewise: 6e-8 to 1.5e-7 on the GRU's cases)"
)


def import_keras() -> ModuleType:
    """keras on its torch backend, or an ImportError that says how to get it.

    Keras reads ``KERAS_BACKEND`` once, when it is first imported: the variable is set for that
    import only, whatever the environment or ``~/.keras/keras.json`` name.
    """
    if sys.modules.get("keras") is None:  # never imported (None: an import that was blocked)
        previous = os.environ.get("KERAS_BACKEND")
        os.environ["KERAS_BACKEND"] = BACKEND
        try:
            require("keras", extra="oracle-keras", purpose="the Keras oracle")
        finally:
            if previous is None:
                del os.environ["KERAS_BACKEND"]
            else:
                os.environ["KERAS_BACKEND"] = previous
    keras = sys.modules["keras"]
    backend = keras.backend.backend()
    if backend != BACKEND:
        msg = (
            f"the Keras oracle needs keras' {BACKEND} backend, but keras was imported first with "
            f"its {backend} backend (import reference_rnn.oracles.keras first, or set "
            f"KERAS_BACKEND={BACKEND})"
        )
        raise ImportError(msg)
    return keras


def version() -> str:
    return f"{import_keras().__version__} ({BACKEND} backend)"


def unsupported(problem: Problem) -> str | None:
    if problem.config.proj_size:
        return "Keras' LSTM has no projection (proj_size)"
    return None


#: The Keras releases FLOAT64_DIFFERENCE was measured on: on any other, float64 is a plain check,
#: so that a fix upstream shows up as a pass and a new difference as a failure.
MEASURED_ON = ("3.15.",)


def known_difference(problem: Problem) -> str | None:
    if problem.dtype != "float64" or not measured_on("keras", MEASURED_ON):
        return None
    return FLOAT64_DIFFERENCE


def run(problem: Problem) -> Results:
    """Keras' output, h_n, grad_input, grad_hx and ``grad.<name>`` for every parameter."""
    keras = import_keras()
    torch = require("torch", extra="oracle-keras", purpose="the Keras oracle (on torch)")
    c = problem.config
    L, K, H = c.num_layers, c.num_directions, c.hidden_size
    x = _to_keras(problem, problem.x)  # (N, T, D)
    N, T, _ = x.shape
    # the initial states, h's and an LSTM's c's: (L * K, N, H) each (unbatched: N = 1)
    given = [problem.hx] + [problem.cx] * (c.cell == "LSTM")
    states = [
        torch.tensor(
            np.zeros((L * K, N, H), problem.dtype) if s0 is None else s0.reshape(L * K, N, H),
            requires_grad=True,
        )
        for s0 in given
    ]
    x_t = torch.tensor(x, requires_grad=True)
    # (N, T): True where a step is within its sequence's length
    mask = (
        None
        if problem.lengths is None
        else torch.from_numpy(np.arange(T) < problem.lengths[:, None])
    )

    layer_in, finals = x_t, []
    cells: dict[tuple[str, str, str, str], Any] = {}  # torch's names -> the Keras cell
    for layer in range(L):
        rnn, directions = _layer(keras, problem, layer, N, layer_in.shape[-1])
        # Bidirectional takes the forward direction's initial states first, then the reverse's;
        # an LSTM's are [h, c] per direction, and so are its final states
        initial = [s[i] for i in range(layer * K, (layer + 1) * K) for s in states]
        out, *layer_finals = rnn(layer_in, initial_state=initial, mask=mask)
        finals += layer_finals
        cells |= {c.param_names(layer, k): d.cell for k, d in enumerate(directions)}
        if problem.dropout_masks is not None and layer < L - 1:
            out = out * torch.tensor(_to_keras(problem, problem.dropout_masks[layer]))
        layer_in = out
    S = len(states)  # (L * K, N, H) for each state, from [h, c, h, c, ...]
    output, stacked = layer_in, [torch.stack(finals[i::S]) for i in range(S)]

    loss = (output * torch.tensor(_to_keras(problem, problem.grad_output))).sum()
    upstream = [problem.grad_h_n] + [problem.grad_c_n] * (c.cell == "LSTM")
    for final, g in zip(stacked, upstream, strict=True):
        loss = loss + (final * torch.tensor(g.reshape(L * K, N, H))).sum()  # type: ignore[union-attr]
    loss.backward()
    result = {
        "output": _from_keras(problem, output.detach().numpy()),
        "grad_input": _from_keras(problem, x_t.grad.numpy()),
    }
    return result | _state_results(problem, stacked, states) | _weight_gradients(problem, cells)


def _state_results(problem: Problem, finals: list[Any], initial: list[Any]) -> Results:
    """``h_n``, ``grad_hx`` (and an LSTM's ``c_n``, ``grad_cx``) in the problem's layout, from
    each state's final values and initial tensors, (L * K, N, H)."""
    shape = problem.grad_h_n.shape
    names = [("h_n", "grad_hx"), ("c_n", "grad_cx")]
    return {
        key: value.reshape(shape)
        for (final_name, grad_name), final, s0 in zip(names, finals, initial, strict=False)
        for key, value in ((final_name, final.detach().numpy()), (grad_name, s0.grad.numpy()))
    }


def _weight_gradients(problem: Problem, cells: dict[tuple[str, str, str, str], Any]) -> Results:
    """``grad.<name>`` of every parameter, from the Keras cells' variables' gradients."""
    result: Results = {}
    for names, cell in cells.items():
        grads = _CELLS[problem.config.mode].gradients(problem, cell)
        result |= {f"grad.{name}": grad for name, grad in zip(names, grads, strict=False)}
    return result


def _layer(keras: Any, problem: Problem, layer: int, N: int, D: int) -> tuple[Any, list[Any]]:
    """Layer ``layer`` as a Keras layer holding the problem's weights, and its directions' layers.

    Its input is (N, T, D); it returns the output (N, T, K * H), then each direction's final state.
    """

    c = problem.config
    recurrent = _CELLS[c.mode].layer
    if c.bidirectional:
        # Bidirectional sets zero_output_for_mask on both of its layers itself
        rnn = keras.layers.Bidirectional(recurrent(keras, problem), dtype=problem.dtype)
        directions = [rnn.forward_layer, rnn.backward_layer]
    else:
        # outputs past a length are zero, as torch's
        rnn = recurrent(keras, problem, zero_output_for_mask=True)
        directions = [rnn]
    rnn.build((N, None, D))
    for direction, keras_layer in enumerate(directions):
        names = c.param_names(layer, direction)
        torchs = [problem.params[name] for name in names[: 4 if c.bias else 2]]
        keras_layer.set_weights(_CELLS[c.mode].weights(problem, *torchs))
    return rnn, directions


def _simple_rnn(keras: Any, problem: Problem, **options: Any) -> Any:
    """Keras' Elman layer, all steps and the final state out."""
    c = problem.config
    return keras.layers.SimpleRNN(
        c.hidden_size,
        activation=c.nonlinearity,
        use_bias=c.bias,
        return_sequences=True,
        return_state=True,
        dtype=problem.dtype,
        **options,
    )


def _lstm(keras: Any, problem: Problem, **options: Any) -> Any:
    """Keras' LSTM, its gates i, f, c, o (torch's i, f, g, o: the same layout), all steps and the
    final states [h, c] out. ``use_cudnn=False``: otherwise, on the torch backend and without a
    mask, Keras hands the whole loop to its backend's ``lstm`` (keras/src/backend/torch/rnn.py,
    a fused torch implementation), and this oracle would not run Keras' own ``LSTMCell``."""
    c = problem.config
    return keras.layers.LSTM(
        c.hidden_size,
        use_bias=c.bias,
        return_sequences=True,
        return_state=True,
        use_cudnn=False,
        dtype=problem.dtype,
        **options,
    )


def _same_order_weights(problem: Problem, W_ih: Any, W_hh: Any, *biases: Any) -> list[Any]:
    """kernel (D, G), recurrent_kernel (H, G) and Keras' one bias, the sum of torch's two: the
    Elman cell's and the LSTM's, whose gates Keras orders as torch does (G = gates * H)."""
    return [W_ih.T, W_hh.T] + ([biases[0] + biases[1]] if problem.config.bias else [])


def _same_order_gradients(problem: Problem, cell: Any) -> list[FloatArray]:
    """The gradients of weight_ih, weight_hh (and of both biases: their sum's) from the cell's."""
    grads = [cell.kernel.value.grad.numpy().T, cell.recurrent_kernel.value.grad.numpy().T]
    if problem.config.bias:  # Keras' one bias is the sum of torch's two: both get its gradient
        grads += [cell.bias.value.grad.numpy()] * 2
    return grads


def _gru(keras: Any, problem: Problem, **options: Any) -> Any:
    """Keras' GRU layer in the problem's convention, on Keras' own cell (``use_cudnn=False``).

    With ``use_cudnn="auto"``, Keras' torch backend would run a reset_after=True GRU without a
    mask through its own fused loop (``backend.gru``) instead of ``GRUCell.call``; False keeps
    every step in the cell (tests/test_gru_keras.py shows it ran).
    """
    c = problem.config
    return keras.layers.GRU(
        c.hidden_size,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=c.bias,
        reset_after=c.reset_after,
        return_sequences=True,
        return_state=True,
        use_cudnn=False,
        dtype=problem.dtype,
        **options,
    )


def _keras_gates(a: Any, axis: int = 0) -> Any:
    """torch's gate blocks r, z, n as Keras' z, r, h along ``axis``; its own inverse."""
    r, z, n = np.split(a, 3, axis=axis)
    return np.concatenate([z, r, n], axis=axis)


def _gru_weights(problem: Problem, W_ih: Any, W_hh: Any, *biases: Any) -> list[Any]:
    """kernel (D, 3H), recurrent_kernel (H, 3H) in Keras' gate order z, r, h, and the bias:
    ``(2, 3H)``, input and recurrent, with reset_after; otherwise one ``(3H,)``, their sum (only
    the sum enters reset_after=False's equations)."""
    weights = [_keras_gates(W_ih).T, _keras_gates(W_hh).T]
    if not problem.config.bias:
        return weights
    b_ih, b_hh = (_keras_gates(b) for b in biases)
    return [*weights, np.stack([b_ih, b_hh]) if problem.config.reset_after else b_ih + b_hh]


def _gru_gradients(problem: Problem, cell: Any) -> list[FloatArray]:
    """The gradients of weight_ih, weight_hh, bias_ih and bias_hh, in torch's gate order."""
    grads = [
        _keras_gates(cell.kernel.value.grad.numpy().T),
        _keras_gates(cell.recurrent_kernel.value.grad.numpy().T),
    ]
    if problem.config.bias:
        bias = _keras_gates(cell.bias.value.grad.numpy(), axis=-1)
        grads += list(bias) if problem.config.reset_after else [bias, bias]
    return grads


@dataclass(frozen=True)
class _KerasCell:
    """Keras' recurrent layer for a cell, and its weights to and from torch's layout."""

    #: ``(keras, problem, **options) -> layer``, every step and the final state out
    layer: Callable[..., Any]
    #: ``(problem, weight_ih, weight_hh[, bias_ih, bias_hh]) -> set_weights' list``
    weights: Callable[..., list[Any]]
    #: ``(problem, cell) -> the gradients of weight_ih, weight_hh[, bias_ih, bias_hh]``
    gradients: Callable[[Problem, Any], list[FloatArray]]


_SIMPLE_RNN = _KerasCell(_simple_rnn, _same_order_weights, _same_order_gradients)
#: Keras' recurrent layer for each cell, by ``config.mode``: a new cell is one more entry.
_CELLS: dict[Mode, _KerasCell] = {
    "RNN_TANH": _SIMPLE_RNN,
    "RNN_RELU": _SIMPLE_RNN,
    "LSTM": _KerasCell(_lstm, _same_order_weights, _same_order_gradients),
    "GRU": _KerasCell(_gru, _gru_weights, _gru_gradients),
}


def _to_keras(problem: Problem, a: FloatArray) -> FloatArray:
    """An array laid out like the input or output, batch-first (N, T, .) as Keras takes it."""
    if problem.unbatched:
        return a[None]  # (T, .) -> (1, T, .)
    return a if problem.config.batch_first else a.swapaxes(0, 1)  # (T, N, .) -> (N, T, .)


def _from_keras(problem: Problem, a: FloatArray) -> FloatArray:
    """The inverse of :func:`_to_keras`."""
    if problem.unbatched:
        return a.squeeze(0)  # (1, T, .) -> (T, .)
    return a if problem.config.batch_first else a.swapaxes(0, 1)
