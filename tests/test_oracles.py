"""The oracles are independent of the reference: an error planted in its core fails every oracle.

Each oracle builds its framework's objects from a problem's raw arrays. If any of them went
through reference_rnn's own computation, an error planted in the core would show on both sides
and pass. Here two errors are planted, each where every entry point of the core passes: a
transposed recurrent weight (where the weights are checked) and a tanh scaled by 1.001 (where the
recurrence applies it). With each, every case that an installed oracle supports must fail.

The gated cells likewise, through the verification report's own rows (``verify.plan``): one
gate's derivative planted in each core's backward (the LSTM's forget gate, the GRU's update gate)
fails the LSTM's and the GRU's rows of every oracle that differentiates, in both dtypes and, for
the GRU, both conventions; a sigmoid 0.1% too large in each core's forward fails every oracle's.
"""

from __future__ import annotations

import functools
import types
from typing import Any

import numpy as np
import pytest

from reference_rnn import oracles
from reference_rnn.core import cell_common, gru, lstm
from reference_rnn.core import elman as functional
from reference_rnn.core.measure import TOLERANCE
from reference_rnn.verify import plan
from reference_rnn.verify.cases import oracle_error
from reference_rnn.verify.rows import Planned
from reference_rnn.verify.suite import PARITY_CASES


def installed(name: str) -> types.ModuleType:
    oracle = oracles.load(name)
    try:
        oracle.version()
    except ImportError as exc:
        pytest.skip(str(exc))
    return oracle


def given(case: Any) -> oracles.Problem:
    """The problem an oracle is given for ``case``: with our dropout masks, if any."""
    return case.run()[1]  # type: ignore[no-any-return]


def supported(oracle: types.ModuleType, nonlinearity: str | None = None) -> list[Any]:
    cases = [case for case in PARITY_CASES if oracle.unsupported(given(case)) is None]
    if nonlinearity is not None:
        cases = [case for case in cases if given(case).config.nonlinearity == nonlinearity]
    return cases


@pytest.fixture
def transposed_wh(monkeypatch: pytest.MonkeyPatch) -> None:
    right = functional.check_weights

    def planted(Wx: object, Wh: object, b: object) -> Any:
        Wx_arr, Wh_arr, b_arr = right(Wx, Wh, b)
        return Wx_arr, Wh_arr.T, b_arr

    monkeypatch.setattr(functional, "check_weights", planted)


class _ScaledTanh(types.ModuleType):
    """NumPy, but for a tanh that is 0.1% too large."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def tanh(a: Any, out: Any = None) -> Any:
        result = np.tanh(a, out=out)
        result *= 1.001
        return result


@pytest.fixture
def scaled_tanh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(functional, "np", _ScaledTanh("numpy"))


@pytest.mark.parametrize("name", list(oracles.ORACLES))
def test_every_supported_case_passes(name: str) -> None:
    oracle = installed(name)
    for case in supported(oracle):
        if oracle.known_difference(given(case)) is None:
            error = oracle_error(case, oracle)
            assert error <= TOLERANCE[case.dtype], f"{case.name} {case.dtype}: {error:.2e}"


@pytest.mark.usefixtures("transposed_wh")
@pytest.mark.parametrize("name", list(oracles.ORACLES))
def test_a_transposed_recurrent_weight_fails_every_case(name: str) -> None:
    oracle = installed(name)
    cases = supported(oracle)
    assert cases
    for case in cases:
        error = oracle_error(case, oracle)
        assert error > 100 * TOLERANCE[case.dtype], f"{case.name} {case.dtype}: {error:.2e}"


@pytest.mark.usefixtures("scaled_tanh")
@pytest.mark.parametrize("name", list(oracles.ORACLES))
def test_a_scaled_tanh_fails_every_tanh_case(name: str) -> None:
    oracle = installed(name)
    cases = supported(oracle, "tanh")
    assert cases
    for case in cases:
        error = oracle_error(case, oracle)
        assert error > 10 * TOLERANCE[case.dtype], f"{case.name} {case.dtype}: {error:.2e}"


def test_an_unknown_oracle_is_named() -> None:
    with pytest.raises(ValueError, match="unknown oracle 'tensorflow'; choose from torch, jax"):
        oracles.load("tensorflow")


# -- the gated cells, through the report's rows --------------------------------------------------


def cell_rows(name: str) -> list[Planned]:
    """The report's LSTM and GRU rows against oracle ``name`` that count (no known difference):
    the first of each cell, convention and dtype, so that each oracle is asked in every one."""
    return _cell_rows(installed(name), name)


@functools.cache  # planning runs every case of the report: once per oracle, for three tests
def _cell_rows(oracle: types.ModuleType, name: str) -> list[Planned]:
    rows: dict[tuple[str, str], Planned] = {}
    for row in plan.plan({name: oracle}):
        if row.against == name and row.known_difference is None:
            kind = row.name.split(" ")[0] + ("" if "reset_after" not in row.name else row.name[-5:])
            if kind.startswith(("LSTM", "GRU")):
                rows.setdefault((kind, row.dtype), row)
    return list(rows.values())


@pytest.fixture
def wrong_gate_derivatives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The LSTM's forget gate's derivative f (1 - f) taken as f, and the GRU's update gate's
    z (1 - z) as z: a slip in one gate's backward of each core; the forwards are right."""
    right_lstm, right_gru = lstm._factors, gru._factors

    def lstm_planted(gates: Any, c_prev: Any, tanh_c: Any, out: Any, k: Any) -> None:
        right_lstm(gates, c_prev, tanh_c, out, k)
        H = gates.shape[2] // 4
        out[:, :, H : 2 * H] = c_prev * gates[:, :, H : 2 * H]

    def gru_planted(gates: Any, h_prev: Any, hn: Any, out: Any) -> None:
        right_gru(gates, h_prev, hn, out)
        H = h_prev.shape[2]
        z, n = gates[..., H : 2 * H], gates[..., 2 * H :]
        out[..., H : 2 * H] = (h_prev - n) * z

    monkeypatch.setattr(lstm, "_factors", lstm_planted)
    monkeypatch.setattr(gru, "_factors", gru_planted)


