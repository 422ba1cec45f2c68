"""A multi-layer Elman RNN, LSTM or GRU as an ONNX model, from torch-named raw arrays (``to_onnx``).

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = 2 if bidirectional else 1.

The graph has one ONNX ``RNN`` (``LSTM``, ``GRU``) node per layer (``direction`` forward or
bidirectional) and only layout plumbing around them. A GRU's node has ONNX's gate order z, r, h
(torch's r, z, n reordered) and ``linear_before_reset`` set from ``reset_after``: always written,
as ONNX's default, 0, is ``reset_after=False``, not torch's equations. Around the nodes: ONNX's
``Y`` is ``(T, K, N, H)`` where torch's output is ``(T, N, K * H)``, and ONNX runs time-major, so
Transpose and Reshape nodes move between the two.
Its inputs and outputs have ``RNN.forward``'s names and layouts for batched input:

    input    (T, N, D), or (N, T, D) with batch_first
    hx       (L * K, N, H), when hx=True; otherwise the initial state is zero
    lengths  (N,) int64, when lengths=True: packed-sequence semantics (ONNX's sequence_lens)
    output   (T, N, K * H), or (N, T, K * H) with batch_first
    h_n      (L * K, N, H)

An LSTM is one ONNX ``LSTM`` node per layer, torch's gate rows i, f, g, o reordered to ONNX's
i, o, f, c; its graph also takes ``cx`` (L * K, N, H) with ``hx`` and gives ``c_n``. ONNX has no
projection: an LSTM with ``proj_size`` is refused.

The model is built with ``onnx.helper`` and ``onnx.numpy_helper`` only and checked with
``onnx.checker``. The ONNX oracles build their own graph (:mod:`reference_rnn.oracles.onnx_graph`),
and this one is checked against theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from reference_rnn.core.config import Mode, RNNConfig
from reference_rnn.core.optional import require
from reference_rnn.core.validation import check_flag, check_size

__all__ = ["MIN_OPSET", "build_model"]

#: Slice takes its bounds as inputs from opset 10 on.
MIN_OPSET = 10
#: ONNX's operator for each cell, by ``config.mode``, and its activations for one direction: a new
#: cell is one more entry (with its gates' order in ``_ONNX_GATES``).
_OPERATORS: dict[Mode, tuple[str, list[str]]] = {
    "RNN_TANH": ("RNN", ["Tanh"]),
    "RNN_RELU": ("RNN", ["Relu"]),
    "LSTM": ("LSTM", ["Sigmoid", "Tanh", "Tanh"]),
    "GRU": ("GRU", ["Sigmoid", "Tanh"]),
}
#: Where ONNX's gate order differs from torch's: ONNX's blocks of rows as torch's block indices
#: (the LSTM's i, o, f, c from torch's i, f, g, o; the GRU's z, r, h from torch's r, z, n).
_ONNX_GATES: dict[Mode, list[int]] = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}


def build_model(
    config: RNNConfig,
    params: Mapping[str, NDArray[np.floating[Any]]],
    *,
    dtype: str,
    hx: bool = True,
    lengths: bool = False,
    opset: int = 22,
) -> Any:
    """An ``onnx.ModelProto`` computing ``torch.nn.RNN`` in evaluation mode with ``params``.

    ``params`` maps torch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...) to arrays in
    torch's layout; ``dtype`` is ``"float32"`` or ``"float64"``. ``hx`` and ``lengths`` say
    whether the graph takes an initial state and sequence lengths as inputs.
    """
    onnx = require("onnx", extra="oracle-onnx", purpose="RNN.to_onnx")
    hx, lengths = check_flag("hx", hx), check_flag("lengths", lengths)
    if config.proj_size:
        msg = (
            f"an LSTM with proj_size={config.proj_size} has no ONNX equivalent: ONNX's LSTM "
            "operator has no projection"
        )
        raise ValueError(msg)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= check_size("opset", opset) <= newest:
        msg = f"opset must be from {MIN_OPSET} to {newest} (this onnx's newest), got {opset}"
        raise ValueError(msg)
    graph = _Graph(onnx, config, dtype)
    x = graph.layout_inputs(hx=hx, lengths=lengths)
    finals = []
    for layer in range(config.num_layers):
        x, final = graph.layer(layer, params, x, hx=hx)
        finals.append(final)
    graph.layout_outputs(x, finals)

    helper = onnx.helper
    opset_imports = [helper.make_opsetid("", opset)]
    # the oldest IR version that carries the opset: older runtimes reject newer IR versions
    model = helper.make_model(
        graph.make(),
        opset_imports=opset_imports,
        ir_version=helper.find_min_ir_version_for(opset_imports),
        producer_name="reference_rnn",
    )
    onnx.checker.check_model(model, full_check=True)
    return model


class _Graph:
    """The nodes, initializers and inputs of the model, added layer by layer."""

    def __init__(self, onnx: ModuleType, config: RNNConfig, dtype: str) -> None:
        self.onnx, self.helper = onnx, onnx.helper
        self.config, self.dtype = config, dtype
        self.elem = self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.sequence_lens = ""  # ONNX's name for an input left out
        #: the graph's initial states, and the final ones: an LSTM has c beside h
        self.states = ["hx", "cx"] if config.cell == "LSTM" else ["hx"]
        self.finals = ["h_n", "c_n"] if config.cell == "LSTM" else ["h_n"]

    def node(self, op_type: str, inputs: list[str], outputs: list[str], **attributes: Any) -> None:
        self.nodes.append(self.helper.make_node(op_type, inputs, outputs, **attributes))

    def constant(self, name: str, value: ArrayLike, element_type: str) -> str:
        array = np.asarray(value, dtype=element_type)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def layout_inputs(self, *, hx: bool, lengths: bool) -> str:
        """The graph's inputs; returns the name of the time-major input (T, N, D)."""
        c, helper, TensorProto = self.config, self.helper, self.onnx.TensorProto
        L, K, H, D = c.num_layers, c.num_directions, c.hidden_size, c.input_size
        x_dims = ["N", "T", D] if c.batch_first else ["T", "N", D]
        self.inputs.append(helper.make_tensor_value_info("input", self.elem, x_dims))
        x = "input"
        if c.batch_first:
            self.node("Transpose", [x], ["input_tm"], perm=[1, 0, 2])
            x = "input_tm"  # (N, T, D) -> (T, N, D)
        if hx:
            for name in self.states:
                self.inputs.append(helper.make_tensor_value_info(name, self.elem, [L * K, "N", H]))
        if lengths:
            self.inputs.append(helper.make_tensor_value_info("lengths", TensorProto.INT64, ["N"]))
            # ONNX's sequence_lens is int32; the graph takes torch's int64 lengths
            self.node("Cast", ["lengths"], ["sequence_lens"], to=TensorProto.INT32)
            self.sequence_lens = "sequence_lens"
        self.constant("flatten_directions", [0, 0, K * H], "int64")
        return x

    def layer(
        self, layer: int, params: Mapping[str, NDArray[Any]], x: str, *, hx: bool
    ) -> tuple[str, list[str]]:
        """Layer ``layer``'s node on ``x`` (T, N, D_l): its output (T, N, K * H) and its final
        states (Y_h, and an LSTM's Y_c)."""
        c, K = self.config, self.config.num_directions
        names = [c.param_names(layer, direction) for direction in range(K)]
        gates = _ONNX_GATES.get(c.mode)

        def rows(a: NDArray[Any]) -> NDArray[Any]:  # torch's gate rows in ONNX's order
            if gates is None:
                return a
            blocks = np.split(a, len(gates))
            return np.concatenate([blocks[k] for k in gates])

        def stacked(name: str, which: int) -> str:  # one array per direction: (K, ...)
            return self.constant(name, [rows(params[n[which]]) for n in names], self.dtype)

        W, R = stacked(f"W_l{layer}", 0), stacked(f"R_l{layer}", 1)
        B = ""
        if c.bias:
            # ONNX's B is [Wb, Rb] per direction: (K, 2 * G)
            biases = [np.concatenate([rows(params[n[2]]), rows(params[n[3]])]) for n in names]
            B = self.constant(f"B_l{layer}", biases, self.dtype)
        initial = []
        if hx:
            bounds = [
                self.constant(f"hx_start_l{layer}", [layer * K], "int64"),
                self.constant(f"hx_end_l{layer}", [(layer + 1) * K], "int64"),
            ]
            for state in self.states:  # hx[layer * K : (layer + 1) * K]: (K, N, H)
                initial.append(f"initial_{state}_l{layer}")
                self.node("Slice", [state, *bounds], [initial[-1]])
        else:
            initial = [""] * len(self.states)
        Y = f"Y_l{layer}"
        finals = [f"Y_{state[0]}_l{layer}" for state in self.states]  # Y_h_l0, Y_c_l0
        op_type, activations = _OPERATORS[c.mode]
        # the GRU's reset gate: ONNX's default, 0, is reset_after=False; torch's is 1
        cell = {"linear_before_reset": int(c.reset_after)} if c.mode == "GRU" else {}
        self.node(
            op_type,
            [x, W, R, B, self.sequence_lens, *initial],
            [Y, *finals],
            name=f"rnn_l{layer}",
            hidden_size=c.hidden_size,
            direction="bidirectional" if c.bidirectional else "forward",
            activations=activations * K,
            **cell,
        )
        # (T, K, N, H) -> (T, N, K, H) -> (T, N, K * H): torch's [forward, backward] on the last axis
        self.node("Transpose", [Y], [f"{Y}_tnkh"], perm=[0, 2, 1, 3])
        last_in_time_major = layer == c.num_layers - 1 and not c.batch_first
        out = "output" if last_in_time_major else f"output_l{layer}"
        self.node("Reshape", [f"{Y}_tnkh", "flatten_directions"], [out])
        return out, finals

    def layout_outputs(self, x: str, finals: list[list[str]]) -> None:
        """``output`` from the last layer's ``x`` (T, N, K * H); ``h_n`` from every Y_h, and an
        LSTM's ``c_n`` from every Y_c."""
        if self.config.batch_first:
            self.node("Transpose", [x], ["output"], perm=[1, 0, 2])
        for name, per_layer in zip(self.finals, zip(*finals, strict=True), strict=True):
            self.node("Concat", list(per_layer), [name], axis=0)  # L x (K, N, H)

    def make(self) -> Any:
        """The ``onnx.GraphProto``."""
        c, helper = self.config, self.helper
        K, H = c.num_directions, c.hidden_size
        out_dims = ["N", "T", K * H] if c.batch_first else ["T", "N", K * H]
        outputs = [helper.make_tensor_value_info("output", self.elem, out_dims)]
        outputs += [
            helper.make_tensor_value_info(name, self.elem, [c.num_layers * K, "N", H])
            for name in self.finals
        ]
        return helper.make_graph(
            self.nodes, "reference_rnn", self.inputs, outputs, self.initializers
        )
