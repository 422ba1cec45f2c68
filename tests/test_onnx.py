"""``RNN.to_onnx`` and the two ONNX oracles: onnxruntime (float32) and onnx.reference (float64).

The oracles run their own graph, built from a problem's raw arrays (oracles/onnx_graph.py), never
the package's exporter. The exported model is checked against that graph (both run in the same
runtime on the same inputs), against the torch oracle (a ``torch.nn.RNN`` built from the same raw
arrays) and against our ``RNN``; it is never compared with itself.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.layers.onnx_export import MIN_OPSET
from reference_rnn.oracles import Problem
from reference_rnn.oracles import onnx_reference as reference_oracle
from reference_rnn.oracles import onnxruntime as ort_oracle
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import RNNCase, oracle_error
from reference_rnn.verify.suite import PARITY_CASES

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
onnx_reference = pytest.importorskip("onnx.reference")

FORWARD = ("output", "h_n")


def session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def feeds(problem: Problem) -> dict[str, np.ndarray]:
    named = {"input": problem.x, "hx": problem.hx, "lengths": problem.lengths}
    return {name: value for name, value in named.items() if value is not None}


# -- RNN.to_onnx in onnxruntime, every option torch and ONNX share ------------------------------

SHARED = [
    pytest.param(
        RNNCase(
            "to_onnx",
            {
                "input_size": 3,
                "hidden_size": 4,
                "num_layers": layers,
                "nonlinearity": nl,
                "bias": bias,
                "batch_first": batch_first,
                "bidirectional": bidirectional,
            },
            N=4,
            T=5,
            dtype="float32",
            hx=hx,
            lengths=(3, 5, 1, 4) if lengths else None,
            seed=seed,
        ),
        id=f"L{layers}-{'bi' if bidirectional else 'uni'}-{'bf' if batch_first else 'tm'}-{nl}"
        f"-{'bias' if bias else 'nobias'}-{'hx' if hx else 'nohx'}"
        f"-{'lengths' if lengths else 'full'}",
    )
    for seed, (layers, bidirectional, batch_first, nl, bias, hx, lengths) in enumerate(
        itertools.product(
            (1, 2),
            (False, True),
            (False, True),
            ("tanh", "relu"),
            (True, False),
            (True, False),
            (False, True),
        )
    )
]


#: Every option the exported graph has, in each ONNX runtime that runs the dtype: onnxruntime
#: float32 (its RNN kernel is float32 only), the reference evaluator float64 (it has no Relu and
#: ignores sequence_lens, so it gets neither).
AGAINST_THE_ORACLES = [
    pytest.param(
        RNNCase(
            "to_onnx",
            {
                "input_size": 3,
                "hidden_size": 4,
                "num_layers": layers,
                "nonlinearity": nl,
                "bias": bias,
                "batch_first": batch_first,
                "bidirectional": bidirectional,
            },
            N=4,
            T=5,
            dtype=dtype,
            hx=hx,
            lengths=(3, 5, 1, 4) if lengths else None,
            seed=seed,
        ),
        id=f"L{layers}-{'bi' if bidirectional else 'uni'}-{'bf' if batch_first else 'tm'}-{nl}"
        f"-{'bias' if bias else 'nobias'}-{'hx' if hx else 'nohx'}"
        f"-{'lengths' if lengths else 'full'}-{dtype}",
    )
    for seed, (layers, bidirectional, batch_first, nl, bias, hx, lengths, dtype) in enumerate(
        itertools.product(
            (1, 2),
            (False, True),
            (False, True),
            ("tanh", "relu"),
            (True, False),
            (True, False),
            (False, True),
            ("float32", "float64"),
        )
    )
    if dtype == "float32" or (nl == "tanh" and not lengths)
]


@pytest.mark.parametrize("case", AGAINST_THE_ORACLES)
def test_to_onnx_agrees_with_the_oracles_own_graph_in_the_same_runtime(case: RNNCase):
    problem = case.problem()
    model = case.rnn_for(problem).to_onnx(hx=case.hx, lengths=case.lengths is not None)
    if case.dtype == "float32":
        exported = session(model).run(list(FORWARD), feeds(problem))
        theirs = ort_oracle.run(problem)
    else:
        exported = onnx_reference.ReferenceEvaluator(model).run(list(FORWARD), feeds(problem))
        theirs = reference_oracle.run(problem)
    for name, value in zip(FORWARD, exported, strict=True):
        assert value.dtype == theirs[name].dtype == np.dtype(case.dtype), name
        assert scaled_error(value, theirs[name]) <= TOLERANCE[case.dtype], name


@pytest.mark.parametrize("case", SHARED)
def test_to_onnx_runs_in_onnxruntime_as_torch_and_rnn_do(torch: ModuleType, case: RNNCase):
    problem = case.problem()
    rnn = case.rnn_for(problem)
    model = rnn.to_onnx(hx=case.hx, lengths=case.lengths is not None)
    onnx.checker.check_model(model, full_check=True)
    exported = dict(zip(FORWARD, session(model).run(list(FORWARD), feeds(problem)), strict=True))
    theirs = torch_oracle.run(problem)
    ours = dict(zip(FORWARD, rnn(problem.x, problem.hx, problem.lengths), strict=True))
    for name in FORWARD:
        assert exported[name].dtype == np.float32, name
        assert scaled_error(exported[name], theirs[name]) <= TOLERANCE["float32"], name
        assert scaled_error(exported[name], ours[name]) <= TOLERANCE["float32"], name


def test_to_onnx_exports_evaluation_mode(torch: ModuleType):
    case = RNNCase("dropout", {"input_size": 3, "hidden_size": 4, "num_layers": 3, "dropout": 0.5})
    problem = case.problem()
    rnn = case.rnn_for(problem).train()
    model = rnn.to_onnx()
    assert rnn.training  # exporting leaves the layer's mode alone
    output, h_n = onnx_reference.ReferenceEvaluator(model).run(list(FORWARD), feeds(problem))
    theirs = torch_oracle.run(problem)  # torch in evaluation mode: no dropout masks given
    assert scaled_error(output, theirs["output"]) <= TOLERANCE["float64"]
    assert scaled_error(h_n, theirs["h_n"]) <= TOLERANCE["float64"]
    dropped, _ = rnn(problem.x, problem.hx)  # in training, our forward drops units
    assert scaled_error(dropped, theirs["output"]) > 0.01


@pytest.mark.parametrize("opset", [MIN_OPSET, 14, 22])
def test_every_supported_opset_runs_in_onnxruntime(torch: ModuleType, opset: int):
    case = RNNCase(
        "opset",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
        N=4,
        dtype="float32",
        lengths=(2, 5, 4, 1),
    )
    problem = case.problem()
    model = case.rnn_for(problem).to_onnx(lengths=True, opset=opset)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]
    output, h_n = session(model).run(list(FORWARD), feeds(problem))
    theirs = torch_oracle.run(problem)
    assert scaled_error(output, theirs["output"]) <= TOLERANCE["float32"]
    assert scaled_error(h_n, theirs["h_n"]) <= TOLERANCE["float32"]


# -- the graph's interface ------------------------------------------------------------------


def signature(values) -> list[tuple[str, int, list[str | int]]]:
    """(name, element type, dims) of graph inputs or outputs; a symbolic dim by its name."""
    return [
        (
            v.name,
            v.type.tensor_type.elem_type,
            [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
        )
        for v in values
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(("hx", "lengths"), list(itertools.product([True, False], repeat=2)))
def test_graph_inputs_and_outputs_are_named_and_laid_out_as_forward(
    dtype, batch_first, hx, lengths
):
    L, K, D, H = 3, 2, 7, 5
    rnn = rr.RNN(D, H, L, batch_first=batch_first, bidirectional=True, dtype=dtype)
    model = rnn.to_onnx(hx=hx, lengths=lengths)
    elem = {"float32": onnx.TensorProto.FLOAT, "float64": onnx.TensorProto.DOUBLE}[dtype]
    time_batch = ["N", "T"] if batch_first else ["T", "N"]
    inputs = [("input", elem, [*time_batch, D])]
    inputs += [("hx", elem, [L * K, "N", H])] * hx
    inputs += [("lengths", onnx.TensorProto.INT64, ["N"])] * lengths
    assert signature(model.graph.input) == inputs
    assert signature(model.graph.output) == [
        ("output", elem, [*time_batch, K * H]),
        ("h_n", elem, [L * K, "N", H]),
    ]
    rnn_nodes = [node for node in model.graph.node if node.op_type == "RNN"]
    assert len(rnn_nodes) == L
    for node in rnn_nodes:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attributes["direction"] == b"bidirectional"
        assert attributes["activations"] == [b"Tanh", b"Tanh"]
        assert attributes["hidden_size"] == H
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 22)]


def test_a_unidirectional_relu_layer_without_bias_exports_as_such():
    model = rr.RNN(3, 4, 2, nonlinearity="relu", bias=False).to_onnx()
    rnn_nodes = [node for node in model.graph.node if node.op_type == "RNN"]
    for node in rnn_nodes:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attributes["direction"] == b"forward"
        assert attributes["activations"] == [b"Relu"]
        assert node.input[3] == ""  # no B: ONNX's default bias is zero
    assert len(rnn_nodes) == 2


def test_bad_export_arguments_are_named():
    rnn = rr.RNN(3, 4)
    newest = onnx.defs.onnx_opset_version()
    for opset in (MIN_OPSET - 1, newest + 1):
        with pytest.raises(ValueError, match=rf"opset must be from 10 to {newest} .*, got {opset}"):
            rnn.to_onnx(opset=opset)
    for opset in (True, 22.0):
        with pytest.raises(TypeError, match="opset should be of type int"):
            rnn.to_onnx(opset=opset)
    with pytest.raises(TypeError, match="hx must be a bool, got str"):
        rnn.to_onnx(hx="no")
    with pytest.raises(TypeError, match="lengths must be a bool, got int"):
        rnn.to_onnx(lengths=1)


# -- the oracles ----------------------------------------------------------------------------


def _planned(oracle: ModuleType) -> list[tuple[RNNCase, str | None]]:
    """The parity cases the oracle can express, each with its known difference, as verify plans."""
    planned = []
    for case in PARITY_CASES:
        _, problem = case.run()
        if oracle.unsupported(problem) is None:
            planned.append((case, oracle.known_difference(problem)))
    return planned


PLANNED = {oracle: _planned(oracle) for oracle in (ort_oracle, reference_oracle)}


def test_the_oracles_express_exactly_these_parity_cases():
    # onnxruntime: every float32 case but dropout in training (8 core, 11 RNN);
    # onnx reference: every float64 tanh case but dropout in training (5 core, 8 RNN)
    assert len(PLANNED[ort_oracle]) == 19
    assert {case.dtype for case, _ in PLANNED[ort_oracle]} == {"float32"}
    assert [known for _, known in PLANNED[ort_oracle]] == [None] * 19
    assert len(PLANNED[reference_oracle]) == 13
    assert {case.dtype for case, _ in PLANNED[reference_oracle]} == {"float64"}
    known = [(case.name, case.dtype) for case, reason in PLANNED[reference_oracle] if reason]
    assert known == [("RNN lengths (unsorted)", "float64")]


@pytest.mark.parametrize(
    ("oracle", "case"),
    [
        pytest.param(oracle, case, id=f"{oracle.NAME}-{case.name}-{case.dtype}")
        for oracle, planned in PLANNED.items()
        for case, known in planned
        if known is None
    ],
)
def test_parity_cases_agree_with_rnn(torch: ModuleType, oracle: ModuleType, case):
    assert not oracle.GRADIENTS
    assert oracle_error(case, oracle) <= TOLERANCE[case.dtype]


def test_onnxruntime_has_no_float64_rnn_kernel():
    case = RNNCase("float64", {"input_size": 3, "hidden_size": 4})
    problem = case.problem()
    assert "float32 only" in ort_oracle.unsupported(problem)
    not_implemented = ort.capi.onnxruntime_pybind11_state.NotImplemented
    with pytest.raises(not_implemented, match=r"Could not find an implementation for RNN\(22\)"):
        ort_oracle.run(problem)


def test_the_reference_evaluator_has_no_relu():
    problem = RNNCase("relu", {"input_size": 3, "hidden_size": 4, "nonlinearity": "relu"}).problem()
    assert "Relu" in reference_oracle.unsupported(problem)
    with pytest.raises(RuntimeError, match="Unknown activation function 'Relu'"):
        reference_oracle.run(problem)


BIDIRECTIONAL = {"input_size": 4, "hidden_size": 5, "bidirectional": True}


@pytest.mark.parametrize(
    "case",
    [
        RNNCase("1 layer", {"input_size": 4, "hidden_size": 5}),
        RNNCase(
            "2 layers bidirectional, batch_first",
            BIDIRECTIONAL | {"num_layers": 2, "batch_first": True},
        ),
        RNNCase("bidirectional, no bias, hx=None", BIDIRECTIONAL | {"bias": False}, hx=False),
        RNNCase(
            "unbatched, 2 layers bidirectional", BIDIRECTIONAL | {"num_layers": 2}, unbatched=True
        ),
    ],
    ids=lambda case: case.name,
)
def test_the_reference_evaluator_agrees_with_torch_in_float64(torch: ModuleType, case):
    problem = case.problem()
    evaluated, theirs = reference_oracle.run(problem), torch_oracle.run(problem)
    for name in FORWARD:
        assert evaluated[name].dtype == np.float64, name
        assert scaled_error(evaluated[name], theirs[name]) <= TOLERANCE["float64"], name


def test_the_reference_evaluator_ignores_sequence_lens_as_its_known_difference_says(
    torch: ModuleType,
):
    # the evidence quoted in known_difference, measured again so that it cannot go stale
    case = next(c for c, known in PLANNED[reference_oracle] if known is not None)
    _, problem = case.run()
    assert problem.lengths is not None
    evaluated, theirs = reference_oracle.run(problem), torch_oracle.run(problem)
    assert oracle_error(case, reference_oracle) > TOLERANCE["float64"]
    T = problem.x.shape[0]
    valid = np.arange(T)[:, None] < problem.lengths  # (T, N): steps within each length
    within = scaled_error(evaluated["output"][valid], theirs["output"][valid])
    assert within < 5e-16  # the reason's "agrees with torch to 2e-16"
    past = f"{np.abs(evaluated['output'][~valid]).max():.2f}"
    assert np.abs(theirs["output"][~valid]).max() == 0
    np.testing.assert_array_equal(evaluated["h_n"][0], evaluated["output"][T - 1])
    reason = reference_oracle.known_difference(problem)
    assert f"'{case.name}' in {case.dtype}" in reason
    assert f"up to {past} where torch gives 0" in reason


def test_the_reference_evaluator_is_off_by_order_one_with_lengths_bidirectional(
    torch: ModuleType,
):
    # the example: bidirectional, lengths [5, 2, 3, 1]; onnxruntime agrees with torch there
    case = RNNCase("lengths", BIDIRECTIONAL, N=4, T=5, lengths=(5, 2, 3, 1))
    problem = case.problem()
    evaluated, theirs = reference_oracle.run(problem), torch_oracle.run(problem)
    for name in FORWARD:
        assert scaled_error(evaluated[name], theirs[name]) > 0.5, name
    problem32 = RNNCase(
        "lengths", BIDIRECTIONAL, N=4, T=5, dtype="float32", lengths=(5, 2, 3, 1)
    ).problem()
    runtime, theirs32 = ort_oracle.run(problem32), torch_oracle.run(problem32)
    for name in FORWARD:
        assert scaled_error(runtime[name], theirs32[name]) <= TOLERANCE["float32"], name


# -- frameworks on demand -------------------------------------------------------------------


def test_importing_the_package_and_the_onnx_oracles_does_not_import_onnx():
    code = (
        "import sys, reference_rnn, reference_rnn.verify, reference_rnn.oracles.onnxruntime, "
        "reference_rnn.oracles.onnx_reference; print(sorted({'onnx', 'onnxruntime'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


ADVICE = 'pip install "reference-rnn[oracle-onnx]"'


def test_without_onnx_the_onnx_parts_say_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=re.escape(f"RNN.to_onnx needs onnx: {ADVICE}")):
        rr.RNN(3, 4).to_onnx()
    with pytest.raises(
        ImportError, match=re.escape(f"the ONNX reference oracle needs onnx: {ADVICE}")
    ):
        reference_oracle.version()
    with pytest.raises(
        ImportError, match=re.escape(f"the onnxruntime oracle needs onnx: {ADVICE}")
    ):
        ort_oracle.version()
    problem = RNNCase("onnx", {"input_size": 3, "hidden_size": 4}, dtype="float32").problem()
    with pytest.raises(
        ImportError, match=re.escape(f"the ONNX oracles' graph needs onnx: {ADVICE}")
    ):
        ort_oracle.run(problem)


def test_without_onnxruntime_its_oracle_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(
        ImportError, match=re.escape(f"the onnxruntime oracle needs onnxruntime: {ADVICE}")
    ):
        ort_oracle.version()
    assert reference_oracle.version() == onnx.__version__


def test_versions_name_both_frameworks():
    assert ort_oracle.version() == f"{ort.__version__} (onnx {onnx.__version__})"
