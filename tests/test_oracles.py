"""The oracles are independent of the reference: an error planted in its core fails every oracle.

Each oracle builds its framework's objects from a problem's raw arrays. If any of them went
through reference_rnn's own computation, an error planted in the core would show on both sides
and pass. Here two errors are planted, each where every entry point of the core passes: a
transposed recurrent weight (where the weights are checked) and a tanh scaled by 1.001 (where the
recurrence applies it). With each, every case that an installed oracle supports must fail.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import pytest

from reference_rnn import oracles
from reference_rnn.core import elman as functional
from reference_rnn.core.measure import TOLERANCE
from reference_rnn.verify.cases import oracle_error
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
