"""The Keras oracle against the torch oracle, the reference against it, and its known difference.

Keras is imported through the oracle, never directly: keras reads its backend once, on its first
import, and the oracle picks torch (``pytest.importorskip("keras")`` would import it with whatever
backend the environment names, TensorFlow by default).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import replace
from types import ModuleType, SimpleNamespace

import pytest

from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import Problem
from reference_rnn.oracles import keras as keras_oracle
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import CoreCase, RNNCase, oracle_error
from reference_rnn.verify.suite import PARITY_CASES

pytest.importorskip("torch", reason="the keras oracle runs on keras' torch backend")
if importlib.util.find_spec("keras") is None:
    pytest.skip("keras is not installed", allow_module_level=True)
keras = keras_oracle.import_keras()

pytestmark = pytest.mark.usefixtures("torch")  # one torch thread: the networks are tiny

SUPPORTED = [case for case in PARITY_CASES if keras_oracle.unsupported(case.problem()) is None]
#: Keras expresses every parity case: 20 in float32 and 20 in float64 (the module's docstring).
SUPPORTED_COUNT = 40
KNOWN = [case for case in SUPPORTED if keras_oracle.known_difference(case.problem()) is not None]
EXACT = [case for case in SUPPORTED if case not in KNOWN]
LENGTHS = [
    case
    for case in EXACT
    if isinstance(case, RNNCase) and case.lengths is not None and case.hx and not case.training
]


def ids(case: RNNCase | CoreCase) -> str:
    return f"{case.name} {case.dtype}"


def given(case: RNNCase | CoreCase) -> Problem:
    """The problem an oracle is given for ``case``: with our dropout masks, if any."""
    return case.run()[1]


def error_against_torch(problem: Problem) -> float:
    """The worst scaled error of Keras' results against torch's; both return the same keys."""
    ours, theirs = keras_oracle.run(problem), torch_oracle.run(problem)
    assert sorted(ours) == sorted(theirs)
    return max(scaled_error(ours[name], theirs[name]) for name in theirs)


def test_every_parity_case_is_supported_and_float64_is_the_known_difference() -> None:
    assert len(SUPPORTED) == len(PARITY_CASES) == SUPPORTED_COUNT
    assert [case.dtype for case in KNOWN] == ["float64"] * 20
    assert [case.dtype for case in EXACT] == ["float32"] * 20
    assert [case.name for case in LENGTHS] == [
        "RNN lengths (unsorted)",
        "RNN lengths, 2 layers bidirectional relu",
    ]


@pytest.mark.parametrize("case", EXACT, ids=ids)
def test_keras_agrees_with_torch(case: RNNCase | CoreCase) -> None:
    assert error_against_torch(given(case)) <= TOLERANCE[case.dtype]


@pytest.mark.parametrize("case", EXACT, ids=ids)
def test_the_reference_agrees_with_keras(case: RNNCase | CoreCase) -> None:
    assert oracle_error(case, keras_oracle) <= TOLERANCE[case.dtype]


@pytest.mark.parametrize("case", KNOWN, ids=ids)
def test_the_known_difference_is_measured(case: RNNCase | CoreCase) -> None:
    """Above float64's tolerance (else the note is stale), and of float32's size, as it says."""
    error = oracle_error(case, keras_oracle)
    assert TOLERANCE["float64"] < error <= TOLERANCE["float32"]


def test_keras_promotes_two_float64_operands_to_float32() -> None:
    assert keras.backend.result_type("float64", "float64") == "float32"


@pytest.mark.parametrize("case", KNOWN, ids=ids)
def test_with_float64_products_keras_agrees_with_torch_in_float64(
    case: RNNCase | CoreCase, monkeypatch: pytest.MonkeyPatch, torch: ModuleType
) -> None:
    """The note's reason is the whole difference: replace the product and it is gone.

    SimpleRNNCell calls ``keras.src.ops.matmul``; torch's own keeps float64 operands float64.
    """
    monkeypatch.setattr(keras.src.ops, "matmul", torch.matmul)
    assert error_against_torch(given(case)) <= TOLERANCE["float64"]


def one_sequence(problem: Problem, i: int) -> Problem:
    """Sequence ``i`` of a time-major problem with lengths, cut to its length, without lengths."""
    assert problem.lengths is not None
    assert problem.hx is not None
    assert not problem.config.batch_first
    n = int(problem.lengths[i])
    return replace(
        problem,
        x=problem.x[:n, i : i + 1],
        hx=problem.hx[:, i : i + 1],
        lengths=None,
        grad_output=problem.grad_output[:n, i : i + 1],
        grad_h_n=problem.grad_h_n[:, i : i + 1],
    )


@pytest.mark.parametrize("case", LENGTHS, ids=ids)
def test_masking_is_torch_packed_semantics(case: RNNCase) -> None:
    """Padded, masked sequences give what each sequence alone, cut to its length, gives.

    So the output past a length is zero, h_n is the last valid state, the reverse direction
    starts at the last valid step, and no gradient reaches the padding; the parameters'
    gradients are the sums over the sequences.
    """
    problem = given(case)
    assert problem.lengths is not None
    padded = keras_oracle.run(problem)
    alone = [keras_oracle.run(one_sequence(problem, i)) for i in range(len(problem.lengths))]
    tolerance = TOLERANCE[case.dtype]
    for i, (n, result) in enumerate(zip(problem.lengths, alone, strict=True)):
        for name in ("output", "grad_input"):
            assert scaled_error(padded[name][:n, i], result[name][:, 0]) <= tolerance
            assert not padded[name][n:, i].any()
        for name in ("h_n", "grad_hx"):
            assert scaled_error(padded[name][:, i], result[name][:, 0]) <= tolerance
    for name in problem.params:
        total = sum(result[f"grad.{name}"] for result in alone)
        assert scaled_error(padded[f"grad.{name}"], total) <= tolerance


def test_keras_imported_on_another_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    jax_keras = SimpleNamespace(backend=SimpleNamespace(backend=lambda: "jax"))
    monkeypatch.setitem(sys.modules, "keras", jax_keras)
    with pytest.raises(ImportError, match="needs keras' torch backend, but keras was imported"):
        keras_oracle.version()


@pytest.mark.parametrize("environment", [None, "jax"])
def test_a_missing_keras_says_how_to_install_it_and_leaves_the_environment(
    environment: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)  # None in sys.modules: the import fails
    if environment is None:
        monkeypatch.delenv("KERAS_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KERAS_BACKEND", environment)
    expected = 'the Keras oracle needs keras: pip install "reference-rnn[oracle-keras]"'
    with pytest.raises(ImportError, match=re.escape(expected)):
        keras_oracle.version()
    assert os.environ.get("KERAS_BACKEND") == environment


def test_the_version_names_the_backend() -> None:
    assert keras_oracle.version() == f"{keras.__version__} (torch backend)"