@pytest.fixture
def scaled_sigmoids(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gated cores' sigmoid (both cells apply cell_common's) 0.1% too large."""
    right = cell_common.sigmoid

    def planted(a: Any) -> None:
        right(a)
        a *= 1.001

    monkeypatch.setattr(cell_common, "sigmoid", planted)


@pytest.mark.parametrize("name", list(oracles.ORACLES))
def test_the_gated_cells_rows_pass_and_cover_every_cell_dtype_and_convention(name: str) -> None:
    """Each oracle's rows: the LSTM, and the GRU in each convention it computes, in each dtype it
    counts (Keras' float64 is a known difference; onnxruntime's is float32, the evaluator's
    and exact arithmetic's float64; torch computes reset_after=True only)."""
    rows = cell_rows(name)
    dtypes = {"keras": 1, "onnxruntime": 1, "onnx reference": 1, "exact": 1}.get(name, 2)
    kinds = 2 if name == "torch" else 3  # LSTM, GRU reset_after=True, reset_after=False
    assert len(rows) == dtypes * kinds
    for row in rows:
        assert row.measure() <= row.tolerance, f"{row.name} {row.dtype}"


@pytest.mark.usefixtures("wrong_gate_derivatives")
@pytest.mark.parametrize("name", list(oracles.ORACLES))
def test_a_gate_derivative_planted_in_each_gated_core_fails_every_differentiating_oracle(
    name: str,
) -> None:
    rows = cell_rows(name)
    for row in rows:
        error = row.measure()
        if installed(name).GRADIENTS:
            assert error > 10 * row.tolerance, f"{row.name} {row.dtype}: {error:.2e}"
        else:  # a forward-only oracle cannot see a backward's slip: the next test is its
            assert error <= row.tolerance, f"{row.name} {row.dtype}: {error:.2e}"


@pytest.mark.usefixtures("scaled_sigmoids")
@pytest.mark.parametrize("name", list(oracles.ORACLES))
def test_a_sigmoid_planted_in_each_gated_core_fails_every_oracle(name: str) -> None:
    for row in cell_rows(name):
        error = row.measure()
        assert error > 10 * row.tolerance, f"{row.name} {row.dtype}: {error:.2e}"


@pytest.mark.usefixtures("wrong_gate_derivatives")
def test_a_gate_derivative_planted_fails_the_gated_cells_differences_and_fixtures() -> None:
    """Without any framework: central differences and the recorded fixtures catch it too."""
    rows = [
        row
        for row in plan.plan({})
        if row.against in ("finite differences", "golden fixture")
        and row.name.startswith(("LSTM", "GRU"))
    ]
    assert len(rows) == 4 + 7
    for row in rows:
        error = row.measure()
        assert error > 10 * row.tolerance, f"{row.name} {row.dtype}: {error:.2e}"
