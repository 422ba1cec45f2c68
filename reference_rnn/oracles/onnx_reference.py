"""The ONNX reference oracle: the problem's network as an ONNX graph, run by ``onnx.reference``.

``onnx.reference.ReferenceEvaluator`` is ONNX's own NumPy transcription of its operator
specifications. The graph is built from the problem's raw arrays (see
:mod:`reference_rnn.oracles.onnx_graph`); it runs here in float64, the one ONNX runtime on this
machine that does, so it is checked at float64's tolerance (onnxruntime covers float32).
Forward only: output and h_n.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import NDArray

from reference_rnn.core.optional import measured_on, require
from reference_rnn.oracles import Problem, Results
from reference_rnn.oracles.onnx_graph import run_model

__all__ = ["GRADIENTS", "NAME", "known_difference", "run", "unsupported", "version"]

NAME = "onnx reference"
GRADIENTS = False
NAME_IN_MESSAGES = "the ONNX reference oracle"


def version() -> str:
    return str(require("onnx", extra="oracle-onnx", purpose=NAME_IN_MESSAGES).__version__)


def unsupported(problem: Problem) -> str | None:
    if problem.dtype == "float32":
        return (
            "float32 is onnxruntime's to check; this NumPy evaluator runs the graph in float64, "
            "where a layout mistake cannot hide below float32's tolerance"
        )
    if problem.config.mode == "RNN_RELU":
        return (
            "the evaluator's RNN knows only the Tanh and Affine activations (onnx 1.23.2: "
            "RuntimeError: Unknown activation function 'Relu'.)"
        )
    if problem.dropout_masks is not None:
        return "dropout in training: the graph is the network in evaluation mode"
    if problem.config.proj_size:
        return "ONNX's LSTM has no projection (proj_size)"
    return None


#: The onnx releases whose evaluator was seen to ignore sequence_lens: on any other, the row is a
#: plain check, so that a fix upstream shows up as a pass and a new difference as a failure.
MEASURED_ON = ("1.23.2",)


def known_difference(problem: Problem) -> str | None:
    if problem.lengths is None or not measured_on("onnx", MEASURED_ON):
        return None
    if problem.config.cell == "LSTM":
        return (
            "onnx 1.23.2's ReferenceEvaluator ignores LSTM's sequence_lens (op_lstm.py's _run "
            "takes it unused, '# noqa: ARG002'): every sequence runs all T steps. Measured on a "
            "1-layer LSTM with lengths (3, 5, 1) in float64: within the lengths output agrees with "
            "the reference to 3e-17, past them it is up to 0.52 where torch gives 0, and h_n "
            "equals the output at step T; onnxruntime honours sequence_lens"
        )
    return (
        "onnx 1.23.2's ReferenceEvaluator ignores RNN's sequence_lens (op_rnn.py never reads it): "
        "every sequence runs all T steps, so output past a length is not zero and h_n is the state "
        "at step T. Measured on 'RNN lengths (unsorted)' in float64: within the lengths output "
        "agrees with torch to 2e-16, past them it is up to 0.71 where torch gives 0, and h_n "
        "equals the output at step T; onnxruntime honours sequence_lens. Its GRU likewise "
        "(op_gru.py takes sequence_lens and never reads it): measured on 'GRU lengths, 2 layers "
        "bidirectional', 1.0 relative to the outputs' scale in either convention"
    )


def run(problem: Problem) -> Results:
    """The reference evaluator's output and h_n."""
    reference = require("onnx.reference", extra="oracle-onnx", purpose=NAME_IN_MESSAGES)

    def evaluate(model: Any, feeds: dict[str, NDArray[Any]], names: list[str]) -> list[Any]:
        return reference.ReferenceEvaluator(model).run(names, feeds)  # type: ignore[no-any-return]

    return run_model(problem, evaluate)
