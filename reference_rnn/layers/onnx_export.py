"""A multi-layer Elman RNN as an ONNX model, from torch-named raw arrays (``RNN.to_onnx``).

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = 2 if bidirectional else 1.

The graph has one ONNX ``RNN`` node per layer (``direction`` forward or bidirectional) and only
layout plumbing around them: ONNX's ``Y`` is ``(T, K, N, H)`` where torch's output is
``(T, N, K * H)``, and ONNX runs time-major, so Transpose and Reshape nodes move between the two.
Its inputs and outputs have ``RNN.forward``'s names and layouts for batched input:

    input    (T, N, D), or (N, T, D) with batch_first
    hx       (L * K, N, H), when hx=True; otherwise the initial state is zero
    lengths  (N,) int64, when lengths=True: packed-sequence semantics (ONNX's sequence_lens)
    output   (T, N, K * H), or (N, T, K * H) with batch_first
    h_n      (L * K, N, H)

The model is built with ``onnx.helper`` and ``onnx.numpy_helper`` only and checked with
``onnx.checker``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from reference_rnn.core.validation import check_flag, check_size

__all__ = ["MIN_OPSET", "build_model", "import_onnx"]

#: Slice takes its bounds as inputs from opset 10 on.
MIN_OPSET = 10
_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu"}


def import_onnx() -> ModuleType:
    """onnx, or an ImportError that says how to get it."""
    try:
        return importlib.import_module("onnx")
    except ImportError as exc:
        msg = f"ONNX export needs onnx (pip install onnx): {exc}"
        raise ImportError(msg) from exc


def build_model(
    params: Mapping[str, NDArray[np.floating[Any]]],
    *,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    nonlinearity: str,
    bias: bool,
    batch_first: bool,
    bidirectional: bool,
    dtype: str,
    hx: bool = True,
    lengths: bool = False,
    opset: int = 22,
) -> Any:
    """An ``onnx.ModelProto`` computing ``torch.nn.RNN`` in evaluation mode with ``params``.

    ``params`` maps torch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...) to arrays in
    torch's layout; the options are ``torch.nn.RNN``'s, ``dtype`` is ``"float32"`` or
    ``"float64"``. ``hx`` and ``lengths`` say whether the graph takes an initial state and
    sequence lengths as inputs.
    """
    onnx = import_onnx()
    hx, lengths = check_flag("hx", hx), check_flag("lengths", lengths)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= check_size("opset", opset) <= newest:
        msg = f"opset must be from {MIN_OPSET} to {newest} (this onnx's newest), got {opset}"
        raise ValueError(msg)
    helper, TensorProto = onnx.helper, onnx.TensorProto
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    L, H, K = num_layers, hidden_size, 2 if bidirectional else 1
    x_dims = ["N", "T", input_size] if batch_first else ["T", "N", input_size]
    out_dims = ["N", "T", K * H] if batch_first else ["T", "N", K * H]

    nodes: list[Any] = []
    initializers: list[Any] = []
    inputs = [helper.make_tensor_value_info("input", elem, x_dims)]

    def constant(name: str, value: ArrayLike, element_type: str) -> str:
        array = np.asarray(value, dtype=element_type)
        initializers.append(onnx.numpy_helper.from_array(array, name))
        return name

    x = "input"
    if batch_first:
        nodes.append(helper.make_node("Transpose", [x], ["input_tm"], perm=[1, 0, 2]))
        x = "input_tm"  # (N, T, D) -> (T, N, D)
    if hx:
        inputs.append(helper.make_tensor_value_info("hx", elem, [L * K, "N", H]))
    sequence_lens = ""
    if lengths:
        inputs.append(helper.make_tensor_value_info("lengths", TensorProto.INT64, ["N"]))
        # ONNX's sequence_lens is int32; the graph takes torch's int64 lengths
        nodes.append(helper.make_node("Cast", ["lengths"], ["sequence_lens"], to=TensorProto.INT32))
        sequence_lens = "sequence_lens"
    flatten_directions = constant("flatten_directions", [0, 0, K * H], "int64")

    finals = []
    for layer in range(L):
        suffixes = ["", "_reverse"][:K]
        W = constant(f"W_l{layer}", [params[f"weight_ih_l{layer}{s}"] for s in suffixes], dtype)
        R = constant(f"R_l{layer}", [params[f"weight_hh_l{layer}{s}"] for s in suffixes], dtype)
        B = ""
        if bias:
            # ONNX's B is [Wb, Rb] per direction: (K, 2 * H)
            B = constant(
                f"B_l{layer}",
                [
                    np.concatenate([params[f"bias_ih_l{layer}{s}"], params[f"bias_hh_l{layer}{s}"]])
                    for s in suffixes
                ],
                dtype,
            )
        initial_h = ""
        if hx:
            initial_h = f"initial_h_l{layer}"  # hx[layer * K : (layer + 1) * K]: (K, N, H)
            bounds = [
                constant(f"hx_start_l{layer}", [layer * K], "int64"),
                constant(f"hx_end_l{layer}", [(layer + 1) * K], "int64"),
            ]
            nodes.append(helper.make_node("Slice", ["hx", *bounds], [initial_h]))
        Y, Y_h = f"Y_l{layer}", f"Y_h_l{layer}"
        nodes.append(
            helper.make_node(
                "RNN",
                [x, W, R, B, sequence_lens, initial_h],
                [Y, Y_h],
                name=f"rnn_l{layer}",
                hidden_size=H,
                direction="bidirectional" if bidirectional else "forward",
                activations=[_ACTIVATIONS[nonlinearity]] * K,
            )
        )
        # (T, K, N, H) -> (T, N, K, H) -> (T, N, K * H): torch's [forward, backward] on the last axis
        nodes.append(helper.make_node("Transpose", [Y], [f"{Y}_tnkh"], perm=[0, 2, 1, 3]))
        last_in_time_major = layer == L - 1 and not batch_first
        x = "output" if last_in_time_major else f"output_l{layer}"
        nodes.append(helper.make_node("Reshape", [f"{Y}_tnkh", flatten_directions], [x]))
        finals.append(Y_h)

    if batch_first:
        nodes.append(helper.make_node("Transpose", [x], ["output"], perm=[1, 0, 2]))
    nodes.append(helper.make_node("Concat", finals, ["h_n"], axis=0))  # L x (K, N, H)

    graph = helper.make_graph(
        nodes,
        "reference_rnn",
        inputs,
        [
            helper.make_tensor_value_info("output", elem, out_dims),
            helper.make_tensor_value_info("h_n", elem, [L * K, "N", H]),
        ],
        initializers,
    )
    opset_imports = [helper.make_opsetid("", opset)]
    # the oldest IR version that carries the opset: older runtimes reject newer IR versions
    model = helper.make_model(
        graph,
        opset_imports=opset_imports,
        ir_version=helper.find_min_ir_version_for(opset_imports),
        producer_name="reference_rnn",
    )
    onnx.checker.check_model(model, full_check=True)
    return model
