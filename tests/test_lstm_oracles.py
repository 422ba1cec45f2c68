"""The LSTM against the torch and exact oracles, oracle against oracle, and a planted error.

Each oracle builds the LSTM from the problem's raw arrays with its own framework (torch's
``nn.LSTM`` with autograd; mpmath from torch's documented equations on a scalar tape); nothing
of the reference's computation is on their side. An error planted in the core's backward (the
forget gate's derivative) must fail against each of them. JAX's are in test_lstm_oracle_jax.py.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from lstm_cases import IDS, LSTM_CASES

from reference_rnn.core import lstm
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import exact
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import RNNCase, finite_difference_error, oracle_error

EXACT = [case for case in LSTM_CASES if exact.unsupported(case.run()[1]) is None]
#: the exact oracle's tests: they skip where mpmath is not installed (the suite without torch)
needs_mpmath = pytest.mark.usefixtures("mpmath")
#: float64 against the correctly rounded values: a few units of float64's eps (2.2e-16)
EXACT_TOLERANCE = 4e-15


@pytest.mark.parametrize("case", LSTM_CASES, ids=IDS)
def test_reference_agrees_with_torch(torch: ModuleType, case: RNNCase) -> None:
    ours, problem = case.run()
    theirs = torch_oracle.run(problem)
    assert ours.keys() == theirs.keys()
    assert {"c_n", "grad_cx"} <= theirs.keys()
    for name in theirs:
        assert ours[name].dtype == case.dtype, name
        assert scaled_error(ours[name], theirs[name]) <= TOLERANCE[case.dtype], name


def test_every_float64_case_is_exact_sized() -> None:
    assert len(EXACT) == len(LSTM_CASES) // 2
    assert all(case.dtype == "float64" for case in EXACT)


@pytest.fixture
def mpmath() -> ModuleType:
    return pytest.importorskip("mpmath")


@needs_mpmath
@pytest.mark.parametrize("case", EXACT, ids=lambda case: case.name)
def test_reference_is_within_a_few_eps_of_exact(case: RNNCase) -> None:
    assert oracle_error(case, exact) <= EXACT_TOLERANCE


@needs_mpmath
@pytest.mark.parametrize("case", EXACT, ids=lambda case: case.name)
def test_exact_agrees_with_torch(torch: ModuleType, case: RNNCase) -> None:
    """Oracle against oracle: the reference is on neither side."""
    problem = case.run()[1]
    exact_results, torch_results = exact.run(problem), torch_oracle.run(problem)
    assert exact_results.keys() == torch_results.keys()
    for name in torch_results:
        assert scaled_error(torch_results[name], exact_results[name]) <= 1e-13, name


def test_exact_is_too_slow_for_a_large_lstm() -> None:
    options = {"input_size": 5, "hidden_size": 5, "num_layers": 3, "bidirectional": True}
    case = RNNCase("big", options | {"cell": "LSTM"})
    reason = exact.unsupported(case.problem())
    assert reason is not None
    assert "multiply-adds" in reason


def test_exact_with_projection_counts_its_work() -> None:
    """N * T * (4H * (D + P) + P * H): 3 * 5 * (16 * (3 + 2) + 2 * 4) = 1320."""
    case = RNNCase("p", {"input_size": 3, "hidden_size": 4, "proj_size": 2, "cell": "LSTM"})
    assert exact._work(case.problem()) == 1320


@pytest.mark.parametrize(
    "case",
    [case for case in LSTM_CASES if case.dtype == "float64"][:6],
    ids=lambda case: case.name,
)
def test_layer_gradients_are_central_differences(case: RNNCase) -> None:
    assert finite_difference_error(case) < 1e-7


@pytest.fixture
def wrong_forget_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The forget gate's derivative f (1 - f) taken as f: a slip in one gate's backward."""
    right = lstm._factors

    def planted(gates, c_prev, tanh_c, out, k):
        right(gates, c_prev, tanh_c, out, k)
        H = gates.shape[2] // 4
        out[:, :, H : 2 * H] = c_prev * gates[:, :, H : 2 * H]

    monkeypatch.setattr(lstm, "_factors", planted)


@pytest.mark.usefixtures("wrong_forget_gate")
@pytest.mark.parametrize("case", LSTM_CASES, ids=IDS)
def test_a_planted_error_fails_torch(torch: ModuleType, case: RNNCase) -> None:
    assert oracle_error(case, torch_oracle) > 100 * TOLERANCE[case.dtype]


@needs_mpmath
@pytest.mark.usefixtures("wrong_forget_gate")
@pytest.mark.parametrize("case", EXACT, ids=lambda case: case.name)
def test_a_planted_error_fails_exact(case: RNNCase) -> None:
    assert oracle_error(case, exact) > 1e3 * EXACT_TOLERANCE


@needs_mpmath
def test_the_exact_lstm_step_is_the_closed_form() -> None:
    """One unit, one step, x = 0, h0 = 0: c_1 = sigmoid(b_f) c0 + sigmoid(b_i) tanh(b_g),
    h_1 = sigmoid(b_o) tanh(c_1), with b = bias_ih + bias_hh, written out in mpmath."""
    mp = exact.import_mpmath()
    case = RNNCase("one", {"input_size": 1, "hidden_size": 1, "cell": "LSTM"}, N=1, T=1)
    problem = case.problem()
    problem.params["weight_ih_l0"][:] = 0
    problem.params["weight_hh_l0"][:] = 0
    problem.hx[:] = 0  # type: ignore[index]
    results = exact.run(problem)
    with mp.workdps(50):
        b = [
            mp.mpf(float(u)) + mp.mpf(float(v))
            for u, v in zip(problem.params["bias_ih_l0"], problem.params["bias_hh_l0"], strict=True)
        ]
        sig = [1 / (1 + mp.exp(-v)) for v in b]
        c1 = sig[1] * mp.mpf(float(problem.cx[0, 0, 0])) + sig[0] * mp.tanh(b[2])  # type: ignore[index]
        h1 = sig[3] * mp.tanh(c1)
    assert results["c_n"][0, 0, 0] == float(c1)
    assert results["h_n"][0, 0, 0] == float(h1)
    assert np.isfinite(results["grad_cx"]).all()
