"""What the two ONNX oracles share: the problem's raw arrays as a model, its inputs and outputs.

The model is built by :func:`reference_rnn.layers.onnx_export.build_model` from the problem's arrays
(plumbing of torch-named arrays into ONNX initializers, no computation of this package). Its
layouts are batched; unbatched input runs as a batch of one, which is how ``torch.nn.RNN`` itself
defines it (its forward unsqueezes the batch axis of the input and of hx).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.layers.onnx_export import build_model
from reference_rnn.oracles import Problem, Results

__all__ = ["run_model"]

#: ``evaluate(model, feeds)`` runs an ``onnx.ModelProto`` on named inputs: [output, h_n].
Evaluate = Callable[[Any, dict[str, NDArray[Any]]], Sequence[NDArray[Any]]]


def run_model(problem: Problem, evaluate: Evaluate) -> Results:
    """``output`` and ``h_n`` of the problem's network, exported to ONNX and run by ``evaluate``."""
    model = build_model(
        problem.params,
        input_size=problem.input_size,
        hidden_size=problem.hidden_size,
        num_layers=problem.num_layers,
        nonlinearity=problem.nonlinearity,
        bias=problem.bias,
        batch_first=problem.batch_first,
        bidirectional=problem.bidirectional,
        dtype=problem.dtype,
        hx=problem.hx is not None,
        lengths=problem.lengths is not None,
    )
    batch_axis = 0 if problem.batch_first else 1
    x, hx = problem.x, problem.hx
    if problem.unbatched:
        x = np.expand_dims(x, batch_axis)  # (T, D) -> (T, 1, D), or (1, T, D) with batch_first
        hx = None if hx is None else hx[:, None]  # (L * K, H) -> (L * K, 1, H)
    feeds: dict[str, NDArray[Any]] = {"input": x}
    if hx is not None:
        feeds["hx"] = hx
    if problem.lengths is not None:
        feeds["lengths"] = problem.lengths
    output, h_n = evaluate(model, feeds)
    if problem.unbatched:
        output, h_n = output.squeeze(batch_axis), h_n[:, 0]  # the batch of one removed
    return {"output": output, "h_n": h_n}
