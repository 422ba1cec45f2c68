"""The JAX oracle against the torch oracle, the reference against it, and a network by hand.

jax is imported through the oracle, never directly: jax reads JAX_PLATFORMS once, on its first
import, and the oracle restricts it to the CPU first (``pytest.importorskip("jax")`` would import
it with every accelerator backend probed).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from types import ModuleType
from typing import NamedTuple

import numpy as np
import pytest

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import Problem
from reference_rnn.oracles import jax as jax_oracle
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import CoreCase, RNNCase, oracle_error
from reference_rnn.verify.suite import PARITY_CASES

if importlib.util.find_spec("jax") is None:
    pytest.skip("jax is not installed", allow_module_level=True)
jax = jax_oracle.import_jax()

IDS = [f"{case.name} {case.dtype}" for case in PARITY_CASES]


def given(case: RNNCase | CoreCase) -> Problem:
    """The problem an oracle is given for ``case``: with the dropout masks the reference drew.

    The masks are data that both oracles multiply in; nothing else of the reference's is used.
    """
    return case.run()[1]


@pytest.mark.parametrize("case", PARITY_CASES, ids=IDS)
def test_jax_agrees_with_torch(torch: ModuleType, case: RNNCase | CoreCase) -> None:
    """Oracle against oracle: the reference is on neither side."""
    problem = given(case)
    assert jax_oracle.unsupported(problem) is None
    assert jax_oracle.known_difference(problem) is None
    jax_results, torch_results = jax_oracle.run(problem), torch_oracle.run(problem)
    assert jax_results.keys() == torch_results.keys()
    errors = {name: scaled_error(jax_results[name], torch_results[name]) for name in torch_results}
    assert max(errors.values()) <= TOLERANCE[case.dtype], errors


@pytest.mark.parametrize("case", PARITY_CASES, ids=IDS)
def test_reference_agrees_with_jax(case: RNNCase | CoreCase) -> None:
    error = oracle_error(case, jax_oracle)
    assert error <= TOLERANCE[case.dtype], f"{error:.2e}"


@pytest.mark.parametrize("case", PARITY_CASES, ids=IDS)
def test_results_keep_the_problems_dtype(case: RNNCase | CoreCase) -> None:
    problem = given(case)
    results = jax_oracle.run(problem)
    expected = {"output", "h_n", "grad_input", "grad_hx"} | {f"grad.{n}" for n in problem.params}
    assert results.keys() == expected
    assert {name: str(value.dtype) for name, value in results.items()} == dict.fromkeys(
        expected, case.dtype
    )


def test_x64_is_enabled_only_while_the_oracle_runs() -> None:
    before = jax.config.jax_enable_x64
    results = jax_oracle.run(given(PARITY_CASES[0]))
    assert results["output"].dtype == np.float64
    assert jax.config.jax_enable_x64 == before


class Chain(NamedTuple):
    """A one-unit tanh RNN on one sequence: its states and the gradients of its loss."""

    states: list[float]
    dx: list[float]
    dh0: float
    dw_ih: float
    dw_hh: float
    db: float


def by_hand(
    xs: list[float], h0: float, w_ih: float, w_hh: float, b: float, g: list[float], g_last: float
) -> Chain:
    """One or two steps of h_t = tanh(w_ih x_t + b + w_hh h_{t-1}), differentiated by hand.

    The loss is ``sum_t g[t] * h_t + g_last * h_last``.
    """
    h1 = math.tanh(w_ih * xs[0] + b + w_hh * h0)
    if len(xs) == 1:
        da1 = (g[0] + g_last) * (1 - h1**2)
        return Chain([h1], [da1 * w_ih], da1 * w_hh, da1 * xs[0], da1 * h0, da1)
    h2 = math.tanh(w_ih * xs[1] + b + w_hh * h1)
    da2 = (g[1] + g_last) * (1 - h2**2)
    da1 = (g[0] + da2 * w_hh) * (1 - h1**2)
    return Chain(
        [h1, h2],
        [da1 * w_ih, da2 * w_ih],
        da1 * w_hh,
        da1 * xs[0] + da2 * xs[1],
        da1 * h0 + da2 * h1,
        da1 + da2,
    )


def test_a_bidirectional_network_with_lengths_by_hand() -> None:
    """T = 2, N = 2, D = H = 1, lengths (2, 1): the second sequence's step 1 is padding.

    Its reverse direction must start at step 0, its output at step 1 must be zero, and neither
    the padded input nor the upstream gradient there may reach anything.
    """
    x = np.array([[[0.5], [0.3]], [[-1.0], [2.0]]])  # (T, N, D); x[1, 1] is padding
    hx = np.array([[[0.1], [-0.2]], [[0.4], [0.3]]])  # (K, N, H)
    go = np.array([[[0.3, -0.5], [1.2, 0.8]], [[-0.7, 0.4], [0.9, -1.1]]])  # (T, N, K * H)
    gh = np.array([[[0.6], [-0.9]], [[0.25], [0.5]]])  # (K, N, H)
    fwd = {"w_ih": 0.7, "w_hh": -0.6, "b_ih": 0.05, "b_hh": -0.15}
    rev = {"w_ih": -0.4, "w_hh": 0.9, "b_ih": 0.2, "b_hh": 0.1}
    params = {}
    for end, w in (("_l0", fwd), ("_l0_reverse", rev)):
        params |= {f"weight_ih{end}": np.array([[w["w_ih"]]])}
        params |= {f"weight_hh{end}": np.array([[w["w_hh"]]])}
        params |= {f"bias_ih{end}": np.array([w["b_ih"]]), f"bias_hh{end}": np.array([w["b_hh"]])}
    problem = Problem(
        config=RNNConfig(1, 1, bidirectional=True),
        dtype="float64",
        params=params,
        x=x,
        hx=hx,
        lengths=np.array([2, 1]),
        grad_output=go,
        grad_h_n=gh,
    )

    def chain(
        w: dict[str, float], xs: list[float], h0: float, g: list[float], g_last: float
    ) -> Chain:
        return by_hand(xs, h0, w["w_ih"], w["w_hh"], w["b_ih"] + w["b_hh"], g, g_last)

    # sequence 0, length 2: forward reads steps 0, 1; reverse reads 1, 0
    f0 = chain(fwd, [0.5, -1.0], 0.1, [0.3, -0.7], 0.6)
    r0 = chain(rev, [-1.0, 0.5], 0.4, [0.4, -0.5], 0.25)
    # sequence 1, length 1: both directions read step 0 only
    f1 = chain(fwd, [0.3], -0.2, [1.2], -0.9)
    r1 = chain(rev, [0.3], 0.3, [0.8], 0.5)
    expected = {
        "output": [[[f0.states[0], r0.states[1]], [f1.states[0], r1.states[0]]],
                   [[f0.states[1], r0.states[0]], [0.0, 0.0]]],
        "h_n": [[[f0.states[1]], [f1.states[0]]], [[r0.states[1]], [r1.states[0]]]],
        "grad_input": [[[f0.dx[0] + r0.dx[1]], [f1.dx[0] + r1.dx[0]]],
                       [[f0.dx[1] + r0.dx[0]], [0.0]]],
        "grad_hx": [[[f0.dh0], [f1.dh0]], [[r0.dh0], [r1.dh0]]],
        "grad.weight_ih_l0": [[f0.dw_ih + f1.dw_ih]],
        "grad.weight_hh_l0": [[f0.dw_hh + f1.dw_hh]],
        "grad.bias_ih_l0": [f0.db + f1.db],
        "grad.bias_hh_l0": [f0.db + f1.db],
        "grad.weight_ih_l0_reverse": [[r0.dw_ih + r1.dw_ih]],
        "grad.weight_hh_l0_reverse": [[r0.dw_hh + r1.dw_hh]],
        "grad.bias_ih_l0_reverse": [r0.db + r1.db],
        "grad.bias_hh_l0_reverse": [r0.db + r1.db],
    }  # fmt: skip

    results = jax_oracle.run(problem)

    assert results.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_allclose(results[name], value, rtol=1e-14, atol=1e-16, err_msg=name)


def test_jax_runs_on_the_cpu() -> None:
    """In a fresh interpreter: jax reads JAX_PLATFORMS on its first import only."""
    env = {name: value for name, value in os.environ.items() if name != "JAX_PLATFORMS"}
    code = "from reference_rnn.oracles import jax; print(jax.import_jax().config.jax_platforms)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "cpu"
    assert done.stderr == ""


def test_a_platform_the_caller_chose_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAX_PLATFORMS", "cpu,tpu")
    jax_oracle.import_jax()
    assert os.environ["JAX_PLATFORMS"] == "cpu,tpu"


def test_version_is_jax_s() -> None:
    assert jax_oracle.version() == jax.__version__


def test_without_jax_version_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jax", None)  # what an import finds when jax is absent
    expected = 'the JAX oracle needs jax: pip install "reference-rnn[oracle-jax]"'
    with pytest.raises(ImportError, match=re.escape(expected)):
        jax_oracle.version()
