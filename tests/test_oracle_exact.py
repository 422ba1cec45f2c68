"""The exact-arithmetic oracle against closed forms, central differences at 60 digits and torch.

Then the reference against it, and the accuracy table that sets each float64 implementation's
error against it side by side.
"""

from __future__ import annotations

import math
import re
import sys
from types import ModuleType

import numpy as np
import pytest

mpmath = pytest.importorskip("mpmath")

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import Problem, exact
from reference_rnn.verify import plan, suite
from reference_rnn.verify.cases import RNNCase, oracle_error
from reference_rnn.verify.rows import Verification
from reference_rnn.verify.text import format_table

SUPPORTED = [case for case in suite.PARITY_CASES if exact.unsupported(case.problem()) is None]
# Every float64 RNN case (N, T, D, H = 3 or 4, 5 or 6, 4, 5), and the functional core's smallest
# sequence case (1, 3, 2, 4); the other core and SimpleRNN cases have H = 6 or more.
SUPPORTED_COUNT = 13
ORACLE_TOLERANCE = 1e-13  # oracle against oracle, both float64: torch's rounding only


def _scalar_problem(nonlinearity: str, T: int, seed: int) -> tuple[Problem, dict[str, float]]:
    """N = D = H = 1, T steps: the problem and its numbers by name."""
    rng = np.random.default_rng(seed)
    names = ["w", "u", "b1", "b2", "h0", "gh", *(f"x{t}" for t in range(T))]
    names += [f"g{t}" for t in range(T)]
    v = dict(zip(names, rng.uniform(-1, 1, len(names)).tolist(), strict=True))
    problem = Problem(
        config=RNNConfig(1, 1, nonlinearity=nonlinearity),
        dtype="float64",
        params={
            "weight_ih_l0": np.array([[v["w"]]]),
            "weight_hh_l0": np.array([[v["u"]]]),
            "bias_ih_l0": np.array([v["b1"]]),
            "bias_hh_l0": np.array([v["b2"]]),
        },
        x=np.array([v[f"x{t}"] for t in range(T)]).reshape(T, 1, 1),
        hx=np.array([[[v["h0"]]]]),
        lengths=None,
        grad_output=np.array([v[f"g{t}"] for t in range(T)]).reshape(T, 1, 1),
        grad_h_n=np.array([[[v["gh"]]]]),
    )
    return problem, v


def _assert_correctly_rounded(results: dict[str, np.ndarray], expected: dict[str, list]) -> None:
    """Both sides rounded to nearest from 50 digits: equal to the last bit."""
    assert set(results) == set(expected)
    for key, values in expected.items():
        assert results[key].ravel().tolist() == [float(value) for value in values], key


def test_one_step_is_the_closed_form():
    problem, v = _scalar_problem("tanh", T=1, seed=0)
    with mpmath.workdps(50):
        w, u, b1, b2, h0, gh, x, g = (mpmath.mpf(value) for value in v.values())
        h1 = mpmath.tanh(w * x + u * h0 + b1 + b2)
        da = (g + gh) * (1 - h1**2)
        expected = {
            "output": [h1],
            "h_n": [h1],
            "grad_input": [da * w],
            "grad_hx": [da * u],
            "grad.weight_ih_l0": [da * x],
            "grad.weight_hh_l0": [da * h0],
            "grad.bias_ih_l0": [da],
            "grad.bias_hh_l0": [da],
        }
    _assert_correctly_rounded(exact.run(problem), expected)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_two_steps_are_the_closed_form(nonlinearity):
    problem, v = _scalar_problem(nonlinearity, T=2, seed=1)
    with mpmath.workdps(50):
        w, u, b1, b2, h0, gh, x0, x1, g0, g1 = (mpmath.mpf(value) for value in v.values())
        if nonlinearity == "tanh":
            act, slope = mpmath.tanh, lambda h: 1 - h**2
        else:
            act, slope = (lambda a: max(a, 0)), (lambda h: int(h > 0))
        h1 = act(w * x0 + u * h0 + b1 + b2)
        h2 = act(w * x1 + u * h1 + b1 + b2)
        da2 = (g1 + gh) * slope(h2)
        da1 = (g0 + da2 * u) * slope(h1)
        expected = {
            "output": [h1, h2],
            "h_n": [h2],
            "grad_input": [da1 * w, da2 * w],
            "grad_hx": [da1 * u],
            "grad.weight_ih_l0": [da1 * x0 + da2 * x1],
            "grad.weight_hh_l0": [da1 * h0 + da2 * h1],
            "grad.bias_ih_l0": [da1 + da2],
            "grad.bias_hh_l0": [da1 + da2],
        }
    _assert_correctly_rounded(exact.run(problem), expected)


