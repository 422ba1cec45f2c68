"""The onnxruntime oracle: the problem's network as an ONNX graph, run by onnxruntime on the CPU.

The graph is built from the problem's raw arrays (see :mod:`reference_rnn.oracles.onnx_graph`)
and run by ``onnxruntime.InferenceSession`` with the ``CPUExecutionProvider``. Forward only:
output and h_n. onnxruntime honours ``sequence_lens`` and agrees with torch's packed sequences.
"""

from __future__ import annotations

from typing import Any

from numpy.typing import NDArray

from reference_rnn.core.optional import require
from reference_rnn.oracles import Problem, Results
from reference_rnn.oracles.onnx_graph import run_model

__all__ = ["GRADIENTS", "NAME", "known_difference", "run", "unsupported", "version"]

NAME = "onnxruntime"
GRADIENTS = False
NAME_IN_MESSAGES = "the onnxruntime oracle"


def version() -> str:
    """onnxruntime's version, and onnx's, which builds the graph."""
    onnxruntime = require("onnxruntime", extra="oracle-onnx", purpose=NAME_IN_MESSAGES)
    onnx = require("onnx", extra="oracle-onnx", purpose=NAME_IN_MESSAGES)
    return f"{onnxruntime.__version__} (onnx {onnx.__version__})"


def unsupported(problem: Problem) -> str | None:
    if problem.dtype == "float64" and problem.config.cell == "LSTM":
        return (
            "onnxruntime's CPU LSTM kernel is float32 only: onnxruntime 1.32 fails a float64 "
            "model when run, RUNTIME_EXCEPTION 'LSTM operator does not support double yet'"
        )
    if problem.dtype == "float64":
        return (
            "onnxruntime's CPU RNN kernel is float32 only: onnxruntime 1.32 refuses a float64 "
            "model with NOT_IMPLEMENTED 'Could not find an implementation for RNN(22)' (and RNN(7), "
            "RNN(14) at older opsets)"
        )
    if problem.dropout_masks is not None:
        return "dropout in training: the graph is the network in evaluation mode"
    if problem.config.proj_size:
        return "ONNX's LSTM has no projection (proj_size)"
    return None


def known_difference(problem: Problem) -> str | None:  # noqa: ARG001
    return None


def run(problem: Problem) -> Results:
    """onnxruntime's output and h_n."""
    onnxruntime = require("onnxruntime", extra="oracle-onnx", purpose=NAME_IN_MESSAGES)
    options = onnxruntime.SessionOptions()
    # the networks are tiny: a second thread only spins, on a machine with two cores
    options.intra_op_num_threads = 1

    def evaluate(model: Any, feeds: dict[str, NDArray[Any]], names: list[str]) -> list[Any]:
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        return session.run(names, feeds)  # type: ignore[no-any-return]

    return run_model(problem, evaluate)
