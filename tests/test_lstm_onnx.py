"""The LSTM in ONNX: ``LSTM.to_onnx`` in onnxruntime and the reference evaluator, the ONNX
oracles' own LSTM graph, and what onnx 1.23.2's evaluator does with sequence_lens (measured).

The onnx session runs this file (noxfile ORACLE_FRAMEWORKS).
"""

from __future__ import annotations

import itertools
import re
from types import ModuleType

import numpy as np
import pytest
from lstm_cases import LSTM_CASES

from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import onnx_reference as reference_oracle
from reference_rnn.oracles import onnxruntime as ort_oracle
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import RNNCase, oracle_error

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
from onnx import reference as onnx_reference

FORWARD = ("output", "h_n", "c_n")

EXPORTS = [
    pytest.param(
        RNNCase(
            "export",
            {
                "input_size": 3,
                "hidden_size": 4,
                "num_layers": layers,
                "bidirectional": bidirectional,
                "batch_first": batch_first,
                "bias": bias,
                "cell": "LSTM",
            },
            N=3,
            dtype=dtype,
            hx=hx,
            lengths=(4, 5, 2) if lengths else None,
            seed=seed,
        ),
        id=f"L{layers}-{'bi' if bidirectional else 'uni'}-{'bf' if batch_first else 'tm'}"
        f"-{'bias' if bias else 'nobias'}-{'hx' if hx else 'nohx'}"
        f"-{'lengths' if lengths else 'full'}-{dtype}",
    )
    for seed, (layers, bidirectional, batch_first, bias, hx, lengths, dtype) in enumerate(
        itertools.product(
            (1, 3),
            (False, True),
            (False, True),
            (True, False),
            (True, False),
            (False, True),
            ("float32", "float64"),
        )
    )
    if dtype == "float32" or not lengths  # the evaluator ignores sequence_lens (below)
]


def _feeds(problem, lengths):
    feeds = {"input": problem.x}
    if problem.hx is not None:
        feeds |= {"hx": problem.hx, "cx": problem.cx}
    if lengths:
        feeds["lengths"] = problem.lengths
    return feeds


def _run(model, problem, lengths):
    if problem.dtype == "float32":
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        return session.run(list(FORWARD), _feeds(problem, lengths))
    return onnx_reference.ReferenceEvaluator(model).run(list(FORWARD), _feeds(problem, lengths))


@pytest.mark.parametrize("case", EXPORTS)
def test_to_onnx_agrees_with_the_lstm(case: RNNCase):
    problem = case.problem()
    lstm = case.rnn_for(problem).eval()
    lengths = case.lengths is not None
    model = lstm.to_onnx(hx=case.hx, lengths=lengths)
    onnx.checker.check_model(model, full_check=True)
    assert [node.op_type for node in model.graph.node].count("LSTM") == case.config.num_layers
    exported = dict(zip(FORWARD, _run(model, problem, lengths), strict=True))
    hx = None if problem.hx is None else (problem.hx, problem.cx)
    output, (h_n, c_n) = lstm(problem.x, hx, problem.lengths)
    ours = {"output": output, "h_n": h_n, "c_n": c_n}
    for name in FORWARD:
        assert exported[name].dtype == np.dtype(case.dtype), name
        assert scaled_error(exported[name], ours[name]) <= TOLERANCE[case.dtype], name


def test_to_onnx_refuses_a_projection():
    case = RNNCase("p", {"input_size": 3, "hidden_size": 4, "proj_size": 2, "cell": "LSTM"})
    lstm = case.rnn_for(case.problem())
    with pytest.raises(ValueError, match=re.escape("proj_size=2 has no ONNX equivalent")):
        lstm.to_onnx()


ORT_CASES = [case for case in LSTM_CASES if ort_oracle.unsupported(case.run()[1]) is None]
REFERENCE_CASES = [
    case
    for case in LSTM_CASES
    if reference_oracle.unsupported(case.run()[1]) is None
    and reference_oracle.known_difference(case.run()[1]) is None
]


def test_the_onnx_oracles_express_exactly_these_cases():
    names = {(case.name, case.dtype) for case in ORT_CASES}
    assert names == {
        ("LSTM 1 layer", "float32"),
        ("LSTM 1 layer, hx=None, no bias", "float32"),
        ("LSTM 2 layers bidirectional, lengths", "float32"),
    }
    assert {(case.name, case.dtype) for case in REFERENCE_CASES} == {
        ("LSTM 1 layer", "float64"),
        ("LSTM 1 layer, hx=None, no bias", "float64"),
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_has_no_projection(dtype):
    options = {"input_size": 3, "hidden_size": 4, "proj_size": 2, "cell": "LSTM"}
    problem = RNNCase("p", options, dtype=dtype).problem()
    oracle = ort_oracle if dtype == "float32" else reference_oracle
    assert oracle.unsupported(problem) == "ONNX's LSTM has no projection (proj_size)"


def test_onnxruntime_has_no_float64_lstm_kernel():
    from reference_rnn.oracles import onnx_graph

    problem = RNNCase("f64", {"input_size": 3, "hidden_size": 4, "cell": "LSTM"}).problem()
    assert "does not support double yet" in (ort_oracle.unsupported(problem) or "")

    def evaluate(model, feeds, names):
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        return session.run(names, feeds)

    with pytest.raises(Exception, match="LSTM operator does not support double yet"):
        onnx_graph.run_model(problem, evaluate)


@pytest.mark.parametrize("case", ORT_CASES, ids=lambda case: case.name)
def test_onnxruntime_agrees_with_the_reference(torch: ModuleType, case: RNNCase):
    assert oracle_error(case, ort_oracle) <= TOLERANCE["float32"]
    problem = case.run()[1]
    theirs, torchs = ort_oracle.run(problem), torch_oracle.run(problem)
    for name in theirs:
        assert scaled_error(theirs[name], torchs[name]) <= TOLERANCE["float32"], name


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=lambda case: case.name)
def test_the_reference_evaluator_agrees_in_float64(case: RNNCase):
    assert oracle_error(case, reference_oracle) <= TOLERANCE["float64"]


def test_the_reference_evaluator_ignores_the_lstms_sequence_lens_as_measured():
    case = RNNCase(
        "lengths", {"input_size": 3, "hidden_size": 4, "cell": "LSTM"}, lengths=(3, 5, 1)
    )
    ours, problem = case.run()
    assert "op_lstm.py" in (reference_oracle.known_difference(problem) or "")
    theirs = reference_oracle.run(problem)
    for n, length in enumerate(case.lengths):
        within = np.abs(theirs["output"][:length, n] - ours["output"][:length, n]).max()
        assert within <= 1e-15
        if length < case.T:
            assert np.abs(theirs["output"][length:, n]).max() > 0.1  # torch's are zero
        np.testing.assert_array_equal(theirs["h_n"][0, n], theirs["output"][-1, n])


def test_a_planted_error_in_the_forward_fails_onnxruntime(monkeypatch: pytest.MonkeyPatch):
    """The ONNX oracles check forward only: the candidate g's tanh scaled by 1.001 fails them."""
    from reference_rnn.core import lstm

    right = np.tanh

    class Scaled:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def tanh(a, out=None):
            result = right(a, out=out)
            result *= 1.001
            return result

    monkeypatch.setattr(lstm, "np", Scaled())
    for case in ORT_CASES:
        assert oracle_error(case, ort_oracle) > 10 * TOLERANCE["float32"]
    for case in REFERENCE_CASES:
        assert oracle_error(case, reference_oracle) > 1e3 * TOLERANCE["float64"]