def test_the_callers_precision_neither_matters_nor_changes():
    problem = SUPPORTED[1].problem()
    expected = exact.run(problem)
    with mpmath.workdps(5):  # a caller working at 5 digits
        results = exact.run(problem)
        assert mpmath.mp.dps == 5
    assert mpmath.mp.dps == 15  # mpmath's default, untouched
    for key, value in expected.items():
        np.testing.assert_array_equal(results[key], value, err_msg=key)


# Small, so that two 60-digit passes per input are quick; between them every option. Not relu
# with hx=None and no bias: a unit whose inputs are all dropped or zero then sits exactly on
# relu's kink, where central differences average the two sides and torch (and exact) take 0.
FD_CASES = [
    RNNCase(
        "2 layers bidirectional, batch_first, lengths, hx=None",
        {"input_size": 2, "hidden_size": 2, "num_layers": 2, "bidirectional": True}
        | {"batch_first": True},
        N=2,
        T=3,
        hx=False,
        lengths=(3, 2),
    ),
    RNNCase(
        "unbatched relu, no bias, dropout masks",
        {"input_size": 2, "hidden_size": 3, "num_layers": 2, "nonlinearity": "relu"}
        | {"bias": False, "dropout": 0.5},
        T=3,
        unbatched=True,
        training=True,
    ),
]


@pytest.mark.parametrize("case", FD_CASES, ids=lambda case: case.name)
def test_gradients_are_central_differences_of_the_forward_at_60_digits(case):
    _, problem = case.run()
    values = exact.inputs(problem)
    with mpmath.workdps(60):
        # step 1e-20: truncation h**2 * L''' / 6 and rounding 1e-60 * L / h are both about 1e-40
        step = mpmath.mpf("1e-20")
        analytic = exact.evaluate(problem, values, digits=60).gradients
        errors = {}
        for key, array in values.items():
            numeric = np.empty(array.shape, dtype=object)
            for index in np.ndindex(array.shape):
                losses = []
                for sign in (1, -1):
                    moved = array.copy()
                    moved[index] += sign * step
                    losses.append(exact.evaluate(problem, {**values, key: moved}, digits=60).loss)
                numeric[index] = (losses[0] - losses[1]) / (2 * step)
            scale = max(abs(g) for g in analytic[key].flat)
            errors[key] = float(max(abs(numeric - analytic[key]).flat) / scale)
    assert set(errors) == {"grad_input", "grad_hx", *(f"grad.{name}" for name in problem.params)}
    assert max(errors.values()) < 1e-30, errors
    assert (problem.dropout_masks is not None) == case.training


def test_the_dropout_masks_of_the_central_differences_drop_units_and_scale_the_rest():
    _, problem = FD_CASES[1].run()
    assert problem.dropout_masks is not None
    assert set(problem.dropout_masks[0].ravel().tolist()) == {0.0, 2.0}  # p = 0.5


def test_the_supported_parity_cases():
    assert len(SUPPORTED) == SUPPORTED_COUNT
    assert {case.dtype for case in SUPPORTED} == {"float64"}
    options = " ".join(case.problem().describe() for case in SUPPORTED)
    for option in ("relu", "batch_first", "bidirectional", "no bias", "unbatched", "hx=None"):
        assert option in options
    assert "lengths" in options
    assert any(case.training for case in SUPPORTED if isinstance(case, RNNCase))


@pytest.mark.parametrize("case", SUPPORTED, ids=lambda case: case.name)
def test_exact_agrees_with_the_torch_oracle(case, torch: ModuleType):
    from reference_rnn.oracles import torch as torch_oracle

    _, problem = case.run()
    exact_results = exact.run(problem)
    torch_results = torch_oracle.run(problem)
    assert set(exact_results) == set(torch_results)
    errors = {key: scaled_error(torch_results[key], exact_results[key]) for key in torch_results}
    assert max(errors.values()) <= ORACLE_TOLERANCE, errors
    assert {value.dtype for value in exact_results.values()} == {np.dtype(np.float64)}


