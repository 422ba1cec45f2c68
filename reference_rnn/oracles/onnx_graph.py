"""What the two ONNX oracles share: the problem's network as an ONNX graph, built from its arrays.

An LSTM is one ONNX ``LSTM`` node per layer the same way: its W (K, 4H, D_l), R (K, 4H, H) and B
(K, 8H) hold torch's rows in ONNX's gate order i, o, f, c (torch's i, f, g, o: blocks 0, 3, 1, 2),
it takes each layer's initial cell state too and gives its final one, ``Y_c``; ONNX has no
projection (``proj_size``).

Written from the ONNX specification of the ``RNN`` operator with ``onnx.helper`` only, and
independent of the package's exporter (``RNN.to_onnx`` is checked against this graph). ONNX's
recurrence is torch's, ``H_t = f(X_t @ W.T + H_{t-1} @ R.T + Wb + Rb)``, so layer ``l`` is one
``RNN`` node (direction ``forward`` or ``bidirectional``) whose initializers stack the problem's
arrays of its directions:

    W (K, H, D_l)   weight_ih_l{l}, weight_ih_l{l}_reverse
    R (K, H, H)     weight_hh_l{l}, weight_hh_l{l}_reverse
    B (K, 2 * H)    bias_ih_l{l} then bias_hh_l{l}, per direction; zeros without bias

Its ``Y`` (T, K, N, H) becomes the next layer's input (T, N, K * H) by a Transpose and a Reshape.
The graph is time-major and batched, with one initial state per layer: this module lays the
problem's arrays out around it in NumPy (batch_first transposed, unbatched input as a batch of
one, which is how ``torch.nn.RNN`` itself defines it), and reads back the last layer's ``Y`` and
every layer's final state ``Y_h`` (K, N, H), whose concatenation is ``h_n``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.config import Mode, RNNConfig
from reference_rnn.core.optional import require
from reference_rnn.core.validation import FloatArray
from reference_rnn.oracles import Problem, Results

__all__ = ["OPSET", "run_model"]

#: The opset of the graph: the newest version of ``RNN`` (22) that onnxruntime 1.32 implements.
OPSET = 22

#: ``evaluate(model, feeds, output_names)`` runs an ``onnx.ModelProto``: the named outputs.
Evaluate = Callable[[Any, dict[str, NDArray[Any]], list[str]], Sequence[NDArray[Any]]]


def run_model(problem: Problem, evaluate: Evaluate) -> Results:
    """``output`` and ``h_n`` of the problem's network, as an ONNX graph run by ``evaluate``."""
    c = problem.config
    x = problem.x
    # the initial states: h's, and an LSTM's c
    given = {"h": problem.hx} | ({"c": problem.cx} if c.cell == "LSTM" else {})
    if problem.unbatched:
        x = x[:, None]  # a batch of one: (T, 1, .)
        given = {s: None if s0 is None else s0[:, None] for s, s0 in given.items()}
    elif c.batch_first:
        x = x.swapaxes(0, 1)  # (N, T, D) -> (T, N, D)
    T, N, _ = x.shape
    L, K, H = c.num_layers, c.num_directions, c.hidden_size
    feeds = {"X": np.ascontiguousarray(x)}
    for s, given_s0 in given.items():
        s0 = np.zeros((L * K, N, H), problem.dtype) if given_s0 is None else given_s0
        feeds |= {f"initial_{s}_l{layer}": s0[layer * K : (layer + 1) * K] for layer in range(L)}
    if problem.lengths is not None:
        feeds["sequence_lens"] = problem.lengths.astype(np.int32)
    names = [f"Y_l{L - 1}"] + [f"Y_{s}_l{layer}" for s in given for layer in range(L)]
    Y, *finals = evaluate(_model(problem), feeds, names)
    output = Y.transpose(0, 2, 1, 3).reshape(T, N, K * H)  # (T, K, N, H) -> (T, N, K * H)
    # L x (K, N, H) -> (L * K, N, H), for h, then c
    states = {f"{s}_n": np.concatenate(finals[i * L : (i + 1) * L]) for i, s in enumerate(given)}
    if problem.unbatched:
        return {"output": output[:, 0]} | {key: a[:, 0] for key, a in states.items()}
    return {"output": output.swapaxes(0, 1) if c.batch_first else output} | states


