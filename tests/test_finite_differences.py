"""Every gradient against central differences in float64: evidence independent of torch."""

from __future__ import annotations

import pytest

from reference_rnn.core import elman as functional
from reference_rnn.core.measure import FD_TOLERANCE
from reference_rnn.verify.cases import CoreCase, RNNCase, finite_difference_error


@pytest.mark.parametrize(
    "case",
    [
        CoreCase("step tanh", "step"),
        CoreCase("step relu", "step", nonlinearity="relu", seed=1),
        CoreCase("sequence tanh", "sequence", N=2, T=6, D=3, H=5),
        CoreCase("sequence relu", "sequence", nonlinearity="relu", seed=2),
        CoreCase("sequence, zero h0", "sequence", zero_h0=True, N=1, T=4, D=1, H=3),
        CoreCase("SimpleRNN final state", "simple"),
        CoreCase("SimpleRNN sequences", "simple_sequences"),
    ],
    ids=lambda case: case.name,
)
def test_functional_core_and_simple_rnn(case):
    assert case.finite_difference_error() < FD_TOLERANCE


@pytest.mark.parametrize(
    "case",
    [
        RNNCase(
            "2 layers bidirectional, lengths",
            {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
            lengths=(5, 2, 4),
        ),
        RNNCase(
            "unbatched relu, no bias",
            {
                "input_size": 3,
                "hidden_size": 4,
                "num_layers": 2,
                "nonlinearity": "relu",
                "bias": False,
            },
            unbatched=True,
        ),
        RNNCase(
            "batch_first, hx=None",
            {"input_size": 2, "hidden_size": 3, "batch_first": True},
            hx=False,
        ),
        RNNCase(
            "3 layers, dropout in eval",
            {"input_size": 2, "hidden_size": 3, "num_layers": 3, "dropout": 0.5},
            N=2,
            T=4,
        ),
    ],
    ids=lambda case: case.name,
)
def test_rnn_backward(case):
    assert finite_difference_error(case) < FD_TOLERANCE


def test_finite_differences_catch_a_wrong_gradient(monkeypatch):
    """The check has teeth: dWh off by 0.1% fails it."""
    right = functional._backward

    def wrong(*args, **kwargs):
        dx, dh0, dWx, dWh, db = right(*args, **kwargs)
        return dx, dh0, dWx, dWh * 1.001, db

    monkeypatch.setattr(functional, "_backward", wrong)
    assert CoreCase("wrong", "sequence").finite_difference_error() > 1e3 * FD_TOLERANCE
