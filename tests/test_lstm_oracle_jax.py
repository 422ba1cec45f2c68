"""The JAX oracle's LSTM against the torch oracle, the reference against it, a planted error.

jax is imported through the oracle, never directly (see test_oracle_jax.py: the oracle restricts
it to the CPU before its first import).
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from lstm_cases import IDS, LSTM_CASES

from reference_rnn.core import lstm
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import jax as jax_oracle
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import RNNCase, oracle_error

if importlib.util.find_spec("jax") is None:
    pytest.skip("jax is not installed", allow_module_level=True)


@pytest.mark.parametrize("case", LSTM_CASES, ids=IDS)
def test_jax_agrees_with_torch(torch: ModuleType, case: RNNCase) -> None:
    """Oracle against oracle: the reference is on neither side."""
    problem = case.run()[1]
    assert jax_oracle.unsupported(problem) is None
    jax_results, torch_results = jax_oracle.run(problem), torch_oracle.run(problem)
    assert jax_results.keys() == torch_results.keys()
    assert {"c_n", "grad_cx"} <= jax_results.keys()
    errors = {name: scaled_error(jax_results[name], torch_results[name]) for name in torch_results}
    assert max(errors.values()) <= TOLERANCE[case.dtype], errors


@pytest.mark.parametrize("case", LSTM_CASES, ids=IDS)
def test_reference_agrees_with_jax(case: RNNCase) -> None:
    ours, problem = case.run()
    theirs = jax_oracle.run(problem)
    for name in theirs:
        assert theirs[name].dtype == ours[name].dtype == case.dtype, name
    error = oracle_error(case, jax_oracle)
    assert error <= TOLERANCE[case.dtype], f"{error:.2e}"


@pytest.mark.parametrize("case", LSTM_CASES[::3], ids=IDS[::3])
def test_a_planted_error_fails_jax(monkeypatch: pytest.MonkeyPatch, case: RNNCase) -> None:
    """The output gate's derivative o (1 - o) taken as 1: a slip in one gate's backward."""
    right = lstm._factors

    def planted(gates, c_prev, tanh_c, out, k):
        right(gates, c_prev, tanh_c, out, k)
        H = gates.shape[2] // 4
        out[:, :, 3 * H :] = tanh_c

    monkeypatch.setattr(lstm, "_factors", planted)
    assert oracle_error(case, jax_oracle) > 100 * TOLERANCE[case.dtype]