def _model(problem: Problem) -> Any:
    """The ``onnx.ModelProto``, checked by ``onnx.checker``."""
    onnx = require("onnx", extra="oracle-onnx", purpose="the ONNX oracles' graph")
    helper = onnx.helper
    c = problem.config
    L, K, H = c.num_layers, c.num_directions, c.hidden_size
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(problem.dtype))
    inputs = [helper.make_tensor_value_info("X", elem, ["T", "N", c.input_size])]
    states = ["h", "c"] if c.cell == "LSTM" else ["h"]
    inputs += [
        helper.make_tensor_value_info(f"initial_{s}_l{layer}", elem, [K, "N", H])
        for s in states
        for layer in range(L)
    ]
    if problem.lengths is not None:
        int32 = onnx.TensorProto.INT32
        inputs.append(helper.make_tensor_value_info("sequence_lens", int32, ["N"]))
    outputs = [helper.make_tensor_value_info(f"Y_l{L - 1}", elem, ["T", K, "N", H])]
    outputs += [
        helper.make_tensor_value_info(f"Y_{s}_l{layer}", elem, [K, "N", H])
        for s in states
        for layer in range(L)
    ]
    initializers = [
        onnx.numpy_helper.from_array(array, name) for name, array in _initializers(problem).items()
    ]
    graph = helper.make_graph(_nodes(helper, problem), "oracle", inputs, outputs, initializers)
    opsets = [helper.make_opsetid("", OPSET)]
    # the oldest IR version that carries the opset: a runtime may not read the newest
    model = helper.make_model(
        graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets)
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def _nodes(helper: Any, problem: Problem) -> list[Any]:
    """Each layer's RNN node on the previous one's output, reshaped to (T, N, K * H)."""
    c = problem.config
    sequence_lens = "" if problem.lengths is None else "sequence_lens"
    nodes, x = [], "X"
    for layer in range(c.num_layers):
        W, R, B, initial_h = (f"{name}_l{layer}" for name in ("W", "R", "B", "initial_h"))
        inputs = [x, W, R, B, sequence_lens, initial_h]
        nodes.append(_CELLS[c.mode](helper, c, inputs, [f"Y_l{layer}", f"Y_h_l{layer}"]))
        if layer < c.num_layers - 1:  # (T, K, N, H) -> (T, N, K, H) -> (T, N, K * H)
            Y, Y_tnkh, x = f"Y_l{layer}", f"Y_tnkh_l{layer}", f"X_l{layer + 1}"
            nodes.append(helper.make_node("Transpose", [Y], [Y_tnkh], perm=[0, 2, 1, 3]))
            nodes.append(helper.make_node("Reshape", [Y_tnkh, "layer_input_shape"], [x]))
    return nodes


def _rnn(helper: Any, c: RNNConfig, inputs: list[str], outputs: list[str]) -> Any:
    """ONNX's ``RNN`` operator: the Elman cell, its activation named as ONNX names it."""
    return helper.make_node(
        "RNN",
        inputs,
        outputs,
        hidden_size=c.hidden_size,
        direction="bidirectional" if c.bidirectional else "forward",
        activations=[{"tanh": "Tanh", "relu": "Relu"}[c.nonlinearity]] * c.num_directions,
    )


def _lstm(helper: Any, c: RNNConfig, inputs: list[str], outputs: list[str]) -> Any:
    """ONNX's ``LSTM`` operator (its default activations are torch's: Sigmoid, Tanh, Tanh), with
    the layer's initial cell state and final cell state ``Y_c``."""
    initial_c = inputs[5].replace("initial_h", "initial_c")
    Y_c = outputs[1].replace("Y_h", "Y_c")
    return helper.make_node(
        "LSTM",
        [*inputs, initial_c],
        [*outputs, Y_c],
        hidden_size=c.hidden_size,
        direction="bidirectional" if c.bidirectional else "forward",
    )


def _gru(helper: Any, c: RNNConfig, inputs: list[str], outputs: list[str]) -> Any:
    """ONNX's ``GRU`` operator; ``linear_before_reset`` 1 is torch's equations (reset_after),
    ONNX's default 0 the other convention's."""
    return helper.make_node(
        "GRU",
        inputs,
        outputs,
        hidden_size=c.hidden_size,
        direction="bidirectional" if c.bidirectional else "forward",
        activations=["Sigmoid", "Tanh"] * c.num_directions,
        linear_before_reset=int(c.reset_after),
    )


#: ONNX's node for each cell, by ``config.mode``: a new cell is one more function.
_CELLS: dict[Mode, Callable[[Any, RNNConfig, list[str], list[str]], Any]] = {
    "RNN_TANH": _rnn,
    "RNN_RELU": _rnn,
    "LSTM": _lstm,
    "GRU": _gru,
}

#: ONNX's gate order for each cell with gates, as torch's row blocks: the LSTM's i, o, f, c are
#: blocks 0, 3, 1, 2 of torch's i, f, g, o; the GRU's z, r, h are blocks 1, 0, 2 of its r, z, n.
_GATE_ORDER: dict[Mode, list[int]] = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}


def _onnx_rows(c: RNNConfig, a: FloatArray) -> FloatArray:
    """torch's rows of one weight or bias (G, ...) in ONNX's gate order."""
    if c.mode not in _GATE_ORDER:
        return a
    blocks = np.split(a, len(_GATE_ORDER[c.mode]))
    return np.concatenate([blocks[k] for k in _GATE_ORDER[c.mode]])


def _initializers(problem: Problem) -> dict[str, NDArray[Any]]:
    """Every layer's W, R and B, and the shape of a layer's input above the first."""
    c = problem.config
    arrays = {
        f"{name}_l{layer}": array
        for layer in range(c.num_layers)
        for name, array in _weights(problem, layer).items()
    }
    if c.num_layers > 1:  # an unused initializer would make onnxruntime warn
        arrays["layer_input_shape"] = np.array([0, 0, c.num_directions * c.hidden_size])
    return arrays


def _weights(problem: Problem, layer: int) -> dict[str, FloatArray]:
    """ONNX's W (K, G, D_l), R (K, G, H) and B (K, 2 * G) of layer ``layer`` (G = gates * H),
    the gates' rows in ONNX's order."""
    c, p = problem.config, problem.params
    names = [c.param_names(layer, direction) for direction in range(c.num_directions)]
    if c.bias:
        B = [
            np.concatenate([_onnx_rows(c, p[b_ih]), _onnx_rows(c, p[b_hh])])
            for *_, b_ih, b_hh in names
        ]
    else:
        B = [np.zeros(2 * c.gate_size, problem.dtype)] * len(names)
    return {
        "W": np.stack([_onnx_rows(c, p[w_ih]) for w_ih, *_ in names]),
        "R": np.stack([_onnx_rows(c, p[w_hh]) for _, w_hh, *_ in names]),
        "B": np.stack(B),
    }