@pytest.mark.parametrize("case", SUPPORTED, ids=lambda case: case.name)
def test_the_reference_is_within_tolerance_of_exact(case):
    assert oracle_error(case, exact) <= TOLERANCE["float64"]


def test_float32_problems_are_unsupported_with_the_reason():
    float32 = [case for case in suite.PARITY_CASES if case.dtype == "float32"]
    assert float32
    for case in float32:
        assert "float64" in exact.unsupported(case.problem())


def test_problems_too_big_are_unsupported_with_the_reason():
    too_long = RNNCase("T = 7", {"input_size": 4, "hidden_size": 5}, T=7)
    assert exact.unsupported(too_long.problem()) == (
        "too big for exact arithmetic: (N, T, D, H) = (3, 7, 4, 5), at most (4, 6, 5, 5)"
    )
    # every size at its bound, 4 layers bidirectional: 2 * 4 * 6 * 5 * (5 + 5 + 3 * (10 + 5))
    deep = RNNCase(
        "4 layers",
        {"input_size": 5, "hidden_size": 5, "num_layers": 4, "bidirectional": True}
        | {"batch_first": True},
        N=4,
        T=6,
    )
    assert exact.unsupported(deep.problem()) == (
        f"too big for exact arithmetic: 13200 multiply-adds, at most {exact.MAX_WORK}"
    )


def test_the_oracle_interface():
    assert (exact.NAME, exact.GRADIENTS) == ("exact", True)
    assert exact.version() == f"mpmath {mpmath.__version__} at 50 digits"
    assert exact.known_difference(SUPPORTED[0].problem()) is None


def test_without_mpmath_the_import_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpmath", None)  # import mpmath now raises ImportError
    expected = 'the exact oracle needs mpmath: pip install "reference-rnn[oracle-exact]"'
    with pytest.raises(ImportError, match=re.escape(expected)):
        exact.version()


def test_the_accuracy_rows_set_each_implementation_beside_ours(torch: ModuleType):
    from reference_rnn.oracles import torch as torch_oracle

    rows = plan.exact_accuracy(suite.PARITY_CASES, {"torch": torch_oracle})
    assert [row["case"] for row in rows] == [case.name for case in SUPPORTED]
    for row in rows:
        assert list(row) == ["case", "reference_rnn", "torch"]
        for name in ("reference_rnn", "torch"):
            # finite, and within the float64 tolerance: 1e-12 is 4500 eps
            assert math.isfinite(row[name])
            assert 0 <= row[name] <= TOLERANCE["float64"] / plan.EPS
    # not all zero: the unit is eps, not a rounding of it
    assert max(row["reference_rnn"] for row in rows) > 0


class Broken:
    """An implementation that fails on every problem."""

    @staticmethod
    def run(problem: Problem) -> dict[str, np.ndarray]:  # noqa: ARG004
        msg = "boom"
        raise RuntimeError(msg)


def test_an_implementation_that_raises_gets_no_number_and_the_table_says_so():
    rows = plan.exact_accuracy(SUPPORTED[:1], {"broken": Broken})
    assert len(rows) == 1
    assert list(rows[0]) == ["case", "reference_rnn", "broken"]
    assert rows[0]["case"] == SUPPORTED[0].name
    assert math.isfinite(rows[0]["reference_rnn"])
    assert rows[0]["broken"] is None
    report = Verification(accuracy=rows)
    text = format_table(report)
    lines = text.splitlines()
    title = lines.index(next(line for line in lines if line.startswith("Error against exact")))
    assert lines[title + 1].split() == ["case", "reference_rnn", "broken"]
    assert lines[title + 2].startswith(SUPPORTED[0].name)
    assert lines[title + 2].endswith("-")
    assert report.to_json()["accuracy"] == rows


def test_verify_against_exact_fills_the_accuracy_table(monkeypatch):
    # the other checks are verify's own business (tests/test_verify.py)
    monkeypatch.setattr(plan, "plan", lambda _: iter(()))
    report = plan.run(against=["exact"])
    assert report.versions == {"exact": f"mpmath {mpmath.__version__} at 50 digits"}
    cells = [case for case in suite.CELL_CASES if exact.unsupported(case.problem()) is None]
    assert [row["case"] for row in report.accuracy] == [case.name for case in (*SUPPORTED, *cells)]
    assert {name for row in report.accuracy for name in row} == {"case", "reference_rnn"}
    assert "Error against exact arithmetic" in format_table(report)
