"""The GRU layer against every oracle that computes its convention, and the oracles' independence.

Each convention is checked by the frameworks that compute it: ``reset_after=True`` by torch, JAX
and exact arithmetic; ``reset_after=False`` by JAX and exact arithmetic (torch refuses it, with the
reason). Then errors are planted in the GRU's core, each where every entry point passes, and every
oracle must fail every case it supports: the r and z gates' recurrent weights swapped, a sigmoid
0.1% too large, and the other convention computed. An oracle that went through the package's own
computation would pass them.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

from reference_rnn import oracles
from reference_rnn.core import cell_common, gru
from reference_rnn.core.measure import FD_TOLERANCE, TOLERANCE
from reference_rnn.verify.cases import finite_difference_error, oracle_error
from reference_rnn.verify.suite import GRU_CASES

#: the oracles that compute a GRU
GRU_ORACLES = ["torch", "jax", "keras", "onnxruntime", "onnx reference", "exact"]
#: the conventions each computes
CONVENTIONS = {"torch": {True}}


def installed(name: str) -> types.ModuleType:
    oracle = oracles.load(name)
    try:
        oracle.version()
    except ImportError as exc:
        pytest.skip(str(exc))
    return oracle


def supported(oracle: types.ModuleType) -> list[Any]:
    """The cases the oracle computes and has no known difference on."""
    return [
        case
        for case in GRU_CASES
        if oracle.unsupported(problem := case.run()[1]) is None
        and oracle.known_difference(problem) is None
    ]


def test_the_cases_cover_both_conventions_and_dtypes():
    kinds = {(case.config.reset_after, case.dtype) for case in GRU_CASES}
    assert len(kinds) == 4
    assert all(case.config.mode == "GRU" for case in GRU_CASES)


@pytest.mark.parametrize("name", GRU_ORACLES)
def test_every_supported_case_agrees(name: str) -> None:
    oracle = installed(name)
    cases = supported(oracle)
    conventions = {case.config.reset_after for case in cases}
    assert conventions == CONVENTIONS.get(name, {True, False})
    for case in cases:
        error = oracle_error(case, oracle)
        assert error <= TOLERANCE[case.dtype], f"{case.name} {case.dtype}: {error:.2e}"


def test_the_reference_evaluators_known_difference_is_lengths_only():
    reference = installed("onnx reference")
    for case in GRU_CASES:
        problem = case.run()[1]
        if reference.unsupported(problem) is None:
            assert (reference.known_difference(problem) is None) == (case.lengths is None)
            if case.lengths is not None:  # ignored: every sequence runs T steps
                assert oracle_error(case, reference) > 0.5


def test_what_each_oracle_supports():
    exact = installed("exact")
    reasons = {case: exact.unsupported(case.run()[1]) for case in GRU_CASES}
    for case, reason in reasons.items():
        if case.dtype == "float32":
            assert reason.startswith("exact arithmetic is the yardstick of float64"), case.name
        elif "lengths" in case.name:  # 2 layers, 2 directions, N = 4, T = 6
            assert reason == "too big for exact arithmetic: 17280 multiply-adds, at most 10000"
        elif "dropout" in case.name:  # 3 layers, 2 directions
            assert reason == "too big for exact arithmetic: 17550 multiply-adds, at most 10000"
        else:
            assert reason is None, case.name
    torch_oracle = installed("torch")
    for case in GRU_CASES:
        reason = torch_oracle.unsupported(case.run()[1])
        assert (reason is None) == case.config.reset_after


@pytest.mark.parametrize(
    "case",
    [
        case
        for case in GRU_CASES
        if case.dtype == "float64" and ("no bias" in case.name or "unbatched" in case.name)
    ],
    ids=lambda case: case.name,
)
def test_the_layers_gradients_are_central_differences(case):
    assert finite_difference_error(case) < FD_TOLERANCE


@pytest.fixture
def swapped_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    right = gru._weights

    def planted(Wx: object, Wh: object, b: object, bh: object) -> Any:
        Wx_arr, Wh_arr, b_arr, bh_arr = right(Wx, Wh, b, bh)
        H = Wh_arr.shape[0]
        swapped = np.concatenate([Wh_arr[:, H : 2 * H], Wh_arr[:, :H], Wh_arr[:, 2 * H :]], axis=1)
        return Wx_arr, swapped, b_arr, bh_arr

    monkeypatch.setattr(gru, "_weights", planted)


@pytest.fixture
def scaled_sigmoid(monkeypatch: pytest.MonkeyPatch) -> None:
    right = cell_common.sigmoid

    def planted(a: Any) -> None:
        right(a)
        a *= 1.001

    monkeypatch.setattr(cell_common, "sigmoid", planted)


@pytest.fixture
def other_convention(monkeypatch: pytest.MonkeyPatch) -> None:
    right = gru._forward

    def planted(*args: Any, **kwargs: Any) -> Any:
        args = (*args[:7], not args[7], *args[8:])  # reset_after, the eighth argument
        return right(*args, **kwargs)

    monkeypatch.setattr(gru, "_forward", planted)


@pytest.mark.parametrize("planted", ["swapped_gates", "scaled_sigmoid", "other_convention"])
@pytest.mark.parametrize("name", GRU_ORACLES)
def test_a_planted_error_fails_every_case(name: str, planted: str, request) -> None:
    oracle = installed(name)
    cases = supported(oracle)  # before planting: a planted core may compute any convention
    request.getfixturevalue(planted)
    for case in cases:
        error = oracle_error(case, oracle)
        assert error > 10 * TOLERANCE[case.dtype], f"{case.name} {case.dtype}: {error:.2e}"


@pytest.mark.parametrize("name", ["torch", "exact"])
def test_the_backward_in_blocks_of_one_step_agrees(name: str, monkeypatch) -> None:
    """The backward's factors computed a step at a time (the block size of the largest layers)
    give the same gradients as the oracle: both conventions by exact arithmetic."""
    oracle = installed(name)
    cases = supported(oracle)
    monkeypatch.setattr(cell_common, "_BLOCK_BYTES", 1)
    for case in cases[:6]:
        error = oracle_error(case, oracle)
        assert error <= TOLERANCE[case.dtype], f"{case.name} {case.dtype}: {error:.2e}"
